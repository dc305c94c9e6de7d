//! The levels' notifications in the compositor: what the launcher hands over goes on the
//! trusted stack ([`crate::ui::notifications`]); what the user does with a card goes back to
//! the launcher by the launcher's id, and from there only to the level that sent it.

use std::time::Instant;

use cloison_ipc::level::Notification;
use cloison_ipc::session::ToLauncher;

use crate::state::{State, window_info};
use crate::ui::dialog::ARMING;
use crate::ui::notifications::{Card, Click, StackContent, reason};

impl State {
    /// Shows notification `id` of `level` (a replacement when the id is already shown).
    pub fn show_notification(&mut self, id: u64, level: &str, notification: &Notification) {
        let Some(index) = self.levels.iter().position(|l| *l.name == *level) else {
            tracing::warn!(level, "a notification for an unknown level");
            return;
        };
        let card = Card::new(id, index, notification, self.ui.notifications.default_ms);
        for pushed in self.ui.notifications.add(card) {
            self.launcher.send(ToLauncher::NotificationClosed {
                id: pushed,
                reason: reason::UNDEFINED,
            });
        }
    }

    /// Whether the stack may be on screen now: never over the lock screen, a dialog or the
    /// menu.
    pub fn notifications_on_screen(&self) -> bool {
        !self.ui.lock.locked && self.ui.dialog.is_none() && !self.ui.menu.open
    }

    /// What the stack shows now.
    pub fn notification_content(&self) -> StackContent {
        let levels: Vec<_> = self
            .levels
            .iter()
            .map(|l| (l.label.clone(), l.color))
            .collect();
        self.ui.notifications.content(&levels)
    }

    /// The stack's timer fired: expired cards go, and their levels hear it.
    pub fn expire_notifications(&mut self) {
        for id in self.ui.notifications.expire(Instant::now()) {
            self.launcher.send(ToLauncher::NotificationClosed {
                id,
                reason: reason::EXPIRED,
            });
        }
        self.queue_redraw();
    }

    /// A press at `pos` (global coordinates): whether the stack took it.
    pub fn notification_press(
        &mut self,
        pos: smithay::utils::Point<f64, smithay::utils::Logical>,
    ) -> bool {
        let Some(click) = self.notification_hit(pos) else {
            return false;
        };
        // The stack just changed under the pointer (a card came, went or moved): this click
        // was aimed at what was there before, so it does nothing. A level cannot time a card
        // to catch a click meant for another's.
        if self.ui.notifications.changed.elapsed() < ARMING {
            return true;
        }
        let id = match click {
            Click::Nothing => return true,
            Click::Dismiss(id) => id,
            Click::Action(id, key) => {
                self.launcher
                    .send(ToLauncher::NotificationAction { id, key });
                id
            }
            Click::Focus(id) => {
                self.focus_app_of(id);
                id
            }
        };
        if self.ui.notifications.remove(id) {
            self.launcher.send(ToLauncher::NotificationClosed {
                id,
                reason: reason::DISMISSED,
            });
        }
        self.queue_redraw();
        true
    }

    /// Whether `pos` (global coordinates) is on the stack as shown.
    pub fn on_notifications(
        &self,
        pos: smithay::utils::Point<f64, smithay::utils::Logical>,
    ) -> bool {
        self.notification_hit(pos).is_some()
    }

    /// What is at `pos` (global coordinates) on the stack as shown, if it is on it.
    fn notification_hit(
        &self,
        pos: smithay::utils::Point<f64, smithay::utils::Logical>,
    ) -> Option<Click> {
        if !self.notifications_on_screen() {
            return None;
        }
        let primary = self.output_geometry();
        let content = self.notification_content();
        self.ui
            .notifications
            .hit(&content, primary.size, pos - primary.loc.to_f64())
    }

    /// Focuses the topmost window of card `id`'s level whose app id names its app (`mail`
    /// matches `mail` and `org.example.Mail`), if there is one.
    fn focus_app_of(&mut self, id: u64) {
        let Some(card) = self.ui.notifications.cards.iter().find(|c| c.id == id) else {
            return;
        };
        let (level, app) = (card.level, card.app.to_lowercase());
        if app.is_empty() {
            return;
        }
        let window = self
            .space
            .elements()
            .rev()
            .find(|w| {
                window_info(w).is_some_and(|info| info.level.0 == level)
                    && app_id_of(w).is_some_and(|id| {
                        let id = id.to_lowercase();
                        id == app || id.rsplit('.').next() == Some(app.as_str())
                    })
            })
            .cloned();
        if let Some(window) = window {
            self.focus_window(Some(&window));
        }
    }

    /// Do not disturb: on or off (the bar's button).
    pub fn toggle_quiet(&mut self) {
        let stack = &mut self.ui.notifications;
        stack.quiet = !stack.quiet;
        stack.changed = std::time::Instant::now();
        if !stack.quiet {
            stack.missed = 0;
        }
        tracing::info!(quiet = stack.quiet, "do not disturb");
        self.queue_redraw();
    }
}

/// A window's app id, as its client set it.
fn app_id_of(window: &smithay::desktop::Window) -> Option<String> {
    let toplevel = window.toplevel()?;
    smithay::wayland::compositor::with_states(toplevel.wl_surface(), |states| {
        states
            .data_map
            .get::<smithay::wayland::shell::xdg::XdgToplevelSurfaceData>()
            .and_then(|d| d.lock().ok())
            .and_then(|d| d.app_id.clone())
    })
}
