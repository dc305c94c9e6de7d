//! The private channel between the launcher and the compositor (a socket pair the launcher
//! creates; the compositor gets its end as an inherited descriptor). Framed messages each way
//! ([`crate::channel`], limits [`crate::channel::SESSION`]); a clipboard's content travels as a
//! sealed memory file attached to the one message that needs it. The compositor never learns
//! a command line: it names menu entries by position, and the launcher maps them back to the
//! commands it listed.

use serde::{Deserialize, Serialize};

use crate::channel::Message;

impl Message for ToCompositor {
    fn descriptors(&self) -> usize {
        match self {
            // The content to offer: a sealed memory file.
            ToCompositor::Paste { .. } => 1,
            _ => 0,
        }
    }
}

impl Message for ToLauncher {
    fn descriptors(&self) -> usize {
        match self {
            // What the copy read: a sealed memory file.
            ToLauncher::Copied { .. } => 1,
            // The read end of a pipe holding the password typed on the lock screen.
            ToLauncher::Unlock => 1,
            _ => 0,
        }
    }
}

/// Launcher → compositor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum ToCompositor {
    /// A display or input device was added, removed or changed (udev, as the launcher
    /// sees it): rescan (the drm backend).
    DevicesChanged,
    /// What the launcher menu lists, per level (every configured level, in order).
    Menu {
        /// One list of entry names per level.
        levels: Vec<MenuLevel>,
    },
    /// A message for the trusted bar.
    Notify {
        /// The text.
        text: String,
    },
    /// A level's cage started or stopped.
    LevelState {
        /// The level.
        level: String,
        /// Whether its cage runs.
        running: bool,
    },
    /// A level's network, as the bar shows it (`NAT`, `tunnel up → PEER`, `no network`…).
    LevelNetwork {
        /// The level.
        level: String,
        /// What the bar says.
        text: String,
        /// Something is wrong (a tunnel down, a network that could not be built).
        alert: bool,
    },
    /// The paste `op` is allowed: own `level`'s clipboard and primary selection with this
    /// content (the sealed memory file attached to this message) under these MIME types.
    Paste {
        /// The gesture's id.
        op: u64,
        /// The target level.
        level: String,
        /// The source level.
        from: String,
        /// Types offered to the target's clients.
        mime_types: Vec<String>,
        /// Content size in bytes.
        size: u64,
    },
    /// The paste `op` needs the user's confirmation: show the trusted dialog.
    Confirm {
        /// The gesture's id.
        op: u64,
        /// The source level.
        from: String,
        /// The target level.
        to: String,
        /// The content's type.
        mime: String,
        /// Its size in bytes.
        size: u64,
        /// The beginning of text content, invisible and bidi characters made visible
        /// (empty for images).
        preview: String,
    },
    /// A file transfer needs the user's confirmation: show the trusted dialog.
    ConfirmFiles {
        /// The request's id (answered with `confirm-answer` and [`DialogId::Files`]).
        id: u64,
        /// The source level.
        from: String,
        /// The target level.
        to: String,
        /// Each file: sanitised name and size.
        files: Vec<(String, u64)>,
        /// Total bytes.
        total: u64,
    },
    /// Lock the screen (`why`: what asked — `suspend`, `restart`), and say
    /// [`ToLauncher::LockShown`] once every output shows the lock.
    Lock {
        /// What asked, for the audit record.
        why: String,
    },
    /// The answer to [`ToLauncher::Unlock`].
    UnlockResult {
        /// The password was right: unlock.
        accepted: bool,
        /// What the lock screen says (refused and why, or that the check failed).
        message: Option<String>,
        /// Milliseconds before the next attempt is taken (the back-off after failures).
        retry_after_ms: u64,
    },
    /// The question of `dialog` no longer stands (nobody answered in time, or the one who
    /// asked left): its dialog goes, shown or waiting, and takes no answer.
    Withdraw {
        /// The dialog.
        dialog: DialogId,
    },
    /// A transfer's progress for the bar (`None`: it ended); a click on it cancels it.
    Transfer {
        /// Transfer id.
        id: u64,
        /// What the bar shows.
        text: Option<String>,
    },
    /// Show `level`'s notification `id` (the launcher's id; one already shown with this id
    /// is replaced). Answered, when it goes, with [`ToLauncher::NotificationClosed`].
    Notification {
        /// The launcher's id.
        id: u64,
        /// The level it came from (the manager socket's, never a field the level wrote).
        level: String,
        /// What to show (within [`crate::level::Notification`]'s bounds; sanitised for display
        /// by the compositor).
        notification: crate::level::Notification,
    },
    /// The app withdrew notification `id`.
    CloseNotification {
        /// The launcher's id.
        id: u64,
    },
    /// `count` more notifications of `level` were held back by its rate limit (shown as a
    /// counter, not one by one).
    NotificationsHeld {
        /// The level.
        level: String,
        /// How many, since the last such message.
        count: u64,
    },
}

