//! The lock screen end to end, with the real session and a PAM service of the test's own
//! (`pam_exec` running a script that knows one password): locking by `ctl lock`, by the chord
//! and when idle; what the screen shows while locked (no pixel of either level); keys typed
//! while locked reaching no client; a wrong password refused, recorded and backed off; the
//! right one unlocking, with the keyboard back where it was; a password check that hangs and
//! is killed leaving the screen locked; a compositor that dies while locked coming back
//! locked; the lock before suspend, with a stand-in logind on a private bus.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cloison_ipc::{InputEvent, Request};
use cloison_tests::session::{Session, wait_until};
use cloison_tests::ui::{GREEN, RED};

const PASSWORD: &str = "correct horse";

/// A PAM service in `/etc/pam.d` for the test (removed when dropped): authentication by a
/// script given the password on its standard input.
struct PamService {
    name: String,
    _dir: tempfile::TempDir,
}

impl PamService {
    fn new(check: &str) -> PamService {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("check");
        std::fs::write(&script, format!("#!/bin/sh\n{check}\n")).unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        // One file per service: the tests of this file run at once, in one process.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("cloison-test-{}-{n}", std::process::id());
        std::fs::write(
            Path::new("/etc/pam.d").join(&name),
            format!(
                "auth required pam_exec.so expose_authtok quiet {}\naccount required pam_permit.so\n",
                script.display()
            ),
        )
        .unwrap();
        PamService { name, _dir: dir }
    }
}

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(Path::new("/etc/pam.d").join(&self.name));
    }
}

/// The default configuration (a terminal per level) with `[lock]` added.
fn config(dir: &Path, lock: &str) -> PathBuf {
    let path = dir.join("cloison.toml");
    let text = format!("{}\n[lock]\n{lock}\n", cloison_config::DEFAULT_CONFIG);
    cloison_config::parse(&text, "test").expect("valid");
    std::fs::write(&path, text).unwrap();
    path
}

fn locked(s: &mut Session) -> bool {
    s.status().unwrap().locked
}

/// Whether any pixel of the screenshot is in either level's colour.
fn shows_a_level(s: &mut Session) -> bool {
    let shot = s.screenshot().unwrap();
    (0..shot.height as i32).any(|y| {
        (0..shot.width as i32).any(|x| {
            let p = shot.rgb(x, y);
            p == GREEN || p == RED
        })
    })
}

fn type_text(s: &mut Session, text: &str) {
    s.input(InputEvent::Type { text: text.into() }).unwrap();
}

fn attempts(s: &Session, decision: &str) -> usize {
    s.audit_records()
        .iter()
        .filter(|r| r["event"] == "unlock-attempt" && r["decision"] == decision)
        .count()
}

/// The default session whose lock opens for [`PASSWORD`], with its terminals up (the PAM
/// service lives as long as what is returned).
fn session_with_the_password() -> (PamService, Session) {
    let pam = PamService::new(&format!(
        "pw=$(head -c 200 | tr -d '\\000'); [ \"$pw\" = '{PASSWORD}' ]"
    ));
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &format!("pam_service = \"{}\"", pam.name));
    // The configuration is read at start: its directory may go.
    let mut s = Session::start_default_with(&["--config", config.to_str().unwrap()], &[]).unwrap();
    s.wait_terminals();
    (pam, s)
}

