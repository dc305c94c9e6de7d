//! What is drawn, in which order, and when.
//!
//! [`output_elements`] lists the scene front to back (cursor, then windows from the top, each
//! window's popups above its surface tree). It is generic over the renderer so the headless
//! (pixman) and nested (GLES) backends draw exactly the same thing.
//!
//! [`FrameClock`] paces redraws at the output's refresh rate and only when something asked
//! for one (a commit, input, a window change): an idle desktop runs no timer at all. After
//! each redraw, frame callbacks go only to surfaces that were actually visible on the output
//! (smithay's primary-scanout-output tracking), and presentation feedback is sent.

use std::time::{Duration, Instant};

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::solid::SolidColorRenderElement;
use smithay::backend::renderer::element::surface::{
    WaylandSurfaceRenderElement, render_elements_from_surface_tree,
};
use smithay::backend::renderer::element::{
    Kind, RenderElementStates, default_primary_scanout_output_compare, render_elements,
};
use smithay::backend::renderer::{ImportAll, ImportMem, Renderer};
use smithay::desktop::utils::{
    OutputPresentationFeedback, surface_presentation_feedback_flags_from_states,
    surface_primary_scanout_output, update_surface_primary_scanout_output,
    with_surfaces_surface_tree,
};
use smithay::desktop::{PopupManager, Space, Window};
use smithay::input::pointer::{CursorImageStatus, CursorImageSurfaceData};
use smithay::output::Output;
use std::rc::Rc;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};
use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{IsAlive, Logical, Point, Scale, Transform};
use smithay::wayland::compositor::with_states;

use crate::state::State;

render_elements! {
    /// Everything the compositor draws.
    pub OutputRenderElement<R> where R: ImportAll + ImportMem;
    /// Client surfaces.
    Surface = WaylandSurfaceRenderElement<R>,
    /// Solid rectangles (trusted UI).
    Solid = SolidColorRenderElement,
    /// Compositor-drawn images (the default cursor, trusted UI text).
    Memory = MemoryRenderBufferRenderElement<R>,
}

/// Background colour behind all windows.
pub const BACKGROUND: [f32; 4] = [0.11, 0.12, 0.14, 1.0];

/// The parts of the state the scene is built from.
pub struct Scene<'a> {
    /// Windows.
    pub space: &'a Space<Window>,
    /// The cursor to draw and where, if the pointer is on the output.
    pub cursor: Option<(CursorImageStatus, Point<f64, Logical>)>,
    /// Image of the default cursor.
    pub default_cursor: &'a MemoryRenderBuffer,
}

impl State {
    /// The scene as of now.
    pub fn scene(&self) -> Scene<'_> {
        Scene {
            space: &self.space,
            cursor: self.cursor_to_draw(),
            default_cursor: &self.frame_clock.default_cursor,
        }
    }

    /// The cursor image and position, if the pointer is on the output: the image the client
    /// under the pointer asked for (on its level's seat), else the default arrow.
    pub fn cursor_to_draw(&self) -> Option<(CursorImageStatus, Point<f64, Logical>)> {
        self.input.pointer_seen.then(|| {
            let status = match self.input.pointer_level {
                Some(level) => self.levels[level.0].cursor.clone(),
                None => CursorImageStatus::default_named(),
            };
            (status, self.input.pointer)
        })
    }
}

