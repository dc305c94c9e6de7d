//! Cross-level file transfer with the real `cloison-send` in real cages, and a raw client on
//! a level's manager socket for what a hostile sender could send: the policy and the trusted
//! dialog, byte-identical delivery with the target's owner and mode, the denial downward,
//! attacks from the target (symlinks, FIFOs, a folder swapped during the copy) and from the
//! source (names, FIFOs, shrinking files, too many files), and a full disk.

use std::os::fd::AsFd as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use cloison_ipc::InputEvent;
use cloison_ipc::level::ManagerEvent;
use cloison_tests::session::{Session, read_when_done, wait_until};
use cloison_tests::ui::{GREEN, RED};

const HIGH_UID: u32 = 2_100_000;

fn put(s: &Session, level: &str, name: &str, bytes: &[u8]) -> PathBuf {
    s.put(level, name, bytes)
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Runs `cloison-send ARGS` in `level`'s cage; returns (exit status, its output) once done.
fn send(s: &Session, level: &str, args: &str) -> (i32, String) {
    send_async(s, level, args);
    let home = s.home(level);
    read_when_done(&home.join("send.done"));
    let status = std::fs::read_to_string(home.join("send.status"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (
        status,
        std::fs::read_to_string(home.join("send.log")).unwrap(),
    )
}

/// Starts `cloison-send` without waiting.
fn send_async(s: &Session, level: &str, args: &str) {
    let home = s.home(level);
    let _ = std::fs::remove_file(home.join("send.done"));
    s.spawn_in(
        level,
        &[
            "sh",
            "-c",
            &format!("cloison-send {args} > ~/send.log 2>&1; echo $? > ~/send.status; echo done > ~/send.done"),
        ],
    );
}

fn incoming(s: &Session) -> PathBuf {
    s.home("high").join("Incoming/low")
}

fn key(s: &mut Session, chord: &str) {
    s.key(chord);
}

fn audit(s: &Session) -> Vec<serde_json::Value> {
    s.audit_records()
}

/// Whether the dialog is on screen (the launcher logs nothing for it: the screenshot tells).
fn dialog_up(s: &mut Session) -> bool {
    let shot = s.screenshot().unwrap();
    cloison_tests::ui::dialog_shown(&shot, GREEN, RED)
}

/// Waits for the dialog to be up, and armed.
fn wait_dialog(s: &mut Session) {
    wait_until("the dialog", || dialog_up(s));
    // A dialog takes no answer in its first half second (compositor ui::dialog::ARMING).
    std::thread::sleep(std::time::Duration::from_millis(600));
}

fn config_with(dir: &Path, flow_files: &str, extra: &str) -> PathBuf {
    let text = cloison_tests::session::quiet_config().replace(
        "from = \"low\"\nto = \"high\"\nclipboard = \"allow\"\nfiles = \"confirm\"",
        &format!(
            "from = \"low\"\nto = \"high\"\nclipboard = \"allow\"\nfiles = \"{flow_files}\"{extra}"
        ),
    );
    assert!(text.contains(&format!("files = \"{flow_files}\"")));
    let path = dir.join("cloison.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn confirmed_files_arrive_byte_identical_escape_sends_nothing_and_downward_is_denied() {
    let mut s = Session::start(&["--size", "1280x800"]).unwrap();
    let big = noise(256 << 20, 7);
    put(&s, "low", "big.bin", &big);
    put(&s, "low", "notes.txt", "héllo\n".as_bytes());
    put(&s, "low", "empty", b"");
    std::fs::create_dir(s.home("low").join("dir")).unwrap();
    put(&s, "low", "dir/inner.txt", b"inside");
    std::os::unix::fs::chown(s.home("low").join("dir"), Some(2_000_000), Some(2_000_000)).unwrap();

    // Escape: nothing is delivered.
    send_async(&s, "low", "notes.txt");
    wait_dialog(&mut s);
    key(&mut s, "Escape");
    read_when_done(&s.home("low").join("send.done"));
    assert!(!incoming(&s).join("notes.txt").exists());
    assert!(
        std::fs::read_to_string(s.home("low").join("send.log"))
            .unwrap()
            .contains("the user refused")
    );

    // Enter: every file, byte-identical, the target's, mode 0640.
    send_async(&s, "low", "-r notes.txt empty big.bin dir");
    wait_dialog(&mut s);
    key(&mut s, "Return");
    read_when_done(&s.home("low").join("send.done"));
    let log = std::fs::read_to_string(s.home("low").join("send.log")).unwrap();
    assert_eq!(
        std::fs::read_to_string(s.home("low").join("send.status"))
            .unwrap()
            .trim(),
        "0",
        "{log}"
    );
    for (name, bytes) in [
        ("notes.txt", "héllo\n".as_bytes()),
        ("empty", b"".as_slice()),
        ("dir/inner.txt", b"inside".as_slice()),
    ] {
        let path = incoming(&s).join(name);
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.mode() & 0o777),
            (HIGH_UID, 0o640),
            "{name}"
        );
    }
    let got = std::fs::read(incoming(&s).join("big.bin")).unwrap();
    assert!(got == big, "the 256 MiB file differs");
    // The audit: one record per file, with its hash.
    let records = audit(&s);
    let delivered: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["outcome"] == "delivered")
        .collect();
    assert_eq!(delivered.len(), 4);
    let big_record = delivered.iter().find(|r| r["name"] == "big.bin").unwrap();
    assert_eq!(big_record["size"], 256 << 20);
    assert_eq!(big_record["delivered_as"], "big.bin");

    // Downward: denied, nothing written, recorded.
    put(&s, "high", "secret.txt", b"secret");
    let (status, log) = send(&s, "high", "secret.txt");
    assert_eq!(status, 1, "{log}");
    assert!(log.contains("denied by the policy"), "{log}");
    assert!(!s.home("low").join("Incoming").exists());
    let last = audit(&s).pop().unwrap();
    assert_eq!(
        (last["decision"].as_str(), last["from"].as_str()),
        (Some("deny"), Some("high"))
    );
}

#[test]
fn a_sender_that_leaves_takes_its_dialog_away_and_one_nobody_answers_is_withdrawn() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        "confirm",
        "\n\n[files]\nconfirm_timeout_ms = 5000",
    );
    let mut s =
        Session::start(&["--size", "1280x800", "--config", config.to_str().unwrap()]).unwrap();
    let socket = s.socket("low").with_file_name("manager.sock");
    let file = |name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, b"from low").unwrap();
        std::fs::File::open(path).unwrap()
    };

    // The sender leaves while its dialog is up (Ctrl+C on cloison-send): the dialog goes at
    // once, the refusal is recorded, and nothing is delivered.
    let stream = UnixStream::connect(&socket).unwrap();
    let left = file("left.txt");
    cloison_ipc::level::send_files(
        &stream,
        Some("high".into()),
        &[("left.txt".into(), left.as_fd())],
    )
    .unwrap();
    wait_dialog(&mut s);
    drop(stream);
    wait_until("the dialog to go", || !dialog_up(&mut s));
    wait_until("the record", || {
        audit(&s).iter().any(|r| {
            r["event"] == "confirm"
                && r["name"] == "left.txt"
                && r["outcome"] == "cancelled: the sender left"
        })
    });

    // The level may ask again at once (its first question is over); nobody answers: after
    // the timeout the dialog is withdrawn and the sender told why.
    let late = file("late.txt");
    let sender = std::thread::spawn(move || raw_send_to(&socket, &[("late.txt", late)]));
    wait_dialog(&mut s);
    let events = sender.join().unwrap();
    let reasons: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            ManagerEvent::File {
                name,
                outcome,
                reason,
                ..
            } => Some(format!(
                "{name} {outcome}: {}",
                reason.clone().unwrap_or_default()
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        ["late.txt denied: no answer within 5 s"],
        "{events:?}"
    );
    assert!(matches!(
        events.last(),
        Some(ManagerEvent::Done {
            delivered: 0,
            failed: 1
        })
    ));
    s.wait_notified("Files from LOW to HIGH: no answer within 5 s, not sent");
    assert!(!dialog_up(&mut s), "the dialog was withdrawn");
    // A Return meant for the withdrawn dialog answers nothing.
    key(&mut s, "Return");
    assert!(!incoming(&s).join("late.txt").exists() && !incoming(&s).join("left.txt").exists());
    assert!(audit(&s).iter().any(|r| {
        r["event"] == "confirm"
            && r["name"] == "late.txt"
            && r["outcome"] == "not asked any more: no answer within 5 s"
    }));
}

