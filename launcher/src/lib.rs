//! The `cloison` command: the session supervisor (`cloison run`), the control client
//! (`cloison ctl`) and configuration checks (`cloison check-config`).
//!
//! The clap definitions live in [`cli`] so the man page and the help text come from one place.

pub mod cli;
pub mod ctl;
pub mod session;
