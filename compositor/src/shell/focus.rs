//! Keyboard focus, attention, Alt+Tab and minimizing, by the rules in the module's
//! documentation: a level never takes the keyboard from another level.

use super::*;

impl State {
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
    pub(super) fn forget_focus(&mut self, window: &Window) {
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
    pub(super) fn dismiss_popups_of_level(&mut self, level: LevelId) {
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
        // A constraint holds only on the focused window.
        self.update_pointer_constraint();
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
}
