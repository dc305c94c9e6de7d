//! Pointer constraints (locks and confinements a level asks for with
//! `zwp_pointer_constraints_v1`), held by the compositor's rules, not the client's:
//!
//! * a constraint holds only on a surface of the **focused** window, under the pointer, given
//!   to the level's own seat, and never while the screen is locked, the menu or a dialog is
//!   open or a frame is being moved;
//! * the user **always** takes the pointer back: the `release_pointer` chord (Super+Escape) or
//!   any press of Super breaks it, and it does not hold again on that surface until the user
//!   clicks in it;
//! * while one holds, the bar says which level holds the pointer and how to take it back.
//!
//! A locked pointer does not move (the client gets relative motion only); a confined one stays
//! inside its surface (and the constraint's region).

use smithay::backend::renderer::utils::with_renderer_surface_state;
use smithay::reexports::wayland_server::Resource;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::compositor::get_parent;
use smithay::wayland::pointer_constraints::{PointerConstraint, with_pointer_constraint};

use super::*;
use crate::state::LevelId;

/// How an active constraint holds the pointer.
pub(super) enum Hold {
    /// It does not move.
    Locked,
    /// It stays inside `area` (global coordinates; right and bottom edges excluded) and, if the
    /// constraint has one, its region (relative to `origin`).
    Confined {
        area: Rectangle<f64, Logical>,
        origin: Point<f64, Logical>,
        region: Option<smithay::wayland::compositor::RegionAttributes>,
    },
}

impl State {
    /// The surface a constraint may hold the pointer on now: (level, surface, origin).
    fn constraint_target(&self) -> Option<(LevelId, WlSurface, Point<f64, Logical>)> {
        if self.ui.lock.locked
            || self.ui.menu.open
            || self.ui.dialog.is_some()
            || self.input.frame_grab.is_some()
        {
            return None;
        }
        let level = self.input.pointer_level?;
        let (surface, origin) = self.input.pointer_focus.clone()?;
        // A surface of the focused window's own tree (not a popup), of the pointer's level,
        // and not of a window the user took the pointer back from.
        let focused = self.wm.focused.as_ref()?;
        if window_info(focused)?.level != level {
            return None;
        }
        let root = root_of(&surface);
        if self.input.pointer_released.as_ref() == Some(&root) {
            return None;
        }
        (focused.toplevel()?.wl_surface() == &root).then_some((level, surface, origin))
    }

    /// Makes the constraints that hold match the rules: the one on the target surface holds
    /// if the pointer is in its region; any other is let go.
    pub fn update_pointer_constraint(&mut self) {
        let target = self.constraint_target();
        if let Some((level, surface)) = self.input.constrained.clone() {
            let same = target
                .as_ref()
                .is_some_and(|(l, s, _)| *l == level && *s == surface);
            if same && self.constraint_active(level, &surface) {
                return;
            }
            self.deactivate_constraint(level, &surface);
            self.input.constrained = None;
            self.ui_changed();
        }
        let Some((level, surface, origin)) = target else {
            return;
        };
        let Some(pointer) = self.levels[level.0].seat.get_pointer() else {
            return;
        };
        let at = (self.input.pointer - origin).to_i32_floor();
        let activated =
            with_pointer_constraint(&surface, &pointer, |constraint| match constraint {
                Some(c) if c.is_active() => true,
                Some(c) if c.region().is_none_or(|r| r.contains(at)) => {
                    c.activate();
                    true
                }
                _ => false,
            });
        if activated {
            // (Debug: a client may lock and unlock as often as it likes.)
            tracing::debug!(level = %self.levels[level.0].name, "the pointer is held");
            self.input.constrained = Some((level, surface));
            self.ui_changed();
        }
    }

    fn constraint_active(&self, level: LevelId, surface: &WlSurface) -> bool {
        surface.is_alive()
            && self.levels[level.0]
                .seat
                .get_pointer()
                .is_some_and(|pointer| {
                    with_pointer_constraint(surface, &pointer, |c| c.is_some_and(|c| c.is_active()))
                })
    }

