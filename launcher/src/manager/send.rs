//! One send request, from the moment all its files have arrived on the level's connection
//! ([`super::transfer`]) to its last reply: each file checked ([`check`]), the flow policy
//! applied ([`decide`], a pure function of the request and the configuration), the user asked
//! where the policy says `confirm`, then every file delivered ([`deliver`]) or refused
//! ([`refuse`]), reported to the sender and recorded.
//!
//! Asking the user is an event of the session's loop, not a thread waiting: the request is
//! handed to the loop, which keeps it in [`Asks`] (the dialog registry of file transfers)
//! until the answer, the timeout (`[files] confirm_timeout_ms`) or the sender leaving comes as
//! an event; each ends the dialog and gives back a [`Job`] that the loop runs on a thread of
//! its own (a delivery is disk-bound and may take minutes).

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileTypeExt as _;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloison_config::{Config, Decision, FlowKind};
use cloison_ipc::channel;
use cloison_ipc::level::ManagerEvent;
use cloison_ipc::session::ToCompositor;

use super::audit::Entry;
use super::files::DeliverError;
use super::transfer::{Slot, Transfers, WRITE_TIMEOUT};

/// A level's connection, shared by the thread reading it and the one delivering its send:
/// replies go a whole message at a time, under the lock, within [`WRITE_TIMEOUT`].
#[derive(Clone)]
pub struct Replies {
    stream: Arc<UnixStream>,
    writing: Arc<Mutex<()>>,
}

impl Replies {
    /// Replies on `stream`.
    pub fn new(stream: UnixStream) -> std::io::Result<Replies> {
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(Replies {
            stream: Arc::new(stream),
            writing: Arc::new(Mutex::new(())),
        })
    }

    /// The connection (for reading).
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// Sends one event to the level; whether it was written (a level that does not read is
    /// not waited for longer than [`WRITE_TIMEOUT`]).
    pub fn send(&self, event: &ManagerEvent) -> bool {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        channel::send(&self.stream, event, &[], channel::LEVEL).is_ok()
    }
}

/// One file of a request, checked.
struct Item {
    name: String,
    safe: String,
    file: Option<File>,
    size: u64,
}

/// A send whose files have all arrived and passed the checks: what the policy and the user
/// decide on.
pub struct Request {
    /// Its id (the dialog's [`cloison_ipc::session::DialogId::Files`], the bar's, the one
    /// `cloison-send` prints).
    pub id: u64,
    /// Source level (the socket's).
    pub from: String,
    /// Target level.
    pub to: String,
    /// The files that may go, in order.
    items: Vec<Item>,
    /// Files already refused and reported.
    failed: usize,
    /// Bytes of `items`.
    total: u64,
    /// The policy rule that applies, as recorded.
    rule: String,
    replies: Replies,
    /// The connection's mark of a send in progress (its id, 0 when none): cleared when this
    /// request ends.
    busy: Arc<AtomicU64>,
    /// Its share of the files the level may hold waiting.
    _waiting: Slot,
}

impl Drop for Request {
    fn drop(&mut self) {
        self.busy.store(0, Ordering::Relaxed);
    }
}

impl Request {
    fn base(&self, decision: &str, rule: String) -> Entry {
        Entry {
            event: "file".into(),
            from: Some(self.from.clone()),
            to: Some(self.to.clone()),
            decision: decision.into(),
            rule,
            ..Entry::default()
        }
    }

    /// Reports one file's outcome to the sender.
    fn report(
        &self,
        item: &Item,
        outcome: &str,
        delivered_as: Option<String>,
        reason: Option<String>,
    ) {
        self.replies.send(&ManagerEvent::File {
            name: item.name.clone(),
            outcome: outcome.into(),
            delivered_as,
            reason,
        });
    }

    /// The dialog that asks the user about this request.
    fn dialog(&self) -> ToCompositor {
        ToCompositor::ConfirmFiles {
            id: self.id,
            from: self.from.clone(),
            to: self.to.clone(),
            files: self
                .items
                .iter()
                .map(|i| (display_name(&i.name, &i.safe), i.size))
                .collect(),
            total: self.total,
        }
    }
}

