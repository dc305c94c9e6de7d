//! `cloison run`: the session supervisor.
//!
//! It validates the configuration, prepares the session's runtime directory (mode 0700),
//! starts the compositor as a child process (handing it the validated configuration on its
//! standard input), waits until every socket listens, tells the user where they are, and then
//! supervises: SIGINT/SIGTERM/SIGHUP end the session cleanly (exit 0, sockets and runtime
//! directory removed); an unexpected compositor exit ends it with an error.
//!
//! Levels' apps and cages come with the cages issue; the supervisor is where they will live.

use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cloison_config::Config;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};

use crate::cli::{BackendArg, RunArgs};

/// How long the compositor may take to start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the compositor may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs a session until it ends. Returns the process exit code.
pub fn run(args: RunArgs, verbose: bool) -> anyhow::Result<i32> {
    let source = cloison_config::locate(args.config.as_deref());
    let config = cloison_config::load(&source)?;
    let runtime_dir = cloison_ipc::paths::runtime_dir().map_err(anyhow::Error::msg)?;
    let session_dir = cloison_ipc::paths::session_dir(&runtime_dir);
    prepare_private_dir(&session_dir)?;

    let backend = match args.backend {
        BackendArg::Auto => {
            let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
            if set("WAYLAND_DISPLAY") || set("DISPLAY") {
                "winit"
            } else {
                "headless"
            }
        }
        BackendArg::Headless => "headless",
        BackendArg::Winit => "winit",
    };

    // Signals first, so none is lost while the compositor starts.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGCHLD])
        .context("cannot install signal handlers")?;

    let mut child = spawn_compositor(&config, backend, args.size, verbose)?;
    let ready = wait_ready(&mut child);
    if let Err(err) = ready {
        stop(&mut child);
        cleanup(&session_dir);
        return Err(err);
    }

    print_banner(&config, &runtime_dir, backend, args.size);

    let code = supervise(&mut child, &mut signals);
    cleanup(&session_dir);
    Ok(code)
}

/// Creates the session directory with mode 0700 and checks that it is ours.
fn prepare_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let meta = std::fs::symlink_metadata(dir)?;
    let uid = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != uid {
        bail!(
            "{} is not a directory owned by uid {uid}; remove it or set XDG_RUNTIME_DIR to your own runtime directory",
            dir.display()
        );
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// The compositor binary: next to ours (installed or in target/), else on PATH.
fn compositor_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("cloison-compositor")))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("cloison-compositor"))
}

fn spawn_compositor(
    config: &Config,
    backend: &str,
    size: (i32, i32),
    verbose: bool,
) -> anyhow::Result<Child> {
    let binary = compositor_binary();
    let mut command = Command::new(&binary);
    command
        .arg("--config-stdin")
        .arg("--print-ready")
        .arg("--backend")
        .arg(backend)
        .arg("--size")
        .arg(format!("{}x{}", size.0, size.1))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if verbose {
        command.arg("--verbose");
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {} (is Cloison installed?)", binary.display()))?;
    let json = serde_json::to_vec(config)?;
    let mut stdin = child.stdin.take().context("no pipe to the compositor")?;
    let written = stdin.write_all(&json);
    drop(stdin);
    if let Err(err) = written {
        stop(&mut child);
        return Err(err).context("cannot hand the configuration to the compositor");
    }
    Ok(child)
}

/// Waits for the compositor's `ready` line.
fn wait_ready(child: &mut Child) -> anyhow::Result<()> {
    let stdout = child.stdout.take().context("no pipe from the compositor")?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let result = BufReader::new(stdout).read_line(&mut line).map(|_| line);
        let _ = sender.send(result);
    });
    match receiver.recv_timeout(READY_TIMEOUT) {
        Ok(Ok(line)) if line.trim() == "ready" => Ok(()),
        Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            let status = child.wait().ok();
            bail!(
                "the compositor failed to start{} (its messages are above)",
                status.map(|s| format!(" ({s})")).unwrap_or_default()
            )
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            bail!(
                "the compositor did not start within {} s",
                READY_TIMEOUT.as_secs()
            )
        }
    }
}

#[allow(clippy::disallowed_macros)]
fn print_banner(config: &Config, runtime_dir: &Path, backend: &str, size: (i32, i32)) {
    println!("Cloison session running ({backend}, {}x{})", size.0, size.1);
    for level in &config.levels {
        println!(
            "  level {:<8} {:<8} WAYLAND_DISPLAY={}",
            level.name,
            format!("({})", level.label),
            cloison_ipc::paths::level_wayland_socket(runtime_dir, &level.name).display()
        );
    }
    println!(
        "  control socket  {}  (cloison ctl status | screenshot FILE.png | quit)",
        cloison_ipc::paths::ctl_socket(runtime_dir).display()
    );
    println!("Press Ctrl+C to end the session.");
    let _ = std::io::stdout().flush();
}

/// Waits for a signal or the compositor's exit; returns the session's exit code.
fn supervise(child: &mut Child, signals: &mut signal_hook::iterator::Signals) -> i32 {
    // The compositor may already have exited before SIGCHLD was being watched.
    if let Some(code) = check_exit(child) {
        return code;
    }
    for signal in signals.forever() {
        match signal {
            SIGCHLD => {
                if let Some(code) = check_exit(child) {
                    return code;
                }
            }
            _ => {
                tracing::info!(signal, "ending the session");
                stop(child);
                return 0;
            }
        }
    }
    0
}

/// If the compositor exited on its own: `ctl quit` (exit 0) ends the session normally,
/// anything else is an error.
fn check_exit(child: &mut Child) -> Option<i32> {
    match child.try_wait() {
        Ok(Some(status)) if status.success() => {
            tracing::info!("the compositor exited; session over");
            Some(0)
        }
        Ok(Some(status)) => {
            report_crash(status);
            Some(1)
        }
        Ok(None) => None,
        Err(err) => {
            tracing::error!("cannot check the compositor: {err}");
            None
        }
    }
}

#[allow(clippy::disallowed_macros)]
fn report_crash(status: ExitStatus) {
    eprintln!("cloison: the compositor stopped unexpectedly ({status}); the session is over");
}

/// SIGTERM, then SIGKILL after the grace period.
fn stop(child: &mut Child) {
    let pid = Pid::from_raw(child.id() as i32);
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!(
        "the compositor did not stop within {} s; killing it",
        STOP_GRACE.as_secs()
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Removes the session's runtime directory (sockets, lock files).
fn cleanup(session_dir: &Path) {
    if let Err(err) = std::fs::remove_dir_all(session_dir)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("cannot remove {}: {err}", session_dir.display());
    }
}
