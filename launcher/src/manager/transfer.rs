//! The manager's file transfer: requests arrive on a level's manager socket with one open
//! descriptor per file (the sender opened them inside its cage: the manager never resolves a
//! path of the source level). The flow policy for files decides (`allow`, `confirm` through
//! the compositor's trusted dialog, `deny`) within the pair's limits; allowed files are
//! delivered into the target level's `~/Incoming/<source>/` by [`super::files`]. Every
//! delivered, failed or cancelled file is one audit record.
//!
//! A level is hostile until shown otherwise, so what it can make the manager do is bounded:
//! at most [`MAX_CONNECTIONS`] connections at once per level, each idle for at most
//! [`READ_TIMEOUT`]; messages framed and bounded ([`cloison_ipc::channel::LEVEL`]); at most
//! [`SENDS_PER_SECOND`] requests a second per level; one confirmation per level waiting for the
//! user at a time (a further request is refused, the dialog never piles up); refusals —
//! malformed requests, too many files, files that are not regular, denials — recorded at most
//! [`REFUSALS_PER_SECOND`] a second per level (one record per request, names cut to
//! `audit::MAX_NAME`; what the limit held back is counted in the next record), and told to the
//! bar at most once every [`NOTICE_INTERVAL`] per level. A flood from one level can neither fill
//! the disk nor slow the audit log another level's paste waits for.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileTypeExt as _;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloison_config::{Config, Decision, FlowKind};
use cloison_ipc::channel::{self, Fill, Receiver};
use cloison_ipc::level::{MAX_FILES, ManagerEvent, ManagerRequest};

use super::audit::{Audit, Entry};
use crate::plans::{Ids, SessionPaths};
use crate::rate::Bucket;

/// Connections a level may hold open on its manager socket at once.
pub const MAX_CONNECTIONS: usize = 8;
/// Characters of a protocol error's text kept in a refusal record (it may quote the level).
pub const MAX_REASON_CHARS: usize = 200;
/// How long a connection may stay silent (between requests, or within one).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a write to a level may take before the connection is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Send requests per second per level (bursts of twice as many).
pub const SENDS_PER_SECOND: f64 = 10.0;
/// Refusal records per second per level (bursts of ten).
pub const REFUSALS_PER_SECOND: f64 = 1.0;
/// At most one bar notice about a level's refused transfers in this long.
pub const NOTICE_INTERVAL: Duration = Duration::from_secs(5);
/// Longest name a level may give a file, in bytes (`PATH_MAX`; delivered names are cut far
/// shorter, see `files::sanitize`).
pub const MAX_NAME_BYTES: usize = 4096;
/// Most bytes of names in one send.
pub const MAX_NAMES_BYTES: usize = 1 << 20;
/// Files a level's sends may hold, announced and not yet delivered or refused, all its
/// connections together (each is a descriptor held by the launcher).
pub const MAX_FILES_WAITING: usize = MAX_FILES;
/// How long a send may take to pass all its files, from its announcement.
pub const SEND_DEADLINE: Duration = Duration::from_secs(120);

/// The launcher's open-files limit for `levels`: each level's connections and the files its
/// sends hold, a 64-descriptor batch in flight per connection, plus the launcher's own.
pub fn launcher_nofile(levels: usize) -> u64 {
    (levels * (MAX_FILES_WAITING + MAX_CONNECTIONS * (1 + 64)) + 4096) as u64
}

/// A confirmation the loop must show (as dialog [`cloison_ipc::session::DialogId::Files`]).
pub struct Ask {
    /// Request id.
    pub id: u64,
    /// Source level.
    pub from: String,
    /// Target level.
    pub to: String,
    /// Sanitised names and sizes.
    pub files: Vec<(String, u64)>,
    /// Total bytes.
    pub total: u64,
}

/// What the transfer threads share with the session.
pub struct Transfers {
    /// The configuration.
    pub config: Arc<Config>,
    /// Where the homes are.
    pub paths: SessionPaths,
    /// Who owns what.
    pub ids: Ids,
    /// The audit log (shared with the clipboard).
    pub audit: Arc<Mutex<Audit>>,
    /// Asks the user (through the loop and the compositor); blocks until answered.
    pub ask: Box<dyn Fn(Ask) -> bool + Send + Sync>,
    /// Shows (or, with `None`, clears) a transfer's progress in the bar.
    pub bar: Box<dyn Fn(u64, Option<String>) + Send + Sync>,
    /// Shows a notification in the bar.
    pub notify: Box<dyn Fn(String) + Send + Sync>,
    /// Transfers in progress, by id: their cancel flags.
    pub running: Mutex<HashMap<u64, Arc<AtomicBool>>>,
    next: AtomicU64,
    /// What each level may still do (by level name).
    budgets: Mutex<HashMap<String, Budget>>,
    /// Levels whose transfer waits for the user's answer (one at a time per level).
    asking: Mutex<HashSet<String>>,
}

