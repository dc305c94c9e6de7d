//! Input routing: real devices (winit) and injected input (the control socket) become the same
//! [`Input`] events, so the compositor's own shortcuts see both.
//!
//! * **Keyboard.** A trusted xkb state, separate from every seat's, tracks modifiers so that
//!   compositor shortcuts work whatever has focus and are never delivered to a client. Other
//!   keys go to the seat of the level that has keyboard focus. A key's release goes to the seat
//!   that received its press, so a level never sees half of a key stroke and never keeps a
//!   modifier stuck after focus moved to another level.
//! * **Pointer.** Motion goes to the seat of the level whose surface is under the pointer (the
//!   previous level's seat gets a leave); while a button is held, the seat that got the press
//!   keeps the pointer (implicit grab) and is only ever given its own level's surfaces.

use std::collections::HashMap;

use smithay::backend::input::{Axis, AxisSource, ButtonState, KeyState};
use smithay::input::keyboard::{FilterResult, Keycode, XkbConfig, xkb};
use smithay::input::pointer::{AxisFrame, ButtonEvent, MotionEvent};
use smithay::utils::{Logical, Point, SERIAL_COUNTER};

use crate::state::{LevelId, State};

/// An input event from any source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input {
    /// A key, by xkb keycode (evdev code + 8).
    Key {
        /// xkb keycode.
        keycode: u32,
        /// Pressed or released.
        pressed: bool,
        /// Milliseconds, monotonic.
        time: u32,
    },
    /// The pointer moved to an absolute position in global coordinates.
    PointerMotion {
        /// Where.
        pos: Point<f64, Logical>,
        /// Milliseconds, monotonic.
        time: u32,
    },
    /// A pointer button (Linux `BTN_*` code).
    PointerButton {
        /// Button code.
        button: u32,
        /// Pressed or released.
        pressed: bool,
        /// Milliseconds, monotonic.
        time: u32,
    },
    /// Scrolling.
    PointerAxis {
        /// Horizontal amount (logical px).
        horizontal: f64,
        /// Vertical amount (logical px).
        vertical: f64,
        /// Wheel clicks × 120, if from a wheel.
        v120: Option<(f64, f64)>,
        /// Where it came from.
        source: AxisSource,
        /// Milliseconds, monotonic.
        time: u32,
    },
}

/// Where a pressed key went, so its release follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyRoute {
    Level(LevelId),
    Intercepted,
    Dropped,
}

/// A compositor shortcut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    CycleForward,
    CycleBackward,
}

/// Trusted input state.
pub struct InputState {
    /// The keymap all seats use (also used to turn injected text into keycodes).
    pub keymap: xkb::Keymap,
    xkb: xkb::State,
    pressed: HashMap<u32, KeyRoute>,
    /// Pointer position in global coordinates.
    pub pointer: Point<f64, Logical>,
    /// Whether the pointer has moved at all (a headless session starts without one).
    pub pointer_seen: bool,
    /// The level whose seat has the pointer.
    pub pointer_level: Option<LevelId>,
}

impl InputState {
    /// Compiles the keymap; `None` if xkbcommon cannot.
    pub fn new(config: &XkbConfig<'_>) -> Option<InputState> {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_names(
            &context,
            config.rules,
            config.model,
            config.layout,
            config.variant,
            config.options.clone(),
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )?;
        let xkb = xkb::State::new(&keymap);
        Some(InputState {
            keymap,
            xkb,
            pressed: HashMap::new(),
            pointer: Point::from((0.0, 0.0)),
            pointer_seen: false,
            pointer_level: None,
        })
    }

    fn mod_active(&self, name: &str) -> bool {
        self.xkb.mod_name_is_active(name, xkb::STATE_MODS_EFFECTIVE)
    }

    /// The shortcut a key press makes, given the modifiers held before it.
    fn shortcut(&self, keycode: u32) -> Option<Action> {
        // Match on the unshifted symbol, so Alt+Shift+Tab is "Tab" with shift held.
        let syms = self
            .keymap
            .key_get_syms_by_level(xkb::Keycode::new(keycode), 0, 0);
        let sym = *syms.first()?;
        let (ctrl, alt, shift, logo) = (
            self.mod_active(xkb::MOD_NAME_CTRL),
            self.mod_active(xkb::MOD_NAME_ALT),
            self.mod_active(xkb::MOD_NAME_SHIFT),
            self.mod_active(xkb::MOD_NAME_LOGO),
        );
        if sym == xkb::Keysym::Tab && alt && !ctrl && !logo {
            return Some(if shift {
                Action::CycleBackward
            } else {
                Action::CycleForward
            });
        }
        None
    }
}

impl State {
    /// Processes one input event.
    pub fn handle_input(&mut self, input: Input) {
        match input {
            Input::Key {
                keycode,
                pressed,
                time,
            } => self.handle_key(keycode, pressed, time),
            Input::PointerMotion { pos, time } => self.handle_pointer_motion(pos, time),
            Input::PointerButton {
                button,
                pressed,
                time,
            } => self.handle_pointer_button(button, pressed, time),
            Input::PointerAxis {
                horizontal,
                vertical,
                v120,
                source,
                time,
            } => self.handle_pointer_axis(horizontal, vertical, v120, source, time),
        }
    }

