//! Where windows are and how big: maximize, fullscreen, and interactive move and resize
//! (client-asked through [`InteractiveGrab`], or by the trusted frame).

use super::*;

impl State {
    /// Sets or clears maximized (`fullscreen = false`) or fullscreen state.
    pub fn set_fill(&mut self, toplevel: &ToplevelSurface, fullscreen: bool, on: bool) {
        let Some(window) = self.window_for_surface(toplevel.wl_surface()) else {
            return;
        };
        let state = if fullscreen {
            xdg_toplevel::State::Fullscreen
        } else {
            xdg_toplevel::State::Maximized
        };
        let current = self
            .space
            .element_location(&window)
            .map(|loc| Rectangle::new(loc, window_geometry(&window).size));
        // Maximized or fullscreen on the output that shows most of the window.
        let restore = with_window_state(&window, |s| s.restore).or(current);
        let output_area = restore
            .map(|r| self.usable_area_for(r))
            .unwrap_or_else(|| self.usable_area());
        let area = self.fill_area_in(output_area, fullscreen);
        if on {
            with_window_state(&window, |s| {
                if s.restore.is_none() {
                    s.restore = current;
                }
            });
            toplevel.with_pending_state(|s| {
                s.states.set(state);
                s.size = Some(area.size);
            });
            if self.space.element_location(&window).is_some() {
                self.space.map_element(window.clone(), area.loc, false);
            }
        } else {
            let restore = with_window_state(&window, |s| s.restore.take());
            toplevel.with_pending_state(|s| {
                s.states.unset(state);
                s.size = restore.map(|r| r.size);
            });
            if let Some(r) = restore
                && self.space.element_location(&window).is_some()
            {
                self.space.map_element(window.clone(), r.loc, false);
            }
        }
        if toplevel.is_initial_configure_sent() {
            toplevel.send_pending_configure();
        }
        self.queue_redraw();
    }

    /// Starts an interactive move or resize of `toplevel` if `serial` is a live button press
    /// of the window's own level on that window.
    pub fn start_interactive(
        &mut self,
        toplevel: &ToplevelSurface,
        serial: Serial,
        resize: Option<xdg_toplevel::ResizeEdge>,
    ) {
        let surface = toplevel.wl_surface();
        let Some(window) = self
            .space
            .elements()
            .find(|w| wl_surface(w) == Some(surface))
            .cloned()
        else {
            return;
        };
        let Some(info) = window_info(&window) else {
            return;
        };
        let seat = self.levels[info.level.0].seat.clone();
        let Some(pointer) = seat.get_pointer() else {
            return;
        };
        if !pointer.has_grab(serial) {
            return;
        }
        let Some(start_data) = pointer.grab_start_data() else {
            return;
        };
        let Some((focus, _)) = start_data.focus.as_ref() else {
            return;
        };
        if !focus.id().same_client_as(&surface.id()) {
            return;
        }
        let Some(loc) = self.space.element_location(&window) else {
            return;
        };
        let initial = Rectangle::new(loc, window_geometry(&window).size);
        let kind = match resize {
            None => GrabKind::Move,
            Some(edges) => {
                self.begin_resize(&window, edges);
                GrabKind::Resize {
                    edges,
                    last: initial.size,
                }
            }
        };
        let grab = InteractiveGrab {
            start_data,
            window,
            initial,
            kind,
        };
        pointer.set_grab(self, grab, serial, smithay::input::pointer::Focus::Clear);
    }

    /// After a resize from the top or left edge, keep the opposite edge in place.
    pub(super) fn finish_resize_commit(&mut self, window: &Window) {
        let Some(resize) = with_window_state(window, |s| {
            let r = s.resize;
            if r.is_some_and(|r| r.done) {
                s.resize = None;
            }
            r
        }) else {
            return;
        };
        let size = window_geometry(window).size;
        let Some(mut loc) = self.space.element_location(window) else {
            return;
        };
        let edges = resize.edges as u32;
        if edges & xdg_toplevel::ResizeEdge::Left as u32 != 0 {
            loc.x = resize.initial.loc.x + resize.initial.size.w - size.w;
        }
        if edges & xdg_toplevel::ResizeEdge::Top as u32 != 0 {
            loc.y = resize.initial.loc.y + resize.initial.size.h - size.h;
        }
        self.space.map_element(window.clone(), loc, false);
    }

