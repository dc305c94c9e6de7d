//! The audit log: one JSON record per line in `$XDG_STATE_HOME/cloison/audit.jsonl`: each
//! decision of the multilevel manager, and each file's outcome. Content is recorded by
//! SHA-256 and size, never by value. Records form a hash chain: each carries `prev`, the hash
//! of the record before it (64 zeros for the first), and `hash`, the SHA-256 of its own JSON
//! without `hash`. A record is flushed to disk (fdatasync) before the decision takes effect,
//! and a decision whose record cannot be written does not take effect ([`record`]).
//!
//! `cloison audit verify` recomputes every hash and link and names the first record that
//! does not fit (changed, removed, inserted or reordered); `cloison audit show` prints the log.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest name a record holds, in bytes (a level chooses names: records stay small).
pub const MAX_NAME: usize = 256;

impl Entry {
    /// Records `name`, cut to [`MAX_NAME`] bytes (at a character boundary) with its SHA-256
    /// when it is longer.
    pub fn with_name(mut self, name: &str) -> Entry {
        if name.len() <= MAX_NAME {
            self.name = Some(name.to_string());
            self.name_sha256 = None;
        } else {
            let mut end = MAX_NAME - '…'.len_utf8();
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            self.name = Some(format!("{}…", &name[..end]));
            self.name_sha256 = Some(sha256(name.as_bytes()));
        }
        self
    }
}

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a record says (everything but its place in the chain).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `copy`, `copy-failed`, `paste`, `confirm`.
    pub event: String,
    /// Source level.
    pub from: Option<String>,
    /// Target level.
    pub to: Option<String>,
    /// Content type.
    pub mime: Option<String>,
    /// Content size in bytes.
    pub size: Option<u64>,
    /// SHA-256 of the content (hex).
    pub sha256: Option<String>,
    /// What was decided: `stored`, `allow`, `deny`, `confirmed`, `refused`, `timeout`, …
    pub decision: String,
    /// The rule or reason behind it.
    pub rule: String,
    /// A file's name as the sender gave it — at most [`MAX_NAME`] bytes of it: a longer name
    /// is cut (with `…`) and `name_sha256` identifies it whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SHA-256 of a name too long to record whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_sha256: Option<String>,
    /// How many requests or files this record stands for, when more than one (refusals the
    /// rate limit did not record one by one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The name a file got in the target's incoming folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_as: Option<String>,
    /// What became of a file: `delivered`, `denied`, `failed: …`, `cancelled: …`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// A record as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Position, from 1.
    pub seq: u64,
    /// UTC time, RFC 3339 with milliseconds.
    pub time: String,
    /// What happened.
    #[serde(flatten)]
    pub entry: Entry,
    /// Hash of the previous record.
    pub prev: String,
    /// Hash of this record without this field.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

impl Record {
    fn digest(&self) -> String {
        let body = Record {
            hash: String::new(),
            ..self.clone()
        };
        hex(&Sha256::digest(
            serde_json::to_vec(&body).unwrap_or_default(),
        ))
    }
}

/// Hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) of content.
pub fn sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// An open audit log, appending.
pub struct Audit {
    path: PathBuf,
    file: File,
    seq: u64,
    prev: String,
    /// A record could not be written whole nor cut off again: nothing more is appended (the
    /// chain would no longer verify), so every decision is refused.
    torn: bool,
}

