//! wp_viewporter (optional, filtered per level): cropping and scaling are applied by smithay's
//! renderer utilities, and clipped to the window by the compositor like any surface content.

use smithay::reexports::wayland_protocols::wp::viewporter::server::wp_viewport::{
    self, WpViewport,
};
use smithay::reexports::wayland_protocols::wp::viewporter::server::wp_viewporter::WpViewporter;
use smithay::reexports::wayland_server::delegate_dispatch;
use smithay::wayland::viewporter::{ViewportState, ViewporterState};

use crate::state::State;

super::level_filtered_global!(WpViewporter, (), ViewporterState, "wp_viewporter");
delegate_dispatch!(State: [WpViewporter: ()] => ViewporterState);
// A destination larger than anything drawn is clamped (a 1x1 buffer stretched to 30000000x1
// is a 16384x1 surface): crate::limits.
super::guarded_dispatch!(
    WpViewport,
    ViewportState,
    ViewportState,
    |_, _, _, request| Some(match request {
        wp_viewport::Request::SetDestination { width, height } => {
            wp_viewport::Request::SetDestination {
                width: crate::limits::extent(width),
                height: crate::limits::extent(height),
            }
        }
        other => other,
    }),
    |_, _, _, _| {}
);
