//! Primary selection (middle-click paste), per seat and therefore per level.

use smithay::reexports::wayland_protocols::wp::primary_selection::zv1::server::{
    zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1,
    zwp_primary_selection_device_v1::ZwpPrimarySelectionDeviceV1,
    zwp_primary_selection_source_v1::{self, ZwpPrimarySelectionSourceV1},
};
use smithay::reexports::wayland_server::{
    Resource as _, delegate_dispatch, delegate_global_dispatch,
};
use smithay::wayland::selection::primary_selection::{
    PrimaryDeviceManagerGlobalData, PrimaryDeviceUserData, PrimarySelectionHandler,
    PrimarySelectionState, PrimarySourceUserData,
};

use crate::state::State;

impl PrimarySelectionHandler for State {
    fn primary_selection_state(&self) -> &PrimarySelectionState {
        &self.primary_selection_state
    }
}
// smithay's delegate_primary_selection!, with the source's offers counted (crate::limits).
delegate_global_dispatch!(State: [ZwpPrimarySelectionDeviceManagerV1: PrimaryDeviceManagerGlobalData] => PrimarySelectionState);
delegate_dispatch!(State: [ZwpPrimarySelectionDeviceManagerV1: ()] => PrimarySelectionState);
delegate_dispatch!(State: [ZwpPrimarySelectionDeviceV1: PrimaryDeviceUserData] => PrimarySelectionState);
super::guarded_dispatch!(
    ZwpPrimarySelectionSourceV1,
    PrimarySourceUserData,
    PrimarySelectionState,
    |state, client, source, request| match request {
        zwp_primary_selection_source_v1::Request::Offer { .. }
            if !state.count_mime_type(client, source.id()) =>
        {
            None
        }
        request => Some(request),
    },
    |state, _, source, _| state.forget_source(&source.id())
);