/// Builds the render elements of `scene`, front to back.
pub fn output_elements<R>(renderer: &mut R, scene: &Scene<'_>) -> Vec<OutputRenderElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Send + Clone + 'static,
{
    let scale = Scale::from(1.0);
    let mut elements: Vec<OutputRenderElement<R>> = Vec::new();

    if let Some((status, pos)) = &scene.cursor {
        let pos = *pos;
        match status {
            CursorImageStatus::Hidden => {}
            CursorImageStatus::Surface(surface) if surface.alive() => {
                let hotspot = with_states(surface, |states| {
                    states
                        .data_map
                        .get::<CursorImageSurfaceData>()
                        .and_then(|d| d.lock().ok().map(|d| d.hotspot))
                        .unwrap_or_default()
                });
                let loc = (pos - hotspot.to_f64()).to_physical(scale).to_i32_round();
                elements.extend(render_elements_from_surface_tree(
                    renderer,
                    surface,
                    loc,
                    scale,
                    1.0,
                    Kind::Cursor,
                ));
            }
            _ => {
                let loc = pos.to_physical(scale);
                match MemoryRenderBufferRenderElement::from_buffer(
                    renderer,
                    loc,
                    scene.default_cursor,
                    None,
                    None,
                    None,
                    Kind::Cursor,
                ) {
                    Ok(element) => elements.push(OutputRenderElement::Memory(element)),
                    Err(err) => tracing::warn!("cannot draw the cursor: {err:?}"),
                }
            }
        }
    }

    for window in scene.space.elements().rev() {
        let Some(loc) = scene.space.element_location(window) else {
            continue;
        };
        let Some(toplevel) = window.toplevel() else {
            continue;
        };
        let surface = toplevel.wl_surface();
        let render_loc = loc - window.geometry().loc;
        for (popup, offset) in PopupManager::popups_for_surface(surface) {
            let popup_loc = render_loc + window.geometry().loc + offset - popup.geometry().loc;
            elements.extend(
                render_elements_from_surface_tree(
                    renderer,
                    popup.wl_surface(),
                    popup_loc.to_physical_precise_round(scale),
                    scale,
                    1.0,
                    Kind::Unspecified,
                )
                .into_iter()
                .map(OutputRenderElement::Surface),
            );
        }
        elements.extend(
            render_elements_from_surface_tree(
                renderer,
                surface,
                render_loc.to_physical_precise_round(scale),
                scale,
                1.0,
                Kind::Unspecified,
            )
            .into_iter()
            .map(OutputRenderElement::Surface),
        );
    }
    elements
}

/// Redraw pacing: one persistent timerfd, armed only when a redraw is wanted.
pub struct FrameClock {
    /// Time between frames.
    pub refresh: Duration,
    /// The timer; shared with its event source.
    timer: Rc<TimerFd>,
    /// A redraw is pending.
    scheduled: bool,
    /// When the last frame started (on the refresh grid while frames follow each other).
    last_frame: Option<Instant>,
    /// Frames rendered with damage since start (for tests and benchmarks).
    pub frames: u64,
    /// The default cursor image.
    pub default_cursor: MemoryRenderBuffer,
}

impl FrameClock {
    /// A clock for an output refreshing every `refresh`, firing through `loop_handle`.
    pub fn new(
        refresh: Duration,
        loop_handle: &LoopHandle<'static, State>,
    ) -> std::io::Result<FrameClock> {
        let timer = Rc::new(
            TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )
            .map_err(std::io::Error::from)?,
        );
        loop_handle
            .insert_source(
                Generic::new(timer.clone(), Interest::READ, Mode::Level),
                |_, timer, state| {
                    // Consume the expiration; a spurious wake-up reads EAGAIN and draws anyway.
                    let _ = timer.wait();
                    state.frame_clock.scheduled = false;
                    state.redraw();
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(FrameClock {
            refresh,
            timer,
            scheduled: false,
            last_frame: None,
            frames: 0,
            default_cursor: default_cursor(),
        })
    }
}

impl State {
    /// Asks for a redraw at the next frame boundary (at most one is ever pending). Frames
    /// follow a steady grid while the output is busy; after an idle period the first frame is
    /// drawn at once.
    pub fn queue_redraw(&mut self) {
        let clock = &mut self.frame_clock;
        if clock.scheduled {
            return;
        }
        clock.scheduled = true;
        let now = Instant::now();
        let target = match clock.last_frame {
            Some(last) if last + clock.refresh > now => last + clock.refresh,
            _ => now,
        };
        clock.last_frame = Some(target);
        // A zero expiration would disarm the timer: fire after one nanosecond instead.
        let delay = target
            .saturating_duration_since(now)
            .max(Duration::from_nanos(1));
        let expiration = Expiration::OneShot(TimeSpec::from_duration(delay));
        if let Err(err) = clock.timer.set(expiration, TimerSetTimeFlags::empty()) {
            tracing::error!("cannot arm the frame timer: {err}");
            clock.scheduled = false;
        }
    }

    /// Renders the output now and does the per-frame bookkeeping.
    pub fn redraw(&mut self) {
        let outcome = crate::backend::render(self);
        let Some((rendered, states)) = outcome else {
            return;
        };
        if rendered {
            self.frame_clock.frames += 1;
        }
        self.post_repaint(rendered, &states);
    }

    /// After a frame: which output each surface is on, presentation feedback, frame callbacks.
    fn post_repaint(&mut self, rendered: bool, states: &RenderElementStates) {
        let output = self.output.clone();
        let time = self.clock.now();
        for window in self.space.elements() {
            window.with_surfaces(|surface, data| {
                update_surface_primary_scanout_output(
                    surface,
                    &output,
                    data,
                    states,
                    default_primary_scanout_output_compare,
                );
            });
        }
        if let Some(CursorImageStatus::Surface(surface)) =
            self.input.pointer_level.map(|l| &self.levels[l.0].cursor)
        {
            with_surfaces_surface_tree(surface, |surface, data| {
                update_surface_primary_scanout_output(
                    surface,
                    &output,
                    data,
                    states,
                    default_primary_scanout_output_compare,
                );
            });
        }

        if rendered {
            let mut feedback = OutputPresentationFeedback::new(&output);
            for window in self.space.elements() {
                window.take_presentation_feedback(
                    &mut feedback,
                    surface_primary_scanout_output,
                    |surface, _| surface_presentation_feedback_flags_from_states(surface, states),
                );
            }
            feedback.presented::<_, smithay::utils::Monotonic>(
                time,
                smithay::wayland::presentation::Refresh::fixed(self.frame_clock.refresh),
                self.frame_clock.frames,
                wp_presentation_feedback::Kind::empty(),
            );
        }

        // Frame callbacks only for surfaces that were on screen (no throttled callbacks for
        // hidden ones: an occluded client has nothing to draw for).
        for window in self.space.elements() {
            window.send_frame(&output, time, None, surface_primary_scanout_output);
        }
        if let Some(CursorImageStatus::Surface(surface)) = self
            .input
            .pointer_level
            .map(|l| self.levels[l.0].cursor.clone())
        {
            send_frames(&surface, &output, time.into());
        }
    }
}

fn send_frames(surface: &WlSurface, output: &Output, time: Duration) {
    smithay::desktop::utils::send_frames_surface_tree(
        surface,
        output,
        time,
        None,
        surface_primary_scanout_output,
    );
}

/// The built-in arrow cursor, 12×19 px, hotspot at its tip (0, 0).
fn default_cursor() -> MemoryRenderBuffer {
    const ROWS: [&str; 19] = [
        "X...........",
        "XX..........",
        "XoX.........",
        "XooX........",
        "XoooX.......",
        "XooooX......",
        "XoooooX.....",
        "XooooooX....",
        "XoooooooX...",
        "XooooooooX..",
        "XoooooooooX.",
        "XooooooXXXXX",
        "XoooXooX....",
        "XooXXooX....",
        "XoX..XooX...",
        "XX...XooX...",
        "X.....XooX..",
        "......XooX..",
        ".......XX...",
    ];
    let (w, h) = (ROWS[0].len(), ROWS.len());
    let mut pixels = Vec::with_capacity(w * h * 4);
    for row in ROWS {
        for c in row.bytes() {
            // Argb8888 in little-endian memory: B, G, R, A (premultiplied).
            pixels.extend_from_slice(match c {
                b'X' => &[0, 0, 0, 255],
                b'o' => &[255, 255, 255, 255],
                _ => &[0, 0, 0, 0],
            });
        }
    }
    MemoryRenderBuffer::from_slice(
        &pixels,
        Fourcc::Argb8888,
        (w as i32, h as i32),
        1,
        Transform::Normal,
        None,
    )
}