/// One level's share of the manager's attention.
struct Budget {
    /// Open connections.
    connections: Arc<AtomicUsize>,
    /// Files announced by sends whose files have not all arrived.
    waiting: Arc<AtomicUsize>,
    /// Send requests.
    sends: Bucket,
    /// Refusal records.
    refusals: Bucket,
    /// The last bar notice about a refusal.
    noticed: Option<Instant>,
}

/// A share of a level's budget (a connection, files waiting), given back when dropped.
pub struct Slot {
    counter: Arc<AtomicUsize>,
    n: usize,
}

impl Slot {
    /// `n` more of `counter`, if that keeps it at most `max`.
    fn take(counter: Arc<AtomicUsize>, n: usize, max: usize) -> Option<Slot> {
        counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                held.checked_add(n).filter(|total| *total <= max)
            })
            .ok()
            // Built only once taken (its drop gives the share back).
            .map(|_| Slot { counter, n })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.n, Ordering::Relaxed);
    }
}

impl Transfers {
    /// The shared state.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Arc<Config>,
        paths: SessionPaths,
        ids: Ids,
        audit: Arc<Mutex<Audit>>,
        ask: Box<dyn Fn(Ask) -> bool + Send + Sync>,
        bar: Box<dyn Fn(u64, Option<String>) + Send + Sync>,
        notify: Box<dyn Fn(String) + Send + Sync>,
    ) -> Transfers {
        Transfers {
            config,
            paths,
            ids,
            audit,
            ask,
            bar,
            notify,
            running: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            budgets: Mutex::new(HashMap::new()),
            asking: Mutex::new(HashSet::new()),
        }
    }

    fn with_budget<T>(&self, level: &str, f: impl FnOnce(&mut Budget) -> T) -> T {
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let budget = budgets.entry(level.to_string()).or_insert_with(|| Budget {
            connections: Arc::new(AtomicUsize::new(0)),
            waiting: Arc::new(AtomicUsize::new(0)),
            sends: Bucket::new(SENDS_PER_SECOND, 2.0 * SENDS_PER_SECOND, now),
            refusals: Bucket::new(REFUSALS_PER_SECOND, 10.0, now),
            noticed: None,
        });
        f(budget)
    }

    /// A connection slot for `level`, if it has fewer than [`MAX_CONNECTIONS`] open.
    pub fn connect(&self, level: &str) -> Option<Slot> {
        let counter = self.with_budget(level, |b| b.connections.clone());
        Slot::take(counter, 1, MAX_CONNECTIONS)
    }

    /// Room for `count` announced files of `level`, if its sends then hold at most
    /// [`MAX_FILES_WAITING`].
    fn wait_for(&self, level: &str, count: usize) -> Option<Slot> {
        let counter = self.with_budget(level, |b| b.waiting.clone());
        Slot::take(counter, count, MAX_FILES_WAITING)
    }

    /// Whether `level` may make a send request now.
    fn admit_send(&self, level: &str) -> bool {
        self.with_budget(level, |b| b.sends.admit(Instant::now()).is_some())
    }

    /// Records a refusal from `from`, within the level's budget: past it, the refusal is only
    /// counted (the next record written says how many were not).
    fn refused(&self, from: &str, entry: Entry) {
        let admitted = self.with_budget(from, |b| b.refusals.admit(Instant::now()));
        let Some(skipped) = admitted else {
            return;
        };
        if skipped > 0 {
            self.record(Entry {
                event: "file".into(),
                from: Some(from.into()),
                decision: "refused".into(),
                rule: format!(
                    "{skipped} more refusals from {from}, not recorded one by one (rate limit)"
                ),
                count: Some(skipped),
                ..Entry::default()
            });
        }
        self.record(entry);
    }

    /// Tells the bar about a refusal from `from`, at most once every [`NOTICE_INTERVAL`].
    fn notice(&self, from: &str, text: String) {
        let now = Instant::now();
        let due = self.with_budget(from, |b| {
            let due = b
                .noticed
                .is_none_or(|at| now.duration_since(at) >= NOTICE_INTERVAL);
            if due {
                b.noticed = Some(now);
            }
            due
        });
        if due {
            (self.notify)(text);
        }
    }

    /// Cancels a transfer; whether it was running.
    pub fn cancel(&self, id: u64) -> bool {
        match self.running.lock().map(|r| r.get(&id).cloned()) {
            Ok(Some(flag)) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Appends `entry` to the audit log (written and synced); whether it was.
    fn record(&self, entry: Entry) -> bool {
        super::audit::record(&self.audit, entry)
    }
}

/// Sends one event to the level (a failed write ends the connection).
fn reply(out: &UnixStream, event: &ManagerEvent) -> bool {
    channel::send(out, event, &[], channel::LEVEL).is_ok()
}

/// A send request whose files are still arriving.
struct Pending {
    to: Option<String>,
    count: usize,
    names: Vec<String>,
    /// Bytes of `names`.
    name_bytes: usize,
    files: Vec<Option<File>>,
    /// When it was announced ([`SEND_DEADLINE`]).
    since: Instant,
    /// Its share of the level's files held ([`MAX_FILES_WAITING`]).
    _waiting: Slot,
}

/// Serves one connection on `level`'s manager socket until it closes, breaks the protocol or
/// stays silent for [`READ_TIMEOUT`]. The caller holds the connection's [`Slot`].
pub fn serve(stream: &UnixStream, level: &str, t: &Transfers) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut receiver = Receiver::new(channel::LEVEL);
    let mut pending: Option<Pending> = None;
    // A protocol error ends the connection; it is recorded (within the level's budget).
    let broken = |why: String| {
        // A decoder's message may quote what the level sent: bounded and made visible before
        // it is logged or recorded.
        let why = super::audit::one_line(&why, MAX_REASON_CHARS);
        tracing::debug!(level, "manager connection dropped: {why}");
        let _ = reply(stream, &ManagerEvent::Error(format!("bad request: {why}")));
        t.refused(
            level,
            Entry {
                event: "file".into(),
                from: Some(level.into()),
                decision: "refused".into(),
                rule: format!("bad request: {why}"),
                ..Entry::default()
            },
        );
    };
    loop {
        let fill = match receiver.fill(stream) {
            Ok(fill) => fill,
            Err(err) if err.is_timeout() => {
                tracing::debug!(level, "manager connection idle: closed");
                return;
            }
            Err(err) => return broken(err.to_string()),
        };
        loop {
            let frame = match receiver.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(err) => return broken(err.to_string()),
            };
            let (request, fds) = match frame.decode::<ManagerRequest>() {
                Ok(decoded) => decoded,
                Err(err) => return broken(err.to_string()),
            };
            match request {
                ManagerRequest::Hello => {
                    if !reply(
                        stream,
                        &ManagerEvent::Hello {
                            level: level.to_string(),
                        },
                    ) {
                        return;
                    }
                }
                ManagerRequest::Send { to, count } => {
                    if pending.is_some() {
                        return broken("a send before the last one's files arrived".into());
                    }
                    if !t.admit_send(level) {
                        let _ = reply(
                            stream,
                            &ManagerEvent::Error("too many requests: try again in a moment".into()),
                        );
                        return;
                    }
                    if let Err(event) = check_count(t, level, to.as_deref(), count) {
                        let _ = reply(stream, &event);
                        return;
                    }
                    let Some(waiting) = t.wait_for(level, count) else {
                        let _ = reply(
                            stream,
                            &ManagerEvent::Error(
                                "too many files waiting to be sent: try again in a moment".into(),
                            ),
                        );
                        return;
                    };
                    pending = Some(Pending {
                        to,
                        count,
                        names: Vec::with_capacity(count.min(1024)),
                        name_bytes: 0,
                        files: Vec::with_capacity(count.min(1024)),
                        since: Instant::now(),
                        _waiting: waiting,
                    });
                }
                ManagerRequest::Files { names } => {
                    let Some(p) = pending.as_mut() else {
                        return broken("files without a send".into());
                    };
                    if p.names.len() + names.len() > p.count {
                        return broken(format!("more than the {} files announced", p.count));
                    }
                    if names.iter().any(|n| n.len() > MAX_NAME_BYTES) {
                        return broken(format!("a name longer than {MAX_NAME_BYTES} bytes"));
                    }
                    p.name_bytes += names.iter().map(String::len).sum::<usize>();
                    if p.name_bytes > MAX_NAMES_BYTES {
                        return broken(format!("names of more than {MAX_NAMES_BYTES} bytes"));
                    }
                    p.names.extend(names);
                    p.files
                        .extend(fds.into_iter().map(|fd| Some(File::from(fd))));
                    if p.names.len() == p.count {
                        // Its share of the files waiting is given back once it is done.
                        let Pending {
                            to,
                            names,
                            files,
                            _waiting: _held,
                            ..
                        } = pending.take().expect("checked");
                        let event = match send(t, level, to, names, files, stream) {
                            Ok(event) | Err(event) => event,
                        };
                        if !reply(stream, &event) {
                            return;
                        }
                    }
                }
            }
        }
        if fill == Fill::Closed {
            return;
        }
        if pending
            .as_ref()
            .is_some_and(|p| p.since.elapsed() > SEND_DEADLINE)
        {
            return broken(format!(
                "the files announced did not all arrive within {} s",
                SEND_DEADLINE.as_secs()
            ));
        }
    }
}

