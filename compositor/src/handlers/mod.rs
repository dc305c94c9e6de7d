//! One file per Wayland protocol: the smithay handler trait for [`State`](crate::State) and its
//! `delegate_*!` right below it.
//!
//! Every global created here is part of the safe set offered to levels (see
//! docs/ARCHITECTURE.md). Privileged protocols (screen capture, data control, virtual input,
//! layer shell, session lock, foreign toplevel, output management, input methods…) are never
//! created, so no level can bind them.
//!
//! The optional globals (`cloison_config::OPTIONAL_GLOBALS`) are filtered per level: each is
//! visible only to clients whose level's `[level.protocols] globals` lists it. Where smithay
//! has no filter for a global, the file implements the global's `GlobalDispatch` itself with
//! [`level_filtered_global!`] (bind forwards to smithay; `can_view` asks the client's level),
//! and delegates the protocol's objects as usual. A client that binds a global it cannot see
//! is disconnected with a protocol error by wayland-server.

use smithay::reexports::wayland_server::Client;

use crate::state::ClientState;

/// Whether `client`'s level is offered the optional global `interface`.
pub fn level_offers(client: &Client, interface: &str) -> bool {
    client
        .get_data::<ClientState>()
        .is_some_and(|c| c.offers(interface))
}

/// Implements `GlobalDispatch<$iface, $gdata>` for `State`: binding is smithay's (`$state`),
/// visibility is the client's level's allow-list entry `$name`.
macro_rules! level_filtered_global {
    ($iface:ty, $gdata:ty, $state:ty, $name:literal) => {
        impl smithay::reexports::wayland_server::GlobalDispatch<$iface, $gdata>
            for crate::state::State
        {
            fn bind(
                state: &mut crate::state::State,
                dh: &smithay::reexports::wayland_server::DisplayHandle,
                client: &smithay::reexports::wayland_server::Client,
                resource: smithay::reexports::wayland_server::New<$iface>,
                global_data: &$gdata,
                data_init: &mut smithay::reexports::wayland_server::DataInit<
                    '_,
                    crate::state::State,
                >,
            ) {
                <$state as smithay::reexports::wayland_server::GlobalDispatch<
                    $iface,
                    $gdata,
                    crate::state::State,
                >>::bind(state, dh, client, resource, global_data, data_init)
            }

            fn can_view(client: smithay::reexports::wayland_server::Client, _: &$gdata) -> bool {
                crate::handlers::level_offers(&client, $name)
            }
        }
    };
}
pub(crate) use level_filtered_global;

pub mod compositor;
pub mod cursor_shape;
pub mod data_device;
pub mod fractional_scale;
pub mod output;
pub mod presentation;
pub mod primary_selection;
pub mod relative_pointer;
pub mod seat;
pub mod shm;
pub mod single_pixel_buffer;
pub mod viewporter;
pub mod xdg_activation;
pub mod xdg_decoration;
pub mod xdg_shell;
