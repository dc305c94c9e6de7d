//! The hardening review's attacks, each played against a real `cloison run` as a program of the
//! low level (or any client of low's sockets) would: every test here failed before the fix it
//! guards (docs/SECURITY.md, "Attacks tried").

use std::time::Duration;

use cloison_tests::session::{Session, read_when_done};

/// The launcher's process state letter (`S`, `R`, `T` for stopped…).
fn process_state(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("?")
        .to_string()
}

/// Started from a terminal, `cloison run` keeps it: a program in low cannot open `/dev/tty`,
/// reaches no terminal to take the foreground of, and the launcher goes on answering and logging
/// afterwards (CVE-2017-5226 class: TIOCSTI, TIOCSPGRP, KDSKBMODE, TOSTOP on the launcher's
/// terminal).
#[test]
fn a_level_cannot_reach_the_terminal_cloison_run_was_started_from() {
    let mut s = Session::start_in_terminal(&[]).expect("session");
    let launcher = s.launcher_pid().expect("running");
    let home = s.home("low");
    std::fs::write(
        home.join("tty.py"),
        r#"
import errno, fcntl, json, os, signal, termios
for sig in (signal.SIGTTOU, signal.SIGTTIN):
    signal.signal(sig, signal.SIG_IGN)
r = {"sid_is_pid": os.getsid(0) == os.getpid()}
try:
    fd = os.open("/dev/tty", os.O_RDWR)
    r["open"] = "opened"
    try:
        a = termios.tcgetattr(fd)
        a[3] |= termios.TOSTOP
        termios.tcsetattr(fd, termios.TCSANOW, a)
        r["tostop"] = "set"
    except OSError as e:
        r["tostop"] = errno.errorcode[e.errno]
    try:
        fcntl.ioctl(fd, 0x4B45, 3)
        r["kdskbmode"] = "done"
    except OSError as e:
        r["kdskbmode"] = errno.errorcode[e.errno]
except OSError as e:
    r["open"] = errno.errorcode[e.errno]
# Every terminal this process holds a descriptor of: take its foreground.
for fd in range(0, 256):
    try:
        if os.isatty(fd):
            try:
                os.tcsetpgrp(fd, os.getpgrp())
                r["foreground %d" % fd] = "taken"
            except OSError as e:
                r["foreground %d" % fd] = errno.errorcode[e.errno]
    except OSError:
        pass
open("/home/user/tty.json", "w").write(json.dumps(r) + "\ndone\n")
"#,
    )
    .unwrap();
    s.spawn_in("low", &["/usr/bin/python3", "/home/user/tty.py"]);
    let report = read_when_done(&home.join("tty.json"));
    let report: serde_json::Value = serde_json::from_str(report.trim()).expect("json");
    assert_eq!(report["open"], "ENXIO", "opening /dev/tty in low: {report}");
    assert_eq!(report["sid_is_pid"], true, "a session of its own: {report}");
    for (key, value) in report.as_object().unwrap() {
        assert_ne!(value, "taken", "{key}: {report}");
    }
    // The terminal's foreground is still the launcher's, and the launcher still runs: it
    // answers, starts a program (and logs it), and is not stopped.
    let master = s.terminal.as_ref().expect("a terminal");
    let foreground = nix::unistd::tcgetpgrp(master).expect("tcgetpgrp");
    assert_eq!(
        foreground.as_raw() as u32,
        launcher,
        "the terminal's foreground"
    );
    s.spawn_in("low", &["/bin/true"]);
    s.status().expect("ctl status answers");
    std::thread::sleep(Duration::from_millis(200));
    let state = process_state(launcher);
    assert!(state != "T" && state != "t", "the launcher is {state}");
}
