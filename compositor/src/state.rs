//! The compositor's state: one [`State`] owns the Wayland display, the desktop (windows and
//! their stacking), one seat per level, the backend and the trusted control socket.
//!
//! The level boundary is structural: a client's level is fixed when it connects (by the socket
//! it came through, see [`crate::sockets`]) and stored in its [`ClientState`]; each level has its
//! own `wl_seat` that only that level's clients can see (see [`crate::handlers::seat`]), so
//! keyboard focus, pointer focus, clipboard and primary selection are per level by construction.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cloison_config::{Color, Config};
use smithay::desktop::{PopupManager, Space, Window};
use smithay::input::pointer::CursorImageStatus;
use smithay::input::{Seat, SeatState};
use smithay::output::{Mode, Output, PhysicalProperties, Subpixel};
use smithay::reexports::calloop::{LoopHandle, LoopSignal};
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle, Resource};
use smithay::utils::{Clock, Logical, Monotonic, Point, Rectangle, Serial, Size, Transform};
use smithay::wayland::compositor::{CompositorClientState, CompositorState};
use smithay::wayland::cursor_shape::CursorShapeManagerState;
use smithay::wayland::fractional_scale::FractionalScaleManagerState;
use smithay::wayland::output::OutputManagerState;
use smithay::wayland::presentation::PresentationState;
use smithay::wayland::relative_pointer::RelativePointerManagerState;
use smithay::wayland::selection::data_device::DataDeviceState;
use smithay::wayland::selection::primary_selection::PrimarySelectionState;
use smithay::wayland::shell::xdg::XdgShellState;
use smithay::wayland::shell::xdg::decoration::XdgDecorationState;
use smithay::wayland::shm::ShmState;
use smithay::wayland::single_pixel_buffer::SinglePixelBufferState;
use smithay::wayland::viewporter::ViewporterState;
use smithay::wayland::xdg_activation::XdgActivationState;

use crate::backend::Backend;
use crate::input::InputState;
use crate::render::FrameClock;
use crate::shell::WindowManager;

/// Index of a level in the configuration (and in [`State::levels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LevelId(pub usize);

/// Per-client data. The level is decided once, by the socket the client connected through, and
/// never changes.
pub struct ClientState {
    /// smithay's per-client compositor state.
    pub compositor_state: CompositorClientState,
    /// The client's level.
    pub level: LevelId,
    /// The level's name, for checks that only see the client (global filters).
    pub level_name: Arc<str>,
    /// The level's live client count, decremented when this client goes away.
    clients: Arc<AtomicUsize>,
    /// Set on the first `disconnected`: wayland-backend 0.3 calls it again when a client that
    /// was already killed (a protocol error) is killed once more in the same dispatch, and the
    /// level's count must go down once.
    gone: std::sync::atomic::AtomicBool,
    /// Bit i set: `cloison_config::OPTIONAL_GLOBALS[i]` is offered to the level.
    globals: u32,
    /// What this client holds against its level's quotas ([`crate::limits`]).
    pub(crate) usage: crate::limits::ClientUsage,
    /// What its level holds, all its clients together.
    pub(crate) level_usage: Arc<crate::limits::Usage>,
}

impl ClientState {
    /// Data for a new client of `level`.
    pub fn new(level: &LevelState) -> ClientState {
        ClientState {
            compositor_state: CompositorClientState::default(),
            level: level.id,
            level_name: level.name.clone(),
            clients: level.clients.clone(),
            gone: Default::default(),
            globals: level.globals,
            usage: Default::default(),
            level_usage: level.usage.clone(),
        }
    }

    /// Whether the client's level is offered the optional global `interface`.
    pub fn offers(&self, interface: &str) -> bool {
        cloison_config::OPTIONAL_GLOBALS
            .iter()
            .position(|g| *g == interface)
            .is_some_and(|i| self.globals & (1 << i) != 0)
    }
}

impl ClientData for ClientState {
    fn initialized(&self, _client_id: ClientId) {
        self.clients.fetch_add(1, Ordering::Relaxed);
    }

