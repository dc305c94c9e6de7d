//! Moving and resizing a window by its trusted frame.

use super::*;

impl State {
    pub(super) fn start_frame_grab(&mut self, window: Window, part: Part) {
        let start = self.input.pointer;
        let id = window_info(&window).map(|i| i.id);
        match part {
            Part::Title => {
                let now = Instant::now();
                let double = matches!(
                    self.input.last_title_press,
                    Some((last, at)) if Some(last) == id && now.duration_since(at) < DOUBLE_CLICK
                );
                if double {
                    self.input.last_title_press = None;
                    self.toggle_maximize(&window);
                    return;
                }
                self.input.last_title_press = id.map(|id| (id, now));
                let maximized_or_full = window.toplevel().is_some_and(|t| {
                    let states = t.current_state().states;
                    states.contains(xdg_toplevel::State::Maximized)
                        || states.contains(xdg_toplevel::State::Fullscreen)
                });
                if maximized_or_full {
                    return;
                }
                if let Some(initial) = self.space.element_location(&window) {
                    self.input.frame_grab = Some(FrameGrab::Move {
                        window,
                        start,
                        initial,
                    });
                }
            }
            Part::Edge(edges) => {
                if let Some(initial) = self.begin_resize(&window, edges) {
                    self.input.frame_grab = Some(FrameGrab::Resize {
                        window,
                        start,
                        initial,
                        edges,
                        last: initial.size,
                    });
                }
            }
            Part::Button(button) => {
                self.input.frame_grab = Some(FrameGrab::Button { window, button })
            }
            Part::Content => {}
        }
    }

    pub(super) fn frame_grab_motion(&mut self, pos: Point<f64, Logical>) {
        let Some(grab) = self.input.frame_grab.clone() else {
            return;
        };
        match grab {
            FrameGrab::Move {
                window,
                start,
                initial,
            } => {
                let loc = initial.to_f64() + (pos - start);
                self.move_window(&window, loc.to_i32_round());
            }
            FrameGrab::Resize {
                window,
                start,
                initial,
                edges,
                ..
            } => {
                let size = self.resize_window(&window, edges, initial, pos - start);
                if let Some(FrameGrab::Resize { last, .. }) = self.input.frame_grab.as_mut() {
                    *last = size;
                }
            }
            FrameGrab::Button { .. } => {}
        }
    }

    pub(super) fn end_frame_grab(&mut self) {
        let Some(grab) = self.input.frame_grab.take() else {
            return;
        };
        match grab {
            FrameGrab::Move { .. } => {}
            FrameGrab::Resize { window, last, .. } => self.end_resize(&window, last),
            FrameGrab::Button { window, button } => {
                // Acts only if released over the same button of the same window.
                let still = matches!(
                    self.under(self.input.pointer),
                    Under::Frame { window: w, part: Part::Button(b) } if w == window && b == button
                );
                if !still {
                    return;
                }
                match button {
                    Button::Close => {
                        if let Some(t) = window.toplevel() {
                            t.send_close();
                        }
                    }
                    Button::Maximize => self.toggle_maximize(&window),
                    Button::Minimize => self.minimize(&window),
                }
            }
        }
    }
}