/// The arrived files of a send to `to` (already resolved) from `from`, checked: each must be
/// a regular file within the pair's limits, with an allowed extension, and all of them
/// within the pair's total. Files that fail are reported to the sender and recorded as one
/// refusal; `Err` is the final event when nothing is left to decide on.
#[allow(clippy::too_many_arguments)]
pub fn check(
    t: &Transfers,
    from: &str,
    to: String,
    names: Vec<String>,
    files: Vec<Option<File>>,
    replies: &Replies,
    busy: &Arc<AtomicU64>,
    waiting: Slot,
) -> Result<Request, ManagerEvent> {
    let limits = t.config.file_limits(from, &to);
    let mut request = Request {
        id: t.next_id(),
        from: from.to_string(),
        to,
        items: Vec::new(),
        failed: 0,
        total: 0,
        rule: String::new(),
        replies: replies.clone(),
        busy: busy.clone(),
        _waiting: waiting,
    };
    request.busy.store(request.id, Ordering::Relaxed);
    let mut refused: Vec<(Item, String)> = Vec::new();
    for (name, file) in names.into_iter().zip(files) {
        let safe = super::files::sanitize(&name);
        let mut item = Item {
            name,
            safe,
            file: None,
            size: 0,
        };
        let why = match file {
            None => Some("no descriptor came with it".to_string()),
            Some(file) => match file.metadata() {
                Err(e) => Some(format!("cannot inspect it: {e}")),
                Ok(meta) if !meta.file_type().is_file() => {
                    let kind = meta.file_type();
                    Some(
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
                    )
                }
                Ok(meta) if meta.len() > limits.max_file_bytes => Some(format!(
                    "{} is above the {} limit per file",
                    cloison_config::text::human_size(meta.len()),
                    cloison_config::text::human_size(limits.max_file_bytes)
                )),
                Ok(meta) => {
                    let ext = Path::new(&item.safe)
                        .extension()
                        .map(|e| e.to_string_lossy().to_ascii_lowercase())
                        .unwrap_or_default();
                    if !limits.extensions.is_empty() && !limits.extensions.contains(&ext) {
                        Some(format!(
                            "only {} files may go from {from} to {}",
                            limits.extensions.join(", "),
                            request.to
                        ))
                    } else {
                        item.size = meta.len();
                        item.file = Some(file);
                        None
                    }
                }
            },
        };
        match why {
            Some(why) => refused.push((item, why)),
            None => request.items.push(item),
        }
    }
    // Refused files are reported to the sender whatever the decision, and recorded as one
    // refusal (the first one's name and reason, and how many).
    for (item, why) in &refused {
        request.report(item, "refused", None, Some(why.clone()));
    }
    request.failed = refused.len();
    if let Some((first, why)) = refused.first() {
        t.refused(
            from,
            Entry {
                count: (refused.len() > 1).then_some(refused.len() as u64),
                ..request.base("refused", why.clone())
            }
            .with_name(&first.name),
        );
    }
    request.total = request.items.iter().map(|i| i.size).sum();
    if request.total > limits.max_total_bytes {
        let rule = format!(
            "{} in one request is above the {} limit",
            cloison_config::text::human_size(request.total),
            cloison_config::text::human_size(limits.max_total_bytes)
        );
        t.refused(
            from,
            Entry {
                size: Some(request.total),
                count: Some(request.items.len() as u64),
                ..request.base("refused", rule.clone())
            },
        );
        return Err(refuse(request, "refused", &rule));
    }
    if request.items.is_empty() {
        return Err(ManagerEvent::Done {
            delivered: 0,
            failed: request.failed,
        });
    }
    Ok(request)
}

/// What the flow policy says of a checked request.
pub enum Decided {
    /// Deliver now.
    Allow,
    /// Ask the user first.
    Confirm,
    /// Refuse every file.
    Deny,
}

/// The flow policy's decision for `request` (a pure function of it and the configuration),
/// with the rule it names, kept in the request for its records.
pub fn decide(config: &Config, request: &mut Request) -> Decided {
    let (decision, explicit) = config
        .decision(FlowKind::Files, &request.from, &request.to)
        .unwrap_or((Decision::Deny, false));
    request.rule = format!(
        "{} -> {}: {decision} ({})",
        request.from,
        request.to,
        if explicit { "policy rule" } else { "default" }
    );
    match decision {
        Decision::Allow => Decided::Allow,
        Decision::Confirm => Decided::Confirm,
        Decision::Deny => Decided::Deny,
    }
}

/// The policy allows `request`: delivered under its rule.
pub fn allow(t: &Transfers, request: Request) -> ManagerEvent {
    let rule = request.rule.clone();
    deliver(t, request, "allow", rule)
}

/// The policy denies `request`: recorded as one refusal (within the level's budget), the bar
/// told, every file refused.
pub fn deny(t: &Transfers, request: Request) -> ManagerEvent {
    let rule = request.rule.clone();
    t.refused(
        &request.from,
        Entry {
            size: Some(request.total),
            count: (request.items.len() > 1).then_some(request.items.len() as u64),
            outcome: Some("denied".into()),
            ..request.base("deny", rule.clone())
        }
        .with_name(&request.items[0].name),
    );
    t.notice(
        &request.from,
        format!(
            "Files from {} to {} denied: {rule}",
            label(&t.config, &request.from),
            label(&t.config, &request.to)
        ),
    );
    refuse(request, "denied", &format!("denied by the policy: {rule}"))
}