    fn deactivate_constraint(&mut self, level: LevelId, surface: &WlSurface) {
        if !surface.is_alive() {
            return;
        }
        if let Some(pointer) = self.levels[level.0].seat.get_pointer() {
            with_pointer_constraint(surface, &pointer, |constraint| {
                if let Some(c) = constraint.filter(|c| c.is_active()) {
                    c.deactivate();
                }
            });
        }
    }

    /// The user takes the pointer back (the chord, Super): the constraint lets go, and no
    /// constraint of that window (any of its surfaces) holds again before the user clicks in
    /// it.
    pub fn break_pointer_constraint(&mut self, why: &str) {
        if let Some((level, surface)) = self.input.constrained.take() {
            self.deactivate_constraint(level, &surface);
            tracing::info!(level = %self.levels[level.0].name, why, "the pointer is taken back");
            self.input.pointer_released = Some(root_of(&surface));
            self.ui_changed();
        }
    }

    /// A click on `surface`: if it is in the window the user took the pointer back from, that
    /// window's constraints may hold again.
    pub(super) fn pointer_clicked_in_client(&mut self, surface: &WlSurface) {
        if self.input.pointer_released.as_ref() == Some(&root_of(surface)) {
            self.input.pointer_released = None;
        }
    }

    /// A constraint object went away: the bar and the status stop saying the pointer is held
    /// at the next frame (smithay forgets it after this returns).
    pub fn pointer_constraint_gone(&mut self) {
        if self.input.constrained.is_some() {
            self.queue_redraw();
        }
    }

    /// How the active constraint holds the pointer, if one does.
    pub(super) fn pointer_hold(&self) -> Option<Hold> {
        let (level, surface) = self.input.constrained.as_ref()?;
        if !surface.is_alive() {
            return None;
        }
        let pointer = self.levels[level.0].seat.get_pointer()?;
        let (origin, content) = self.surface_placement(surface)?;
        let size = with_renderer_surface_state(surface, |s| s.surface_size()).flatten()?;
        // The surface where it is now, and only the part of it the window shows (a surface
        // larger than its window, or a subsurface outside it, confines to nothing more).
        let area = Rectangle::new(origin, size.to_f64()).intersection(content)?;
        with_pointer_constraint(surface, &pointer, |constraint| {
            let c = constraint.filter(|c| c.is_active())?;
            Some(match &*c {
                PointerConstraint::Locked(_) => Hold::Locked,
                PointerConstraint::Confined(confined) => Hold::Confined {
                    area,
                    origin,
                    region: confined.region().cloned(),
                },
            })
        })
    }

    /// Where `surface` (of the focused window's tree) is now, and the window's content area,
    /// in global coordinates.
    fn surface_placement(
        &self,
        surface: &WlSurface,
    ) -> Option<(Point<f64, Logical>, Rectangle<f64, Logical>)> {
        let window = self.wm.focused.as_ref()?;
        let layout = crate::render::window_layout(&self.space, window)?;
        let root = window.toplevel()?.wl_surface().clone();
        // Subsurfaces: their positions up to the toplevel's surface.
        let mut offset = Point::<i32, Logical>::from((0, 0));
        let mut at = surface.clone();
        while at != root {
            let parent = get_parent(&at)?;
            offset += smithay::wayland::compositor::with_states(&at, |states| {
                states
                    .cached_state
                    .get::<smithay::wayland::compositor::SubsurfaceCachedState>()
                    .current()
                    .location
            });
            at = parent;
        }
        let render = layout.content.loc - crate::shell::window_geometry(window).loc;
        Some(((render + offset).to_f64(), layout.content.to_f64()))
    }

