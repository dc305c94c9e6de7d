//! The pointer: focus by what is under it, buttons, scrolling, relative motion, and leaving the
//! clients when trusted UI takes it.

use super::*;

impl State {
    /// Takes the pointer from the clients (they see it leave) while trusted UI is modal.
    pub fn release_pointer(&mut self) {
        self.release_pointer_from_clients();
    }

    pub(super) fn release_pointer_from_clients(&mut self) {
        if let Some(old) = self.input.pointer_level.take() {
            let event = MotionEvent {
                location: self.input.pointer,
                serial: SERIAL_COUNTER.next_serial(),
                time: self.now_ms(),
            };
            if let Some(pointer) = self.levels[old.0].seat.get_pointer() {
                pointer.motion(self, None, &event);
                pointer.frame(self);
            }
            self.levels[old.0].cursor = CursorImageStatus::default_named();
        }
        self.input.pointer_focus = None;
        self.update_pointer_constraint();
    }

    /// Gives the pointer again if what is under it changed (a window moved, opened, resized or
    /// closed) while it stood still; nothing is sent otherwise.
    pub fn refresh_pointer_focus(&mut self) {
        if !self.input.pointer_seen
            || self.ui.lock.locked
            || self.ui.menu.open
            || self.ui.dialog.is_some()
            || self.input.frame_grab.is_some()
        {
            return;
        }
        let grabbed = self.input.pointer_level.is_some_and(|l| {
            self.levels[l.0]
                .seat
                .get_pointer()
                .is_some_and(|p| p.is_grabbed())
        });
        if grabbed {
            return;
        }
        let now = match self.under(self.input.pointer) {
            Under::Surface {
                surface, origin, ..
            } => Some((surface, origin)),
            _ => None,
        };
        if now != self.input.pointer_focus {
            let time = self.now_ms();
            self.handle_pointer_motion(self.input.pointer, time);
        }
    }

    pub(super) fn handle_pointer_relative(
        &mut self,
        delta: Point<f64, Logical>,
        unaccelerated: Point<f64, Logical>,
        utime: u64,
    ) {
        let pos = self.input.pointer + delta;
        // A held pointer: locked, it stays (the client gets the relative motion only);
        // confined, it stays inside its surface.
        match self.pointer_hold() {
            Some(hold) => {
                if let Some(pos) = self.held_position(&hold, pos) {
                    self.handle_pointer_motion(pos, (utime / 1000) as u32);
                }
            }
            None => self.handle_pointer_motion(pos, (utime / 1000) as u32),
        }
        // Only to the surface the level's own seat just got (none over trusted UI, during a
        // frame grab or while the menu or a dialog is open).
        let (Some(level), Some(focus)) =
            (self.input.pointer_level, self.input.pointer_focus.clone())
        else {
            return;
        };
        if self.ui.menu.open || self.ui.dialog.is_some() || self.input.frame_grab.is_some() {
            return;
        }
        if let Some(pointer) = self.levels[level.0].seat.get_pointer() {
            pointer.relative_motion(
                self,
                Some(focus),
                &smithay::input::pointer::RelativeMotionEvent {
                    delta,
                    delta_unaccel: unaccelerated,
                    utime,
                },
            );
            pointer.frame(self);
        }
    }

    pub(super) fn handle_pointer_motion(&mut self, pos: Point<f64, Logical>, time: u32) {
        let pos = self.clamp_to_outputs(pos);
        self.input.pointer = pos;
        self.input.pointer_seen = true;
        self.queue_redraw();

        // The menu and the dialog are modal: no client follows the pointer while one is open.
        if self.ui.menu.open || self.ui.dialog.is_some() {
            return;
        }
        if self.input.frame_grab.is_some() {
            self.frame_grab_motion(pos);
            return;
        }

        let serial = SERIAL_COUNTER.next_serial();
        let event = MotionEvent {
            location: pos,
            serial,
            time,
        };
        let under = match self.under(pos) {
            Under::Surface {
                surface,
                origin,
                level,
                ..
            } => Some((surface, origin, level)),
            _ => None,
        };
        // A confined pointer stays on its surface, even where another window's frame
        // overlaps its edge.
        let under = match self.confined_focus(pos) {
            Some(held) if under.is_none() => Some(held),
            _ => under,
        };

        // While a button is held, the level that got the press keeps the pointer.
        let grabbing = self.input.pointer_level.filter(|l| {
            self.levels[l.0]
                .seat
                .get_pointer()
                .is_some_and(|p| p.is_grabbed())
        });
        let target = grabbing.or(under.as_ref().map(|(_, _, level)| *level));

        if let Some(old) = self.input.pointer_level.filter(|old| Some(*old) != target) {
            if let Some(pointer) = self.levels[old.0].seat.get_pointer() {
                pointer.motion(self, None, &event);
                pointer.frame(self);
            }
            // The level that loses the pointer no longer decides the cursor.
            self.levels[old.0].cursor = CursorImageStatus::default_named();
        }
        self.input.pointer_level = target;
        self.input.pointer_focus = None;
        if let Some(level) = target {
            // Only ever give a seat its own level's surfaces.
            let focus = under
                .filter(|(_, _, l)| *l == level)
                .map(|(surface, origin, _)| (surface, origin));
            self.input.pointer_focus = focus.clone();
            if let Some(pointer) = self.levels[level.0].seat.get_pointer() {
                pointer.motion(self, focus, &event);
                pointer.frame(self);
            }
        }
        self.update_pointer_constraint();
    }

