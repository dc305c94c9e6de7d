//! `cloison-x11`: a level's X server and its bridge to the level's Wayland socket. The
//! launcher starts it in each level's cage that has `x11` on (see `cloison::x11`).

use clap::Parser;

/// A level's X display `:0`, shown as windows of the level.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The listening socket `/tmp/.X11-unix/X0`, passed by the cage's init.
    #[arg(long)]
    listen_fd: i32,
    /// The display number (the socket is `/tmp/.X11-unix/X<N>`).
    #[arg(long, default_value_t = 0)]
    display: u32,
    /// When to start the X server.
    #[arg(long, value_enum, default_value = "on-demand")]
    start: cloison_launcher::x11::Start,
}

#[allow(clippy::disallowed_macros)]
fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLOISON_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = cloison_launcher::x11::run(args.listen_fd, args.display, args.start) {
        eprintln!("cloison-x11: {err:#}");
        std::process::exit(1);
    }
}
