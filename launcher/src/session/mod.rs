//! `cloison run`: the session supervisor.
//!
//! ```text
//! cloison run                      this process: trusted, unconfined
//!  ├─ cloison-cage "compositor" → init → cloison-compositor   (confined: no level's files,
//!  │                                      no network, allow-list seccomp)
//!  ├─ cloison-cage "low"  → init → the level's apps
//!  └─ cloison-cage "high" → init → the level's apps
//! ```
//!
//! Start-up: validate the configuration; create the session directory (0700) and, for each
//! level, its Wayland socket and manager socket (owned by the level's outside uid, 0600) and
//! its home; create the compositor's private control socket and a socket pair to talk to it;
//! start the compositor's cage with those sockets as inherited descriptors and wait for its
//! `ready`; send it the launcher menu; start each level's cage and its session apps through
//! the cage's init (so their pids are known).
//!
//! Then one event loop (calloop) handles signals, the public control socket (served by a
//! thread per connection: launcher requests come to the loop, the others are forwarded to the
//! compositor), the compositor's channel (menu choices) and each cage's init (replies and
//! program exits). A level whose init dies is reported and stays down until
//! `cloison ctl restart-level`; nothing of it touches the other levels. If the compositor
//! dies it is started again on the same sockets, always locked, its levels' session apps with
//! it; one that never served, does not serve again within 30 s, or dies a fourth time within a
//! minute ends the session (exit 1). A compositor that ends on its own (status 0: its nested
//! window closed) ends the session (exit 0). SIGINT/SIGTERM/SIGHUP or `ctl quit` stop every level
//! (SIGTERM, SIGKILL after a grace period), then the compositor, remove the session
//! directory and exit 0.
//!
//! This file holds the session's state, [`run`] and the loop's routing of events; the rest is
//! one concern a file: `startup.rs`, `levels.rs` (cages and their programs), `control.rs` (the
//! control and manager sockets), `udev.rs` (hot-plug). The multilevel manager itself is
//! [`crate::manager`].

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write as _};
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use calloop::channel::{Channel, Event as ChannelEvent, Sender};
use calloop::generic::Generic;
use calloop::signals::{Signal, Signals};
use calloop::{EventLoop, Interest, LoopHandle, Mode, PostAction};
use cloison_cages::init::{InitReply, InitRequest};
use cloison_cages::plan::CagePlan;
use cloison_cages::{Cage, CageIo};
use cloison_config::{Config, Network, Restart};
use cloison_ipc::session::{DialogId, MenuLevel, ToCompositor, ToLauncher};
use cloison_ipc::{AppStatus, CageStatus, Reply, Request, Response, paths};

use crate::apps::{self, MenuEntry};
use crate::cli::{BackendArg, RunArgs};
use crate::manager::send::Answer;
use crate::manager::transfer::ToLoop;
use crate::plans::{self, Ids, ParentDisplay, SessionPaths};

mod control;
mod levels;
mod lock;
mod sleep;
mod startup;
mod udev;

use control::*;
use levels::*;
use startup::*;
use udev::*;