    fn disconnected(&self, client_id: ClientId, reason: DisconnectReason) {
        if self.gone.swap(true, Ordering::Relaxed) {
            return;
        }
        self.clients.fetch_sub(1, Ordering::Relaxed);
        // Whatever its objects' destruction did not give back yet.
        self.release_all();
        match reason {
            DisconnectReason::ProtocolError(err) => tracing::warn!(
                level = %self.level_name,
                ?client_id,
                "client disconnected after a protocol error: {err}"
            ),
            DisconnectReason::ConnectionClosed => {
                tracing::debug!(level = %self.level_name, ?client_id, "client disconnected")
            }
        }
    }
}

/// One level as the compositor knows it.
pub struct LevelState {
    /// Its index.
    pub id: LevelId,
    /// Its name (configuration).
    pub name: Arc<str>,
    /// Its label (configuration), shown by trusted UI.
    pub label: String,
    /// Its colour (configuration).
    pub color: Color,
    /// Whether its clients may make themselves fullscreen.
    pub allow_fullscreen: bool,
    /// Absolute path of its Wayland socket (empty when the level has no socket, in tests).
    pub socket_path: String,
    /// Its seat: only its clients can bind it.
    pub seat: Seat<State>,
    /// The cursor its focused client asked for.
    pub cursor: CursorImageStatus,
    /// Connected clients.
    pub clients: Arc<AtomicUsize>,
    /// What its clients hold against its quotas ([`crate::limits`]).
    pub usage: Arc<crate::limits::Usage>,
    /// Quotas the bar already said the level went past (bit per [`crate::limits::Quota`]).
    pub quota_noticed: u8,
    /// Recent user input (key and button presses and releases, touches) delivered to the
    /// level's seat: serial-bound requests (popup grabs) count only with one of these serials.
    pub recent_input: std::collections::VecDeque<(Serial, Instant)>,
    /// Optional globals offered to the level (bit i: `cloison_config::OPTIONAL_GLOBALS[i]`).
    pub globals: u32,
    /// Serial at which the level last got the keyboard.
    pub focus_serial: Option<Serial>,
    /// The last user input delivered to the level's seat (key or button), and when.
    pub last_input: Option<(Serial, Instant)>,
    /// Whether the level's cage runs (as the launcher reports; always, without a launcher).
    pub running: bool,
    /// Its network as the launcher reports it: (what the bar says, whether it is a problem).
    pub network: Option<(String, bool)>,
    /// Its seat's keymap (a copy, for turning injected text into keys).
    pub keymap: smithay::input::keyboard::xkb::Keymap,
    /// Its layouts as the bar names them (`"fr(bepo)"`), in keymap order.
    pub layouts: Vec<String>,
    /// The layout its seat's keyboard uses now (an index into `layouts`).
    pub layout: usize,
}

/// How long user input counts for serial-bound requests (a popup grab).
pub const INPUT_LIFETIME: Duration = Duration::from_secs(30);
/// Input events remembered per level.
const RECENT_INPUT: usize = 16;

impl LevelState {
    /// Number of connected clients.
    pub fn client_count(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// User input (a key or button press or release, a touch) was delivered to the level's
    /// seat with `serial`.
    pub fn user_input(&mut self, serial: Serial, pressed: bool) {
        let now = Instant::now();
        if pressed {
            self.last_input = Some((serial, now));
        }
        if self.recent_input.len() == RECENT_INPUT {
            self.recent_input.pop_front();
        }
        self.recent_input.push_back((serial, now));
    }

    /// Whether `serial` is that of user input the level's seat got in the last
    /// [`INPUT_LIFETIME`]: a request bound to user input (a popup grab) counts only then.
    pub fn recent_input(&self, serial: Serial) -> bool {
        self.recent_input
            .iter()
            .any(|(s, at)| *s == serial && at.elapsed() < INPUT_LIFETIME)
    }
}

/// Per-window data, stored in the smithay `Window`'s user data.
#[derive(Debug, Clone, Copy)]
pub struct WindowInfo {
    /// Stable id for the control protocol.
    pub id: u64,
    /// The level of the window's client.
    pub level: LevelId,
}

/// The compositor.
pub struct State {
    /// The Wayland display.
    pub display_handle: DisplayHandle,
    /// The event loop, to add timers and sources.
    pub loop_handle: LoopHandle<'static, State>,
    /// Wakes calloop when stopping.
    pub loop_signal: LoopSignal,
    /// Cleared to end the main loop (see [`State::stop`]).
    pub running: bool,
    /// Monotonic clock for frame and presentation times.
    pub clock: Clock<Monotonic>,
    /// The validated configuration.
    pub config: Arc<Config>,

