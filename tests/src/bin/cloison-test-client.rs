//! `cloison-test-client`: a scriptable Wayland client for end-to-end tests.
//!
//! It connects through `WAYLAND_DISPLAY`, opens one window filled with a colour and prints
//! every event it receives as one line on standard output (so tests can check what a level
//! does and does not learn). Modes:
//! * `window`: map and wait; with `--animate`, redraw on every frame callback and print
//!   `frame N` lines (a client that keeps asking for frames);
//! * `truncate`: map, then shrink the shm pool under the committed buffer and commit again,
//!   so the compositor faults reading it; prints `disconnected: …` when it is cut off;
//! * `offer`: map, and once it has the keyboard, offer `--text` as the clipboard
//!   (`text/plain`); answer each read after `--delay-ms`, or never with `--never` (a source
//!   that hangs). Prints `offered`, then `sent N` or `held` per read. `--file` offers a
//!   file's contents instead of `--text`;
//! * `sink`: map, and read the clipboard (`text/plain`) each time it changes; prints
//!   `received N T` (bytes, and CLOCK_MONOTONIC in nanoseconds when the read completed).
//!
//! `--sparse` maps a first buffer of zero pixels from an unwritten pool (any size, at no cost:
//! what a hostile client would send).

use std::io::Write as _;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use cloison_tests::client::{Event, TestClient};

#[derive(Parser)]
struct Cli {
    /// What to do.
    #[arg(value_enum)]
    mode: Mode,
    /// Window size, WIDTHxHEIGHT.
    #[arg(long, default_value = "320x240")]
    size: String,
    /// Fill colour, RRGGBB.
    #[arg(long, default_value = "3366cc")]
    color: String,
    /// Window title.
    #[arg(long, default_value = "cloison-test-client")]
    title: String,
    /// Window app_id.
    #[arg(long, default_value = "cloison-test-client")]
    app_id: String,
    /// Keep redrawing on frame callbacks.
    #[arg(long)]
    animate: bool,
    /// `offer`: the clipboard text.
    #[arg(long, default_value = "")]
    text: String,
    /// `offer`: wait this long before answering a read.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// `offer`: never answer (keep the pipe open).
    #[arg(long)]
    never: bool,
    /// `offer`: offer this file's contents.
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    /// `window`: a first buffer of zero (transparent) pixels, not written (a sparse pool: for
    /// sizes no real client draws).
    #[arg(long)]
    sparse: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Window,
    Truncate,
    Offer,
    Sink,
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            #[allow(clippy::disallowed_macros)]
            {
                println!("disconnected: {err:#}");
            }
            std::process::exit(3);
        }
    }
}

/// Reads the clipboard whenever it changes; reports size and completion time.
fn sink(mut client: TestClient) -> anyhow::Result<i32> {
    let mut seen = 0;
    loop {
        let changed = client.data.events[seen..]
            .iter()
            .any(|e| matches!(e, Event::Selection { mime_types } if mime_types.iter().any(|m| m == "text/plain")));
        seen = client.data.events.len();
        if changed {
            let mut pipe = client.receive_selection("text/plain")?;
            client.flush()?;
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut pipe, &mut data)?;
            let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
            let ns = now.tv_sec() as u128 * 1_000_000_000 + now.tv_nsec() as u128;
            say(&format!("received {} {ns}", data.len()));
        }
        client.queue.blocking_dispatch(&mut client.data)?;
    }
}

/// Offers `--text` (or `--file`) once focused; answers reads as told.
fn offer(mut client: TestClient, cli: &Cli) -> anyhow::Result<i32> {
    let content: std::sync::Arc<Vec<u8>> = std::sync::Arc::new(match &cli.file {
        Some(path) => std::fs::read(path)?,
        None => cli.text.clone().into_bytes(),
    });
    let mut offered = false;
    let mut held = Vec::new();
    loop {
        if !offered && client.data.enter_serial.is_some() {
            client.offer_selection(&["text/plain"])?;
            client.flush()?;
            offered = true;
            say("offered");
        }
        for (_, fd) in std::mem::take(&mut client.data.sends) {
            if cli.never {
                held.push(fd);
                say("held");
                continue;
            }
            let text = content.clone();
            let delay = std::time::Duration::from_millis(cli.delay_ms);
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let written = std::fs::File::from(fd).write_all(&text);
                say(&format!("sent {} ({written:?})", text.len()));
            });
        }
        client.queue.blocking_dispatch(&mut client.data)?;
    }
}

#[allow(clippy::disallowed_macros)]
fn say(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let (w, h) = cli
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<i32>().ok()?, h.parse::<i32>().ok()?)))
        .context("--size must be WIDTHxHEIGHT")?;
    let rgb = u32::from_str_radix(&cli.color, 16).context("--color must be RRGGBB")?;
    let argb = 0xff00_0000 | rgb;

    let mut client = TestClient::connect_env()?;
    client.roundtrip()?;
    client.bind_globals();
    client.roundtrip()?;
    client.get_input_devices();
    if let Mode::Offer | Mode::Sink = cli.mode {
        client.bind_data_device()?;
    }
    let window = client.create_window(&cli.title, &cli.app_id);
    client.roundtrip()?;
    let first = if cli.sparse {
        let stride = w.saturating_mul(4);
        let buffer = client.create_sparse_buffer(stride.saturating_mul(h), w, h, stride)?;
        client.attach(window, buffer);
        buffer
    } else {
        client.draw(window, (w, h), argb)?
    };
    client.request_frame(window);
    client.roundtrip()?;
    say("mapped");

    if let Mode::Truncate = cli.mode {
        // Shrink the pool under the buffer the compositor holds, then ask it to read it again.
        client.truncate_buffer(first)?;
        client.attach(window, first);
        client.flush()?;
        loop {
            if let Err(err) = client.queue.blocking_dispatch(&mut client.data) {
                say(&format!("disconnected: {err}"));
                return Ok(0);
            }
        }
    }

    if let Mode::Offer = cli.mode {
        return offer(client, &cli);
    }
    if let Mode::Sink = cli.mode {
        return sink(client);
    }

    let mut printed = 0;
    let mut frames_seen = 0;
    let mut shade = 0u32;
    loop {
        // Events already dispatched (the first frame can arrive during the roundtrip above)
        // are handled before blocking for more.
        for event in &client.data.events[printed..] {
            if !matches!(event, Event::Frame { .. } | Event::BufferRelease { .. }) {
                say(&format!("{event:?}"));
            }
        }
        printed = client.data.events.len();
        let frames = client.data.frames[window];
        if frames != frames_seen {
            frames_seen = frames;
            say(&format!("frame {frames}"));
            if cli.animate {
                shade = (shade + 8) % 256;
                let colour = argb ^ shade;
                // Keep at most three buffers, reusing the ones the compositor released.
                let buffer = match client.idle_buffer(w, h) {
                    Some(b) => b,
                    None => client.create_buffer(w, h, colour)?,
                };
                client.fill(buffer, colour)?;
                client.attach(window, buffer);
                client.request_frame(window);
            }
        }
        client.queue.blocking_dispatch(&mut client.data)?;
    }
}
