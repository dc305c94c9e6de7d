//! The levels' notifications, on their way from a level's notification service
//! (`cloison-notifyd`, on the level's manager socket) to the compositor's trusted stack, and
//! the user's answers (dismissed, expired, an action chosen) back to the connection that sent
//! each one — never to another connection, never to another level.
//!
//! The level of a notification is its connection's; the launcher gives each one its own id
//! (the compositor never sees a level's ids, so one level cannot name, replace or close
//! another's notification). What a level can make of it is bounded: fields within
//! [`Notification`]'s bounds (checked by the reader), [`PER_SECOND`] a second per level in
//! bursts of [`BURST`] (the rest are held back: closed at once for the app, and counted for
//! the user as one line — [`ToCompositor::NotificationsHeld`]), and at most
//! [`MAX_REMEMBERED`] notifications a connection is answered for.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use cloison_ipc::level::{ManagerEvent, Notification};
use cloison_ipc::session::ToCompositor;

use super::send::Replies;
use super::transfer::{ToLoop, Transfers};
use crate::rate::Bucket;

/// Notifications a second per level.
pub const PER_SECOND: f64 = 5.0;
/// Notifications a level may send at once before the rate applies.
pub const BURST: f64 = 10.0;
/// Notifications a connection is answered for (the oldest is forgotten beyond: its answers
/// then go nowhere).
pub const MAX_REMEMBERED: usize = 64;
/// Answers queued for a connection that does not read (more are dropped).
const QUEUE: usize = 256;
/// How often a notification connection that is silent looks at what its level had held back.
pub const FLUSH: Duration = Duration::from_secs(1);

/// Reasons, as the Desktop Notifications specification numbers them.
pub mod reason {
    /// Expired.
    pub const EXPIRED: u32 = 1;
    /// Dismissed by the user.
    pub const DISMISSED: u32 = 2;
    /// Closed by `CloseNotification`.
    pub const CLOSED: u32 = 3;
    /// Undefined (held back by the rate limit).
    pub const UNDEFINED: u32 = 4;
}

/// The notifications the compositor shows, and where their answers go.
#[derive(Default)]
pub struct Notifications {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    next_connection: u64,
    /// The launcher's id → (connection, the service's id).
    shown: HashMap<u64, (u64, u32)>,
    /// Connections that sent notifications.
    connections: HashMap<u64, Connection>,
    /// Each level's rate.
    rates: HashMap<String, Bucket>,
}

struct Connection {
    /// What the connection's writer sends it, in order. Never waited on: the session's loop
    /// answers for the user, and a level that does not read loses its answers, nothing else.
    events: SyncSender<ManagerEvent>,
    /// (service's id, launcher's id), oldest first.
    ids: VecDeque<(u32, u64)>,
}

impl Connection {
    /// A connection's record and its writer (a thread that ends when the record goes).
    fn new(replies: &Replies) -> Connection {
        let (events, queue) = std::sync::mpsc::sync_channel::<ManagerEvent>(QUEUE);
        let replies = replies.clone();
        let spawned = std::thread::Builder::new()
            .name("notify-writer".into())
            .spawn(move || {
                while let Ok(event) = queue.recv() {
                    if !replies.send(&event) {
                        return;
                    }
                }
            });
        if let Err(err) = spawned {
            tracing::warn!("cannot start a notification writer: {err}");
        }
        Connection {
            events,
            ids: VecDeque::new(),
        }
    }

    fn tell(&self, event: ManagerEvent) {
        let _ = self.events.try_send(event);
    }
}