    /// Rendering and real input.
    pub backend: Backend,
    /// The primary output: the first of `outputs` (the menu and dialogs show on it, new
    /// windows open on it).
    pub output: Output,
    /// Every output, left to right as laid out (one for the headless and nested backends).
    pub outputs: Vec<Output>,
    /// Windows and their stacking order.
    pub space: Space<Window>,
    /// xdg popups.
    pub popups: PopupManager,
    /// Focus order, placement, pending windows.
    pub wm: WindowManager,
    /// Keyboard and pointer routing.
    pub input: InputState,
    /// Redraw scheduling.
    pub frame_clock: FrameClock,
    /// Trusted UI: font, bar.
    pub ui: crate::ui::Ui,
    /// The channel to the launcher.
    pub launcher: crate::launcher_link::LauncherLink,
    /// The cross-level clipboard's operations.
    pub clipboard: crate::clipboard::Clipboard,
    /// The icon of a drag in progress, if any.
    pub dnd_icon: Option<WlSurface>,
    /// The levels, indexed by [`LevelId`].
    pub levels: Vec<LevelState>,

    /// smithay protocol states.
    pub compositor_state: CompositorState,
    /// xdg-shell.
    pub xdg_shell_state: XdgShellState,
    /// xdg-decoration.
    pub xdg_decoration_state: XdgDecorationState,
    /// org_kde_kwin_server_decoration_manager (always "server").
    pub kde_decoration_state: smithay::wayland::shell::kde::decoration::KdeDecorationState,
    /// wl_shm.
    pub shm_state: ShmState,
    /// wl_output and xdg-output.
    pub output_manager_state: OutputManagerState,
    /// Seats.
    pub seat_state: SeatState<State>,
    /// wl_data_device_manager (clipboard and drag-and-drop, per seat).
    pub data_device_state: DataDeviceState,
    /// Primary selection (per seat).
    pub primary_selection_state: PrimarySelectionState,
    /// wp_viewporter.
    pub viewporter_state: ViewporterState,
    /// wp_presentation.
    pub presentation_state: PresentationState,
    /// wp_fractional_scale.
    pub fractional_scale_state: FractionalScaleManagerState,
    /// wp_cursor_shape.
    pub cursor_shape_state: CursorShapeManagerState,
    /// wp_single_pixel_buffer.
    pub single_pixel_buffer_state: SinglePixelBufferState,
    /// zwp_relative_pointer_manager_v1.
    pub relative_pointer_state: RelativePointerManagerState,
    /// zwp_pointer_constraints_v1.
    pub pointer_constraints_state: smithay::wayland::pointer_constraints::PointerConstraintsState,
    /// zwp_idle_inhibit_manager_v1.
    pub idle_inhibit_state: smithay::wayland::idle_inhibit::IdleInhibitManagerState,
    /// Surfaces holding the idle lock off (they count only while their window is on screen).
    pub idle_inhibitors: Vec<smithay::reexports::wayland_server::protocol::wl_surface::WlSurface>,
    /// xdg-activation.
    pub xdg_activation_state: XdgActivationState,
    /// MIME types offered so far by each live selection or drag source
    /// ([`crate::limits::MAX_MIME_TYPES`]).
    pub(crate) mime_offers:
        std::collections::HashMap<smithay::reexports::wayland_server::backend::ObjectId, usize>,
}

/// Errors that stop the compositor from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configured keyboard layout does not compile.
    #[error(
        "the keyboard layout {whose} in {source_name} (layout {layout:?}, variant {variant:?}, options {options:?}) cannot be compiled by xkbcommon\n  fix: use a layout listed by `localectl list-x11-keymap-layouts` (e.g. \"us\", \"fr\", \"de\") and a variant of it listed by `localectl list-x11-keymap-variants LAYOUT`"
    )]
    Keymap {
        /// Configuration name.
        source_name: String,
        /// `[keyboard]` or the level's.
        whose: String,
        /// xkb layout.
        layout: String,
        /// xkb variant.
        variant: String,
        /// xkb options.
        options: String,
    },
    /// A timer could not be created.
    #[error("cannot create a timer: {0}")]
    Timer(std::io::Error),
    /// Trusted UI could not be set up.
    #[error("{0}")]
    Ui(String),
    /// A configured shortcut names a key xkbcommon does not know.
    #[error(
        "shortcut {action} = {chord:?} in {source_name}: unknown key {key:?}\n  fix: use an xkb key name such as q, Tab, Up, F1, Return"
    )]
    Shortcut {
        /// Configuration name.
        source_name: String,
        /// The action.
        action: String,
        /// The chord.
        chord: String,
        /// The unknown key.
        key: String,
    },
}

