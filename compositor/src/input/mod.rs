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
//!
//! This file holds the types, the device-independent state and the dispatch of each [`Input`];
//! `keyboard.rs`, `pointer.rs`, `grabs.rs` (frame moves and resizes) and `touch.rs` handle
//! each kind.

use std::collections::HashMap;

use smithay::backend::input::{Axis, AxisSource, ButtonState, KeyState};
use smithay::desktop::Window;
use smithay::input::keyboard::{FilterResult, Keycode, XkbConfig, xkb};
use smithay::input::pointer::CursorImageStatus;
use smithay::input::pointer::{AxisFrame, ButtonEvent, MotionEvent};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::{self, ResizeEdge};
use smithay::utils::{Logical, Point, Rectangle, SERIAL_COUNTER, Size};
use std::time::{Duration, Instant};

use cloison_config::Shortcuts;

use crate::shell::Under;
use crate::state::window_info;
use crate::ui::{Button, Part};

mod constraints;
mod grabs;
mod keyboard;
mod pointer;
mod touch;

/// Linux `BTN_LEFT`.
const BTN_LEFT: u32 = 0x110;

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
    /// The pointer moved by a relative amount (a mouse or touchpad): absolute motion for
    /// everyone, and relative motion for the level's clients that ask for it.
    PointerMotionRelative {
        /// How far (logical px, accelerated).
        delta: Point<f64, Logical>,
        /// The same, before acceleration.
        unaccelerated: Point<f64, Logical>,
        /// Microseconds, monotonic.
        utime: u64,
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
    /// A finger touched the screen (global coordinates).
    TouchDown {
        /// Its slot (one per finger).
        slot: u32,
        /// Where.
        pos: Point<f64, Logical>,
        /// Milliseconds, monotonic.
        time: u32,
    },
    /// A finger moved.
    TouchMotion {
        /// Its slot.
        slot: u32,
        /// Where.
        pos: Point<f64, Logical>,
        /// Milliseconds, monotonic.
        time: u32,
    },
    /// A finger left the screen.
    TouchUp {
        /// Its slot.
        slot: u32,
        /// Milliseconds, monotonic.
        time: u32,
    },
    /// The touch device cancelled every touch point (e.g. a gesture took them).
    TouchCancel,
}

/// Where a pressed key went, so its release follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyRoute {
    Level(LevelId),
    Intercepted,
    Dropped,
}

/// A compositor shortcut action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Next window (most recently used first).
    CycleForward,
    /// Previous window.
    CycleBackward,
    /// Maximize or restore the focused window.
    Maximize,
    /// Fullscreen or restore the focused window.
    Fullscreen,
    /// Ask the focused window to close.
    Close,
    /// Minimize the focused window.
    Minimize,
    /// Open or close the launcher menu.
    LauncherMenu,
    /// Copy the focused level's clipboard to the global clipboard.
    CopyToGlobal,
    /// Paste the global clipboard into the focused level.
    PasteFromGlobal,
    /// Lock the screen.
    Lock,
    /// The focused level's next keyboard layout.
    NextLayout,
    /// Take the pointer back from a level's lock or confinement.
    ReleasePointer,
}

/// A resolved shortcut: exact modifiers and the key's unshifted keysym.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Binding {
    ctrl: bool,
    alt: bool,
    shift: bool,
    logo: bool,
    sym: xkb::Keysym,
}

/// A compositor-owned pointer interaction with a window's frame.
#[derive(Debug, Clone)]
pub enum FrameGrab {
    /// Dragging the title bar.
    Move {
        /// The window.
        window: Window,
        /// Pointer position at the press.
        start: Point<f64, Logical>,
        /// Content position at the press.
        initial: Point<i32, Logical>,
    },
    /// Dragging an edge or corner.
    Resize {
        /// The window.
        window: Window,
        /// Pointer position at the press.
        start: Point<f64, Logical>,
        /// Content rectangle at the press.
        initial: Rectangle<i32, Logical>,
        /// The edges being dragged.
        edges: ResizeEdge,
        /// The last size asked for.
        last: Size<i32, Logical>,
    },
    /// A title-bar button is held; it acts when released over itself.
    Button {
        /// The window.
        window: Window,
        /// The button.
        button: Button,
    },
}