/// Text types, best first: what a copy asks a source for, and what the manager accepts as
/// text.
pub const TEXT_TYPES: [&str; 6] = [
    "text/plain;charset=utf-8",
    "text/plain;charset=UTF-8",
    "UTF8_STRING",
    "text/plain",
    "TEXT",
    "STRING",
];
/// What a paste of text offers to the target's clients.
pub const TEXT_OFFER: [&str; 5] = [
    "text/plain;charset=utf-8",
    "text/plain",
    "UTF8_STRING",
    "TEXT",
    "STRING",
];
/// The image type (where the flow policy allows images).
pub const PNG: &str = "image/png";

/// What a confirmation dialog asks, and so where its answer goes: the kind is part of the
/// id, so a paste's answer can never be taken for a transfer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DialogId {
    /// The paste of gesture `op` ([`ToCompositor::Confirm`]).
    Paste(u64),
    /// File transfer request `id` ([`ToCompositor::ConfirmFiles`]).
    Files(u64),
}

/// One level's menu entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuLevel {
    /// The level.
    pub level: String,
    /// Entry names, in menu order.
    pub apps: Vec<String>,
}

/// Compositor → launcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum ToLauncher {
    /// Every socket is served: levels may connect.
    Ready,
    /// The copy `op` read `level`'s selection: the sealed memory file attached to this
    /// message holds it.
    Copied {
        /// The gesture's id (increasing: a lower one than the last seen is stale).
        op: u64,
        /// The source level.
        level: String,
        /// The type read.
        mime: String,
        /// Bytes read.
        size: u64,
    },
    /// The copy `op` failed (`timeout`, `oversize`, `empty`, `error`), for the record.
    CopyFailed {
        /// The gesture's id.
        op: u64,
        /// The source level.
        level: String,
        /// What happened.
        reason: String,
        /// The type asked for, if any.
        mime: Option<String>,
        /// Bytes read before giving up.
        size: u64,
    },
    /// The user asked to paste the global clipboard into `level` (gesture `op`).
    PasteRequest {
        /// The gesture's id.
        op: u64,
        /// The target level.
        level: String,
    },
    /// The screen locked (`why`: `ctl`, `chord`, `idle`) or unlocked: for the audit log.
    Locked {
        /// Whether it is locked now.
        locked: bool,
        /// What locked it.
        why: String,
    },
    /// After [`ToCompositor::Lock`]: every output has been given a frame of the lock screen
    /// (nothing of a level is left on a display that would show on resume).
    LockShown,
    /// The user asks to unlock: the attached pipe holds the password typed (the only copy the
    /// launcher gets, handed on to the password check unread). Answered with
    /// [`ToCompositor::UnlockResult`].
    Unlock,
    /// The user clicked a transfer's progress in the bar: cancel it.
    CancelTransfer {
        /// Transfer id.
        id: u64,
    },
    /// The user answered a confirmation dialog.
    ConfirmAnswer {
        /// Which one.
        dialog: DialogId,
        /// Whether the user accepted.
        accept: bool,
    },
    /// Notification `id` is gone from the screen (`reason`: 1 expired, 2 dismissed by the
    /// user, 4 pushed out by newer ones).
    NotificationClosed {
        /// The launcher's id.
        id: u64,
        /// Why.
        reason: u32,
    },
    /// The user chose action `key` of notification `id`.
    NotificationAction {
        /// The launcher's id.
        id: u64,
        /// The action's key.
        key: String,
    },
    /// The user chose entry `app` of `level`'s menu column.
    Launch {
        /// The level.
        level: String,
        /// Index in that level's list.
        app: usize,
    },
}
