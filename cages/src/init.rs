//! The cage's init: pid 1 of the cage's namespaces, confined like everything in the cage.
//!
//! It starts the plan's commands, reaps every process that ends (pid 1 inherits orphans),
//! forwards termination signals to the whole cage, and serves spawn requests from the trusted
//! launcher over a control socket the launcher holds (never reachable from inside: it is an
//! inherited descriptor, not a path). Arguments travel as argv arrays and are never given to a
//! shell.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::plan::CagePlan;

/// How long processes get between SIGTERM and SIGKILL when the cage stops.
const GRACE: Duration = Duration::from_secs(3);

/// A request to a cage's init (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitRequest {
    /// Start a program in the cage.
    Spawn {
        /// Program and arguments.
        argv: Vec<String>,
    },
    /// Stop everything and end the cage.
    Stop,
}

/// An answer from a cage's init.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitReply {
    /// Started, with its pid inside the cage.
    Spawned {
        /// pid in the cage's pid namespace.
        pid: i32,
    },
    /// Stopping.
    Stopping,
    /// The request failed.
    Error(String),
    /// Not an answer: a program init started (from the plan or a spawn request) ended. Sent
    /// whenever it happens, between answers.
    Exited {
        /// Its pid in the cage's pid namespace.
        pid: i32,
        /// Its exit code, or 128 + the signal that killed it.
        status: i32,
    },
}

fn spawn(plan: &CagePlan, argv: &[String]) -> Result<i32, String> {
    if argv.is_empty() || argv[0].is_empty() || argv.iter().any(|a| a.contains('\0')) {
        return Err("an empty command or a NUL byte".into());
    }
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .env_clear()
        .envs(plan.env.iter().cloned())
        .current_dir("/home/user");
    // SAFETY: only setsid and sigprocmask between fork and exec (both async-signal-safe).
    // Each program is a session of its own, without a controlling terminal (a terminal
    // emulator gives its shell one of the cage's own ptys). Init blocks the signals it reads
    // through its signalfd; programs must start with none blocked, or SIGTERM would not end
    // them (std's spawn keeps the mask).
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            SigSet::empty()
                .thread_set_mask()
                .map_err(std::io::Error::from)
        });
    }
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", argv[0]))?;
    // Reaped by the SIGCHLD loop, not through the handle.
    Ok(child.id() as i32)
}

