//! The manager's file transfer, on the level's side: requests arrive on a level's manager
//! socket with one open descriptor per file (the sender opened them inside its cage: the
//! manager never resolves a path of the source level), a thread per connection reads and
//! bounds them, and a send whose files have all arrived becomes a [`super::send::Request`]:
//! checked, decided by the flow policy (`allow`, `confirm` through the compositor's trusted
//! dialog — an event of the session's loop —, `deny`) within the pair's limits, delivered into
//! the target level's `~/Incoming/<source>/` by [`super::files`]. Every delivered, failed or
//! cancelled file is one audit record.
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
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloison_config::Config;
use cloison_ipc::channel::{self, Fill, Receiver};
use cloison_ipc::level::{MAX_FILES, ManagerEvent, ManagerRequest};

use super::audit::{Audit, Entry};
use super::send::{self, Decided, Replies};
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

/// What the manager's threads tell the session's loop.
pub enum ToLoop {
    /// A checked request the policy says to confirm: the loop asks the user
    /// ([`super::send::Asks`]).
    Ask(Box<super::send::Request>),
    /// The connection of request `id` closed (its dialog, if still up, is withdrawn).
    SenderLeft(u64),
    /// Shows (or, with `None`, clears) transfer `id`'s progress in the bar.
    Bar(u64, Option<String>),
    /// Shows a notification in the bar.
    Notify(String),
    /// Tells the compositor (a level's notification, or its end).
    Compositor(cloison_ipc::session::ToCompositor),
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
    /// Tells the session's loop.
    to_loop: Box<dyn Fn(ToLoop) + Send + Sync>,
    /// Transfers in progress, by id: their cancel flags.
    running: Mutex<HashMap<u64, Arc<AtomicBool>>>,
    next: AtomicU64,
    /// What each level may still do (by level name).
    budgets: Mutex<HashMap<String, Budget>>,
    /// Levels whose transfer waits for the user's answer (one at a time per level).
    asking: Mutex<HashSet<String>>,
    /// The levels' notifications (the same sockets carry them).
    pub notifications: super::notify::Notifications,
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
    pub fn new(
        config: Arc<Config>,
        paths: SessionPaths,
        ids: Ids,
        audit: Arc<Mutex<Audit>>,
        to_loop: Box<dyn Fn(ToLoop) + Send + Sync>,
    ) -> Transfers {
        Transfers {
            config,
            paths,
            ids,
            audit,
            to_loop,
            running: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            budgets: Mutex::new(HashMap::new()),
            asking: Mutex::new(HashSet::new()),
            notifications: Default::default(),
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
    pub(super) fn refused(&self, from: &str, entry: Entry) {
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
    pub(super) fn notice(&self, from: &str, text: String) {
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
            self.notify(text);
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
    pub(super) fn record(&self, entry: Entry) -> bool {
        super::audit::record(&self.audit, entry)
    }

    /// A new request id.
    pub(super) fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Marks transfer `id` running with its cancel flag (or, with `None`, ended).
    pub(super) fn running(&self, id: u64, cancel: Option<Arc<AtomicBool>>) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        match cancel {
            Some(flag) => running.insert(id, flag),
            None => running.remove(&id),
        };
    }

    /// Shows (or clears) transfer `id`'s progress in the bar.
    pub(super) fn bar(&self, id: u64, text: Option<String>) {
        (self.to_loop)(ToLoop::Bar(id, text));
    }

    /// Tells the session's loop.
    pub(super) fn tell_loop(&self, event: ToLoop) {
        (self.to_loop)(event);
    }

    /// Shows a notification in the bar.
    pub(super) fn notify(&self, text: String) {
        (self.to_loop)(ToLoop::Notify(text));
    }

    /// Whether `level` may ask the user now (no other of its requests waits for an answer);
    /// if so, it is marked asking until [`Transfers::done_asking`].
    fn start_asking(&self, level: &str) -> bool {
        self.asking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(level.to_string())
    }

    /// `level`'s request no longer waits for the user.
    pub(super) fn done_asking(&self, level: &str) {
        self.asking
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(level);
    }
}

/// A send request whose files are still arriving.
struct Pending {
    to: String,
    count: usize,
    names: Vec<String>,
    /// Bytes of `names`.
    name_bytes: usize,
    files: Vec<Option<File>>,
    /// When it was announced ([`SEND_DEADLINE`]).
    since: Instant,
    /// Its share of the level's files held ([`MAX_FILES_WAITING`]).
    waiting: Slot,
}

/// Serves one connection on `level`'s manager socket until it closes, breaks the protocol or
/// stays silent for [`READ_TIMEOUT`] with no send in progress; `slot` is its share of the
/// level's connections. A send the user must confirm goes to the loop, and this thread goes
/// on reading: if the connection closes before the answer, the loop is told (the dialog is
/// withdrawn).
pub fn serve(stream: UnixStream, level: &str, t: &Transfers, slot: Slot) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let replies = match Replies::new(stream) {
        Ok(replies) => replies,
        Err(err) => {
            tracing::warn!(level, "cannot serve a manager connection: {err}");
            return;
        }
    };
    // The id of this connection's send in progress, 0 when none.
    let busy = Arc::new(AtomicU64::new(0));
    let connection = t.notifications.connection();
    // Whether the connection carried notifications (then it stays open while silent, and
    // carries no send).
    let mut notified = false;
    serve_requests(
        replies.stream(),
        level,
        t,
        &replies,
        &busy,
        connection,
        &mut notified,
    );
    super::notify::disconnected(t, connection);
    if notified {
        // Its notifications' writer may be stuck on a level that reads a byte now and then:
        // the socket goes with the slot, so the writer ends now (such a connection never
        // carries a send).
        let _ = replies.stream().shutdown(std::net::Shutdown::Both);
    }
    let id = busy.load(Ordering::Relaxed);
    if id != 0 {
        (t.to_loop)(ToLoop::SenderLeft(id));
    }
    // The slot is free before the level sees the connection close, so it can connect again at
    // once. (A send still being delivered keeps the socket open a while longer; it holds its
    // files' share of the level's budget, and only one send per level can wait for the user.)
    drop(slot);
}

fn serve_requests(
    stream: &UnixStream,
    level: &str,
    t: &Transfers,
    replies: &Replies,
    busy: &Arc<AtomicU64>,
    connection: u64,
    notifying: &mut bool,
) {
    let mut receiver = Receiver::new(channel::LEVEL);
    let mut pending: Option<Pending> = None;
    // A protocol error ends the connection; it is recorded (within the level's budget).
    let broken = |why: String| {
        // A decoder's message may quote what the level sent: bounded and made visible before
        // it is logged or recorded.
        let why = super::audit::one_line(&why, MAX_REASON_CHARS);
        tracing::debug!(level, "manager connection dropped: {why}");
        replies.send(&ManagerEvent::Error(format!("bad request: {why}")));
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
            // Silence is normal while a send waits for the user or is delivered, and between
            // notifications (what the level's rate held back is told meanwhile).
            Err(err) if err.is_timeout() && busy.load(Ordering::Relaxed) != 0 => continue,
            Err(err) if err.is_timeout() && *notifying => {
                super::notify::flush(t, level);
                continue;
            }
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
                    if !replies.send(&ManagerEvent::Hello {
                        level: level.to_string(),
                    }) {
                        return;
                    }
                }
                ManagerRequest::Send { to, count } => {
                    if pending.is_some() || busy.load(Ordering::Relaxed) != 0 {
                        return broken("a send before the last one ended".into());
                    }
                    if *notifying {
                        return broken("a send on a connection that carries notifications".into());
                    }
                    match admit(t, level, to.as_deref(), count) {
                        Ok((to, waiting)) => {
                            pending = Some(Pending {
                                to,
                                count,
                                names: Vec::with_capacity(count.min(1024)),
                                name_bytes: 0,
                                files: Vec::with_capacity(count.min(1024)),
                                since: Instant::now(),
                                waiting,
                            });
                        }
                        Err(event) => {
                            replies.send(&event);
                            return;
                        }
                    }
                }
                ManagerRequest::Notify { id, notification } => {
                    if !t.config.level(level).is_some_and(|l| l.notifications) {
                        replies.send(&ManagerEvent::Error(format!(
                            "notifications are off for level {level} (notifications = false)"
                        )));
                        return;
                    }
                    if let Err(why) = notification.check() {
                        return broken(why.to_string());
                    }
                    if pending.is_some() || busy.load(Ordering::Relaxed) != 0 {
                        return broken("a notification on a connection that sends files".into());
                    }
                    if !*notifying {
                        *notifying = true;
                        let _ = stream.set_read_timeout(Some(super::notify::FLUSH));
                    }
                    super::notify::notify(t, connection, level, replies, id, notification);
                }
                ManagerRequest::CloseNotification { id } => {
                    super::notify::close(t, connection, id);
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
                        let p = pending.take().expect("checked");
                        if let Some(done) = arrived(t, level, p, replies, busy)
                            && !replies.send(&done)
                        {
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

/// A send of `count` files from `level` to `to` is announced: its target, and its share of
/// the files the level may hold waiting; or the final event that refuses it.
fn admit(
    t: &Transfers,
    level: &str,
    to: Option<&str>,
    count: usize,
) -> Result<(String, Slot), ManagerEvent> {
    if !t.admit_send(level) {
        return Err(ManagerEvent::Error(
            "too many requests: try again in a moment".into(),
        ));
    }
    let to = check_count(t, level, to, count)?;
    let waiting = t.wait_for(level, count).ok_or_else(|| {
        ManagerEvent::Error("too many files waiting to be sent: try again in a moment".into())
    })?;
    Ok((to, waiting))
}

/// All the files of a send have arrived: checked, then decided on. Allowed or denied, it ends
/// here (the final event); to be confirmed, it goes to the loop (`None`: the loop's job
/// replies).
fn arrived(
    t: &Transfers,
    level: &str,
    p: Pending,
    replies: &Replies,
    busy: &Arc<AtomicU64>,
) -> Option<ManagerEvent> {
    let mut request = match send::check(t, level, p.to, p.names, p.files, replies, busy, p.waiting)
    {
        Ok(request) => request,
        Err(done) => return Some(done),
    };
    Some(match send::decide(&t.config, &mut request) {
        Decided::Deny => send::deny(t, request),
        Decided::Allow => send::allow(t, request),
        // One dialog per level at a time: a level cannot pile requests up in front of the
        // user (or answer one with a Return meant for something else).
        Decided::Confirm if !t.start_asking(level) => send::refuse_second_ask(t, request),
        Decided::Confirm => {
            (t.to_loop)(ToLoop::Ask(Box::new(request)));
            return None;
        }
    })
}

/// The target, and whether `count` files are within the pair's limit (else the request is
/// refused whole, and recorded as one refusal).
fn check_count(
    t: &Transfers,
    from: &str,
    to: Option<&str>,
    count: usize,
) -> Result<String, ManagerEvent> {
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
    Ok(to)
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