/// How long the compositor may take to start serving.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long cages get to stop (their init gives programs 3 s between SIGTERM and SIGKILL).
const STOP_GRACE: Duration = Duration::from_secs(6);
/// A session app restarted this many times within [`RESTART_WINDOW`] is not restarted again.
const MAX_RESTARTS: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(60);
/// A compositor that dies again after this many restarts within [`RESTART_WINDOW`] ends the
/// session.
const MAX_COMPOSITOR_RESTARTS: usize = 3;
/// How long a compositor whose channel closed has to end before it is taken for dead.
const CHANNEL_GRACE: Duration = Duration::from_secs(2);
/// A session app that ends this soon after the compositor died is started again with the new
/// compositor.
const WITH_COMPOSITOR: Duration = Duration::from_secs(10);
/// A session app that ended this soon before the launcher took the compositor for dead (it saw
/// its connection close first; the launcher may wait [`CHANNEL_GRACE`] and [`STOP_GRACE`])
/// comes back too.
const NOTICED_LATE: Duration = Duration::from_secs(10);
/// How long a control request waits for the loop.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What threads tell the event loop.
enum Event {
    /// A line from a cage's init.
    Init {
        level: usize,
        generation: u64,
        reply: InitReply,
    },
    /// A message from the compositor started `generation`-th (with the descriptor it
    /// carried, if any).
    Compositor(u64, ToLauncher, Option<OwnedFd>),
    /// That compositor's channel closed.
    CompositorGone(u64),
    /// A control request for the launcher.
    Ctl {
        request: Request,
        reply: mpsc::Sender<Response>,
    },
    /// The cages' state, for a status reply.
    Cages {
        reply: mpsc::Sender<Vec<Option<CageStatus>>>,
    },
    /// What the manager's transfer threads tell the loop.
    Transfer(crate::manager::transfer::ToLoop),
    /// A lock screen password check ended.
    Unlocked(lock::Checked),
    /// The machine is about to sleep: lock, and answer once the lock is on screen.
    Sleep(mpsc::Sender<()>),
    /// A level's network changed (a tunnel up or down).
    Network(usize, crate::network::Status),
}

/// A request sent to a cage's init, waiting for its answer.
enum Pending {
    Spawn {
        argv: Vec<String>,
        session: Option<usize>,
        reply: Option<mpsc::Sender<Response>>,
        /// Reply when the program ends, not when it starts.
        wait: bool,
    },
    Stop,
}

/// A program init started, as the launcher knows it.
struct App {
    argv: Vec<String>,
    /// Index in the level's `session` list, for session apps.
    session: Option<usize>,
    /// The level's notification service (started again when it ends).
    service: bool,
    /// Who waits for it to end (`cloison exec`).
    waiter: Option<mpsc::Sender<Response>>,
}

struct RunningCage {
    helper: Child,
    writer: UnixStream,
    pending: VecDeque<Pending>,
    apps: BTreeMap<i32, App>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Stopping,
    Stopped,
}

struct LevelRun {
    plan: CagePlan,
    enforced: String,
    cage: Option<RunningCage>,
    generation: u64,
    phase: Phase,
    /// Start again once stopped (`restart-level`), answering this.
    restart: Option<Option<mpsc::Sender<Response>>>,
    /// Recent automatic restarts of session apps: (session index, when).
    restarts: Vec<(usize, Instant)>,
    /// The level's session bus socket (listening), if it has a bus.
    bus: bool,
    /// Whether the level runs a notification service (`cloison-notifyd`), and when it
    /// recently ended.
    notifyd: bool,
    notifyd_ended: Vec<Instant>,
    /// The network the launcher built for the level (NAT, a tunnel), kept for the session:
    /// a restarted cage joins the same namespace. Dropping it takes the network down.
    net: Option<crate::network::LevelNet>,
    /// What the bar says of the level's network.
    net_status: crate::network::Status,
}

/// What starting the compositor (again) takes.
struct CompositorStart {
    binary: PathBuf,
    backend: String,
    size: (i32, i32),
    verbose: bool,
    ids: Ids,
    /// Each level's listening Wayland socket: (level, socket, its path on the host). The
    /// launcher keeps these: every compositor it starts gets copies.
    levels: Vec<(String, UnixListener, PathBuf)>,
    /// The private control socket, the same way.
    ctl: UnixListener,
}

struct CompositorRun {
    helper: Child,
    channel: UnixStream,
    ready: bool,
    /// The cage's init channel: closing it would end the cage.
    _init: (BufReader<UnixStream>, UnixStream),
}