    pub(super) fn handle_pointer_button(&mut self, button: u32, pressed: bool, time: u32) {
        let serial = SERIAL_COUNTER.next_serial();
        // The notifications are the compositor's: the release of a press they took is theirs
        // too (the card may have gone from under the pointer), whatever came up meanwhile.
        if !pressed && self.input.stack_pressed == Some(button) {
            self.input.stack_pressed = None;
            return;
        }
        if self.ui.dialog.is_some() {
            // Only its buttons answer; a click elsewhere changes nothing (focus included).
            if pressed
                && let Some(answer) = crate::ui::dialog::ConfirmDialog::hit(
                    self.output_geometry().size,
                    self.input.pointer - self.output_geometry().loc.to_f64(),
                )
            {
                self.answer_dialog(answer);
            }
            return;
        }
        if self.ui.menu.open {
            // A click on an entry starts it; anywhere else closes the menu. No client sees it.
            if pressed {
                let primary = self.output_geometry();
                let at = self.input.pointer - primary.loc.to_f64();
                let outcome = match self.ui.menu.hit(primary.size, at) {
                    Some((level, app)) => {
                        self.ui.menu.open = false;
                        crate::ui::menu::MenuOutcome::Launch(level, app)
                    }
                    None => {
                        self.ui.menu.open = false;
                        crate::ui::menu::MenuOutcome::Closed
                    }
                };
                self.menu_outcome(outcome);
            }
            return;
        }
        if self.input.frame_grab.is_some() {
            if !pressed {
                self.end_frame_grab();
            }
            return;
        }
        if pressed && self.notification_press(self.input.pointer) {
            self.input.stack_pressed = Some(button);
            return;
        }
        let client_grab = self.input.pointer_level.is_some_and(|l| {
            self.levels[l.0]
                .seat
                .get_pointer()
                .is_some_and(|p| p.is_grabbed())
        });
        if pressed && !client_grab {
            match self.under(self.input.pointer) {
                Under::Frame { window, part } => {
                    if self.wm.focused.as_ref() != Some(&window) {
                        self.focus_window(Some(&window));
                    }
                    if button == BTN_LEFT {
                        self.start_frame_grab(window, part);
                    }
                    // The frame is the compositor's: no client sees this press.
                    return;
                }
                Under::Surface {
                    window, surface, ..
                } => {
                    // A click in the window the user took the pointer from: its constraints
                    // may hold again.
                    self.pointer_clicked_in_client(&surface);
                    if self.wm.focused.as_ref() != Some(&window) {
                        self.focus_window(Some(&window));
                    }
                    self.update_pointer_constraint();
                }
                Under::Inert { window } => {
                    if self.wm.focused.as_ref() != Some(&window) {
                        self.focus_window(Some(&window));
                    }
                }
                Under::Bar => {
                    let bar = self
                        .bar_at(self.input.pointer)
                        .unwrap_or_else(|| self.output_geometry());
                    if crate::ui::bar::menu_button_hit(
                        bar.size.w,
                        self.input.pointer - bar.loc.to_f64(),
                    ) {
                        self.toggle_menu();
                        return;
                    }
                    if crate::ui::bar::quiet_button_hit(
                        bar.size.w,
                        self.input.pointer - bar.loc.to_f64(),
                    ) {
                        self.toggle_quiet();
                        return;
                    }
                    // Anywhere else on the bar: a waiting transfer request opens; else a
                    // transfer in progress is cancelled (what the bar's line says).
                    if self.ui.dialogs_waiting.iter().any(|d| !d.by_user) {
                        self.open_waiting_dialog();
                        return;
                    }
                    if let Some((id, _)) = self.ui.bar.transfer.clone() {
                        self.launcher
                            .send(cloison_ipc::session::ToLauncher::CancelTransfer { id });
                        return;
                    }
                }
                Under::Nothing => self.focus_window(None),
                // (A press there was the stack's, above.)
                Under::Stack => return,
            }
        }
        if let Some(level) = self.input.pointer_level
            && let Some(pointer) = self.levels[level.0].seat.get_pointer()
        {
            self.levels[level.0].user_input(serial, pressed);
            let state = if pressed {
                ButtonState::Pressed
            } else {
                ButtonState::Released
            };
            pointer.button(
                self,
                &ButtonEvent {
                    serial,
                    time,
                    button,
                    state,
                },
            );
            pointer.frame(self);
        }
    }

    pub(super) fn handle_pointer_axis(
        &mut self,
        horizontal: f64,
        vertical: f64,
        v120: Option<(f64, f64)>,
        source: AxisSource,
        time: u32,
    ) {
        let Some(level) = self.input.pointer_level else {
            return;
        };
        let Some(pointer) = self.levels[level.0].seat.get_pointer() else {
            return;
        };
        let mut frame = AxisFrame::new(time).source(source);
        if horizontal != 0.0 {
            frame = frame.value(Axis::Horizontal, horizontal);
            if let Some((h, _)) = v120 {
                frame = frame.v120(Axis::Horizontal, h as i32);
            }
        }
        if vertical != 0.0 {
            frame = frame.value(Axis::Vertical, vertical);
            if let Some((_, v)) = v120 {
                frame = frame.v120(Axis::Vertical, v as i32);
            }
        }
        pointer.axis(self, frame);
        pointer.frame(self);
    }
}
