//! wl_output (every level) and xdg-output (optional, filtered per level).

use smithay::reexports::wayland_protocols::xdg::xdg_output::zv1::server::zxdg_output_manager_v1::ZxdgOutputManagerV1;
use smithay::reexports::wayland_protocols::xdg::xdg_output::zv1::server::zxdg_output_v1::ZxdgOutputV1;
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::reexports::wayland_server::{delegate_dispatch, delegate_global_dispatch};
use smithay::wayland::output::{
    OutputHandler, OutputManagerState, OutputUserData, WlOutputData, XdgOutputUserData,
};

use crate::state::State;

impl OutputHandler for State {}

delegate_global_dispatch!(State: [WlOutput: WlOutputData] => OutputManagerState);
delegate_dispatch!(State: [WlOutput: OutputUserData] => OutputManagerState);
super::level_filtered_global!(
    ZxdgOutputManagerV1,
    (),
    OutputManagerState,
    "zxdg_output_manager_v1"
);
delegate_dispatch!(State: [ZxdgOutputManagerV1: ()] => OutputManagerState);
delegate_dispatch!(State: [ZxdgOutputV1: XdgOutputUserData] => OutputManagerState);