/// Another request of the same level already waits for the user: this one is refused (a
/// level cannot pile dialogs up in front of the user).
pub fn refuse_second_ask(t: &Transfers, request: Request) -> ManagerEvent {
    let why = "another transfer from this level waits for the user";
    t.refused(
        &request.from,
        Entry {
            count: Some(request.items.len() as u64),
            ..request.base("refused", why.into())
        },
    );
    t.notice(
        &request.from,
        format!(
            "{} sent another transfer while one waits for you: refused",
            label(&t.config, &request.from)
        ),
    );
    refuse(request, "refused", why)
}

/// Reports every remaining file of `request` as `outcome` with `reason`; the final event.
fn refuse(request: Request, outcome: &str, reason: &str) -> ManagerEvent {
    for item in &request.items {
        request.report(item, outcome, None, Some(reason.to_string()));
    }
    ManagerEvent::Done {
        delivered: 0,
        failed: request.failed + request.items.len(),
    }
}

/// How a dialog about a transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The user accepted.
    Accept,
    /// The user refused.
    Refuse,
    /// Nobody answered within the timeout.
    NoAnswer,
    /// The sender closed its connection first.
    SenderLeft,
}

/// What the loop runs on a thread once a dialog has ended: the answer is recorded there, off
/// the loop (a synced record per file), then the request delivered or refused.
pub struct Job {
    request: Request,
    answer: Answer,
}

impl Job {
    /// Runs the job to its final reply.
    pub fn run(self, t: &Transfers) {
        let Job { request, answer } = self;
        let replies = request.replies.clone();
        let done = match answer {
            Answer::Accept | Answer::Refuse => {
                // The user answered: one record per file (the user's pace bounds them).
                let decision = if answer == Answer::Accept {
                    "confirmed"
                } else {
                    "refused"
                };
                for item in &request.items {
                    t.record(
                        Entry {
                            event: "confirm".into(),
                            size: Some(item.size),
                            ..request.base(decision, request.rule.clone())
                        }
                        .with_name(&item.name),
                    );
                }
                if answer == Answer::Accept {
                    let rule = format!("{} -> {}: confirmed by the user", request.from, request.to);
                    deliver(t, request, "allow", rule)
                } else {
                    refuse(request, "denied", "the user refused")
                }
            }
            Answer::NoAnswer | Answer::SenderLeft => {
                // Nobody answered: one refusal for the request, within the level's budget (a
                // level can end its own questions as fast as it asks them).
                let why = match answer {
                    Answer::NoAnswer => format!(
                        "no answer within {} s",
                        t.config.files.confirm_timeout_ms.div_ceil(1000)
                    ),
                    _ => "the sender left".to_string(),
                };
                t.refused(
                    &request.from,
                    Entry {
                        event: "confirm".into(),
                        size: Some(request.total),
                        count: (request.items.len() > 1).then_some(request.items.len() as u64),
                        outcome: Some(match answer {
                            Answer::NoAnswer => format!("not asked any more: {why}"),
                            _ => "cancelled: the sender left".to_string(),
                        }),
                        ..request.base("refused", request.rule.clone())
                    }
                    .with_name(&request.items[0].name),
                );
                if answer == Answer::NoAnswer {
                    t.notify(format!(
                        "Files from {} to {}: {why}, not sent",
                        label(&t.config, &request.from),
                        label(&t.config, &request.to)
                    ));
                }
                refuse(request, "denied", &why)
            }
        };
        replies.send(&done);
    }

    /// The job could not be run (no thread): recorded as one failure, the sender left without
    /// an answer.
    pub fn abandon(self, t: &Transfers, why: &str) {
        let request = self.request;
        t.record(
            Entry {
                size: Some(request.total),
                count: Some(request.items.len() as u64),
                outcome: Some(format!("failed: {why}")),
                ..request.base("refused", request.rule.clone())
            }
            .with_name(&request.items[0].name),
        );
    }
}

/// The transfers waiting for the user's answer (owned by the session's loop), by id.
#[derive(Default)]
pub struct Asks {
    waiting: HashMap<u64, Request>,
}

impl Asks {
    /// Keeps `request` until its dialog ends; the dialog to show.
    pub fn ask(&mut self, request: Request) -> ToCompositor {
        let dialog = request.dialog();
        self.waiting.insert(request.id, request);
        dialog
    }

    /// The dialogs of every question still waiting (for a compositor started again).
    pub fn dialogs(&self) -> Vec<ToCompositor> {
        let mut waiting: Vec<_> = self.waiting.values().collect();
        waiting.sort_by_key(|request| request.id);
        waiting.into_iter().map(Request::dialog).collect()
    }

    /// Transfer `id`'s dialog ended with `answer`: the job that records the answer and
    /// finishes the request (`None` if it is not waiting: answered already, or unknown). The
    /// level may ask again.
    pub fn answer(&mut self, t: &Transfers, id: u64, answer: Answer) -> Option<Job> {
        let request = self.waiting.remove(&id)?;
        t.done_asking(&request.from);
        Some(Job { request, answer })
    }
}

