//! Window management: where windows appear, who has keyboard focus, stacking, Alt+Tab,
//! maximize/fullscreen and interactive move/resize.
//!
//! Focus rules (what the user can rely on):
//! * focus changes only through user input (click, Alt+Tab) or when a window is mapped while
//!   its own level already holds the focus (or nothing does) — a level never takes the keyboard
//!   from another level by opening a window;
//! * when the focused window goes away, focus falls back to the most recent window *of the same
//!   level*, never silently to another level.
//!
//! Keyboard focus is per seat and seats are per level: focusing a window gives its level's seat
//! the focus and clears every other level's seat.

use std::cell::RefCell;

use smithay::backend::renderer::utils::with_renderer_surface_state;
use smithay::desktop::{
    PopupKind, Window, WindowSurfaceType, find_popup_root_surface, get_popup_toplevel_coords,
};
use smithay::input::pointer::{
    AxisFrame, ButtonEvent, GestureHoldBeginEvent, GestureHoldEndEvent, GesturePinchBeginEvent,
    GesturePinchEndEvent, GesturePinchUpdateEvent, GestureSwipeBeginEvent, GestureSwipeEndEvent,
    GestureSwipeUpdateEvent, GrabStartData, MotionEvent, PointerGrab, PointerInnerHandle,
    RelativeMotionEvent,
};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::reexports::wayland_server::Resource;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, Rectangle, SERIAL_COUNTER, Serial, Size};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::{PopupSurface, SurfaceCachedState, ToplevelSurface};

use crate::state::{LevelId, State, WindowInfo, window_info};
use crate::ui::{FrameLayout, POPUP_BORDER, Part};

/// Offset between cascaded windows.
const CASCADE_STEP: i32 = 32;

/// Window-management bookkeeping.
#[derive(Default)]
pub struct WindowManager {
    /// Toplevels that exist but have not committed a buffer yet (or unmapped themselves).
    pub pending: Vec<Window>,
    /// Minimized windows (not in the space), restored by Alt+Tab.
    pub minimized: Vec<Window>,
    /// Most recently focused first; every mapped or minimized window appears once.
    pub focus_order: Vec<Window>,
    /// The window with keyboard focus.
    pub focused: Option<Window>,
    /// An Alt+Tab cycle in progress: the order snapshot and the current index.
    pub cycle: Option<(Vec<Window>, usize)>,
    /// Ids of windows that want the user's attention (shown in the trusted bar).
    pub attention: Vec<u64>,
    /// Next window id.
    next_id: u64,
}

/// Per-window state kept in the window's user data.
#[derive(Debug, Default)]
struct WindowState {
    /// Geometry to return to when leaving maximized/fullscreen.
    restore: Option<Rectangle<i32, Logical>>,
    /// An interactive resize in progress (or its last commit pending).
    resize: Option<Resize>,
    /// Where it was when its client unmapped it (a null buffer): it comes back there.
    unmapped_at: Option<Point<i32, Logical>>,
}

#[derive(Debug, Clone, Copy)]
struct Resize {
    edges: xdg_toplevel::ResizeEdge,
    initial: Rectangle<i32, Logical>,
    /// The grab ended; the next commit finishes the resize.
    done: bool,
}

fn with_window_state<T>(window: &Window, f: impl FnOnce(&mut WindowState) -> T) -> T {
    let data = window.user_data();
    data.insert_if_missing(|| RefCell::new(WindowState::default()));
    match data.get::<RefCell<WindowState>>() {
        Some(cell) => f(&mut cell.borrow_mut()),
        None => f(&mut WindowState::default()),
    }
}

