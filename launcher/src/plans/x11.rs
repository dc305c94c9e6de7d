//! A level's X display in its cage plan: the socket init binds, `DISPLAY`, the bridge
//! `cloison-x11` (see `crate::x11`).

use std::path::Path;

use cloison_cages::plan::{Bind, CagePlan};
use cloison_config::{Level, Network, X11Mode};

/// Adds the level's X display to its plan (nothing with `x11 = "off"`).
///
/// `DISPLAY` is `:n`, not `unix/:n` (which would keep libxcb from falling back to TCP port
/// 6000 + n when the socket is gone): programs make paths of `DISPLAY` (at-spi-bus-launcher's
/// bus socket became `…/busunix/_100` and the accessibility bus failed — found by
/// `tests/tests/bus.rs`), and x11rb reads `unix:…` as a socket path.
pub(super) fn add_to(plan: &mut CagePlan, level: &Level, bridge: X11Bridge<'_>) {
    if level.x11 == X11Mode::Off {
        return;
    }
    // The level's X display: init binds its socket before any program runs (an X client
    // that connects early waits in the backlog), `cloison-x11` holds it and starts the X
    // server when the first client connects (or at once, `x11 = "always"`).
    plan.listen.push(cloison_cages::plan::Listen {
        path: Path::new(cloison_cages::plan::X11_SOCKET_DIR).join(format!("X{}", bridge.display)),
        fd: X11_FD,
    });
    plan.env
        .push(("DISPLAY".into(), format!(":{}", bridge.display)));
    plan.binds.push(Bind {
        source: bridge.binary.to_path_buf(),
        target: Path::new(X11_IN_CAGE).into(),
        writable: false,
    });
    plan.run.push(vec![
        X11_IN_CAGE.into(),
        "--listen-fd".into(),
        X11_FD.to_string(),
        "--display".into(),
        bridge.display.to_string(),
        "--start".into(),
        level.x11.to_string(),
    ]);
}

/// A level's X bridge and the display number it serves.
#[derive(Debug, Clone, Copy)]
pub struct X11Bridge<'a> {
    /// `cloison-x11`.
    pub binary: &'a Path,
    /// See [`x11_display`].
    pub display: u32,
}

/// The X display number of the level at `index`: `:0` in a level with its own network
/// namespace; in one that shares a namespace (`host`, `netns:NAME`), `:100` + its index.
/// X clients (libxcb) try the *abstract* socket `@/tmp/.X11-unix/X<n>` before the path, and
/// abstract sockets belong to the network namespace: a display number of its own keeps a level
/// from meeting the host's X server (`:0` of a desktop the session is nested in) or another
/// level's there — Landlock's scope refuses such a connection, and libxcb does not go on to the
/// path after a refusal.
pub fn x11_display(level: &Level, index: usize) -> u32 {
    match level.network {
        Network::Host | Network::Netns(_) => 100 + index as u32,
        _ => 0,
    }
}

/// Where a level's X bridge (`cloison-x11`: it runs the level's X server and shows its
/// windows as the level's Wayland windows) is inside its cage.
pub const X11_IN_CAGE: &str = "/opt/cloison/bin/cloison-x11";

/// The descriptor a level's X socket (`/tmp/.X11-unix/X<n>`) is passed to `cloison-x11` as.
pub const X11_FD: i32 = cloison_cages::plan::FIRST_PASSED_FD + 1;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use cloison_config::{Config, X11Mode};

    use super::*;
    use crate::plans::tests::paths;
    use crate::plans::{BUS_FD, Ids, level_plan};

    #[test]
    fn a_level_with_x11_gets_its_own_display_socket_and_bridge() {
        let mut config = Config::builtin();
        // low shares the host's namespace here (the built-in low is NAT'd: its own).
        config.levels[0].network = Network::Host;
        let root = Ids {
            caller: 0,
            caller_gid: 0,
        };
        let tool = Path::new("/usr/bin/cloison-send");
        let binary = Path::new("/usr/bin/cloison-x11");
        let bridge = |i: usize, c: &Config| {
            Some(X11Bridge {
                binary,
                display: x11_display(&c.levels[i], i),
            })
        };
        let daemon = Some(Path::new("/usr/bin/dbus-daemon"));
        let plan = |i: usize, c: &Config, bus| {
            level_plan(
                &paths(),
                root,
                &c.levels[i],
                tool,
                bus,
                None,
                bridge(i, c),
                crate::plans::plain_network(&c.levels[i]),
            )
        };
        let low = plan(0, &config, daemon);
        low.validate(0).unwrap();
        // Bound inside the cage (its private /tmp), at its own descriptor, after the bus's;
        // low shares the host's network namespace: a display number of its own, no TCP.
        assert_eq!(
            low.listen[1],
            cloison_cages::plan::Listen {
                path: "/tmp/.X11-unix/X100".into(),
                fd: X11_FD
            }
        );
        assert_ne!(X11_FD, BUS_FD);
        // The bus daemon does not keep the X socket.
        assert!(low.run[0][2].contains(&format!("{X11_FD}<&-")));
        assert_eq!(
            low.run[1],
            [
                X11_IN_CAGE,
                "--listen-fd",
                "11",
                "--display",
                "100",
                "--start",
                "on-demand"
            ]
        );
        assert!(low.env.contains(&("DISPLAY".into(), ":100".into())));
        assert!(
            low.binds
                .iter()
                .any(|b| b.target == Path::new(X11_IN_CAGE) && !b.writable)
        );
        // high has a network namespace of its own: :0.
        let high = plan(1, &config, None);
        high.validate(0).unwrap();
        assert_eq!(high.listen[0].path, Path::new("/tmp/.X11-unix/X0"));
        assert!(high.env.contains(&("DISPLAY".into(), ":0".into())));
        // `x11 = "off"`: no socket, no DISPLAY, no bridge.
        config.levels[0].x11 = X11Mode::Off;
        let off = plan(0, &config, None);
        assert!(off.listen.is_empty() && off.run.is_empty());
        assert!(!off.env.iter().any(|(k, _)| k == "DISPLAY"));
        // A socket anywhere else on /tmp is refused by the plan.
        let mut bad = low.clone();
        for path in [
            "/tmp/X0",
            "/tmp/.X11-unix/../X0",
            "/tmp/.X11-unix/deeper/X0",
            "/tmp/.X11-unix",
        ] {
            bad.listen[1].path = path.into();
            assert!(bad.validate(0).is_err(), "{path}");
        }
    }
}
