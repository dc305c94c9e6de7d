//! Command-line interface of `cloison`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Cloison: a multilevel Wayland desktop.
#[derive(Debug, Parser)]
#[command(name = "cloison", version, about, long_about = None)]
pub struct Cli {
    /// Debug logging.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the multilevel session: the confined compositor, one cage per level, each level's
    /// session apps.
    Run(RunArgs),
    /// Validate a configuration and print a summary.
    CheckConfig {
        /// The file to check (default: $XDG_CONFIG_HOME/cloison/cloison.toml, else the built-in default).
        file: Option<PathBuf>,
    },
    /// Control a running session through its trusted control socket.
    Ctl(CtlArgs),
    /// Start a program inside a level's cage in the running session; prints its pid there.
    Spawn(SpawnArgs),
    /// Run one command in a level of a new headless session (for CI): start the session, run
    /// the command in the level's cage, wait for it, end the session; exit with its status.
    Exec(ExecArgs),
    /// Print what a level's programs wrote (their standard output and error), oldest first.
    Logs(LogsArgs),
    /// Check or read the audit log of cross-level decisions.
    Audit {
        /// What to do.
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Internal: check the password on standard input with PAM for the lock screen (exit 0:
    /// accepted, 1: refused, 2: the check could not be made). Run by the session, never by hand.
    #[command(hide = true)]
    PamCheck {
        /// The PAM service.
        #[arg(long)]
        service: String,
        /// The user.
        #[arg(long)]
        user: String,
    },
    /// Write the man pages (cloison.1 and one per subcommand) into a directory.
    #[command(hide = true)]
    Man {
        /// Where to write them.
        dir: PathBuf,
    },
}

/// `cloison exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The level to run the command in (default: the configuration's first).
    #[arg(long)]
    pub level: Option<String>,
    /// Configuration file (default: $XDG_CONFIG_HOME/cloison/cloison.toml, else built-in).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output size, as WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720", value_parser = cloison_config::parse_size)]
    pub size: (i32, i32),
    /// Save a screenshot of the whole output here when the command ends (or fails, or times
    /// out).
    #[arg(long, value_name = "FILE.png")]
    pub screenshot: Option<PathBuf>,
    /// Seconds the command may run; past them it is stopped with the session and `cloison exec`
    /// exits with 124.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
    pub timeout: u64,
    /// The program and its arguments, run directly in the level's cage, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `cloison logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The level, e.g. low.
    pub level: String,
    /// Only the last N lines.
    #[arg(short = 'n', long, value_name = "N")]
    pub lines: Option<usize>,
    /// Keep printing what the level writes, until interrupted.
    #[arg(short, long)]
    pub follow: bool,
    /// The logs directory (default: $XDG_STATE_HOME/cloison/logs).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// `cloison audit` actions.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; name the first record that was changed, removed, inserted or moved.
    Verify {
        /// The log (default: $XDG_STATE_HOME/cloison/audit.jsonl).
        file: Option<PathBuf>,
    },
    /// Print the log, one line per decision.
    Show {
        /// The log (default: $XDG_STATE_HOME/cloison/audit.jsonl).
        file: Option<PathBuf>,
    },
}

/// Arguments of `cloison spawn`.
#[derive(Debug, Args)]
pub struct SpawnArgs {
    /// Control socket (default: the session's under $XDG_RUNTIME_DIR, /run/user/UID or
    /// $TMPDIR/cloison-UID, whichever has one).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// The level, e.g. high.
    pub level: String,
    /// The program and its arguments, run directly (never through a shell), after `--`.
    #[arg(last = true, required = true, num_args = 1..)]
    pub command: Vec<String>,
}

/// Arguments of `cloison run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (default: $XDG_CONFIG_HOME/cloison/cloison.toml, else built-in).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Backend: auto picks winit when WAYLAND_DISPLAY or DISPLAY is set, drm on a seat
    /// (a console or display-manager login with a display device), else headless.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Output size (headless) or initial window size (winit), as WIDTHxHEIGHT; the drm
    /// backend uses the displays' modes (`[[output]]` in the configuration).
    #[arg(long, default_value = "1920x1080", value_parser = cloison_config::parse_size)]
    pub size: (i32, i32),
    /// Start no level's `session` apps (`cloison exec` runs only its command).
    #[arg(long, hide = true)]
    pub no_session_apps: bool,
}

/// Backend choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// winit inside a desktop, drm on a seat, headless otherwise.
    Auto,
    /// Offscreen rendering (pixman); screenshots through `cloison ctl screenshot`.
    Headless,
    /// A window inside the current X11 or Wayland desktop.
    Winit,
    /// The seat's displays (KMS) and input devices, through seatd or logind.
    Drm,
}

/// Arguments of `cloison ctl`.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// Control socket (default: the session's under $XDG_RUNTIME_DIR, /run/user/UID or
    /// $TMPDIR/cloison-UID, whichever has one).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// The request.
    #[command(subcommand)]
    pub request: CtlCommand,
}

/// Control requests.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Print levels (with their cages and programs) and windows as JSON.
    Status,
    /// Save a pixel-exact PNG of the whole output.
    Screenshot {
        /// Where to write the PNG.
        file: PathBuf,
    },
    /// Inject input as if from real devices (for tests and automation).
    Input {
        /// What to inject.
        #[command(subcommand)]
        event: cloison_ipc::InputEvent,
    },
    /// Lock the screen now.
    Lock,
    /// End the session: stop every level's apps and cages, then the compositor.
    Quit,
    /// Stop a level's cage if it runs, then start it again with its session apps.
    RestartLevel {
        /// The level.
        level: String,
    },
    /// Cancel a running file transfer (its id is in cloison-send's output and the bar).
    CancelTransfer {
        /// The transfer's id.
        id: u64,
    },
}

/// Writes `cloison.1` and a page per subcommand (`cloison-run.1`, …) into `dir`.
pub fn write_man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    use clap::CommandFactory as _;
    std::fs::create_dir_all(dir)?;
    let command = Cli::command();
    clap_mangen::generate_to(command, dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn man_pages_cover_every_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        write_man_pages(dir.path()).unwrap();
        for page in [
            "cloison.1",
            "cloison-run.1",
            "cloison-spawn.1",
            "cloison-ctl.1",
        ] {
            let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
            assert!(text.contains(".TH"), "{page}");
        }
        let spawn = std::fs::read_to_string(dir.path().join("cloison-spawn.1")).unwrap();
        assert!(spawn.contains("cage"), "{spawn}");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(cloison_config::parse_size("800x600"), Ok((800, 600)));
        assert!(cloison_config::parse_size("800").is_err());
        assert!(cloison_config::parse_size("0x600").is_err());
    }
}