#[test]
fn the_lock_hides_both_levels_takes_every_key_and_opens_only_for_the_password() {
    let (_pam, mut s) = session_with_the_password();
    assert!(shows_a_level(&mut s), "both levels' frames are on screen");
    s.focus_app("low", "foot");

    // Locked from the control socket: not a pixel of either level, the bar included.
    s.request(&Request::Lock).unwrap();
    assert!(locked(&mut s));
    assert!(!shows_a_level(&mut s), "a level shows through the lock");

    // What is typed goes to the password field, never to low's terminal; a wrong password
    // is refused and recorded.
    type_text(&mut s, "touch ~/leaked");
    s.key("Return");
    wait_until("the refusal", || attempts(&s, "refused") == 1);
    assert!(locked(&mut s));
    assert!(!shows_a_level(&mut s));
    // Within the back-off (1 s after a first failure), even the right password waits.
    type_text(&mut s, PASSWORD);
    s.key("Return");
    std::thread::sleep(Duration::from_millis(300));
    assert!(locked(&mut s), "taken within the back-off");
    assert_eq!(attempts(&s, "accepted"), 0);

    // The right one after the back-off unlocks; the keyboard is low's terminal's again.
    std::thread::sleep(Duration::from_millis(1000));
    s.key("Escape");
    type_text(&mut s, PASSWORD);
    s.key("Return");
    wait_until("the unlock", || !locked(&mut s));
    assert!(shows_a_level(&mut s));
    type_text(&mut s, "touch ~/after\n");
    wait_until("the terminal to get the keys", || {
        s.home("low").join("after").exists()
    });
    assert!(
        !s.home("low").join("leaked").exists(),
        "keys typed while locked reached the terminal"
    );
    let records = s.audit_records();
    let events: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| {
            r["event"]
                .as_str()
                .is_some_and(|e| e.starts_with("lock") || e.starts_with("unlock"))
        })
        .map(|r| {
            (
                r["event"].as_str().unwrap(),
                r["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("lock", "locked"),
            ("unlock-attempt", "refused"),
            ("unlock-attempt", "accepted"),
            ("unlock", "unlocked"),
        ]
    );
    assert!(
        !records.iter().any(|r| r.to_string().contains("horse")),
        "the password is in the audit log"
    );

    // The chord locks too.
    s.key("super+l");
    wait_until("the chord's lock", || locked(&mut s));
    assert!(!shows_a_level(&mut s));
    type_text(&mut s, PASSWORD);
    s.key("Return");
    wait_until("the unlock", || !locked(&mut s));
}

#[test]
fn idle_locks_and_a_password_check_that_hangs_leaves_the_screen_locked() {
    // A check that never answers (it waits for input that never comes).
    let pam = PamService::new("exec sleep 60");
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &format!("pam_service = \"{}\"\nidle_lock = \"2s\"", pam.name),
    );
    let mut s = Session::start_default_with(&["--config", config.to_str().unwrap()], &[]).unwrap();
    s.wait_terminals();
    // No input for two seconds: locked.
    wait_until("the idle lock", || locked(&mut s));
    assert!(!shows_a_level(&mut s));
    assert!(
        s.audit_records()
            .iter()
            .any(|r| r["event"] == "lock" && r["rule"] == "idle")
    );

    // The check hangs; killed, it leaves the screen locked and says why.
    type_text(&mut s, "anything");
    s.key("Return");
    // This session's check: a child of its launcher.
    let launcher = s.pid().unwrap().to_string();
    let checker = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .find(|pid| {
                let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|st| {
                        Some(
                            st.rsplit_once(')')?
                                .1
                                .split_whitespace()
                                .nth(1)?
                                .to_string(),
                        )
                    });
                parent.as_deref() == Some(launcher.as_str())
                    && std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"pam-check"))
            })
    };
    let mut pid = None;
    wait_until("the password check", || {
        pid = checker();
        pid.is_some()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid.unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the failure's record", || attempts(&s, "failed") == 1);
    assert!(locked(&mut s), "a killed check unlocked the screen");
    assert!(!shows_a_level(&mut s));
    assert!(s.audit_records().iter().any(|r| {
        r["event"] == "unlock-attempt"
            && r["outcome"].as_str().is_some_and(|o| o.contains("killed"))
    }));
}

#[test]
fn what_pam_says_on_a_refusal_is_recorded_and_the_screen_stays_locked() {
    // pam_exec's `stdout` passes the script's words to the conversation (as PAM modules say
    // "account locked" or "password expired").
    let pam = PamService::new("echo 'Account locked by the administrator'; exit 1");
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &format!("pam_service = \"{}\"", pam.name));
    std::fs::write(
        Path::new("/etc/pam.d").join(&pam.name),
        std::fs::read_to_string(Path::new("/etc/pam.d").join(&pam.name))
            .unwrap()
            .replace("expose_authtok quiet", "expose_authtok stdout"),
    )
    .unwrap();
    let mut s = Session::start_default_with(&["--config", config.to_str().unwrap()], &[]).unwrap();
    s.request(&Request::Lock).unwrap();
    type_text(&mut s, PASSWORD);
    s.key("Return");
    wait_until("the refusal", || attempts(&s, "refused") == 1);
    let record = s
        .audit_records()
        .into_iter()
        .find(|r| r["event"] == "unlock-attempt")
        .unwrap();
    assert_eq!(
        record["outcome"], "PAM said: Account locked by the administrator",
        "{record}"
    );
    assert!(locked(&mut s));
}