/// A window's geometry: the rectangle of its surface the client declared as its window
/// (xdg_surface.set_window_geometry), else its main surface. Unlike smithay's default, it
/// never grows to include subsurfaces: a subsurface placed outside its parent is clipped, it
/// does not stretch the frame.
pub fn window_geometry(window: &Window) -> Rectangle<i32, Logical> {
    let Some(toplevel) = window.toplevel() else {
        return Rectangle::default();
    };
    let surface = toplevel.wl_surface();
    let declared = with_states(surface, |states| {
        states
            .cached_state
            .get::<SurfaceCachedState>()
            .current()
            .geometry
    });
    let size = with_renderer_surface_state(surface, |s| s.surface_size())
        .flatten()
        .unwrap_or_default();
    // Never larger than anything is drawn (crate::limits): a 30000000x1 surface is a
    // 16384x1 window, its frame and title bar sized accordingly.
    let size = Size::from((
        size.w.clamp(0, crate::limits::MAX_EXTENT),
        size.h.clamp(0, crate::limits::MAX_EXTENT),
    ));
    match declared {
        // Clamp what the client declared to its surface: it cannot claim more than it draws.
        Some(g) => g
            .intersection(Rectangle::from_size(size))
            .unwrap_or_default(),
        None => Rectangle::from_size(size),
    }
}

fn has_buffer(surface: &WlSurface) -> bool {
    with_renderer_surface_state(surface, |s| s.buffer().is_some()).unwrap_or(false)
}

fn wl_surface(window: &Window) -> Option<&WlSurface> {
    window.toplevel().map(|t| t.wl_surface())
}

impl State {
    /// A client created an xdg_toplevel: remember it until it has content.
    pub fn new_toplevel(&mut self, toplevel: ToplevelSurface) {
        let Some(level) = self.surface_level(toplevel.wl_surface()) else {
            return;
        };
        let window = Window::new_wayland_window(toplevel);
        self.wm.next_id += 1;
        let info = WindowInfo {
            id: self.wm.next_id,
            level,
        };
        window.user_data().insert_if_missing(|| info);
        self.wm.pending.push(window);
    }

    /// Handles a commit on a toplevel's root surface: initial configure, mapping on first
    /// buffer, unmapping on a null buffer, finishing interactive resizes.
    pub fn toplevel_commit(&mut self, root: &WlSurface) {
        if let Some(idx) = self
            .wm
            .pending
            .iter()
            .position(|w| wl_surface(w) == Some(root))
        {
            let window = self.wm.pending[idx].clone();
            let Some(toplevel) = window.toplevel() else {
                return;
            };
            if !toplevel.is_initial_configure_sent() {
                toplevel.send_configure();
            }
            // A client that attaches its first buffer without waiting for the configure
            // (which xdg-shell asks it to) still gets its window shown, as in Mir, weston and
            // anvil; it is sized by its buffer until it acks a configure.
            if has_buffer(root) {
                self.wm.pending.remove(idx);
                self.map_window(window);
            }
            return;
        }

        let Some(window) = self
            .space
            .elements()
            .find(|w| wl_surface(w) == Some(root))
            .cloned()
        else {
            return;
        };
        if !has_buffer(root) {
            // The client unmapped its window (null buffer): it may map it again later, in the
            // same place.
            let at = self.space.element_location(&window);
            with_window_state(&window, |s| s.unmapped_at = at);
            self.release_touches_on(root);
            self.space.unmap_elem(&window);
            self.forget_focus(&window);
            self.wm.pending.push(window);
            return;
        }
        self.finish_resize_commit(&window);
    }

    fn map_window(&mut self, window: Window) {
        let Some(info) = window_info(&window) else {
            return;
        };
        let area = self.usable_area();
        let size = window_geometry(&window).size;
        let fullscreen = window.toplevel().is_some_and(|t| {
            t.current_state()
                .states
                .contains(xdg_toplevel::State::Fullscreen)
        });
        let maximized = window.toplevel().is_some_and(|t| {
            t.current_state()
                .states
                .contains(xdg_toplevel::State::Maximized)
        });
        let remapped = with_window_state(&window, |s| s.unmapped_at.take());
        let loc = if fullscreen || maximized {
            self.fill_area(fullscreen).loc
        } else if let Some(at) = remapped {
            at
        } else {
            // The frame, not just the content, is centred in the area below the bar, then
            // cascaded; the title bar always starts below the bar.
            let (ew, eh) = FrameLayout::extra(false);
            let cascade = (self.space.elements().count() as i32 % 10) * CASCADE_STEP;
            let outer = Point::<i32, Logical>::from((
                (area.loc.x + (area.size.w - size.w - ew) / 2 + cascade).max(area.loc.x),
                (area.loc.y + (area.size.h - size.h - eh) / 2 + cascade).max(area.loc.y),
            ));
            FrameLayout::content_loc(outer, false)
        };
        self.space.map_element(window.clone(), loc, false);
        tracing::debug!(id = info.id, level = %self.level(info.level).name, ?loc, ?size, "window mapped");

        // A new window takes focus only if its own level already has it, or nobody does.
        let focused_level = self
            .wm
            .focused
            .as_ref()
            .and_then(window_info)
            .map(|i| i.level);
        // While the paste dialog is open, focus stays where the paste was asked for.
        let dialog = self.ui.dialog.is_some();
        if !dialog && (focused_level.is_none() || focused_level == Some(info.level)) {
            self.focus_window(Some(&window));
        } else {
            // It opens just below the focused window: another level cannot cover what the
            // user is working in.
            if let Some(focused) = self.wm.focused.clone() {
                self.space.raise_element(&focused, false);
            }
            self.wm.focus_order.push(window.clone());
            self.demand_attention(&window);
        }
        self.queue_redraw();
    }