#[test]
fn the_target_cannot_redirect_a_delivery_with_symlinks_fifos_or_a_swapped_folder() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), "allow", "");
    let s = Session::start(&["--config", config.to_str().unwrap()]).unwrap();
    put(&s, "low", "a.txt", b"payload");
    let high = s.home("high");
    let chown = |p: &Path| std::os::unix::fs::lchown(p, Some(HIGH_UID), Some(HIGH_UID)).unwrap();

    // ~/Incoming is a symlink to /: refused, nothing written anywhere.
    std::os::unix::fs::symlink("/", high.join("Incoming")).unwrap();
    chown(&high.join("Incoming"));
    let (status, log) = send(&s, "low", "a.txt");
    assert_eq!(status, 1, "{log}");
    assert!(log.contains("not usable"), "{log}");
    assert!(!Path::new("/low").exists() && !Path::new("/a.txt").exists());
    std::fs::remove_file(high.join("Incoming")).unwrap();

    // ~/Incoming/low is a symlink to /etc, then to the other level's home: refused.
    std::fs::create_dir(high.join("Incoming")).unwrap();
    chown(&high.join("Incoming"));
    for target in [PathBuf::from("/etc"), s.home("low")] {
        std::os::unix::fs::symlink(&target, high.join("Incoming/low")).unwrap();
        let (status, log) = send(&s, "low", "a.txt");
        assert_eq!(status, 1, "{log}");
        assert!(!target.join("a.txt").exists() || target == s.home("low"));
        std::fs::remove_file(high.join("Incoming/low")).unwrap();
    }
    assert!(!Path::new("/etc/a.txt").exists());

    // The final name taken by a symlink and a FIFO: neither is followed or opened.
    std::fs::create_dir(high.join("Incoming/low")).unwrap();
    chown(&high.join("Incoming/low"));
    std::os::unix::fs::symlink("/etc/cloison-pwned", high.join("Incoming/low/a.txt")).unwrap();
    nix::unistd::mkfifo(
        &high.join("Incoming/low/a (1).txt"),
        nix::sys::stat::Mode::from_bits_truncate(0o666),
    )
    .unwrap();
    let (status, log) = send(&s, "low", "a.txt");
    assert_eq!(status, 0, "{log}");
    assert!(log.contains("delivered as a (2).txt"), "{log}");
    assert!(!Path::new("/etc/cloison-pwned").exists());
    assert_eq!(
        std::fs::read(high.join("Incoming/low/a (2).txt")).unwrap(),
        b"payload"
    );

    // The folder swapped for a symlink to /etc while a large file is being copied: the copy
    // goes on in the folder it opened (moved aside), nothing reaches /etc.
    let big = noise(256 << 20, 3);
    put(&s, "low", "big.bin", &big);
    send_async(&s, "low", "big.bin");
    wait_until("the copy to start", || {
        std::fs::read_dir(high.join("Incoming/low"))
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".part"))
            })
            .unwrap_or(false)
    });
    std::fs::rename(high.join("Incoming/low"), high.join("Incoming/moved")).unwrap();
    std::os::unix::fs::symlink("/etc", high.join("Incoming/low")).unwrap();
    read_when_done(&s.home("low").join("send.done"));
    assert!(!Path::new("/etc/big.bin").exists());
    assert!(std::fs::read(high.join("Incoming/moved/big.bin")).unwrap() == big);
}

