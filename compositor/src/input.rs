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
    /// The last press on a title bar (window id, when), for double clicks.
    last_title_press: Option<(u64, Instant)>,
    /// The launcher menu opens on a tap of Super alone (the configured `"super"`).
    super_tap: bool,
    /// A Super key is down and nothing else was pressed since: its release opens the menu.
    super_armed: bool,
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
                _ => Action::PasteFromGlobal,
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
            last_title_press: None,
            super_tap,
            super_armed: false,
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
        match input {
            Input::Key {
                keycode,
                pressed,
                time,
            } => self.handle_key(keycode, pressed, time),
            Input::PointerMotion { pos, time } => self.handle_pointer_motion(pos, time),
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

    /// A touch down goes to the level of the surface under it (and focuses its window, like a
    /// click); the touch point stays with that level's seat until it is lifted. Trusted UI
    /// (bar, frames, menu, dialog) takes no touch: no client sees those.
    fn handle_touch_down(&mut self, slot: u32, pos: Point<f64, Logical>, time: u32) {
        tracing::trace!(slot, ?pos, "touch down");
        if self.ui.menu.open || self.ui.dialog.is_some() || self.input.touches.contains_key(&slot) {
            return;
        }
        let (window, surface, origin, level) = match self.under(pos) {
            Under::Surface {
                window,
                surface,
                origin,
                level,
            } => (window, surface, origin, level),
            Under::Inert { window } | Under::Frame { window, .. } => {
                if self.wm.focused.as_ref() != Some(&window) {
                    self.focus_window(Some(&window));
                }
                return;
            }
            Under::Bar | Under::Nothing => return,
        };
        if self.wm.focused.as_ref() != Some(&window) {
            self.focus_window(Some(&window));
        }
        let Some(touch) = self.levels[level.0].seat.get_touch() else {
            return;
        };
        self.input.touches.insert(slot, (level, surface.clone()));
        let serial = SERIAL_COUNTER.next_serial();
        self.levels[level.0].user_input(serial, true);
        touch.down(
            self,
            Some((surface, origin)),
            &smithay::input::touch::DownEvent {
                slot: Some(slot).into(),
                location: pos,
                serial,
                time,
            },
        );
        touch.frame(self);
    }

    fn handle_touch_motion(&mut self, slot: u32, pos: Point<f64, Logical>, time: u32) {
        let Some(level) = self.input.touches.get(&slot).map(|t| t.0) else {
            return;
        };
        let Some(touch) = self.levels[level.0].seat.get_touch() else {
            return;
        };
        // The point keeps the surface it went down on; only its own level's surfaces are
        // ever named.
        let focus = match self.under(pos) {
            Under::Surface {
                surface,
                origin,
                level: l,
                ..
            } if l == level => Some((surface, origin)),
            _ => None,
        };
        touch.motion(
            self,
            focus,
            &smithay::input::touch::MotionEvent {
                slot: Some(slot).into(),
                location: pos,
                time,
            },
        );
        touch.frame(self);
    }

    fn handle_touch_up(&mut self, slot: u32, time: u32) {
        let Some((level, _)) = self.input.touches.remove(&slot) else {
            return;
        };
        let Some(touch) = self.levels[level.0].seat.get_touch() else {
            return;
        };
        touch.up(
            self,
            &smithay::input::touch::UpEvent {
                slot: Some(slot).into(),
                serial: SERIAL_COUNTER.next_serial(),
                time,
            },
        );
        touch.frame(self);
    }

    /// `root` goes away (a window destroyed or unmapped, a surface destroyed): touch points on
    /// it or on its subsurfaces are lifted, while its client can still be told.
    pub fn release_touches_on(
        &mut self,
        root: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
    ) {
        let slots: Vec<u32> = self
            .input
            .touches
            .iter()
            .filter(|(_, (_, surface))| {
                let mut node = Some(surface.clone());
                while let Some(n) = node {
                    if n == *root {
                        return true;
                    }
                    node = smithay::wayland::compositor::get_parent(&n);
                }
                false
            })
            .map(|(slot, _)| *slot)
            .collect();
        for slot in slots {
            let time = self.now_ms();
            self.handle_touch_up(slot, time);
        }
    }

    fn handle_touch_cancel(&mut self) {
        let levels: std::collections::BTreeSet<usize> =
            self.input.touches.drain().map(|(_, (l, _))| l.0).collect();
        for level in levels {
            if let Some(touch) = self.levels[level].seat.get_touch() {
                touch.cancel(self);
            }
        }
    }

    fn handle_key(&mut self, keycode: u32, pressed: bool, time: u32) {
        let serial = SERIAL_COUNTER.next_serial();
        let xkb_keycode = xkb::Keycode::new(keycode);
        let sym = self
            .input
            .keymap
            .key_get_syms_by_level(xkb_keycode, 0, 0)
            .first()
            .copied();
        let is_super =
            matches!(sym, Some(s) if s == xkb::Keysym::Super_L || s == xkb::Keysym::Super_R);
        // With the Super tap, Super belongs to the compositor: no client sees it.
        let reserved = self.input.super_tap && is_super;
        if pressed {
            // Ctrl+Alt+F1…F12 (the keymap's XF86Switch_VT_n) switch virtual terminals where the
            // compositor owns a seat; no client sees them.
            let vt_sym = self.input.xkb.key_get_one_sym(xkb_keycode).raw();
            let first = xkb::Keysym::XF86_Switch_VT_1.raw();
            if (first..first + 12).contains(&vt_sym)
                && crate::backend::switch_vt(self, (vt_sym - first + 1) as i32)
            {
                self.input.pressed.insert(keycode, KeyRoute::Intercepted);
                return;
            }
        }
        let route = if pressed {
            let action = self.input.shortcut(keycode);
            self.input
                .xkb
                .update_key(xkb_keycode, xkb::KeyDirection::Down);
            self.input.super_armed = reserved && self.input.pressed.is_empty();
            let menu_open = self.ui.menu.open;
            let dialog_open = self.ui.dialog.is_some();
            let route = match (action, self.focused_level()) {
                _ if reserved || menu_open || dialog_open => KeyRoute::Intercepted,
                (Some(_), _) => KeyRoute::Intercepted,
                (None, Some(level)) => KeyRoute::Level(level),
                (None, None) => KeyRoute::Dropped,
            };
            // A repeated press (no release in between) keeps its first route.
            let route = *self.input.pressed.entry(keycode).or_insert(route);
            if dialog_open {
                if let Some(sym) = sym {
                    self.dialog_key(sym);
                }
            } else if menu_open {
                if let Some(sym) = sym {
                    self.menu_key(sym);
                }
            } else if let Some(action) = action {
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
            if reserved && std::mem::take(&mut self.input.super_armed) && self.ui.dialog.is_none() {
                self.toggle_menu();
            }
            if self.wm.cycle.is_some() && !self.input.cycle_held() {
                self.input.cycle_mods = None;
                self.end_focus_cycle();
            }
            route
        };
        if let KeyRoute::Level(level) = route
            && let Some(keyboard) = self.levels[level.0].seat.get_keyboard()
        {
            self.levels[level.0].user_input(serial, pressed);
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
        let focused = self.wm.focused.clone();
        match action {
            Action::CycleForward | Action::CycleBackward => {
                self.input.cycle_mods = self
                    .input
                    .bindings
                    .iter()
                    .find(|(a, _)| *a == action)
                    .map(|(_, b)| *b);
                self.cycle_focus(action == Action::CycleForward);
            }
            Action::Maximize => {
                if let Some(w) = focused {
                    self.toggle_maximize(&w);
                }
            }
            Action::Fullscreen => {
                if let Some(w) = focused {
                    self.toggle_fullscreen(&w);
                }
            }
            Action::Close => {
                if let Some(t) = focused.as_ref().and_then(|w| w.toplevel()) {
                    t.send_close();
                }
            }
            Action::Minimize => {
                if let Some(w) = focused {
                    self.minimize(&w);
                }
            }
            Action::LauncherMenu => self.toggle_menu(),
            Action::CopyToGlobal => self.copy_to_global(),
            Action::PasteFromGlobal => self.paste_from_global(),
        }
    }

    fn dialog_key(&mut self, sym: xkb::Keysym) {
        use crate::ui::dialog::Answer;
        match sym {
            xkb::Keysym::Return | xkb::Keysym::KP_Enter => self.answer_dialog(Answer::Accept),
            xkb::Keysym::Escape => self.answer_dialog(Answer::Refuse),
            _ => {}
        }
    }

    /// Opens the launcher menu on the focused level's column, or closes it. Opening takes the
    /// pointer from the clients (they see it leave) until the menu closes.
    pub fn toggle_menu(&mut self) {
        let level = self.focused_level().map_or(0, |l| l.0);
        self.ui.menu.toggle(level);
        if self.ui.menu.open {
            self.release_pointer_from_clients();
        }
        self.queue_redraw();
    }

    /// Takes the pointer from the clients (they see it leave) while trusted UI is modal.
    pub fn release_pointer(&mut self) {
        self.release_pointer_from_clients();
    }

    fn release_pointer_from_clients(&mut self) {
        if let Some(old) = self.input.pointer_level.take() {
            let event = MotionEvent {
                location: self.input.pointer,
                serial: SERIAL_COUNTER.next_serial(),
                time: self.now_ms(),
            };
            if let Some(pointer) = self.levels[old.0].seat.get_pointer() {
                pointer.motion(self, None, &event);
                pointer.frame(self);
            }
            self.levels[old.0].cursor = CursorImageStatus::default_named();
        }
    }

    fn menu_key(&mut self, sym: xkb::Keysym) {
        use crate::ui::menu::MenuKey;
        let key = match sym {
            xkb::Keysym::Up | xkb::Keysym::KP_Up => MenuKey::Up,
            xkb::Keysym::Down | xkb::Keysym::KP_Down | xkb::Keysym::Tab => MenuKey::Down,
            xkb::Keysym::Left | xkb::Keysym::KP_Left => MenuKey::Left,
            xkb::Keysym::Right | xkb::Keysym::KP_Right => MenuKey::Right,
            xkb::Keysym::Return | xkb::Keysym::KP_Enter => MenuKey::Enter,
            xkb::Keysym::Escape => MenuKey::Escape,
            _ => return,
        };
        let outcome = self.ui.menu.key(key);
        self.menu_outcome(outcome);
    }

    fn menu_outcome(&mut self, outcome: crate::ui::menu::MenuOutcome) {
        use crate::ui::menu::MenuOutcome;
        if let MenuOutcome::Launch(level, app) = outcome
            && let Some(level) = self.levels.get(level)
        {
            let level = level.name.to_string();
            self.launch(level, app);
        }
        self.queue_redraw();
    }

    /// Gives the pointer again if what is under it changed (a window moved, opened, resized or
    /// closed) while it stood still; nothing is sent otherwise.
    pub fn refresh_pointer_focus(&mut self) {
        if !self.input.pointer_seen
            || self.ui.menu.open
            || self.ui.dialog.is_some()
            || self.input.frame_grab.is_some()
        {
            return;
        }
        let grabbed = self.input.pointer_level.is_some_and(|l| {
            self.levels[l.0]
                .seat
                .get_pointer()
                .is_some_and(|p| p.is_grabbed())
        });
        if grabbed {
            return;
        }
        let now = match self.under(self.input.pointer) {
            Under::Surface {
                surface, origin, ..
            } => Some((surface, origin)),
            _ => None,
        };
        if now != self.input.pointer_focus {
            let time = self.now_ms();
            self.handle_pointer_motion(self.input.pointer, time);
        }
    }

    fn handle_pointer_relative(
        &mut self,
        delta: Point<f64, Logical>,
        unaccelerated: Point<f64, Logical>,
        utime: u64,
    ) {
        let pos = self.input.pointer + delta;
        self.handle_pointer_motion(pos, (utime / 1000) as u32);
        // Only to the surface the level's own seat just got (none over trusted UI, during a
        // frame grab or while the menu or a dialog is open).
        let (Some(level), Some(focus)) =
            (self.input.pointer_level, self.input.pointer_focus.clone())
        else {
            return;
        };
        if self.ui.menu.open || self.ui.dialog.is_some() || self.input.frame_grab.is_some() {
            return;
        }
        if let Some(pointer) = self.levels[level.0].seat.get_pointer() {
            pointer.relative_motion(
                self,
                Some(focus),
                &smithay::input::pointer::RelativeMotionEvent {
                    delta,
                    delta_unaccel: unaccelerated,
                    utime,
                },
            );
            pointer.frame(self);
        }
    }

    fn handle_pointer_motion(&mut self, pos: Point<f64, Logical>, time: u32) {
        let pos = self.clamp_to_outputs(pos);
        self.input.pointer = pos;
        self.input.pointer_seen = true;
        self.queue_redraw();

        // The menu and the dialog are modal: no client follows the pointer while one is open.
        if self.ui.menu.open || self.ui.dialog.is_some() {
            return;
        }
        if self.input.frame_grab.is_some() {
            self.frame_grab_motion(pos);
            return;
        }

        let serial = SERIAL_COUNTER.next_serial();
        let event = MotionEvent {
            location: pos,
            serial,
            time,
        };
        let under = match self.under(pos) {
            Under::Surface {
                surface,
                origin,
                level,
                ..
            } => Some((surface, origin, level)),
            _ => None,
        };

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
            self.levels[old.0].cursor = CursorImageStatus::default_named();
        }
        self.input.pointer_level = target;
        self.input.pointer_focus = None;
        if let Some(level) = target {
            // Only ever give a seat its own level's surfaces.
            let focus = under
                .filter(|(_, _, l)| *l == level)
                .map(|(surface, origin, _)| (surface, origin));
            self.input.pointer_focus = focus.clone();
            if let Some(pointer) = self.levels[level.0].seat.get_pointer() {
                pointer.motion(self, focus, &event);
                pointer.frame(self);
            }
        }
    }

    fn handle_pointer_button(&mut self, button: u32, pressed: bool, time: u32) {
        let serial = SERIAL_COUNTER.next_serial();
        if self.ui.dialog.is_some() {
            // Only its buttons answer; a click elsewhere changes nothing (focus included).
            if pressed
                && let Some(answer) = crate::ui::dialog::ConfirmDialog::hit(
                    self.output_geometry().size,
                    self.input.pointer - self.output_geometry().loc.to_f64(),
                )
            {
                self.answer_dialog(answer);
            }
            return;
        }
        if self.ui.menu.open {
            // A click on an entry starts it; anywhere else closes the menu. No client sees it.
            if pressed {
                let primary = self.output_geometry();
                let at = self.input.pointer - primary.loc.to_f64();
                let outcome = match self.ui.menu.hit(primary.size, at) {
                    Some((level, app)) => {
                        self.ui.menu.open = false;
                        crate::ui::menu::MenuOutcome::Launch(level, app)
                    }
                    None => {
                        self.ui.menu.open = false;
                        crate::ui::menu::MenuOutcome::Closed
                    }
                };
                self.menu_outcome(outcome);
            }
            return;
        }
        if self.input.frame_grab.is_some() {
            if !pressed {
                self.end_frame_grab();
            }
            return;
        }
        let client_grab = self.input.pointer_level.is_some_and(|l| {
            self.levels[l.0]
                .seat
                .get_pointer()
                .is_some_and(|p| p.is_grabbed())
        });
        if pressed && !client_grab {
            match self.under(self.input.pointer) {
                Under::Frame { window, part } => {
                    if self.wm.focused.as_ref() != Some(&window) {
                        self.focus_window(Some(&window));
                    }
                    if button == BTN_LEFT {
                        self.start_frame_grab(window, part);
                    }
                    // The frame is the compositor's: no client sees this press.
                    return;
                }
                Under::Surface { window, .. } | Under::Inert { window } => {
                    if self.wm.focused.as_ref() != Some(&window) {
                        self.focus_window(Some(&window));
                    }
                }
                Under::Bar => {
                    let bar = self
                        .bar_at(self.input.pointer)
                        .unwrap_or_else(|| self.output_geometry());
                    if crate::ui::bar::menu_button_hit(
                        bar.size.w,
                        self.input.pointer - bar.loc.to_f64(),
                    ) {
                        self.toggle_menu();
                        return;
                    }
                    // Anywhere else on the bar: a waiting transfer request opens; else a
                    // transfer in progress is cancelled (what the bar's line says).
                    if self.ui.dialogs_waiting.iter().any(|d| !d.by_user) {
                        self.open_waiting_dialog();
                        return;
                    }
                    if let Some((id, _)) = self.ui.bar.transfer.clone() {
                        self.launcher
                            .send(cloison_ipc::session::ToLauncher::CancelTransfer { id });
                        return;
                    }
                }
                Under::Nothing => self.focus_window(None),
            }
        }
        if let Some(level) = self.input.pointer_level
            && let Some(pointer) = self.levels[level.0].seat.get_pointer()
        {
            self.levels[level.0].user_input(serial, pressed);
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

    fn start_frame_grab(&mut self, window: Window, part: Part) {
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

    fn frame_grab_motion(&mut self, pos: Point<f64, Logical>) {
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

    fn end_frame_grab(&mut self) {
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
