//! Starting Cloison and its peers headless, measuring each with the same client, and printing
//! the comparison.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::client::ClientResult;

/// A running compositor.
pub(crate) struct Peer {
    name: &'static str,
    child: Child,
    pid: i32,
    /// Its Wayland socket (Cloison: level low's).
    pub(crate) socket: PathBuf,
    _runtime: tempfile::TempDir,
}

impl Peer {
    /// Its `XDG_RUNTIME_DIR`.
    pub(crate) fn runtime(&self) -> &Path {
        self._runtime.path()
    }
}

/// Starts `cloison` (the compositor alone), `sway` or `weston` headless.
pub(crate) fn start_peer(name: &'static str) -> anyhow::Result<Peer> {
    start(name, None)
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Each peer leads its own process group (weston starts helpers): stop them all.
        let group = nix::unistd::Pid::from_raw(-self.pid);
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

fn wait_socket(find: impl Fn() -> Option<PathBuf>, what: &str) -> anyhow::Result<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(path) = find() {
            return Ok(path);
        }
        if Instant::now() > deadline {
            bail!("{what} did not create its socket");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(name: &'static str, undecorated: Option<&Path>) -> anyhow::Result<Peer> {
    let runtime = tempfile::Builder::new()
        .prefix("cloison-bench-")
        .tempdir()?;
    std::fs::set_permissions(runtime.path(), std::fs::Permissions::from_mode(0o700))?;
    let dir = runtime.path().to_path_buf();
    let mut command;
    let socket_find: Box<dyn Fn() -> Option<PathBuf>>;
    match name {
        "cloison" | "cloison-desk" | "desk-undecorated" => {
            let binary = match name {
                "desk-undecorated" => undecorated
                    .context("desk-undecorated needs --undecorated PATH (a compositor built with --features bench-undecorated)")?
                    .to_path_buf(),
                _ => bin_dir().join("cloison-compositor"),
            };
            command = Command::new(binary);
            command.args(["--backend", "headless", "--size", "1920x1080"]);
            let socket = cloison_ipc::paths::level_wayland_socket(&dir, "low");
            socket_find = Box::new(move || socket.exists().then(|| socket.clone()));
        }
        "sway" => {
            // sway refuses to run as root: run it as nobody, in a runtime dir nobody owns.
            let nobody = nix::unistd::User::from_name("nobody")?.context("no user nobody")?;
            nix::unistd::chown(&dir, Some(nobody.uid), Some(nobody.gid))?;
            let config = dir.join("sway.conf");
            std::fs::write(&config, "output HEADLESS-1 resolution 1920x1080\n")?;
            std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644))?;
            command = Command::new("setpriv");
            command
                .args([
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                    "sway",
                    "-c",
                ])
                .arg(&config)
                .env("WLR_BACKENDS", "headless")
                .env("WLR_RENDERER", "pixman")
                .env("WLR_LIBINPUT_NO_DEVICES", "1")
                .env("HOME", &dir);
            let d = dir.clone();
            socket_find = Box::new(move || {
                std::fs::read_dir(&d)
                    .ok()?
                    .flatten()
                    .map(|e| e.path())
                    .find(|p| {
                        let n = p
                            .file_name()
                            .map(|n| n.to_string_lossy().to_string())
                            .unwrap_or_default();
                        n.starts_with("wayland-") && !n.ends_with(".lock")
                    })
            });
        }
        "weston" => {
            command = Command::new("weston");
            command.args([
                "--backend=headless-backend.so",
                "--use-pixman",
                "--width=1920",
                "--height=1080",
                "--socket=bench-weston",
                "--idle-time=0",
            ]);
            let socket = dir.join("bench-weston");
            socket_find = Box::new(move || socket.exists().then(|| socket.clone()));
        }
        other => bail!("unknown peer {other}"),
    }
    command
        .env("XDG_RUNTIME_DIR", &dir)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let pid = child.id() as i32;
    let mut peer = Peer {
        name,
        child,
        pid,
        socket: PathBuf::new(),
        _runtime: runtime,
    };
    peer.socket = wait_socket(socket_find, name)?;
    Ok(peer)
}

