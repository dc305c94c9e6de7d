//! wp_presentation: feedback is collected after each rendered frame (see `render.rs`).

use smithay::delegate_presentation;

use crate::state::State;

delegate_presentation!(State);