    fn handle_key(&mut self, keycode: u32, pressed: bool, time: u32) {
        let serial = SERIAL_COUNTER.next_serial();
        let xkb_keycode = xkb::Keycode::new(keycode);
        let route = if pressed {
            let action = self.input.shortcut(keycode);
            self.input
                .xkb
                .update_key(xkb_keycode, xkb::KeyDirection::Down);
            let route = match (action, self.focused_level()) {
                (Some(_), _) => KeyRoute::Intercepted,
                (None, Some(level)) => KeyRoute::Level(level),
                (None, None) => KeyRoute::Dropped,
            };
            // A repeated press (no release in between) keeps its first route.
            let route = *self.input.pressed.entry(keycode).or_insert(route);
            if let Some(action) = action {
                self.run_action(action);
            }
            route
        } else {
            self.input
                .xkb
                .update_key(xkb_keycode, xkb::KeyDirection::Up);
            let route = self
                .input
                .pressed
                .remove(&keycode)
                .unwrap_or(KeyRoute::Dropped);
            if self.wm.cycle.is_some() && !self.input.mod_active(xkb::MOD_NAME_ALT) {
                self.end_focus_cycle();
            }
            route
        };
        if let KeyRoute::Level(level) = route
            && let Some(keyboard) = self.levels[level.0].seat.get_keyboard()
        {
            let state = if pressed {
                KeyState::Pressed
            } else {
                KeyState::Released
            };
            keyboard.input::<(), _>(
                self,
                Keycode::new(keycode),
                state,
                serial,
                time,
                |_, _, _| FilterResult::Forward,
            );
        }
    }

    fn run_action(&mut self, action: Action) {
        match action {
            Action::CycleForward => self.cycle_focus(true),
            Action::CycleBackward => self.cycle_focus(false),
        }
    }

    fn handle_pointer_motion(&mut self, pos: Point<f64, Logical>, time: u32) {
        let area = self.output_geometry().to_f64();
        let pos = Point::from((
            pos.x.clamp(area.loc.x, area.loc.x + area.size.w - 1.0),
            pos.y.clamp(area.loc.y, area.loc.y + area.size.h - 1.0),
        ));
        self.input.pointer = pos;
        self.input.pointer_seen = true;
        let serial = SERIAL_COUNTER.next_serial();
        let event = MotionEvent {
            location: pos,
            serial,
            time,
        };
        let under = self.surface_under(pos);

        // While a button is held, the level that got the press keeps the pointer.
        let grabbing = self.input.pointer_level.filter(|l| {
            self.levels[l.0]
                .seat
                .get_pointer()
                .is_some_and(|p| p.is_grabbed())
        });
        let target = grabbing.or(under.as_ref().map(|(_, _, level)| *level));

        if let Some(old) = self.input.pointer_level.filter(|old| Some(*old) != target) {
            if let Some(pointer) = self.levels[old.0].seat.get_pointer() {
                pointer.motion(self, None, &event);
                pointer.frame(self);
            }
            // The level that loses the pointer no longer decides the cursor.
            self.levels[old.0].cursor = smithay::input::pointer::CursorImageStatus::default_named();
        }
        self.input.pointer_level = target;
        if let Some(level) = target {
            // Only ever give a seat its own level's surfaces.
            let focus = under
                .filter(|(_, _, l)| *l == level)
                .map(|(surface, origin, _)| (surface, origin));
            if let Some(pointer) = self.levels[level.0].seat.get_pointer() {
                pointer.motion(self, focus, &event);
                pointer.frame(self);
            }
        }
        self.queue_redraw();
    }

    fn handle_pointer_button(&mut self, button: u32, pressed: bool, time: u32) {
        let serial = SERIAL_COUNTER.next_serial();
        let grabbed = self.input.pointer_level.is_some_and(|l| {
            self.levels[l.0]
                .seat
                .get_pointer()
                .is_some_and(|p| p.is_grabbed())
        });
        if pressed && !grabbed {
            // Click to focus (and raise).
            let window = self
                .space
                .element_under(self.input.pointer)
                .map(|(w, _)| w.clone());
            if window.is_none() || window != self.wm.focused {
                self.focus_window(window.as_ref());
            }
        }
        if let Some(level) = self.input.pointer_level
            && let Some(pointer) = self.levels[level.0].seat.get_pointer()
        {
            let state = if pressed {
                ButtonState::Pressed
            } else {
                ButtonState::Released
            };
            pointer.button(
                self,
                &ButtonEvent {
                    serial,
                    time,
                    button,
                    state,
                },
            );
            pointer.frame(self);
        }
    }

    fn handle_pointer_axis(
        &mut self,
        horizontal: f64,
        vertical: f64,
        v120: Option<(f64, f64)>,
        source: AxisSource,
        time: u32,
    ) {
        let Some(level) = self.input.pointer_level else {
            return;
        };
        let Some(pointer) = self.levels[level.0].seat.get_pointer() else {
            return;
        };
        let mut frame = AxisFrame::new(time).source(source);
        if horizontal != 0.0 {
            frame = frame.value(Axis::Horizontal, horizontal);
            if let Some((h, _)) = v120 {
                frame = frame.v120(Axis::Horizontal, h as i32);
            }
        }
        if vertical != 0.0 {
            frame = frame.value(Axis::Vertical, vertical);
            if let Some((_, v)) = v120 {
                frame = frame.v120(Axis::Vertical, v as i32);
            }
        }
        pointer.axis(self, frame);
        pointer.frame(self);
    }

    /// Milliseconds on the compositor's monotonic clock, for injected events.
    pub fn now_ms(&self) -> u32 {
        let now: std::time::Duration = self.clock.now().into();
        now.as_millis() as u32
    }
}