    /// Where the pointer goes when asked to move to `pos` while a constraint holds it: `None`
    /// if it stays (locked).
    pub(super) fn held_position(
        &self,
        hold: &Hold,
        pos: Point<f64, Logical>,
    ) -> Option<Point<f64, Logical>> {
        match hold {
            Hold::Locked => None,
            Hold::Confined {
                area,
                origin,
                region,
            } => {
                // Inside the surface: its last pixel is width - 1.
                let max = area.loc + area.size.to_point() - Point::from((1.0, 1.0));
                let clamped = Point::from((
                    pos.x.clamp(area.loc.x, max.x.max(area.loc.x)),
                    pos.y.clamp(area.loc.y, max.y.max(area.loc.y)),
                ));
                let Some(region) = region else {
                    return Some(clamped);
                };
                let inside = |p: Point<f64, Logical>| region.contains((p - *origin).to_i32_floor());
                Some(slide(self.input.pointer, clamped, inside))
            }
        }
    }

    /// The surface a confinement holds the pointer on, with its origin and level, while one
    /// does: it keeps the pointer where only frames (trusted UI, no client's) are drawn over
    /// it; another window's content over it takes the pointer, and the confinement ends.
    pub(super) fn confined_focus(
        &self,
        pos: Point<f64, Logical>,
    ) -> Option<(WlSurface, Point<f64, Logical>, LevelId)> {
        let Some(Hold::Confined { origin, .. }) = self.pointer_hold() else {
            return None;
        };
        match self.under(pos) {
            crate::shell::Under::Frame { .. } | crate::shell::Under::Inert { .. } => {}
            _ => return None,
        }
        let (level, surface) = self.input.constrained.clone()?;
        Some((surface, origin, level))
    }
}

/// The root of `surface`'s tree (a toplevel's surface, for a subsurface).
fn root_of(surface: &WlSurface) -> WlSurface {
    let mut root = surface.clone();
    while let Some(parent) = get_parent(&root) {
        root = parent;
    }
    root
}

/// The pointer moving from `from` towards `to` inside a region (`inside`): as far along the
/// way as it stays inside, then along each axis in turn, so it slides along an edge rather
/// than stopping on it. `from` is inside (the pointer already is).
fn slide(
    from: Point<f64, Logical>,
    to: Point<f64, Logical>,
    inside: impl Fn(Point<f64, Logical>) -> bool,
) -> Point<f64, Logical> {
    // The furthest point of the segment a→b still inside, to a hundredth of the way.
    let furthest = |a: Point<f64, Logical>, b: Point<f64, Logical>| {
        if inside(b) {
            return b;
        }
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..16 {
            let mid = (lo + hi) / 2.0;
            if inside(a + (b - a).upscale(mid)) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        a + (b - a).upscale(lo)
    };
    if !inside(from) {
        return from;
    }
    let p = furthest(from, to);
    let p = furthest(p, Point::from((to.x, p.y)));
    furthest(p, Point::from((p.x, to.y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confined_pointer_slides_along_the_region_edge() {
        // An L: [0,100)x[0,10) and [0,10)x[0,100).
        let inside = |p: Point<f64, Logical>| {
            (p.x >= 0.0 && p.y >= 0.0)
                && ((p.x < 100.0 && p.y < 10.0) || (p.x < 10.0 && p.y < 100.0))
        };
        let at = |x: f64, y: f64| Point::<f64, Logical>::from((x, y));
        assert_eq!(slide(at(5.0, 5.0), at(50.0, 5.0), inside), at(50.0, 5.0));
        // Diagonally out of the corner: it ends on the edge, inside.
        let p = slide(at(5.0, 5.0), at(50.0, 50.0), inside);
        assert!(inside(p) && p.x > 9.0 && p.y >= 5.0, "{p:?}");
        // Straight down the arm, then further: it stops at the bottom.
        let p = slide(at(5.0, 5.0), at(5.0, 500.0), inside);
        assert!(inside(p) && p.y > 99.0, "{p:?}");
    }
}
