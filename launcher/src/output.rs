//! What the cages print. No cage shares the launcher's terminal or log: each cage's standard
//! output and error are a pipe that a thread here reads, line by line, and passes on — a level's
//! lines to its own log file (`cloison logs LEVEL`; and to the journal, with `level=`, when the
//! launcher logs there), the compositor's (already formatted log records) to the launcher's
//! standard error as they are. Both are bounded, since a level controls what it prints: a line is cut at
//! [`MAX_LINE`] bytes (the rest of it is skipped, never buffered), and at most
//! [`LINES_PER_SECOND`] lines a second are passed on (with bursts of [`BURST`]); what is dropped
//! is counted and said once it flows again.

use std::io::{BufReader, Write as _};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Instant;

use crate::rate::Bucket;

/// Longest line passed on, in bytes.
pub const MAX_LINE: usize = 4096;
/// Lines passed on per second, on average.
pub const LINES_PER_SECOND: f64 = 100.0;
/// Lines passed on at once after a quiet period.
pub const BURST: f64 = 200.0;

/// A level's log file grows to this many bytes, then becomes `LEVEL.log.1` (the one before
/// goes) and a new one starts: at most twice this per level.
pub const MAX_LOG_BYTES: u64 = 1 << 20;

/// Where a cage's lines go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// A level's programs: each line goes to the level's log file, and to the journal as a
    /// record with `level=` when the launcher logs there; never to the launcher's terminal.
    Level(PathBuf),
    /// The compositor: its log records, written to our standard error as they are.
    Verbatim,
}

/// A level's log file (`$XDG_STATE_HOME/cloison/logs/LEVEL.log`), rotated at
/// [`MAX_LOG_BYTES`].
pub struct LevelLog {
    path: PathBuf,
    file: Option<std::fs::File>,
    size: u64,
}

impl LevelLog {
    /// Opens (appends to) the log at `path`, made if missing (mode 0600).
    pub fn open(path: PathBuf) -> LevelLog {
        let mut log = LevelLog {
            path,
            file: None,
            size: 0,
        };
        log.reopen();
        log
    }

    fn reopen(&mut self) {
        use std::os::unix::fs::OpenOptionsExt as _;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&self.path);
        match file {
            Ok(file) => {
                self.size = file.metadata().map(|m| m.len()).unwrap_or(0);
                self.file = Some(file);
            }
            Err(err) => {
                tracing::warn!("cannot write {}: {err}", self.path.display());
                self.file = None;
            }
        }
    }

    /// Appends one line, with the time it was read.
    pub fn write_line(&mut self, text: &str) {
        use tracing_subscriber::fmt::time::FormatTime as _;
        if self.size >= MAX_LOG_BYTES {
            let mut old = self.path.clone().into_os_string();
            old.push(".1");
            let _ = std::fs::rename(&self.path, old);
            self.reopen();
        }
        let mut line = String::with_capacity(text.len() + 32);
        let _ = tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut tracing_subscriber::fmt::format::Writer::new(&mut line));
        line.push(' ');
        line.push_str(text);
        line.push('\n');
        if let Some(file) = &mut self.file
            && file.write_all(line.as_bytes()).is_ok()
        {
            self.size += line.len() as u64;
        }
    }
}

/// Reads `read` until it closes, in a thread of its own.
pub fn follow(name: String, read: OwnedFd, sink: Sink) {
    let _ = std::thread::Builder::new()
        .name(format!("output-{name}"))
        .spawn(move || {
            let mut log = match &sink {
                Sink::Level(path) => Some(LevelLog::open(path.clone())),
                Sink::Verbatim => None,
            };
            let journal = std::env::var_os("JOURNAL_STREAM").is_some();
            let mut reader = BufReader::new(std::fs::File::from(read));
            let mut limiter = Bucket::new(LINES_PER_SECOND, BURST, Instant::now());
            while let Some(line) = next_line(&mut reader, MAX_LINE) {
                let Some(dropped) = limiter.admit(Instant::now()) else {
                    continue;
                };
                if dropped > 0 {
                    tracing::warn!(
                        cage = %name,
                        "{dropped} lines from {name} were not logged (more than {LINES_PER_SECOND} a second)"
                    );
                    // The level's own log says where lines are missing, too.
                    if let Some(log) = &mut log {
                        log.write_line(&format!(
                            "[cloison: {dropped} lines not logged here: more than {LINES_PER_SECOND} a second]"
                        ));
                    }
                }
                let text = printable(&line);
                match &mut log {
                    Some(log) => {
                        log.write_line(&text);
                        if journal {
                            tracing::info!(target: "cloison::cage", level = %name, "{text}")
                        }
                    }
                    None => {
                        let _ = writeln!(std::io::stderr(), "{text}");
                    }
                }
            }
        });
}

