//! The manager's file transfer: requests arrive on a level's manager socket with one open
//! descriptor per file (the sender opened them inside its cage: the manager never resolves a
//! path of the source level). The flow policy for files decides (`allow`, `confirm` through
//! the compositor's trusted dialog, `deny`) within the pair's limits; allowed files are
//! delivered into the target level's `~/Incoming/<source>/` by [`crate::files`]. Every file's
//! outcome is one audit record.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::FileTypeExt as _;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloison_config::{Config, Decision, FlowKind};
use cloison_ipc::channel::{Fill, Receiver};
use cloison_ipc::transfer::{ManagerEvent, ManagerRequest};

use crate::audit::{Audit, Entry};
use crate::plans::{Ids, SessionPaths};

/// Dialog ids of file transfers: apart from the compositor's gesture ids.
pub const ASK_RANGE: u64 = 1 << 62;

/// A confirmation the loop must show: (op, from, to, files (name, size), total).
pub struct Ask {
    /// Request id.
    pub op: u64,
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

    fn record(&self, entry: Entry) {
        let result = self.audit.lock().map(|mut a| a.append(entry));
        if !matches!(result, Ok(Ok(_))) {
            tracing::error!("the audit log cannot be written");
        }
    }
}

/// Serves one connection on `level`'s manager socket until it closes.
pub fn serve(stream: UnixStream, level: &str, t: &Transfers) {
    let mut receiver = Receiver::default();
    let mut out = match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    };
    let _ = out.set_write_timeout(Some(Duration::from_secs(10)));
    let reply = |out: &mut UnixStream, event: &ManagerEvent| {
        let line = serde_json::to_string(event).unwrap_or_default();
        writeln!(out, "{line}").is_ok()
    };
    loop {
        let fill = receiver.fill(&stream);
        while let Some(line) = receiver.next_line() {
            // Empty lines only carry descriptors (a sender's first batches).
            if line.is_empty() {
                continue;
            }
            let event = match serde_json::from_slice::<ManagerRequest>(&line) {
                Ok(ManagerRequest::Hello) => ManagerEvent::Hello {
                    level: level.to_string(),
                },
                Ok(ManagerRequest::Send { to, files }) => {
                    let fds: Vec<Option<File>> = files
                        .iter()
                        .map(|_| receiver.take_fd().map(File::from))
                        .collect();
                    match send(t, level, to, files, fds, &mut out) {
                        Ok(event) | Err(event) => event,
                    }
                }
                Err(err) => ManagerEvent::Error(format!("bad request: {err}")),
            };
            if !reply(&mut out, &event) {
                return;
            }
        }
        if !matches!(fill, Ok(Fill::Open)) {
            return;
        }
    }
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
    out: &mut UnixStream,
) -> Result<ManagerEvent, ManagerEvent> {
    let config = &t.config;
    let others: Vec<&str> = config
        .levels
        .iter()
        .map(|l| l.name.as_str())
        .filter(|n| *n != from)
        .collect();
    let to = match to {
        Some(to) => to,
        None if others.len() == 1 => others[0].to_string(),
        None => {
            return Err(ManagerEvent::Error(format!(
                "say where to send: --to {}",
                others.join("|")
            )));
        }
    };
    let Some(target) = config.level(&to) else {
        return Err(ManagerEvent::Error(format!("there is no level {to:?}")));
    };
    if to == from {
        return Err(ManagerEvent::Error(
            "the files are already in this level".into(),
        ));
    }
    let limits = config.file_limits(from, &to);
    let base = |decision: &str, rule: String| Entry {
        event: "file".into(),
        from: Some(from.into()),
        to: Some(to.clone()),
        decision: decision.into(),
        rule,
        ..Entry::default()
    };
    if names.len() > limits.max_count {
        t.record(base(
            "refused",
            format!(
                "{} files in one request; at most {}",
                names.len(),
                limits.max_count
            ),
        ));
        return Err(ManagerEvent::Error(format!(
            "{} files: at most {} per request from {from} to {to}",
            names.len(),
            limits.max_count
        )));
    }
    // Check every file: a regular file, within the limits, an allowed extension.
    let mut items: Vec<Item> = Vec::new();
    for (name, file) in names.into_iter().zip(fds) {
        let safe = crate::files::sanitize(&name);
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
    let report = |out: &mut UnixStream,
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
        let _ = writeln!(out, "{}", serde_json::to_string(&event).unwrap_or_default());
    };
    // Refused files are reported (and recorded) whatever the decision.
    for item in items.iter().filter(|i| i.refused.is_some()) {
        let reason = item.refused.clone().unwrap_or_default();
        t.record(Entry {
            name: Some(item.name.clone()),
            ..base("refused", reason.clone())
        });
        report(out, item, "refused", None, Some(reason));
        failed += 1;
    }
    let mut items: Vec<Item> = items.into_iter().filter(|i| i.refused.is_none()).collect();
    if total > limits.max_total_bytes {
        let rule = format!(
            "{} in one request is above the {} limit",
            cloison_config::text::human_size(total),
            cloison_config::text::human_size(limits.max_total_bytes)
        );
        for item in &items {
            t.record(Entry {
                name: Some(item.name.clone()),
                size: Some(item.size),
                ..base("refused", rule.clone())
            });
            report(out, item, "refused", None, Some(rule.clone()));
        }
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
                t.record(Entry {
                    name: Some(item.name.clone()),
                    size: Some(item.size),
                    outcome: Some("denied".into()),
                    ..base("deny", rule.clone())
                });
                report(
                    out,
                    item,
                    "denied",
                    None,
                    Some(format!("denied by the policy: {rule}")),
                );
            }
            (t.notify)(format!(
                "Files from {} to {} denied: {rule}",
                label(config, from),
                target.label
            ));
            return Ok(ManagerEvent::Done {
                delivered: 0,
                failed: failed + items.len(),
            });
        }
        Decision::Allow => ("allow", rule),
        Decision::Confirm => {
            let accept = (t.ask)(Ask {
                // The dialog's ids are shared with the compositor's gestures: a range apart.
                op: id | ASK_RANGE,
                from: from.into(),
                to: to.clone(),
                files: items.iter().map(|i| (i.safe.clone(), i.size)).collect(),
                total,
            });
            for item in &items {
                t.record(Entry {
                    name: Some(item.name.clone()),
                    size: Some(item.size),
                    ..Entry {
                        event: "confirm".into(),
                        ..base(if accept { "confirmed" } else { "refused" }, rule.clone())
                    }
                });
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

    // Deliver.
    let owner = t.ids.outside(target.uid);
    let cancel = Arc::new(AtomicBool::new(false));
    if let Ok(mut running) = t.running.lock() {
        running.insert(id, cancel.clone());
    }
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string(&ManagerEvent::Accepted {
            id,
            files: items.len(),
            total
        })
        .unwrap_or_default()
    );
    let started = Instant::now();
    let mut shown = false;
    let mut last_update = Instant::now();
    let mut done_before = 0u64;
    let inbox = crate::files::incoming(&t.paths.level_home(&to), from, owner);
    let to_label = target.label.clone();
    for item in items.iter_mut() {
        let result = match (&inbox, item.file.take()) {
            (Ok(dir), Some(file)) => {
                let mut progress = |done: u64| {
                    let now = Instant::now();
                    if now.duration_since(last_update) < Duration::from_millis(250) {
                        return;
                    }
                    last_update = now;
                    let all = done_before + done;
                    let _ = writeln!(
                        out,
                        "{}",
                        serde_json::to_string(&ManagerEvent::Progress {
                            id,
                            done: all,
                            total
                        })
                        .unwrap_or_default()
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
                crate::files::deliver(
                    &file,
                    item.size,
                    dir,
                    &item.safe,
                    owner,
                    &cancel,
                    &mut progress,
                )
            }
            (Err(e), _) => Err(crate::files::DeliverError::Target(e.to_string())),
            (Ok(_), None) => Err(crate::files::DeliverError::Io("no descriptor".into())),
        };
        done_before += item.size;
        match result {
            Ok(d) => {
                t.record(Entry {
                    name: Some(item.name.clone()),
                    delivered_as: Some(d.name.clone()),
                    size: Some(item.size),
                    sha256: Some(d.sha256.clone()),
                    outcome: Some("delivered".into()),
                    ..base(decision_word, rule.clone())
                });
                let shown_name = match item.safe.rsplit_once('/') {
                    Some((dir, _)) => format!("{dir}/{}", d.name),
                    None => d.name,
                };
                report(out, item, "delivered", Some(shown_name), None);
                delivered += 1;
            }
            Err(e) => {
                let outcome = if matches!(e, crate::files::DeliverError::Cancelled) {
                    "cancelled"
                } else {
                    "failed"
                };
                t.record(Entry {
                    name: Some(item.name.clone()),
                    size: Some(item.size),
                    outcome: Some(format!("{outcome}: {e}")),
                    ..base(decision_word, rule.clone())
                });
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

fn label(config: &Config, level: &str) -> String {
    config
        .level(level)
        .map(|l| l.label.clone())
        .unwrap_or_else(|| level.to_string())
}
