//! The first X client of a level, against the same client on Xwayland under sway.
//!
//! * **Cloison**: a fresh `cloison run` (headless, no session apps, `x11 = "on-demand"`) per
//!   round; `xterm` spawned in low through the control socket; done when the compositor lists
//!   its window (mapped: it committed a frame). That first one includes starting the level's X
//!   server (`cloison-x11`: Xvfb, the relay of the waiting client, the window manager). A second
//!   `xterm` in the same level is timed the same way (the server already up).
//! * **sway** (headless, pixman, Xwayland lazy — its default: started by the first X client,
//!   like on-demand): a fresh sway per round; `xterm` started with the `DISPLAY` sway
//!   exported; done when `swaymsg -t get_tree` lists the view. Then a second one.
//!
//! Rounds are interleaved; medians are reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cloison_ipc::{Client, Reply, Request};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn wait(
    what: &str,
    timeout: Duration,
    mut pred: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !pred()? {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// (first, second) xterm in Cloison's low level, in ms.
fn cloison_round() -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::Builder::new()
        .prefix("cloison-bench-x11-")
        .tempdir()?;
    let session = crate::session::BenchSession::start(dir.path(), Ok)?;
    let ctl_path = cloison_ipc::paths::ctl_socket(&session.runtime);
    wait("the session", Duration::from_secs(20), || {
        Ok(Client::connect(&ctl_path).is_ok())
    })?;
    let mut ctl = Client::connect(&ctl_path)?;
    let windows = |ctl: &mut Client| -> anyhow::Result<usize> {
        match ctl.request(&Request::Status)? {
            Reply::Status(s) => Ok(s.windows.iter().filter(|w| w.app_id == "XTerm").count()),
            other => bail!("status: {other:?}"),
        }
    };
    // The levels' cages up (a spawn before answers with an error).
    wait("low to run", Duration::from_secs(20), || {
        Ok(match ctl.request(&Request::Status)? {
            Reply::Status(s) => s
                .levels
                .iter()
                .any(|l| l.name == "low" && l.cage.as_ref().is_some_and(|c| c.state == "running")),
            _ => false,
        })
    })?;
    let mut times = Vec::new();
    for n in 1..=2 {
        let start = Instant::now();
        match ctl.request(&Request::Spawn {
            level: "low".into(),
            argv: vec!["xterm".into()],
            wait: false,
        })? {
            Reply::Spawned { .. } => {}
            other => bail!("spawn: {other:?}"),
        }
        wait("xterm's window", Duration::from_secs(30), || {
            Ok(windows(&mut ctl)? == n)
        })?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok((times[0], times[1]))
}

/// (first, second) xterm on sway's lazily started Xwayland, in ms.
fn sway_round() -> anyhow::Result<(f64, f64)> {
    let peer = crate::peers::start_peer("sway")?;
    let runtime: PathBuf = peer.runtime().to_path_buf();
    let ipc = wait_for_file(&runtime, "sway-ipc.")?;
    let tree = |ipc: &Path| -> anyhow::Result<usize> {
        let out = Command::new("swaymsg")
            .args(["-t", "get_tree", "-r", "-s"])
            .arg(ipc)
            .stderr(Stdio::null())
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .matches("\"class\": \"XTerm\"")
            .count())
    };
    let mut times = Vec::new();
    for n in 1..=2 {
        let start = Instant::now();
        // Through sway, as its own children get its DISPLAY.
        let status = Command::new("swaymsg")
            .arg("-s")
            .arg(&ipc)
            .args(["exec", "xterm"])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("swaymsg exec xterm failed");
        }
        wait("xterm on sway", Duration::from_secs(30), || {
            Ok(tree(&ipc)? == n)
        })?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    drop(peer);
    Ok((times[0], times[1]))
}

fn wait_for_file(dir: &Path, prefix: &str) -> anyhow::Result<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(p) = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
        {
            return Ok(p);
        }
        if Instant::now() > deadline {
            bail!("no {prefix}* in {}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[allow(clippy::disallowed_macros)]
pub fn run(rounds: usize) -> anyhow::Result<()> {
    for tool in ["xterm", "Xvfb", "sway", "swaymsg", "Xwayland"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        if !found {
            bail!("{tool} is not installed (`scripts/dev bench x11` installs it)");
        }
    }
    let (mut c1, mut c2, mut s1, mut s2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = cloison_round().context("cloison")?;
        c1.push(a);
        c2.push(b);
        let (a, b) = sway_round().context("sway")?;
        s1.push(a);
        s2.push(b);
        eprintln!(
            "round {}: cloison {:.0}/{:.0} ms, sway {a:.0}/{b:.0} ms",
            round + 1,
            c1[round],
            c2[round]
        );
    }
    let (c1, c2, s1, s2) = (median(c1), median(c2), median(s1), median(s2));
    println!(
        "| xterm to its window (median of {rounds}) | Cloison (Xvfb + cloison-x11 in the cage) | sway 1.7 (Xwayland, lazy) | Cloison / sway |"
    );
    println!("|---|---|---|---|");
    println!(
        "| first X client (X server started by it) | {c1:.0} ms | {s1:.0} ms | {:.2} |",
        c1 / s1
    );
    println!(
        "| second X client | {c2:.0} ms | {s2:.0} ms | {:.2} |",
        c2 / s2
    );
    Ok(())
}
