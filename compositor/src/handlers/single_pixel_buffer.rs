//! wp_single_pixel_buffer: drawn as solid colour by smithay's surface render elements.

use smithay::delegate_single_pixel_buffer;

use crate::state::State;

delegate_single_pixel_buffer!(State);
