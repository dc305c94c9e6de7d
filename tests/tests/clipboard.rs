//! The cross-level clipboard with real clients (wl-copy and wl-paste from wl-clipboard) in
//! real cages: each level's clipboard stays its own; the copy and paste chords move exactly
//! the bytes upward; downward is denied; `confirm` asks in a trusted dialog; oversize, silent
//! and slow sources; the audit log and its verification.

use std::path::Path;
use std::process::Stdio;

use cloison_tests::session::{Session, our_binary, wait_until};
use cloison_tests::ui::{GREEN, RED};

fn key(s: &mut Session, chord: &str) {
    s.key(chord);
}

fn put(s: &Session, level: &str, name: &str, bytes: &[u8]) {
    s.put(level, name, bytes);
}

fn wl_copy(s: &mut Session, level: &str, file: &str, primary: bool) {
    s.wl_copy(level, file, primary);
}

fn wl_paste(s: &mut Session, level: &str, primary: bool) -> Vec<u8> {
    s.wl_paste(level, primary)
}

fn notified(s: &Session, text: &str) {
    s.wait_notified(text);
}

fn audit_lines(s: &Session) -> Vec<serde_json::Value> {
    s.audit_records()
}

#[test]
fn each_levels_clipboard_and_primary_selection_stay_in_that_level() {
    let mut s = Session::start_default(&[]).unwrap();
    s.wait_terminals();
    put(&s, "low", "c", b"low clipboard");
    put(&s, "low", "p", b"low primary");
    put(&s, "high", "c", b"high clipboard");
    wl_copy(&mut s, "low", "c", false);
    wl_copy(&mut s, "low", "p", true);
    wl_copy(&mut s, "high", "c", false);
    assert_eq!(wl_paste(&mut s, "high", false), b"high clipboard");
    assert_ne!(wl_paste(&mut s, "high", true), b"low primary");
    assert_eq!(wl_paste(&mut s, "low", false), b"low clipboard");
    assert_ne!(wl_paste(&mut s, "low", false), b"high clipboard");
    assert_eq!(wl_paste(&mut s, "low", true), b"low primary");
    assert!(
        audit_lines(&s).is_empty(),
        "nothing crossed, nothing recorded"
    );
}

