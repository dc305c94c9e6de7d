//! What is drawn, in which order, and when.
//!
//! [`output_elements`] lists the scene front to back: the trusted bar first (above everything),
//! then the cursor and a drag icon, then windows from the top — each window's popups (clipped
//! to their geometry, in a 2-px level-coloured frame) above its frame (title bar and borders)
//! above its surfaces, which are clipped to the window's geometry. It is generic over the
//! renderer, so the headless (pixman) and nested (GLES) backends draw exactly the same thing.
//!
//! [`FrameClock`] paces redraws at the output's refresh rate and only when something asked
//! for one (a commit, input, a window change): an idle desktop runs no timer at all. After
//! each redraw, frame callbacks go only to surfaces that were actually visible on the output
//! (smithay's primary-scanout-output tracking), and presentation feedback is sent.

use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::surface::{
    WaylandSurfaceRenderElement, render_elements_from_surface_tree,
};
use smithay::backend::renderer::element::utils::{
    CropRenderElement, Relocate, RelocateRenderElement,
};
use smithay::backend::renderer::element::{
    Kind, RenderElementStates, default_primary_scanout_output_compare, render_elements,
};
use smithay::backend::renderer::utils::with_renderer_surface_state;
use smithay::backend::renderer::{ImportAll, ImportMem, Renderer};
use smithay::desktop::utils::{
    OutputPresentationFeedback, surface_presentation_feedback_flags_from_states,
    surface_primary_scanout_output, update_surface_primary_scanout_output,
    with_surfaces_surface_tree,
};
use smithay::desktop::{PopupKind, PopupManager, Space, Window};
use smithay::input::pointer::{CursorImageStatus, CursorImageSurfaceData};
use smithay::output::Output;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};
use smithay::reexports::wayland_protocols::wp::presentation_time::server::wp_presentation_feedback;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{IsAlive, Logical, Point, Rectangle, Scale, Size, Transform};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::XdgToplevelSurfaceData;

use crate::state::{LevelState, State, window_info};
use crate::ui::bar::{BarContent, LevelChip};
use crate::ui::decorations::{TitleState, popup_frame_elements, with_decoration};
use crate::ui::{FrameLayout, MAX_CURSOR, Ui};

render_elements! {
    /// Everything the compositor draws.
    pub OutputRenderElement<R> where R: ImportAll + ImportMem;
    /// Client surfaces drawn whole (cursor, drag icon).
    Surface = WaylandSurfaceRenderElement<R>,
    /// Client surfaces clipped to their window or popup.
    Clipped = CropRenderElement<WaylandSurfaceRenderElement<R>>,
    /// Window frames (border and title bar).
    Frame = crate::ui::decorations::FrameElement<R>,
    /// Popup borders.
    Ring = crate::ui::ring::RingElement,
    /// Compositor-drawn images (the bar, title bars, the default cursor).
    Memory = MemoryRenderBufferRenderElement<R>,
}

/// Background colour behind all windows.
pub const BACKGROUND: [f32; 4] = [0.11, 0.12, 0.14, 1.0];

/// The parts of the state the scene is built from.
pub struct Scene<'a> {
    /// Windows.
    pub space: &'a Space<Window>,
    /// The levels.
    pub levels: &'a [LevelState],
    /// The focused window.
    pub focused: Option<&'a Window>,
    /// Ids of windows wanting attention.
    pub attention: &'a [u64],
    /// The cursor to draw and where, if the pointer is on the output.
    pub cursor: Option<(CursorImageStatus, Point<f64, Logical>)>,
    /// A drag icon, drawn at the pointer.
    pub dnd_icon: Option<&'a WlSurface>,
    /// Image of the default cursor.
    pub default_cursor: &'a MemoryRenderBuffer,
    /// Font and bar.
    pub ui: &'a Ui,
    /// The output drawn: its size.
    pub output_size: Size<i32, Logical>,
    /// The output drawn: its top-left corner in global coordinates.
    pub origin: Point<i32, Logical>,
    /// Whether it is the primary output (the one that shows the menu and dialogs).
    pub primary: bool,
    /// Its integer scale (physical pixels per logical pixel).
    pub scale: i32,
    /// The label of the level holding the pointer, while one does.
    pub pointer_held: Option<&'a str>,
}