impl Notifications {
    /// A new connection's number.
    pub fn connection(&self) -> u64 {
        let mut inner = self.lock();
        inner.next_connection += 1;
        inner.next_connection
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Notification `id` from `level`'s connection `connection` (checked against the bounds by
/// the reader): shown, or held back by the level's rate.
pub fn notify(
    t: &Transfers,
    connection: u64,
    level: &str,
    replies: &Replies,
    id: u32,
    notification: Notification,
) {
    let now = Instant::now();
    let (message, held) = {
        let mut inner = t.notifications.lock();
        let admitted = inner
            .rates
            .entry(level.to_string())
            .or_insert_with(|| Bucket::new(PER_SECOND, BURST, now))
            .admit(now);
        let inner = &mut *inner;
        let conn = inner
            .connections
            .entry(connection)
            .or_insert_with(|| Connection::new(replies));
        match admitted {
            // Held back: closed at once for the app (the user sees the count). Queued, not
            // written here: a level that floods without reading its answers only loses them.
            None => {
                conn.tell(ManagerEvent::NotificationClosed {
                    id,
                    reason: reason::UNDEFINED,
                });
                (None, None)
            }
            Some(skipped) => {
                // The same service id again replaces the one shown (same launcher id).
                let ours = match conn.ids.iter().find(|(theirs, _)| *theirs == id) {
                    Some((_, ours)) => *ours,
                    None => {
                        inner.next_id += 1;
                        let ours = inner.next_id;
                        conn.ids.push_back((id, ours));
                        inner.shown.insert(ours, (connection, id));
                        if conn.ids.len() > MAX_REMEMBERED
                            && let Some((_, old)) = conn.ids.pop_front()
                        {
                            inner.shown.remove(&old);
                        }
                        ours
                    }
                };
                (Some(ours), (skipped > 0).then_some(skipped))
            }
        }
    };
    if let Some(count) = held {
        t.tell_loop(ToLoop::Compositor(ToCompositor::NotificationsHeld {
            level: level.to_string(),
            count,
        }));
    }
    if let Some(ours) = message {
        tracing::debug!(level, id = ours, app = %notification.app, "notification");
        t.tell_loop(ToLoop::Compositor(ToCompositor::Notification {
            id: ours,
            level: level.to_string(),
            notification,
        }));
    }
}

/// What `level` had held back since it last showed one, as one count for the user (called
/// when its notification connection is silent for [`FLUSH`]).
pub fn flush(t: &Transfers, level: &str) {
    let count = t
        .notifications
        .lock()
        .rates
        .get_mut(level)
        .map_or(0, |b| std::mem::take(&mut b.refused));
    if count > 0 {
        t.tell_loop(ToLoop::Compositor(ToCompositor::NotificationsHeld {
            level: level.to_string(),
            count,
        }));
    }
}

/// The app withdrew its notification `id`: it goes from the screen, and the service hears it
/// closed.
pub fn close(t: &Transfers, connection: u64, id: u32) {
    let ours = {
        let mut inner = t.notifications.lock();
        let inner = &mut *inner;
        let Some(conn) = inner.connections.get_mut(&connection) else {
            return;
        };
        let Some(at) = conn.ids.iter().position(|(theirs, _)| *theirs == id) else {
            return;
        };
        let Some((_, ours)) = conn.ids.remove(at) else {
            return;
        };
        conn.tell(ManagerEvent::NotificationClosed {
            id,
            reason: reason::CLOSED,
        });
        inner.shown.remove(&ours);
        ours
    };
    t.tell_loop(ToLoop::Compositor(ToCompositor::CloseNotification {
        id: ours,
    }));
}

/// The compositor took notification `id` (the launcher's) off the screen: its service hears
/// why.
pub fn closed(t: &Transfers, id: u64, why: u32) {
    let mut inner = t.notifications.lock();
    let Some((connection, theirs)) = inner.shown.remove(&id) else {
        return;
    };
    if let Some(conn) = inner.connections.get_mut(&connection) {
        conn.ids.retain(|(_, ours)| *ours != id);
        conn.tell(ManagerEvent::NotificationClosed {
            id: theirs,
            reason: why,
        });
    }
}

/// The user chose action `key` of notification `id` (the launcher's): only the connection
/// that sent it hears it (the compositor offers only the keys the notification named).
pub fn action(t: &Transfers, id: u64, key: String) {
    let inner = t.notifications.lock();
    let Some((connection, theirs)) = inner.shown.get(&id).copied() else {
        return;
    };
    if let Some(conn) = inner.connections.get(&connection) {
        conn.tell(ManagerEvent::ActionInvoked { id: theirs, key });
    }
}

/// Connection `connection` closed: its notifications stay on screen (the user may not have
/// read them), their answers go nowhere.
pub fn disconnected(t: &Transfers, connection: u64) {
    let mut inner = t.notifications.lock();
    if let Some(conn) = inner.connections.remove(&connection) {
        for (_, ours) in conn.ids {
            inner.shown.remove(&ours);
        }
    }
}
