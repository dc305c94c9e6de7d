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
    /// Start the multilevel session: the compositor with one Wayland socket per level.
    Run(RunArgs),
    /// Validate a configuration and print a summary.
    CheckConfig {
        /// The file to check (default: $XDG_CONFIG_HOME/cloison/cloison.toml, else the built-in default).
        file: Option<PathBuf>,
    },
    /// Control a running session through its trusted control socket.
    Ctl(CtlArgs),
}

/// Arguments of `cloison run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (default: $XDG_CONFIG_HOME/cloison/cloison.toml, else built-in).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Backend: auto picks winit when WAYLAND_DISPLAY or DISPLAY is set, else headless.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Output size (headless) or initial window size (winit), as WIDTHxHEIGHT.
    #[arg(long, default_value = "1920x1080", value_parser = parse_size)]
    pub size: (i32, i32),
}

/// Backend choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// winit with a display, headless without.
    Auto,
    /// Offscreen rendering (pixman); screenshots through `cloison ctl screenshot`.
    Headless,
    /// A window inside the current X11 or Wayland desktop.
    Winit,
}

/// Arguments of `cloison ctl`.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// Control socket (default: $XDG_RUNTIME_DIR/cloison/ctl.sock).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// The request.
    #[command(subcommand)]
    pub request: CtlCommand,
}

/// Control requests.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Print levels and windows as JSON.
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
        event: InputCommand,
    },
    /// End the session.
    Quit,
}

/// Injected input.
#[derive(Debug, Subcommand)]
pub enum InputCommand {
    /// Press and release a chord of xkb keysym names joined by '+', e.g. ctrl+shift+c, Return, super.
    Key {
        /// The chord.
        chord: String,
    },
    /// Type text with the configured keyboard layout.
    Type {
        /// The text.
        text: String,
    },
    /// Move the pointer to output pixel coordinates.
    PointerMove {
        /// Horizontal position.
        x: f64,
        /// Vertical position.
        y: f64,
    },
    /// Click a pointer button (left, middle, right).
    Click {
        /// The button.
        #[arg(default_value = "left")]
        button: String,
    },
    /// Press or release a pointer button (for drags).
    Button {
        /// The button (left, middle, right).
        button: String,
        /// press or release.
        #[arg(value_parser = ["press", "release"])]
        action: String,
    },
}

/// Parses `WIDTHxHEIGHT`.
pub fn parse_size(s: &str) -> Result<(i32, i32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or("expected WIDTHxHEIGHT, e.g. 1920x1080")?;
    let parse = |v: &str| v.parse::<i32>().ok().filter(|v| (64..=16384).contains(v));
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err("width and height must be whole numbers from 64 to 16384".into()),
    }
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
    fn sizes_parse() {
        assert_eq!(parse_size("800x600"), Ok((800, 600)));
        assert!(parse_size("800").is_err());
        assert!(parse_size("0x600").is_err());
    }
}
