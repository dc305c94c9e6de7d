//! The levels' manager socket (`/run/cloison/manager.sock` inside each cage): what a level may
//! ask of the multilevel manager. Framed messages each way ([`crate::channel`], limits
//! [`crate::channel::LEVEL`]). The connection's level is the socket's: nothing in a request
//! names the sender.
//!
//! A file transfer is a [`ManagerRequest::Send`] announcing how many files follow, then
//! [`ManagerRequest::Files`] batches, each carrying one open descriptor per name (at most
//! [`crate::channel::LEVEL`]`.max_fds` per batch), until the announced count is reached; the
//! manager then answers with [`ManagerEvent`]s as the transfer goes.

use serde::{Deserialize, Serialize};

use crate::channel::Message;

/// The most files one `send` may announce, whatever the configuration allows.
pub const MAX_FILES: usize = 10_000;

/// A level's request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ManagerRequest {
    /// Who am I? (answers the level).
    Hello,
    /// Send `count` files to `to` (default: the other level, when there are two); they follow
    /// in [`ManagerRequest::Files`] batches.
    Send {
        /// Target level.
        to: Option<String>,
        /// How many files follow.
        count: usize,
    },
    /// The next files of the announced send: one descriptor per name is attached, in order.
    Files {
        /// Names as the sender calls them (relative paths for directories' contents).
        names: Vec<String>,
    },
    /// Show a notification (the level's notification service, `cloison-notifyd`). `id` is
    /// the service's own (a notification with the id of one still shown replaces it); its
    /// [`ManagerEvent::NotificationClosed`] and [`ManagerEvent::ActionInvoked`] come back on
    /// this connection only. A connection that sent one stays open while idle.
    Notify {
        /// The service's id for it.
        id: u32,
        /// What to show.
        notification: Notification,
    },
    /// Withdraw notification `id` (the app asked: `CloseNotification`).
    CloseNotification {
        /// The service's id.
        id: u32,
    },
}

/// A notification as a level's service hands it over, within the bounds below (a request out
/// of bounds is a protocol error: the service cuts before it sends, see
/// [`Notification::bounded`]). Plain text: nothing in it is interpreted (no markup, no images,
/// no links); the compositor sanitises it like a title before drawing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// The sending app's name, as it says (`app_name`).
    pub app: String,
    /// One line.
    pub summary: String,
    /// The body (line breaks kept).
    pub body: String,
    /// 0 low, 1 normal, 2 critical.
    pub urgency: u8,
    /// How long it shows, in milliseconds: `None` for the configured default, `Some(0)` until
    /// the user dismisses it.
    pub expire_ms: Option<u32>,
    /// Actions: (key, label), the key `default` being a click on the notification itself.
    pub actions: Vec<(String, String)>,
}

impl Notification {
    /// Characters of `app` kept.
    pub const MAX_APP: usize = 64;
    /// Characters of `summary` kept.
    pub const MAX_SUMMARY: usize = 256;
    /// Characters of `body` kept (the compositor shows a few lines of it).
    pub const MAX_BODY: usize = 2_000;
    /// Lines of `body` kept.
    pub const MAX_BODY_LINES: usize = 50;
    /// Actions kept.
    pub const MAX_ACTIONS: usize = 4;
    /// Characters of an action's key or label kept.
    pub const MAX_ACTION: usize = 64;
    /// Longest expiry asked for (ten minutes).
    pub const MAX_EXPIRE_MS: u32 = 600_000;

    /// The notification cut to the bounds (what the level's service sends): every field to
    /// its length in characters, the body to its lines, the actions to their number (an
    /// action with an empty key dropped), the urgency and the expiry to their range.
    pub fn bounded(mut self) -> Notification {
        fn cut(text: &mut String, max: usize) {
            if let Some((at, _)) = text.char_indices().nth(max) {
                text.truncate(at);
            }
        }
        cut(&mut self.app, Self::MAX_APP);
        cut(&mut self.summary, Self::MAX_SUMMARY);
        cut(&mut self.body, Self::MAX_BODY);
        if let Some((at, _)) = self
            .body
            .match_indices('\n')
            .nth(Self::MAX_BODY_LINES.saturating_sub(1))
        {
            self.body.truncate(at);
        }
        self.actions.retain(|(key, _)| !key.is_empty());
        self.actions.truncate(Self::MAX_ACTIONS);
        for (key, label) in &mut self.actions {
            cut(key, Self::MAX_ACTION);
            cut(label, Self::MAX_ACTION);
        }
        self.urgency = self.urgency.min(2);
        self.expire_ms = self.expire_ms.map(|ms| ms.min(Self::MAX_EXPIRE_MS));
        self
    }

