//! Cloison's compositor as a WLCS integration (`libcloison_wlcs.so`).
//!
//! The Wayland Conformance Test Suite loads this library and drives a display server through
//! it. The server is the real compositor: the same `State` (levels, seats, protocol policy,
//! frames, the trusted bar) on the headless pixman backend, run by the same main loop as
//! `cloison-compositor` (`cloison_compositor::main_loop`), in a thread of the WLCS process.
//! Every WLCS client is attached to one level, as if it had connected through that level's
//! socket: `CLOISON_WLCS_LEVEL` (default `low`). `CLOISON_WLCS_CONFIG` names a configuration
//! file (default: the built-in one, as `cloison run` uses).
//!
//! WLCS's global coordinates are the desktop's: the output below the trusted bar, which stays
//! on top and takes its own input as in a session. A window WLCS places at (0, 0) has its
//! content at the top-left of the usable area (its title bar is then above it, under the bar).
//!
//! WLCS calls come from its test thread; each is a command sent to the server thread, which
//! answers once it has applied it, so that a test's next round trip sees its effect (input
//! and window positions are never raced by the client's own requests).

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd as _, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use cloison_compositor::input::Input;
use cloison_compositor::state::ClientState;
use cloison_config::Config;
use smithay::reexports::calloop::channel::{Channel, Event as ChannelEvent, Sender, channel};
use smithay::reexports::wayland_server::{Client, Resource as _};
use smithay::utils::{Logical, Point};
use wayland_sys::client::{wl_display, wl_proxy};
use wayland_sys::common::{wl_fixed_t, wl_fixed_to_double};
use wlcs::ffi_display_server_api::{
    WlcsExtensionDescriptor, WlcsIntegrationDescriptor, WlcsServerIntegration,
};
use wlcs::ffi_wrappers::wlcs_server;
use wlcs::{Wlcs, extension_list, wlcs_server_integration};

wlcs_server_integration!(CloisonServer);

// The two libwayland-client calls needed to know which client and surface WLCS means. Linked
// directly (the runner has the library loaded): wayland-sys exposes them differently depending
// on whether another crate of the build turned its `dlopen` feature on.
#[link(name = "wayland-client")]
unsafe extern "C" {
    fn wl_display_get_fd(display: *mut wl_display) -> std::os::raw::c_int;
    fn wl_proxy_get_id(proxy: *mut wl_proxy) -> u32;
}

/// The output WLCS sees.
const SIZE: (i32, i32) = (1280, 1024);

/// What a level is offered by default (see `cloison_config::OPTIONAL_GLOBALS`), at the
/// versions the compositor creates them with. WLCS skips the tests of protocols not listed.
static EXTENSIONS: &[WlcsExtensionDescriptor] = extension_list!(
    ("wl_compositor", 6),
    ("wl_shm", 1),
    ("wl_seat", 9),
    ("wl_output", 4),
    ("xdg_wm_base", 6),
    ("wl_subcompositor", 1),
    ("zxdg_output_manager_v1", 3),
    ("zxdg_decoration_manager_v1", 1),
    ("wl_data_device_manager", 3),
    ("zwp_primary_selection_device_manager_v1", 1),
    ("wp_viewporter", 1),
    ("wp_presentation", 1),
    ("wp_fractional_scale_manager_v1", 1),
    ("wp_cursor_shape_manager_v1", 1),
    ("wp_single_pixel_buffer_manager_v1", 1),
    ("xdg_activation_v1", 1),
    ("zwp_relative_pointer_manager_v1", 1),
    ("zwp_pointer_constraints_v1", 1),
);

static DESCRIPTOR: WlcsIntegrationDescriptor = WlcsIntegrationDescriptor {
    version: 1,
    num_extensions: EXTENSIONS.len(),
    supported_extensions: EXTENSIONS.as_ptr(),
};

/// A request from the WLCS thread, answered on `done` once applied.
enum Command {
    Stop,
    NewClient {
        stream: UnixStream,
        key: i32,
    },
    Position {
        key: i32,
        surface: u32,
        at: Point<i32, Logical>,
    },
    PointerTo(Point<f64, Logical>),
    PointerBy(Point<f64, Logical>),
    Button {
        code: u32,
        pressed: bool,
    },
    /// A touch slot: down (true) or moved (false) to a point, or lifted (None).
    Touch(u32, Option<(Point<f64, Logical>, bool)>),
}

