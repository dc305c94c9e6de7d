//! `cloison exec -- CMD`: one command in a level of a headless session of its own, the way a
//! project runs its GUI tests in CI (like `wlheadless-run` or `weston --backend=headless`, but
//! with the command confined in a level's cage and framed by the trusted UI).
//!
//! It starts `cloison run --backend headless` with a private runtime directory and state
//! directory (sockets, the levels' logs and the audit log live there and go with it), waits
//! until the session answers, asks it to run the command in the level and to answer when the
//! command ends, prints what the level's programs write meanwhile, optionally saves a
//! screenshot, ends the session and exits with the command's status. The levels' homes are the
//! usual ones (`$XDG_DATA_HOME/cloison/levels/LEVEL/home`): what the command needs from the
//! project goes there, since a cage sees no other directory of the host's but `/usr`.
//!
//! Exit status: the command's; 124 if it ran past `--timeout`; 125 if the session could not
//! start or the command could not be run (1 for a bad command line or configuration); 130 if
//! `cloison exec` was interrupted (SIGINT, SIGTERM, SIGHUP). In every case the session is ended
//! and its directory removed; if `cloison exec` itself is killed, the session gets SIGTERM.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cloison_ipc::{Client, ClientError, Reply, Request};

use crate::cli::ExecArgs;

/// The exit status when the command outlived `--timeout` (as `timeout(1)`).
pub const TIMED_OUT: i32 = 124;
/// The exit status when the session or the command could not start.
pub const NOT_RUN: i32 = 125;
/// The exit status when `cloison exec` was interrupted (as a shell reports SIGINT).
pub const INTERRUPTED: i32 = 130;
/// How long the session may take to answer.
const STARTUP: Duration = Duration::from_secs(60);