impl State {
    /// Builds the state: globals, one seat per level, the output. Sockets are added by the
    /// caller ([`crate::sockets`]), so tests can attach clients over socket pairs instead.
    pub fn new(
        config: Arc<Config>,
        display_handle: DisplayHandle,
        loop_handle: LoopHandle<'static, State>,
        loop_signal: LoopSignal,
        backend: Backend,
        output_size: Size<i32, smithay::utils::Physical>,
    ) -> Result<State, StartError> {
        let dh = &display_handle;
        let clock = Clock::new();

        let compositor_state = CompositorState::new::<Self>(dh);
        let xdg_shell_state = XdgShellState::new::<Self>(dh);
        let xdg_decoration_state = XdgDecorationState::new_with_filter::<Self, _>(dh, |client| {
            crate::handlers::level_offers(client, "zxdg_decoration_manager_v1")
        });
        let kde_decoration_state =
            smithay::wayland::shell::kde::decoration::KdeDecorationState::new_with_filter::<
                Self,
                _,
            >(
                dh,
                smithay::reexports::wayland_protocols_misc::server_decoration::server::org_kde_kwin_server_decoration_manager::Mode::Server,
                |client| crate::handlers::level_offers(client, "org_kde_kwin_server_decoration_manager"),
            );
        let shm_state = ShmState::new::<Self>(dh, vec![]);
        let output_manager_state = OutputManagerState::new_with_xdg_output::<Self>(dh);
        let data_device_state = DataDeviceState::new::<Self>(dh);
        let primary_selection_state =
            PrimarySelectionState::new_with_filter::<Self, _>(dh, |client| {
                crate::handlers::level_offers(client, "zwp_primary_selection_device_manager_v1")
            });
        let xdg_activation_state = XdgActivationState::new::<Self>(dh);
        let viewporter_state = ViewporterState::new::<Self>(dh);
        let presentation_state = PresentationState::new::<Self>(dh, clock.id() as u32);
        let fractional_scale_state = FractionalScaleManagerState::new::<Self>(dh);
        let cursor_shape_state = CursorShapeManagerState::new::<Self>(dh);
        let single_pixel_buffer_state = SinglePixelBufferState::new::<Self>(dh);
        let relative_pointer_state = RelativePointerManagerState::new::<Self>(dh);
        let pointer_constraints_state =
            smithay::wayland::pointer_constraints::PointerConstraintsState::new::<Self>(dh);
        let idle_inhibit_state =
            smithay::wayland::idle_inhibit::IdleInhibitManagerState::new::<Self>(dh);

        let mut seat_state = SeatState::new();
        let keymap_error = |kb: &cloison_config::Keyboard, whose: String| StartError::Keymap {
            source_name: config.source.clone(),
            whose,
            layout: kb.layout.clone(),
            variant: kb.variant.clone(),
            options: kb.options.clone(),
        };
        let xkb = crate::keys::xkb_config(&config.keyboard);
        let mut levels = Vec::with_capacity(config.levels.len());
        for (index, level) in config.levels.iter().enumerate() {
            // One wl_seat per level; `handlers::seat` makes it visible to that level only.
            let mut seat: Seat<State> = seat_state.new_wl_seat(dh, level.name.clone());
            // The level's own keymap: what its clients get, and what typed text is made with.
            let kb = &level.keyboard;
            let level_error = || keymap_error(kb, format!("of level {:?}", level.name));
            let keymap = crate::keys::compile(kb).ok_or_else(level_error)?;
            seat.add_keyboard(
                crate::keys::xkb_config(kb),
                kb.repeat_delay as i32,
                kb.repeat_rate as i32,
            )
            .map_err(|_| level_error())?;
            seat.add_pointer();
            // Every seat can take touch: touches go to the level of the surface touched.
            seat.add_touch();
            seat.user_data().insert_if_missing(|| LevelId(index));
            levels.push(LevelState {
                id: LevelId(index),
                name: Arc::from(level.name.as_str()),
                label: level.label.clone(),
                color: level.color,
                allow_fullscreen: level.protocols.fullscreen,
                socket_path: String::new(),
                seat,
                cursor: CursorImageStatus::default_named(),
                clients: Arc::new(AtomicUsize::new(0)),
                usage: Default::default(),
                quota_noticed: 0,
                recent_input: Default::default(),
                globals: cloison_config::OPTIONAL_GLOBALS
                    .iter()
                    .enumerate()
                    .filter(|(_, g)| level.protocols.offers(g))
                    .fold(0, |mask, (i, _)| mask | (1 << i)),
                focus_serial: None,
                last_input: None,
                running: true,
                network: None,
                keymap,
                layouts: kb.layout_names(),
                layout: 0,
            });
        }
        let input = InputState::new(&xkb, &config.shortcuts).map_err(|e| match e {
            crate::input::InputError::Keymap => {
                keymap_error(&config.keyboard, "[keyboard]".to_string())
            }
            crate::input::InputError::Shortcut(action, chord, key) => StartError::Shortcut {
                source_name: config.source.clone(),
                action,
                chord,
                key,
            },
        })?;

        let output = Output::new(
            backend.name().to_string(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "Cloison".into(),
                model: backend.name().into(),
            },
        );
        let mode = Mode {
            size: output_size,
            refresh: 60_000,
        };
        let global = output.create_global::<State>(dh);
        output
            .user_data()
            .insert_if_missing(|| OutputGlobal(global));
        output.change_current_state(
            Some(mode),
            Some(Transform::Normal),
            None,
            Some((0, 0).into()),
        );
        output.set_preferred(mode);
        let mut space = Space::default();
        space.map_output(&output, (0, 0));

        let frame_clock = FrameClock::new(
            Duration::from_micros(1_000_000_000 / mode.refresh as u64),
            &loop_handle,
        )
        .map_err(StartError::Timer)?;
        let mut ui = crate::ui::Ui {
            font: crate::ui::font::Font::new().map_err(StartError::Ui)?,
            bar: crate::ui::bar::Bar::new(&loop_handle).map_err(StartError::Timer)?,
            menu: crate::ui::menu::Menu::default(),
            dialog: None,
            dialog_since: Instant::now(),
            dialogs_waiting: Vec::new(),
            refused_asks: Default::default(),
            dialog_cache: Default::default(),
            notifications: crate::ui::notifications::Stack::new(
                &config.notifications,
                config.levels.len(),
                Some(&loop_handle),
            ),
            lock: crate::ui::lock::LockScreen::new(
                std::env::var("CLOISON_USER")
                    .ok()
                    .map(|u| cloison_config::text::sanitize(&u, 64))
                    .filter(|u| !u.is_empty())
                    .unwrap_or_else(|| "the session's user".into()),
            ),
        };
        // Until a launcher says otherwise, the menu lists the configured apps.
        ui.menu.set_entries(
            config
                .levels
                .iter()
                .map(|l| l.apps.iter().map(|a| a.name.clone()).collect())
                .collect(),
        );

        Ok(State {
            display_handle,
            loop_handle,
            loop_signal,
            running: true,
            clock,
            config,
            backend,
            outputs: vec![output.clone()],
            output,
            space,
            popups: PopupManager::default(),
            wm: WindowManager::default(),
            input,
            frame_clock,
            ui,
            launcher: crate::launcher_link::LauncherLink::default(),
            clipboard: crate::clipboard::Clipboard::default(),
            dnd_icon: None,
            levels,
            compositor_state,
            xdg_shell_state,
            xdg_decoration_state,
            kde_decoration_state,
            shm_state,
            output_manager_state,
            seat_state,
            data_device_state,
            primary_selection_state,
            viewporter_state,
            presentation_state,
            fractional_scale_state,
            cursor_shape_state,
            single_pixel_buffer_state,
            relative_pointer_state,
            pointer_constraints_state,
            idle_inhibit_state,
            idle_inhibitors: Vec::new(),
            xdg_activation_state,
            mime_offers: Default::default(),
        })
    }