    /// Whether it is within the bounds ([`Notification::bounded`] of it is itself); if not,
    /// what is over.
    pub fn check(&self) -> Result<(), OutOfBounds> {
        let over = |what: &str, text: &str, max: usize| {
            (text.chars().count() > max).then(|| format!("{what} longer than {max} characters"))
        };
        let problem = over("app name", &self.app, Self::MAX_APP)
            .or_else(|| over("summary", &self.summary, Self::MAX_SUMMARY))
            .or_else(|| over("body", &self.body, Self::MAX_BODY))
            .or_else(|| {
                (self.body.matches('\n').count() >= Self::MAX_BODY_LINES)
                    .then(|| format!("a body of more than {} lines", Self::MAX_BODY_LINES))
            })
            .or_else(|| {
                (self.actions.len() > Self::MAX_ACTIONS)
                    .then(|| format!("more than {} actions", Self::MAX_ACTIONS))
            })
            .or_else(|| {
                self.actions.iter().find_map(|(key, label)| {
                    if key.is_empty() {
                        return Some("an action with an empty key".to_string());
                    }
                    over("action key", key, Self::MAX_ACTION)
                        .or_else(|| over("action label", label, Self::MAX_ACTION))
                })
            })
            .or_else(|| (self.urgency > 2).then(|| "urgency above 2".to_string()))
            .or_else(|| {
                self.expire_ms
                    .is_some_and(|ms| ms > Self::MAX_EXPIRE_MS)
                    .then(|| format!("an expiry over {} ms", Self::MAX_EXPIRE_MS))
            });
        problem.map_or(Ok(()), |what| Err(OutOfBounds(what)))
    }
}

/// What of a [`Notification`] is over its bounds, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OutOfBounds(pub String);

impl Message for ManagerRequest {
    fn descriptors(&self) -> usize {
        match self {
            ManagerRequest::Files { names } => names.len(),
            _ => 0,
        }
    }
}

impl Message for ManagerEvent {
    fn descriptors(&self) -> usize {
        0
    }
}

/// What the manager answers, as the transfer goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ManagerEvent {
    /// Answer to `hello`.
    Hello {
        /// The connection's level.
        level: String,
    },
    /// The request was accepted (asked, allowed); copying starts.
    Accepted {
        /// Transfer id (for `cloison ctl cancel-transfer`).
        id: u64,
        /// Files.
        files: usize,
        /// Bytes.
        total: u64,
    },
    /// Bytes copied so far.
    Progress {
        /// Transfer id.
        id: u64,
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// One file's outcome.
    File {
        /// The name sent.
        name: String,
        /// `delivered`, `denied`, `refused`, `failed` or `cancelled`.
        outcome: String,
        /// The name it got in the target's incoming folder.
        delivered_as: Option<String>,
        /// Why, when not delivered.
        reason: Option<String>,
    },
    /// The end: counts.
    Done {
        /// Files delivered.
        delivered: usize,
        /// Files not delivered.
        failed: usize,
    },
    /// The request as a whole was refused.
    Error(String),
    /// Notification `id` (the service's) is gone: `reason` as the Desktop Notifications
    /// specification numbers it (1 expired, 2 dismissed by the user, 3 closed on request,
    /// 4 undefined: held back by the rate limit, or replaced by newer ones).
    NotificationClosed {
        /// The service's id.
        id: u32,
        /// Why.
        reason: u32,
    },
    /// The user chose action `key` of notification `id`.
    ActionInvoked {
        /// The service's id.
        id: u32,
        /// The action's key.
        key: String,
    },
}