/// The target, and whether `count` files are within the pair's limit (else the request is
/// refused whole, and recorded as one refusal).
fn check_count(
    t: &Transfers,
    from: &str,
    to: Option<&str>,
    count: usize,
) -> Result<(), ManagerEvent> {
    let to = resolve_target(&t.config, from, to)?;
    let limit = t.config.file_limits(from, &to).max_count.min(MAX_FILES);
    if count == 0 || count > limit {
        t.refused(
            from,
            Entry {
                event: "file".into(),
                from: Some(from.into()),
                to: Some(to.clone()),
                decision: "refused".into(),
                rule: format!("{count} files in one request; at most {limit}"),
                ..Entry::default()
            },
        );
        return Err(ManagerEvent::Error(format!(
            "{count} files: at most {limit} per request from {from} to {to}"
        )));
    }
    Ok(())
}

/// The level a request from `from` goes to: `to`, or the other level when there are two.
fn resolve_target(config: &Config, from: &str, to: Option<&str>) -> Result<String, ManagerEvent> {
    let others: Vec<&str> = config
        .levels
        .iter()
        .map(|l| l.name.as_str())
        .filter(|n| *n != from)
        .collect();
    let to = match to {
        Some(to) => to.to_string(),
        None if others.len() == 1 => others[0].to_string(),
        None => {
            return Err(ManagerEvent::Error(format!(
                "say where to send: --to {}",
                others.join("|")
            )));
        }
    };
    if config.level(&to).is_none() {
        return Err(ManagerEvent::Error(format!("there is no level {to:?}")));
    }
    if to == from {
        return Err(ManagerEvent::Error(
            "the files are already in this level".into(),
        ));
    }
    Ok(to)
}

