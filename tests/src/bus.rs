//! A private D-Bus daemon for tests (a stand-in for the host's system bus).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::session::{external, wait_until};

/// A private `dbus-daemon` (session configuration) listening at a path of the test's: a
/// stand-in for the host's system bus. Stopped when dropped, even when a test fails.
pub struct PrivateBus {
    child: Child,
    /// Its address, `unix:path=…`.
    pub address: String,
}

impl PrivateBus {
    /// Starts one listening at `socket`; returns once it serves.
    pub fn start(socket: &Path) -> PrivateBus {
        PrivateBus::at(&format!("unix:path={}", socket.display()))
    }

    /// Starts one listening at `address` (`unix:path=…`, `unix:abstract=…`); returns once it
    /// answers.
    pub fn at(address: &str) -> PrivateBus {
        let child = Command::new(external("dbus-daemon"))
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={address}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon");
        let bus = PrivateBus {
            child,
            address: address.to_string(),
        };
        wait_until("the private bus", || {
            Command::new(external("dbus-send"))
                .arg(format!("--bus={address}"))
                .args([
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.GetId",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        bus
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
