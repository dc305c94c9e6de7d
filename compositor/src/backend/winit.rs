//! The nested backend: a window inside an existing X11 or Wayland desktop, rendered with GLES
//! through EGL (Mesa's software EGL works, e.g. under Xvfb).

use anyhow::Context as _;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::RenderElementStates;
use smithay::backend::renderer::gles::{GlesRenderbuffer, GlesRenderer};
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::backend::winit::{self, WinitEvent, WinitGraphicsBackend};
use smithay::output::Mode;
use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::winit::dpi::PhysicalSize;
use smithay::reexports::winit::window::Window as WinitWindow;
use smithay::utils::{Physical, Rectangle, Size, Transform};

use super::{Backend, Capture};
use crate::render::{BACKGROUND, Scene, output_elements};
use crate::state::State;

/// Nested rendering state.
pub struct WinitBackend {
    backend: WinitGraphicsBackend<GlesRenderer>,
    damage_tracker: OutputDamageTracker,
    /// Draw everything on the next frame (after a resize or an expose).
    full_redraw: bool,
}

impl WinitBackend {
    /// Opens the window (`size` pixels) and adds its event source to the loop; events are
    /// turned into [`Input`](crate::input::Input) and resizes.
    pub fn new(
        loop_handle: &LoopHandle<'static, State>,
        size: Size<i32, Physical>,
    ) -> anyhow::Result<(WinitBackend, Size<i32, Physical>)> {
        let attributes = WinitWindow::default_attributes()
            .with_inner_size(PhysicalSize::new(size.w as u32, size.h as u32))
            .with_title("Cloison")
            .with_visible(true);
        let (backend, event_loop) = winit::init_from_attributes::<GlesRenderer>(attributes)
            .map_err(|e| anyhow::anyhow!("cannot open a nested window: {e}"))?;
        // A window larger than the display it opens on (the default 1920x1080 on a laptop's
        // screen) is made to fit it, with a margin for the desktop's own panels; the output
        // follows when the resize arrives.
        if let Some(monitor) = backend.window().current_monitor() {
            let screen = monitor.size();
            let fit = |want: i32, have: u32| {
                let room = (have as f64 * 0.9) as i32;
                if room > 0 && want > room { room } else { want }
            };
            let (w, h) = (fit(size.w, screen.width), fit(size.h, screen.height));
            if (w, h) != (size.w, size.h) {
                tracing::info!(
                    "the nested window is {w}x{h}, to fit the {}x{} display",
                    screen.width,
                    screen.height
                );
                let _ = backend
                    .window()
                    .request_inner_size(PhysicalSize::new(w as u32, h as u32));
            }
        }
        let actual = backend.window_size();
        loop_handle
            .insert_source(event_loop, |event, _, state| handle_event(state, event))
            .map_err(|e| anyhow::anyhow!("cannot watch the nested window: {e}"))?;
        let damage_tracker = OutputDamageTracker::new(actual, 1.0, Transform::Normal);
        Ok((
            WinitBackend {
                backend,
                damage_tracker,
                full_redraw: true,
            },
            actual,
        ))
    }

    /// Renders the scene's damage into the window and presents it.
    pub fn render(&mut self, scene: &Scene<'_>) -> anyhow::Result<(bool, RenderElementStates)> {
        let age = if self.full_redraw {
            0
        } else {
            self.backend.buffer_age().unwrap_or(0)
        };
        let (damage, states) = {
            let (renderer, mut framebuffer) =
                self.backend.bind().context("cannot bind the window")?;
            let elements = output_elements(renderer, scene);
            let result = self
                .damage_tracker
                .render_output(renderer, &mut framebuffer, age, &elements, BACKGROUND)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            (result.damage.cloned(), result.states)
        };
        self.full_redraw = false;
        let rendered = damage.is_some();
        if let Some(damage) = damage {
            self.backend
                .submit(Some(&damage))
                .context("cannot present the frame")?;
        }
        Ok((rendered, states))
    }

    /// Renders the scene into an offscreen buffer and reads it back.
    pub fn capture(&mut self, scene: &Scene<'_>) -> anyhow::Result<Capture> {
        let size = self.backend.window_size();
        let renderer = self.backend.renderer();
        let mut target: GlesRenderbuffer = renderer
            .create_buffer(
                Fourcc::Abgr8888,
                size.to_logical(1).to_buffer(1, Transform::Normal),
            )
            .context("cannot allocate an offscreen buffer")?;
        let elements = output_elements(renderer, scene);
        let mut framebuffer = renderer.bind(&mut target)?;
        let mut tracker = OutputDamageTracker::new(size, 1.0, Transform::Normal);
        tracker
            .render_output(renderer, &mut framebuffer, 0, &elements, BACKGROUND)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let region = Rectangle::from_size((size.w, size.h).into());
        let mapping = renderer.copy_framebuffer(&framebuffer, region, Fourcc::Abgr8888)?;
        let bytes = renderer.map_texture(&mapping)?;
        let (width, height) = (size.w as u32, size.h as u32);
        Ok(Capture {
            width,
            height,
            rgba: bytes[..(width * height * 4) as usize].to_vec(),
        })
    }
}

fn handle_event(state: &mut State, event: WinitEvent) {
    match event {
        WinitEvent::Resized { size, .. } => {
            let mode = Mode {
                size,
                refresh: 60_000,
            };
            state
                .output
                .change_current_state(Some(mode), None, None, None);
            state.output.set_preferred(mode);
            if let Backend::Winit(winit) = &mut state.backend {
                winit.damage_tracker = OutputDamageTracker::new(size, 1.0, Transform::Normal);
                winit.full_redraw = true;
            }
            state.space.map_output(&state.output.clone(), (0, 0));
            state.queue_redraw();
        }
        WinitEvent::Redraw | WinitEvent::Focus(_) => {
            if let Backend::Winit(winit) = &mut state.backend {
                winit.full_redraw = true;
            }
            state.queue_redraw();
        }
        WinitEvent::CloseRequested => {
            tracing::info!("nested window closed: ending the session");
            state.stop();
        }
        WinitEvent::Input(event) => {
            let area = state.output_geometry();
            if let Some(input) = super::convert_input(area, event) {
                state.handle_input(input);
            }
        }
    }
}
