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

/// Implements `Dispatch<$iface, $udata>` for `State` through smithay's `$smithay`, with each
/// request passed first through `$guard` (`fn(&mut State, &Client, &$iface, Request) ->
/// Option<Request>`): it bounds what the client sent ([`crate::limits`]), or answers `None`
/// after a protocol error (the request goes no further). `$gone` (`fn(&mut State, &ClientId,
/// &$iface, &$udata)`) hears of each destroyed object before smithay does.
macro_rules! guarded_dispatch {
    ($iface:ty, $udata:ty, $smithay:ty, $guard:expr, $gone:expr) => {
        impl smithay::reexports::wayland_server::Dispatch<$iface, $udata> for crate::state::State {
            fn request(
                state: &mut crate::state::State,
                client: &smithay::reexports::wayland_server::Client,
                resource: &$iface,
                request: <$iface as smithay::reexports::wayland_server::Resource>::Request,
                data: &$udata,
                dh: &smithay::reexports::wayland_server::DisplayHandle,
                data_init: &mut smithay::reexports::wayland_server::DataInit<
                    '_,
                    crate::state::State,
                >,
            ) {
                let guard: fn(
                    &mut crate::state::State,
                    &smithay::reexports::wayland_server::Client,
                    &$iface,
                    <$iface as smithay::reexports::wayland_server::Resource>::Request,
                ) -> Option<
                    <$iface as smithay::reexports::wayland_server::Resource>::Request,
                > = $guard;
                if let Some(request) = guard(state, client, resource, request) {
                    <$smithay as smithay::reexports::wayland_server::Dispatch<
                        $iface,
                        $udata,
                        crate::state::State,
                    >>::request(state, client, resource, request, data, dh, data_init)
                }
            }

            fn destroyed(
                state: &mut crate::state::State,
                client: smithay::reexports::wayland_server::backend::ClientId,
                resource: &$iface,
                data: &$udata,
            ) {
                let gone: fn(
                    &mut crate::state::State,
                    &smithay::reexports::wayland_server::backend::ClientId,
                    &$iface,
                    &$udata,
                ) = $gone;
                gone(state, &client, resource, data);
                <$smithay as smithay::reexports::wayland_server::Dispatch<
                    $iface,
                    $udata,
                    crate::state::State,
                >>::destroyed(state, client, resource, data)
            }
        }
    };
}
pub(crate) use guarded_dispatch;

pub mod compositor;
pub mod cursor_shape;
pub mod data_device;
pub mod fractional_scale;
pub mod idle_inhibit;
pub mod kde_decoration;
pub mod output;
pub mod pointer_constraints;
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
