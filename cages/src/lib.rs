//! Cloison's cages: one sandbox per security level.
//!
//! A [`CagePlan`](plan::CagePlan) — plain, serde-able data built by the trusted launcher — is
//! validated, then turned into a running cage by the `cloison-cage` helper binary:
//!
//! ```text
//! launcher ──spawns──▶ cloison-cage (helper, outside)      plan on stdin, control socket fd 3
//!                        │ validate, check paths, refresh the level's /etc cache
//!                        │ root: a user namespace owned by the cage's outside uid (userns)
//!                        │ clone(NEWNS|NEWPID|NEWIPC|NEWUTS|NEWCGROUP[|NEWNET]
//!                        │       [|NEWUSER when unprivileged: then write the child's maps])
//!                        │ then let it go
//!                        └─▶ init (pid 1 inside)     setsid: no controlling terminal
//!                              │                     prepare(): open host paths (O_PATH),
//!                              │                     compile seccomp
//!                              │                     build(): mounts, pivot_root, hostname, lo,
//!                              │                     [root: join the user namespace], become
//!                              │                     the cage's user, rlimits, umask, fds,
//!                              │                     no_new_privs, caps, landlock, seccomp —
//!                              │                     then serves spawns
//!                              └─▶ apps (each in a new session)
//! ```
//!
//! The helper stays as the cage's supervisor outside: it forwards SIGTERM/SIGINT/SIGHUP to init,
//! exits with init's status, and dies with its parent (the launcher); init dies with the helper
//! and takes the whole pid namespace with it. The helper is a separate, single-threaded program
//! so that nothing runs between `clone` and the cage's confinement but plain system calls.
//!
//! Nothing in a cage shares the launcher's terminal: init starts a new session before anything
//! else (no controlling terminal, so `/dev/tty` opens nothing of the host's and job-control
//! ioctls reach no terminal outside), and every program it starts gets a session of its own
//! (bubblewrap's `--new-session`; CVE-2017-5226).
//!
//! Modules: [`plan`] (the plan and its validator), [`setup`] (the ordered build), [`seccomp`]
//! (policies from `assets/seccomp/`), [`init`] (pid 1), [`userns`] (user namespaces owned by
//! the cage's own uid), [`sys`] (system-call wrappers whose errors name the call).

pub mod init;
pub mod plan;
pub mod seccomp;
pub mod setup;
pub mod sys;
pub mod userns;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

pub use plan::CagePlan;

/// Errors of cages.
#[derive(Debug, thiserror::Error)]
pub enum CageError {
    /// The plan is invalid.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// Preparing or building failed.
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
    /// The cage's init reported a failure while building the cage.
    #[error("building cage {level:?} failed: {message}")]
    Build {
        /// Level name.
        level: String,
        /// What init reported.
        message: String,
    },
    /// The cage's user namespace could not be made.
    #[error("cage {level:?}: {source}")]
    UserNs {
        /// Level name.
        level: String,
        /// Why.
        #[source]
        source: userns::UserNsError,
    },
    /// Anything else on the way.
    #[error("cage {level:?}: {message}")]
    Other {
        /// Level name.
        level: String,
        /// What happened.
        message: String,
    },
}

