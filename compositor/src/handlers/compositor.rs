//! wl_compositor and wl_subcompositor: surface commits drive mapping, popups and redraws.

use smithay::backend::renderer::utils::on_commit_buffer_handler;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_callback::WlCallback;
use smithay::reexports::wayland_server::protocol::wl_compositor::WlCompositor;
use smithay::reexports::wayland_server::protocol::wl_region::WlRegion;
use smithay::reexports::wayland_server::protocol::wl_subcompositor::WlSubcompositor;
use smithay::reexports::wayland_server::protocol::wl_subsurface::WlSubsurface;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, delegate_dispatch, delegate_global_dispatch};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{
    CompositorClientState, CompositorHandler, CompositorState, RegionUserData, SubsurfaceUserData,
    SurfaceUserData, get_parent, is_sync_subsurface,
};

use crate::state::{ClientState, State};

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor_state
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        match client.get_data::<ClientState>() {
            Some(data) => &data.compositor_state,
            // Every client is inserted with a ClientState (sockets.rs, tests); a client without
            // one would be a bug, and this is the only safe answer.
            None => {
                tracing::error!("client without ClientState");
                static FALLBACK: std::sync::OnceLock<CompositorClientState> =
                    std::sync::OnceLock::new();
                FALLBACK.get_or_init(CompositorClientState::default)
            }
        }
    }

    fn destroyed(&mut self, surface: &WlSurface) {
        // A touch point on it is lifted (its client still hears of it).
        self.release_touches_at(surface);
    }

    fn commit(&mut self, surface: &WlSurface) {
        on_commit_buffer_handler::<Self>(surface);
        if !is_sync_subsurface(surface) {
            let mut root = surface.clone();
            while let Some(parent) = get_parent(&root) {
                root = parent;
            }
            if let Some(window) = self.window_for_surface(&root) {
                window.on_commit();
            }
            self.toplevel_commit(&root);
        }
        self.popup_commit(surface);
        // A surface that grew, moved (a subsurface) or appeared under the pointer: the client
        // learns it with this commit, not a frame later.
        self.refresh_pointer_focus();
        self.queue_redraw();
    }
}
delegate_global_dispatch!(State: [WlCompositor: ()] => CompositorState);
delegate_dispatch!(State: [WlCompositor: ()] => CompositorState);
delegate_dispatch!(State: [WlSurface: SurfaceUserData] => CompositorState);
delegate_dispatch!(State: [WlRegion: RegionUserData] => CompositorState);
delegate_dispatch!(State: [WlCallback: ()] => CompositorState);
super::level_filtered_global!(WlSubcompositor, (), CompositorState, "wl_subcompositor");
delegate_dispatch!(State: [WlSubcompositor: ()] => CompositorState);
delegate_dispatch!(State: [WlSubsurface: SubsurfaceUserData] => CompositorState);

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}