impl Audit {
    /// Opens (creating it, mode 0600) the log at `path`; continues its chain.
    pub fn open(path: &Path) -> anyhow::Result<Audit> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        cut_partial_record(path)?;
        let (seq, prev) = match last_record(path)? {
            Some(r) => (r.seq, r.hash),
            None => (0, GENESIS.to_string()),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open the audit log {}", path.display()))?;
        Ok(Audit {
            path: path.to_path_buf(),
            file,
            seq,
            prev,
            torn: false,
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a record and flushes it to disk; returns it. A record that cannot be written
    /// whole (a full file system) is cut off again, so the log stays a chain that verifies.
    pub fn append(&mut self, entry: Entry) -> anyhow::Result<Record> {
        if self.torn {
            anyhow::bail!(
                "the audit log {} ends with a partial record that could not be removed",
                self.path.display()
            );
        }
        let mut record = Record {
            seq: self.seq + 1,
            time: rfc3339(std::time::SystemTime::now()),
            entry,
            prev: self.prev.clone(),
            hash: String::new(),
        };
        record.hash = record.digest();
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        let end = self.file.metadata().map(|m| m.len());
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(err) = written {
            let cut = end.and_then(|end| self.file.set_len(end));
            self.torn = cut.is_err();
            return Err(err)
                .with_context(|| format!("cannot write the audit log {}", self.path.display()));
        }
        self.seq = record.seq;
        self.prev = record.hash.clone();
        Ok(record)
    }
}

/// Appends `entry` to the shared log `audit`; whether it was written (and synced). A failure
/// is logged here: callers refuse what the record was for.
pub fn record(audit: &std::sync::Mutex<Audit>, entry: Entry) -> bool {
    let result = match audit.lock() {
        Ok(mut audit) => audit.append(entry),
        Err(_) => Err(anyhow::anyhow!("the audit log's lock is poisoned")),
    };
    match result {
        Ok(_) => true,
        Err(err) => {
            tracing::error!("audit log: {err:#}");
            false
        }
    }
}

/// Removes a last line without its newline (a write interrupted by a crash or a full disk),
/// so the chain goes on from the last whole record; says so.
fn cut_partial_record(path: &Path) -> anyhow::Result<()> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if text.is_empty() || text.ends_with(b"\n") {
        return Ok(());
    }
    let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    tracing::warn!(
        "the audit log {} ended with a partial record ({} bytes, an interrupted write): removed",
        path.display(),
        text.len() - whole
    );
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(whole as u64))
        .with_context(|| format!("cannot remove the partial record of {}", path.display()))
}

fn last_record(path: &Path) -> anyhow::Result<Option<Record>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut last = None;
    for line in BufReader::new(file).lines() {
        let line = line?;
        if !line.trim().is_empty() {
            last = Some(line);
        }
    }
    match last {
        None => Ok(None),
        Some(line) => Ok(Some(serde_json::from_str(&line).with_context(|| {
            format!(
                "the last record of {} is not valid; check it with `cloison audit verify`",
                path.display()
            )
        })?)),
    }
}

/// Why a log does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {reason}")]
pub struct Broken {
    /// The log.
    pub path: String,
    /// Line number (from 1) of the first record that does not fit.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Checks a whole log; returns the number of records.
pub fn verify(path: &Path) -> anyhow::Result<Result<u64, Broken>> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let broken = |line: usize, reason: String| Broken {
        path: path.display().to_string(),
        line,
        reason,
    };
    let mut prev = GENESIS.to_string();
    let mut seq = 0u64;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line?;
        let record: Record = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => return Ok(Err(broken(n, format!("not a record: {e}")))),
        };
        if record.digest() != record.hash {
            return Ok(Err(broken(
                n,
                "its content does not match its hash (changed)".into(),
            )));
        }
        if record.prev != prev {
            return Ok(Err(broken(
                n,
                "it does not follow the record before it (one removed, inserted or moved)".into(),
            )));
        }
        if record.seq != seq + 1 {
            return Ok(Err(broken(
                n,
                format!("sequence {} after {seq}", record.seq),
            )));
        }
        seq = record.seq;
        prev = record.hash;
    }
    Ok(Ok(seq))
}

/// `text` on one line, at most `max_chars` characters, with controls, bidi and invisible
/// characters shown as `⟨U+…⟩`: for what a level may have chosen, before a log or a terminal.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let cut = if text.chars().count() > max_chars {
        "…"
    } else {
        ""
    };
    cloison_config::text::make_visible(text, max_chars).replace('\n', "⟨U+000A⟩") + cut
}