/// Binds `listen.path` (a stale file there is replaced) and puts the listening socket at
/// descriptor `listen.fd`, inheritable.
fn listen_at(listen: &crate::plan::Listen) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    use std::os::fd::IntoRawFd as _;
    let x11_dir = Path::new(crate::plan::X11_SOCKET_DIR);
    if listen.path.parent() == Some(x11_dir) && !x11_dir.exists() {
        // Sticky and open to all, as X servers expect of /tmp/.X11-unix (on the cage's own
        // /tmp: only its programs see it).
        std::fs::create_dir(x11_dir)?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(x11_dir, std::fs::Permissions::from_mode(0o1777))?;
    }
    let _ = std::fs::remove_file(&listen.path);
    let listener = std::os::unix::net::UnixListener::bind(&listen.path)?;
    if listener.as_raw_fd() == listen.fd {
        // Already at its number: only inheritable still to make.
        let fd = listener.into_raw_fd();
        // SAFETY: F_SETFD on the descriptor just made only clears its close-on-exec flag.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        return Ok(());
    }
    // SAFETY: dup2 onto a number the plan reserved for this socket (validated: from 10 up,
    // distinct from every passed descriptor); the copy is not close-on-exec.
    if unsafe { libc::dup2(listener.as_raw_fd(), listen.fd) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs init until the cage ends; returns its exit code.
pub fn run(plan: &CagePlan, control: Option<UnixStream>) -> i32 {
    // The channel to the launcher is init's alone: no program of the cage may inherit it (it
    // could read the launcher's requests, or answer as init).
    if let Some(control) = &control {
        use std::os::fd::AsRawFd as _;
        // SAFETY: F_SETFD on a descriptor this function owns only sets its close-on-exec flag.
        unsafe { libc::fcntl(control.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let mut mask = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        mask.add(sig);
    }
    if mask.thread_block().is_err() {
        return 126;
    }
    let Ok(signals) = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
    else {
        return 126;
    };

    // The plan's listening sockets, at their numbers for the run commands.
    for listen in &plan.listen {
        if let Err(e) = listen_at(listen) {
            let _ = writeln!(
                std::io::stderr(),
                "cloison-cage[{}]: cannot listen at {}: {e}",
                plan.name,
                listen.path.display()
            );
            return 126;
        }
    }

    let mut first: Option<i32> = None;
    // Programs init started: their ends are reported to the launcher.
    let mut started: Vec<i32> = Vec::new();
    for (i, argv) in plan.run.iter().enumerate() {
        match spawn(plan, argv) {
            Ok(pid) => {
                started.push(pid);
                if i == 0 {
                    first = Some(pid);
                }
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "cloison-cage[{}]: {e}", plan.name);
                if i == 0 && plan.exit_with_first {
                    return 127;
                }
            }
        }
    }

    // The passed descriptors were for the plan's commands only.
    for &fd in &plan.pass_fds {
        // SAFETY: F_SETFD on a descriptor number only changes its close-on-exec flag.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // Init keeps no listening socket: once the command serving one has ended, a client gets
    // a refusal, not a wait in a backlog nobody reads.
    for listen in &plan.listen {
        let _ = nix::unistd::close(listen.fd);
    }

    let mut control: Control = control.and_then(|c| Some((BufReader::new(c.try_clone().ok()?), c)));
    let mut exit_code = 0;
    let mut stopping: Option<Instant> = None;
    let mut killed = false;
    loop {
        // Reap everything that ended.
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => {
                    if report_end(pid.as_raw(), code, &mut started, &mut control) == first
                        && plan.exit_with_first
                    {
                        exit_code = code;
                        stopping.get_or_insert_with(|| stop_all(Signal::SIGTERM));
                    }
                }
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    let status = 128 + sig as i32;
                    if report_end(pid.as_raw(), status, &mut started, &mut control) == first
                        && plan.exit_with_first
                    {
                        exit_code = status;
                        stopping.get_or_insert_with(|| stop_all(Signal::SIGTERM));
                    }
                }
                Ok(WaitStatus::StillAlive) => break,
                Ok(_) => {}
                Err(nix::errno::Errno::ECHILD) => {
                    // Nobody left: an ending cage ends; a cage with no commands and no control
                    // channel has nothing to wait for either.
                    if stopping.is_some() || (control.is_none() && !plan.run.is_empty()) {
                        return exit_code;
                    }
                    break;
                }
                Err(_) => break,
            }
        }
        if let Some(since) = stopping
            && !killed
            && since.elapsed() >= GRACE
        {
            stop_all(Signal::SIGKILL);
            killed = true;
        }

        let timeout = if stopping.is_some() {
            PollTimeout::from(100u16)
        } else {
            PollTimeout::NONE
        };
        let control_fd = control.as_ref().map(|(_, c)| c.as_fd());
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if let Some(fd) = control_fd {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        if poll(&mut fds, timeout).is_err() {
            continue;
        }
        let control_ready = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        drop(fds);

        while let Ok(Some(info)) = signals.read_signal() {
            let sig = info.ssi_signo as i32;
            if sig != libc::SIGCHLD {
                // Termination requested from outside: pass it on to the whole cage.
                if let Ok(signal) = Signal::try_from(sig) {
                    stopping.get_or_insert_with(|| stop_all(signal));
                }
            }
        }

        // Every request that came: one read may bring several lines, and the ones left in the
        // reader's buffer would not wake the poll again.
        while control_ready && let Some((reader, writer)) = control.as_mut() {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    // The launcher is gone: so is the cage.
                    control = None;
                    stopping.get_or_insert_with(|| stop_all(Signal::SIGTERM));
                }
                Ok(_) => {
                    let reply = match serde_json::from_str::<InitRequest>(&line) {
                        Ok(InitRequest::Spawn { .. }) if stopping.is_some() => {
                            InitReply::Error("the cage is stopping".into())
                        }
                        Ok(InitRequest::Spawn { argv }) => match spawn(plan, &argv) {
                            Ok(pid) => {
                                started.push(pid);
                                InitReply::Spawned { pid }
                            }
                            Err(e) => InitReply::Error(e),
                        },
                        Ok(InitRequest::Stop) => {
                            stopping.get_or_insert_with(|| stop_all(Signal::SIGTERM));
                            InitReply::Stopping
                        }
                        Err(e) => InitReply::Error(format!("bad request: {e}")),
                    };
                    send(writer, &reply);
                    if reader.buffer().is_empty() {
                        break;
                    }
                }
            }
        }
    }
}

type Control = Option<(BufReader<UnixStream>, UnixStream)>;

fn send(writer: &mut UnixStream, reply: &InitReply) {
    let mut out = serde_json::to_string(reply).unwrap_or_default();
    out.push('\n');
    let _ = writer.write_all(out.as_bytes());
}

/// A process ended: if init started it, tells the launcher. Returns its pid (as `Some`) so the
/// caller can compare it with the first command's.
fn report_end(pid: i32, status: i32, started: &mut Vec<i32>, control: &mut Control) -> Option<i32> {
    if let Some(i) = started.iter().position(|&p| p == pid) {
        started.swap_remove(i);
        if let Some((_, writer)) = control.as_mut() {
            send(writer, &InitReply::Exited { pid, status });
        }
    }
    Some(pid)
}

/// Sends `signal` to every process of the cage but init; returns when.
fn stop_all(signal: Signal) -> Instant {
    // In a pid namespace, kill(-1) reaches every process of the namespace except its init.
    let _ = kill(Pid::from_raw(-1), signal);
    Instant::now()
}
