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

/// Raises the open-files limit to what every level may make the launcher hold (`needed`), or
/// at least to the hard limit: only root may go past that. Cages start from their own plan's
/// limits (ceilings), not from this.
fn raise_nofile(needed: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    if hard < needed && setrlimit(Resource::RLIMIT_NOFILE, needed, needed).is_ok() {
        return;
    }
    if soft < hard
        && let Err(err) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::warn!("cannot raise the open-files limit to {hard}: {err}");
    }
    if hard < needed {
        tracing::warn!(
            "the open-files hard limit ({hard}) is below what the levels may make the launcher \
             hold ({needed}): one level's file transfers could starve another's; raise it \
             (e.g. LimitNOFILE= in the session's unit)"
        );
    }
}

/// A binary installed next to `cloison` (or in target/), else on PATH.
fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|p| p.is_file());
    if let Some(path) = beside {
        return Ok(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!("cannot find {name} next to cloison or on PATH (is Cloison installed?)")
        })
}

/// Binds a listening socket at `path`, owned by `owner` with mode 0600 (a stale file from a
/// crashed session is replaced).
fn listen(path: &Path, owner: (u32, u32)) -> anyhow::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    std::os::unix::fs::lchown(path, Some(owner.0), Some(owner.1))
        .with_context(|| format!("cannot give {} to uid {}", path.display(), owner.0))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        handle: &LoopHandle<'static, Session>,
        event_loop: &mut EventLoop<'static, Session>,
        ids: Ids,
        compositor_binary: &Path,
        backend: &str,
        size: (i32, i32),
        verbose: bool,
    ) -> anyhow::Result<()> {
        let config = self.config.clone();
        let paths = self.paths.clone();
        let caller = (ids.caller, ids.caller_gid);

        // Per level: its directory of sockets, its sockets, its home, its plan.
        plans::own_dir(&paths.session_dir.join("levels"), caller, 0o700)?;
        let mut wayland = Vec::new();
        for (index, level) in config.levels.iter().enumerate() {
            let outside = ids.outside(level.uid);
            plans::own_dir(
                &paths::level_dir(&paths.runtime_dir, &level.name),
                caller,
                0o700,
            )?;
            let socket = paths::level_wayland_socket(&paths.runtime_dir, &level.name);
            wayland.push((level.name.clone(), listen(&socket, outside)?, socket));
            let manager = listen(
                &paths::level_manager_socket(&paths.runtime_dir, &level.name),
                outside,
            )?;
            serve_manager(
                handle,
                index,
                level.name.clone(),
                manager,
                self.transfers.clone(),
            )?;
            let home = paths.level_home(&level.name);
            if let Some(parent) = home.parent() {
                plans::own_dir(parent, caller, 0o700)?;
            }
            plans::own_dir(&home, outside, 0o700)?;
            let plan = plans::level_plan(&paths, ids, level, &self.send_tool);
            plan.validate(ids.caller)
                .with_context(|| format!("level {}", level.name))?;
            let enforced = plans::enforced(&plan);
            tracing::info!(level = %level.name, uid = outside.0, "confinement: {enforced}");
            self.levels.push(LevelRun {
                plan,
                enforced,
                cage: None,
                generation: 0,
                phase: Phase::Stopped,
                restart: None,
                restarts: Vec::new(),
            });
            self.menus
                .push(apps::menu(level, Path::new("/usr/share/applications")));
        }

        // The public control socket: this process serves it.
        let ctl = listen(&paths::ctl_socket(&paths.runtime_dir), caller)?;
        let private_ctl_path = paths::compositor_ctl_socket(&paths.runtime_dir);
        plans::own_dir(
            private_ctl_path.parent().unwrap_or(&paths.session_dir),
            caller,
            0o700,
        )?;
        serve_ctl(handle, ctl, private_ctl_path.clone())?;

        // The compositor: its sockets and channel as descriptors, its configuration in a memfd.
        let compositor_ids = ids.outside(config.compositor.uid);
        let private_ctl = listen(&private_ctl_path, caller)?;
        let (ours, theirs) = UnixStream::pair().context("socketpair")?;
        let config_fd = config_memfd(&config)?;
        let home = paths.compositor_home();
        if let Some(parent) = home.parent() {
            plans::own_dir(parent, caller, 0o700)?;
        }
        plans::own_dir(&home, compositor_ids, 0o700)?;
        let parent = ParentDisplay::from_env(&paths.runtime_dir);
        // The nested backend's parent, as a descriptor: a connection to a Wayland parent, or
        // the X display's cookie alone.
        let parent_fd = if backend == "winit" {
            parent_descriptor(&parent)?
        } else {
            None
        };
        let mut pass: Vec<(OwnedFd, i32)> = Vec::new();
        let mut level_fds = Vec::new();
        for (i, (name, listener, path)) in wayland.into_iter().enumerate() {
            let fd = cloison_cages::plan::FIRST_PASSED_FD + i as i32;
            level_fds.push((name, fd, path));
            pass.push((OwnedFd::from(listener), fd));
        }
        let next = cloison_cages::plan::FIRST_PASSED_FD + level_fds.len() as i32;
        let fds = plans::CompositorFds {
            levels: level_fds,
            ctl: next,
            manager: next + 1,
            config: next + 2,
            parent: parent_fd.as_ref().map(|_| next + 3),
        };
        pass.push((OwnedFd::from(private_ctl), fds.ctl));
        pass.push((OwnedFd::from(theirs), fds.manager));
        pass.push((config_fd, fds.config));
        if let (Some(fd), Some(number)) = (parent_fd, fds.parent) {
            pass.push((fd, number));
        }
        let plan = plans::compositor_plan(
            &paths,
            ids,
            &config,
            compositor_binary,
            backend,
            size,
            verbose,
            &parent,
            &fds,
        );
        tracing::info!(
            uid = compositor_ids.0,
            "compositor confinement: {}",
            plans::enforced(&plan)
        );
        // Its output comes through a pipe too: no cage holds the launcher's terminal.
        let (output_read, output_write) = nix::unistd::pipe().context("pipe")?;
        crate::output::follow(
            "compositor".into(),
            output_read,
            crate::output::Sink::Verbatim,
        );
        let cage = Cage::start_with(
            &plan,
            &self.helper,
            CageIo {
                pass,
                output: Some(output_write),
            },
        )
        .context("cannot start the compositor's cage")?;
        let (helper, init_reader, init_writer) = cage.into_parts();
        read_compositor(ours.try_clone()?, self.events.clone());
        ours.set_write_timeout(Some(Duration::from_secs(2)))?;
        self.compositor = Some(CompositorRun {
            helper,
            channel: ours,
            ready: false,
            _init: (init_reader, init_writer),
        });
        let _ = handle;

        // Wait for it to serve (or fail).
        let deadline = Instant::now() + READY_TIMEOUT;
        while !self.compositor.as_ref().is_some_and(|c| c.ready) {
            if let Some(code) = self.outcome {
                bail!(
                    "the compositor failed to start{} (its messages are above)",
                    if code == 0 { " (interrupted)" } else { "" }
                );
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "the compositor did not start within {} s",
                    READY_TIMEOUT.as_secs()
                );
            }
            event_loop
                .dispatch(Some(left.min(Duration::from_millis(200))), self)
                .context("the event loop failed")?;
        }
        let menu = ToCompositor::Menu {
            levels: config
                .levels
                .iter()
                .zip(&self.menus)
                .map(|(level, entries)| MenuLevel {
                    level: level.name.clone(),
                    apps: entries.iter().map(|e| e.name.clone()).collect(),
                })
                .collect(),
        };
        self.tell_compositor(&menu);
        Ok(())
    }

    fn start_levels(&mut self) {
        for index in 0..self.levels.len() {
            self.start_level(index);
        }
    }

    /// Builds a level's cage and starts its session apps.
    fn start_level(&mut self, index: usize) {
        let name = self.config.levels[index].name.clone();
        let result = (|| -> anyhow::Result<()> {
            let (read, write) = nix::unistd::pipe().context("pipe")?;
            crate::output::follow(name.clone(), read, crate::output::Sink::Level);
            let run = &mut self.levels[index];
            let cage = Cage::start_with(
                &run.plan,
                &self.helper,
                CageIo {
                    pass: Vec::new(),
                    output: Some(write),
                },
            )?;
            let (helper, reader, writer) = cage.into_parts();
            writer.set_write_timeout(Some(Duration::from_secs(1)))?;
            run.generation += 1;
            read_init(index, run.generation, reader, self.events.clone());
            run.cage = Some(RunningCage {
                helper,
                writer,
                pending: VecDeque::new(),
                apps: BTreeMap::new(),
            });
            run.phase = Phase::Running;
            Ok(())
        })();
        match result {
            Ok(()) => {
                tracing::info!(level = %name, "cage started");
                self.tell_compositor(&ToCompositor::LevelState {
                    level: name.clone(),
                    running: true,
                });
                let session: Vec<Vec<String>> = self.config.levels[index]
                    .session
                    .iter()
                    .map(|a| a.command.clone())
                    .collect();
                for (i, argv) in session.into_iter().enumerate() {
                    self.spawn(index, argv, Some(i), None);
                }
            }
            Err(err) => {
                tracing::error!(level = %name, "cannot start the level's cage: {err:#}");
                self.notify(format!(
                    "{} could not start (see the log)",
                    self.label(index)
                ));
            }
        }
    }

    fn label(&self, index: usize) -> String {
        self.config.levels[index].label.clone()
    }

    /// Asks a level's init to start `argv`.
    fn spawn(
        &mut self,
        index: usize,
        argv: Vec<String>,
        session: Option<usize>,
        reply: Option<mpsc::Sender<Response>>,
    ) {
        let name = self.config.levels[index].name.clone();
        let fail = |reply: Option<mpsc::Sender<Response>>, message: String| {
            if let Some(reply) = reply {
                let _ = reply.send(Response::Error(message));
            }
        };
        if argv.is_empty() || argv[0].is_empty() {
            return fail(reply, "an empty command".into());
        }
        let run = &mut self.levels[index];
        let Some(cage) = run.cage.as_mut().filter(|_| run.phase == Phase::Running) else {
            return fail(
                reply,
                format!(
                    "level {name} is not running; start it with `cloison ctl restart-level {name}`"
                ),
            );
        };
        let mut line = match serde_json::to_string(&InitRequest::Spawn { argv: argv.clone() }) {
            Ok(line) => line,
            Err(err) => return fail(reply, err.to_string()),
        };
        line.push('\n');
        if let Err(err) = cage.writer.write_all(line.as_bytes()) {
            return fail(reply, format!("level {name}'s init does not answer: {err}"));
        }
        cage.pending.push_back(Pending::Spawn {
            argv,
            session,
            reply,
        });
    }

    /// Asks a level's init to stop everything; the cage ends when its programs have.
    fn stop_level(&mut self, index: usize) {
        let run = &mut self.levels[index];
        let Some(cage) = run.cage.as_mut() else {
            return;
        };
        run.phase = Phase::Stopping;
        let mut line = serde_json::to_string(&InitRequest::Stop).unwrap_or_default();
        line.push('\n');
        if cage.writer.write_all(line.as_bytes()).is_ok() {
            cage.pending.push_back(Pending::Stop);
        } else {
            // Init is gone or stuck: the helper goes, and the kernel takes the cage with it.
            let _ = cage.helper.kill();
        }
    }

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

    fn launch(&mut self, level: &str, app: usize) {
        let Some(index) = self.config.levels.iter().position(|l| l.name == level) else {
            tracing::warn!("the compositor asked to launch in unknown level {level:?}");
            return;
        };
        let Some(entry) = self.menus[index].get(app).cloned() else {
            tracing::warn!(
                level,
                app,
                "the compositor asked for a menu entry that does not exist"
            );
            return;
        };
        tracing::info!(level, app = %entry.name, "starting from the menu");
        let (reply, answer) = mpsc::channel();
        self.spawn(index, entry.argv, None, Some(reply));
        // A failure to send reaches the user through the bar.
        if let Ok(Response::Error(message)) = answer.try_recv() {
            self.notify(format!("cannot start {}: {message}", entry.name));
        }
    }

    fn on_init(&mut self, index: usize, reply: InitReply) {
        let name = self.config.levels[index].name.clone();
        let label = self.label(index);
        let Some(cage) = self.levels[index].cage.as_mut() else {
            return;
        };
        match reply {
            InitReply::Exited { pid, status } => {
                let Some(app) = cage.apps.remove(&pid) else {
                    return;
                };
                tracing::info!(level = %name, pid, status, argv = ?app.argv, "program ended");
                if self.levels[index].phase != Phase::Running {
                    return;
                }
                let Some(session) = app.session else {
                    return;
                };
                let policy = self.config.levels[index].session[session].restart;
                let restart = match policy {
                    Restart::Never => false,
                    Restart::OnFailure => status != 0,
                    Restart::Always => true,
                };
                let program = app.argv[0].rsplit('/').next().unwrap_or("").to_string();
                if !restart {
                    self.notify(format!("{program} exited in {label} (status {status})"));
                    return;
                }
                let now = Instant::now();
                let restarts = &mut self.levels[index].restarts;
                restarts.retain(|(_, at)| now.duration_since(*at) < RESTART_WINDOW);
                if restarts.iter().filter(|(s, _)| *s == session).count() >= MAX_RESTARTS {
                    self.notify(format!(
                        "{program} keeps exiting in {label}: not restarted again"
                    ));
                    return;
                }
                restarts.push((session, now));
                self.notify(format!("{program} exited in {label}: restarted"));
                self.spawn(index, app.argv, Some(session), None);
            }
            InitReply::Spawned { pid } => match cage.pending.pop_front() {
                Some(Pending::Spawn {
                    argv,
                    session,
                    reply,
                }) => {
                    tracing::info!(level = %name, pid, argv = ?argv, "program started");
                    cage.apps.insert(pid, App { argv, session });
                    if let Some(reply) = reply {
                        let _ = reply.send(Response::Ok(Reply::Spawned { pid }));
                    }
                }
                _ => tracing::warn!(level = %name, "init answered a request it was not sent"),
            },
            InitReply::Error(message) => match cage.pending.pop_front() {
                Some(Pending::Spawn { argv, reply, .. }) => {
                    tracing::warn!(level = %name, argv = ?argv, "cannot start: {message}");
                    match reply {
                        Some(reply) => {
                            let _ = reply.send(Response::Error(message));
                        }
                        None => {
                            let program = argv[0].rsplit('/').next().unwrap_or("").to_string();
                            self.notify(format!("cannot start {program} in {label}"));
                        }
                    }
                }
                _ => tracing::warn!(level = %name, "init: {message}"),
            },
            InitReply::Stopping => {
                let _ = cage.pending.pop_front();
            }
        }
    }

    /// SIGCHLD: see which cage (or the compositor) ended.
    fn reap(&mut self) {
        for index in 0..self.levels.len() {
            let ended = match self.levels[index].cage.as_mut() {
                Some(cage) => match cage.helper.try_wait() {
                    Ok(Some(status)) => Some(status),
                    _ => None,
                },
                None => None,
            };
            let Some(status) = ended else {
                continue;
            };
            let name = self.config.levels[index].name.clone();
            let run = &mut self.levels[index];
            let was = run.phase;
            if let Some(cage) = run.cage.take() {
                // Whatever init had not answered will not be answered.
                for pending in cage.pending {
                    if let Pending::Spawn {
                        reply: Some(reply), ..
                    } = pending
                    {
                        let _ = reply.send(Response::Error(format!("level {name} stopped")));
                    }
                }
            }
            run.phase = Phase::Stopped;
            self.tell_compositor(&ToCompositor::LevelState {
                level: name.clone(),
                running: false,
            });
            if was == Phase::Running {
                tracing::error!(level = %name, %status, "the level's cage ended: restart it with `cloison ctl restart-level {name}`");
                self.notify(format!(
                    "{} stopped ({status}); cloison ctl restart-level {name}",
                    self.label(index)
                ));
            } else {
                tracing::info!(level = %name, %status, "cage stopped");
            }
            if let Some(reply) = self.levels[index].restart.take()
                && self.outcome.is_none()
            {
                self.start_level(index);
                if let Some(reply) = reply {
                    let _ = reply.send(Response::Ok(Reply::Done));
                }
            }
        }
        let compositor_ended = self
            .compositor
            .as_mut()
            .and_then(|c| c.helper.try_wait().ok().flatten());
        if let Some(status) = compositor_ended
            && self.outcome.is_none()
        {
            self.compositor_died(status.to_string());
        }
    }

    fn compositor_died(&mut self, why: String) {
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!("cloison: the compositor stopped unexpectedly ({why}); the session is over");
        }
        self.outcome = Some(1);
    }

    fn ctl(&mut self, request: Request, reply: mpsc::Sender<Response>) {
        let level_index = |name: &str| self.config.levels.iter().position(|l| l.name == name);
        match request {
            Request::Quit => {
                tracing::info!("quit requested on the control socket");
                let _ = reply.send(Response::Ok(Reply::Done));
                self.outcome.get_or_insert(0);
            }
            Request::Spawn { level, argv } => match level_index(&level) {
                Some(index) => self.spawn(index, argv, None, Some(reply)),
                None => {
                    let _ = reply.send(Response::Error(format!("no level {level:?}")));
                }
            },
            Request::CancelTransfer { id } => {
                let _ = reply.send(if self.transfers.cancel(id) {
                    Response::Ok(Reply::Done)
                } else {
                    Response::Error(format!("no transfer {id} is running"))
                });
            }
            Request::RestartLevel { level } => match level_index(&level) {
                Some(index) => {
                    if self.levels[index].cage.is_some() {
                        self.levels[index].restart = Some(Some(reply));
                        if self.levels[index].phase == Phase::Running {
                            self.stop_level(index);
                        }
                    } else {
                        self.start_level(index);
                        let _ = reply.send(Response::Ok(Reply::Done));
                    }
                }
                None => {
                    let _ = reply.send(Response::Error(format!("no level {level:?}")));
                }
            },
            other => {
                let _ = reply.send(Response::Error(format!(
                    "{other:?} is the compositor's to answer"
                )));
            }
        }
    }

    fn cages(&self) -> Vec<Option<CageStatus>> {
        self.levels
            .iter()
            .zip(&self.config.levels)
            .map(|(run, level)| {
                let helper_pid = run.cage.as_ref().map(|c| c.helper.id());
                Some(CageStatus {
                    state: match run.phase {
                        Phase::Running => "running",
                        Phase::Stopping => "stopping",
                        Phase::Stopped => "stopped",
                    }
                    .into(),
                    helper_pid,
                    init_pid: helper_pid.and_then(init_of),
                    apps: run
                        .cage
                        .as_ref()
                        .map(|c| {
                            c.apps
                                .iter()
                                .map(|(pid, app)| AppStatus {
                                    pid: *pid,
                                    argv: app.argv.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    network: level.network.to_string(),
                    enforced: run.enforced.clone(),
                })
            })
            .collect()
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

/// The pid (outside) of a helper's only child: the cage's init.
fn init_of(helper: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{helper}/task/{helper}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What the nested compositor gets of its parent display: for X11, a memory file holding only
/// that display's entries of the X authority file (if there is one); for Wayland, the
/// launcher's connection to the parent's socket.
fn parent_descriptor(parent: &ParentDisplay) -> anyhow::Result<Option<OwnedFd>> {
    use nix::sys::memfd::{MemFdCreateFlag, memfd_create};
    if let Some((number, _)) = parent.x11_socket() {
        let Some(file) = parent.xauthority.as_ref().filter(|f| f.is_file()) else {
            return Ok(None);
        };
        let bytes = std::fs::read(file)
            .with_context(|| format!("cannot read the X authority file {}", file.display()))?;
        let Some(entries) = plans::xauthority_for(&bytes, &number) else {
            tracing::warn!(
                "{} is not an X authority file: not passed on",
                file.display()
            );
            return Ok(None);
        };
        let fd = memfd_create(c"cloison-xauthority", MemFdCreateFlag::MFD_CLOEXEC)
            .context("memfd_create")?;
        let mut out = std::fs::File::from(fd);
        out.write_all(&entries)?;
        std::io::Seek::rewind(&mut out)?;
        return Ok(Some(OwnedFd::from(out)));
    }
    if let Some(socket) = &parent.wayland {
        let stream = UnixStream::connect(socket).with_context(|| {
            format!("cannot connect to the parent display {}", socket.display())
        })?;
        return Ok(Some(OwnedFd::from(stream)));
    }
    Ok(None)
}

/// The configuration as JSON in a sealed memory file, for the compositor to read.
fn config_memfd(config: &Config) -> anyhow::Result<OwnedFd> {
    use nix::sys::memfd::{MemFdCreateFlag, memfd_create};
    let fd =
        memfd_create(c"cloison-config", MemFdCreateFlag::MFD_CLOEXEC).context("memfd_create")?;
    let mut file = std::fs::File::from(fd);
    file.write_all(&serde_json::to_vec(config)?)?;
    std::io::Seek::rewind(&mut file)?;
    Ok(OwnedFd::from(file))
}

/// Reads a cage's init, line by line, into the loop.
fn read_init(level: usize, generation: u64, reader: BufReader<UnixStream>, events: Sender<Event>) {
    let _ = std::thread::Builder::new()
        .name(format!("init-{level}"))
        .spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<InitReply>(&line) {
                    Ok(reply) => {
                        if events
                            .send(Event::Init {
                                level,
                                generation,
                                reply,
                            })
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(err) => tracing::warn!(level, "bad line from init: {err}"),
                }
            }
        });
}

/// Reads the compositor's channel into the loop, each message with its descriptor.
fn read_compositor(stream: UnixStream, events: Sender<Event>) {
    use cloison_ipc::channel::{self, ChannelError, Fill, Receiver};
    let _ = std::thread::Builder::new()
        .name("compositor".into())
        .spawn(move || {
            let mut receiver = Receiver::new(channel::SESSION);
            loop {
                let fill = receiver.fill(&stream);
                loop {
                    match receiver.next_frame() {
                        Ok(Some(frame)) => {
                            if frame.lost_descriptors {
                                // Out of descriptors: that message's content is lost (the copy
                                // fails), the channel goes on.
                                tracing::error!(
                                    "a message from the compositor lost its descriptor"
                                );
                            }
                            match frame.decode::<ToLauncher>() {
                                Ok((message, mut fds)) => {
                                    if events.send(Event::Compositor(message, fds.pop())).is_err() {
                                        return;
                                    }
                                }
                                Err(err) => {
                                    tracing::warn!("bad message from the compositor: {err}")
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(err) => {
                            tracing::error!("the compositor's channel is out of step: {err}");
                            let _ = events.send(Event::CompositorGone);
                            return;
                        }
                    }
                }
                match fill {
                    Ok(Fill::Open) | Err(ChannelError::Truncated) => {}
                    Ok(Fill::Closed) | Err(_) => break,
                }
            }
            let _ = events.send(Event::CompositorGone);
        });
}

/// Serves the public control socket: one thread per connection.
fn serve_ctl(
    handle: &LoopHandle<'static, Session>,
    listener: UnixListener,
    compositor: PathBuf,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            move |_, listener, session| {
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let events = session.events.clone();
                            let compositor = compositor.clone();
                            let _ =
                                std::thread::Builder::new()
                                    .name("ctl".into())
                                    .spawn(move || {
                                        crate::control::serve(
                                            stream,
                                            events_fn(events),
                                            &compositor,
                                        )
                                    });
                        }
                        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(err) => {
                            tracing::warn!("control accept failed: {err}");
                            break;
                        }
                    }
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot watch the control socket: {e}"))?;
    Ok(())
}

/// What a control connection's thread may ask of the loop.
fn events_fn(events: Sender<Event>) -> crate::control::Loop {
    let cages = events.clone();
    crate::control::Loop {
        request: Box::new(move |request| {
            let (reply, answer) = mpsc::channel();
            events
                .send(Event::Ctl { request, reply })
                .map_err(|_| "the session is ending".to_string())?;
            answer
                .recv_timeout(REQUEST_TIMEOUT)
                .map_err(|_| "the session did not answer".to_string())
        }),
        cages: Box::new(move || {
            let (reply, answer) = mpsc::channel();
            cages.send(Event::Cages { reply }).ok()?;
            answer.recv_timeout(REQUEST_TIMEOUT).ok()
        }),
    }
}

/// Serves a level's manager socket: the connection's level is the socket's, by construction
/// (requests: `hello`, and file transfers, `crate::manager::transfer`).
fn serve_manager(
    handle: &LoopHandle<'static, Session>,
    index: usize,
    level: String,
    listener: UnixListener,
    transfers: Arc<crate::manager::transfer::Transfers>,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            move |_, listener, _| {
                while let Ok((stream, _)) = listener.accept() {
                    // At most MAX_CONNECTIONS at once per level: past that, closed at once.
                    let Some(slot) = transfers.connect(&level) else {
                        tracing::debug!(level, "too many manager connections: one closed");
                        continue;
                    };
                    let level = level.clone();
                    let transfers = transfers.clone();
                    // Each connection has its thread: a slow transfer never holds the loop.
                    let _ = std::thread::Builder::new()
                        .name(format!("manager-{index}"))
                        .spawn(move || {
                            let _ = stream.set_nonblocking(false);
                            crate::manager::transfer::serve(&stream, &level, &transfers);
                            // The slot is free before the level sees the connection close, so
                            // it can connect again at once.
                            drop(slot);
                        });
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot watch a manager socket: {e}"))?;
    Ok(())
}

#[allow(clippy::disallowed_macros)]
fn print_banner(config: &Config, paths: &SessionPaths, backend: &str, size: (i32, i32)) {
    println!("Cloison session running ({backend}, {}x{})", size.0, size.1);
    for level in &config.levels {
        println!(
            "  level {:<8} {:<8} WAYLAND_DISPLAY={}  home {}",
            level.name,
            format!("({})", level.label),
            paths::level_wayland_socket(&paths.runtime_dir, &level.name).display(),
            paths.level_home(&level.name).display()
        );
    }
    println!(
        "  control socket  {}  (cloison ctl status | screenshot FILE.png | quit; cloison spawn LEVEL -- CMD)",
        paths::ctl_socket(&paths.runtime_dir).display()
    );
    println!("Press Ctrl+C to end the session.");
    let _ = std::io::stdout().flush();
}

/// Removes the session's runtime directory (sockets).
fn cleanup(session_dir: &Path) {
    if let Err(err) = std::fs::remove_dir_all(session_dir)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("cannot remove {}: {err}", session_dir.display());
    }
}

/// Tells the compositor when udev reports a display or input device change. The compositor's
/// cage has no netlink socket (no network at all), so the launcher listens for it: udev's own
/// announcements (multicast group 2, sent once a device node and its database entry are
/// ready), filtered to the `drm` and `input` subsystems.
fn watch_devices(handle: &LoopHandle<'static, Session>) -> anyhow::Result<()> {
    use nix::sys::socket::{
        AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, socket,
    };
    let socket = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        SockProtocol::NetlinkKObjectUEvent,
    )
    .context("cannot open a udev event socket")?;
    bind(socket.as_raw_fd(), &NetlinkAddr::new(0, 2)).context("cannot listen to udev events")?;
    handle
        .insert_source(
            Generic::new(socket, Interest::READ, Mode::Level),
            |_, socket, session| {
                let mut buf = [0u8; 8192];
                let mut changed = false;
                loop {
                    match nix::sys::socket::recv(
                        socket.as_raw_fd(),
                        &mut buf,
                        nix::sys::socket::MsgFlags::empty(),
                    ) {
                        Ok(n) => changed |= is_display_or_input(&buf[..n]),
                        Err(nix::errno::Errno::EAGAIN) => break,
                        Err(err) => {
                            tracing::warn!("udev events: {err}");
                            break;
                        }
                    }
                }
                if changed {
                    tracing::debug!("display or input devices changed");
                    session.tell_compositor(&ToCompositor::DevicesChanged);
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot watch udev events: {e}"))?;
    Ok(())
}

/// Whether a udev announcement is about a display (`drm`) or input device.
fn is_display_or_input(message: &[u8]) -> bool {
    message
        .split(|b| *b == 0)
        .any(|field| field == b"SUBSYSTEM=drm" || field == b"SUBSYSTEM=input")
}