/// A hostile sender: speaks the manager protocol on low's socket itself.
fn raw_send(s: &Session, files: &[(&str, std::fs::File)]) -> Vec<ManagerEvent> {
    raw_send_to(&s.socket("low").with_file_name("manager.sock"), files)
}

fn raw_send_to(socket: &Path, files: &[(&str, std::fs::File)]) -> Vec<ManagerEvent> {
    let stream = UnixStream::connect(socket).unwrap();
    let named: Vec<(String, _)> = files
        .iter()
        .map(|(n, f)| (n.to_string(), f.as_fd()))
        .collect();
    // A request refused whole ends before all its files are sent: the answer says why.
    let _ = cloison_ipc::level::send_files(&stream, Some("high".into()), &named);
    cloison_ipc::level::answers(&stream)
        .map_while(Result::ok)
        .collect()
}

fn outcomes(events: &[ManagerEvent]) -> Vec<(String, String, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match e {
            ManagerEvent::File {
                name,
                outcome,
                delivered_as,
                ..
            } => Some((name.clone(), outcome.clone(), delivered_as.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn hostile_names_fifos_devices_shrinking_files_and_too_many_files_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), "allow", "\nfiles_max_count = 5");
    let s = Session::start(&["--config", config.to_str().unwrap()]).unwrap();
    let file = |bytes: &[u8]| {
        let path = dir
            .path()
            .join(format!("f{}", noise(4, bytes.len() as u64)[0]));
        std::fs::write(&path, bytes).unwrap();
        std::fs::File::open(&path).unwrap()
    };
    // Longer than a file name may be (255 bytes), within PATH_MAX (a longer one is refused
    // whole: tests/tests/hostile.rs).
    let long = "x".repeat(4000) + ".txt";
    let events = raw_send(
        &s,
        &[
            ("../../x", file(b"1")),
            ("a\nb", file(b"22")),
            ("\u{202e}fdp.exe", file(b"333")),
            (&long, file(b"4444")),
        ],
    );
    let got = outcomes(&events);
    assert_eq!(got.len(), 4, "{events:?}");
    assert!(got.iter().all(|(_, o, _)| o == "delivered"), "{got:?}");
    let names: Vec<String> = got.iter().map(|(_, _, d)| d.clone().unwrap()).collect();
    assert_eq!(names[0], "_/_/x");
    assert_eq!(names[1], "ab");
    assert_eq!(names[2], "fdp.exe");
    assert!(
        names[3].len() <= 200 && names[3].ends_with(".txt"),
        "{}",
        names[3]
    );
    assert_eq!(std::fs::read(incoming(&s).join("_/_/x")).unwrap(), b"1");
    assert!(!s.home("high").join("x").exists() && !s.home("high").join("Incoming/x").exists());
    // The original names are in the audit log.
    assert!(audit(&s).iter().any(|r| r["name"] == "a\nb"));

    // A FIFO and a device are refused, without the manager ever blocking on them.
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo_fd = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let events = raw_send(
        &s,
        &[
            ("fifo", fifo_fd),
            ("zero", std::fs::File::open("/dev/zero").unwrap()),
        ],
    );
    let got = outcomes(&events);
    assert_eq!(
        got.iter().map(|(_, o, _)| o.as_str()).collect::<Vec<_>>(),
        ["refused", "refused"]
    );

    // More files than the limit: the whole request is refused.
    let many: Vec<(String, std::fs::File)> =
        (0..6).map(|i| (format!("m{i}"), file(b"m"))).collect();
    let refs: Vec<(&str, std::fs::File)> = many
        .into_iter()
        .map(|(n, f)| (Box::leak(n.into_boxed_str()) as &str, f))
        .collect();
    let events = raw_send(&s, &refs);
    assert!(
        matches!(events.last(), Some(ManagerEvent::Error(m)) if m.contains("at most 5")),
        "{events:?}"
    );
    assert!(!incoming(&s).join("m0").exists());

    // Files that shrink or grow while they are copied: failed, nothing left. The change is
    // made once the copy has begun (its temporary file exists).
    type Change = fn(&std::fs::File);
    let changes: [(&str, Change); 2] = [
        ("shrinking", |f| f.set_len(1000).unwrap()),
        ("growing", |mut f| {
            use std::io::{Seek as _, Write as _};
            f.seek(std::io::SeekFrom::End(0)).unwrap();
            f.write_all(&[7u8; 1 << 20]).unwrap();
        }),
    ];
    for (name, change) in changes {
        let path = dir.path().join(name);
        std::fs::write(&path, noise(256 << 20, 11)).unwrap();
        let source = std::fs::File::open(&path).unwrap();
        let socket = s.socket("low").with_file_name("manager.sock");
        let sender = std::thread::spawn(move || raw_send_to(&socket, &[(name, source)]));
        wait_until("the copy to begin", || {
            std::fs::read_dir(incoming(&s))
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().ends_with(".part"))
                })
                .unwrap_or(false)
        });
        change(&std::fs::OpenOptions::new().write(true).open(&path).unwrap());
        let events = sender.join().unwrap();
        let got = outcomes(&events);
        assert_eq!(got[0].1, "failed", "{name}: {events:?}");
        assert!(!incoming(&s).join(name).exists(), "{name}");
        let leftovers: Vec<String> = std::fs::read_dir(incoming(&s))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty(), "{name}: {leftovers:?}");
        let record = audit(&s)
            .into_iter()
            .rev()
            .find(|r| r["name"] == name)
            .unwrap();
        assert!(
            record["outcome"].as_str().unwrap().starts_with("failed"),
            "{record}"
        );
    }
}