/// Delivers `request`'s files into the target's `~/Incoming/<source>/` under `decision` and
/// `rule`: the intent recorded first (nothing is delivered if it cannot be), then each file
/// copied, recorded with its hash before it appears in the target's folder, and reported.
/// Progress goes to the sender and, past a second, to the bar, where a click cancels it.
/// Returns the final event.
fn deliver(t: &Transfers, mut request: Request, decision: &str, rule: String) -> ManagerEvent {
    let config = &t.config;
    let (from, to, id, total) = (
        request.from.clone(),
        request.to.clone(),
        request.id,
        request.total,
    );
    let Some(target) = config.level(&to) else {
        return refuse(request, "failed", &format!("there is no level {to:?}"));
    };
    let to_label = target.label.clone();
    let base = |rule: &str| Entry {
        event: "file".into(),
        from: Some(from.clone()),
        to: Some(to.clone()),
        decision: decision.into(),
        rule: rule.into(),
        ..Entry::default()
    };
    // The intent is recorded before anything reaches the target level (its Incoming folder is
    // not even created yet); if it cannot be, nothing is delivered.
    if !t.record(
        Entry {
            size: Some(total),
            count: Some(request.items.len() as u64),
            outcome: Some("delivering".into()),
            ..base(&rule)
        }
        .with_name(&request.items[0].name),
    ) {
        let why = "the audit log cannot be written: nothing was sent";
        t.notify(format!(
            "Files from {} to {to_label}: {why}",
            label(config, &from)
        ));
        return refuse(request, "failed", why);
    }

    let owner = t.ids.outside(target.uid);
    let cancel = Arc::new(AtomicBool::new(false));
    t.running(id, Some(cancel.clone()));
    request.replies.send(&ManagerEvent::Accepted {
        id,
        files: request.items.len(),
        total,
    });
    let started = Instant::now();
    let mut shown = false;
    let mut last_update = Instant::now();
    let mut done_before = 0u64;
    let inbox = super::files::incoming(&t.paths.level_home(&to), &from, owner);
    let (mut delivered, mut failed) = (0, request.failed);
    // Once an outcome cannot be recorded, no further file is delivered.
    let mut audit_broken = false;
    let mut items = std::mem::take(&mut request.items);
    for item in items.iter_mut() {
        if audit_broken {
            let why = "the audit log cannot be written: not sent";
            request.report(item, "failed", None, Some(why.into()));
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
                    request.replies.send(&ManagerEvent::Progress {
                        id,
                        done: all,
                        total,
                    });
                    // The bar shows transfers that take more than a second.
                    if now.duration_since(started) > Duration::from_secs(1) {
                        shown = true;
                        t.bar(
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
                            ..base(&rule)
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
            (Err(e), _) => Err(DeliverError::Target(e.to_string())),
            (Ok(_), None) => Err(DeliverError::Io("no descriptor".into())),
        };
        done_before += item.size;
        let (outcome, entry) = match result {
            Ok(d) => {
                let entry = Entry {
                    delivered_as: Some(d.name.clone()),
                    size: Some(item.size),
                    sha256: Some(d.sha256.clone()),
                    outcome: Some("delivered".into()),
                    ..base(&rule)
                };
                let shown_name = match item.safe.rsplit_once('/') {
                    Some((dir, _)) => format!("{dir}/{}", d.name),
                    None => d.name,
                };
                delivered += 1;
                (("delivered", Some(shown_name), None), entry)
            }
            Err(e) => {
                let outcome = if matches!(e, DeliverError::Cancelled) {
                    "cancelled"
                } else {
                    "failed"
                };
                failed += 1;
                let entry = Entry {
                    size: Some(item.size),
                    outcome: Some(format!("{outcome}: {e}")),
                    ..base(&rule)
                };
                ((outcome, None, Some(e.to_string())), entry)
            }
        };
        audit_broken |= !t.record(entry.with_name(&item.name));
        request.report(item, outcome.0, outcome.1, outcome.2);
    }
    t.running(id, None);
    if shown {
        t.bar(id, None);
    }
    t.notify(if failed == 0 {
        format!(
            "{delivered} file(s), {}, from {} in {to_label}'s Incoming",
            cloison_config::text::human_size(total),
            label(config, &from)
        )
    } else {
        format!(
            "Files from {} to {to_label}: {delivered} delivered, {failed} not",
            label(config, &from)
        )
    });
    ManagerEvent::Done { delivered, failed }
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

pub(super) fn label(config: &Config, level: &str) -> String {
    config
        .level(level)
        .map(|l| l.label.clone())
        .unwrap_or_else(|| level.to_string())
}