    /// Ends the main loop after the current iteration.
    pub fn stop(&mut self) {
        self.running = false;
        self.loop_signal.stop();
        self.loop_signal.wakeup();
    }

    /// The level of a client, if it is one of ours.
    pub fn client_level(&self, client: &Client) -> Option<LevelId> {
        client.get_data::<ClientState>().map(|c| c.level)
    }

    /// The level of the client owning `surface`.
    pub fn surface_level(&self, surface: &WlSurface) -> Option<LevelId> {
        let client = self.display_handle.get_client(surface.id()).ok()?;
        self.client_level(&client)
    }

    /// The level whose seat is `seat`.
    pub fn seat_level(seat: &Seat<State>) -> Option<LevelId> {
        seat.user_data().get::<LevelId>().copied()
    }

    /// A level's state.
    pub fn level(&self, id: LevelId) -> &LevelState {
        &self.levels[id.0]
    }

    /// Replaces the outputs with `outputs` (each placed at its position), in order; the
    /// first becomes the primary output. Outputs that are gone lose their global; windows
    /// left on no output come back to the primary one.
    pub fn set_outputs(&mut self, outputs: Vec<(Output, Point<i32, Logical>)>) {
        let Some((primary, _)) = outputs.first().cloned() else {
            tracing::warn!("no output left: keeping the last layout");
            return;
        };
        for old in std::mem::take(&mut self.outputs) {
            if !outputs.iter().any(|(o, _)| *o == old) {
                self.space.unmap_output(&old);
                if let Some(OutputGlobal(global)) = old.user_data().get::<OutputGlobal>() {
                    self.display_handle.remove_global::<State>(global.clone());
                }
            }
        }
        for (output, loc) in &outputs {
            if output.user_data().get::<OutputGlobal>().is_none() {
                let global = output.create_global::<State>(&self.display_handle);
                output
                    .user_data()
                    .insert_if_missing(|| OutputGlobal(global));
            }
            output.change_current_state(None, None, None, Some(*loc));
            self.space.map_output(output, *loc);
        }
        self.outputs = outputs.into_iter().map(|(o, _)| o).collect();
        self.output = primary;
        // Windows nowhere to be seen come back to the primary output.
        let lost: Vec<Window> = self
            .space
            .elements()
            .filter(|w| {
                let Some(loc) = self.space.element_location(w) else {
                    return false;
                };
                let rect = Rectangle::new(loc, crate::shell::window_geometry(w).size);
                !self.outputs.iter().any(|o| {
                    self.space
                        .output_geometry(o)
                        .is_some_and(|g| g.overlaps(rect))
                })
            })
            .cloned()
            .collect();
        let area = self.usable_area();
        for window in lost {
            self.move_window(&window, area.loc + Point::from((32, 48)));
        }
        let pointer = self.clamp_to_outputs(self.input.pointer);
        self.input.pointer = pointer;
        self.queue_redraw();
    }