/// Why a running cage's init could not do what was asked ([`Cage::spawn`], [`Cage::stop`]).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The cage's init is gone (its channel closed or failed).
    #[error("the cage's init is gone")]
    Gone(#[source] Option<std::io::Error>),
    /// A request or answer did not (de)serialise.
    #[error("the cage's init channel carried something unreadable: {0}")]
    Garbled(#[from] serde_json::Error),
    /// Init could not do it (e.g. the program does not exist in the cage).
    #[error("{0}")]
    Refused(String),
    /// Init answered something else.
    #[error("unexpected answer from the cage's init: {0}")]
    Unexpected(String),
}

/// `command` gets each `(descriptor, number)` of `moves`: every source is first copied above
/// 500 (close-on-exec), so that no target overwrites a source still to be moved, then `dup2`ed
/// into place (which clears close-on-exec on the targets). The sources must stay open until
/// the command is spawned.
pub fn pass_fds(command: &mut Command, moves: Vec<(RawFd, RawFd)>) {
    // SAFETY: between fork and exec only fcntl and dup2 are called, which are
    // async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            let mut high = Vec::with_capacity(moves.len());
            for &(source, target) in &moves {
                let copy = libc::fcntl(source, libc::F_DUPFD_CLOEXEC, 500);
                if copy < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push((copy, target));
            }
            for &(copy, target) in &high {
                if libc::dup2(copy, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Namespaces every cage gets (network only when the plan says `none`; the user namespace
/// here only when it was not created beforehand, see [`userns`]).
fn clone_flags(plan: &CagePlan, new_user_namespace: bool) -> CloneFlags {
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    if plan.network == plan::Network::None {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if new_user_namespace {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    flags
}

/// The helper's work: builds the cage described by `plan` and supervises it until its init
/// ends; returns the exit code to use. `control` is the launcher's channel to init.
///
/// `netns`: the network namespace to join when the plan says [`plan::Network::Given`] (the
/// launcher's descriptor, [`plan::NETNS_FD`]); it is closed once joined.
pub fn run_helper(
    plan: &CagePlan,
    control: Option<OwnedFd>,
    netns: Option<OwnedFd>,
) -> Result<i32, CageError> {
    let other = |message: String| CageError::Other {
        level: plan.name.clone(),
        message,
    };
    let caller = nix::unistd::geteuid().as_raw();
    plan.validate(caller)?;
    // Die with the launcher.
    sys::prctl(
        libc::PR_SET_PDEATHSIG,
        libc::SIGKILL as libc::c_ulong,
        "PR_SET_PDEATHSIG",
    )
    .map_err(setup::SetupError::from)?;
    // Join an administrator's network namespace (only root may, checked by validate()).
    if let plan::Network::Netns(name) = &plan.network {
        let path = Path::new("/run/netns").join(name);
        let ns = std::fs::File::open(&path)
            .map_err(|e| other(format!("cannot open {}: {e}", path.display())))?;
        nix::sched::setns(ns, CloneFlags::CLONE_NEWNET)
            .map_err(|e| other(format!("setns({}): {e}", path.display())))?;
    }
    // Join the namespace the launcher built for the level; the descriptor goes with it.
    match (&plan.network, netns) {
        (plan::Network::Given { .. }, Some(ns)) => {
            nix::sched::setns(ns, CloneFlags::CLONE_NEWNET)
                .map_err(|e| other(format!("setns(the level's network namespace): {e}")))?;
        }
        (plan::Network::Given { .. }, None) => {
            return Err(other(
                "the plan joins the level's own network namespace, but none was passed".into(),
            ));
        }
        (_, Some(_)) => {
            return Err(other(
                "a network namespace was passed, but the plan does not join it".into(),
            ));
        }
        (_, None) => {}
    }
    // Fail early, with the helper's error, on what the cage would find missing.
    check_paths(plan).map_err(other)?;
    // The level's /etc, prepared once and kept up to date.
    setup::ensure_etc_cache(plan)?;
    // Run as root, the cage's user namespace belongs to its own outside uid: the kernel's
    // per-user counters of everything in the cage are that uid's, not root's.
    let user_ns = if caller == 0 {
        Some(
            userns::create(&plan.identity).map_err(|source| CageError::UserNs {
                level: plan.name.clone(),
                source,
            })?,
        )
    } else {
        None
    };
    let flags = clone_flags(plan, user_ns.is_none());
    // Termination signals are forwarded to init; SIGCHLD tells us it ended.
    let mut mask = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        mask.add(sig);
    }
    mask.thread_block()
        .map_err(|e| other(format!("sigprocmask: {e}")))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| other(format!("signalfd: {e}")))?;

    let (go_r, go_w) = nix::unistd::pipe().map_err(|e| other(format!("pipe: {e}")))?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| other(format!("pipe2: {e}")))?;
    let clone_bits = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: a fork-like clone (no new stack, no shared memory or files). This program is
    // single-threaded, so the child may run arbitrary code: it builds the cage and never
    // returns into the caller's frames (it exits).
    let pid = unsafe { libc::syscall(libc::SYS_clone, clone_bits, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        return Err(other(format!(
            "clone({flags:?}): {}",
            std::io::Error::last_os_error()
        )));
    }
    if pid == 0 {
        drop(go_w);
        drop(err_r);
        let code = child_main(plan, go_r, err_w, control, user_ns);
        std::process::exit(code);
    }
    let child = Pid::from_raw(pid as i32);
    drop(go_r);
    drop(err_w);
    drop(control);
    drop(user_ns);
    // The passed descriptors now live in the cage; the helper has no use for them.
    for &fd in &plan.pass_fds {
        // SAFETY: the launcher passed these descriptors for the cage; nothing in the helper
        // uses or owns them.
        drop(unsafe { owned_fd(fd) });
    }

    // Map the cage's user to its outside identity (unless its namespace was made with its
    // maps), then let init go.
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        write_maps(plan, child, caller).map_err(other)?;
    }
    // (If the child already failed, this write fails too: its message, read below, says why.)
    let _ = std::fs::File::from(go_w).write_all(b"g");

    // Init closes its end of the error pipe once built (or writes why it failed).
    let mut message = String::new();
    let _ = std::fs::File::from(err_r).read_to_string(&mut message);
    if !message.is_empty() {
        let _ = waitpid(child, None);
        return Err(CageError::Build {
            level: plan.name.clone(),
            message,
        });
    }

    // Supervise: forward termination signals, end with init.
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            _ => {}
        }
        match signals.read_signal() {
            Ok(Some(info)) if info.ssi_signo as i32 != libc::SIGCHLD => {
                if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                    let _ = nix::sys::signal::kill(child, sig);
                }
            }
            _ => {}
        }
    }
}

fn check_paths(plan: &CagePlan) -> Result<(), String> {
    if !plan.home.is_dir() {
        return Err(format!(
            "the level's home {} is not a directory",
            plan.home.display()
        ));
    }
    for bind in &plan.binds {
        if let Err(e) = std::fs::metadata(&bind.source) {
            return Err(format!("bind source {}: {e}", bind.source.display()));
        }
    }
    Ok(())
}

fn write_maps(plan: &CagePlan, child: Pid, caller: u32) -> Result<(), String> {
    let proc = format!("/proc/{child}");
    let id = &plan.identity;
    if caller != 0 {
        // Unprivileged: setgroups must be denied before a gid map can be written.
        std::fs::write(format!("{proc}/setgroups"), "deny")
            .map_err(|e| format!("write {proc}/setgroups: {e}"))?;
    }
    std::fs::write(
        format!("{proc}/uid_map"),
        format!("{} {} 1\n", id.uid, id.outside_uid),
    )
    .map_err(|e| {
        format!(
            "write {proc}/uid_map ({} -> {}): {e}",
            id.uid, id.outside_uid
        )
    })?;
    std::fs::write(
        format!("{proc}/gid_map"),
        format!("{} {} 1\n", id.gid, id.outside_gid),
    )
    .map_err(|e| {
        format!(
            "write {proc}/gid_map ({} -> {}): {e}",
            id.gid, id.outside_gid
        )
    })?;
    Ok(())
}

/// The cage's first process: waits for its maps, builds the cage, becomes init.
fn child_main(
    plan: &CagePlan,
    go: OwnedFd,
    err: OwnedFd,
    control: Option<OwnedFd>,
    user_ns: Option<OwnedFd>,
) -> i32 {
    // A new session, before anything: the cage never has the launcher's terminal as its
    // controlling terminal (TIOCSTI, TIOCSPGRP, KDSKBMODE on it, SIGTTOU games…).
    if nix::unistd::setsid().is_err() {
        return 125;
    }
    // Die if the helper dies (and, through it, the launcher).
    if sys::prctl(
        libc::PR_SET_PDEATHSIG,
        libc::SIGKILL as libc::c_ulong,
        "PR_SET_PDEATHSIG",
    )
    .is_err()
    {
        return 125;
    }
    let mut err = std::fs::File::from(err);
    // Open the host paths and compile the policy while the helper writes our maps (opening
    // depends on our outside identity only, which the maps do not change).
    let prepared = match setup::prepare(plan) {
        Ok(prepared) => prepared,
        Err(e) => {
            let _ = write!(err, "{e}");
            return 125;
        }
    };
    let mut byte = [0u8; 1];
    let mut go = std::fs::File::from(go);
    if go.read_exact(&mut byte).is_err() {
        return 125;
    }
    drop(go);
    let mut keep = vec![err.as_raw_fd()];
    if let Some(c) = &control {
        keep.push(c.as_raw_fd());
    }
    keep.extend(&plan.pass_fds);
    if let Err(e) = setup::build(plan, prepared, &keep, user_ns) {
        let _ = write!(err, "{e}");
        return 125;
    }
    // Built: closing the error pipe tells the helper.
    drop(err);
    let control = control.map(UnixStream::from);
    init::run(plan, control)
}

/// A running cage, seen from the launcher.
pub struct Cage {
    /// The helper process (the cage's supervisor outside).
    pub helper: Child,
    control: BufReader<UnixStream>,
    writer: UnixStream,
    events: Vec<(i32, i32)>,
}

/// What a cage gets from the launcher besides its plan.
#[derive(Default)]
pub struct CageIo {
    /// Descriptors for the plan's `run` commands, each with the number it gets (the plan's
    /// `pass_fds`, in the same order).
    pub pass: Vec<(OwnedFd, i32)>,
    /// Standard output and error of everything in the cage (default: the launcher's).
    pub output: Option<OwnedFd>,
    /// The network namespace the plan's [`plan::Network::Given`] joins.
    pub netns: Option<OwnedFd>,
}

impl Cage {
    /// Starts a cage: runs `helper` (the `cloison-cage` binary) with the plan.
    pub fn start(plan: &CagePlan, helper: &Path) -> Result<Cage, CageError> {
        Cage::start_with(plan, helper, CageIo::default())
    }

    /// Starts a cage with descriptors to pass and where its output goes.
    pub fn start_with(plan: &CagePlan, helper: &Path, io: CageIo) -> Result<Cage, CageError> {
        let other = |message: String| CageError::Other {
            level: plan.name.clone(),
            message,
        };
        plan.validate(nix::unistd::geteuid().as_raw())?;
        let targets: Vec<i32> = io.pass.iter().map(|(_, t)| *t).collect();
        if targets != plan.pass_fds {
            return Err(other(format!(
                "descriptors passed as {targets:?}, the plan expects {:?}",
                plan.pass_fds
            )));
        }
        let (ours, theirs) = UnixStream::pair().map_err(|e| other(format!("socketpair: {e}")))?;
        // (source, target): the control socket becomes 3, passed descriptors their numbers.
        let mut moves: Vec<(i32, i32)> = vec![(theirs.as_raw_fd(), 3)];
        if let Some(ns) = &io.netns {
            moves.push((ns.as_raw_fd(), plan::NETNS_FD));
        }
        moves.extend(io.pass.iter().map(|(fd, target)| (fd.as_raw_fd(), *target)));
        let mut command = Command::new(helper);
        command
            .arg("run")
            .arg("--control-fd")
            .arg("3")
            .stdin(Stdio::piped())
            // Its own process group: a terminal's Ctrl+C reaches the launcher only, which
            // stops the cages in order.
            .process_group(0);
        if let Some(output) = io.output {
            let copy = output.try_clone().map_err(|e| other(format!("dup: {e}")))?;
            command
                .stdout(Stdio::from(output))
                .stderr(Stdio::from(copy));
        }
        // SAFETY: between fork and exec only sigaction is called, which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                // The launcher ignores the terminal's stop signals; a cage starts with the
                // default for them (an ignored signal stays ignored across exec).
                for signal in [libc::SIGTTOU, libc::SIGTTIN, libc::SIGTSTP] {
                    libc::signal(signal, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        pass_fds(&mut command, moves);
        let mut child = command
            .spawn()
            .map_err(|e| other(format!("cannot start {}: {e}", helper.display())))?;
        drop(theirs);
        drop(io.pass);
        drop(io.netns);
        let json = serde_json::to_vec(plan).map_err(|e| other(e.to_string()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(&json)
                .map_err(|e| other(format!("cannot hand the plan over: {e}")))?;
        }
        let writer = ours.try_clone().map_err(|e| other(e.to_string()))?;
        Ok(Cage {
            helper: child,
            control: BufReader::new(ours),
            writer,
            events: Vec::new(),
        })
    }

    fn request(&mut self, request: &init::InitRequest) -> Result<init::InitReply, InitError> {
        let mut line = serde_json::to_string(request)?;
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .map_err(|e| InitError::Gone(Some(e)))?;
        loop {
            let mut answer = String::new();
            match self.control.read_line(&mut answer) {
                Ok(0) => return Err(InitError::Gone(None)),
                Err(e) => return Err(InitError::Gone(Some(e))),
                Ok(_) => match serde_json::from_str(&answer)? {
                    init::InitReply::Exited { pid, status } => self.events.push((pid, status)),
                    reply => return Ok(reply),
                },
            }
        }
    }

    /// Starts `argv` inside the cage; returns its pid inside the cage.
    pub fn spawn(&mut self, argv: &[String]) -> Result<i32, InitError> {
        match self.request(&init::InitRequest::Spawn {
            argv: argv.to_vec(),
        })? {
            init::InitReply::Spawned { pid } => Ok(pid),
            init::InitReply::Error(e) => Err(InitError::Refused(e)),
            other => Err(InitError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Asks init to stop everything (SIGTERM, SIGKILL after a grace period).
    pub fn stop(&mut self) -> Result<(), InitError> {
        self.request(&init::InitRequest::Stop).map(drop)
    }

    /// Programs that ended while waiting for answers: (pid inside, status).
    pub fn take_exits(&mut self) -> Vec<(i32, i32)> {
        std::mem::take(&mut self.events)
    }

    /// Waits for the next end of a program init started (blocking); `None` once init is gone.
    pub fn next_exit(&mut self) -> Option<(i32, i32)> {
        if !self.events.is_empty() {
            return Some(self.events.remove(0));
        }
        loop {
            let mut line = String::new();
            match self.control.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {
                    if let Ok(init::InitReply::Exited { pid, status }) = serde_json::from_str(&line)
                    {
                        return Some((pid, status));
                    }
                }
            }
        }
    }

    /// Splits the cage for an event loop: the helper process, the channel's reading half (one
    /// [`init::InitReply`] per line) and its writing half (one [`init::InitRequest`] per line).
    pub fn into_parts(self) -> (Child, BufReader<UnixStream>, UnixStream) {
        (self.helper, self.control, self.writer)
    }

    /// Waits for the cage to end.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.helper.wait()
    }
}

/// Turns a raw descriptor number given on the command line into an owned one.
///
/// # Safety
/// `fd` must be an open descriptor this process owns and nothing else will close.
pub unsafe fn owned_fd(fd: i32) -> OwnedFd {
    // SAFETY: guaranteed by the caller.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
