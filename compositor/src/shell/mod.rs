//! Window management: where windows appear, who has keyboard focus, stacking, Alt+Tab,
//! maximize/fullscreen and interactive move/resize.
//!
//! Focus rules (what the user can rely on):
//! * focus changes only through user input (click, Alt+Tab) or when a window is mapped while
//!   its own level already holds the focus (or nothing does) — a level never takes the keyboard
//!   from another level by opening a window;
//! * when the focused window goes away, focus falls back to the most recent window *of the same
//!   level*, never silently to another level.
//!
//! Keyboard focus is per seat and seats are per level: focusing a window gives its level's seat
//! the focus and clears every other level's seat.
//!
//! This file holds the window state, mapping and unmapping, and what is under the pointer;
//! `focus.rs`, `popups.rs` and `layout.rs` (maximize, fullscreen, move and resize) the rest.

use std::cell::RefCell;

use smithay::backend::renderer::utils::with_renderer_surface_state;
use smithay::desktop::{
    PopupKind, Window, WindowSurfaceType, find_popup_root_surface, get_popup_toplevel_coords,
};
use smithay::input::pointer::{
    AxisFrame, ButtonEvent, GestureHoldBeginEvent, GestureHoldEndEvent, GesturePinchBeginEvent,
    GesturePinchEndEvent, GesturePinchUpdateEvent, GestureSwipeBeginEvent, GestureSwipeEndEvent,
    GestureSwipeUpdateEvent, GrabStartData, MotionEvent, PointerGrab, PointerInnerHandle,
    RelativeMotionEvent,
};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::reexports::wayland_server::Resource;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, Rectangle, SERIAL_COUNTER, Serial, Size};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::{PopupSurface, SurfaceCachedState, ToplevelSurface};

use crate::state::{LevelId, State, WindowInfo, window_info};
use crate::ui::{FrameLayout, POPUP_BORDER, Part};

mod focus;
mod layout;
mod popups;

/// Offset between cascaded windows.
const CASCADE_STEP: i32 = 32;

/// Window-management bookkeeping.
#[derive(Default)]
pub struct WindowManager {
    /// Toplevels that exist but have not committed a buffer yet (or unmapped themselves).
    pub pending: Vec<Window>,
    /// Minimized windows (not in the space), restored by Alt+Tab.
    pub minimized: Vec<Window>,
    /// Most recently focused first; every mapped or minimized window appears once.
    pub focus_order: Vec<Window>,
    /// The window with keyboard focus.
    pub focused: Option<Window>,
    /// An Alt+Tab cycle in progress: the order snapshot and the current index.
    pub cycle: Option<(Vec<Window>, usize)>,
    /// Ids of windows that want the user's attention (shown in the trusted bar).
    pub attention: Vec<u64>,
    /// Next window id.
    next_id: u64,
}

/// Per-window state kept in the window's user data.
#[derive(Debug, Default)]
struct WindowState {
    /// Geometry to return to when leaving maximized/fullscreen.
    restore: Option<Rectangle<i32, Logical>>,
    /// An interactive resize in progress (or its last commit pending).
    resize: Option<Resize>,
    /// Where it was when its client unmapped it (a null buffer): it comes back there.
    unmapped_at: Option<Point<i32, Logical>>,
}

#[derive(Debug, Clone, Copy)]
struct Resize {
    edges: xdg_toplevel::ResizeEdge,
    initial: Rectangle<i32, Logical>,
    /// The grab ended; the next commit finishes the resize.
    done: bool,
}

fn with_window_state<T>(window: &Window, f: impl FnOnce(&mut WindowState) -> T) -> T {
    let data = window.user_data();
    data.insert_if_missing(|| RefCell::new(WindowState::default()));
    match data.get::<RefCell<WindowState>>() {
        Some(cell) => f(&mut cell.borrow_mut()),
        None => f(&mut WindowState::default()),
    }
}

