//! The benchmark client: one process per measurement, so its own CPU never counts as the
//! compositor's. It speaks plain Wayland (the same code against every compositor).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use cloison_tests::client::TestClient;
use serde::{Deserialize, Serialize};

/// What one client run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientResult {
    /// Round trips or presented frames.
    pub count: u64,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// Median latency (round trip, or commit → frame done), microseconds (measured in ns).
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx] as f64
}

fn summary(mut latencies: Vec<u64>, count: u64, seconds: f64) -> ClientResult {
    latencies.sort_unstable();
    ClientResult {
        count,
        seconds,
        p50_us: percentile(&latencies, 0.5) / 1000.0,
        p99_us: percentile(&latencies, 0.99) / 1000.0,
    }
}

/// Runs `mode` for `amount` (round trips, or seconds): `sync`; `full` or `small` damage in a
/// 1920x1080 window (or the size the compositor configures), `-fs` variants fullscreen,
/// `-800` variants in an 800x600 window.
pub fn run(mode: &str, amount: u64) -> anyhow::Result<ClientResult> {
    let mut client = TestClient::connect_env().context("cannot connect (WAYLAND_DISPLAY)")?;
    client.roundtrip()?;
    client.bind_globals();
    client.roundtrip()?;
    match mode {
        "sync" => {
            let mut latencies = Vec::with_capacity(amount as usize);
            let start = Instant::now();
            for _ in 0..amount {
                let t = Instant::now();
                client.roundtrip()?;
                latencies.push(t.elapsed().as_nanos() as u64);
            }
            Ok(summary(latencies, amount, start.elapsed().as_secs_f64()))
        }
        "full" | "small" | "full-fs" | "small-fs" | "full-800" | "small-800" => frames(
            &mut client,
            mode.starts_with("small"),
            mode.ends_with("-fs"),
            if mode.ends_with("-800") {
                (800, 600)
            } else {
                (1920, 1080)
            },
            Duration::from_secs(amount),
        ),
        other => anyhow::bail!("unknown mode {other}"),
    }
}

fn frames(
    client: &mut TestClient,
    small: bool,
    fullscreen: bool,
    default_size: (i32, i32),
    duration: Duration,
) -> anyhow::Result<ClientResult> {
    let window = client.create_window("cloison-bench", "cloison-bench");
    if fullscreen {
        client.data.windows[window].toplevel.set_fullscreen(None);
    }
    client.data.windows[window].surface.commit();
    client.roundtrip()?;
    // Wait for the first configure (it carries the fullscreen size, if any).
    while client.data.windows[window].pending_serial.is_none() {
        client.queue.blocking_dispatch(&mut client.data)?;
    }
    let (mut w, mut h) = client.data.windows[window].configured_size;
    if w <= 0 || h <= 0 {
        (w, h) = default_size;
    }
    let buffers: Vec<usize> = (0..3)
        .map(|i| client.create_buffer(w, h, 0xff20_3040 + i))
        .collect::<anyhow::Result<_>>()?;

    // First frame, then measure.
    client.attach_damage_frame(window, buffers[0], (0, 0, w, h));
    wait_frame(client, window)?;

    let mut latencies = Vec::new();
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < duration {
        let buffer = loop {
            if let Some(b) = buffers
                .iter()
                .copied()
                .find(|&b| !client.data.buffers[b].busy)
            {
                break b;
            }
            client.queue.blocking_dispatch(&mut client.data)?;
        };
        let damage = if small {
            // A 256x256 square moving across the window.
            let step = (n as i32 * 37) % ((w - 256).max(1));
            (step, (n as i32 * 23) % ((h - 256).max(1)), 256, 256)
        } else {
            (0, 0, w, h)
        };
        let t = Instant::now();
        client.attach_damage_frame(window, buffer, damage);
        wait_frame(client, window)?;
        latencies.push(t.elapsed().as_nanos() as u64);
        n += 1;
    }
    Ok(summary(latencies, n, start.elapsed().as_secs_f64()))
}

fn wait_frame(client: &mut TestClient, window: usize) -> anyhow::Result<()> {
    let before = client.data.frames[window];
    client.flush()?;
    while client.data.frames[window] == before {
        client.queue.blocking_dispatch(&mut client.data)?;
    }
    Ok(())
}
