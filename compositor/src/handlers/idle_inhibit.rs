//! zwp_idle_inhibit_manager_v1 (optional, filtered per level): a level may hold the idle lock
//! off (a video playing) only with a surface of a window that is on screen — mapped, not
//! minimised, on an output. A hidden window's inhibitor counts for nothing, and nothing a level
//! does can unlock the screen or learn that it is locked.

use smithay::reexports::wayland_protocols::wp::idle_inhibit::zv1::server::zwp_idle_inhibit_manager_v1::ZwpIdleInhibitManagerV1;
use smithay::reexports::wayland_protocols::wp::idle_inhibit::zv1::server::zwp_idle_inhibitor_v1::ZwpIdleInhibitorV1;
use smithay::reexports::wayland_server::Resource as _;
use smithay::reexports::wayland_server::delegate_dispatch;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::idle_inhibit::inhibitor::IdleInhibitorState;
use smithay::wayland::idle_inhibit::{IdleInhibitHandler, IdleInhibitManagerState};

use crate::state::State;

super::level_filtered_global!(
    ZwpIdleInhibitManagerV1,
    (),
    IdleInhibitManagerState,
    "zwp_idle_inhibit_manager_v1"
);
delegate_dispatch!(State: [ZwpIdleInhibitManagerV1: ()] => IdleInhibitManagerState);
delegate_dispatch!(State: [ZwpIdleInhibitorV1: IdleInhibitorState] => IdleInhibitManagerState);

impl IdleInhibitHandler for State {
    fn inhibit(&mut self, surface: WlSurface) {
        self.idle_inhibitors
            .retain(|s| s.is_alive() && *s != surface);
        self.idle_inhibitors.push(surface);
    }

    fn uninhibit(&mut self, surface: WlSurface) {
        self.idle_inhibitors
            .retain(|s| s.is_alive() && *s != surface);
    }
}

impl State {
    /// Whether a window on screen holds the idle lock off.
    pub fn idle_inhibited(&mut self) -> bool {
        self.idle_inhibitors.retain(|s| s.is_alive());
        self.idle_inhibitors.iter().any(|surface| {
            let mut root = surface.clone();
            while let Some(parent) = smithay::wayland::compositor::get_parent(&root) {
                root = parent;
            }
            self.space
                .elements()
                .find(|w| w.toplevel().is_some_and(|t| *t.wl_surface() == root))
                .is_some_and(|w| !self.space.outputs_for_element(w).is_empty())
        })
    }
}
