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
}

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