/// An element placed on one output (global coordinates shifted by the output's origin).
pub type PlacedElement<R> = RelocateRenderElement<OutputRenderElement<R>>;

/// Builds a [`Scene`] from disjoint fields of the state (so a backend can be borrowed
/// mutably beside it).
#[macro_export]
#[doc(hidden)]
macro_rules! scene {
    ($state:expr, $cursor:expr, $output:expr) => {{
        let geometry = $state.space.output_geometry($output).unwrap_or_default();
        $crate::render::Scene {
            space: &$state.space,
            levels: &$state.levels,
            focused: $state.wm.focused.as_ref(),
            attention: &$state.wm.attention,
            cursor: $cursor,
            dnd_icon: $state.dnd_icon.as_ref(),
            default_cursor: &$state.frame_clock.default_cursor,
            ui: &$state.ui,
            output_size: geometry.size,
            origin: geometry.loc,
            primary: $output == &$state.output,
            scale: $output.current_scale().integer_scale().max(1),
            pointer_held: $state
                .input
                .constrained
                .as_ref()
                .map(|(level, _)| $state.levels[level.0].label.as_str()),
        }
    }};
}

impl State {
    /// The scene of the primary output as of now.
    pub fn scene(&self) -> Scene<'_> {
        scene!(self, self.cursor_to_draw(), &self.output)
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

/// Whether a client's surface tree may be drawn as a cursor (with `hotspot`) or a drag icon
/// (`None`): the whole tree — subsurfaces included — fits in [`MAX_CURSOR`] pixels each way,
/// lies near its root, and a cursor's hotspot is on it. Otherwise a client could draw an image
/// of any size, or anywhere, that follows the pointer over other levels' windows.
fn within_cursor_limit(surface: &WlSurface, hotspot: Option<Point<i32, Logical>>) -> bool {
    let bbox = smithay::desktop::utils::bbox_from_surface_tree(surface, (0, 0));
    let near = |v: i32| (-MAX_CURSOR..=MAX_CURSOR).contains(&v);
    bbox.size.w <= MAX_CURSOR
        && bbox.size.h <= MAX_CURSOR
        && near(bbox.loc.x)
        && near(bbox.loc.y)
        && hotspot.is_none_or(|h| bbox.to_f64().contains(h.to_f64()) || bbox.is_empty())
}

/// The hotspot a client gave its cursor surface.
fn cursor_hotspot(surface: &WlSurface) -> Point<i32, Logical> {
    with_states(surface, |states| {
        states
            .data_map
            .get::<CursorImageSurfaceData>()
            .and_then(|d| d.lock().ok().map(|d| d.hotspot))
            .unwrap_or_default()
    })
}

/// A window's frame layout, from its position and state.
pub fn window_layout(space: &Space<Window>, window: &Window) -> Option<FrameLayout> {
    let loc = space.element_location(window)?;
    let fullscreen = window.toplevel().is_some_and(|t| {
        t.current_state()
            .states
            .contains(xdg_toplevel::State::Fullscreen)
    });
    Some(FrameLayout::new(
        Rectangle::new(loc, crate::shell::window_geometry(window).size),
        fullscreen,
    ))
}

/// A popup's window geometry: what its client declared, else its surfaces' extent; never
/// larger than anything is drawn (`limits::MAX_EXTENT`).
pub fn popup_geometry(popup: &PopupKind) -> Rectangle<i32, Logical> {
    let mut geometry = popup.geometry();
    if geometry.is_empty() {
        geometry = smithay::desktop::utils::bbox_from_surface_tree(popup.wl_surface(), (0, 0));
    }
    geometry.size.w = geometry.size.w.clamp(0, crate::limits::MAX_EXTENT);
    geometry.size.h = geometry.size.h.clamp(0, crate::limits::MAX_EXTENT);
    geometry
}

/// Where windows and popups may be drawn: each output's area below its bar.
pub fn usable_areas(space: &Space<Window>) -> Vec<Rectangle<i32, Logical>> {
    space
        .outputs()
        .filter_map(|o| space.output_geometry(o))
        .map(crate::state::below_bar)
        .collect()
}

/// `rect` moved — and cut, if it is larger — into `area` shrunk by `margin` on every side.
pub fn keep_inside(
    rect: Rectangle<i32, Logical>,
    area: Rectangle<i32, Logical>,
    margin: i32,
) -> Rectangle<i32, Logical> {
    let inner_w = (area.size.w - 2 * margin).max(1);
    let inner_h = (area.size.h - 2 * margin).max(1);
    let (x0, y0) = (area.loc.x + margin, area.loc.y + margin);
    let w = rect.size.w.clamp(0, inner_w);
    let h = rect.size.h.clamp(0, inner_h);
    Rectangle::new(
        (
            rect.loc.x.clamp(x0, x0 + inner_w - w),
            rect.loc.y.clamp(y0, y0 + inner_h - h),
        )
            .into(),
        (w, h).into(),
    )
}

/// A popup's rectangle as shown: inside the usable area of the output that shows most of it
/// (the first output if none does), its 2-px frame included. Whatever its client asked for, a
/// popup never covers a bar and its frame is never off screen (Qubes keeps override-redirect
/// windows on screen the same way).
pub fn popup_on_screen(
    rect: Rectangle<i32, Logical>,
    areas: &[Rectangle<i32, Logical>],
) -> Rectangle<i32, Logical> {
    let overlap = |a: &&Rectangle<i32, Logical>| {
        a.intersection(rect)
            .map_or(0, |i| i.size.w as i64 * i.size.h as i64)
    };
    match areas.iter().max_by_key(overlap) {
        Some(area) => keep_inside(rect, *area, crate::ui::POPUP_BORDER),
        None => rect,
    }
}

/// The mapped popups of a toplevel whose content is at `content_loc`, each with its
/// rectangle (global), parents before children.
///
/// Popup offsets are relative to the xdg window geometry as smithay computes it (which, when
/// a client sets none, spans its subsurfaces); they are rebased on our content origin so popups
/// land where the client placed them.
pub fn mapped_popups(
    space: &Space<Window>,
    window: &Window,
    content_loc: Point<i32, Logical>,
) -> Vec<(PopupKind, Rectangle<i32, Logical>)> {
    let Some(surface) = window.toplevel().map(|t| t.wl_surface().clone()) else {
        return Vec::new();
    };
    let areas = usable_areas(space);
    let base = content_loc - crate::shell::window_geometry(window).loc + window.geometry().loc;
    PopupManager::popups_for_surface(&surface)
        .filter(|(popup, _)| {
            with_renderer_surface_state(popup.wl_surface(), |s| s.buffer().is_some())
                .unwrap_or(false)
        })
        .map(|(popup, offset)| {
            let geometry = popup_geometry(&popup);
            let rect = Rectangle::new(base + offset, geometry.size);
            (popup, popup_on_screen(rect, &areas))
        })
        .collect()
}

fn bar_content(scene: &Scene<'_>) -> BarContent {
    let focused_level = scene.focused.and_then(window_info).map(|i| i.level);
    let mut windows = vec![0usize; scene.levels.len()];
    let mut attention = vec![false; scene.levels.len()];
    for info in scene.space.elements().filter_map(window_info) {
        windows[info.level.0] += 1;
        attention[info.level.0] |= scene.attention.contains(&info.id);
    }
    let levels = scene
        .levels
        .iter()
        .map(|level| LevelChip {
            label: level.label.clone(),
            color: level.color,
            windows: windows[level.id.0],
            attention: attention[level.id.0],
            running: level.running,
            network: level.network.clone(),
        })
        .collect();
    BarContent {
        width: scene.output_size.w,
        focused: focused_level.map(|l| (scene.levels[l.0].label.clone(), scene.levels[l.0].color)),
        pointer_held: scene.pointer_held.map(str::to_string),
        layout: focused_level
            .and_then(|l| scene.levels[l.0].layouts.get(scene.levels[l.0].layout))
            .cloned(),
        levels,
        // A transfer request waiting for the user comes first, then a transfer in progress
        // (with how to cancel it), then notifications.
        notification: waiting_request(scene)
            .or_else(|| {
                scene
                    .ui
                    .bar
                    .transfer
                    .as_ref()
                    .map(|(_, text)| format!("{text} — click here to cancel"))
            })
            .or_else(|| {
                scene
                    .ui
                    .bar
                    .notification
                    .as_ref()
                    .map(|(text, _)| text.clone())
            }),
        clock: scene.ui.bar.clock.clone(),
        quiet: scene
            .ui
            .notifications
            .quiet
            .then_some(scene.ui.notifications.missed),
    }
}

/// The bar's line for a transfer request waiting for the user (trusted text only: labels from
/// the configuration, a count).
fn waiting_request(scene: &Scene<'_>) -> Option<String> {
    let waiting: Vec<_> = scene
        .ui
        .dialogs_waiting
        .iter()
        .filter(|d| !d.by_user)
        .collect();
    let first = waiting.first()?;
    let more = match waiting.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Some(format!(
        "{} asks to send {} to {}{more} — click here to review",
        first.from.0, first.mime, first.to.0
    ))
}

/// One of the compositor's own images at `at` (physical, global), or nothing if it cannot be
/// drawn (logged: the frame goes on without it).
fn trusted_image<R>(
    renderer: &mut R,
    at: Point<f64, smithay::utils::Physical>,
    image: &MemoryRenderBuffer,
    kind: Kind,
    what: &str,
) -> Option<OutputRenderElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Send + Clone + 'static,
{
    match MemoryRenderBufferRenderElement::from_buffer(renderer, at, image, None, None, None, kind)
    {
        Ok(element) => Some(OutputRenderElement::Memory(element)),
        Err(err) => {
            tracing::error!("cannot draw {what}: {err:?}");
            None
        }
    }
}

/// Builds the render elements of `scene`'s output, front to back, in the output's coordinates.
pub fn output_elements<R>(renderer: &mut R, scene: &Scene<'_>) -> Vec<PlacedElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Send + Clone + 'static,
{
    let origin = scene.origin.to_physical(scene.scale);
    let offset = (-origin.x, -origin.y);
    global_elements(renderer, scene)
        .into_iter()
        .map(|e| RelocateRenderElement::from_element(e, offset, Relocate::Relative))
        .collect()
}

/// The elements of `scene` in global coordinates: the bar at the output's top, the menu and
/// dialogs on the primary output, everything else where it is in the layout.
fn global_elements<R>(renderer: &mut R, scene: &Scene<'_>) -> Vec<OutputRenderElement<R>>
where
    R: Renderer + ImportAll + ImportMem,
    R::TextureId: Send + Clone + 'static,
{
    let scale = Scale::from(scene.scale as f64);
    let origin = scene.origin.to_f64().to_physical(scale);
    let mut elements: Vec<OutputRenderElement<R>> = Vec::new();

    // Locked: the lock screen alone, opaque over the whole output (no window, cursor, bar,
    // dialog or notification of any level).
    if scene.ui.lock.locked {
        let lock = scene
            .ui
            .lock
            .buffer(scene.output_size, &scene.ui.font, &scene.ui.bar.clock);
        elements.extend(trusted_image(
            renderer,
            origin,
            &lock,
            Kind::Unspecified,
            "the lock screen",
        ));
        return elements;
    }

    // The trusted bar, above everything.
    let trusted_ui = !cfg!(feature = "bench-undecorated");
    if trusted_ui {
        let bar = scene.ui.bar.buffer(bar_content(scene), &scene.ui.font);
        elements.extend(trusted_image(
            renderer,
            origin,
            &bar,
            Kind::Unspecified,
            "the trusted bar",
        ));
    }

    // The cursor and a drag icon, below the bar. Oversized client images are not drawn: the
    // default cursor replaces a cursor, a drag icon is left out.
    if let Some((status, pos)) = &scene.cursor {
        let pos = *pos;
        if let Some(icon) = scene
            .dnd_icon
            .filter(|s| s.alive() && within_cursor_limit(s, None))
        {
            elements.extend(
                render_elements_from_surface_tree(
                    renderer,
                    icon,
                    pos.to_physical(scale).to_i32_round(),
                    scale,
                    1.0,
                    Kind::Unspecified,
                )
                .into_iter()
                .map(OutputRenderElement::Surface),
            );
        }
        match status {
            CursorImageStatus::Hidden => {}
            CursorImageStatus::Surface(surface)
                if surface.alive()
                    && within_cursor_limit(surface, Some(cursor_hotspot(surface))) =>
            {
                let hotspot = cursor_hotspot(surface);
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
            _ => elements.extend(trusted_image(
                renderer,
                pos.to_physical(scale),
                scene.default_cursor,
                Kind::Cursor,
                "the cursor",
            )),
        }
    }

    // The paste confirmation, above every window and the menu, below the cursor and the bar.
    if let Some(dialog) = scene
        .ui
        .dialog
        .as_ref()
        .filter(|_| trusted_ui && scene.primary)
    {
        let image = scene.ui.dialog_cache.buffer(dialog, &scene.ui.font);
        let at = crate::ui::dialog::ConfirmDialog::geometry(scene.output_size).loc;
        elements.extend(trusted_image(
            renderer,
            at.to_f64().to_physical(scale) + origin,
            &image,
            Kind::Unspecified,
            "the paste dialog",
        ));
    }

    // The levels' notifications, above every window, below the cursor and the bar; never with
    // a dialog or the menu (nor, above, the lock screen).
    if trusted_ui && scene.primary && scene.ui.dialog.is_none() && !scene.ui.menu.open {
        let levels: Vec<(String, cloison_config::Color)> = scene
            .levels
            .iter()
            .map(|l| (l.label.clone(), l.color))
            .collect();
        let stack = &scene.ui.notifications;
        let content = stack.content(&levels);
        if !content.cards.is_empty() || !content.counts.is_empty() {
            let image = stack.buffer(&content, &scene.ui.font);
            let at = stack.geometry(&content, scene.output_size).loc;
            elements.extend(trusted_image(
                renderer,
                at.to_f64().to_physical(scale) + origin,
                &image,
                Kind::Unspecified,
                "the notifications",
            ));
        }
    }

    // The launcher menu, above every window, below the cursor and the bar.
    if trusted_ui && scene.primary && scene.ui.menu.open {
        let levels: Vec<(String, cloison_config::Color)> = scene
            .levels
            .iter()
            .map(|l| (l.label.clone(), l.color))
            .collect();
        let menu = scene.ui.menu.buffer(&levels, &scene.ui.font);
        let at = scene.ui.menu.geometry(scene.output_size).loc;
        elements.extend(trusted_image(
            renderer,
            at.to_f64().to_physical(scale) + origin,
            &menu,
            Kind::Unspecified,
            "the launcher menu",
        ));
    }

    for window in scene.space.elements().rev() {
        let (Some(info), Some(layout), Some(toplevel)) = (
            window_info(window),
            window_layout(scene.space, window),
            window.toplevel(),
        ) else {
            continue;
        };
        let level = &scene.levels[info.level.0];
        let surface = toplevel.wl_surface();
        let render_loc = layout.content.loc - crate::shell::window_geometry(window).loc;
        let clip = |rect: Rectangle<i32, Logical>| rect.to_physical(scene.scale);

        // Popups: clipped to their own geometry, each in a 2-px frame of the level's colour.
        for (popup, rect) in mapped_popups(scene.space, window, layout.content.loc)
            .into_iter()
            .rev()
        {
            let popup_render = rect.loc - popup_geometry(&popup).loc;
            elements.extend(
                render_elements_from_surface_tree::<R, WaylandSurfaceRenderElement<R>>(
                    renderer,
                    popup.wl_surface(),
                    popup_render.to_physical(scene.scale),
                    scale,
                    1.0,
                    Kind::Unspecified,
                )
                .into_iter()
                .filter_map(|e| CropRenderElement::from_element(e, scale, clip(rect)))
                .map(OutputRenderElement::Clipped),
            );
            if trusted_ui {
                popup_frame_elements(
                    popup.wl_surface(),
                    rect,
                    level.color,
                    scene.scale,
                    &mut elements,
                );
            }
        }

        // The frame.
        if trusted_ui {
            let title_state = layout.title.map(|title| TitleState {
                width: title.size.w,
                generation: 0,
                focused: scene.focused == Some(window),
                maximized: toplevel
                    .current_state()
                    .states
                    .contains(xdg_toplevel::State::Maximized),
            });
            let read_title = || {
                with_states(surface, |states| {
                    states
                        .data_map
                        .get::<XdgToplevelSurfaceData>()
                        .and_then(|d| d.lock().ok().and_then(|d| d.title.clone()))
                        .unwrap_or_default()
                })
            };
            let frame = with_decoration(window, level.color, |decoration| {
                decoration.update(title_state, &level.label, &scene.ui.font, read_title);
                decoration.element(renderer, &layout, scene.scale)
            });
            elements.push(OutputRenderElement::Frame(frame));
        }

        // The client's surfaces, clipped to its geometry: nothing it draws (shadows,
        // subsurfaces outside the parent, viewport tricks) lands outside its frame.
        elements.extend(
            render_elements_from_surface_tree::<R, WaylandSurfaceRenderElement<R>>(
                renderer,
                surface,
                render_loc.to_physical(scene.scale),
                scale,
                1.0,
                Kind::Unspecified,
            )
            .into_iter()
            .filter_map(|e| CropRenderElement::from_element(e, scale, clip(layout.content)))
            .map(OutputRenderElement::Clipped),
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
    /// Something trusted UI shows changed (focus, attention, a title): redraw. The bar and
    /// title bars compare their content and re-render only what differs.
    pub fn ui_changed(&mut self) {
        self.queue_redraw();
    }

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
        // Once per frame, not per request: output enter/leave for windows, dead popups.
        self.space.refresh();
        self.popups.cleanup();
        // A pointer constraint whose object or surface went away lets go of the bar's chip.
        if self.input.constrained.is_some() {
            self.update_pointer_constraint();
        }
        // Windows moved, mapped, resized or closed under a still pointer: the client under it
        // learns it now, as if the pointer had moved.
        self.refresh_pointer_focus();
        // The notifications drawn now start their clocks.
        if self.notifications_on_screen() {
            self.ui.notifications.shown(std::time::Instant::now());
        }
        for output in self.outputs.clone() {
            // `None`: not drawn now (failed, or the output still shows its previous frame and
            // the backend draws again once that is on screen).
            let Some((rendered, states)) = crate::backend::render(self, &output) else {
                continue;
            };
            if rendered {
                self.frame_clock.frames += 1;
            }
            if self.ui.lock.to_show.is_some() {
                self.lock_drawn(Some(&output));
            }
            self.post_repaint(&output, rendered, &states);
        }
        if self.ui.lock.to_show.is_some() {
            self.lock_drawn(None);
        }
    }

    /// After a frame: which output each surface is on, presentation feedback, frame callbacks.
    fn post_repaint(&mut self, output: &Output, rendered: bool, states: &RenderElementStates) {
        let output = output.clone();
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
