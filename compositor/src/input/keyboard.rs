//! The keyboard: compositor shortcuts first, then the focused level's seat; the dialog's and
//! the menu's keys.

use super::*;

impl State {
    pub(super) fn handle_key(&mut self, keycode: u32, pressed: bool, time: u32) {
        let serial = SERIAL_COUNTER.next_serial();
        let xkb_keycode = xkb::Keycode::new(keycode);
        let sym = self
            .input
            .keymap
            .key_get_syms_by_level(xkb_keycode, 0, 0)
            .first()
            .copied();
        let is_super =
            matches!(sym, Some(s) if s == xkb::Keysym::Super_L || s == xkb::Keysym::Super_R);
        // With the Super tap, Super belongs to the compositor: no client sees it.
        let reserved = self.input.super_tap && is_super;
        if pressed {
            // Ctrl+Alt+F1…F12 (the keymap's XF86Switch_VT_n) switch virtual terminals where the
            // compositor owns a seat; no client sees them.
            let vt_sym = self.input.xkb.key_get_one_sym(xkb_keycode).raw();
            let first = xkb::Keysym::XF86_Switch_VT_1.raw();
            if (first..first + 12).contains(&vt_sym)
                && crate::backend::switch_vt(self, (vt_sym - first + 1) as i32)
            {
                self.input.pressed.insert(keycode, KeyRoute::Intercepted);
                return;
            }
        }
        if pressed && is_super {
            // Super always takes the pointer back from a level that holds it.
            self.break_pointer_constraint("super");
        }
        let route = if pressed {
            let action = self.input.shortcut(keycode);
            self.input
                .xkb
                .update_key(xkb_keycode, xkb::KeyDirection::Down);
            self.input.super_armed = reserved && self.input.pressed.is_empty();
            let locked = self.ui.lock.locked;
            let menu_open = self.ui.menu.open;
            let dialog_open = self.ui.dialog.is_some();
            let route = match (action, self.focused_level()) {
                _ if locked || reserved || menu_open || dialog_open => KeyRoute::Intercepted,
                (Some(_), _) => KeyRoute::Intercepted,
                (None, Some(level)) => KeyRoute::Level(level),
                (None, None) => KeyRoute::Dropped,
            };
            // A repeated press (no release in between) keeps its first route.
            let route = *self.input.pressed.entry(keycode).or_insert(route);
            if locked {
                let text = self.input.xkb.key_get_utf8(xkb_keycode);
                self.lock_key(sym, &text);
                // Zeroed: a character of the password.
                zeroize::Zeroize::zeroize(&mut text.into_bytes());
            } else if action == Some(Action::Lock) {
                // Before any dialog or menu: a dialog a level keeps up must not keep the
                // screen from locking.
                self.run_action(Action::Lock);
            } else if dialog_open {
                if let Some(sym) = sym {
                    self.dialog_key(sym);
                }
            } else if menu_open {
                if let Some(sym) = sym {
                    self.menu_key(sym);
                }
            } else if let Some(action) = action {
                self.run_action(action);
            }
            route
        } else {
            self.input
                .xkb
                .update_key(xkb_keycode, xkb::KeyDirection::Up);
            let route = self
                .input
                .pressed
                .remove(&keycode)
                .unwrap_or(KeyRoute::Dropped);
            if reserved
                && std::mem::take(&mut self.input.super_armed)
                && self.ui.dialog.is_none()
                && !self.ui.lock.locked
            {
                self.toggle_menu();
            }
            if self.wm.cycle.is_some() && !self.input.cycle_held() {
                self.input.cycle_mods = None;
                self.end_focus_cycle();
            }
            route
        };
        if let KeyRoute::Level(level) = route
            && let Some(keyboard) = self.levels[level.0].seat.get_keyboard()
        {
            self.levels[level.0].user_input(serial, pressed);
            let state = if pressed {
                KeyState::Pressed
            } else {
                KeyState::Released
            };
            // The filter reads the layout after the key (the keymap may switch layouts itself).
            let mut layout = None;
            keyboard.input::<(), _>(
                self,
                Keycode::new(keycode),
                state,
                serial,
                time,
                |_, _, handle| {
                    layout = handle
                        .xkb()
                        .lock()
                        .ok()
                        .map(|xkb| xkb.active_layout().0 as usize);
                    FilterResult::Forward
                },
            );
            if let Some(layout) = layout {
                self.layout_in_use(level, layout);
            }
        }
    }

