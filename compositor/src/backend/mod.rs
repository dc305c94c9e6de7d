//! Backends: where pixels go and where real input comes from.
//!
//! A plain enum with `match` delegation (as niri and cosmic-comp do) rather than a state
//! generic over the backend: the rest of the compositor stays monomorphic, and tests and the
//! WLCS plugin build the same `State` with the headless backend.

use smithay::backend::renderer::element::RenderElementStates;

use crate::state::State;

pub mod headless;
#[cfg(feature = "winit")]
pub mod winit;

/// The backend in use.
// One per process, never moved after start: the size difference between variants is moot.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    /// Offscreen pixman rendering; no real input (tests, CI, machines without a display).
    Headless(headless::Headless),
    /// A window inside an existing X11 or Wayland desktop, rendered with GLES.
    #[cfg(feature = "winit")]
    Winit(winit::WinitBackend),
}

/// An RGBA8 image of the output.
pub struct Capture {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Rows of RGBA bytes, top to bottom.
    pub rgba: Vec<u8>,
}

impl Backend {
    /// Short name, as reported by `ctl status`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Headless(_) => "headless",
            #[cfg(feature = "winit")]
            Backend::Winit(_) => "winit",
        }
    }
}

/// Renders the current scene. Returns whether anything was drawn, and the element states
/// (visibility) for frame-callback and presentation bookkeeping; `None` if rendering failed.
pub fn render(state: &mut State) -> Option<(bool, RenderElementStates)> {
    let cursor = state.cursor_to_draw();
    let scene = crate::scene!(state, cursor);
    let result = match &mut state.backend {
        Backend::Headless(headless) => headless.render(&scene),
        #[cfg(feature = "winit")]
        Backend::Winit(winit) => winit.render(&scene),
    };
    match result {
        Ok(outcome) => Some(outcome),
        Err(err) => {
            tracing::error!("rendering failed: {err:#}");
            None
        }
    }
}

/// Takes a pixel-exact capture of the output as composited now.
pub fn capture(state: &mut State) -> anyhow::Result<Capture> {
    // Bring the output up to date first (this also delivers the frame to clients).
    state.redraw();
    match &mut state.backend {
        Backend::Headless(headless) => headless.capture(),
        #[cfg(feature = "winit")]
        Backend::Winit(winit) => {
            let scene = crate::scene!(state, None);
            winit.capture(&scene)
        }
    }
}