use std::os::unix::fs::OpenOptionsExt as _;

#[test]
fn a_full_target_disk_leaves_no_partial_file_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), "allow", "");
    let s = Session::start(&["--config", config.to_str().unwrap()]).unwrap();
    let high = s.home("high");
    // High's home on a 2 MiB file system.
    nix::mount::mount(
        Some("tmpfs"),
        &high,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some(format!("size=2m,uid={HIGH_UID},gid={HIGH_UID},mode=0700").as_str()),
    )
    .unwrap();
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _unmount = Unmount(high.clone());
    put(&s, "low", "big.bin", &noise(5 << 20, 5));
    let (status, log) = send(&s, "low", "big.bin");
    assert_eq!(status, 1, "{log}");
    assert!(log.contains("no space left"), "{log}");
    let left: Vec<String> = std::fs::read_dir(high.join("Incoming/low"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let _ = std::fs::Permissions::from_mode(0o600);
}

/// A transfer long enough to show in the bar (a large sparse file: reading its holes costs
/// no disk, writing them does), cancelled with `cloison ctl cancel-transfer` and then with a
/// click on the bar. Nothing is left in the incoming folder either way.
#[test]
fn a_long_transfer_shows_progress_in_the_bar_and_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        "allow",
        "\nfiles_max_file_bytes = 68719476736\nfiles_max_total_bytes = 68719476736",
    );
    let mut s = Session::start(&["--config", config.to_str().unwrap()]).unwrap();
    let huge = put(&s, "low", "huge.bin", b"");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&huge)
        .unwrap()
        .set_len(32 << 30)
        .unwrap();
    let width = s.status().unwrap().output.width;
    for how in ["ctl", "bar"] {
        send_async(&s, "low", "huge.bin");
        let mut shown = None;
        wait_until("the transfer in the bar", || {
            shown = s.status().unwrap().transfer;
            shown.is_some()
        });
        let shown = shown.unwrap();
        assert!(
            shown.text.starts_with("Sending 34.36 GB to HIGH: ") && shown.text.ends_with('%'),
            "{shown:?}"
        );
        let log = std::fs::read_to_string(s.home("low").join("send.log")).unwrap();
        assert!(
            log.contains(&format!("transfer {}:", shown.id)),
            "cloison-send names the transfer: {log}"
        );
        match how {
            "ctl" => {
                let out = s
                    .cloison()
                    .args(["ctl", "cancel-transfer", &shown.id.to_string()])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
            }
            _ => {
                s.input(InputEvent::PointerMove {
                    x: f64::from(width) / 2.0,
                    y: 10.0,
                })
                .unwrap();
                s.input(InputEvent::Click {
                    button: cloison_ipc::Button::Left,
                })
                .unwrap();
            }
        }
        read_when_done(&s.home("low").join("send.done"));
        let status = std::fs::read_to_string(s.home("low").join("send.status")).unwrap();
        let log = std::fs::read_to_string(s.home("low").join("send.log")).unwrap();
        assert_eq!(status.trim(), "1", "{how}: {log}");
        assert!(log.contains("cancelled"), "{how}: {log}");
        let left: Vec<_> = std::fs::read_dir(incoming(&s)).unwrap().flatten().collect();
        assert!(left.is_empty(), "{how}: left behind {left:?}");
        wait_until("the bar to drop the transfer", || {
            s.status().unwrap().transfer.is_none()
        });
        let record = audit(&s).into_iter().last().unwrap();
        assert_eq!(record["name"], "huge.bin");
        assert!(
            record["outcome"].as_str().unwrap().starts_with("cancelled"),
            "{record}"
        );
        // A transfer that is not running cannot be cancelled.
        let out = s
            .cloison()
            .args(["ctl", "cancel-transfer", &shown.id.to_string()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no transfer"));
    }
}

/// One audit rule for every flow: the record of an operation is written (and synced) before
/// anything reaches the other level, and an operation whose record cannot be written is
/// refused. Here the audit log's file system is full: a paste and a transfer are refused, and
/// nothing reaches high; once there is room again, the log still verifies and both work.
#[test]
fn an_audit_log_that_cannot_be_written_refuses_pastes_and_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    // The audit log on a 1 MiB file system.
    nix::mount::mount(
        Some("tmpfs"),
        &state,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m,mode=0700"),
    )
    .unwrap();
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _unmount = Unmount(state.clone());
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/cloison.toml"
    ))
    .unwrap()
    .replacen("files = \"confirm\"", "files = \"allow\"", 1);
    let config = dir.path().join("allow.toml");
    std::fs::write(&config, text).unwrap();
    let mut s = Session::start_default_with(
        &["--config", config.to_str().unwrap()],
        &[("XDG_STATE_HOME", state.to_str().unwrap())],
    )
    .unwrap();
    s.wait_terminals();
    put(&s, "low", "c", b"words from low");
    put(&s, "low", "doc.txt", b"a document from low");
    put(&s, "high", "c", b"high's own");
    s.wl_copy("high", "c", false);
    s.wl_copy("low", "c", false);
    s.key("ctrl+shift+c");
    s.wait_notified("Copied 14 B text from LOW");
    let log = state.join("cloison/audit.jsonl");
    let records = std::fs::read_to_string(&log).unwrap();

    // Fill the file system, then what is left in the log's last page (room for a few more
    // records: tmpfs gives space by pages).
    let filler = state.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 << 10];
    while std::io::Write::write_all(&mut file, &block).is_ok() {}
    let mut tail = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut slack = 0;
    while std::io::Write::write_all(&mut tail, b" ").is_ok() {
        slack += 1;
    }
    drop((file, tail));

    s.focus("high");
    s.key("ctrl+shift+v");
    s.wait_notified("The audit log cannot be written");
    assert_eq!(
        s.wl_paste("high", false),
        b"high's own",
        "nothing reached high"
    );
    let (status, sent) = send(&s, "low", "doc.txt");
    assert_eq!(status, 1, "{sent}");
    assert!(sent.contains("the audit log cannot be written"), "{sent}");
    assert!(
        !incoming(&s).exists() || std::fs::read_dir(incoming(&s)).unwrap().next().is_none(),
        "nothing in high's Incoming"
    );
    // What could not be written was not half-written: the log is as it was.
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        records.clone() + &" ".repeat(slack)
    );

    // Room again: both work, and the log verifies.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(records.len() as u64)
        .unwrap();
    std::fs::remove_file(&filler).unwrap();
    s.focus("high");
    s.key("ctrl+shift+v");
    wait_until("the paste", || {
        s.wl_paste("high", false) == b"words from low"
    });
    let (status, sent) = send(&s, "low", "doc.txt");
    assert_eq!(status, 0, "{sent}");
    assert_eq!(
        std::fs::read(incoming(&s).join("doc.txt")).unwrap(),
        b"a document from low"
    );
    let verify = s
        .cloison()
        .args(["audit", "verify"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
}
