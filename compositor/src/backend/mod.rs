//! Backends: where pixels go and where real input comes from.
//!
//! A plain enum with `match` delegation (as niri and cosmic-comp do) rather than a state
//! generic over the backend: the rest of the compositor stays monomorphic, and tests and the
//! WLCS plugin build the same `State` with the headless backend.

use smithay::backend::input::{
    AbsolutePositionEvent, Axis, ButtonState, Event, InputBackend, InputEvent, KeyState,
    KeyboardKeyEvent, PointerAxisEvent, PointerButtonEvent, PointerMotionEvent, TouchEvent,
    TouchSlot,
};
use smithay::backend::renderer::element::RenderElementStates;
use smithay::utils::{Logical, Point, Rectangle};

use crate::input::Input;
use smithay::output::Output;

use crate::state::State;

#[cfg(feature = "drm")]
pub mod drm;
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
    /// Real displays (KMS) and input devices (libinput) through a libseat session.
    #[cfg(feature = "drm")]
    Drm(drm::DrmBackend),
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
            #[cfg(feature = "drm")]
            Backend::Drm(_) => "drm",
        }
    }

    /// The renderer that draws `output`: `pixman` or `gles`.
    pub fn renderer_of(&self, output: &Output) -> &'static str {
        match self {
            Backend::Headless(_) => {
                let _ = output;
                "pixman"
            }
            #[cfg(feature = "winit")]
            Backend::Winit(_) => "gles",
            #[cfg(feature = "drm")]
            Backend::Drm(drm) => drm.renderer_of(output),
        }
    }
}

/// Renders the current scene on `output`. Returns whether anything was drawn, and the
/// element states (visibility) for frame-callback and presentation bookkeeping; `None` if
/// nothing was rendered now (rendering failed, or the output is still busy showing its last
/// frame: the backend asks for a redraw once it is free).
pub fn render(state: &mut State, output: &Output) -> Option<(bool, RenderElementStates)> {
    let cursor = state.cursor_to_draw();
    let scene = crate::scene!(state, cursor, output);
    let result = match &mut state.backend {
        // One offscreen image: the primary output's (tests may lay out more outputs).
        Backend::Headless(_) if !scene.primary => return None,
        Backend::Headless(headless) => headless.render(&scene),
        #[cfg(feature = "winit")]
        Backend::Winit(winit) => winit.render(&scene),
        #[cfg(feature = "drm")]
        Backend::Drm(drm) => match drm.render(output, &scene) {
            Ok(None) => {
                // Busy: drawn when its page flip completes.
                return None;
            }
            Ok(Some(outcome)) => Ok(outcome),
            Err(err) => Err(err),
        },
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
            let scene = crate::scene!(state, None, &state.output);
            winit.capture(&scene)
        }
        #[cfg(feature = "drm")]
        Backend::Drm(_) => {
            // The primary output, drawn again offscreen: what its last page flip showed.
            let mut scene = crate::scene!(state, None, &state.output);
            // At scale 1 whatever the display's: one pixel per logical pixel.
            scene.scale = 1;
            let size = scene.output_size.to_physical(1);
            let mut offscreen = headless::Headless::new(size)?;
            offscreen.render(&scene)?;
            offscreen.capture()
        }
    }
}

/// Turns a backend's input event into an [`Input`]; absolute positions (tablets, touch
/// screens, the nested window's pointer) are mapped onto `area` (global coordinates).
pub fn convert_input<B: InputBackend>(
    area: Rectangle<i32, Logical>,
    event: InputEvent<B>,
) -> Option<Input> {
    let place = |pos: Point<f64, Logical>| pos + area.loc.to_f64();
    Some(match event {
        InputEvent::Keyboard { event } => Input::Key {
            keycode: event.key_code().raw(),
            pressed: event.state() == KeyState::Pressed,
            time: event.time_msec(),
        },
        InputEvent::PointerMotion { event } => Input::PointerMotionRelative {
            delta: event.delta(),
            unaccelerated: event.delta_unaccel(),
            utime: event.time(),
        },
        InputEvent::PointerMotionAbsolute { event } => Input::PointerMotion {
            pos: place(event.position_transformed(area.size)),
            time: event.time_msec(),
        },
        InputEvent::PointerButton { event } => Input::PointerButton {
            button: event.button_code(),
            pressed: event.state() == ButtonState::Pressed,
            time: event.time_msec(),
        },
        InputEvent::PointerAxis { event } => {
            let amount = |axis| {
                event
                    .amount(axis)
                    .unwrap_or_else(|| event.amount_v120(axis).unwrap_or(0.0) * 15.0 / 120.0)
            };
            let v120 = match (
                event.amount_v120(Axis::Horizontal),
                event.amount_v120(Axis::Vertical),
            ) {
                (None, None) => None,
                (h, v) => Some((h.unwrap_or(0.0), v.unwrap_or(0.0))),
            };
            Input::PointerAxis {
                horizontal: amount(Axis::Horizontal),
                vertical: amount(Axis::Vertical),
                v120,
                source: event.source(),
                time: event.time_msec(),
            }
        }
        InputEvent::TouchDown { event } => Input::TouchDown {
            slot: slot(event.slot()),
            pos: place(event.position_transformed(area.size)),
            time: event.time_msec(),
        },
        InputEvent::TouchMotion { event } => Input::TouchMotion {
            slot: slot(event.slot()),
            pos: place(event.position_transformed(area.size)),
            time: event.time_msec(),
        },
        InputEvent::TouchUp { event } => Input::TouchUp {
            slot: slot(event.slot()),
            time: event.time_msec(),
        },
        InputEvent::TouchCancel { .. } => Input::TouchCancel,
        _ => return None,
    })
}

fn slot(slot: TouchSlot) -> u32 {
    i32::from(slot).max(0) as u32
}

/// Switches to virtual terminal `vt` (Ctrl+Alt+F`vt`), where the backend owns a seat.
pub fn switch_vt(state: &mut State, vt: i32) -> bool {
    match &mut state.backend {
        #[cfg(feature = "drm")]
        Backend::Drm(drm) => {
            drm.switch_vt(vt);
            true
        }
        _ => {
            let _ = vt;
            false
        }
    }
}
