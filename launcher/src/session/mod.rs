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
//! dies, the session ends (exit 1). SIGINT/SIGTERM/SIGHUP or `ctl quit` stop every level
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
use cloison_config::{Config, Restart};
use cloison_ipc::session::{DialogId, MenuLevel, ToCompositor, ToLauncher};
use cloison_ipc::{AppStatus, CageStatus, Reply, Request, Response, paths};

use crate::apps::{self, MenuEntry};
use crate::cli::{BackendArg, RunArgs};
use crate::plans::{self, Ids, ParentDisplay, SessionPaths};

mod control;
mod levels;
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
    /// A message from the compositor (with the descriptor it carried, if any).
    Compositor(ToLauncher, Option<OwnedFd>),
    /// The compositor's channel closed.
    CompositorGone,
    /// A control request for the launcher.
    Ctl {
        request: Request,
        reply: mpsc::Sender<Response>,
    },
    /// The cages' state, for a status reply.
    Cages {
        reply: mpsc::Sender<Vec<Option<CageStatus>>>,
    },
    /// A file transfer asks the user.
    AskFiles {
        ask: crate::manager::transfer::Ask,
        reply: mpsc::Sender<bool>,
    },
    /// A transfer's progress for the bar.
    TransferBar { id: u64, text: Option<String> },
    /// A notification for the bar.
    Notify(String),
}

/// A request sent to a cage's init, waiting for its answer.
enum Pending {
    Spawn {
        argv: Vec<String>,
        session: Option<usize>,
        reply: Option<mpsc::Sender<Response>>,
    },
    Stop,
}

/// A program init started, as the launcher knows it.
struct App {
    argv: Vec<String>,
    /// Index in the level's `session` list, for session apps.
    session: Option<usize>,
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
    events: Sender<Event>,
    compositor: Option<CompositorRun>,
    levels: Vec<LevelRun>,
    menus: Vec<Vec<MenuEntry>>,
    /// Set when the session must end, with its exit code.
    outcome: Option<i32>,
    /// The global clipboard, the flow policy, the audit log.
    clipboard: crate::manager::clipboard::Clipboard,
    /// File transfers (served by the manager sockets' threads).
    transfers: Arc<crate::manager::transfer::Transfers>,
    /// Transfers waiting for the user's answer, by request id.
    asking: std::collections::HashMap<u64, mpsc::Sender<bool>>,
}

/// Runs a session until it ends. Returns the process exit code.
pub fn run(args: RunArgs, verbose: bool) -> anyhow::Result<i32> {
    let source = cloison_config::locate(args.config.as_deref());
    let config = Arc::new(cloison_config::load(&source)?);
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
            "a Cloison session already runs with XDG_RUNTIME_DIR={} (its control socket answers)",
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
    let audit = Arc::new(std::sync::Mutex::new(audit));
    let (ask_events, bar_events, notify_events) = (events.clone(), events.clone(), events.clone());
    let transfers = Arc::new(crate::manager::transfer::Transfers::new(
        config.clone(),
        paths.clone(),
        ids,
        audit.clone(),
        Box::new(move |ask| {
            let (reply, answer) = mpsc::channel();
            if ask_events.send(Event::AskFiles { ask, reply }).is_err() {
                return false;
            }
            answer
                .recv_timeout(Duration::from_secs(600))
                .unwrap_or(false)
        }),
        Box::new(move |id, text| {
            let _ = bar_events.send(Event::TransferBar { id, text });
        }),
        Box::new(move |text| {
            let _ = notify_events.send(Event::Notify(text));
        }),
    ));
    let mut session = Session {
        clipboard: crate::manager::clipboard::Clipboard::new(config.clone(), audit),
        transfers,
        asking: std::collections::HashMap::new(),
        config: config.clone(),
        paths: paths.clone(),
        helper,
        send_tool,
        events: events.clone(),
        compositor: None,
        levels: Vec::new(),
        menus: Vec::new(),
        outcome: None,
    };
    let result = session.start(
        &handle,
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
            Event::Compositor(message, fd) => {
                let outs = match message {
                    ToLauncher::Ready => {
                        if let Some(c) = self.compositor.as_mut() {
                            c.ready = true;
                        }
                        tracing::info!("the compositor serves");
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
                        if let Some(reply) = self.asking.remove(&id) {
                            let _ = reply.send(accept);
                        }
                        Vec::new()
                    }
                    ToLauncher::CancelTransfer { id } => {
                        if self.transfers.cancel(id) {
                            tracing::info!(id, "transfer cancelled from the bar");
                        }
                        Vec::new()
                    }
                };
                for out in outs {
                    match out {
                        crate::manager::clipboard::Out::Notify(text) => self.notify(text),
                        crate::manager::clipboard::Out::Compositor(message, fd) => {
                            self.tell_compositor_fd(&message, fd.as_deref())
                        }
                    }
                }
            }
            Event::CompositorGone => {
                if self.outcome.is_none() {
                    self.compositor_died("its channel closed".into());
                }
            }
            Event::Ctl { request, reply } => self.ctl(request, reply),
            Event::Cages { reply } => {
                let _ = reply.send(self.cages());
            }
            Event::AskFiles { ask, reply } => {
                self.asking.insert(ask.id, reply);
                self.tell_compositor(&ToCompositor::ConfirmFiles {
                    id: ask.id,
                    from: ask.from,
                    to: ask.to,
                    files: ask.files,
                    total: ask.total,
                });
            }
            Event::TransferBar { id, text } => {
                self.tell_compositor(&ToCompositor::Transfer { id, text })
            }
            Event::Notify(text) => self.notify(text),
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