/// One file of a request, checked.
struct Item {
    name: String,
    safe: String,
    file: Option<File>,
    size: u64,
    refused: Option<String>,
}

/// Handles a `send` request; returns the final event (`Done` or `Error`).
fn send(
    t: &Transfers,
    from: &str,
    to: Option<String>,
    names: Vec<String>,
    fds: Vec<Option<File>>,
    out: &UnixStream,
) -> Result<ManagerEvent, ManagerEvent> {
    let config = &t.config;
    let to = resolve_target(config, from, to.as_deref())?;
    let Some(target) = config.level(&to) else {
        return Err(ManagerEvent::Error(format!("there is no level {to:?}")));
    };
    let limits = config.file_limits(from, &to);
    let base = |decision: &str, rule: String| Entry {
        event: "file".into(),
        from: Some(from.into()),
        to: Some(to.clone()),
        decision: decision.into(),
        rule,
        ..Entry::default()
    };
    // Check every file: a regular file, within the limits, an allowed extension.
    let mut items: Vec<Item> = Vec::new();
    for (name, file) in names.into_iter().zip(fds) {
        let safe = super::files::sanitize(&name);
        let mut item = Item {
            name,
            safe,
            file: None,
            size: 0,
            refused: None,
        };
        match file {
            None => item.refused = Some("no descriptor came with it".into()),
            Some(file) => match file.metadata() {
                Err(e) => item.refused = Some(format!("cannot inspect it: {e}")),
                Ok(meta) if !meta.file_type().is_file() => {
                    let kind = meta.file_type();
                    item.refused = Some(
                        if kind.is_fifo() {
                            "a FIFO, not a regular file"
                        } else if kind.is_char_device() || kind.is_block_device() {
                            "a device, not a regular file"
                        } else if kind.is_dir() {
                            "a directory (send its files with -r)"
                        } else {
                            "not a regular file"
                        }
                        .into(),
                    );
                }
                Ok(meta) if meta.len() > limits.max_file_bytes => {
                    item.refused = Some(format!(
                        "{} is above the {} limit per file",
                        cloison_config::text::human_size(meta.len()),
                        cloison_config::text::human_size(limits.max_file_bytes)
                    ));
                }
                Ok(meta) => {
                    let ext = Path::new(&item.safe)
                        .extension()
                        .map(|e| e.to_string_lossy().to_ascii_lowercase())
                        .unwrap_or_default();
                    if !limits.extensions.is_empty() && !limits.extensions.contains(&ext) {
                        item.refused = Some(format!(
                            "only {} files may go from {from} to {to}",
                            limits.extensions.join(", ")
                        ));
                    } else {
                        item.size = meta.len();
                        item.file = Some(file);
                    }
                }
            },
        }
        items.push(item);
    }
    let total: u64 = items
        .iter()
        .filter(|i| i.refused.is_none())
        .map(|i| i.size)
        .sum();
    let mut delivered = 0;
    let mut failed = 0;
    let report = |out: &UnixStream,
                  item: &Item,
                  outcome: &str,
                  delivered_as: Option<String>,
                  reason: Option<String>| {
        let event = ManagerEvent::File {
            name: item.name.clone(),
            outcome: outcome.into(),
            delivered_as,
            reason,
        };
        reply(out, &event);
    };
    // Refused files are reported to the sender whatever the decision, and recorded as one
    // refusal (the first one's name and reason, and how many).
    let refused: Vec<&Item> = items.iter().filter(|i| i.refused.is_some()).collect();
    for item in &refused {
        report(out, item, "refused", None, item.refused.clone());
        failed += 1;
    }
    if let Some(first) = refused.first() {
        let reason = first.refused.clone().unwrap_or_default();
        t.refused(
            from,
            Entry {
                count: (refused.len() > 1).then_some(refused.len() as u64),
                ..base("refused", reason)
            }
            .with_name(&first.name),
        );
    }
    let mut items: Vec<Item> = items.into_iter().filter(|i| i.refused.is_none()).collect();
    if total > limits.max_total_bytes {
        let rule = format!(
            "{} in one request is above the {} limit",
            cloison_config::text::human_size(total),
            cloison_config::text::human_size(limits.max_total_bytes)
        );
        for item in &items {
            report(out, item, "refused", None, Some(rule.clone()));
        }
        t.refused(
            from,
            Entry {
                size: Some(total),
                count: Some(items.len() as u64),
                ..base("refused", rule.clone())
            },
        );
        return Ok(ManagerEvent::Done {
            delivered: 0,
            failed: failed + items.len(),
        });
    }
    if items.is_empty() {
        return Ok(ManagerEvent::Done { delivered, failed });
    }

    let (decision, explicit) = config
        .decision(FlowKind::Files, from, &to)
        .unwrap_or((Decision::Deny, false));
    let rule = format!(
        "{from} -> {to}: {decision} ({})",
        if explicit { "policy rule" } else { "default" }
    );
    let id = t.next.fetch_add(1, Ordering::Relaxed);
    let (decision_word, rule) = match decision {
        Decision::Deny => {
            for item in &items {
                report(
                    out,
                    item,
                    "denied",
                    None,
                    Some(format!("denied by the policy: {rule}")),
                );
            }
            t.refused(
                from,
                Entry {
                    size: Some(total),
                    count: (items.len() > 1).then_some(items.len() as u64),
                    outcome: Some("denied".into()),
                    ..base("deny", rule.clone())
                }
                .with_name(&items[0].name),
            );
            t.notice(
                from,
                format!(
                    "Files from {} to {} denied: {rule}",
                    label(config, from),
                    target.label
                ),
            );
            return Ok(ManagerEvent::Done {
                delivered: 0,
                failed: failed + items.len(),
            });
        }
        Decision::Allow => ("allow", rule),
        Decision::Confirm => {
            // One dialog per level at a time: a level cannot pile requests up in front of
            // the user (or answer one with a Return meant for something else).
            let first = t
                .asking
                .lock()
                .map(|mut asking| asking.insert(from.to_string()))
                .unwrap_or(false);
            if !first {
                for item in &items {
                    report(
                        out,
                        item,
                        "refused",
                        None,
                        Some("another transfer from this level waits for the user".into()),
                    );
                }
                t.refused(
                    from,
                    Entry {
                        count: Some(items.len() as u64),
                        ..base(
                            "refused",
                            "another transfer from this level waits for the user".into(),
                        )
                    },
                );
                t.notice(
                    from,
                    format!(
                        "{} sent another transfer while one waits for you: refused",
                        label(config, from)
                    ),
                );
                return Ok(ManagerEvent::Done {
                    delivered: 0,
                    failed: failed + items.len(),
                });
            }
            let accept = (t.ask)(Ask {
                id,
                from: from.into(),
                to: to.clone(),
                files: items
                    .iter()
                    .map(|i| (display_name(&i.name, &i.safe), i.size))
                    .collect(),
                total,
            });
            if let Ok(mut asking) = t.asking.lock() {
                asking.remove(from);
            }
            for item in &items {
                t.record(
                    Entry {
                        size: Some(item.size),
                        ..Entry {
                            event: "confirm".into(),
                            ..base(if accept { "confirmed" } else { "refused" }, rule.clone())
                        }
                    }
                    .with_name(&item.name),
                );
            }
            if !accept {
                for item in &items {
                    report(out, item, "denied", None, Some("the user refused".into()));
                }
                return Ok(ManagerEvent::Done {
                    delivered: 0,
                    failed: failed + items.len(),
                });
            }
            ("allow", format!("{from} -> {to}: confirmed by the user"))
        }
    };

    // The intent is recorded before anything reaches the target level (its Incoming folder is
    // not even created yet); if it cannot be, nothing is delivered.
    if !t.record(
        Entry {
            size: Some(total),
            count: Some(items.len() as u64),
            outcome: Some("delivering".into()),
            ..base(decision_word, rule.clone())
        }
        .with_name(&items[0].name),
    ) {
        let why = "the audit log cannot be written: nothing was sent";
        for item in &items {
            report(out, item, "failed", None, Some(why.into()));
        }
        (t.notify)(format!(
            "Files from {} to {}: {why}",
            label(config, from),
            target.label
        ));
        return Ok(ManagerEvent::Done {
            delivered: 0,
            failed: failed + items.len(),
        });
    }

    // Deliver.
    let owner = t.ids.outside(target.uid);
    let cancel = Arc::new(AtomicBool::new(false));
    if let Ok(mut running) = t.running.lock() {
        running.insert(id, cancel.clone());
    }
    reply(
        out,
        &ManagerEvent::Accepted {
            id,
            files: items.len(),
            total,
        },
    );
    let started = Instant::now();
    let mut shown = false;
    let mut last_update = Instant::now();
    let mut done_before = 0u64;
    let inbox = super::files::incoming(&t.paths.level_home(&to), from, owner);
    let to_label = target.label.clone();
    // Once an outcome cannot be recorded, no further file is delivered.
    let mut audit_broken = false;
    for item in items.iter_mut() {
        if audit_broken {
            let why = "the audit log cannot be written: not sent";
            report(out, item, "failed", None, Some(why.into()));
            failed += 1;
            continue;
        }
        let result = match (&inbox, item.file.take()) {
            (Ok(dir), Some(file)) => {
                let mut progress = |done: u64| {
                    let now = Instant::now();
                    if now.duration_since(last_update) < Duration::from_millis(250) {
                        return;
                    }
                    last_update = now;
                    let all = done_before + done;
                    reply(
                        out,
                        &ManagerEvent::Progress {
                            id,
                            done: all,
                            total,
                        },
                    );
                    // The bar shows transfers that take more than a second.
                    if now.duration_since(started) > Duration::from_secs(1) {
                        shown = true;
                        (t.bar)(
                            id,
                            Some(format!(
                                "Sending {} to {to_label}: {}%",
                                cloison_config::text::human_size(total),
                                all * 100 / total.max(1)
                            )),
                        );
                    }
                };
                // Each file's name, size and hash are recorded after the copy and before it
                // appears in the target's folder.
                let mut record = |sha256: &str| {
                    t.record(
                        Entry {
                            size: Some(item.size),
                            sha256: Some(sha256.to_string()),
                            outcome: Some("delivering".into()),
                            ..base(decision_word, rule.clone())
                        }
                        .with_name(&item.name),
                    )
                };
                super::files::deliver(
                    &file,
                    item.size,
                    dir,
                    &item.safe,
                    owner,
                    &cancel,
                    &mut progress,
                    &mut record,
                )
            }
            (Err(e), _) => Err(super::files::DeliverError::Target(e.to_string())),
            (Ok(_), None) => Err(super::files::DeliverError::Io("no descriptor".into())),
        };
        done_before += item.size;
        match result {
            Ok(d) => {
                audit_broken |= !t.record(
                    Entry {
                        delivered_as: Some(d.name.clone()),
                        size: Some(item.size),
                        sha256: Some(d.sha256.clone()),
                        outcome: Some("delivered".into()),
                        ..base(decision_word, rule.clone())
                    }
                    .with_name(&item.name),
                );
                let shown_name = match item.safe.rsplit_once('/') {
                    Some((dir, _)) => format!("{dir}/{}", d.name),
                    None => d.name,
                };
                report(out, item, "delivered", Some(shown_name), None);
                delivered += 1;
            }
            Err(e) => {
                let outcome = if matches!(e, super::files::DeliverError::Cancelled) {
                    "cancelled"
                } else {
                    "failed"
                };
                audit_broken |= !t.record(
                    Entry {
                        size: Some(item.size),
                        outcome: Some(format!("{outcome}: {e}")),
                        ..base(decision_word, rule.clone())
                    }
                    .with_name(&item.name),
                );
                report(out, item, outcome, None, Some(e.to_string()));
                failed += 1;
            }
        }
    }
    if let Ok(mut running) = t.running.lock() {
        running.remove(&id);
    }
    if shown {
        (t.bar)(id, None);
    }
    (t.notify)(if failed == 0 {
        format!(
            "{delivered} file(s), {}, from {} in {to_label}'s Incoming",
            cloison_config::text::human_size(total),
            label(config, from)
        )
    } else {
        format!(
            "Files from {} to {to_label}: {delivered} delivered, {failed} not",
            label(config, from)
        )
    });
    Ok(ManagerEvent::Done { delivered, failed })
}