/// A window's geometry: the rectangle of its surface the client declared as its window
/// (xdg_surface.set_window_geometry), else its main surface. Unlike smithay's default, it
/// never grows to include subsurfaces: a subsurface placed outside its parent is clipped, it
/// does not stretch the frame.
pub fn window_geometry(window: &Window) -> Rectangle<i32, Logical> {
    let Some(toplevel) = window.toplevel() else {
        return Rectangle::default();
    };
    let surface = toplevel.wl_surface();
    let declared = with_states(surface, |states| {
        states
            .cached_state
            .get::<SurfaceCachedState>()
            .current()
            .geometry
    });
    let size = with_renderer_surface_state(surface, |s| s.surface_size())
        .flatten()
        .unwrap_or_default();
    // Never larger than anything is drawn (crate::limits): a 30000000x1 surface is a
    // 16384x1 window, its frame and title bar sized accordingly.
    let size = Size::from((
        size.w.clamp(0, crate::limits::MAX_EXTENT),
        size.h.clamp(0, crate::limits::MAX_EXTENT),
    ));
    match declared {
        // Clamp what the client declared to its surface: it cannot claim more than it draws.
        Some(g) => g
            .intersection(Rectangle::from_size(size))
            .unwrap_or_default(),
        None => Rectangle::from_size(size),
    }
}

fn has_buffer(surface: &WlSurface) -> bool {
    with_renderer_surface_state(surface, |s| s.buffer().is_some()).unwrap_or(false)
}

fn wl_surface(window: &Window) -> Option<&WlSurface> {
    window.toplevel().map(|t| t.wl_surface())
}

impl State {
    /// A client created an xdg_toplevel: remember it until it has content.
    pub fn new_toplevel(&mut self, toplevel: ToplevelSurface) {
        let Some(level) = self.surface_level(toplevel.wl_surface()) else {
            return;
        };
        let window = Window::new_wayland_window(toplevel);
        self.wm.next_id += 1;
        let info = WindowInfo {
            id: self.wm.next_id,
            level,
        };
        window.user_data().insert_if_missing(|| info);
        self.wm.pending.push(window);
    }

    /// Handles a commit on a toplevel's root surface: initial configure, mapping on first
    /// buffer, unmapping on a null buffer, finishing interactive resizes.
    pub fn toplevel_commit(&mut self, root: &WlSurface) {
        if let Some(idx) = self
            .wm
            .pending
            .iter()
            .position(|w| wl_surface(w) == Some(root))
        {
            let window = self.wm.pending[idx].clone();
            let Some(toplevel) = window.toplevel() else {
                return;
            };
            if !toplevel.is_initial_configure_sent() {
                toplevel.send_configure();
            }
            // A client that attaches its first buffer without waiting for the configure
            // (which xdg-shell asks it to) still gets its window shown, as in Mir, weston and
            // anvil; it is sized by its buffer until it acks a configure.
            if has_buffer(root) {
                self.wm.pending.remove(idx);
                self.map_window(window);
            }
            return;
        }

        let Some(window) = self
            .space
            .elements()
            .find(|w| wl_surface(w) == Some(root))
            .cloned()
        else {
            return;
        };
        if !has_buffer(root) {
            // The client unmapped its window (null buffer): it may map it again later, in the
            // same place.
            let at = self.space.element_location(&window);
            with_window_state(&window, |s| s.unmapped_at = at);
            self.release_touches_on(root);
            self.space.unmap_elem(&window);
            self.forget_focus(&window);
            self.wm.pending.push(window);
            return;
        }
        self.finish_resize_commit(&window);
    }

