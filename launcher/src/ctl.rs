//! `cloison ctl`: a thin client of the trusted control socket.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use cloison_ipc::{Client, Reply, Request};

use crate::cli::{CtlArgs, CtlCommand, SpawnArgs};

fn socket(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    Ok(match given {
        Some(path) => path,
        None => cloison_ipc::paths::find_ctl_socket().map_err(anyhow::Error::msg)?,
    })
}

/// Runs `cloison spawn`: prints the program's pid inside its cage.
pub fn spawn(args: SpawnArgs) -> anyhow::Result<()> {
    let mut client = Client::connect(&socket(args.socket)?)?;
    match client.request(&Request::Spawn {
        level: args.level.clone(),
        argv: args.command,
        wait: false,
    })? {
        Reply::Spawned { pid } => {
            writeln!(std::io::stdout(), "{pid}")?;
            Ok(())
        }
        other => bail!("unexpected reply: {other:?}"),
    }
}

/// Runs one `cloison ctl` command.
pub fn run(args: CtlArgs) -> anyhow::Result<()> {
    let socket = socket(args.socket)?;
    let request = match &args.request {
        CtlCommand::Status => Request::Status,
        CtlCommand::Screenshot { .. } => Request::Screenshot,
        CtlCommand::Quit => Request::Quit,
        CtlCommand::Lock => Request::Lock,
        CtlCommand::RestartLevel { level } => Request::RestartLevel {
            level: level.clone(),
        },
        CtlCommand::CancelTransfer { id } => Request::CancelTransfer { id: *id },
        CtlCommand::Input { event } => Request::Input {
            event: event.clone(),
        },
    };
    let mut client = Client::connect(&socket)?;
    let reply = client.request(&request)?;
    let mut out = std::io::stdout().lock();
    match (&args.request, reply) {
        (_, Reply::Status(status)) => {
            serde_json::to_writer_pretty(&mut out, &status)?;
            writeln!(out)?;
        }
        (CtlCommand::Screenshot { file }, Reply::Screenshot(shot)) => {
            write_png(file, &shot)?;
            writeln!(
                out,
                "{}: {}x{} PNG",
                file.display(),
                shot.width,
                shot.height
            )?;
        }
        (_, Reply::Done) => {}
        (_, other) => bail!("unexpected reply: {other:?}"),
    }
    Ok(())
}

/// Asks for a screenshot and saves it at `path` (`cloison exec --screenshot`).
pub fn save_screenshot(client: &mut Client, path: &Path) -> anyhow::Result<()> {
    match client.request(&Request::Screenshot)? {
        Reply::Screenshot(shot) => write_png(path, &shot),
        other => bail!("unexpected reply: {other:?}"),
    }
}

fn write_png(path: &Path, shot: &cloison_ipc::Screenshot) -> anyhow::Result<()> {
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot.png_base64.as_bytes())
        .context("the compositor sent an invalid screenshot")?;
    write_atomically(path, &png)
}

/// Writes `data` to a temporary file next to `path`, then renames it: a reader never sees a
/// partial file, and a failure leaves nothing behind.
fn write_atomically(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .context("the screenshot path has no file name")?;
    // A name nobody can have prepared (a link at it would be refused anyway: the file is
    // made new, never followed).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{nanos}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o644)
            .open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(err) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}