    /// A toplevel was destroyed (by its client, or because the client went away).
    pub fn toplevel_destroyed(&mut self, toplevel: &ToplevelSurface) {
        let surface = toplevel.wl_surface();
        self.release_touches_on(surface);
        let is_it = |w: &Window| wl_surface(w) == Some(surface);
        self.wm.pending.retain(|w| !is_it(w));
        self.wm.minimized.retain(|w| !is_it(w));
        let known = self
            .space
            .elements()
            .chain(self.wm.focus_order.iter())
            .find(|w| is_it(w))
            .cloned();
        if let Some(window) = known {
            self.space.unmap_elem(&window);
            self.forget_focus(&window);
        }
        self.queue_redraw();
    }

    /// Marks a window as wanting attention (unless it has focus): the trusted bar shows it on
    /// its level. Focus never moves by itself.
    pub fn demand_attention(&mut self, window: &Window) {
        let Some(info) = window_info(window) else {
            return;
        };
        if self.wm.focused.as_ref() == Some(window) || self.wm.attention.contains(&info.id) {
            return;
        }
        self.wm.attention.push(info.id);
        // Trusted text only: the level's configured label, never the client's title.
        let label = self.level(info.level).label.clone();
        self.ui
            .bar
            .notify(format!("{label}: a window wants your attention"));
        self.ui_changed();
    }

    /// Removes a window from the focus bookkeeping; if it had focus, focus falls back to the
    /// most recent window of the same level (or to nothing).
    fn forget_focus(&mut self, window: &Window) {
        self.wm.focus_order.retain(|w| w != window);
        if let Some(info) = window_info(window) {
            self.wm.attention.retain(|id| *id != info.id);
        }
        if let Some((order, _)) = self.wm.cycle.as_mut() {
            order.retain(|w| w != window);
        }
        if self.wm.focused.as_ref() == Some(window) {
            let level = window_info(window).map(|i| i.level);
            let fallback = self
                .wm
                .focus_order
                .iter()
                .find(|w| {
                    window_info(w).map(|i| i.level) == level
                        && self.space.elements().any(|m| m == *w)
                })
                .cloned();
            self.wm.focused = None;
            self.focus_window(fallback.as_ref());
        }
    }

    /// Gives keyboard focus to `window` (raising it) or to nothing.
    /// Sends popup_done to every popup of `level`'s windows.
    fn dismiss_popups_of_level(&mut self, level: LevelId) {
        let roots: Vec<WlSurface> = self
            .space
            .elements()
            .filter(|w| window_info(w).is_some_and(|i| i.level == level))
            .filter_map(|w| wl_surface(w).cloned())
            .collect();
        for root in roots {
            let popups: Vec<_> = smithay::desktop::PopupManager::popups_for_surface(&root)
                .map(|(popup, _)| popup)
                .collect();
            for popup in popups.iter().rev() {
                let _ = smithay::desktop::PopupManager::dismiss_popup(&root, popup);
            }
        }
    }

