//! wp_presentation (optional, filtered per level): feedback is collected after each rendered
//! frame (see `render.rs`).

use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation::WpPresentation;
use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback::WpPresentationFeedback;
use smithay::reexports::wayland_server::delegate_dispatch;
use smithay::wayland::presentation::{PresentationFeedbackState, PresentationState};

use crate::state::State;

super::level_filtered_global!(WpPresentation, u32, PresentationState, "wp_presentation");
delegate_dispatch!(State: [WpPresentation: u32] => PresentationState);
delegate_dispatch!(State: [WpPresentationFeedback: ()] => PresentationFeedbackState);
