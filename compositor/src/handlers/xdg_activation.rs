//! xdg-activation (optional, filtered per level), scoped to levels.
//!
//! A token counts only if it was created by a client of level L, from the serial of a user
//! input event on L's seat while L had the keyboard, within 10 s of that input. Activating a
//! window with it moves focus only if the window is of level L and L still has the keyboard:
//! a level can pass focus between its own windows when the user asked for it, never take the
//! keyboard from another level. Anything else becomes an attention hint in the trusted bar.

use std::time::Duration;

use smithay::input::Seat;
use smithay::reexports::wayland_protocols::xdg::activation::v1::server::xdg_activation_token_v1::XdgActivationTokenV1;
use smithay::reexports::wayland_protocols::xdg::activation::v1::server::xdg_activation_v1::XdgActivationV1;
use smithay::reexports::wayland_server::delegate_dispatch;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::xdg_activation::{
    ActivationTokenData, XdgActivationHandler, XdgActivationState, XdgActivationToken,
    XdgActivationTokenData,
};

use crate::state::{ClientState, LevelId, State};

/// How long after a user input a token may be created, and used.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(10);
/// Most tokens a level may hold at once (smithay keeps every token until it is used; older
/// ones than [`TOKEN_LIFETIME`] are dropped first).
pub const MAX_TOKENS_PER_LEVEL: usize = 64;

/// What the compositor decided about a token when it was created.
#[derive(Debug, Clone, Copy)]
struct TokenLevel {
    level: LevelId,
    from_user_input: bool,
}

impl XdgActivationHandler for State {
    fn activation_state(&mut self) -> &mut XdgActivationState {
        &mut self.xdg_activation_state
    }

    fn token_created(&mut self, _token: XdgActivationToken, data: XdgActivationTokenData) -> bool {
        let level = data.client_id.as_ref().and_then(|id| {
            let client_data = self
                .display_handle
                .backend_handle()
                .get_client_data(id.clone())
                .ok()?;
            client_data.downcast_ref::<ClientState>().map(|c| c.level)
        });
        let Some(level) = level else { return false };
        // Expired tokens can no longer be used: forget them; then a level holds a bounded
        // number (a client asking for tokens in a loop gets ones that do nothing).
        self.xdg_activation_state
            .retain_tokens(|_, data| data.timestamp.elapsed() < TOKEN_LIFETIME);
        let held = self
            .xdg_activation_state
            .tokens()
            .filter(|(_, data)| {
                data.user_data
                    .get::<TokenLevel>()
                    .is_some_and(|t| t.level == level)
            })
            .count();
        if held >= MAX_TOKENS_PER_LEVEL {
            return false;
        }
        let from_user_input = data.serial.as_ref().is_some_and(|(serial, seat)| {
            let seat_level = Seat::<State>::from_resource(seat).and_then(|s| State::seat_level(&s));
            let l = &self.levels[level.0];
            seat_level == Some(level)
                && l.focus_serial.is_some_and(|f| serial.is_no_older_than(&f))
                && l.last_input.is_some_and(|(last, at)| {
                    last.is_no_older_than(serial) && at.elapsed() < TOKEN_LIFETIME
                })
        });
        data.user_data.insert_if_missing_threadsafe(|| TokenLevel {
            level,
            from_user_input,
        });
        // Every token is issued (a client cannot tell good from bad); its use decides.
        true
    }

    fn request_activation(
        &mut self,
        token: XdgActivationToken,
        token_data: XdgActivationTokenData,
        surface: WlSurface,
    ) {
        self.xdg_activation_state.remove_token(&token);
        let Some(window) = self.window_for_surface(&surface) else {
            return;
        };
        let Some(surface_level) = self.surface_level(&surface) else {
            return;
        };
        // Nothing takes focus while the paste dialog is open.
        let granted = self.ui.dialog.is_none()
            && token_data.user_data.get::<TokenLevel>().is_some_and(|t| {
                t.from_user_input
                    && t.level == surface_level
                    && self.focused_level() == Some(surface_level)
                    && token_data.timestamp.elapsed() < TOKEN_LIFETIME
            });
        if granted {
            self.focus_window(Some(&window));
        } else {
            self.demand_attention(&window);
        }
    }
}

super::level_filtered_global!(XdgActivationV1, (), XdgActivationState, "xdg_activation_v1");
delegate_dispatch!(State: [XdgActivationV1: ()] => XdgActivationState);
delegate_dispatch!(State: [XdgActivationTokenV1: ActivationTokenData] => XdgActivationState);