/// Trusted input state.
pub struct InputState {
    /// The keymap all seats use (also used to turn injected text into keycodes).
    pub keymap: xkb::Keymap,
    xkb: xkb::State,
    pressed: HashMap<u32, KeyRoute>,
    bindings: Vec<(Action, Binding)>,
    /// Modifiers of the window-cycling chord, while a cycle is in progress.
    cycle_mods: Option<Binding>,
    /// Pointer position in global coordinates.
    pub pointer: Point<f64, Logical>,
    /// Whether the pointer has moved at all (a headless session starts without one).
    pub pointer_seen: bool,
    /// The level whose seat has the pointer.
    pub pointer_level: Option<LevelId>,
    /// The surface the pointer was last given, with its origin (to notice changes under a
    /// pointer that does not move).
    pointer_focus: Option<(
        smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
        Point<f64, Logical>,
    )>,
    /// Touch points in progress: slot → the level whose seat got the touch down.
    touches: HashMap<
        u32,
        (
            LevelId,
            smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
        ),
    >,
    /// A frame interaction in progress (no client sees the pointer meanwhile).
    pub frame_grab: Option<FrameGrab>,
    /// The button whose press the notification stack took: its release is the stack's too.
    pub stack_pressed: Option<u32>,
    /// The last press on a title bar (window id, when), for double clicks.
    last_title_press: Option<(u64, Instant)>,
    /// The launcher menu opens on a tap of Super alone (the configured `"super"`).
    super_tap: bool,
    /// A Super key is down and nothing else was pressed since: its release opens the menu.
    super_armed: bool,
    /// The surface whose pointer constraint holds now, and its level.
    pub constrained: Option<(
        LevelId,
        smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
    )>,
    /// The surface the user last took the pointer back from: no constraint holds on it again
    /// before a click in a client.
    pointer_released: Option<smithay::reexports::wayland_server::protocol::wl_surface::WlSurface>,
}

/// Two presses on a title bar closer than this are a double click.
const DOUBLE_CLICK: Duration = Duration::from_millis(400);

/// Errors resolving configured shortcuts.
pub enum InputError {
    /// The keymap does not compile.
    Keymap,
    /// A shortcut names an unknown key: (action, chord, key).
    Shortcut(String, String, String),
}

impl InputState {
    /// Compiles the keymap and resolves the configured shortcuts.
    pub fn new(config: &XkbConfig<'_>, shortcuts: &Shortcuts) -> Result<InputState, InputError> {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_names(
            &context,
            config.rules,
            config.model,
            config.layout,
            config.variant,
            config.options.clone(),
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .ok_or(InputError::Keymap)?;
        let mut bindings = Vec::new();
        let super_tap = shortcuts.launcher_menu == "super";
        for (name, chord) in shortcuts.bindings() {
            let action = match name {
                "cycle_windows" => Action::CycleForward,
                "cycle_windows_backward" => Action::CycleBackward,
                "maximize" => Action::Maximize,
                "fullscreen" => Action::Fullscreen,
                "close" => Action::Close,
                "minimize" => Action::Minimize,
                "launcher_menu" if super_tap => continue,
                "launcher_menu" => Action::LauncherMenu,
                "copy_to_global" => Action::CopyToGlobal,
                "lock" => Action::Lock,
                "next_layout" => Action::NextLayout,
                "release_pointer" => Action::ReleasePointer,
                "paste_from_global" => Action::PasteFromGlobal,
                other => unreachable!("shortcut {other} has no action"),
            };
            let parsed = cloison_config::parse_chord(chord).map_err(|_| {
                InputError::Shortcut(name.to_string(), chord.to_string(), chord.to_string())
            })?;
            // Compare with the key's unshifted symbol: letters are lower case there.
            let name = if parsed.key.len() == 1 {
                parsed.key.to_ascii_lowercase()
            } else {
                parsed.key.clone()
            };
            let mut sym = xkb::keysym_from_name(&name, xkb::KEYSYM_NO_FLAGS);
            if sym.raw() == 0 {
                sym = xkb::keysym_from_name(&name, xkb::KEYSYM_CASE_INSENSITIVE);
            }
            if sym.raw() == 0 {
                return Err(InputError::Shortcut(
                    name.to_string(),
                    chord.to_string(),
                    parsed.key,
                ));
            }
            bindings.push((
                action,
                Binding {
                    ctrl: parsed.ctrl,
                    alt: parsed.alt,
                    shift: parsed.shift,
                    logo: parsed.logo,
                    sym,
                },
            ));
        }
        let xkb = xkb::State::new(&keymap);
        Ok(InputState {
            keymap,
            xkb,
            pressed: HashMap::new(),
            bindings,
            cycle_mods: None,
            pointer: Point::from((0.0, 0.0)),
            pointer_seen: false,
            pointer_level: None,
            touches: HashMap::new(),
            pointer_focus: None,
            frame_grab: None,
            stack_pressed: None,
            last_title_press: None,
            super_tap,
            super_armed: false,
            constrained: None,
            pointer_released: None,
        })
    }

