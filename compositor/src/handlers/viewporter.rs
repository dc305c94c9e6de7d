//! wp_viewporter (optional, filtered per level): cropping and scaling are applied by smithay's
//! renderer utilities, and clipped to the window by the compositor like any surface content.

use smithay::reexports::wayland_protocols::wp::viewporter::server::wp_viewport::WpViewport;
use smithay::reexports::wayland_protocols::wp::viewporter::server::wp_viewporter::WpViewporter;
use smithay::reexports::wayland_server::delegate_dispatch;
use smithay::wayland::viewporter::{ViewportState, ViewporterState};

use crate::state::State;

super::level_filtered_global!(WpViewporter, (), ViewporterState, "wp_viewporter");
delegate_dispatch!(State: [WpViewporter: ()] => ViewporterState);
delegate_dispatch!(State: [WpViewport: ViewportState] => ViewportState);
