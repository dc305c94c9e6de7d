//! A CI job's GUI test, start to end: a headless compositor, one client (`wayland-info`) run
//! against it, the compositor gone.
//!
//! * **Cloison**: `cloison exec -- wayland-info` (the built-in configuration with no network,
//!   so nothing is built on the host): a whole session — launcher, confined compositor, both
//!   levels' cages — the client run in low's cage, the session ended.
//! * **weston** (headless, pixman): started on a private socket; `wayland-info` run against it
//!   once the socket exists; weston stopped with SIGTERM and waited for. `wlheadless-run`
//!   (xwayland-run) is not packaged in Debian 12; it starts weston (or mutter, kwin) this way,
//!   so weston's figure is its floor.
//!
//! Rounds are interleaved; medians are reported.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One `cloison exec` run, in ms.
fn cloison_round(dir: &std::path::Path) -> anyhow::Result<f64> {
    let config = dir.join("cloison.toml");
    let start = Instant::now();
    let out = Command::new(crate::clipboard::bin("cloison"))
        .arg("exec")
        .arg("--config")
        .arg(&config)
        .args(["--", "wayland-info"])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .env("TMPDIR", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if !out.status.success() {
        bail!(
            "cloison exec failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(ms)
}

/// weston started, `wayland-info` run against it, weston stopped: in ms.
fn weston_round(dir: &std::path::Path) -> anyhow::Result<f64> {
    let runtime = dir.join("weston");
    let _ = std::fs::remove_dir_all(&runtime);
    std::fs::create_dir(&runtime)?;
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )?;
    let start = Instant::now();
    let mut weston = Command::new("weston")
        .args([
            "--backend=headless-backend.so",
            "--use-pixman",
            "--width=1280",
            "--height=720",
            "--socket=bench-exec",
            "--idle-time=0",
        ])
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("weston")?;
    let socket = runtime.join("bench-exec");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        if Instant::now() > deadline {
            let _ = weston.kill();
            bail!("weston did not start");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let status = Command::new("wayland-info")
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("WAYLAND_DISPLAY", "bench-exec")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(weston.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    weston.wait()?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if !status.success() {
        bail!("wayland-info failed against weston");
    }
    Ok(ms)
}

/// Runs the comparison and prints a Markdown table.
#[allow(clippy::disallowed_macros)]
pub fn run(rounds: usize) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("cloison-bench-exec-")
        .tempdir()?;
    std::fs::write(
        dir.path().join("cloison.toml"),
        include_str!("../../assets/cloison.toml")
            .replace("network = \"nat\"", "network = \"none\""),
    )?;
    let (mut cloison, mut weston) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        cloison.push(cloison_round(dir.path())?);
        weston.push(weston_round(dir.path())?);
    }
    let (c, w) = (median(cloison), median(weston));
    println!("| start, one client, stop (median of {rounds}) | ms |");
    println!("|---|---:|");
    println!("| `cloison exec -- wayland-info` | {c:.0} |");
    println!("| weston headless + `wayland-info` | {w:.0} |");
    println!("| ratio Cloison / weston | {:.2}x |", c / w);
    Ok(())
}