    pub fn focus_window(&mut self, window: Option<&Window>) {
        let serial = SERIAL_COUNTER.next_serial();
        let target =
            window.and_then(|w| Some((w.clone(), window_info(w)?, wl_surface(w)?.clone())));

        // Each seat gets either this window (its own level) or nothing.
        for index in 0..self.levels.len() {
            let level = LevelId(index);
            let Some(keyboard) = self.levels[index].seat.get_keyboard() else {
                continue;
            };
            let want = target
                .as_ref()
                .filter(|(_, info, _)| info.level == level)
                .map(|(_, _, surface)| surface.clone());
            if keyboard.current_focus() != want {
                if want.is_some() {
                    self.levels[index].focus_serial = Some(serial);
                }
                if keyboard.is_grabbed() {
                    // A popup grab (the only keyboard grab) would keep the focus: focus moving
                    // elsewhere dismisses its popups, as a click outside them does.
                    self.dismiss_popups_of_level(level);
                    keyboard.unset_grab(self);
                    if let Some(pointer) = self.levels[index].seat.get_pointer()
                        && pointer.is_grabbed()
                    {
                        let time = self.now_ms();
                        pointer.unset_grab(self, serial, time);
                    }
                }
                keyboard.set_focus(self, want, serial);
            }
        }

        for w in self.space.elements() {
            let active = target.as_ref().is_some_and(|(t, _, _)| t == w);
            if w.set_activated(active)
                && let Some(t) = w.toplevel()
            {
                t.send_pending_configure();
            }
        }

        match target {
            Some((window, info, _)) => {
                self.wm.attention.retain(|id| *id != info.id);
                self.space.raise_element(&window, false);
                self.wm.focus_order.retain(|w| w != &window);
                self.wm.focus_order.insert(0, window.clone());
                self.wm.focused = Some(window);
            }
            None => self.wm.focused = None,
        }
        self.ui_changed();
    }

    /// The level that has keyboard focus.
    pub fn focused_level(&self) -> Option<LevelId> {
        self.wm
            .focused
            .as_ref()
            .and_then(window_info)
            .map(|i| i.level)
    }

    /// Alt+Tab: steps through windows, most recent first; `forward = false` goes back.
    /// The cycle ends when Alt is released ([`State::end_focus_cycle`]).
    pub fn cycle_focus(&mut self, forward: bool) {
        if self.wm.cycle.is_none() {
            let order: Vec<Window> = self.wm.focus_order.clone();
            if order.is_empty() {
                return;
            }
            // Start from the focused window (index 0 of the MRU order when something has focus).
            let start = if self.wm.focused.is_some() {
                0
            } else {
                order.len() - 1
            };
            self.wm.cycle = Some((order, start));
        }
        let Some((order, index)) = self.wm.cycle.as_mut() else {
            return;
        };
        if order.is_empty() {
            self.wm.cycle = None;
            return;
        }
        let len = order.len();
        *index = if forward {
            (*index + 1) % len
        } else {
            (*index + len - 1) % len
        };
        let window = order[*index].clone();
        // A minimized window comes back when cycled to.
        if let Some(pos) = self.wm.minimized.iter().position(|w| w == &window) {
            self.wm.minimized.remove(pos);
            let loc = with_window_state(&window, |s| s.restore.map(|r| r.loc))
                .unwrap_or_else(|| self.usable_area().loc);
            self.space.map_element(window.clone(), loc, false);
        }
        // Keep the snapshot order while cycling: focus without reordering it.
        let snapshot = self.wm.cycle.take();
        self.focus_window(Some(&window));
        self.wm.cycle = snapshot;
    }

    /// Alt was released: the window reached by Alt+Tab stays focused.
    pub fn end_focus_cycle(&mut self) {
        self.wm.cycle = None;
    }

    /// Minimizes a window (it leaves the screen; Alt+Tab brings it back).
    pub fn minimize(&mut self, window: &Window) {
        let Some(loc) = self.space.element_location(window) else {
            return;
        };
        with_window_state(window, |s| {
            s.restore = Some(Rectangle::new(loc, window_geometry(window).size));
        });
        self.space.unmap_elem(window);
        self.wm.minimized.push(window.clone());
        if self.wm.focused.as_ref() == Some(window) {
            // Keep it in the focus order (for Alt+Tab) but move focus within its level.
            let order = self.wm.focus_order.clone();
            self.wm.focused = None;
            let level = window_info(window).map(|i| i.level);
            let next = order
                .iter()
                .find(|w| {
                    *w != window
                        && window_info(w).map(|i| i.level) == level
                        && self.space.elements().any(|m| m == *w)
                })
                .cloned();
            self.focus_window(next.as_ref());
        }
        self.queue_redraw();
    }

