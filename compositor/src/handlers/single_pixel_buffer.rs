//! wp_single_pixel_buffer (optional, filtered per level): drawn as solid colour by smithay's
//! surface render elements.

use smithay::reexports::wayland_protocols::wp::single_pixel_buffer::v1::server::wp_single_pixel_buffer_manager_v1::WpSinglePixelBufferManagerV1;
use smithay::reexports::wayland_server::delegate_dispatch;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::wayland::single_pixel_buffer::{SinglePixelBufferState, SinglePixelBufferUserData};

use crate::state::State;

super::level_filtered_global!(
    WpSinglePixelBufferManagerV1,
    (),
    SinglePixelBufferState,
    "wp_single_pixel_buffer_manager_v1"
);
delegate_dispatch!(State: [WpSinglePixelBufferManagerV1: ()] => SinglePixelBufferState);
delegate_dispatch!(State: [WlBuffer: SinglePixelBufferUserData] => SinglePixelBufferState);
