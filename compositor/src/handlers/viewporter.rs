//! wp_viewporter: cropping and scaling are applied by smithay's renderer utilities.

use smithay::delegate_viewporter;

use crate::state::State;

delegate_viewporter!(State);