/// The running session.
struct Session {
    config: Arc<Config>,
    paths: SessionPaths,
    helper: PathBuf,
    /// `cloison-send`, bound into every level's cage.
    send_tool: PathBuf,
    /// `cloison-notifyd`, bound into the cages of levels with notifications.
    notifyd: Option<PathBuf>,
    /// `cloison-x11`, bound into the cages of levels with an X server.
    x11: Option<PathBuf>,
    /// What the levels' networks use (`cloison-wg`).
    networks: crate::network::Tools,
    events: Sender<Event>,
    compositor: Option<CompositorRun>,
    /// What starting it again takes (set once the session's sockets exist).
    compositor_start: Option<CompositorStart>,
    /// How many compositors were started: messages of an earlier one are told apart.
    compositor_generation: u64,
    /// When it was started again after dying, recently.
    compositor_restarts: Vec<Instant>,
    /// When the compositor last died.
    compositor_died_at: Option<Instant>,
    /// Session apps that ended lately and were not restarted: (level, its cage's generation,
    /// session index, argv, when).
    ended_recently: Vec<(usize, u64, usize, Vec<String>, Instant)>,
    /// The screen is locked, as the compositor last said (for the record of a restart).
    locked: bool,
    levels: Vec<LevelRun>,
    menus: Vec<Vec<MenuEntry>>,
    /// Set when the session must end, with its exit code.
    outcome: Option<i32>,
    /// The global clipboard, the flow policy, the audit log.
    clipboard: crate::manager::clipboard::Clipboard,
    /// File transfers (served by the manager sockets' threads).
    transfers: Arc<crate::manager::transfer::Transfers>,
    /// Transfers waiting for the user's answer.
    asks: crate::manager::send::Asks,
    /// Their timeouts, by request id.
    ask_timers: std::collections::HashMap<u64, calloop::RegistrationToken>,
    /// The loop, for timers.
    handle: LoopHandle<'static, Session>,
    /// The lock screen's password checks.
    unlocking: lock::Unlocking,
    /// The machine waits for the lock to be on screen before it sleeps.
    sleep_waiting: Option<mpsc::Sender<()>>,
}