#[test]
fn a_compositor_that_dies_while_locked_comes_back_locked() {
    let (_pam, mut s) = session_with_the_password();
    s.request(&Request::Lock).unwrap();
    assert!(locked(&mut s));

    let dead = s.compositor_pid().expect("the compositor");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dead as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("another compositor serving", || {
        s.compositor_pid().is_some_and(|p| p != dead) && s.status().is_ok()
    });
    // Locked from its start, before any level's client was served: the terminals come back
    // behind the lock, and not a pixel of them shows.
    assert!(locked(&mut s), "the new compositor started unlocked");
    s.wait_terminals();
    assert!(locked(&mut s));
    assert!(!shows_a_level(&mut s), "a level shows through the lock");
    let record = s
        .audit_records()
        .into_iter()
        .find(|r| r["event"] == "compositor-restart")
        .expect("the restart is recorded");
    assert_eq!(record["decision"], "locked", "{record}");
    assert_eq!(record["outcome"], "was locked", "{record}");

    // The password still opens it, onto both terminals.
    type_text(&mut s, PASSWORD);
    s.key("Return");
    wait_until("the unlock", || !locked(&mut s));
    assert!(shows_a_level(&mut s));
}

/// A stand-in for logind on a private bus: `Inhibit` hands out the write end of a pipe
/// (held: inhibited) and keeps the read end to see when it is let go.
struct FakeLogind {
    inhibitors: std::sync::Arc<std::sync::Mutex<Vec<(String, String, std::os::fd::OwnedFd)>>>,
}

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl FakeLogind {
    fn inhibit(
        &self,
        what: String,
        _who: String,
        _why: String,
        mode: String,
    ) -> zbus::fdo::Result<zbus::zvariant::OwnedFd> {
        // Close-on-exec: no process another test starts may hold the inhibitor.
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))?;
        self.inhibitors.lock().unwrap().push((what, mode, read));
        Ok(write.into())
    }
}

/// Whether every write end of the pipe behind `read` is closed.
fn let_go(read: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsFd as _;
    let mut fds = [nix::poll::PollFd::new(
        read.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).unwrap();
    fds[0]
        .revents()
        .is_some_and(|r| r.contains(nix::poll::PollFlags::POLLHUP))
}

#[test]
fn the_screen_locks_before_the_machine_sleeps_and_only_then_lets_it_sleep() {
    // A private bus where the test owns org.freedesktop.login1.
    let dir = tempfile::tempdir().unwrap();
    let bus = cloison_tests::session::PrivateBus::start(&dir.path().join("system_bus_socket"));
    let address = bus.address.clone();
    let inhibitors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let logind = zbus::blocking::connection::Builder::address(address.as_str())
        .unwrap()
        .name("org.freedesktop.login1")
        .unwrap()
        .serve_at(
            "/org/freedesktop/login1",
            FakeLogind {
                inhibitors: inhibitors.clone(),
            },
        )
        .unwrap()
        .build()
        .unwrap();
    let held = || inhibitors.lock().unwrap().len();
    let announce = |starting: bool| {
        logind
            .emit_signal(
                None::<&str>,
                "/org/freedesktop/login1",
                "org.freedesktop.login1.Manager",
                "PrepareForSleep",
                &starting,
            )
            .unwrap()
    };

    let config = config(dir.path(), "idle_lock = 0");
    let mut s = Session::start_default_with(
        &["--config", config.to_str().unwrap()],
        &[("DBUS_SYSTEM_BUS_ADDRESS", address.as_str())],
    )
    .unwrap();
    s.wait_terminals();
    // The launcher takes a delay inhibitor for sleep as it starts.
    wait_until("the inhibitor", || held() == 1);
    {
        let taken = inhibitors.lock().unwrap();
        assert_eq!(
            (taken[0].0.as_str(), taken[0].1.as_str()),
            ("sleep", "delay")
        );
        assert!(!let_go(&taken[0].2), "let go before any suspend");
    }
    assert!(!locked(&mut s));

    // logind announces the suspend: the inhibitor is let go only once the screen is locked.
    announce(true);
    wait_until("the inhibitor let go", || {
        let_go(&inhibitors.lock().unwrap()[0].2)
    });
    assert!(
        locked(&mut s),
        "the machine may sleep with the screen unlocked"
    );
    assert!(
        s.stderr_contains("locked for suspend"),
        "let go before the compositor said the lock was on screen"
    );
    assert!(!shows_a_level(&mut s));
    assert!(
        s.audit_records()
            .iter()
            .any(|r| r["event"] == "lock" && r["rule"] == "suspend")
    );

    // Awake again: a new inhibitor for the next suspend.
    announce(false);
    wait_until("a new inhibitor", || held() == 2);
    assert!(!let_go(&inhibitors.lock().unwrap()[1].2));
}
