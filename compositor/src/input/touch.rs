//! Touch: each slot goes to the level whose surface it went down on.

use super::*;

impl State {
    /// A touch down goes to the level of the surface under it (and focuses its window, like a
    /// click); the touch point stays with that level's seat until it is lifted. Trusted UI
    /// (bar, frames, menu, dialog) takes no touch: no client sees those.
    pub(super) fn handle_touch_down(&mut self, slot: u32, pos: Point<f64, Logical>, time: u32) {
        tracing::trace!(slot, ?pos, "touch down");
        if self.ui.menu.open || self.ui.dialog.is_some() || self.input.touches.contains_key(&slot) {
            return;
        }
        let (window, surface, origin, level) = match self.under(pos) {
            Under::Surface {
                window,
                surface,
                origin,
                level,
            } => (window, surface, origin, level),
            Under::Inert { window } | Under::Frame { window, .. } => {
                if self.wm.focused.as_ref() != Some(&window) {
                    self.focus_window(Some(&window));
                }
                return;
            }
            Under::Bar | Under::Stack | Under::Nothing => return,
        };
        if self.wm.focused.as_ref() != Some(&window) {
            self.focus_window(Some(&window));
        }
        let Some(touch) = self.levels[level.0].seat.get_touch() else {
            return;
        };
        self.input.touches.insert(slot, (level, surface.clone()));
        let serial = SERIAL_COUNTER.next_serial();
        self.levels[level.0].user_input(serial, true);
        touch.down(
            self,
            Some((surface, origin)),
            &smithay::input::touch::DownEvent {
                slot: Some(slot).into(),
                location: pos,
                serial,
                time,
            },
        );
        touch.frame(self);
    }

    pub(super) fn handle_touch_motion(&mut self, slot: u32, pos: Point<f64, Logical>, time: u32) {
        let Some(level) = self.input.touches.get(&slot).map(|t| t.0) else {
            return;
        };
        let Some(touch) = self.levels[level.0].seat.get_touch() else {
            return;
        };
        // The point keeps the surface it went down on; only its own level's surfaces are
        // ever named.
        let focus = match self.under(pos) {
            Under::Surface {
                surface,
                origin,
                level: l,
                ..
            } if l == level => Some((surface, origin)),
            _ => None,
        };
        touch.motion(
            self,
            focus,
            &smithay::input::touch::MotionEvent {
                slot: Some(slot).into(),
                location: pos,
                time,
            },
        );
        touch.frame(self);
    }

    pub(super) fn handle_touch_up(&mut self, slot: u32, time: u32) {
        let Some((level, _)) = self.input.touches.remove(&slot) else {
            return;
        };
        let Some(touch) = self.levels[level.0].seat.get_touch() else {
            return;
        };
        touch.up(
            self,
            &smithay::input::touch::UpEvent {
                slot: Some(slot).into(),
                serial: SERIAL_COUNTER.next_serial(),
                time,
            },
        );
        touch.frame(self);
    }

    /// `root` goes away (a window destroyed or unmapped, a surface destroyed): touch points on
    /// it or on its subsurfaces are lifted, while its client can still be told.
    pub fn release_touches_on(
        &mut self,
        root: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
    ) {
        let slots: Vec<u32> = self
            .input
            .touches
            .iter()
            .filter(|(_, (_, surface))| {
                let mut node = Some(surface.clone());
                while let Some(n) = node {
                    if n == *root {
                        return true;
                    }
                    node = smithay::wayland::compositor::get_parent(&n);
                }
                false
            })
            .map(|(slot, _)| *slot)
            .collect();
        for slot in slots {
            let time = self.now_ms();
            self.handle_touch_up(slot, time);
        }
    }

    pub(crate) fn handle_touch_cancel(&mut self) {
        let levels: std::collections::BTreeSet<usize> =
            self.input.touches.drain().map(|(_, (l, _))| l.0).collect();
        for level in levels {
            if let Some(touch) = self.levels[level].seat.get_touch() {
                touch.cancel(self);
            }
        }
    }
}