/// Runs `cloison exec`; the exit status to end with.
#[allow(clippy::disallowed_macros)]
pub fn run(args: ExecArgs, verbose: bool) -> anyhow::Result<i32> {
    let source = cloison_config::locate(args.config.as_deref());
    let config = cloison_config::load(&source)?;
    let level = match &args.level {
        Some(level) => level.clone(),
        None => config.levels[0].name.clone(),
    };
    if config.level(&level).is_none() {
        anyhow::bail!(
            "no level {level:?} in {} (levels: {})",
            config.source,
            config
                .levels
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // The signals that cancel a CI job end the session and remove its directory.
    let signalled = Arc::new(AtomicBool::new(false));
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let _ = signal_hook::flag::register(signal, signalled.clone());
    }
    let dir = Scratch::new()?;
    let mut session = start_session(&args, &dir.path, verbose)?;
    let outcome = run_in_session(&args, &level, &dir.path, &mut session, &signalled);
    // The session ends in every case (its cages with it): asked on a connection of its own
    // (the first one may still be waiting for the command), else with SIGTERM, as a last
    // resort SIGKILL.
    let started = session.client.is_some();
    let socket = cloison_ipc::paths::ctl_socket(&dir.path);
    if let Ok(mut client) = Client::connect(&socket) {
        let _ = client.request(&Request::Quit);
    }
    if !wait_child(&mut session.child, Duration::from_secs(20)) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(session.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        if !wait_child(&mut session.child, Duration::from_secs(10)) {
            let _ = session.child.kill();
            let _ = session.child.wait();
        }
    }
    match outcome {
        Ok(status) => Ok(status),
        Err(Failure::Interrupted) => {
            eprintln!("cloison exec: interrupted; the session was ended");
            Ok(INTERRUPTED)
        }
        Err(Failure::TimedOut) => {
            eprintln!(
                "cloison exec: the command did not end within {} s; the session was ended",
                args.timeout
            );
            Ok(TIMED_OUT)
        }
        Err(Failure::NotRun(why)) => {
            eprintln!("cloison exec: {why:#}");
            if !verbose && !started {
                print_tail(&dir.path.join("session.log"));
            }
            Ok(NOT_RUN)
        }
    }
}

/// Why the command has no status of its own.
enum Failure {
    /// It ran past the timeout.
    TimedOut,
    /// `cloison exec` was told to stop (SIGINT, SIGTERM, SIGHUP).
    Interrupted,
    /// The session or the command could not start.
    NotRun(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Failure {
        Failure::NotRun(err)
    }
}

/// The session `cloison exec` started.
struct RunningSession {
    child: Child,
    client: Option<Client>,
}

/// A private directory for the session's runtime and state, removed at the end.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new() -> anyhow::Result<Scratch> {
        let base = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        // mkdtemp: a new directory, mode 0700.
        let path = nix::unistd::mkdtemp(&base.join("cloison-exec-XXXXXX"))
            .with_context(|| format!("cannot make a directory in {}", base.display()))?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn start_session(args: &ExecArgs, dir: &Path, verbose: bool) -> anyhow::Result<RunningSession> {
    let exe = std::env::current_exe().context("cannot find the cloison binary")?;
    let mut command = Command::new(exe);
    command
        .arg("run")
        // Only the command: no level's session apps.
        .args(["--no-session-apps", "--backend", "headless", "--size"])
        .arg(format!("{}x{}", args.size.0, args.size.1))
        .env("XDG_RUNTIME_DIR", dir)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let Some(config) = &args.config {
        command.arg("--config").arg(config);
    }
    if verbose {
        command.arg("--verbose").stderr(Stdio::inherit());
    } else {
        let log = std::fs::File::create(dir.join("session.log"))?;
        command.stderr(log);
    }
    // If `cloison exec` dies (a CI job cancelled with SIGKILL), the session ends too.
    use std::os::unix::process::CommandExt as _;
    // SAFETY: prctl is a single system call, async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().context("cannot start cloison run")?;
    Ok(RunningSession {
        child,
        client: None,
    })
}

fn run_in_session(
    args: &ExecArgs,
    level: &str,
    dir: &Path,
    session: &mut RunningSession,
    signalled: &AtomicBool,
) -> Result<i32, Failure> {
    let socket = cloison_ipc::paths::ctl_socket(dir);
    let started = Instant::now();
    let client = loop {
        if let Ok(mut client) = Client::connect(&socket)
            && client.request(&Request::Status).is_ok()
        {
            break client;
        }
        if let Ok(Some(status)) = session.child.try_wait() {
            return Err(anyhow::anyhow!("the session ended before it was ready ({status})").into());
        }
        if signalled.load(Ordering::Relaxed) {
            return Err(Failure::Interrupted);
        }
        if started.elapsed() > STARTUP {
            return Err(anyhow::anyhow!(
                "the session did not answer within {} s",
                STARTUP.as_secs()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    session.client = Some(client);

    // What the level's programs write, as it comes.
    let stop = Arc::new(AtomicBool::new(false));
    let printer = print_log(
        dir.join("state/cloison/logs").join(format!("{level}.log")),
        stop.clone(),
    );

    // The command is waited for on a connection of its own, in a thread: this one watches the
    // signals that cancel a CI job (the session is then ended as after a timeout).
    let mut waiter = Client::connect(&socket).map_err(|e| Failure::NotRun(e.into()))?;
    waiter
        .set_timeout(Some(Duration::from_secs(args.timeout)))
        .map_err(|e| Failure::NotRun(e.into()))?;
    let request = Request::Spawn {
        level: level.to_string(),
        argv: args.command.clone(),
        wait: true,
    };
    let (done, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(waiter.request(&request));
    });
    let outcome = loop {
        match answer.recv_timeout(Duration::from_millis(100)) {
            Ok(outcome) => break outcome,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                break Err(ClientError::Closed);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if signalled.load(Ordering::Relaxed) {
            stop.store(true, Ordering::Relaxed);
            let _ = printer.join();
            return Err(Failure::Interrupted);
        }
    };
    let outcome = match outcome {
        Ok(Reply::Exited { status, .. }) => Ok(status),
        Ok(other) => Err(Failure::NotRun(anyhow::anyhow!(
            "unexpected reply: {other:?}"
        ))),
        Err(ClientError::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(Failure::TimedOut)
        }
        Err(e) => Err(Failure::NotRun(
            anyhow::Error::new(e).context(format!("cannot run {:?} in {level}", args.command)),
        )),
    };
    if let Some(path) = &args.screenshot {
        // A fresh connection: after a timeout the old one may still get the late reply.
        let shot = Client::connect(&socket)
            .map_err(anyhow::Error::new)
            .and_then(|mut c| crate::ctl::save_screenshot(&mut c, path));
        if let Err(err) = shot {
            tracing::warn!("cannot save the screenshot: {err:#}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = printer.join();
    outcome
}

/// Copies what is appended to `path` to our standard output until `stop` (then what is left).
fn print_log(path: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut file = None;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let last = stop.load(Ordering::Relaxed);
            if file.is_none() {
                file = std::fs::File::open(&path).ok();
            }
            if let Some(f) = file.as_mut() {
                while let Ok(n) = f.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
                // Rotated (the name is another file now): all of the old one was printed
                // above; the new one is read from its start.
                use std::os::unix::fs::MetadataExt as _;
                let same = match (std::fs::metadata(&path), f.metadata()) {
                    (Ok(named), Ok(open)) => named.ino() == open.ino() && named.dev() == open.dev(),
                    _ => true,
                };
                if !same {
                    file = None;
                    continue;
                }
            }
            if last {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// Waits up to `timeout` for `child` to end.
fn wait_child(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The end of the session's log, for a session that did not start.
#[allow(clippy::disallowed_macros)]
fn print_tail(log: &Path) {
    if let Ok(text) = std::fs::read_to_string(log) {
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[lines.len().saturating_sub(20)..] {
            eprintln!("  {line}");
        }
    }
}