/// Sends a transfer of `files` (name, open descriptor) to `to`: the announcement, then batches
/// of at most [`crate::channel::LEVEL`]`.max_fds` files. A manager that refuses the request
/// whole closes the connection: the batches then fail, and [`answers`] says why.
pub fn send_files(
    stream: &std::os::unix::net::UnixStream,
    to: Option<String>,
    files: &[(String, std::os::fd::BorrowedFd<'_>)],
) -> Result<(), crate::channel::ChannelError> {
    use crate::channel::{LEVEL, send};
    send(
        stream,
        &ManagerRequest::Send {
            to,
            count: files.len(),
        },
        &[],
        LEVEL,
    )?;
    for batch in files.chunks(LEVEL.max_fds) {
        let request = ManagerRequest::Files {
            names: batch.iter().map(|(n, _)| n.clone()).collect(),
        };
        let fds: Vec<_> = batch.iter().map(|(_, fd)| *fd).collect();
        send(stream, &request, &fds, LEVEL)?;
    }
    Ok(())
}

/// The manager's answers on `stream`, as they come, until `done`, an error, or the end of the
/// connection.
pub fn answers(
    stream: &std::os::unix::net::UnixStream,
) -> impl Iterator<Item = Result<ManagerEvent, crate::channel::ChannelError>> + '_ {
    use crate::channel::{ChannelError, Fill, LEVEL, Receiver};
    let mut receiver = Receiver::new(LEVEL);
    let mut over = false;
    std::iter::from_fn(move || {
        while !over {
            match receiver.next_frame() {
                Ok(Some(frame)) => {
                    let event = frame.decode::<ManagerEvent>().map(|(event, _)| event);
                    over = matches!(
                        event,
                        Ok(ManagerEvent::Done { .. } | ManagerEvent::Error(_)) | Err(_)
                    );
                    return Some(event);
                }
                Ok(None) => {}
                Err(e) => {
                    over = true;
                    return Some(Err(e));
                }
            }
            match receiver.fill(stream) {
                Ok(Fill::Open) => {}
                Ok(Fill::Closed) => {
                    over = true;
                    return Some(Err(ChannelError::Closed));
                }
                Err(e) => {
                    over = true;
                    return Some(Err(e));
                }
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn huge() -> Notification {
        Notification {
            app: "a".repeat(1000),
            summary: "é".repeat(10_000),
            body: "line\n".repeat(10_000),
            urgency: 9,
            expire_ms: Some(u32::MAX),
            actions: (0..100)
                .map(|i| (format!("k{i}{}", "x".repeat(100)), "y".repeat(100)))
                .chain([(String::new(), "empty key".into())])
                .collect(),
        }
    }

    #[test]
    fn a_notification_cut_to_its_bounds_passes_the_check() {
        let n = huge();
        assert!(n.check().is_err());
        let cut = n.bounded();
        assert_eq!(cut.check(), Ok(()));
        assert_eq!(cut.summary.chars().count(), Notification::MAX_SUMMARY);
        assert_eq!(cut.body.lines().count(), Notification::MAX_BODY_LINES);
        assert_eq!(cut.actions.len(), Notification::MAX_ACTIONS);
        assert_eq!(cut.urgency, 2);
        assert_eq!(cut.expire_ms, Some(Notification::MAX_EXPIRE_MS));
        // Cutting again changes nothing.
        assert_eq!(cut.clone().bounded(), cut);
    }

    #[test]
    fn each_bound_is_checked() {
        let ok = Notification {
            app: "app".into(),
            summary: "s".into(),
            body: "b".into(),
            urgency: 1,
            expire_ms: None,
            actions: vec![("default".into(), "Open".into())],
        };
        assert_eq!(ok.check(), Ok(()));
        let bad = [
            Notification {
                app: "a".repeat(Notification::MAX_APP + 1),
                ..ok.clone()
            },
            Notification {
                body: "\n".repeat(Notification::MAX_BODY_LINES),
                ..ok.clone()
            },
            Notification {
                actions: vec![(String::new(), "x".into())],
                ..ok.clone()
            },
            Notification {
                urgency: 3,
                ..ok.clone()
            },
            Notification {
                expire_ms: Some(Notification::MAX_EXPIRE_MS + 1),
                ..ok.clone()
            },
        ];
        for n in bad {
            assert!(n.check().is_err(), "{n:?}");
        }
    }
}
