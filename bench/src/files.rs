//! Cross-level file transfer against `cp` on the same file system.
//!
//! A real `cloison run` (no session apps, low → high files `allow`, so the policy runs but no
//! dialog waits for a person). A file of pseudo-random bytes is written into low's home. Each
//! round, interleaved:
//! * **Cloison**: the benchmark speaks the manager protocol on low's manager socket itself
//!   (what `cloison-send` does, without starting a process in the cage): it opens the file,
//!   passes the descriptor, and the clock stops at the manager's `done` — policy, copy into
//!   high's `~/Incoming/low/`, SHA-256, fsync, rename and the fsync'd audit record included.
//! * **`cp`** of the same file into high's home (same file system), and **`cp` then
//!   `sync FILE`** (the same durability as the manager's delivery).
//!
//! The copy is removed and everything is synced (untimed) before the next one; the source
//! stays in the page cache for all three. Medians are reported with ratios to `cp`.

use std::os::fd::AsFd as _;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cloison_ipc::level::ManagerEvent;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn sync() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// Writes `size` pseudo-random bytes (xorshift; incompressible, not all zeros) to `path`.
fn payload(path: &Path, size: u64) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(path)?);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    let mut written = 0;
    while written < size {
        for chunk in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_ne_bytes());
        }
        let n = (size - written).min(block.len() as u64) as usize;
        out.write_all(&block[..n])?;
        written += n as u64;
    }
    out.flush()?;
    Ok(())
}

/// One transfer through the manager; seconds from the request to `done`.
fn through_manager(socket: &Path, file: &Path) -> anyhow::Result<f64> {
    let stream = UnixStream::connect(socket)
        .with_context(|| format!("cannot connect to {}", socket.display()))?;
    let source = std::fs::File::open(file)?;
    let t = Instant::now();
    cloison_ipc::level::send_files(
        &stream,
        Some("high".into()),
        &[("big.bin".into(), source.as_fd())],
    )?;
    for event in cloison_ipc::level::answers(&stream) {
        match event? {
            ManagerEvent::Done {
                delivered: 1,
                failed: 0,
            } => return Ok(t.elapsed().as_secs_f64()),
            ManagerEvent::Done { .. } | ManagerEvent::Error(_) => {
                bail!("the transfer did not deliver")
            }
            ManagerEvent::File {
                outcome, reason, ..
            } if outcome != "delivered" => bail!("{outcome}: {reason:?}"),
            _ => {}
        }
    }
    bail!("the manager closed the connection")
}

fn timed(argv: &[&[&str]]) -> anyhow::Result<f64> {
    let t = Instant::now();
    for args in argv {
        let status = Command::new(args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("{args:?} failed");
        }
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Runs the benchmark and prints the table.
pub fn run(rounds: usize, mib: u64) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("cloison-bench-files-")
        .tempdir_in(std::env::var_os("CLOISON_BENCH_DIR").unwrap_or_else(|| "/var/tmp".into()))?;
    let session = crate::session::BenchSession::start(dir.path(), |text| {
        let text = text.replace(
            "from = \"low\"\nto = \"high\"\nclipboard = \"allow\"\nfiles = \"confirm\"",
            "from = \"low\"\nto = \"high\"\nclipboard = \"allow\"\nfiles = \"allow\"",
        );
        if !text.contains("files = \"allow\"") {
            bail!("the default configuration changed: update the benchmark's policy rule");
        }
        Ok(text)
    })?;
    let runtime = session.runtime.clone();
    let result = (|| -> anyhow::Result<()> {
        let manager = cloison_ipc::paths::level_manager_socket(&runtime, "low");
        let deadline = Instant::now() + Duration::from_secs(30);
        while UnixStream::connect(&manager).is_err() {
            if Instant::now() > deadline {
                bail!("the session did not start");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let homes = dir.path().join("data/cloison/levels");
        let (low, high) = (homes.join("low/home"), homes.join("high/home"));
        let size = mib << 20;
        let source = low.join("big.bin");
        payload(&source, size)?;
        let owner = std::fs::metadata(&low)?;
        std::os::unix::fs::chown(&source, Some(owner.uid()), Some(owner.gid()))?;
        let delivered = high.join("Incoming/low/big.bin");
        let copy = high.join("cp.bin");
        let (src, dst) = (source.to_str().unwrap_or(""), copy.to_str().unwrap_or(""));
        let (mut manager_s, mut cp_s, mut cp_sync_s) = (Vec::new(), Vec::new(), Vec::new());
        // Round 0 warms the page cache and is not counted.
        for round in 0..=rounds {
            sync();
            let m = through_manager(&manager, &source)?;
            if std::fs::metadata(&delivered)?.len() != size {
                bail!("the delivered file has the wrong size");
            }
            std::fs::remove_file(&delivered)?;
            sync();
            let c = timed(&[&["cp", src, dst]])?;
            std::fs::remove_file(&copy)?;
            sync();
            let cs = timed(&[&["cp", src, dst], &["sync", dst]])?;
            std::fs::remove_file(&copy)?;
            if round > 0 {
                manager_s.push(m);
                cp_s.push(c);
                cp_sync_s.push(cs);
            }
        }
        let mb = size as f64 / 1e6;
        let rate = |v: &[f64]| mb / median(v.to_vec());
        let (m, c, cs) = (rate(&manager_s), rate(&cp_s), rate(&cp_sync_s));
        #[allow(clippy::disallowed_macros)]
        {
            println!("{mib} MiB low → high, medians of {rounds} interleaved rounds\n");
            println!("| path | median (s) | MB/s | / cp | / cp + sync |");
            println!("|---|---:|---:|---:|---:|");
            for (name, v, r) in [
                (
                    "Cloison manager (policy, copy, SHA-256, fsync, audit)",
                    &manager_s,
                    m,
                ),
                ("cp (same file system)", &cp_s, c),
                ("cp + sync FILE", &cp_sync_s, cs),
            ] {
                println!(
                    "| {name} | {:.3} | {r:.0} | {:.2} | {:.2} |",
                    median(v.clone()),
                    r / c,
                    r / cs
                );
            }
        }
        Ok(())
    })();
    drop(session);
    result
}
