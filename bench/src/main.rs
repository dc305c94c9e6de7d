//! `cloison-bench`: Cloison measured side by side with its peers, in the same run.
//!
//! `cloison-bench compositor` starts, in turn and for several interleaved rounds, Cloison's
//! compositor (headless), sway 1.7 (headless, pixman) and weston 10 (headless, pixman), and
//! measures against each, with the same client code:
//! * `wl_display.sync` round trips (p50, p99);
//! * compositor CPU per presented frame for a fullscreen wl_shm client (3 buffers) committing
//!   full damage, then a 256x256 damage rectangle, and the commit → frame-done latency;
//! * idle CPU and idle memory (RSS/PSS from `/proc/PID/smaps_rollup`) 3 s after start.
//!
//! CPU is read from `/proc/PID/task/*/schedstat` (nanoseconds on CPU, all threads), so short
//! runs are precise. Medians over rounds are reported, with ratios to sway. Numbers go to
//! `docs/benchmarks.md` together with this command.

mod cages;
mod client;
mod clipboard;
mod exec;
mod files;
mod network;
mod peers;
mod session;
mod x11;

use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cloison-bench",
    about = "Benchmarks of Cloison against its peers"
)]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Compositor: round trips, CPU per frame, latency, idle cost, against sway and weston.
    Compositor {
        /// Interleaved rounds (medians are reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Seconds of each frame run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Round trips per sync run.
        #[arg(long, default_value_t = 2000)]
        syncs: usize,
        /// Only these peers: cloison, sway, weston; cloison-desk (Cloison with ten framed windows
        /// of two levels around the measured one) and desk-undecorated (the same, drawn by a
        /// compositor built without frames and bar, given with --undecorated).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "cloison,sway,weston,cloison-desk,desk-undecorated"
        )]
        peers: Vec<String>,
        /// A compositor built with `--features bench-undecorated`, for desk-undecorated.
        #[arg(long)]
        undecorated: Option<std::path::PathBuf>,
    },
    /// Cage launch of /bin/true against bubblewrap, unshare and fork+exec.
    Cages {
        /// Interleaved runs per command (medians are reported).
        #[arg(long, default_value_t = 200)]
        runs: usize,
    },
    /// The cross-level clipboard (chord latency, throughput) against a same-level pipe.
    Clipboard {
        /// Rounds (medians are reported; at most 5 for the 64 MiB payload).
        #[arg(long, default_value_t = 20)]
        rounds: usize,
    },
    /// Cross-level file transfer (1 GiB low → high) against cp on the same file system.
    Files {
        /// Interleaved rounds (medians are reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// File size in MiB.
        #[arg(long, default_value_t = 1024)]
        mib: u64,
    },
    /// The first X client of a level (xterm) against xterm on Xwayland under sway.
    X11 {
        /// Interleaved rounds (medians are reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Throughput of a NAT level and a tunnel level against the host's own path (iperf3).
    Network {
        /// Rounds (medians are reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Seconds of each iperf3 run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// A CI job's GUI test start to end: `cloison exec -- wayland-info` against weston
    /// headless with the same client.
    Exec {
        /// Interleaved rounds (medians are reported).
        #[arg(long, default_value_t = 10)]
        rounds: usize,
    },
    /// Internal: the namespaces + Landlock + seccomp floor around /bin/true.
    #[command(hide = true)]
    Floor,
    /// Internal: run the benchmark client against WAYLAND_DISPLAY and print JSON.
    Client {
        /// sync, full or small.
        mode: String,
        /// Seconds (frame modes) or count (sync).
        amount: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.what {
        What::Compositor {
            rounds,
            seconds,
            syncs,
            peers,
            undecorated,
        } => peers::run_all(
            rounds,
            Duration::from_secs(seconds),
            syncs,
            &peers,
            undecorated.as_deref(),
        ),
        What::Cages { runs } => cages::run(runs),
        What::Clipboard { rounds } => clipboard::run(rounds),
        What::Files { rounds, mib } => files::run(rounds, mib),
        What::X11 { rounds } => x11::run(rounds),
        What::Network { rounds, seconds } => network::run(rounds, seconds),
        What::Exec { rounds } => exec::run(rounds),
        What::Floor => cages::floor(),
        What::Client { mode, amount } => {
            let result = client::run(&mode, amount).context("benchmark client failed")?;
            #[allow(clippy::disallowed_macros)]
            {
                println!("{}", serde_json::to_string(&result)?);
            }
            Ok(())
        }
    }
}
