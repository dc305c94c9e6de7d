//! Which Wayland globals a level is offered: the core ones always, optional ones by
//! configuration, and the ones never offered to a level.

use super::*;

/// Globals every level gets: without them no client can show a window.
pub const CORE_GLOBALS: [&str; 5] = [
    "wl_compositor",
    "wl_shm",
    "xdg_wm_base",
    "wl_seat",
    "wl_output",
];

/// Globals a level may be offered (all of them by default); `[level.protocols] globals`
/// narrows the list.
pub const OPTIONAL_GLOBALS: [&str; 15] = [
    "wl_subcompositor",
    "zxdg_output_manager_v1",
    "zxdg_decoration_manager_v1",
    "org_kde_kwin_server_decoration_manager",
    "wl_data_device_manager",
    "zwp_primary_selection_device_manager_v1",
    "wp_viewporter",
    "wp_presentation",
    "wp_fractional_scale_manager_v1",
    "wp_cursor_shape_manager_v1",
    "wp_single_pixel_buffer_manager_v1",
    "xdg_activation_v1",
    "zwp_relative_pointer_manager_v1",
    "zwp_pointer_constraints_v1",
    "zwp_idle_inhibit_manager_v1",
];

/// Protocols that are never offered to a level, whatever the configuration says: they would
/// let a level see, capture or drive what belongs to another (or to trusted UI).
pub const NEVER_OFFERED: [&str; 21] = [
    "zwlr_screencopy_manager_v1",
    "ext_image_copy_capture_manager_v1",
    "ext_output_image_capture_source_manager_v1",
    "zwlr_data_control_manager_v1",
    "ext_data_control_manager_v1",
    "zwp_virtual_keyboard_manager_v1",
    "zwlr_virtual_pointer_manager_v1",
    "zwlr_layer_shell_v1",
    "ext_session_lock_manager_v1",
    "ext_idle_notifier_v1",
    "ext_foreign_toplevel_list_v1",
    "zwlr_foreign_toplevel_manager_v1",
    "zwlr_output_manager_v1",
    "zwlr_gamma_control_manager_v1",
    "zwp_input_method_manager_v2",
    "zwp_text_input_manager_v3",
    "zwp_keyboard_shortcuts_inhibit_manager_v1",
    "wp_security_context_manager_v1",
    "zwlr_export_dmabuf_manager_v1",
    "wp_drm_lease_device_v1",
    "zxdg_exporter_v2",
];

/// Per-level protocol policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// Whether clients may make their windows fullscreen themselves.
    pub fullscreen: bool,
    /// The optional globals offered to the level (see [`OPTIONAL_GLOBALS`]); the
    /// [`CORE_GLOBALS`] are always offered.
    pub globals: Vec<String>,
}

impl Default for Protocols {
    fn default() -> Self {
        Self {
            fullscreen: true,
            globals: OPTIONAL_GLOBALS.iter().map(|g| g.to_string()).collect(),
        }
    }
}

impl Protocols {
    /// Whether the level is offered the global with this interface name.
    pub fn offers(&self, interface: &str) -> bool {
        CORE_GLOBALS.contains(&interface) || self.globals.iter().any(|g| g == interface)
    }
}