    fn mod_active(&self, name: &str) -> bool {
        self.xkb.mod_name_is_active(name, xkb::STATE_MODS_EFFECTIVE)
    }

    fn mods(&self, sym: xkb::Keysym) -> Binding {
        Binding {
            ctrl: self.mod_active(xkb::MOD_NAME_CTRL),
            alt: self.mod_active(xkb::MOD_NAME_ALT),
            shift: self.mod_active(xkb::MOD_NAME_SHIFT),
            logo: self.mod_active(xkb::MOD_NAME_LOGO),
            sym,
        }
    }

    /// The shortcut a key press makes, given the modifiers held before it.
    fn shortcut(&self, keycode: u32) -> Option<Action> {
        // Match on the unshifted symbol, so Alt+Shift+Tab is "Tab" with shift held.
        let syms = self
            .keymap
            .key_get_syms_by_level(xkb::Keycode::new(keycode), 0, 0);
        let held = self.mods(*syms.first()?);
        self.bindings
            .iter()
            .find(|(_, b)| *b == held)
            .map(|(a, _)| *a)
    }

    /// Whether any modifier of the cycling chord is still held.
    fn cycle_held(&self) -> bool {
        self.cycle_mods.is_some_and(|m| {
            (m.ctrl && self.mod_active(xkb::MOD_NAME_CTRL))
                || (m.alt && self.mod_active(xkb::MOD_NAME_ALT))
                || (m.logo && self.mod_active(xkb::MOD_NAME_LOGO))
        })
    }
}

impl State {
    /// Processes one input event.
    pub fn handle_input(&mut self, input: Input) {
        self.ui.lock.last_input = std::time::Instant::now();
        // Locked: keys go to the lock screen (releases of keys pressed before still reach
        // their clients); the pointer and touch go nowhere.
        if self.ui.lock.locked && !matches!(input, Input::Key { .. }) {
            return;
        }
        match input {
            Input::Key {
                keycode,
                pressed,
                time,
            } => self.handle_key(keycode, pressed, time),
            Input::PointerMotion { pos, time } => {
                // Absolute devices too: a held pointer stays, or stays inside its surface.
                let pos = match self.pointer_hold() {
                    Some(hold) => match self.held_position(&hold, pos) {
                        Some(pos) => pos,
                        None => return,
                    },
                    None => pos,
                };
                self.handle_pointer_motion(pos, time)
            }
            Input::PointerMotionRelative {
                delta,
                unaccelerated,
                utime,
            } => self.handle_pointer_relative(delta, unaccelerated, utime),
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
            Input::TouchDown { slot, pos, time } => self.handle_touch_down(slot, pos, time),
            Input::TouchMotion { slot, pos, time } => self.handle_touch_motion(slot, pos, time),
            Input::TouchUp { slot, time } => self.handle_touch_up(slot, time),
            Input::TouchCancel => self.handle_touch_cancel(),
        }
    }

    /// Milliseconds on the compositor's monotonic clock, for injected events.
    pub fn now_ms(&self) -> u32 {
        let now: std::time::Duration = self.clock.now().into();
        now.as_millis() as u32
    }
}