/// Runs a session until it ends. Returns the process exit code.
pub fn run(args: RunArgs, verbose: bool) -> anyhow::Result<i32> {
    let source = cloison_config::locate(args.config.as_deref());
    let mut config = cloison_config::load(&source)?;
    if args.no_session_apps {
        for level in &mut config.levels {
            level.session.clear();
        }
    }
    let config = Arc::new(config);
    let paths = SessionPaths::from_env()?;
    let ids = Ids::current();
    let backend = match args.backend {
        BackendArg::Auto => cloison_ipc::backend::auto(),
        BackendArg::Headless => "headless",
        BackendArg::Winit => "winit",
        BackendArg::Drm => "drm",
    };
    let helper = sibling_binary("cloison-cage")?;
    let send_tool = sibling_binary("cloison-send")?;
    let notifyd = sibling_binary("cloison-notifyd")
        .inspect_err(|err| tracing::warn!("the levels have no notification service: {err:#}"))
        .ok();
    let x11 = sibling_binary("cloison-x11")
        .inspect_err(|err| tracing::warn!("the levels have no X server: {err:#}"))
        .ok();
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let networks = crate::network::Tools {
        wg: sibling_binary("cloison-wg").ok(),
    };
    let compositor_binary = sibling_binary("cloison-compositor")?;

    // Started from a terminal, the launcher may not be in its foreground (`cloison run &`, or a
    // terminal someone set TOSTOP on): writing a log line must not stop it.
    for signal in [
        nix::sys::signal::Signal::SIGTTOU,
        nix::sys::signal::Signal::SIGTTIN,
    ] {
        // SAFETY: SIG_IGN installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigIgn) };
    }

    // Every descriptor the launcher may have: levels' connections and transfers are bounded
    // per level, and running out would cost the session its clipboard and control socket.
    raise_nofile(crate::manager::transfer::launcher_nofile(
        config.levels.len(),
    ));

    let ctl_path = paths::ctl_socket(&paths.runtime_dir);
    if UnixStream::connect(&ctl_path).is_ok() {
        bail!(
            "a Cloison session already runs in {} (its control socket answers)",
            paths.runtime_dir.display()
        );
    }
    // Leftovers of a session that crashed go: nothing answers on them.
    let _ = std::fs::remove_dir_all(&paths.session_dir);
    plans::own_dir(&paths.session_dir, (ids.caller, ids.caller_gid), 0o700)?;

    // Signals are blocked and read through the loop from here on (threads started later
    // inherit the mask), so none is lost while things start.
    let mut event_loop: EventLoop<'static, Session> =
        EventLoop::try_new().context("cannot create the event loop")?;
    let handle = event_loop.handle();
    let signals = Signals::new(&[
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ])
    .context("cannot watch signals")?;
    handle
        .insert_source(signals, |event, _, session| match event.signal() {
            Signal::SIGCHLD => session.reap(),
            signal => {
                tracing::info!(?signal, "ending the session");
                session.outcome.get_or_insert(0);
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot watch signals: {e}"))?;
    let (events, channel): (Sender<Event>, Channel<Event>) = calloop::channel::channel();
    handle
        .insert_source(channel, |event, _, session| {
            if let ChannelEvent::Msg(event) = event {
                session.handle(event);
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot watch the session's events: {e}"))?;

    if backend == "drm" {
        watch_devices(&handle)?;
    }

    let audit = crate::manager::audit::Audit::open(&paths.audit_log())?;
    tracing::info!(log = %audit.path().display(), "audit log");
    // The levels' programs write their output here, not to this terminal.
    plans::own_dir(&paths.logs_dir(), (ids.caller, ids.caller_gid), 0o700)?;
    let audit = Arc::new(std::sync::Mutex::new(audit));
    let transfer_events = events.clone();
    let transfers = Arc::new(crate::manager::transfer::Transfers::new(
        config.clone(),
        paths.clone(),
        ids,
        audit.clone(),
        Box::new(move |event| {
            let _ = transfer_events.send(Event::Transfer(event));
        }),
    ));
    let mut session = Session {
        clipboard: crate::manager::clipboard::Clipboard::new(config.clone(), audit),
        transfers,
        asks: Default::default(),
        ask_timers: Default::default(),
        handle: handle.clone(),
        unlocking: Default::default(),
        sleep_waiting: None,
        config: config.clone(),
        paths: paths.clone(),
        helper,
        send_tool,
        notifyd,
        x11,
        networks,
        events: events.clone(),
        compositor: None,
        compositor_start: None,
        compositor_generation: 0,
        compositor_restarts: Vec::new(),
        compositor_died_at: None,
        ended_recently: Vec::new(),
        locked: false,
        levels: Vec::new(),
        menus: Vec::new(),
        outcome: None,
    };
    let result = session.start(
        &mut event_loop,
        ids,
        &compositor_binary,
        backend,
        args.size,
        verbose,
    );
    if let Err(err) = result {
        session.shutdown();
        cleanup(&paths.session_dir);
        return Err(err);
    }
    print_banner(&config, &paths, backend, args.size);
    if config.lock.before_suspend {
        sleep::watch(events.clone());
    }
    session.start_levels();

    while session.outcome.is_none() {
        if let Err(err) = event_loop.dispatch(None, &mut session) {
            tracing::error!("the event loop failed: {err}");
            session.outcome = Some(1);
        }
    }
    let code = session.outcome.unwrap_or(0);
    // The session is ending: a further SIGTERM or Ctrl+C must not cut the shutdown short
    // (dropping the loop unblocks the signals it was reading).
    for signal in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        // SAFETY: SIG_IGN installs no handler code; nothing else in this process handles
        // these signals any more.
        let _ = unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigIgn) };
    }
    session.shutdown();
    drop(event_loop);
    cleanup(&paths.session_dir);
    Ok(code)
}

impl Session {
    fn handle(&mut self, event: Event) {
        match event {
            Event::Init {
                level,
                generation,
                reply,
            } => {
                if self.levels[level].generation == generation {
                    self.on_init(level, reply);
                }
            }
            // A compositor that died: what it said no longer counts (its successor starts
            // locked whatever it said).
            Event::Compositor(generation, ..) if generation != self.compositor_generation => {}
            Event::Compositor(_, message, fd) => {
                let outs = match message {
                    ToLauncher::Ready => {
                        self.compositor_ready();
                        Vec::new()
                    }
                    ToLauncher::Launch { level, app } => {
                        self.launch(&level, app);
                        Vec::new()
                    }
                    ToLauncher::Copied {
                        op,
                        level,
                        mime,
                        size,
                    } => match fd {
                        Some(fd) => self.clipboard.copied(op, &level, &mime, size, fd),
                        None => {
                            tracing::warn!("a copy came without its content");
                            Vec::new()
                        }
                    },
                    ToLauncher::CopyFailed {
                        op,
                        level,
                        reason,
                        mime,
                        size,
                    } => self.clipboard.copy_failed(op, &level, &reason, mime, size),
                    ToLauncher::PasteRequest { op, level } => {
                        self.clipboard.paste_request(op, &level)
                    }
                    ToLauncher::ConfirmAnswer {
                        dialog: DialogId::Paste(op),
                        accept,
                    } => self.clipboard.confirm_answer(op, accept),
                    ToLauncher::ConfirmAnswer {
                        dialog: DialogId::Files(id),
                        accept,
                    } => {
                        self.files_answered(
                            id,
                            if accept {
                                Answer::Accept
                            } else {
                                Answer::Refuse
                            },
                        );
                        Vec::new()
                    }
                    ToLauncher::Locked { locked, why } => {
                        self.lock_changed(locked, &why);
                        Vec::new()
                    }
                    ToLauncher::Unlock => {
                        self.unlock(fd);
                        Vec::new()
                    }
                    ToLauncher::LockShown => {
                        if let Some(shown) = self.sleep_waiting.take() {
                            let _ = shown.send(());
                        }
                        Vec::new()
                    }
                    ToLauncher::CancelTransfer { id } => {
                        if self.transfers.cancel(id) {
                            tracing::info!(id, "transfer cancelled from the bar");
                        }
                        Vec::new()
                    }
                    ToLauncher::NotificationClosed { id, reason } => {
                        crate::manager::notify::closed(&self.transfers, id, reason);
                        Vec::new()
                    }
                    ToLauncher::NotificationAction { id, key } => {
                        crate::manager::notify::action(&self.transfers, id, key);
                        Vec::new()
                    }
                };
                for out in outs {
                    self.clipboard_out(out);
                }
            }
            Event::CompositorGone(generation) => {
                if self.outcome.is_none() && generation == self.compositor_generation {
                    self.compositor_channel_closed(generation);
                }
            }
            Event::Ctl { request, reply } => self.ctl(request, reply),
            Event::Cages { reply } => {
                let _ = reply.send(self.cages());
            }
            Event::Transfer(ToLoop::Ask(request)) => self.ask_files(*request),
            Event::Transfer(ToLoop::SenderLeft(id)) => self.files_answered(id, Answer::SenderLeft),
            Event::Transfer(ToLoop::Bar(id, text)) => {
                self.tell_compositor(&ToCompositor::Transfer { id, text })
            }
            Event::Transfer(ToLoop::Notify(text)) => self.notify(text),
            Event::Transfer(ToLoop::Compositor(message)) => self.tell_compositor(&message),
            Event::Unlocked(checked) => self.unlock_checked(checked),
            Event::Sleep(shown) => self.before_sleep(shown),
            Event::Network(index, status) => self.network_changed(index, status),
        }
    }

    /// A transfer asks the user: the dialog goes up, and a timer that withdraws it starts.
    fn ask_files(&mut self, request: crate::manager::send::Request) {
        let id = request.id;
        let dialog = self.asks.ask(request);
        self.tell_compositor(&dialog);
        let timeout = Duration::from_millis(self.config.files.confirm_timeout_ms);
        let timer = self.handle.insert_source(
            calloop::timer::Timer::from_duration(timeout),
            move |_, _, session| {
                session.ask_timers.remove(&id);
                session.files_answered(id, Answer::NoAnswer);
                calloop::timer::TimeoutAction::Drop
            },
        );
        match timer {
            Ok(token) => {
                self.ask_timers.insert(id, token);
            }
            Err(err) => {
                tracing::warn!("cannot time a transfer's dialog: {err}");
                self.files_answered(id, Answer::NoAnswer);
            }
        }
    }

    /// Transfer `id`'s dialog ended: the manager records the answer, and the job that
    /// finishes the transfer runs on a thread of its own.
    fn files_answered(&mut self, id: u64, answer: Answer) {
        if let Some(timer) = self.ask_timers.remove(&id) {
            self.handle.remove(timer);
        }
        let Some(job) = self.asks.answer(&self.transfers, id, answer) else {
            return;
        };
        if matches!(answer, Answer::NoAnswer | Answer::SenderLeft) {
            self.tell_compositor(&ToCompositor::Withdraw {
                dialog: DialogId::Files(id),
            });
        }
        // The job stays reachable from here in case its thread cannot start.
        let job = Arc::new(std::sync::Mutex::new(Some(job)));
        let (transfers, handed) = (self.transfers.clone(), job.clone());
        if let Err(err) = std::thread::Builder::new()
            .name("transfer".into())
            .spawn(move || {
                let job = handed.lock().ok().and_then(|mut job| job.take());
                if let Some(job) = job {
                    job.run(&transfers);
                }
            })
        {
            tracing::warn!(id, "cannot run a transfer: {err}");
            if let Some(job) = job.lock().ok().and_then(|mut job| job.take()) {
                job.abandon(&self.transfers, &format!("cannot start a thread: {err}"));
            }
        }
    }

    /// Carries out what the clipboard decided.
    fn clipboard_out(&mut self, out: crate::manager::clipboard::Out) {
        match out {
            crate::manager::clipboard::Out::Notify(text) => self.notify(text),
            crate::manager::clipboard::Out::Compositor(message, fd) => {
                self.tell_compositor_fd(&message, fd.as_deref())
            }
        }
    }

    fn tell_compositor(&mut self, message: &ToCompositor) {
        self.tell_compositor_fd(message, None);
    }

    /// Sends a message to the compositor, with its descriptor if it takes one.
    fn tell_compositor_fd(&mut self, message: &ToCompositor, fd: Option<&OwnedFd>) {
        let Some(compositor) = self.compositor.as_mut() else {
            return;
        };
        let fds: Vec<_> = fd.map(std::os::fd::AsFd::as_fd).into_iter().collect();
        if let Err(err) = cloison_ipc::channel::send(
            &compositor.channel,
            message,
            &fds,
            cloison_ipc::channel::SESSION,
        ) {
            tracing::warn!("cannot reach the compositor: {err}");
        }
    }

    fn notify(&mut self, text: String) {
        tracing::info!(notification = %text);
        self.tell_compositor(&ToCompositor::Notify { text });
    }

    /// Stops every level, then the compositor. Returns when all are gone (killing what does
    /// not stop in time).
    fn shutdown(&mut self) {
        for index in 0..self.levels.len() {
            self.stop_level(index);
        }
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            let mut left = false;
            for run in &mut self.levels {
                if let Some(cage) = run.cage.as_mut() {
                    match cage.helper.try_wait() {
                        Ok(Some(_)) | Err(_) => run.cage = None,
                        Ok(None) => left = true,
                    }
                }
            }
            if !left {
                break;
            }
            if Instant::now() >= deadline {
                for run in &mut self.levels {
                    if let Some(mut cage) = run.cage.take() {
                        tracing::warn!(level = %run.plan.name, "the cage did not stop in time; killing it");
                        let _ = cage.helper.kill();
                        let _ = cage.helper.wait();
                    }
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(mut compositor) = self.compositor.take() {
            let pid = nix::unistd::Pid::from_raw(compositor.helper.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            loop {
                match compositor.helper.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        tracing::warn!("the compositor did not stop in time; killing it");
                        let _ = compositor.helper.kill();
                        let _ = compositor.helper.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
    }
}