#[test]
fn the_chords_move_exactly_the_copied_bytes_up_and_empty_the_global_clipboard() {
    let mut s = Session::start_default(&[]).unwrap();
    s.wait_terminals();
    let big: Vec<u8> = (0..1 << 20)
        .map(|i| {
            if i % 77 == 76 {
                b'\n'
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect();
    let payloads: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        "first line\nsecond: héllo wörld 🌍🚀\n\tthird ✓"
            .as_bytes()
            .to_vec(),
        big,
    ];
    for (i, payload) in payloads.iter().enumerate() {
        put(&s, "low", "payload", payload);
        wl_copy(&mut s, "low", "payload", false);
        key(&mut s, "ctrl+shift+c");
        wait_until("the copy to be recorded", || {
            audit_lines(&s).len() == 2 * i + 1
        });
        s.focus("high");
        key(&mut s, "ctrl+shift+v");
        wait_until("the paste to be recorded", || {
            audit_lines(&s).len() == 2 * i + 2
        });
        let got = wl_paste(&mut s, "high", false);
        assert_eq!(got.len(), payload.len(), "payload {i}");
        assert!(got == *payload, "payload {i} differs");
        // Middle-click paste gets it too.
        assert!(wl_paste(&mut s, "high", true) == *payload);
    }
    // The global clipboard is empty now.
    key(&mut s, "ctrl+shift+v");
    notified(&s, "Nothing to paste");
    let records = audit_lines(&s);
    assert_eq!(records.len(), 6);
    assert_eq!(records[5]["size"], 1 << 20);
    assert_eq!(records[5]["decision"], "allow");
    // Content never appears in the log, only its hash.
    let log = std::fs::read_to_string(s.audit_log()).unwrap();
    assert!(!log.contains("héllo") && !log.contains("hello"));
}

#[test]
fn downward_is_denied_the_bar_says_so_and_the_log_records_it() {
    let mut s = Session::start_default(&["--size", "1280x800"]).unwrap();
    s.wait_terminals();
    put(&s, "low", "mine", b"low's own");
    wl_copy(&mut s, "low", "mine", false);
    put(&s, "high", "secret", b"TOP SECRET");
    wl_copy(&mut s, "high", "secret", false);
    key(&mut s, "ctrl+shift+c");
    notified(&s, "Copied 10 B text from HIGH");
    s.focus("low");
    key(&mut s, "ctrl+shift+v");
    notified(&s, "Paste from HIGH into LOW denied");
    // The bar shows it: its text area is not empty where notifications go.
    let shot = s.screenshot().unwrap();
    assert!(
        shot.distinct_colours(300, 2, 400, 24) > 2,
        "the bar's notification"
    );
    assert_eq!(
        wl_paste(&mut s, "low", false),
        b"low's own",
        "nothing reached low"
    );
    let records = audit_lines(&s);
    let last = records.last().unwrap();
    assert_eq!(last["event"], "paste");
    assert_eq!(last["decision"], "deny");
    assert_eq!(last["from"], "high");
    assert_eq!(last["to"], "low");
    // The log verifies, and a changed record is found.
    let verify = |s: &Session| {
        std::process::Command::new(our_binary("cloison"))
            .args(["audit", "verify"])
            .arg(s.audit_log())
            .output()
            .unwrap()
    };
    let out = verify(&s);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(s.audit_log()).unwrap();
    std::fs::write(s.audit_log(), text.replacen("\"deny\"", "\"allow\"", 1)).unwrap();
    let out = verify(&s);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2: its content does not match"));
}

fn confirm_config(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/cloison.toml"
    ))
    .unwrap()
    .replace(
        "from = \"low\"\nto = \"high\"\nclipboard = \"allow\"",
        "from = \"low\"\nto = \"high\"\nclipboard = \"confirm\"",
    );
    assert!(text.contains("clipboard = \"confirm\""));
    let path = dir.join("confirm.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn confirm_asks_in_a_trusted_dialog_and_only_the_users_answer_counts() {
    let dir = tempfile::tempdir().unwrap();
    let config = confirm_config(dir.path());
    let mut s =
        Session::start_default(&["--config", config.to_str().unwrap(), "--size", "1280x800"])
            .unwrap();
    s.wait_terminals();
    for (answer, expected) in [
        ("Escape", b"".as_slice()),
        ("Return", b"to be confirmed".as_slice()),
    ] {
        put(&s, "low", "text", b"to be confirmed");
        wl_copy(&mut s, "low", "text", false);
        let records = audit_lines(&s).len();
        key(&mut s, "ctrl+shift+c");
        wait_until("the copy's record", || audit_lines(&s).len() == records + 1);
        s.focus("high");
        key(&mut s, "ctrl+shift+v");
        // The dialog: centred below the bar, a stripe in LOW's green then HIGH's red.
        wait_until("the dialog", || {
            let shot = s.screenshot().unwrap();
            cloison_tests::ui::dialog_shown(&shot, GREEN, RED)
        });
        // A low client mapping a window meanwhile gets no focus.
        let mut foot = s.client_command("low", cloison_tests::session::external("foot"));
        foot.args(["--app-id", "late"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        s.spawn(foot).unwrap();
        s.wait_window("late").unwrap();
        assert_eq!(s.status().unwrap().focused_level.as_deref(), Some("high"));
        // A dialog takes no answer in its first half second (compositor ui::dialog::ARMING).
        std::thread::sleep(std::time::Duration::from_millis(600));
        key(&mut s, answer);
        if answer == "Escape" {
            notified(&s, "Paste into HIGH cancelled");
        } else {
            notified(&s, "Pasted 15 B text from LOW into HIGH");
        }
        assert_eq!(wl_paste(&mut s, "high", false), expected, "after {answer}");
    }
    let decisions: Vec<String> = audit_lines(&s)
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["event"].as_str().unwrap(),
                r["decision"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            "copy stored",
            "confirm refused",
            "copy stored",
            "confirm confirmed",
            "paste allow"
        ]
    );
}

#[test]
fn oversize_silent_and_slow_sources_never_wedge_the_clipboard() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/cloison.toml"
    ))
    .unwrap()
        + "\n[clipboard]\nmax_bytes = 1000\ntimeout_ms = 500\n";
    let config = dir.path().join("small.toml");
    std::fs::write(&config, text).unwrap();
    let mut s = Session::start_default(&["--config", config.to_str().unwrap()]).unwrap();
    s.wait_terminals();

    // Oversize: refused with the limit, recorded.
    put(&s, "low", "big", &[b'x'; 2000]);
    wl_copy(&mut s, "low", "big", false);
    key(&mut s, "ctrl+shift+c");
    notified(&s, "more than 1.0 kB, the limit");
    wait_until("the oversize record", || {
        audit_lines(&s)
            .last()
            .is_some_and(|r| r["rule"] == "oversize")
    });

    // A source that never answers is cut off at the timeout.
    s.focus("low");
    let (_, hung) = s
        .spawn_test_client(
            "low",
            &["offer", "--never", "--app-id", "hung", "--size", "100x60"],
        )
        .unwrap();
    wait_until("the silent source to offer", || {
        hung.lock().unwrap().iter().any(|l| l == "offered")
    });
    key(&mut s, "ctrl+shift+c");
    notified(&s, "did not hand its clipboard over within 500 ms");
    // The compositor shows the timeout; the launcher records it on its own thread.
    wait_until("the timeout record", || {
        audit_lines(&s)
            .last()
            .is_some_and(|r| r["decision"] == "timeout")
    });

    // A slow source's late answer loses to a newer copy.
    let (_, slow) = s
        .spawn_test_client(
            "low",
            &[
                "offer",
                "--text",
                "old and slow",
                "--delay-ms",
                "1500",
                "--app-id",
                "slow",
                "--size",
                "100x60",
            ],
        )
        .unwrap();
    wait_until("the slow source to offer", || {
        slow.lock().unwrap().iter().any(|l| l == "offered")
    });
    key(&mut s, "ctrl+shift+c");
    put(&s, "low", "fresh", b"fresh");
    wl_copy(&mut s, "low", "fresh", false);
    key(&mut s, "ctrl+shift+c");
    notified(&s, "Copied 5 B text from LOW");
    wait_until("the slow source to answer (too late)", || {
        slow.lock().unwrap().iter().any(|l| l.starts_with("sent"))
    });
    s.focus("high");
    key(&mut s, "ctrl+shift+v");
    notified(&s, "Pasted 5 B text from LOW into HIGH");
    assert_eq!(wl_paste(&mut s, "high", false), b"fresh");
}