    /// Every output with its area in global coordinates.
    pub fn output_geometries(&self) -> impl Iterator<Item = (&Output, Rectangle<i32, Logical>)> {
        self.outputs
            .iter()
            .filter_map(|o| Some((o, self.space.output_geometry(o)?)))
    }

    /// The area covered by all outputs (their bounding box).
    pub fn layout_geometry(&self) -> Rectangle<i32, Logical> {
        self.output_geometries()
            .map(|(_, g)| g)
            .reduce(|a, b| a.merge(b))
            .unwrap_or_else(|| self.output_geometry())
    }

    /// The area of the output at `pos`, if any.
    pub fn output_at(&self, pos: Point<f64, Logical>) -> Option<Rectangle<i32, Logical>> {
        self.output_geometries()
            .map(|(_, g)| g)
            .find(|g| g.to_f64().contains(pos))
    }

    /// `pos` moved onto the nearest output (the pointer never leaves the screens).
    pub fn clamp_to_outputs(&self, pos: Point<f64, Logical>) -> Point<f64, Logical> {
        let clamp = |g: Rectangle<i32, Logical>| {
            let g = g.to_f64();
            Point::<f64, Logical>::from((
                pos.x.clamp(g.loc.x, g.loc.x + g.size.w - 1.0),
                pos.y.clamp(g.loc.y, g.loc.y + g.size.h - 1.0),
            ))
        };
        let distance = |p: Point<f64, Logical>| (p.x - pos.x).powi(2) + (p.y - pos.y).powi(2);
        self.output_geometries()
            .map(|(_, g)| clamp(g))
            .min_by(|a, b| distance(*a).total_cmp(&distance(*b)))
            .unwrap_or_else(|| clamp(self.output_geometry()))
    }