    pub(super) fn run_action(&mut self, action: Action) {
        let focused = self.wm.focused.clone();
        match action {
            Action::CycleForward | Action::CycleBackward => {
                self.input.cycle_mods = self
                    .input
                    .bindings
                    .iter()
                    .find(|(a, _)| *a == action)
                    .map(|(_, b)| *b);
                self.cycle_focus(action == Action::CycleForward);
            }
            Action::Maximize => {
                if let Some(w) = focused {
                    self.toggle_maximize(&w);
                }
            }
            Action::Fullscreen => {
                if let Some(w) = focused {
                    self.toggle_fullscreen(&w);
                }
            }
            Action::Close => {
                if let Some(t) = focused.as_ref().and_then(|w| w.toplevel()) {
                    t.send_close();
                }
            }
            Action::Minimize => {
                if let Some(w) = focused {
                    self.minimize(&w);
                }
            }
            Action::LauncherMenu => self.toggle_menu(),
            Action::CopyToGlobal => self.copy_to_global(),
            Action::PasteFromGlobal => self.paste_from_global(),
            Action::Lock if !self.launcher.connected() => self
                .ui
                .bar
                .notify("Not locking: no launcher runs to check a password".into()),
            Action::Lock => self.lock_screen("chord"),
            Action::NextLayout => self.next_layout(),
            Action::ReleasePointer => self.break_pointer_constraint("chord"),
        }
    }

    /// Switches the focused level's keyboard to its next layout (the bar says which).
    fn next_layout(&mut self) {
        let Some(level) = self.focused_level() else {
            return;
        };
        let Some(keyboard) = self.levels[level.0].seat.get_keyboard() else {
            return;
        };
        let layout = keyboard.with_xkb_state(self, |mut context| {
            context.cycle_next_layout();
            let xkb = context.xkb().lock().unwrap_or_else(|e| e.into_inner());
            xkb.active_layout().0 as usize
        });
        self.layout_in_use(level, layout);
    }

    /// The level's keyboard uses layout `layout` now (after a switch, or keys the keymap
    /// switches layouts with, such as `grp:alt_shift_toggle`).
    pub(super) fn layout_in_use(&mut self, level: LevelId, layout: usize) {
        let state = &mut self.levels[level.0];
        if state.layout != layout && layout < state.layouts.len() {
            state.layout = layout;
            tracing::info!(level = %state.name, layout = %state.layouts[layout], "keyboard layout");
            self.ui_changed();
        }
    }

    pub(super) fn dialog_key(&mut self, sym: xkb::Keysym) {
        use crate::ui::dialog::Answer;
        match sym {
            xkb::Keysym::Return | xkb::Keysym::KP_Enter => self.answer_dialog(Answer::Accept),
            xkb::Keysym::Escape => self.answer_dialog(Answer::Refuse),
            _ => {}
        }
    }

    /// Opens the launcher menu on the focused level's column, or closes it. Opening takes the
    /// pointer from the clients (they see it leave) until the menu closes.
    pub fn toggle_menu(&mut self) {
        let level = self.focused_level().map_or(0, |l| l.0);
        self.ui.menu.toggle(level);
        if self.ui.menu.open {
            self.release_pointer_from_clients();
        }
        self.queue_redraw();
    }

    pub(super) fn menu_key(&mut self, sym: xkb::Keysym) {
        use crate::ui::menu::MenuKey;
        let key = match sym {
            xkb::Keysym::Up | xkb::Keysym::KP_Up => MenuKey::Up,
            xkb::Keysym::Down | xkb::Keysym::KP_Down | xkb::Keysym::Tab => MenuKey::Down,
            xkb::Keysym::Left | xkb::Keysym::KP_Left => MenuKey::Left,
            xkb::Keysym::Right | xkb::Keysym::KP_Right => MenuKey::Right,
            xkb::Keysym::Return | xkb::Keysym::KP_Enter => MenuKey::Enter,
            xkb::Keysym::Escape => MenuKey::Escape,
            _ => return,
        };
        let outcome = self.ui.menu.key(key);
        self.menu_outcome(outcome);
    }

    pub(super) fn menu_outcome(&mut self, outcome: crate::ui::menu::MenuOutcome) {
        use crate::ui::menu::MenuOutcome;
        if let MenuOutcome::Launch(level, app) = outcome
            && let Some(level) = self.levels.get(level)
        {
            let level = level.name.to_string();
            self.launch(level, app);
        }
        self.queue_redraw();
    }
}
