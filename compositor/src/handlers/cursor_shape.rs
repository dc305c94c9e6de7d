//! wp_cursor_shape: a client asks for a named cursor on its own level's seat; the request
//! arrives through `SeatHandler::cursor_image` like a cursor surface.

use smithay::delegate_cursor_shape;
use smithay::wayland::tablet_manager::TabletSeatHandler;

use crate::state::State;

/// Required by the cursor-shape protocol's tablet support; no tablet global is offered.
impl TabletSeatHandler for State {}

delegate_cursor_shape!(State);
