//! wl_data_device_manager (optional, filtered per level). Selections live per seat, and each level has its own seat, so a
//! level's clipboard is only ever offered to that level's clients.

use smithay::reexports::wayland_server::Resource as _;
use smithay::reexports::wayland_server::delegate_dispatch;
use smithay::reexports::wayland_server::protocol::wl_data_device::WlDataDevice;
use smithay::reexports::wayland_server::protocol::wl_data_device_manager::WlDataDeviceManager;
use smithay::reexports::wayland_server::protocol::wl_data_source::{self, WlDataSource};
use smithay::wayland::selection::data_device::{
    ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, DataDeviceUserData,
    DataSourceUserData, ServerDndGrabHandler,
};
use smithay::wayland::selection::{SelectionHandler, SelectionSource, SelectionTarget};

use crate::state::State;

impl SelectionHandler for State {
    /// The paste (gesture id) whose content the compositor serves.
    type SelectionUserData = u64;

    fn new_selection(
        &mut self,
        ty: SelectionTarget,
        source: Option<SelectionSource>,
        seat: smithay::input::Seat<Self>,
    ) {
        if let Some(level) = self.levels.iter().position(|l| l.seat == seat) {
            let types = source.map(|s| s.mime_types());
            self.selection_changed(crate::state::LevelId(level), ty, types);
        }
    }

    fn send_selection(
        &mut self,
        _ty: SelectionTarget,
        _mime_type: String,
        fd: std::os::fd::OwnedFd,
        seat: smithay::input::Seat<Self>,
        user_data: &u64,
    ) {
        if let Some(level) = self.levels.iter().position(|l| l.seat == seat) {
            self.serve_selection(crate::state::LevelId(level), *user_data, fd);
        }
    }
}

impl DataDeviceHandler for State {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.data_device_state
    }
}

impl ClientDndGrabHandler for State {
    fn started(
        &mut self,
        _source: Option<WlDataSource>,
        icon: Option<smithay::reexports::wayland_server::protocol::wl_surface::WlSurface>,
        _seat: smithay::input::Seat<Self>,
    ) {
        // Drawn at the pointer, below the bar, only if small (see render.rs).
        self.dnd_icon = icon;
    }

    fn dropped(
        &mut self,
        _target: Option<smithay::reexports::wayland_server::protocol::wl_surface::WlSurface>,
        _validated: bool,
        _seat: smithay::input::Seat<Self>,
    ) {
        self.dnd_icon = None;
        self.queue_redraw();
    }
}
impl ServerDndGrabHandler for State {}

super::level_filtered_global!(
    WlDataDeviceManager,
    (),
    DataDeviceState,
    "wl_data_device_manager"
);
delegate_dispatch!(State: [WlDataDeviceManager: ()] => DataDeviceState);
delegate_dispatch!(State: [WlDataDevice: DataDeviceUserData] => DataDeviceState);
super::guarded_dispatch!(
    WlDataSource,
    DataSourceUserData,
    DataDeviceState,
    |state, client, source, request| match request {
        wl_data_source::Request::Offer { .. } if !state.count_mime_type(client, source.id()) => {
            None
        }
        request => Some(request),
    },
    |state, _, source, _| state.forget_source(&source.id())
);
