//! The `cloison` command: the session supervisor (`cloison run`), the control client
//! (`cloison ctl`), the levels' logs (`cloison logs`) and configuration checks
//! (`cloison check-config`).
//!
//! The clap definitions live in [`cli`] so the man page and the help text come from one place.

pub mod apps;
pub mod cli;
pub mod control;
pub mod ctl;
pub mod exec;
pub mod logs;
pub mod manager;
pub mod network;
pub mod output;
pub mod pam;
pub mod plans;
pub mod rate;
pub mod session;
pub mod x11;