    /// Sets or clears maximized (`fullscreen = false`) or fullscreen state.
    pub fn set_fill(&mut self, toplevel: &ToplevelSurface, fullscreen: bool, on: bool) {
        let Some(window) = self.window_for_surface(toplevel.wl_surface()) else {
            return;
        };
        let state = if fullscreen {
            xdg_toplevel::State::Fullscreen
        } else {
            xdg_toplevel::State::Maximized
        };
        let current = self
            .space
            .element_location(&window)
            .map(|loc| Rectangle::new(loc, window_geometry(&window).size));
        // Maximized or fullscreen on the output that shows most of the window.
        let restore = with_window_state(&window, |s| s.restore).or(current);
        let output_area = restore
            .map(|r| self.usable_area_for(r))
            .unwrap_or_else(|| self.usable_area());
        let area = self.fill_area_in(output_area, fullscreen);
        if on {
            with_window_state(&window, |s| {
                if s.restore.is_none() {
                    s.restore = current;
                }
            });
            toplevel.with_pending_state(|s| {
                s.states.set(state);
                s.size = Some(area.size);
            });
            if self.space.element_location(&window).is_some() {
                self.space.map_element(window.clone(), area.loc, false);
            }
        } else {
            let restore = with_window_state(&window, |s| s.restore.take());
            toplevel.with_pending_state(|s| {
                s.states.unset(state);
                s.size = restore.map(|r| r.size);
            });
            if let Some(r) = restore
                && self.space.element_location(&window).is_some()
            {
                self.space.map_element(window.clone(), r.loc, false);
            }
        }
        if toplevel.is_initial_configure_sent() {
            toplevel.send_pending_configure();
        }
        self.queue_redraw();
    }

    /// Commit handling for popups: initial configure.
    pub fn popup_commit(&mut self, surface: &WlSurface) {
        self.popups.commit(surface);
        if let Some(PopupKind::Xdg(popup)) = self.popups.find_popup(surface)
            && !popup.is_initial_configure_sent()
            && let Err(err) = popup.send_configure()
        {
            tracing::warn!("initial popup configure failed: {err}");
        }
    }

    /// Places a popup so that it stays on the output, following its positioner's constraint
    /// adjustments.
    pub fn unconstrain_popup(&self, popup: &PopupSurface) {
        let kind = PopupKind::Xdg(popup.clone());
        let Ok(root) = find_popup_root_surface(&kind) else {
            return;
        };
        let Some(window) = self.window_for_surface(&root) else {
            return;
        };
        let Some(window_loc) = self.space.element_location(&window) else {
            return;
        };
        // The target rectangle, relative to the popup's parent.
        let mut target =
            self.usable_area_for(Rectangle::new(window_loc, window_geometry(&window).size));
        target.loc -= get_popup_toplevel_coords(&kind);
        target.loc -= window_loc;
        popup.with_pending_state(|state| {
            // What the client's constraint adjustments give (xdg-shell). Whatever they are, the
            // popup is *shown* on screen, frame included (`render::popup_on_screen`).
            state.geometry = state.positioner.get_unconstrained_geometry(target);
        });
    }

    /// Starts an interactive move or resize of `toplevel` if `serial` is a live button press
    /// of the window's own level on that window.
    pub fn start_interactive(
        &mut self,
        toplevel: &ToplevelSurface,
        serial: Serial,
        resize: Option<xdg_toplevel::ResizeEdge>,
    ) {
        let surface = toplevel.wl_surface();
        let Some(window) = self
            .space
            .elements()
            .find(|w| wl_surface(w) == Some(surface))
            .cloned()
        else {
            return;
        };
        let Some(info) = window_info(&window) else {
            return;
        };
        let seat = self.levels[info.level.0].seat.clone();
        let Some(pointer) = seat.get_pointer() else {
            return;
        };
        if !pointer.has_grab(serial) {
            return;
        }
        let Some(start_data) = pointer.grab_start_data() else {
            return;
        };
        let Some((focus, _)) = start_data.focus.as_ref() else {
            return;
        };
        if !focus.id().same_client_as(&surface.id()) {
            return;
        }
        let Some(loc) = self.space.element_location(&window) else {
            return;
        };
        let initial = Rectangle::new(loc, window_geometry(&window).size);
        let kind = match resize {
            None => GrabKind::Move,
            Some(edges) => {
                self.begin_resize(&window, edges);
                GrabKind::Resize {
                    edges,
                    last: initial.size,
                }
            }
        };
        let grab = InteractiveGrab {
            start_data,
            window,
            initial,
            kind,
        };
        pointer.set_grab(self, grab, serial, smithay::input::pointer::Focus::Clear);
    }

