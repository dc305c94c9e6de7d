//! Cloison's compositor: one Wayland socket and one seat per security level, trusted UI drawn
//! by the compositor, a trusted control socket, and headless or nested backends.
//!
//! The binary (`cloison-compositor`) is a thin wrapper around [`run`]; tests and the WLCS
//! plugin build the same [`State`] directly.

pub mod backend;
pub mod clipboard;
pub mod ctl;
pub mod handlers;
pub mod input;
pub mod keys;
pub mod launcher_link;
pub mod limits;
pub mod lock;
pub mod notify;
pub mod render;
pub mod shell;
pub mod sockets;
pub mod state;
pub mod ui;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use cloison_config::Config;
use smithay::reexports::calloop::EventLoop;
use smithay::reexports::calloop::channel::{self, Event as ChannelEvent};
use smithay::reexports::wayland_server::Display;
use smithay::utils::{Physical, Size};

pub use state::State;

/// Which backend to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Offscreen (pixman).
    Headless,
    /// A nested window (GLES).
    Winit,
    /// The seat's own displays and input devices (KMS, libinput, libseat).
    Drm,
}

impl BackendKind {
    /// As [`cloison_ipc::backend::auto`] decides: `winit` inside a desktop, `drm` on a seat,
    /// else `headless`.
    pub fn auto() -> BackendKind {
        match cloison_ipc::backend::auto() {
            "winit" => BackendKind::Winit,
            "drm" => BackendKind::Drm,
            _ => BackendKind::Headless,
        }
    }
}

/// What [`run`] needs.
pub struct Options {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The backend.
    pub backend: BackendKind,
    /// Output size in pixels (headless), or initial window size (winit).
    pub size: Size<i32, Physical>,
    /// `$XDG_RUNTIME_DIR`: sockets go under `cloison/` inside it.
    pub runtime_dir: PathBuf,
    /// Print a `ready` line on standard output once every socket listens.
    pub print_ready: bool,
    /// Sockets handed over by the launcher; without them the compositor binds its own under
    /// `runtime_dir`.
    pub handed_over: Option<HandedOver>,
}

/// What the launcher hands the compositor (as inherited descriptors).
pub struct HandedOver {
    /// One listening Wayland socket per level: (level name, listener, host path for status).
    pub levels: Vec<(String, std::os::unix::net::UnixListener, String)>,
    /// The listening control socket (only the launcher connects to it).
    pub ctl: std::os::unix::net::UnixListener,
    /// The channel to the launcher.
    pub launcher: std::os::unix::net::UnixStream,
    /// Start with the screen locked.
    pub locked: bool,
}

/// A compositor with no listening socket, on the headless backend: the in-process fixture of
/// the tests, the fuzzer and the WLCS integration, whose clients come over socket pairs
/// ([`Display::handle`]`.insert_client`). The caller dispatches the display and the loop.
pub fn in_process(
    config: Config,
    size: Size<i32, Physical>,
) -> anyhow::Result<(EventLoop<'static, State>, Display<State>, State)> {
    let event_loop: EventLoop<'static, State> =
        EventLoop::try_new().context("cannot create the event loop")?;
    let display: Display<State> = Display::new().context("cannot create the Wayland display")?;
    let backend = backend::Backend::Headless(backend::headless::Headless::new(size)?);
    let state = State::new(
        Arc::new(config),
        display.handle(),
        event_loop.handle(),
        event_loop.get_signal(),
        backend,
        size,
    )?;
    Ok((event_loop, display, state))
}

