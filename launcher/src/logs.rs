//! `cloison logs LEVEL`: what a level's programs wrote (see [`crate::output`]), from the
//! level's log file and the one before it, with `--follow` to keep reading as it grows (and
//! across a rotation).

use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::cli::LogsArgs;

/// Runs `cloison logs`.
pub fn run(args: LogsArgs) -> anyhow::Result<()> {
    cloison_config::check_level_name(&args.level)
        .map_err(|e| anyhow::anyhow!("{:?} is not a level name: {e}", args.level))?;
    let dir = match args.dir {
        Some(dir) => dir,
        None => crate::plans::xdg_dir("XDG_STATE_HOME", ".local/state")?
            .join("cloison")
            .join("logs"),
    };
    let path = dir.join(format!("{}.log", args.level));
    let older = dir.join(format!("{}.log.1", args.level));
    if !path.exists() && !older.exists() {
        bail!(
            "no log for level {:?} in {} (levels with one: {})",
            args.level,
            dir.display(),
            levels_with_logs(&dir).join(", ")
        );
    }
    let mut text = Vec::new();
    // Where --follow goes on from: the end of what was read of the current log (the file
    // itself, kept open, so that a rotation meanwhile loses nothing).
    let mut current = None;
    for file in [&older, &path] {
        if let Ok(mut f) = std::fs::File::open(file) {
            f.read_to_end(&mut text)
                .with_context(|| format!("cannot read {}", file.display()))?;
            if file == &path {
                let at = f.stream_position()?;
                current = Some((f, at));
            }
        }
    }
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let from = args.lines.map_or(0, |n| lines.len().saturating_sub(n));
    let mut out = std::io::stdout().lock();
    for line in &lines[from..] {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    drop(out);
    if args.follow {
        follow(&path, current)?;
    }
    Ok(())
}

/// Level names with a log in `dir`, sorted.
fn levels_with_logs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".log")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        names.push("none".into());
    }
    names
}

/// Prints what is appended to `path` from where `current` (the file already read, and how
/// far) stands, reopening it when it is rotated.
fn follow(path: &PathBuf, mut current: Option<(std::fs::File, u64)>) -> anyhow::Result<()> {
    let open = || -> Option<(std::fs::File, u64)> {
        let file = std::fs::File::open(path).ok()?;
        Some((file, 0))
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let Some((file, pos)) = &mut current else {
            current = open().map(|(f, _)| (f, 0));
            continue;
        };
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            *pos += n as u64;
            let mut out = std::io::stdout().lock();
            out.write_all(&buf[..n])?;
            out.flush()?;
        }
        // Rotated (the name holds another file now): what the old one got is printed above;
        // go on with the new one from its start.
        use std::os::unix::fs::MetadataExt as _;
        let same = match (std::fs::metadata(path), file.metadata()) {
            (Ok(named), Ok(open)) => named.ino() == open.ino() && named.dev() == open.dev(),
            _ => false,
        };
        if !same {
            current = open().map(|(f, _)| (f, 0));
        }
    }
}