    /// After a resize from the top or left edge, keep the opposite edge in place.
    fn finish_resize_commit(&mut self, window: &Window) {
        let Some(resize) = with_window_state(window, |s| {
            let r = s.resize;
            if r.is_some_and(|r| r.done) {
                s.resize = None;
            }
            r
        }) else {
            return;
        };
        let size = window_geometry(window).size;
        let Some(mut loc) = self.space.element_location(window) else {
            return;
        };
        let edges = resize.edges as u32;
        if edges & xdg_toplevel::ResizeEdge::Left as u32 != 0 {
            loc.x = resize.initial.loc.x + resize.initial.size.w - size.w;
        }
        if edges & xdg_toplevel::ResizeEdge::Top as u32 != 0 {
            loc.y = resize.initial.loc.y + resize.initial.size.h - size.h;
        }
        self.space.map_element(window.clone(), loc, false);
    }

    /// The level that owns a popup (through its root toplevel).
    pub fn popup_level(&self, popup: &PopupSurface) -> Option<LevelId> {
        self.surface_level(popup.wl_surface())
    }
}

enum GrabKind {
    Move,
    Resize {
        edges: xdg_toplevel::ResizeEdge,
        last: Size<i32, Logical>,
    },
}

/// An interactive move or resize, driven by the pointer of the window's level.
struct InteractiveGrab {
    start_data: GrabStartData<State>,
    window: Window,
    initial: Rectangle<i32, Logical>,
    kind: GrabKind,
}

impl PointerGrab<State> for InteractiveGrab {
    fn motion(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        _focus: Option<(WlSurface, Point<f64, Logical>)>,
        event: &MotionEvent,
    ) {
        // No client has pointer focus during the grab.
        handle.motion(data, None, event);
        let delta = event.location - self.start_data.location;
        match &mut self.kind {
            GrabKind::Move => {
                let loc = self.initial.loc.to_f64() + delta;
                data.move_window(&self.window, loc.to_i32_round());
            }
            GrabKind::Resize { edges, last } => {
                *last = data.resize_window(&self.window, *edges, self.initial, delta);
            }
        }
    }

    fn relative_motion(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        focus: Option<(WlSurface, Point<f64, Logical>)>,
        event: &RelativeMotionEvent,
    ) {
        handle.relative_motion(data, focus, event);
    }

    fn button(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &ButtonEvent,
    ) {
        handle.button(data, event);
        if handle.current_pressed().is_empty() {
            handle.unset_grab(self, data, event.serial, event.time, true);
        }
    }

    fn axis(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        details: AxisFrame,
    ) {
        handle.axis(data, details)
    }

    fn frame(&mut self, data: &mut State, handle: &mut PointerInnerHandle<'_, State>) {
        handle.frame(data)
    }

    fn gesture_swipe_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeBeginEvent,
    ) {
        handle.gesture_swipe_begin(data, event)
    }

    fn gesture_swipe_update(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeUpdateEvent,
    ) {
        handle.gesture_swipe_update(data, event)
    }

    fn gesture_swipe_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeEndEvent,
    ) {
        handle.gesture_swipe_end(data, event)
    }

    fn gesture_pinch_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchBeginEvent,
    ) {
        handle.gesture_pinch_begin(data, event)
    }

    fn gesture_pinch_update(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchUpdateEvent,
    ) {
        handle.gesture_pinch_update(data, event)
    }

    fn gesture_pinch_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchEndEvent,
    ) {
        handle.gesture_pinch_end(data, event)
    }

    fn gesture_hold_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureHoldBeginEvent,
    ) {
        handle.gesture_hold_begin(data, event)
    }

    fn gesture_hold_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureHoldEndEvent,
    ) {
        handle.gesture_hold_end(data, event)
    }

    fn start_data(&self) -> &GrabStartData<State> {
        &self.start_data
    }

    fn unset(&mut self, data: &mut State) {
        if let GrabKind::Resize { last, .. } = self.kind {
            data.end_resize(&self.window, last);
        }
    }
}

