//! The cross-level clipboard against a same-level pipe.
//!
//! * **Cross-level** (a real `cloison run`, quiet configuration, low → high allowed, 64 MiB
//!   cap): a source client in low (`cloison-test-client offer --file`) and a sink in high
//!   (`cloison-test-client sink`, which reads the clipboard whenever it changes). Per round:
//!   the copy chord is injected with low focused, and the copy is done when the audit log has
//!   its record (polled every 100 µs); Alt+Tab to high; the paste chord is injected and the
//!   paste is done when the sink has read every byte (the sink reports CLOCK_MONOTONIC).
//!   "Chord to available" is the paste; the copy is reported beside it.
//! * **Same-level pipe** (`wl-copy < file`, then `wl-paste > /dev/null` timed) in one level of
//!   Cloison's compositor, and on sway (headless, pixman) — the peer of `shared/PEERS.md`.
//!
//! Throughput of the cross-level path = size / (copy + paste).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cloison_ipc::{Client, InputEvent, Reply, Request};

pub fn bin(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn monotonic_ns() -> u128 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|now| now.tv_sec() as u128 * 1_000_000_000 + now.tv_nsec() as u128)
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Text of `size` bytes (lines of letters).
fn payload(dir: &Path, name: &str, size: usize) -> anyhow::Result<PathBuf> {
    let bytes: Vec<u8> = (0..size)
        .map(|i| {
            if i % 80 == 79 {
                b'\n'
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
    Ok(path)
}

/// A child killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A test client whose output lines are collected.
fn client(
    socket: &Path,
    runtime: &Path,
    args: &[&str],
) -> anyhow::Result<(Running, Arc<Mutex<Vec<String>>>)> {
    let mut child = Command::new(bin("cloison-test-client"))
        .args(args)
        .env("WAYLAND_DISPLAY", socket)
        .env("XDG_RUNTIME_DIR", runtime)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start cloison-test-client (build the workspace's binaries)")?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let out = child.stdout.take().context("stdout")?;
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            sink.lock().expect("lock").push(line);
        }
    });
    Ok((Running(child), lines))
}

fn wait(what: &str, timeout: Duration, mut pred: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !pred() {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    Ok(())
}

/// The cross-level path: (copy ms, paste ms) per round for a payload file.
fn cross_level(file: &Path, size: usize, rounds: usize) -> anyhow::Result<Vec<(f64, f64)>> {
    let dir = tempfile::Builder::new()
        .prefix("cloison-bench-clip-")
        .tempdir()?;
    let session = crate::session::BenchSession::start(dir.path(), |text| {
        Ok(text + "\n[clipboard]\nmax_bytes = 67108864\ntimeout_ms = 60000\n")
    })?;
    let runtime = session.runtime.clone();
    let ctl_path = cloison_ipc::paths::ctl_socket(&runtime);
    wait("the session", Duration::from_secs(20), || {
        Client::connect(&ctl_path).is_ok()
    })?;
    let result = (|| -> anyhow::Result<Vec<(f64, f64)>> {
        let mut ctl = Client::connect(&ctl_path)?;
        let socket = |level| cloison_ipc::paths::level_wayland_socket(&runtime, level);
        let file_arg = file.to_string_lossy().to_string();
        let (_source, source_out) = client(
            &socket("low"),
            &runtime,
            &[
                "offer", "--file", &file_arg, "--app-id", "source", "--size", "100x60",
            ],
        )?;
        wait("the source", Duration::from_secs(10), || {
            source_out.lock().unwrap().iter().any(|l| l == "offered")
        })?;
        let (_sink, sink_out) = client(
            &socket("high"),
            &runtime,
            &["sink", "--app-id", "sink", "--size", "100x60"],
        )?;
        let focused = |ctl: &mut Client| -> anyhow::Result<Option<String>> {
            match ctl.request(&Request::Status)? {
                Reply::Status(s) => Ok(s.focused_level),
                _ => bail!("status"),
            }
        };
        wait("the sink", Duration::from_secs(10), || {
            matches!(
                focused(&mut Client::connect(&ctl_path).unwrap()),
                Ok(Some(_))
            )
        })?;
        let audit = dir.path().join("state/cloison/audit.jsonl");
        let records = || {
            std::fs::read_to_string(&audit)
                .map(|t| t.lines().count())
                .unwrap_or(0)
        };
        let key = |ctl: &mut Client, chord: &str| -> anyhow::Result<()> {
            ctl.request(&Request::Input {
                event: InputEvent::Key {
                    chord: chord.into(),
                },
            })?;
            Ok(())
        };
        let to = |ctl: &mut Client, level: &str| -> anyhow::Result<()> {
            for _ in 0..4 {
                if focused(ctl)?.as_deref() == Some(level) {
                    return Ok(());
                }
                key(ctl, "alt+Tab")?;
            }
            bail!("cannot focus {level}")
        };
        let mut samples = Vec::new();
        for round in 0..=rounds {
            to(&mut ctl, "low")?;
            let before = records();
            let t0 = Instant::now();
            key(&mut ctl, "ctrl+shift+c")?;
            wait("the copy", Duration::from_secs(60), || records() > before)?;
            let copy = t0.elapsed().as_secs_f64() * 1000.0;
            to(&mut ctl, "high")?;
            let seen = sink_out.lock().unwrap().len();
            let before = records();
            let t2 = monotonic_ns();
            key(&mut ctl, "ctrl+shift+v")?;
            let mut done = None;
            let waited = wait("the paste", Duration::from_secs(10), || {
                let lines = sink_out.lock().unwrap();
                done = lines[seen.min(lines.len())..].iter().find_map(|l| {
                    let mut parts = l.split_whitespace();
                    (parts.next() == Some("received") && parts.next()? == size.to_string())
                        .then(|| parts.next()?.parse::<u128>().ok())
                        .flatten()
                });
                done.is_some()
            });
            if let Err(err) = waited {
                bail!(
                    "{err}: the source printed {:?}, the sink {:?}; the audit log ends with {:?}",
                    source_out.lock().unwrap(),
                    sink_out.lock().unwrap(),
                    std::fs::read_to_string(&audit)
                        .unwrap_or_default()
                        .lines()
                        .last()
                );
            }
            if records() <= before {
                bail!("the paste was not recorded");
            }
            let paste = (done.unwrap_or(t2) - t2) as f64 / 1e6;
            if round > 0 {
                samples.push((copy, paste));
            }
        }
        Ok(samples)
    })();
    drop(session);
    result
}

/// Same-level `wl-copy < file` then a timed `wl-paste`, on a compositor's socket; ms per
/// round. `focus_needed`: the compositor has no data-control (Cloison): wl-clipboard maps a
/// window to get the keyboard.
fn same_level(
    socket: &Path,
    runtime: &Path,
    file: &Path,
    size: usize,
    rounds: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut samples = Vec::new();
    for round in 0..=rounds {
        let status = Command::new("wl-copy")
            .env("WAYLAND_DISPLAY", socket)
            .env("XDG_RUNTIME_DIR", runtime)
            .stdin(std::fs::File::open(file)?)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("wl-copy failed on {}", socket.display());
        }
        std::thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        let out = Command::new("wl-paste")
            .arg("-n")
            .env("WAYLAND_DISPLAY", socket)
            .env("XDG_RUNTIME_DIR", runtime)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if out.stdout.len() != size {
            bail!(
                "wl-paste on {} returned {} bytes, not {size}",
                socket.display(),
                out.stdout.len()
            );
        }
        if round > 0 {
            samples.push(ms);
        }
    }
    let _ = Command::new("pkill").args(["-x", "wl-copy"]).status();
    Ok(samples)
}

/// Runs everything and prints the table.
pub fn run(rounds: usize) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("cloison-bench-payload-")
        .tempdir()?;
    // Readable by the test clients (root here) and sway's clients.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    const SMALL: usize = 64 * 1000;
    const BIG: usize = 64 << 20;
    let small = payload(dir.path(), "small.txt", SMALL)?;
    let big = payload(dir.path(), "big.txt", BIG)?;

    let cross_small = cross_level(&small, SMALL, rounds)?;
    let cross_big = cross_level(&big, BIG, rounds.min(5))?;

    let cloison = crate::peers::start_peer("cloison")?;
    let on_cloison = same_level(&cloison.socket, cloison.runtime(), &big, BIG, rounds.min(5))?;
    let on_cloison_small = same_level(&cloison.socket, cloison.runtime(), &small, SMALL, rounds)?;
    drop(cloison);
    let sway = crate::peers::start_peer("sway")?;
    let on_sway = same_level(&sway.socket, sway.runtime(), &big, BIG, rounds.min(5))?;
    let on_sway_small = same_level(&sway.socket, sway.runtime(), &small, SMALL, rounds)?;
    drop(sway);

    let copy_small = median(cross_small.iter().map(|s| s.0).collect());
    let paste_small = median(cross_small.iter().map(|s| s.1).collect());
    let copy_big = median(cross_big.iter().map(|s| s.0).collect());
    let paste_big = median(cross_big.iter().map(|s| s.1).collect());
    let mb = BIG as f64 / 1e6;
    let cross_tp = mb / ((copy_big + paste_big) / 1000.0);
    let cloison_tp = mb / (median(on_cloison.clone()) / 1000.0);
    let sway_tp = mb / (median(on_sway.clone()) / 1000.0);
    #[allow(clippy::disallowed_macros)]
    {
        println!(
            "Medians; {rounds} rounds (64 kB), {} rounds (64 MiB).\n",
            rounds.min(5)
        );
        println!(
            "| measure | cross-level (Cloison) | same-level pipe, Cloison | same-level pipe, sway |"
        );
        println!("|---|---:|---:|---:|");
        println!("| 64 kB: copy chord → stored (ms) | {copy_small:.2} | – | – |");
        println!(
            "| 64 kB: paste chord → available in the target app (ms) | {paste_small:.2} | – | – |"
        );
        println!(
            "| 64 kB: wl-paste run (ms, process start included) | – | {:.2} | {:.2} |",
            median(on_cloison_small),
            median(on_sway_small)
        );
        println!(
            "| 64 MiB: copy + paste (ms) | {:.1} ({copy_big:.1} + {paste_big:.1}) | {:.1} | {:.1} |",
            copy_big + paste_big,
            median(on_cloison),
            median(on_sway)
        );
        println!(
            "| 64 MiB throughput, end to end (MB/s) | {cross_tp:.0} | {cloison_tp:.0} | {sway_tp:.0} |"
        );
        let copy_tp = mb / (copy_big / 1000.0);
        let paste_tp = mb / (paste_big / 1000.0);
        println!("| 64 MiB throughput, copy leg (MB/s) | {copy_tp:.0} | – | – |");
        println!("| 64 MiB throughput, paste leg (MB/s) | {paste_tp:.0} | – | – |");
        println!(
            "\ncross-level / same-level pipe, end to end: {:.2}x (Cloison), {:.2}x (sway)",
            cross_tp / cloison_tp,
            cross_tp / sway_tp
        );
        println!(
            "per leg: copy {:.2}x / {:.2}x, paste {:.2}x / {:.2}x (Cloison / sway pipe)",
            copy_tp / cloison_tp,
            copy_tp / sway_tp,
            paste_tp / cloison_tp,
            paste_tp / sway_tp
        );
    }
    Ok(())
}
