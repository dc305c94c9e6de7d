//! Test support for Cloison: a Wayland test client ([`client`]) used both in process and as the
//! `cloison-test-client` binary, and helpers that drive a real `cloison run` session
//! ([`session`]) for the end-to-end tests in `tests/`.

pub mod bus;
pub mod client;
pub mod constraints;
pub mod net;
pub mod session;
pub mod ui;
pub mod vm;