/// Runs the compositor until it is asked to stop (SIGTERM, SIGINT, `ctl quit`, the nested
/// window closed). Sockets are removed on the way out.
pub fn run(options: Options) -> anyhow::Result<()> {
    let mut event_loop: EventLoop<'static, State> =
        EventLoop::try_new().context("cannot create the event loop")?;
    let display: Display<State> = Display::new().context("cannot create the Wayland display")?;
    let handle = event_loop.handle();

    let (backend, size) = match options.backend {
        BackendKind::Headless => (
            backend::Backend::Headless(backend::headless::Headless::new(options.size)?),
            options.size,
        ),
        #[cfg(feature = "winit")]
        BackendKind::Winit => {
            let (winit, size) = backend::winit::WinitBackend::new(&handle, options.size)?;
            (backend::Backend::Winit(winit), size)
        }
        #[cfg(not(feature = "winit"))]
        BackendKind::Winit => {
            anyhow::bail!("this build has no winit backend; use --backend headless")
        }
        #[cfg(feature = "drm")]
        BackendKind::Drm => (
            backend::Backend::Drm(backend::drm::DrmBackend::new(&handle, &options.config)?),
            options.size,
        ),
        #[cfg(not(feature = "drm"))]
        BackendKind::Drm => {
            anyhow::bail!("this build has no drm backend; use --backend headless")
        }
    };

    let mut state = State::new(
        options.config.clone(),
        display.handle(),
        handle.clone(),
        event_loop.get_signal(),
        backend,
        size,
    )?;
    #[cfg(feature = "drm")]
    if matches!(state.backend, backend::Backend::Drm(_)) {
        backend::drm::start(&mut state);
    }

    let own_sockets = options.handed_over.is_none();
    let ctl_path = cloison_ipc::paths::ctl_socket(&options.runtime_dir);
    let sockets = match options.handed_over {
        None => {
            let sockets = sockets::listen_levels(&mut state, &options.runtime_dir)?;
            ctl::listen(&mut state, &ctl_path)?;
            sockets.len()
        }
        Some(handed) => {
            let count = handed.levels.len();
            if count != state.levels.len() {
                anyhow::bail!(
                    "{count} level sockets were handed over for {} levels",
                    state.levels.len()
                );
            }
            let mut listeners = Vec::new();
            for (name, listener, path) in handed.levels {
                if let Some(level) = state.levels.iter_mut().find(|l| *l.name == name) {
                    level.socket_path = path;
                }
                listeners.push((name, listener));
            }
            launcher_link::connect(&mut state, handed.launcher)?;
            // Locked before any level's client is served (the previous compositor died with
            // the screen locked).
            if handed.locked {
                state.lock_screen("restart");
            }
            sockets::serve_level_listeners(&mut state, listeners)?;
            ctl::serve_listener(&mut state, handed.ctl)?;
            state.launcher.send(cloison_ipc::session::ToLauncher::Ready);
            count
        }
    };
    watch_signals(&mut state)?;
    // Only a session's compositor can be unlocked (its launcher checks the password).
    if state.launcher.connected() {
        state.start_idle_lock();
    }

    if options.print_ready {
        #[allow(clippy::disallowed_macros)]
        {
            println!("ready");
        }
        let _ = std::io::stdout().flush();
    }
    tracing::info!(
        backend = state.backend.name(),
        width = size.w,
        height = size.h,
        sockets,
        "compositor running"
    );
    state.queue_redraw();

    let result = main_loop(&mut event_loop, display, &mut state);
    // Dropping the loop drops the listening sockets, which removes their files.
    let level_names: Vec<String> = state.levels.iter().map(|l| l.name.to_string()).collect();
    drop(state);
    drop(event_loop);
    if own_sockets {
        let _ = std::fs::remove_file(&ctl_path);
        sockets::remove_level_dirs(&options.runtime_dir, &level_names);
    }
    tracing::info!("compositor stopped");
    result
}

/// The main loop.
///
/// calloop drives every event source except the Wayland display, which this loop polls itself
/// next to calloop's own fd: calloop's poller costs four extra system calls per wake-up
/// (timerfd and notifier re-arming), which on the client request path would make every round
/// trip ~30% slower than libwayland compositors'. Every calloop source in the compositor is
/// fd-based (the frame clock is a timerfd), so calloop's fd reports all of them; nothing uses
/// calloop idle callbacks or `Timer`s, which that fd would not reflect.
pub fn main_loop(
    event_loop: &mut EventLoop<'static, State>,
    mut display: Display<State>,
    state: &mut State,
) -> anyhow::Result<()> {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
    use std::os::fd::AsFd as _;
    const DISPLAY: u64 = 0;
    const CALLOOP: u64 = 1;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create")?;
    epoll
        .add(
            display.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, DISPLAY),
        )
        .context("cannot watch the Wayland display")?;
    epoll
        .add(
            event_loop.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, CALLOOP),
        )
        .context("cannot watch the event loop")?;
    // Sources may have work already (e.g. the first frame was queued).
    event_loop.dispatch(Some(std::time::Duration::ZERO), state)?;
    let mut events = [EpollEvent::empty(); 2];
    while state.running {
        let n = match epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(err) => return Err(err).context("epoll_wait"),
        };
        for event in &events[..n] {
            if event.data() == DISPLAY {
                if let Err(err) = display.dispatch_clients(state) {
                    tracing::error!("dispatching clients failed: {err}");
                }
            } else {
                event_loop
                    .dispatch(Some(std::time::Duration::ZERO), state)
                    .context("the event loop failed")?;
            }
        }
        if let Err(err) = display.flush_clients() {
            tracing::debug!("flush failed: {err}");
        }
    }
    Ok(())
}

/// SIGTERM, SIGINT and SIGHUP stop the loop cleanly.
fn watch_signals(state: &mut State) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let (sender, receiver) = channel::channel::<i32>();
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if sender.send(signal).is_err() {
                    break;
                }
            }
        })
        .context("cannot start the signal thread")?;
    state
        .loop_handle
        .insert_source(receiver, |event, _, state| {
            if let ChannelEvent::Msg(signal) = event {
                tracing::info!(signal, "stopping on signal");
                state.stop();
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot watch signals: {e}"))?;
    Ok(())
}