/// What is under a point of the output.
#[derive(Debug, Clone)]
pub enum Under {
    /// The trusted bar.
    Bar,
    /// A client surface (window content or popup) that takes input there.
    Surface {
        /// Its window.
        window: Window,
        /// The surface.
        surface: WlSurface,
        /// The surface's origin, global.
        origin: Point<f64, Logical>,
        /// Its level.
        level: LevelId,
    },
    /// Inside a window or popup, where no surface takes input (or on a popup's frame).
    Inert {
        /// The window.
        window: Window,
    },
    /// A window's frame.
    Frame {
        /// The window.
        window: Window,
        /// Which part.
        part: Part,
    },
    /// The background.
    Nothing,
}

impl State {
    /// What is at `pos`. Input only ever reaches a client inside the area its frame (or its
    /// popup's frame) encloses, exactly where it is drawn.
    pub fn under(&self, pos: Point<f64, Logical>) -> Under {
        if self.bar_at(pos).is_some() {
            return Under::Bar;
        }
        for window in self.space.elements().rev() {
            let (Some(info), Some(layout), Some(toplevel)) = (
                window_info(window),
                crate::render::window_layout(&self.space, window),
                window.toplevel(),
            ) else {
                continue;
            };
            for (popup, rect) in
                crate::render::mapped_popups(&self.space, window, layout.content.loc)
                    .into_iter()
                    .rev()
            {
                let mut framed = rect;
                framed.loc -= Point::from((POPUP_BORDER, POPUP_BORDER));
                framed.size += Size::from((2 * POPUP_BORDER, 2 * POPUP_BORDER));
                if rect.to_f64().contains(pos) {
                    let render = rect.loc - crate::render::popup_geometry(&popup).loc;
                    return match smithay::desktop::utils::under_from_surface_tree(
                        popup.wl_surface(),
                        pos,
                        render,
                        WindowSurfaceType::ALL,
                    ) {
                        Some((surface, origin)) => Under::Surface {
                            window: window.clone(),
                            surface,
                            origin: origin.to_f64(),
                            level: info.level,
                        },
                        None => Under::Inert {
                            window: window.clone(),
                        },
                    };
                }
                if framed.to_f64().contains(pos) {
                    return Under::Inert {
                        window: window.clone(),
                    };
                }
            }
            let state = toplevel.current_state().states;
            let resizable = !state.contains(xdg_toplevel::State::Maximized)
                && !state.contains(xdg_toplevel::State::Fullscreen);
            match layout.hit(pos, resizable) {
                None => continue,
                Some(Part::Content) => {
                    let render = layout.content.loc - window_geometry(window).loc;
                    return match window.surface_under(
                        pos - render.to_f64(),
                        WindowSurfaceType::TOPLEVEL | WindowSurfaceType::SUBSURFACE,
                    ) {
                        Some((surface, origin)) => Under::Surface {
                            window: window.clone(),
                            surface,
                            origin: (origin + render).to_f64(),
                            level: info.level,
                        },
                        None => Under::Inert {
                            window: window.clone(),
                        },
                    };
                }
                Some(part) => {
                    return Under::Frame {
                        window: window.clone(),
                        part,
                    };
                }
            }
        }
        Under::Nothing
    }

    /// Moves a window so its content is at `loc`, keeping its title bar reachable (below the
    /// bar, and partly on the output).
    pub fn move_window(&mut self, window: &Window, loc: Point<i32, Logical>) {
        // Anywhere on the screens, below the bars.
        let area = crate::state::below_bar(self.layout_geometry());
        let (_, eh) = FrameLayout::extra(false);
        let min_y = area.loc.y + eh - crate::ui::BORDER;
        let size = window_geometry(window).size;
        let x = loc
            .x
            .clamp(area.loc.x - size.w + 64, area.loc.x + area.size.w - 64);
        let y = loc
            .y
            .clamp(min_y, (area.loc.y + area.size.h - 16).max(min_y));
        self.space.map_element(window.clone(), (x, y), false);
        self.queue_redraw();
    }