/// A file's name as the dialog shows it: the name it will have, and — when the sender's name
/// differs (controls, bidi or invisible characters removed, `..` replaced, cut) — that name
/// too, with what was removed made visible (`⟨U+202E⟩`), so the user sees what was sent.
fn display_name(sent: &str, safe: &str) -> String {
    if sent == safe {
        safe.to_string()
    } else {
        let visible = cloison_config::text::make_visible(sent, 120).replace('\n', "⟨U+000A⟩");
        let cut = if sent.chars().count() > 120 {
            "…"
        } else {
            ""
        };
        format!("{safe} (sent as “{visible}{cut}”)")
    }
}

fn label(config: &Config, level: &str) -> String {
    config
        .level(level)
        .map(|l| l.label.clone())
        .unwrap_or_else(|| level.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_of_a_budget_are_bounded_and_given_back() {
        let counter = Arc::new(AtomicUsize::new(0));
        let a = Slot::take(counter.clone(), 6_000, MAX_FILES_WAITING).expect("room");
        assert!(Slot::take(counter.clone(), 5_000, MAX_FILES_WAITING).is_none());
        let b = Slot::take(counter.clone(), 4_000, MAX_FILES_WAITING).expect("room");
        assert!(Slot::take(counter.clone(), 1, MAX_FILES_WAITING).is_none());
        assert!(Slot::take(counter.clone(), usize::MAX, MAX_FILES_WAITING).is_none());
        // A refused share takes nothing, and gives nothing back.
        assert_eq!(counter.load(Ordering::Relaxed), 10_000);
        drop(a);
        assert_eq!(counter.load(Ordering::Relaxed), 4_000);
        drop(b);
        assert_eq!(counter.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_launcher_may_hold_every_levels_share() {
        assert!(launcher_nofile(2) >= 2 * (MAX_FILES_WAITING + MAX_CONNECTIONS) as u64);
    }
}
