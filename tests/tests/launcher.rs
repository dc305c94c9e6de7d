//! `cloison run` as a user starts it: the default configuration brings up a terminal in each
//! level, each in its own cage. These tests type into those terminals, start programs in the
//! cages, look at the cages and the compositor from outside, kill a level and bring it back,
//! and end the session — checking what a user (or an administrator) would see.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cloison_ipc::{InputEvent, Reply, Request, WindowStatus};
use cloison_tests::session::{Session, comm, descendants, external, read_when_done, wait_until};

use cloison_tests::ui::{GREEN, RED};
const BORDER: i32 = 4;
const TITLE: i32 = 26;

/// The windows of `level`.
fn windows(s: &mut Session, level: &str) -> Vec<WindowStatus> {
    s.status()
        .unwrap()
        .windows
        .into_iter()
        .filter(|w| w.level == level)
        .collect()
}

/// The cage processes of a level, from `ctl status`.
fn cage(s: &mut Session, level: &str) -> cloison_ipc::CageStatus {
    let status = s.status().unwrap();
    status
        .levels
        .into_iter()
        .find(|l| l.name == level)
        .and_then(|l| l.cage)
        .expect("the launcher reports the level's cage")
}

fn status_field(pid: u32, name: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

#[test]
fn the_default_session_shows_a_framed_terminal_per_level_and_they_share_nothing() {
    let mut s = Session::start_default(&["--size", "1280x800"]).unwrap();
    s.wait_terminals();

    // What each terminal's shell sees, written to its home: its own home, uid 1000 inside,
    // nothing of the other level under /home or /run, only its own processes.
    for level in ["low", "high"] {
        s.type_in(level,
            "(echo $HOME; id -u; ls /home /run; ls /proc | grep -c '^[0-9]'; echo done) > ~/probe.txt 2>&1",
        );
    }
    for level in ["low", "high"] {
        let probe = read_when_done(&s.home(level).join("probe.txt"));
        let lines: Vec<&str> = probe.lines().collect();
        assert_eq!(lines[0], "/home/user", "{level}: {probe}");
        assert_eq!(lines[1], "1000", "{level}: {probe}");
        assert!(
            probe.contains("/home:\nuser\n\n/run:\ncloison\nuser\n"),
            "{level} sees more than its own /home and /run: {probe}"
        );
        let processes: usize = lines.last().unwrap().parse().unwrap();
        assert!(
            processes < 10,
            "{level} sees {processes} processes: not only its own"
        );
        // On the host, the file belongs to the level's own uid.
        let owner = std::fs::metadata(s.home(level).join("probe.txt"))
            .unwrap()
            .uid();
        assert_eq!(owner, if level == "low" { 2_000_000 } else { 2_100_000 });
    }

    // A file written in low does not exist in high's view, and the reverse.
    s.type_in(
        "low",
        "echo from-low > ~/low-only.txt; echo done >> ~/low-only.txt",
    );
    s.type_in(
        "high",
        "echo from-high > ~/high-only.txt; echo done >> ~/high-only.txt",
    );
    read_when_done(&s.home("low").join("low-only.txt"));
    read_when_done(&s.home("high").join("high-only.txt"));
    s.type_in(
        "high",
        "(cat ~/low-only.txt /home/*/low-only.txt; echo done) > ~/cross.txt 2>&1",
    );
    s.type_in(
        "low",
        "(cat ~/high-only.txt /home/*/high-only.txt; echo done) > ~/cross.txt 2>&1",
    );
    for (level, other) in [("high", "from-low"), ("low", "from-high")] {
        let cross = read_when_done(&s.home(level).join("cross.txt"));
        assert!(
            !cross.contains(other),
            "{level} read the other level's file: {cross}"
        );
        assert!(cross.contains("No such file"), "{level}: {cross}");
    }

    // The screenshot: both terminals, each framed in its level's colour, with text in them.
    let shot = s.screenshot().unwrap();
    for level in ["low", "high"] {
        s.focus(level);
        let shot_now = s.screenshot().unwrap();
        let g = windows(&mut s, level)[0].geometry;
        let colour = if level == "low" { GREEN } else { RED };
        assert!(
            shot_now.all(g.x - BORDER, g.y, BORDER, g.height, colour),
            "{level}'s left border"
        );
        assert!(
            shot_now.all(g.x + 3, g.y - TITLE + 4, 5, 10, colour),
            "{level}'s badge"
        );
        assert!(
            shot_now.distinct_colours(g.x, g.y, g.width, 120) > 3,
            "{level}'s terminal shows text"
        );
    }
    let _ = shot;
}

#[test]
fn spawn_starts_programs_in_a_level_and_a_cage_cannot_name_the_other_levels_sockets() {
    let mut s = Session::start_default(&[]).unwrap();
    s.wait_terminals();

    // A real client in high, started through the launcher.
    let pid = s.spawn_in("high", &["weston-simple-shm"]);
    assert!(pid > 1);
    s.wait_for("weston-simple-shm's window in high", |st| {
        st.windows.iter().filter(|w| w.level == "high").count() == 2
    })
    .unwrap();
    assert_eq!(windows(&mut s, "low").len(), 1, "nothing new in low");

    // wayland-info in low connects through low's socket: it lists low's seat.
    s.spawn_in(
        "low",
        &[
            "sh",
            "-c",
            "wayland-info > ~/wayland-info.txt 2>&1; echo done >> ~/wayland-info.txt",
        ],
    );
    let info = read_when_done(&s.home("low").join("wayland-info.txt"));
    assert!(info.contains("wl_compositor"), "{info}");
    assert!(info.contains("name: low"), "low's seat: {info}");
    assert!(!info.contains("name: high"), "{info}");

    // From inside low: high's sockets do not exist (neither at their host paths nor
    // anywhere), its own are at the fixed paths, /proc shows only low.
    let high_socket = s.socket("high");
    let high_manager = high_socket.with_file_name("manager.sock");
    let high_bus = high_socket.with_file_name("bus");
    let script = format!(
        "for p in {} {} {} /run/user/0 {}; do [ -e \"$p\" ] && echo FOUND $p; done; \
         ls -A /run/user/1000 /run/cloison; ls /proc | grep '^[0-9]' | tr '\\n' ' '; echo; echo done",
        high_socket.display(),
        high_manager.display(),
        high_bus.display(),
        s.runtime.path().display(),
    );
    s.spawn_in(
        "low",
        &["sh", "-c", &format!("({script}) > ~/view.txt 2>&1")],
    );
    let view = read_when_done(&s.home("low").join("view.txt"));
    assert!(!view.contains("FOUND"), "{view}");
    assert!(view.contains("/run/cloison:\nmanager.sock\n\n"), "{view}");
    // The runtime directory: the level's Wayland socket and session bus (its daemon adds
    // dbus-1/ for its own use), nothing else.
    let runtime: Vec<&str> = view
        .split("/run/user/1000:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty() && !l.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(
        runtime.contains(&"bus")
            && runtime.contains(&"wayland-0")
            && runtime
                .iter()
                .all(|e| ["bus", "dbus-1", "wayland-0"].contains(e)),
        "{view}"
    );
    let pids: Vec<u32> = view
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(pids.contains(&1) && pids.len() < 12, "low sees {pids:?}");

    // A bad request gets a clear error.
    let out = s
        .cloison()
        .args(["spawn", "nowhere", "--", "true"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no level \"nowhere\""));
}

#[test]
fn the_compositor_is_confined_and_sees_no_level_home() {
    let mut s = Session::start_default(&[]).unwrap();
    s.wait_terminals();
    let launcher = s.pid().unwrap();
    let compositor = descendants(launcher)
        .into_iter()
        .find(|p| comm(*p) == "cloison-composi")
        .expect("the compositor runs under the launcher");
    // Its own identity, no capabilities, no_new_privs, seccomp filter mode.
    assert!(status_field(compositor, "Uid").starts_with("1900000"));
    assert_eq!(status_field(compositor, "CapEff"), "0000000000000000");
    assert_eq!(status_field(compositor, "CapBnd"), "0000000000000000");
    assert_eq!(status_field(compositor, "NoNewPrivs"), "1");
    assert_eq!(status_field(compositor, "Seccomp"), "2");
    // Its view of the filesystem holds no level's home: not at the host path, not anywhere.
    let root = PathBuf::from(format!("/proc/{compositor}/root"));
    for level in ["low", "high"] {
        let home = s.home(level);
        let inside = root.join(home.strip_prefix("/").unwrap());
        assert!(
            std::fs::symlink_metadata(&inside).is_err(),
            "the compositor sees {}",
            home.display()
        );
    }
    assert!(
        std::fs::symlink_metadata(root.join("home/user/probe.txt")).is_err()
            && std::fs::read_dir(root.join(s.runtime.path().strip_prefix("/").unwrap())).is_err(),
        "the compositor sees the session's files"
    );
    // No network: only the loopback interface.
    let dev = std::fs::read_to_string(format!("/proc/{compositor}/net/dev")).unwrap();
    let interfaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(interfaces, ["lo"]);
}

#[test]
fn killing_a_levels_init_leaves_the_other_level_running_and_restart_level_brings_it_back() {
    let mut s = Session::start_default(&["--size", "1024x768"]).unwrap();
    s.wait_terminals();
    s.spawn_in("high", &["weston-simple-shm"]);
    s.wait_for("weston-simple-shm in high", |st| {
        st.windows.iter().filter(|w| w.level == "high").count() == 2
    })
    .unwrap();
    let low = cage(&mut s, "low");
    let init = low.init_pid.expect("low's init pid");
    assert_eq!(comm(init), "cloison-cage");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    s.wait_for("low to stop", |st| {
        st.levels[0]
            .cage
            .as_ref()
            .is_some_and(|c| c.state == "stopped")
            && !st.windows.iter().any(|w| w.level == "low")
    })
    .unwrap();
    assert_eq!(cage(&mut s, "high").state, "running");

    // High keeps getting frames: weston-simple-shm's animation goes on.
    let shm = s
        .status()
        .unwrap()
        .windows
        .into_iter()
        .find(|w| w.level == "high" && w.app_id != "foot")
        .unwrap()
        .geometry;
    let a = s.screenshot().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let b = s.screenshot().unwrap();
    let differs = (0..shm.height.min(200)).any(|y| {
        (0..shm.width.min(200)).any(|x| a.rgb(shm.x + x, shm.y + y) != b.rgb(shm.x + x, shm.y + y))
    });
    assert!(differs, "high's animation stopped");
    // And a high terminal still takes typing.
    s.type_in("high", "echo done > ~/alive.txt");
    read_when_done(&s.home("high").join("alive.txt"));

    // Back: a new cage, a new terminal.
    let out = s
        .cloison()
        .args(["ctl", "restart-level", "low"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.wait_for("low's terminal again", |st| {
        st.windows
            .iter()
            .any(|w| w.level == "low" && w.app_id == "foot")
    })
    .unwrap();
    let again = cage(&mut s, "low");
    assert_eq!(again.state, "running");
    assert_ne!(again.init_pid, Some(init));
}

#[test]
fn sigterm_leaves_no_process_mount_or_socket_behind() {
    let mounts_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut s = Session::start_default(&[]).unwrap();
    s.wait_terminals();
    s.spawn_in("high", &["sleep", "1000"]);
    let launcher = s.pid().unwrap();
    let ours = descendants(launcher);
    assert!(
        ours.len() >= 8,
        "helpers, inits, the compositor, terminals, shells, sleep: {ours:?}"
    );
    let session_dir = s.runtime.path().join("cloison");
    assert!(session_dir.join("ctl.sock").exists());
    let status = s.terminate().unwrap();
    assert!(status.success(), "{status}");
    let left: Vec<(u32, String)> = ours
        .iter()
        .filter(|p| Path::new(&format!("/proc/{p}")).exists())
        .map(|p| (*p, comm(*p)))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!session_dir.exists(), "the session directory is left");
    let mounts_after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert_eq!(
        mounts_before.lines().count(),
        mounts_after.lines().count(),
        "mounts changed"
    );
}

#[test]
fn the_launcher_menu_starts_an_app_in_the_chosen_level() {
    let mut s = Session::start_default(&[]).unwrap();
    s.wait_terminals();
    s.focus("high");
    // Super opens the menu on the focused level's column; its first entry is the configured
    // terminal.
    s.input(InputEvent::Key {
        chord: "super".into(),
    })
    .unwrap();
    s.input(InputEvent::Key {
        chord: "Return".into(),
    })
    .unwrap();
    s.wait_for("a second terminal in high", |st| {
        st.windows
            .iter()
            .filter(|w| w.level == "high" && w.app_id == "foot")
            .count()
            == 2
    })
    .unwrap();
    assert_eq!(windows(&mut s, "low").len(), 1);
    // The menu is keyboard driven across levels too: Super, Left (to low), Return.
    s.input(InputEvent::Key {
        chord: "super".into(),
    })
    .unwrap();
    s.input(InputEvent::Key {
        chord: "Left".into(),
    })
    .unwrap();
    s.input(InputEvent::Key {
        chord: "Return".into(),
    })
    .unwrap();
    s.wait_for("a second terminal in low", |st| {
        st.windows
            .iter()
            .filter(|w| w.level == "low" && w.app_id == "foot")
            .count()
            == 2
    })
    .unwrap();
    match s.request(&Request::Status).unwrap() {
        Reply::Status(st) => {
            let apps = &st.levels[0].cage.as_ref().unwrap().apps;
            let terminals = apps.iter().filter(|a| a.argv[0] == "foot").count();
            assert_eq!(terminals, 2, "both terminals run in low's cage: {apps:?}");
            // Beside them, the level's notification service.
            assert!(
                apps.iter().any(|a| a.argv[0].ends_with("/cloison-notifyd")),
                "{apps:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let _ = external("foot");
}

#[test]
fn a_compositor_that_ends_on_its_own_ends_the_session_cleanly() {
    // As when its nested window is closed: it stops, with status 0.
    let mut s = Session::start_default(&[]).unwrap();
    let compositor = s.compositor_pid().expect("the compositor");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(compositor as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = s.wait_exit(Duration::from_secs(15)).unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(!s.stderr_contains("unexpectedly"));
}

/// Kills the session's compositor and waits for the next one to answer; its pid.
fn kill_compositor_and_wait_for_the_next(s: &mut Session) -> u32 {
    let dead = s.compositor_pid().expect("the compositor");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dead as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut next = None;
    wait_until("another compositor serving", || {
        next = s.compositor_pid().filter(|p| *p != dead);
        next.is_some() && s.status().is_ok()
    });
    next.unwrap()
}

#[test]
fn a_compositor_that_dies_comes_back_with_the_terminals_and_one_that_keeps_dying_ends_the_session()
{
    let mut s = Session::start_default(&[]).unwrap();
    s.wait_terminals();
    let launcher = s.pid().unwrap();
    let first = s.compositor_pid().expect("the compositor");

    // Killed: another one serves the same sockets, and each level's terminal (a session app
    // whose policy is never to restart) comes back with it.
    kill_compositor_and_wait_for_the_next(&mut s);
    s.wait_terminals();
    assert!(s.stderr_contains("starting it again"), "the log says why");
    let restarts: Vec<_> = s
        .audit_records()
        .into_iter()
        .filter(|r| r["event"] == "compositor-restart")
        .collect();
    assert_eq!(restarts.len(), 1, "{restarts:?}");
    // A compositor that failed never leaves the screen open: the new one starts locked.
    assert_eq!(restarts[0]["decision"], "locked");
    assert_eq!(restarts[0]["outcome"], "was unlocked");
    assert!(s.status().unwrap().locked);
    assert!(
        !Path::new(&format!("/proc/{first}")).exists(),
        "the dead compositor is gone"
    );

    // Dying again and again: after the third restart within a minute, the session ends.
    kill_compositor_and_wait_for_the_next(&mut s);
    kill_compositor_and_wait_for_the_next(&mut s);
    let ours = descendants(launcher);
    let last = s.compositor_pid().expect("the compositor");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(last as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = s.wait_exit(Duration::from_secs(15)).unwrap();
    assert_eq!(status.code(), Some(1), "{status}");
    let left: Vec<u32> = ours
        .iter()
        .copied()
        .filter(|p| Path::new(&format!("/proc/{p}")).exists())
        .collect();
    let named: Vec<String> = left.iter().map(|p| format!("{p} {}", comm(*p))).collect();
    assert!(left.is_empty(), "left behind: {named:?}");
    assert!(!s.runtime.path().join("cloison").exists());
    assert!(
        s.stderr_contains("the compositor stopped unexpectedly")
            && s.stderr_contains("the session is over"),
        "a clear message"
    );
}