struct Server {
    sender: Sender<(Command, SyncSender<()>)>,
    thread: JoinHandle<()>,
}

impl Server {
    fn call(sender: &Sender<(Command, SyncSender<()>)>, command: Command) {
        let (done, wait) = sync_channel(1);
        if sender.send((command, done)).is_ok() {
            // The server answers at once; a dead server must not hang the suite.
            let _ = wait.recv_timeout(Duration::from_secs(10));
        }
    }
}

/// The integration's handle.
pub struct CloisonServer {
    server: Option<Server>,
}

impl Wlcs for CloisonServer {
    type Pointer = PointerHandle;
    type Touch = TouchHandle;

    fn new() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("CLOISON_WLCS_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
            )
            .with_writer(std::io::stderr)
            .try_init();
        CloisonServer { server: None }
    }

    fn start(&mut self) {
        let (sender, commands) = channel();
        let thread = std::thread::spawn(move || {
            if let Err(err) = serve(commands) {
                tracing::error!("the compositor failed: {err:#}");
            }
        });
        self.server = Some(Server { sender, thread });
    }

    fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            Server::call(&server.sender, Command::Stop);
            let _ = server.thread.join();
        }
    }

    fn create_client_socket(&self) -> std::io::Result<OwnedFd> {
        let server = self
            .server
            .as_ref()
            .ok_or(std::io::ErrorKind::NotConnected)?;
        let (ours, theirs) = UnixStream::pair()?;
        Server::call(
            &server.sender,
            Command::NewClient {
                stream: theirs,
                key: ours.as_raw_fd(),
            },
        );
        Ok(ours.into())
    }

    // The signature is the wlcs crate's: WLCS hands over live pointers of its own client.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn position_window_absolute(
        &self,
        display: *mut wl_display,
        surface: *mut wl_proxy,
        x: i32,
        y: i32,
    ) {
        // SAFETY: WLCS passes its live client display and surface proxy.
        let (key, surface) = unsafe { (wl_display_get_fd(display), wl_proxy_get_id(surface)) };
        if let Some(server) = &self.server {
            Server::call(
                &server.sender,
                Command::Position {
                    key,
                    surface,
                    at: (x, y).into(),
                },
            );
        }
    }

    fn create_pointer(&mut self) -> Option<Self::Pointer> {
        let server = self.server.as_ref()?;
        Some(PointerHandle {
            sender: server.sender.clone(),
        })
    }

    fn create_touch(&mut self) -> Option<Self::Touch> {
        let server = self.server.as_ref()?;
        Some(TouchHandle {
            sender: server.sender.clone(),
            slot: NEXT_SLOT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    fn get_descriptor(&self) -> &WlcsIntegrationDescriptor {
        &DESCRIPTOR
    }
}

/// A WLCS pointer: input as if from a real device.
pub struct PointerHandle {
    sender: Sender<(Command, SyncSender<()>)>,
}

impl wlcs::Pointer for PointerHandle {
    fn move_absolute(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        let at = (wl_fixed_to_double(x), wl_fixed_to_double(y)).into();
        Server::call(&self.sender, Command::PointerTo(at));
    }

    fn move_relative(&mut self, dx: wl_fixed_t, dy: wl_fixed_t) {
        let by = (wl_fixed_to_double(dx), wl_fixed_to_double(dy)).into();
        Server::call(&self.sender, Command::PointerBy(by));
    }

    fn button_up(&mut self, button: i32) {
        Server::call(
            &self.sender,
            Command::Button {
                code: button as u32,
                pressed: false,
            },
        );
    }

    fn button_down(&mut self, button: i32) {
        Server::call(
            &self.sender,
            Command::Button {
                code: button as u32,
                pressed: true,
            },
        );
    }
}

/// Touch slots: one per WLCS touch device (each has one finger).
static NEXT_SLOT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A WLCS touch device: one finger.
pub struct TouchHandle {
    sender: Sender<(Command, SyncSender<()>)>,
    slot: u32,
}

/// WLCS 1.5 hands touch positions over as whole pixels in the `wl_fixed_t` parameters
/// (`touch->touch_down(touch, x, y)` with ints), unlike pointer positions.
fn touch_point(x: wl_fixed_t, y: wl_fixed_t) -> Point<f64, Logical> {
    (f64::from(x), f64::from(y)).into()
}

impl wlcs::Touch for TouchHandle {
    fn touch_down(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        let at = touch_point(x, y);
        Server::call(&self.sender, Command::Touch(self.slot, Some((at, true))));
    }

    fn touch_move(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        let at = touch_point(x, y);
        Server::call(&self.sender, Command::Touch(self.slot, Some((at, false))));
    }

    fn touch_up(&mut self) {
        Server::call(&self.sender, Command::Touch(self.slot, None));
    }
}

/// The server thread: the real compositor state and main loop.
fn serve(commands: Channel<(Command, SyncSender<()>)>) -> anyhow::Result<()> {
    let config = match std::env::var_os("CLOISON_WLCS_CONFIG") {
        Some(path) => {
            let text = std::fs::read_to_string(&path)?;
            cloison_config::parse(&text, &path.to_string_lossy())?
        }
        None => Config::builtin(),
    };
    let level_name = std::env::var("CLOISON_WLCS_LEVEL").unwrap_or_else(|_| "low".into());
    let (mut event_loop, display, mut state) = cloison_compositor::in_process(config, SIZE.into())?;
    let level = state
        .levels
        .iter()
        .position(|l| *l.name == *level_name)
        .ok_or_else(|| anyhow::anyhow!("CLOISON_WLCS_LEVEL: no level {level_name:?}"))?;
    let mut clients: Vec<(i32, Client)> = Vec::new();
    event_loop
        .handle()
        .insert_source(commands, move |event, _, state| {
            let (command, done) = match event {
                ChannelEvent::Msg(m) => m,
                ChannelEvent::Closed => {
                    state.stop();
                    return;
                }
            };
            match command {
                Command::Stop => state.stop(),
                Command::NewClient { stream, key } => {
                    let client_state = Arc::new(ClientState::new(&state.levels[level]));
                    match state.display_handle.insert_client(stream, client_state) {
                        Ok(client) => {
                            clients.retain(|(k, _)| *k != key);
                            clients.push((key, client));
                        }
                        Err(err) => tracing::error!("cannot add a WLCS client: {err}"),
                    }
                }
                Command::Position { key, surface, at } => {
                    let client = clients.iter().find(|(k, _)| *k == key).map(|(_, c)| c);
                    let window = state
                        .space
                        .elements()
                        .find(|w| {
                            w.toplevel().is_some_and(|t| {
                                let s = t.wl_surface();
                                s.id().protocol_id() == surface && s.client().as_ref() == client
                            })
                        })
                        .cloned();
                    match window {
                        // Exactly where WLCS asks (in the desktop's coordinates): it computes
                        // input positions from it.
                        Some(window) => {
                            let at = at + state.usable_area().loc;
                            state.space.map_element(window, at, false);
                            state.refresh_pointer_focus();
                            state.queue_redraw();
                        }
                        None => tracing::warn!(surface, "WLCS positions an unknown window"),
                    }
                }
                Command::PointerTo(pos) => {
                    let pos = pos + state.usable_area().loc.to_f64();
                    let time = state.now_ms();
                    state.handle_input(Input::PointerMotion { pos, time });
                }
                Command::PointerBy(delta) => {
                    let utime = u64::from(state.now_ms()) * 1000;
                    state.handle_input(Input::PointerMotionRelative {
                        delta,
                        unaccelerated: delta,
                        utime,
                    });
                }
                Command::Button { code, pressed } => {
                    let time = state.now_ms();
                    state.handle_input(Input::PointerButton {
                        button: code,
                        pressed,
                        time,
                    });
                }
                Command::Touch(slot, what) => {
                    let origin = state.usable_area().loc.to_f64();
                    let what = what.map(|(pos, down)| (pos + origin, down));
                    let time = state.now_ms();
                    state.handle_input(match what {
                        Some((pos, true)) => Input::TouchDown { slot, pos, time },
                        Some((pos, false)) => Input::TouchMotion { slot, pos, time },
                        None => Input::TouchUp { slot, time },
                    });
                }
            }
            state.space.refresh();
            if let Err(err) = state.display_handle.flush_clients() {
                tracing::debug!("flush: {err}");
            }
            let _ = done.send(());
        })
        .map_err(|e| anyhow::anyhow!("cannot watch WLCS commands: {e}"))?;
    state.queue_redraw();
    cloison_compositor::main_loop(&mut event_loop, display, &mut state)
}