/// The log, one readable line per record (what a level may have chosen made visible).
pub fn show(path: &Path) -> anyhow::Result<String> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = String::new();
    for line in BufReader::new(file).lines() {
        let line = line?;
        match serde_json::from_str::<Record>(&line) {
            Ok(r) => {
                let e = &r.entry;
                let route = match (&e.from, &e.to) {
                    (Some(f), Some(t)) => format!("{f} -> {t}"),
                    (Some(f), None) => format!("from {f}"),
                    (None, Some(t)) => format!("to {t}"),
                    (None, None) => String::new(),
                };
                let file = match (&e.name, &e.delivered_as) {
                    (Some(n), Some(d)) => format!(" {n:?} -> {d:?}"),
                    (Some(n), None) => format!(" {n:?}"),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "#{:<4} {}  {:<11} {:<14} {:<8}{file} {}{}  [{}]{}\n",
                    r.seq,
                    r.time,
                    e.event,
                    route,
                    e.decision,
                    match (&e.mime, e.size) {
                        (Some(m), Some(s)) => format!("{m}, {s} bytes"),
                        (Some(m), None) => m.clone(),
                        _ => String::new(),
                    },
                    e.sha256
                        .as_ref()
                        .map(|h| format!(", sha256 {}…", &h[..12.min(h.len())]))
                        .unwrap_or_default(),
                    one_line(&e.rule, 1000),
                    e.outcome
                        .as_ref()
                        .map(|o| format!(" {}", one_line(o, 1000)))
                        .unwrap_or_default()
                ));
            }
            Err(_) => out.push_str(&format!("(not a record) {}\n", one_line(&line, 1000))),
        }
    }
    Ok(out)
}

/// UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u64) -> Entry {
        Entry {
            event: "paste".into(),
            from: Some("low".into()),
            to: Some("high".into()),
            mime: Some("text/plain;charset=utf-8".into()),
            size: Some(n),
            sha256: Some(sha256(b"x")),
            decision: "allow".into(),
            rule: "low -> high: allow".into(),
            ..Entry::default()
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn the_chain_verifies_and_any_change_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        {
            let mut audit = Audit::open(&path).unwrap();
            for n in 1..=3 {
                audit.append(entry(n)).unwrap();
            }
        }
        // Reopening continues the chain.
        Audit::open(&path).unwrap().append(entry(4)).unwrap();
        assert_eq!(verify(&path).unwrap(), Ok(4));
        let good = lines(&path);
        let check = |content: Vec<String>| {
            std::fs::write(&path, content.join("\n") + "\n").unwrap();
            verify(&path).unwrap().unwrap_err()
        };
        // A changed record (its size), even with a valid-looking line.
        let mut changed = good.clone();
        changed[1] = changed[1].replace("\"size\":2", "\"size\":20");
        let e = check(changed);
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("changed"), "{e}");
        // A removed record.
        let mut removed = good.clone();
        removed.remove(1);
        assert_eq!(check(removed).line, 2);
        // Two records swapped.
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        assert_eq!(check(swapped).line, 2);
        // The last record changed.
        let mut last = good.clone();
        last[3] = last[3].replace("allow\"", "deny\"");
        assert_eq!(check(last).line, 4);
        std::fs::write(&path, good.join("\n") + "\n").unwrap();
        assert!(show(&path).unwrap().contains("low -> high"));
        // Content is never recorded, only its hash.
        assert!(!good.iter().any(|l| l.contains("\"x\"")));
    }

    #[test]
    fn an_interrupted_write_is_cut_off_at_the_next_start_and_the_chain_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        Audit::open(&path).unwrap().append(entry(1)).unwrap();
        let whole = std::fs::read_to_string(&path).unwrap();
        // A crash in the middle of the second record.
        std::fs::write(&path, whole.clone() + "{\"seq\":2,\"time\":\"20").unwrap();
        Audit::open(&path).unwrap().append(entry(2)).unwrap();
        assert_eq!(verify(&path).unwrap(), Ok(2));
        assert!(std::fs::read_to_string(&path).unwrap().starts_with(&whole));
    }

    #[test]
    fn what_a_level_chose_is_shown_on_one_line_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut audit = Audit::open(&path).unwrap();
        audit
            .append(Entry {
                rule: format!(
                    "bad request: unknown variant `a\n#9 fake\u{1b}[2J{}`",
                    "b".repeat(5000)
                ),
                ..entry(1)
            })
            .unwrap();
        let shown = show(&path).unwrap();
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert!(!shown.contains('\u{1b}'));
        assert!(shown.contains("⟨U+000A⟩#9 fake⟨U+001B⟩"));
        assert!(shown.len() < 1200 * 4, "{} bytes", shown.len());
        assert_eq!(one_line(&"x".repeat(300), 200).chars().count(), 201);
    }

    #[test]
    fn times_are_rfc3339_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_764_288_000_123);
        assert_eq!(rfc3339(t), "2025-11-28T00:00:00.123Z");
    }
}
