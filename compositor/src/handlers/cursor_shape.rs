//! wp_cursor_shape (optional, filtered per level): a client asks for a named cursor on its own
//! level's seat; the request arrives through `SeatHandler::cursor_image` like a cursor surface.

use smithay::reexports::wayland_protocols::wp::cursor_shape::v1::server::wp_cursor_shape_device_v1::WpCursorShapeDeviceV1;
use smithay::reexports::wayland_protocols::wp::cursor_shape::v1::server::wp_cursor_shape_manager_v1::WpCursorShapeManagerV1;
use smithay::reexports::wayland_server::delegate_dispatch;
use smithay::wayland::cursor_shape::{CursorShapeDeviceUserData, CursorShapeManagerState};
use smithay::wayland::tablet_manager::TabletSeatHandler;

use crate::state::State;

/// Required by the cursor-shape protocol's tablet support; no tablet global is offered.
impl TabletSeatHandler for State {}

super::level_filtered_global!(
    WpCursorShapeManagerV1,
    (),
    CursorShapeManagerState,
    "wp_cursor_shape_manager_v1"
);
delegate_dispatch!(State: [WpCursorShapeManagerV1: ()] => CursorShapeManagerState);
delegate_dispatch!(State: [WpCursorShapeDeviceV1: CursorShapeDeviceUserData<State>] => CursorShapeManagerState);
