//! zwp_relative_pointer_manager_v1 (optional, filtered per level): relative motion goes to the
//! surface of the level's own seat that has the pointer, like absolute motion. Pointer
//! constraints are not offered, so a level can never keep the pointer from the bar or from
//! other levels' windows.

use smithay::reexports::wayland_protocols::wp::relative_pointer::zv1::server::zwp_relative_pointer_manager_v1::ZwpRelativePointerManagerV1;
use smithay::reexports::wayland_protocols::wp::relative_pointer::zv1::server::zwp_relative_pointer_v1::ZwpRelativePointerV1;
use smithay::reexports::wayland_server::delegate_dispatch;
use smithay::wayland::relative_pointer::{RelativePointerManagerState, RelativePointerUserData};

use crate::state::State;

super::level_filtered_global!(
    ZwpRelativePointerManagerV1,
    (),
    RelativePointerManagerState,
    "zwp_relative_pointer_manager_v1"
);
delegate_dispatch!(State: [ZwpRelativePointerManagerV1: ()] => RelativePointerManagerState);
delegate_dispatch!(State: [ZwpRelativePointerV1: RelativePointerUserData<State>] => RelativePointerManagerState);
