//! `cloison-send [--to LEVEL] [-r] FILE...`: sends files to another level through the
//! multilevel manager. Run inside a level's cage (it is on every cage's PATH).
//!
//! It opens each file itself — regular files only; with `-r`, directories are walked here, in
//! the sender's own view — and passes the open descriptors over the level's manager socket.
//! The manager applies the flow policy (it may ask the user), delivers into the target
//! level's `~/Incoming/<this level>/`, and reports each file. Exit status: 0 if every file was
//! delivered, 1 otherwise, 2 on bad usage.

use std::io::Write as _;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use clap::Parser;
use cloison_ipc::level::ManagerEvent;

/// Send files to another level through the multilevel manager.
#[derive(Parser)]
#[command(name = "cloison-send", version)]
struct Cli {
    /// The target level (default: the other level, when there are two).
    #[arg(long)]
    to: Option<String>,
    /// Send directories' contents (walked here; symlinks are skipped).
    #[arg(short = 'r', long)]
    recursive: bool,
    /// The manager socket (default: $CLOISON_MANAGER_SOCKET, else /run/cloison/manager.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Files (and, with -r, directories) to send.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[allow(clippy::disallowed_macros)]
fn say(line: &str) {
    eprintln!("cloison-send: {line}");
}

/// (name to send, open file) for every file named, walking directories with -r.
fn collect(cli: &Cli) -> Result<Vec<(String, std::fs::File)>, String> {
    let mut out = Vec::new();
    for path in &cli.files {
        let meta =
            std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "unnamed".into());
        if meta.is_dir() {
            if !cli.recursive {
                return Err(format!("{} is a directory: use -r", path.display()));
            }
            walk(path, &base, &mut out)?;
        } else {
            out.push((base, open_regular(path)?));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, std::fs::File)>) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.is_dir() {
            walk(&path, &name, out)?;
        } else if kind.is_file() {
            out.push((name, open_regular(&path)?));
        }
        // Symlinks, FIFOs, sockets, devices: skipped.
    }
    Ok(())
}

fn open_regular(path: &Path) -> Result<std::fs::File, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let kind = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .file_type();
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "a FIFO"
        } else {
            "not a regular file"
        };
        return Err(format!("{} is {what}", path.display()));
    }
    Ok(file)
}

fn main() {
    let cli = Cli::parse();
    std::process::exit(match run(&cli) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            say(&e);
            1
        }
    });
}

fn run(cli: &Cli) -> Result<bool, String> {
    let socket = cli
        .socket
        .clone()
        .or_else(|| std::env::var_os("CLOISON_MANAGER_SOCKET").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(cloison_ipc::paths::CAGE_MANAGER_SOCKET));
    let files = collect(cli)?;
    let stream = UnixStream::connect(&socket)
        .map_err(|e| format!("cannot reach the manager at {}: {e}", socket.display()))?;
    let named: Vec<(String, _)> = files.iter().map(|(n, f)| (n.clone(), f.as_fd())).collect();
    // A refused request closes the connection before every batch is sent: the answer, read
    // next, says why.
    let _ = cloison_ipc::level::send_files(&stream, cli.to.clone(), &named);
    let mut delivered_all = true;
    let mut saw_done = false;
    for event in cloison_ipc::level::answers(&stream) {
        match event.map_err(|e| format!("the manager went away: {e}"))? {
            ManagerEvent::Accepted { id, files, total } => {
                say(&format!(
                    "transfer {id}: {files} file(s), {total} bytes (cancel: cloison ctl cancel-transfer {id}, or click the bar)"
                ));
            }
            ManagerEvent::Progress { done, total, .. } => {
                let _ = write!(
                    std::io::stderr(),
                    "\rcloison-send: {}%  ",
                    done * 100 / total.max(1)
                );
            }
            ManagerEvent::File {
                name,
                outcome,
                delivered_as,
                reason,
            } => {
                if outcome == "delivered" {
                    say(&format!(
                        "{name}: delivered as {}",
                        delivered_as.unwrap_or_default()
                    ));
                } else {
                    delivered_all = false;
                    say(&format!(
                        "{name}: {outcome}: {}",
                        reason.unwrap_or_default()
                    ));
                }
            }
            ManagerEvent::Done { delivered, failed } => {
                say(&format!("{delivered} delivered, {failed} not"));
                saw_done = true;
                break;
            }
            ManagerEvent::Error(message) => {
                say(&message);
                return Ok(false);
            }
            // (Answers to other requests: not this connection's.)
            ManagerEvent::Hello { .. }
            | ManagerEvent::NotificationClosed { .. }
            | ManagerEvent::ActionInvoked { .. } => {}
        }
    }
    Ok(saw_done && delivered_all)
}
