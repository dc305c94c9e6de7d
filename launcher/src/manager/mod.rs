//! The multilevel manager: the only way data crosses from one level to another.
//!
//! Read it in this order:
//!
//! - **Policy** is a pure function of the request and the configuration:
//!   [`cloison_config::Config::decision`] answers `allow`, `confirm` or `deny` for a pair of
//!   levels and a kind of flow (clipboard or files), and [`cloison_config::Config::file_limits`]
//!   gives the pair's limits. Nothing here second-guesses it.
//! - **The audit rule** ([`audit`]), the same for every flow: the record of an operation is
//!   written and synced *before* anything reaches the other level, and an operation whose
//!   record cannot be written is refused (the user is told why); its outcome is recorded after.
//!   A paste is recorded before the compositor is told to offer it; a transfer before the
//!   target's incoming folder is touched, each file's outcome (with the SHA-256 of the bytes
//!   that arrived) once it is there. The log is a hash chain (`cloison audit verify`).
//! - **Dialogs** are named by [`cloison_ipc::session::DialogId`]: the kind is part of the id,
//!   so an answer goes back to the flow that asked.
//! - **The clipboard** ([`clipboard`]) is a state machine without side effects: events from
//!   the compositor in, messages for it out; what a copy's content may be (sealed, UTF-8 text
//!   or a re-encoded PNG) is [`content`].
//! - **File transfers** ([`transfer`]) arrive on each level's manager socket (the level is the
//!   socket's, never a field), bounded per level; a send whose files have arrived is a
//!   [`send::Request`]: checked, decided, asked about through the session's loop (an event
//!   with a timeout, no thread waiting for a person), then delivered or refused by a
//!   [`send::Job`]; [`files`] delivers each file into the target level's
//!   `~/Incoming/<source>/` against a hostile target.
//! - **Notifications** ([`notify`]) come on the same sockets from each level's notification
//!   service; nothing crosses to another level: they go to the compositor's trusted stack,
//!   and the user's answers go back to the connection that sent each one.

pub mod audit;
pub mod clipboard;
pub mod content;
pub mod files;
pub mod notify;
pub mod send;
pub mod transfer;