/// Nanoseconds on CPU of all the threads of `pid`.
fn cpu_ns(pid: i32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// (Rss, Pss) in kB.
fn memory_kb(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Rss:"), field("Pss:"))
}

fn run_client(peer: &Peer, mode: &str, amount: u64) -> anyhow::Result<ClientResult> {
    let out = Command::new(std::env::current_exe()?)
        .args(["client", mode, &amount.to_string()])
        .env("WAYLAND_DISPLAY", &peer.socket)
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("{} client against {} failed", mode, peer.name);
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Frame runs in an 800x600 window, for Cloison alone and with a busy desktop around it.
const DESK_RUNS: [(&str, &str, &str, &str); 2] = [
    (
        "full-800",
        "desk_full_cpu",
        "desk_full_fps",
        "desk_full_lat",
    ),
    (
        "small-800",
        "desk_small_cpu",
        "desk_small_fps",
        "desk_small_lat",
    ),
];

/// Opens ten framed windows (five per level) around the middle of a Cloison output and waits
/// until they are mapped; returns their processes.
fn busy_desktop(peer: &Peer) -> anyhow::Result<Vec<Child>> {
    let runtime = peer._runtime.path();
    let mut children = Vec::new();
    for i in 0..10 {
        let level = if i % 2 == 0 { "low" } else { "high" };
        let child = Command::new(bin_dir().join("cloison-test-client"))
            .args([
                "window",
                "--size",
                "400x300",
                "--app-id",
                &format!("desk-{i}"),
                "--title",
                &format!("Document {i}"),
            ])
            .env(
                "WAYLAND_DISPLAY",
                cloison_ipc::paths::level_wayland_socket(runtime, level),
            )
            .env("XDG_RUNTIME_DIR", runtime)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start cloison-test-client (build it with --bins)")?;
        children.push(child);
    }
    let mut ctl = cloison_ipc::Client::connect(&cloison_ipc::paths::ctl_socket(runtime))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let cloison_ipc::Reply::Status(status) = ctl.request(&cloison_ipc::Request::Status)?
            && status.windows.len() >= 10
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("the busy desktop did not come up");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(children)
}

/// Frame runs: client mode and the metrics it fills (CPU per frame, fps, latency).
const FRAME_RUNS: [(&str, &str, &str, &str); 4] = [
    ("full", "full_cpu", "full_fps", "full_lat"),
    ("small", "small_cpu", "small_fps", "small_lat"),
    ("full-fs", "fullfs_cpu", "fullfs_fps", "fullfs_lat"),
    ("small-fs", "smallfs_cpu", "smallfs_fps", "smallfs_lat"),
];

/// Metric name → per-round values, per peer.
type Results = BTreeMap<&'static str, BTreeMap<&'static str, Vec<f64>>>;

fn measure(
    name: &'static str,
    seconds: Duration,
    syncs: usize,
    undecorated: Option<&Path>,
    results: &mut Results,
) -> anyhow::Result<()> {
    let peer = start(name, undecorated)?;
    let desk = if name.contains("desk") {
        busy_desktop(&peer)?
    } else {
        Vec::new()
    };
    let mut put = |metric: &'static str, value: f64| {
        results
            .entry(name)
            .or_default()
            .entry(metric)
            .or_default()
            .push(value);
    };
    std::thread::sleep(Duration::from_secs(1));
    let idle0 = cpu_ns(peer.pid);
    std::thread::sleep(Duration::from_secs(2));
    let idle1 = cpu_ns(peer.pid);
    let (rss, pss) = memory_kb(peer.pid);
    put("idle_cpu_ms_per_s", (idle1 - idle0) as f64 / 2.0 / 1e6);
    put("idle_rss_mb", rss as f64 / 1024.0);
    put("idle_pss_mb", pss as f64 / 1024.0);

    let sync = run_client(&peer, "sync", syncs as u64)?;
    put("sync_p50_us", sync.p50_us);
    put("sync_p99_us", sync.p99_us);

    let runs: Vec<_> = match name {
        "cloison" => FRAME_RUNS.iter().chain(DESK_RUNS.iter()).collect(),
        "cloison-desk" | "desk-undecorated" => DESK_RUNS.iter().collect(),
        _ => FRAME_RUNS.iter().collect(),
    };
    for &(mode, cpu, fps, lat) in runs {
        let c0 = cpu_ns(peer.pid);
        let r = run_client(&peer, mode, seconds.as_secs())?;
        let c1 = cpu_ns(peer.pid);
        put(cpu, (c1 - c0) as f64 / r.count.max(1) as f64 / 1e6);
        put(fps, r.count as f64 / r.seconds);
        put(lat, r.p50_us / 1000.0);
    }
    drop(peer);
    for mut child in desk {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

/// Runs every peer `rounds` times (interleaved) and prints the table.
pub fn run_all(
    rounds: usize,
    seconds: Duration,
    syncs: usize,
    peers: &[String],
    undecorated: Option<&Path>,
) -> anyhow::Result<()> {
    let names: Vec<&'static str> = peers
        .iter()
        .map(|p| match p.as_str() {
            "cloison" => Ok("cloison"),
            "sway" => Ok("sway"),
            "weston" => Ok("weston"),
            "cloison-desk" => Ok("cloison-desk"),
            "desk-undecorated" => Ok("desk-undecorated"),
            other => Err(anyhow::anyhow!("unknown peer {other}")),
        })
        .collect::<anyhow::Result<_>>()?;
    let mut results = Results::new();
    for round in 0..rounds {
        for name in &names {
            eprintln_progress(&format!("round {}/{rounds}: {name}", round + 1));
            measure(name, seconds, syncs, undecorated, &mut results)?;
        }
    }
    print_table(&names, &results, rounds, seconds, syncs);
    Ok(())
}

#[allow(clippy::disallowed_macros)]
fn eprintln_progress(line: &str) {
    eprintln!("cloison-bench: {line}");
}

#[allow(clippy::disallowed_macros)]
fn print_table(
    names: &[&'static str],
    results: &Results,
    rounds: usize,
    seconds: Duration,
    syncs: usize,
) {
    let metrics = [
        ("sync_p50_us", "wl_display.sync round trip p50 (µs)"),
        ("sync_p99_us", "wl_display.sync round trip p99 (µs)"),
        ("full_cpu", "CPU per frame, window, full damage (ms)"),
        ("small_cpu", "CPU per frame, window, 256x256 damage (ms)"),
        ("fullfs_cpu", "CPU per frame, fullscreen, full damage (ms)"),
        (
            "smallfs_cpu",
            "CPU per frame, fullscreen, 256x256 damage (ms)",
        ),
        (
            "full_lat",
            "commit → frame done p50, window, full damage (ms)",
        ),
        (
            "small_lat",
            "commit → frame done p50, window, 256x256 damage (ms)",
        ),
        ("full_fps", "frames per second, window, full damage"),
        ("fullfs_fps", "frames per second, fullscreen, full damage"),
        (
            "desk_full_cpu",
            "CPU per frame, 800x600 window, full damage (ms)",
        ),
        (
            "desk_small_cpu",
            "CPU per frame, 800x600 window, 256x256 damage (ms)",
        ),
        ("idle_cpu_ms_per_s", "idle CPU (ms per s)"),
        ("idle_rss_mb", "idle RSS (MB)"),
        ("idle_pss_mb", "idle PSS (MB)"),
    ];
    println!(
        "Medians of {rounds} interleaved rounds; {syncs} round trips and {} s of frames per round.\n",
        seconds.as_secs()
    );
    let mut header = String::from("| metric |");
    let mut rule = String::from("|---|");
    for name in names {
        header.push_str(&format!(" {name} |"));
        rule.push_str("---:|");
    }
    let with_sway = names.contains(&"sway") && names.contains(&"cloison");
    let with_desk = names.contains(&"cloison-desk") && names.contains(&"desk-undecorated");
    if with_sway {
        header.push_str(" cloison / sway |");
        rule.push_str("---:|");
    }
    if with_desk {
        header.push_str(" framed / undecorated desk |");
        rule.push_str("---:|");
    }
    println!("{header}\n{rule}");
    for (key, label) in metrics {
        let mut row = format!("| {label} |");
        let value = |name: &str| {
            results
                .get(name)
                .and_then(|m| m.get(key))
                .map(|v| median(v))
        };
        for name in names {
            match value(name) {
                Some(v) => row.push_str(&format!(" {} |", fmt(v))),
                None => row.push_str(" – |"),
            }
        }
        if with_sway {
            match (value("cloison"), value("sway")) {
                (Some(c), Some(s)) if s > 0.0 => row.push_str(&format!(" {:.2} |", c / s)),
                _ => row.push_str(" – |"),
            }
        }
        if with_desk {
            match (value("cloison-desk"), value("desk-undecorated")) {
                (Some(d), Some(c)) if c > 0.0 => row.push_str(&format!(" {:.2} |", d / c)),
                _ => row.push_str(" – |"),
            }
        }
        println!("{row}");
    }
}

fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