    fn map_window(&mut self, window: Window) {
        let Some(info) = window_info(&window) else {
            return;
        };
        let area = self.usable_area();
        let size = window_geometry(&window).size;
        let fullscreen = window.toplevel().is_some_and(|t| {
            t.current_state()
                .states
                .contains(xdg_toplevel::State::Fullscreen)
        });
        let maximized = window.toplevel().is_some_and(|t| {
            t.current_state()
                .states
                .contains(xdg_toplevel::State::Maximized)
        });
        let remapped = with_window_state(&window, |s| s.unmapped_at.take());
        let loc = if fullscreen || maximized {
            self.fill_area(fullscreen).loc
        } else if let Some(at) = remapped {
            at
        } else {
            // The frame, not just the content, is centred in the area below the bar, then
            // cascaded; the title bar always starts below the bar.
            let (ew, eh) = FrameLayout::extra(false);
            let cascade = (self.space.elements().count() as i32 % 10) * CASCADE_STEP;
            let outer = Point::<i32, Logical>::from((
                (area.loc.x + (area.size.w - size.w - ew) / 2 + cascade).max(area.loc.x),
                (area.loc.y + (area.size.h - size.h - eh) / 2 + cascade).max(area.loc.y),
            ));
            FrameLayout::content_loc(outer, false)
        };
        self.space.map_element(window.clone(), loc, false);
        tracing::debug!(id = info.id, level = %self.level(info.level).name, ?loc, ?size, "window mapped");

        // A new window takes focus only if its own level already has it, or nobody does.
        let focused_level = self
            .wm
            .focused
            .as_ref()
            .and_then(window_info)
            .map(|i| i.level);
        // While the paste dialog is open, focus stays where the paste was asked for.
        let dialog = self.ui.dialog.is_some();
        if !dialog && (focused_level.is_none() || focused_level == Some(info.level)) {
            self.focus_window(Some(&window));
        } else {
            // It opens just below the focused window: another level cannot cover what the
            // user is working in.
            if let Some(focused) = self.wm.focused.clone() {
                self.space.raise_element(&focused, false);
            }
            self.wm.focus_order.push(window.clone());
            self.demand_attention(&window);
        }
        self.queue_redraw();
    }

    /// A toplevel was destroyed (by its client, or because the client went away).
    pub fn toplevel_destroyed(&mut self, toplevel: &ToplevelSurface) {
        let surface = toplevel.wl_surface();
        self.release_touches_on(surface);
        let is_it = |w: &Window| wl_surface(w) == Some(surface);
        self.wm.pending.retain(|w| !is_it(w));
        self.wm.minimized.retain(|w| !is_it(w));
        let known = self
            .space
            .elements()
            .chain(self.wm.focus_order.iter())
            .find(|w| is_it(w))
            .cloned();
        if let Some(window) = known {
            self.space.unmap_elem(&window);
            self.forget_focus(&window);
        }
        self.queue_redraw();
    }
}

enum GrabKind {
    Move,
    Resize {
        edges: xdg_toplevel::ResizeEdge,
        last: Size<i32, Logical>,
    },
}

/// An interactive move or resize, driven by the pointer of the window's level.
struct InteractiveGrab {
    start_data: GrabStartData<State>,
    window: Window,
    initial: Rectangle<i32, Logical>,
    kind: GrabKind,
}

impl PointerGrab<State> for InteractiveGrab {
    fn motion(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        _focus: Option<(WlSurface, Point<f64, Logical>)>,
        event: &MotionEvent,
    ) {
        // No client has pointer focus during the grab.
        handle.motion(data, None, event);
        let delta = event.location - self.start_data.location;
        match &mut self.kind {
            GrabKind::Move => {
                let loc = self.initial.loc.to_f64() + delta;
                data.move_window(&self.window, loc.to_i32_round());
            }
            GrabKind::Resize { edges, last } => {
                *last = data.resize_window(&self.window, *edges, self.initial, delta);
            }
        }
    }

    fn relative_motion(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        focus: Option<(WlSurface, Point<f64, Logical>)>,
        event: &RelativeMotionEvent,
    ) {
        handle.relative_motion(data, focus, event);
    }

    fn button(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &ButtonEvent,
    ) {
        handle.button(data, event);
        if handle.current_pressed().is_empty() {
            handle.unset_grab(self, data, event.serial, event.time, true);
        }
    }

    fn axis(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        details: AxisFrame,
    ) {
        handle.axis(data, details)
    }

    fn frame(&mut self, data: &mut State, handle: &mut PointerInnerHandle<'_, State>) {
        handle.frame(data)
    }