/// A line as it may reach the launcher's terminal or journal: its control characters (a
/// carriage return rewriting the line before it, escape sequences) and bidi or invisible ones
/// made visible as `⟨U+XXXX⟩`.
pub fn printable(line: &[u8]) -> String {
    let shown = cloison_config::text::make_visible(&String::from_utf8_lossy(line), MAX_LINE);
    // Made visible, a line of control characters is several times longer: cut it again.
    match shown.char_indices().nth(MAX_LINE) {
        Some((at, _)) => format!("{} … (cut)", &shown[..at]),
        None => shown,
    }
}

/// The next line of `reader` without its newline, cut at `max` bytes (the rest of a longer
/// line is read and thrown away, so memory stays bounded); `None` at the end.
pub fn next_line(reader: &mut impl std::io::BufRead, max: usize) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut cut = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return (!line.is_empty()).then_some(line),
        };
        if available.is_empty() {
            return (!line.is_empty() || cut).then_some(line);
        }
        let (chunk, end) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        let room = max.saturating_sub(line.len());
        if chunk.len() > room {
            cut = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = end.unwrap_or(available.len());
        reader.consume(used);
        if end.is_some() {
            if cut {
                line.extend_from_slice(" … (cut)".as_bytes());
            }
            return Some(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_the_rest_skipped() {
        let mut input = vec![b'a'; 10_000];
        input.push(b'\n');
        input.extend_from_slice(b"next\nlast");
        let mut reader = BufReader::with_capacity(64, &input[..]);
        let first = next_line(&mut reader, 100).unwrap();
        assert_eq!(&first[..100], &[b'a'; 100][..]);
        assert!(first.ends_with(" … (cut)".as_bytes()));
        assert_eq!(next_line(&mut reader, 100).unwrap(), b"next");
        assert_eq!(next_line(&mut reader, 100).unwrap(), b"last");
        assert_eq!(next_line(&mut reader, 100), None);
    }

    #[test]
    fn a_level_log_is_rotated_and_bounded() {
        let dir = std::env::temp_dir().join(format!("cloison-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("low.log");
        let mut log = LevelLog::open(path.clone());
        let line = "x".repeat(1000);
        for _ in 0..2500 {
            log.write_line(&line);
        }
        let now = std::fs::metadata(&path).unwrap().len();
        let before = std::fs::metadata(dir.join("low.log.1")).unwrap().len();
        assert!(
            now <= MAX_LOG_BYTES && before <= MAX_LOG_BYTES + 1100,
            "{now} {before}"
        );
        assert!(now + before > MAX_LOG_BYTES, "the newest lines are kept");
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        // A time, then the line.
        assert!(first.len() > 1000 && first.ends_with(&line), "{first}");
        assert!(first.starts_with("20"), "{first}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_line_of_control_characters_stays_short_once_made_visible() {
        let shown = printable(&[0x1b; MAX_LINE]);
        assert!(shown.chars().count() <= MAX_LINE + 8, "{}", shown.len());
        assert!(shown.ends_with("(cut)"));
    }

    #[test]
    fn control_characters_reach_no_terminal() {
        let shown = printable(b"ok\r\x1b[2Kroot: all good\x07\xe2\x80\xae");
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(
            shown.contains("⟨U+000D⟩") && shown.contains("⟨U+001B⟩"),
            "{shown:?}"
        );
        assert!(shown.contains("⟨U+202E⟩"), "{shown:?}");
    }
}