    /// The trusted bar's area on the output at `pos`, if `pos` is on a bar.
    pub fn bar_at(&self, pos: Point<f64, Logical>) -> Option<Rectangle<i32, Logical>> {
        let g = self.output_at(pos)?;
        let bar = Rectangle::new(g.loc, (g.size.w, g.size.h - below_bar(g).size.h).into());
        bar.to_f64().contains(pos).then_some(bar)
    }

    /// The primary output's area in global coordinates.
    pub fn output_geometry(&self) -> Rectangle<i32, Logical> {
        self.space
            .output_geometry(&self.output)
            .unwrap_or_else(|| Rectangle::from_size((1920, 1080).into()))
    }

    /// The area windows (frames included) may use: the primary output below the trusted bar.
    pub fn usable_area(&self) -> Rectangle<i32, Logical> {
        below_bar(self.output_geometry())
    }

    /// The area windows may use on the output that shows most of `rect` (the primary output
    /// if none does).
    pub fn usable_area_for(&self, rect: Rectangle<i32, Logical>) -> Rectangle<i32, Logical> {
        let overlap = |g: &Rectangle<i32, Logical>| {
            g.intersection(rect)
                .map(|i| i.size.w as i64 * i.size.h as i64)
                .unwrap_or(0)
        };
        self.output_geometries()
            .map(|(_, g)| g)
            .filter(|g| overlap(g) > 0)
            .max_by_key(overlap)
            .map_or_else(|| self.usable_area(), below_bar)
    }

    /// The content rectangle of a maximized (`fullscreen = false`) or fullscreen window: the
    /// usable area minus the window's frame.
    pub fn fill_area(&self, fullscreen: bool) -> Rectangle<i32, Logical> {
        self.fill_area_in(self.usable_area(), fullscreen)
    }

    /// The same, in `area` (the usable area of one output).
    pub fn fill_area_in(
        &self,
        area: Rectangle<i32, Logical>,
        fullscreen: bool,
    ) -> Rectangle<i32, Logical> {
        let (ew, eh) = crate::ui::FrameLayout::extra(fullscreen);
        Rectangle::new(
            crate::ui::FrameLayout::content_loc(area.loc, fullscreen),
            ((area.size.w - ew).max(1), (area.size.h - eh).max(1)).into(),
        )
    }

    /// The window whose toplevel surface is `surface`.
    pub fn window_for_surface(&self, surface: &WlSurface) -> Option<Window> {
        self.space
            .elements()
            .chain(self.wm.pending.iter())
            .chain(self.wm.minimized.iter())
            .find(|w| w.toplevel().is_some_and(|t| t.wl_surface() == surface))
            .cloned()
    }
}

/// The part of `area` below the trusted bar at its top.
pub fn below_bar(area: Rectangle<i32, Logical>) -> Rectangle<i32, Logical> {
    let bar = crate::ui::BAR_HEIGHT.min(area.size.h);
    Rectangle::new(
        (area.loc.x, area.loc.y + bar).into(),
        (area.size.w, area.size.h - bar).into(),
    )
}

/// An output's global, kept in its user data so it can be removed with the output.
struct OutputGlobal(smithay::reexports::wayland_server::backend::GlobalId);

/// The [`WindowInfo`] of a window.
pub fn window_info(window: &Window) -> Option<WindowInfo> {
    window.user_data().get::<WindowInfo>().copied()
}