    fn gesture_swipe_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeBeginEvent,
    ) {
        handle.gesture_swipe_begin(data, event)
    }

    fn gesture_swipe_update(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeUpdateEvent,
    ) {
        handle.gesture_swipe_update(data, event)
    }

    fn gesture_swipe_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeEndEvent,
    ) {
        handle.gesture_swipe_end(data, event)
    }

    fn gesture_pinch_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchBeginEvent,
    ) {
        handle.gesture_pinch_begin(data, event)
    }

    fn gesture_pinch_update(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchUpdateEvent,
    ) {
        handle.gesture_pinch_update(data, event)
    }

    fn gesture_pinch_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchEndEvent,
    ) {
        handle.gesture_pinch_end(data, event)
    }

    fn gesture_hold_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureHoldBeginEvent,
    ) {
        handle.gesture_hold_begin(data, event)
    }

    fn gesture_hold_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureHoldEndEvent,
    ) {
        handle.gesture_hold_end(data, event)
    }

    fn start_data(&self) -> &GrabStartData<State> {
        &self.start_data
    }

    fn unset(&mut self, data: &mut State) {
        if let GrabKind::Resize { last, .. } = self.kind {
            data.end_resize(&self.window, last);
        }
    }
}

/// What is under a point of the output.
#[derive(Debug, Clone)]
pub enum Under {
    /// The trusted bar.
    Bar,
    /// The notification stack (trusted UI: no client hears the pointer there).
    Stack,
    /// A client surface (window content or popup) that takes input there.
    Surface {
        /// Its window.
        window: Window,
        /// The surface.
        surface: WlSurface,
        /// The surface's origin, global.
        origin: Point<f64, Logical>,
        /// Its level.
        level: LevelId,
    },
    /// Inside a window or popup, where no surface takes input (or on a popup's frame).
    Inert {
        /// The window.
        window: Window,
    },
    /// A window's frame.
    Frame {
        /// The window.
        window: Window,
        /// Which part.
        part: Part,
    },
    /// The background.
    Nothing,
}

impl State {
    /// What is at `pos`. Input only ever reaches a client inside the area its frame (or its
    /// popup's frame) encloses, exactly where it is drawn.
    pub fn under(&self, pos: Point<f64, Logical>) -> Under {
        if self.bar_at(pos).is_some() {
            return Under::Bar;
        }
        if self.on_notifications(pos) {
            return Under::Stack;
        }
        for window in self.space.elements().rev() {
            let (Some(info), Some(layout), Some(toplevel)) = (
                window_info(window),
                crate::render::window_layout(&self.space, window),
                window.toplevel(),
            ) else {
                continue;
            };
            for (popup, rect) in
                crate::render::mapped_popups(&self.space, window, layout.content.loc)
                    .into_iter()
                    .rev()
            {
                let mut framed = rect;
                framed.loc -= Point::from((POPUP_BORDER, POPUP_BORDER));
                framed.size += Size::from((2 * POPUP_BORDER, 2 * POPUP_BORDER));
                if rect.to_f64().contains(pos) {
                    let render = rect.loc - crate::render::popup_geometry(&popup).loc;
                    return match smithay::desktop::utils::under_from_surface_tree(
                        popup.wl_surface(),
                        pos,
                        render,
                        WindowSurfaceType::ALL,
                    ) {
                        Some((surface, origin)) => Under::Surface {
                            window: window.clone(),
                            surface,
                            origin: origin.to_f64(),
                            level: info.level,
                        },
                        None => Under::Inert {
                            window: window.clone(),
                        },
                    };
                }
                if framed.to_f64().contains(pos) {
                    return Under::Inert {
                        window: window.clone(),
                    };
                }
            }
            let state = toplevel.current_state().states;
            let resizable = !state.contains(xdg_toplevel::State::Maximized)
                && !state.contains(xdg_toplevel::State::Fullscreen);
            match layout.hit(pos, resizable) {
                None => continue,
                Some(Part::Content) => {
                    let render = layout.content.loc - window_geometry(window).loc;
                    return match window.surface_under(
                        pos - render.to_f64(),
                        WindowSurfaceType::TOPLEVEL | WindowSurfaceType::SUBSURFACE,
                    ) {
                        Some((surface, origin)) => Under::Surface {
                            window: window.clone(),
                            surface,
                            origin: (origin + render).to_f64(),
                            level: info.level,
                        },
                        None => Under::Inert {
                            window: window.clone(),
                        },
                    };
                }
                Some(part) => {
                    return Under::Frame {
                        window: window.clone(),
                        part,
                    };
                }
            }
        }
        Under::Nothing
    }
}