    /// Moves a window so its content is at `loc`, keeping its title bar reachable (below the
    /// bar, and partly on the output).
    pub fn move_window(&mut self, window: &Window, loc: Point<i32, Logical>) {
        // Anywhere on the screens, below the bars.
        let area = crate::state::below_bar(self.layout_geometry());
        let (_, eh) = FrameLayout::extra(false);
        let min_y = area.loc.y + eh - crate::ui::BORDER;
        let size = window_geometry(window).size;
        let x = loc
            .x
            .clamp(area.loc.x - size.w + 64, area.loc.x + area.size.w - 64);
        let y = loc
            .y
            .clamp(min_y, (area.loc.y + area.size.h - 16).max(min_y));
        self.space.map_element(window.clone(), (x, y), false);
        self.queue_redraw();
    }

    /// Begins an interactive resize of `window` from `edges`; returns its rectangle.
    pub fn begin_resize(
        &mut self,
        window: &Window,
        edges: xdg_toplevel::ResizeEdge,
    ) -> Option<Rectangle<i32, Logical>> {
        let loc = self.space.element_location(window)?;
        let initial = Rectangle::new(loc, window_geometry(window).size);
        with_window_state(window, |s| {
            s.resize = Some(Resize {
                edges,
                initial,
                done: false,
            })
        });
        let toplevel = window.toplevel()?;
        toplevel.with_pending_state(|s| {
            s.states.set(xdg_toplevel::State::Resizing);
        });
        toplevel.send_pending_configure();
        Some(initial)
    }

    /// Asks the client for the size a resize by `delta` from `initial` gives; returns it.
    pub fn resize_window(
        &mut self,
        window: &Window,
        edges: xdg_toplevel::ResizeEdge,
        initial: Rectangle<i32, Logical>,
        delta: Point<f64, Logical>,
    ) -> Size<i32, Logical> {
        let e = edges as u32;
        let has = |edge: xdg_toplevel::ResizeEdge| e & edge as u32 != 0;
        let mut w = initial.size.w;
        let mut h = initial.size.h;
        if has(xdg_toplevel::ResizeEdge::Left) {
            w -= delta.x as i32;
        } else if has(xdg_toplevel::ResizeEdge::Right) {
            w += delta.x as i32;
        }
        if has(xdg_toplevel::ResizeEdge::Top) {
            h -= delta.y as i32;
        } else if has(xdg_toplevel::ResizeEdge::Bottom) {
            h += delta.y as i32;
        }
        let Some(toplevel) = window.toplevel() else {
            return initial.size;
        };
        let (min, max) = with_states(toplevel.wl_surface(), |states| {
            let mut cached = states.cached_state.get::<SurfaceCachedState>();
            let current = cached.current();
            (current.min_size, current.max_size)
        });
        // Never smaller than what the frame needs to show its badge and buttons.
        let clamp = |v: i32, lo: i32, hi: i32, floor: i32| {
            v.max(lo.max(floor))
                .min(if hi == 0 { i32::MAX } else { hi })
        };
        let size = Size::from((clamp(w, min.w, max.w, 120), clamp(h, min.h, max.h, 40)));
        toplevel.with_pending_state(|s| s.size = Some(size));
        toplevel.send_pending_configure();
        size
    }

    /// Ends an interactive resize; the next commit places the window (see `toplevel_commit`).
    pub fn end_resize(&mut self, window: &Window, last: Size<i32, Logical>) {
        with_window_state(window, |s| {
            if let Some(r) = s.resize.as_mut() {
                r.done = true;
            }
        });
        if let Some(toplevel) = window.toplevel() {
            toplevel.with_pending_state(|s| {
                s.states.unset(xdg_toplevel::State::Resizing);
                s.size = Some(last);
            });
            toplevel.send_pending_configure();
        }
    }

    /// Toggles the maximized state of a window (user action).
    pub fn toggle_maximize(&mut self, window: &Window) {
        let Some(toplevel) = window.toplevel().cloned() else {
            return;
        };
        let on =
            !toplevel.with_pending_state(|s| s.states.contains(xdg_toplevel::State::Maximized));
        self.set_fill(&toplevel, false, on);
    }

    /// Toggles the fullscreen state of a window (user action: allowed whatever the level's
    /// policy for client requests; the bar and the border stay visible).
    pub fn toggle_fullscreen(&mut self, window: &Window) {
        let Some(toplevel) = window.toplevel().cloned() else {
            return;
        };
        let on =
            !toplevel.with_pending_state(|s| s.states.contains(xdg_toplevel::State::Fullscreen));
        self.set_fill(&toplevel, true, on);
    }
}
