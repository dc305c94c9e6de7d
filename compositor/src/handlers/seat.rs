//! wl_seat: one seat per level, each visible only to its own level's clients.
//!
//! smithay's `SeatState::new_wl_seat` creates the global without a filter, and `delegate_seat!`
//! would let every client see every seat (GTK binds every seat it sees). So this file delegates
//! the seat's *objects* (wl_seat, wl_pointer, wl_keyboard, wl_touch) to smithay as usual, but
//! implements the seat *global* itself: `bind` forwards to smithay, `can_view` admits a client
//! only to the seat named after its level. A client that binds another level's seat by its
//! numeric name gets a protocol error from wayland-server (the global is invisible to it).

use std::fmt::Write as _;

use smithay::input::pointer::CursorImageStatus;
use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::reexports::wayland_server::protocol::wl_keyboard::WlKeyboard;
use smithay::reexports::wayland_server::protocol::wl_pointer::WlPointer;
use smithay::reexports::wayland_server::protocol::wl_seat::WlSeat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::protocol::wl_touch::WlTouch;
use smithay::reexports::wayland_server::{
    Client, DataInit, DisplayHandle, GlobalDispatch, New, Resource, delegate_dispatch,
};
use smithay::wayland::seat::{
    KeyboardUserData, PointerUserData, SeatGlobalData, SeatUserData, TouchUserData,
};
use smithay::wayland::selection::data_device::set_data_device_focus;
use smithay::wayland::selection::primary_selection::set_primary_focus;

use crate::state::{ClientState, State};

impl SeatHandler for State {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<State> {
        &mut self.seat_state
    }

    fn focus_changed(&mut self, seat: &Seat<Self>, focused: Option<&WlSurface>) {
        // The seat's selections are offered to the client holding its keyboard focus. The seat
        // belongs to one level and only that level's surfaces are ever given its focus.
        let dh = &self.display_handle;
        let client = focused.and_then(|s| dh.get_client(s.id()).ok());
        set_data_device_focus(dh, seat, client.clone());
        set_primary_focus(dh, seat, client);
    }

    fn cursor_image(&mut self, seat: &Seat<Self>, image: CursorImageStatus) {
        if let Some(level) = State::seat_level(seat) {
            self.levels[level.0].cursor = image;
            self.queue_redraw();
        }
    }
}

delegate_dispatch!(State: [WlSeat: SeatUserData<State>] => SeatState<State>);
delegate_dispatch!(State: [WlPointer: PointerUserData<State>] => SeatState<State>);
delegate_dispatch!(State: [WlKeyboard: KeyboardUserData<State>] => SeatState<State>);
delegate_dispatch!(State: [WlTouch: TouchUserData<State>] => SeatState<State>);

impl GlobalDispatch<WlSeat, SeatGlobalData<State>> for State {
    fn bind(
        state: &mut State,
        dh: &DisplayHandle,
        client: &Client,
        resource: New<WlSeat>,
        global_data: &SeatGlobalData<State>,
        data_init: &mut DataInit<'_, State>,
    ) {
        <SeatState<State> as GlobalDispatch<WlSeat, SeatGlobalData<State>, State>>::bind(
            state,
            dh,
            client,
            resource,
            global_data,
            data_init,
        )
    }

    fn can_view(client: Client, global_data: &SeatGlobalData<State>) -> bool {
        let Some(client_level) = client
            .get_data::<ClientState>()
            .map(|c| c.level_name.clone())
        else {
            return false;
        };
        seat_global_name(global_data).is_some_and(|seat| *seat == *client_level)
    }
}

/// The name of the seat a `SeatGlobalData` belongs to.
///
/// smithay keeps the data's fields private; its `Debug` output starts with
/// `SeatGlobalData { arc: SeatRc { name: "<name>", …`. Seat names are level names
/// (`[a-z][a-z0-9_-]*`, checked by the configuration), so they are printed without escapes.
/// Formatting stops after the first few hundred bytes, so the cost does not grow with the
/// seat's state. Unit tests pin this format; if smithay changes it, no seat is visible and the
/// in-process seat tests fail loudly.
pub fn seat_global_name(data: &SeatGlobalData<State>) -> Option<String> {
    seat_name_from_debug(data)
}

fn seat_name_from_debug(data: &dyn std::fmt::Debug) -> Option<String> {
    /// Collects at most `LIMIT` bytes, then makes the formatter stop.
    struct Prefix(String);
    const LIMIT: usize = 256;
    impl std::fmt::Write for Prefix {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let room = LIMIT.saturating_sub(self.0.len());
            let take = s
                .char_indices()
                .map(|(i, _)| i)
                .find(|&i| i >= room)
                .unwrap_or(s.len());
            self.0.push_str(&s[..take]);
            if self.0.len() >= LIMIT {
                Err(std::fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    let mut prefix = Prefix(String::new());
    let _ = write!(prefix, "{data:?}");
    let text = prefix.0;
    let start = text.find("name: \"")? + "name: \"".len();
    let len = text[start..].find('"')?;
    Some(text[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::seat_name_from_debug;

    #[derive(Debug)]
    #[allow(dead_code)]
    struct SeatRc {
        name: String,
        inner: Vec<u8>,
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct SeatGlobalData {
        arc: SeatRc,
    }

    #[test]
    fn name_is_read_from_the_debug_prefix() {
        let data = SeatGlobalData {
            arc: SeatRc {
                name: "high".into(),
                inner: vec![7; 10_000],
            },
        };
        assert_eq!(seat_name_from_debug(&data).as_deref(), Some("high"));
    }

    #[test]
    fn no_name_means_none() {
        assert_eq!(seat_name_from_debug(&vec![1, 2, 3]), None);
    }
}
