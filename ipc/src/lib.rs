//! Cloison's protocols between its own processes, one module each:
//!
//! * [`ctl`] — the trusted control socket (`ctl.sock`): line-delimited JSON, for `cloison ctl`,
//!   `cloison spawn` and the tests (its types are re-exported here);
//! * [`session`] — the launcher ↔ compositor channel (a private socket pair);
//! * [`level`] — a level's manager socket (`/run/cloison/manager.sock` in each cage);
//! * [`channel`] — the framing [`session`] and [`level`] use: typed messages that each carry
//!   their own descriptors, bounded in size and count;
//! * [`paths`] and [`backend`] — where things are, and which backend to pick.

pub mod backend;
pub mod channel;
pub mod ctl;
pub mod level;
pub mod listener;
pub mod paths;
pub mod session;

pub use ctl::*;
