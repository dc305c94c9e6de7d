//! `cloison-compositor`: normally started by `cloison run` inside the compositor's cage, which
//! validates the configuration and passes it as JSON in an inherited memory file
//! (`--config-fd`) with its sockets as inherited descriptors; can be run by hand with
//! `--config FILE`.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use cloison_compositor::{BackendKind, Options};

#[derive(Parser)]
#[command(
    name = "cloison-compositor",
    version,
    about = "Cloison's multilevel Wayland compositor"
)]
struct Cli {
    /// Configuration file (default: $XDG_CONFIG_HOME/cloison/cloison.toml, else built-in).
    #[arg(long, conflicts_with = "config_stdin")]
    config: Option<PathBuf>,
    /// Read the validated configuration as JSON on standard input.
    #[arg(long, conflicts_with = "config_fd")]
    config_stdin: bool,
    /// Read the validated configuration as JSON from this descriptor (used by `cloison run`).
    #[arg(long, value_name = "FD", conflicts_with = "config")]
    config_fd: Option<i32>,
    /// Backend: auto (winit when WAYLAND_DISPLAY or DISPLAY is set, drm on a seat, else
    /// headless), headless, winit or drm.
    #[arg(long, default_value = "auto", value_parser = ["auto", "headless", "winit", "drm"])]
    backend: String,
    /// Output size (headless) or initial window size (winit), as WIDTHxHEIGHT.
    #[arg(long, default_value = "1920x1080", value_parser = cloison_config::parse_size)]
    size: (i32, i32),
    /// Print `ready` on standard output once every socket listens.
    #[arg(long)]
    print_ready: bool,
    /// Debug logging.
    #[arg(long, short)]
    verbose: bool,
    /// A listening Wayland socket handed over by the launcher, as LEVEL=FD=PATH (PATH: where
    /// it is on the host, for status). One per level; used by `cloison run`.
    #[arg(long = "level-fd", value_name = "LEVEL=FD=PATH")]
    level_fds: Vec<String>,
    /// The listening control socket handed over by the launcher.
    #[arg(long, value_name = "FD", requires = "launcher_fd")]
    ctl_fd: Option<i32>,
    /// The launcher's channel.
    #[arg(long, value_name = "FD", requires = "ctl_fd")]
    launcher_fd: Option<i32>,
    /// Start with the screen locked (the launcher starts a compositor again this way when the
    /// one before died locked).
    #[arg(long, requires = "launcher_fd")]
    locked: bool,
}

/// Takes ownership of a descriptor named on the command line, once.
fn take_fd(fd: i32, taken: &mut Vec<i32>) -> anyhow::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd as _;
    anyhow::ensure!(fd > 2, "descriptor {fd} is not one the launcher passes");
    anyhow::ensure!(!taken.contains(&fd), "descriptor {fd} is named twice");
    // Check it is open before owning it.
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD)
        .with_context(|| format!("descriptor {fd} is not open"))?;
    taken.push(fd);
    // SAFETY: the launcher passed this descriptor for us alone; it is open (checked above) and
    // owned only once (checked against `taken`).
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

fn handed_over(cli: &Cli) -> anyhow::Result<Option<cloison_compositor::HandedOver>> {
    let (Some(ctl), Some(launcher)) = (cli.ctl_fd, cli.launcher_fd) else {
        anyhow::ensure!(
            cli.level_fds.is_empty(),
            "--level-fd needs --ctl-fd and --launcher-fd"
        );
        return Ok(None);
    };
    let mut taken = Vec::new();
    let mut levels = Vec::new();
    for spec in &cli.level_fds {
        let mut parts = spec.splitn(3, '=');
        let (Some(name), Some(fd), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            anyhow::bail!("--level-fd {spec:?}: expected LEVEL=FD=PATH");
        };
        let fd: i32 = fd
            .parse()
            .with_context(|| format!("--level-fd {spec:?}: bad descriptor"))?;
        let listener = std::os::unix::net::UnixListener::from(take_fd(fd, &mut taken)?);
        levels.push((name.to_string(), listener, path.to_string()));
    }
    Ok(Some(cloison_compositor::HandedOver {
        levels,
        ctl: std::os::unix::net::UnixListener::from(take_fd(ctl, &mut taken)?),
        launcher: std::os::unix::net::UnixStream::from(take_fd(launcher, &mut taken)?),
        locked: cli.locked,
    }))
}

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    if let Err(err) = run(cli) {
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!("cloison-compositor: error: {err:#}");
        }
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = if cli.config_stdin {
        let mut json = String::new();
        std::io::stdin()
            .read_to_string(&mut json)
            .context("cannot read the configuration on stdin")?;
        serde_json::from_str(&json).context("invalid configuration on stdin")?
    } else if let Some(fd) = cli.config_fd {
        let mut json = String::new();
        std::fs::File::from(take_fd(fd, &mut Vec::new())?)
            .read_to_string(&mut json)
            .context("cannot read the configuration")?;
        serde_json::from_str(&json).context("invalid configuration from the launcher")?
    } else {
        let source = cloison_config::locate(cli.config.as_deref());
        cloison_config::load(&source)?
    };
    let backend = match cli.backend.as_str() {
        "headless" => BackendKind::Headless,
        "winit" => BackendKind::Winit,
        "drm" => BackendKind::Drm,
        _ => BackendKind::auto(),
    };
    let handed_over = handed_over(&cli)?;
    let runtime_dir = match &handed_over {
        // Nothing is created on disk: the runtime directory only names things.
        Some(_) => std::env::var_os("XDG_RUNTIME_DIR")
            .map(Into::into)
            .unwrap_or_default(),
        None => cloison_ipc::paths::runtime_dir()?,
    };
    cloison_compositor::run(Options {
        config: Arc::new(config),
        backend,
        size: cli.size.into(),
        runtime_dir,
        print_ready: cli.print_ready,
        handed_over,
    })
}

fn init_logging(verbose: bool) {
    let default = if verbose {
        "debug,smithay=info"
    } else {
        "info,smithay=warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