    /// Begins an interactive resize of `window` from `edges`; returns its rectangle.
    pub fn begin_resize(
        &mut self,
        window: &Window,
        edges: xdg_toplevel::ResizeEdge,
    ) -> Option<Rectangle<i32, Logical>> {
        let loc = self.space.element_location(window)?;
        let initial = Rectangle::new(loc, window_geometry(window).size);
        with_window_state(window, |s| {
            s.resize = Some(Resize {
                edges,
                initial,
                done: false,
            })
        });
        let toplevel = window.toplevel()?;
        toplevel.with_pending_state(|s| {
            s.states.set(xdg_toplevel::State::Resizing);
        });
        toplevel.send_pending_configure();
        Some(initial)
    }

    /// Asks the client for the size a resize by `delta` from `initial` gives; returns it.
    pub fn resize_window(
        &mut self,
        window: &Window,
        edges: xdg_toplevel::ResizeEdge,
        initial: Rectangle<i32, Logical>,
        delta: Point<f64, Logical>,
    ) -> Size<i32, Logical> {
        let e = edges as u32;
        let has = |edge: xdg_toplevel::ResizeEdge| e & edge as u32 != 0;
        let mut w = initial.size.w;
        let mut h = initial.size.h;
        if has(xdg_toplevel::ResizeEdge::Left) {
            w -= delta.x as i32;
        } else if has(xdg_toplevel::ResizeEdge::Right) {
            w += delta.x as i32;
        }
        if has(xdg_toplevel::ResizeEdge::Top) {
            h -= delta.y as i32;
        } else if has(xdg_toplevel::ResizeEdge::Bottom) {
            h += delta.y as i32;
        }
        let Some(toplevel) = window.toplevel() else {
            return initial.size;
        };
        let (min, max) = with_states(toplevel.wl_surface(), |states| {
            let mut cached = states.cached_state.get::<SurfaceCachedState>();
            let current = cached.current();
            (current.min_size, current.max_size)
        });
        // Never smaller than what the frame needs to show its badge and buttons.
        let clamp = |v: i32, lo: i32, hi: i32, floor: i32| {
            v.max(lo.max(floor))
                .min(if hi == 0 { i32::MAX } else { hi })
        };
        let size = Size::from((clamp(w, min.w, max.w, 120), clamp(h, min.h, max.h, 40)));
        toplevel.with_pending_state(|s| s.size = Some(size));
        toplevel.send_pending_configure();
        size
    }

    /// Ends an interactive resize; the next commit places the window (see `toplevel_commit`).
    pub fn end_resize(&mut self, window: &Window, last: Size<i32, Logical>) {
        with_window_state(window, |s| {
            if let Some(r) = s.resize.as_mut() {
                r.done = true;
            }
        });
        if let Some(toplevel) = window.toplevel() {
            toplevel.with_pending_state(|s| {
                s.states.unset(xdg_toplevel::State::Resizing);
                s.size = Some(last);
            });
            toplevel.send_pending_configure();
        }
    }

    /// Toggles the maximized state of a window (user action).
    pub fn toggle_maximize(&mut self, window: &Window) {
        let Some(toplevel) = window.toplevel().cloned() else {
            return;
        };
        let on =
            !toplevel.with_pending_state(|s| s.states.contains(xdg_toplevel::State::Maximized));
        self.set_fill(&toplevel, false, on);
    }

    /// Toggles the fullscreen state of a window (user action: allowed whatever the level's
    /// policy for client requests; the bar and the border stay visible).
    pub fn toggle_fullscreen(&mut self, window: &Window) {
        let Some(toplevel) = window.toplevel().cloned() else {
            return;
        };
        let on =
            !toplevel.with_pending_state(|s| s.states.contains(xdg_toplevel::State::Fullscreen));
        self.set_fill(&toplevel, true, on);
    }
}
