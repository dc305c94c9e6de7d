//! The compositor's half of the cross-level clipboard, in process: what a copy reads from a
//! client's selection, its timeout and size cap, a newer copy cancelling an older one, a paste
//! served to the target level only, and the confirmation dialog.

mod fixture;

use std::io::{Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use cloison_compositor::ui::dialog::ARMING;
use cloison_ipc::InputEvent;
use cloison_ipc::session::{DialogId, ToCompositor, ToLauncher};
use cloison_tests::client::Event;
use fixture::{Fixture, pixel};

const BLUE: u32 = 0xff10_20c0;

fn chord(f: &mut Fixture, chord: &str) {
    f.inject(InputEvent::Key {
        chord: chord.into(),
    });
}

/// A client of `level` with a focused window and a data device.
fn focused_client(f: &mut Fixture, level: &str, app: &str) -> usize {
    let c = f.add_client(level);
    f.clients[c].bind_data_device().unwrap();
    f.roundtrip(c);
    f.map_window(c, (200, 120), BLUE, app);
    let g = f.window_by_app(app).geometry;
    f.click_at((g.x + g.width - 10) as f64, (g.y + g.height - 10) as f64);
    assert_eq!(
        f.status().focused_level.as_deref(),
        Some(level),
        "{app} has the keyboard"
    );
    c
}

/// Runs the server until `pred` holds or `timeout` passes (timers need real time).
fn run_until(
    f: &mut Fixture,
    timeout: Duration,
    mut pred: impl FnMut(&mut Fixture) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        f.settle();
        if pred(f) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn copied(f: &Fixture) -> Vec<(u64, String, u64)> {
    f.state
        .launcher
        .unsent
        .iter()
        .filter_map(|m| match m {
            ToLauncher::Copied {
                op, level, size, ..
            } => Some((*op, level.clone(), *size)),
            _ => None,
        })
        .collect()
}

fn failed(f: &Fixture) -> Vec<String> {
    f.state
        .launcher
        .unsent
        .iter()
        .filter_map(|m| match m {
            ToLauncher::CopyFailed { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

fn answer(f: &mut Fixture, c: usize, text: &[u8]) {
    let (_, fd) = f.clients[c].data.sends.remove(0);
    std::fs::File::from(fd).write_all(text).unwrap();
}

#[test]
fn a_copy_reads_the_focused_levels_selection_and_the_chord_never_reaches_the_client() {
    let mut f = Fixture::new();
    let low = focused_client(&mut f, "low", "l");
    f.clients[low]
        .offer_selection(&["text/plain", "text/plain;charset=utf-8"])
        .unwrap();
    f.settle();
    let keys_before = f.clients[low].key_events().len();
    chord(&mut f, "ctrl+shift+c");
    // The best text type was asked for.
    assert!(
        f.clients[low].data.events.contains(&Event::DataSend {
            mime_type: "text/plain;charset=utf-8".into()
        }),
        "{:?}",
        f.clients[low].data.events
    );
    answer(&mut f, low, "héllo 🌍".as_bytes());
    assert!(run_until(&mut f, Duration::from_secs(2), |f| !copied(f).is_empty()));
    assert_eq!(copied(&f)[0].1, "low");
    assert_eq!(copied(&f)[0].2, "héllo 🌍".len() as u64);
    // Only the modifiers reached the client, never the c.
    let keys: Vec<u32> = f.clients[low].key_events()[keys_before..]
        .iter()
        .filter_map(|e| match e {
            Event::Key { key, .. } => Some(*key),
            _ => None,
        })
        .collect();
    assert!(!keys.contains(&46), "KEY_C delivered: {keys:?}");
}

#[test]
fn a_silent_source_times_out_an_oversized_one_is_refused_and_a_newer_copy_wins() {
    let mut config = cloison_config::Config::builtin();
    config.clipboard.timeout_ms = 200;
    config.clipboard.max_bytes = 1000;
    let mut f = Fixture::with_config(config);
    let low = focused_client(&mut f, "low", "l");
    f.clients[low].offer_selection(&["text/plain"]).unwrap();
    f.settle();

    // Never answers: cut off at the timeout.
    chord(&mut f, "ctrl+shift+c");
    assert!(run_until(&mut f, Duration::from_secs(3), |f| !failed(f).is_empty()));
    assert_eq!(failed(&f), ["timeout"]);
    assert!(!f.state.clipboard.copying());
    f.clients[low].data.sends.clear();

    // Too big: refused, never truncated.
    chord(&mut f, "ctrl+shift+c");
    answer(&mut f, low, &[b'x'; 1001]);
    assert!(run_until(&mut f, Duration::from_secs(2), |f| failed(f)
        .len()
        == 2));
    assert_eq!(failed(&f)[1], "oversize");
    assert!(copied(&f).is_empty());

    // A slow answer to an older copy loses to a newer one; the next copy works.
    chord(&mut f, "ctrl+shift+c");
    let (_, slow) = f.clients[low].data.sends.remove(0);
    chord(&mut f, "ctrl+shift+c");
    answer(&mut f, low, b"new");
    assert!(run_until(&mut f, Duration::from_secs(2), |f| !copied(f).is_empty()));
    let late = std::fs::File::from(slow).write_all(b"old and late");
    assert!(late.is_err(), "the older copy's pipe is closed");
    f.settle();
    assert_eq!(copied(&f).len(), 1);
    assert_eq!(copied(&f)[0].2, 3);
}

/// What the launcher would send: a paste of `text` into `level` for the pending op.
fn allow_paste(f: &mut Fixture, level: &str, text: &[u8]) {
    let (op, _, _) = f.state.clipboard.pending_paste.expect("a paste request");
    let fd =
        nix::sys::memfd::memfd_create(c"t", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC).unwrap();
    let mut file = std::fs::File::from(fd);
    file.write_all(text).unwrap();
    f.state.paste_allowed(
        op,
        level,
        vec!["text/plain;charset=utf-8".into(), "text/plain".into()],
        text.len() as u64,
        OwnedFd::from(file),
    );
    f.settle();
}

#[test]
fn an_allowed_paste_is_served_to_the_target_level_only() {
    let mut f = Fixture::new();
    let low = focused_client(&mut f, "low", "l");
    let high = focused_client(&mut f, "high", "h");
    chord(&mut f, "ctrl+shift+v");
    assert!(matches!(
        f.state.launcher.unsent.last(),
        Some(ToLauncher::PasteRequest { level, .. }) if level == "high"
    ));
    let text = "line one\nline two ✓";
    allow_paste(&mut f, "high", text.as_bytes());
    // High's focused client sees a clipboard with text, and reads exactly the bytes.
    let offered = f.clients[high]
        .data
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Selection { mime_types } => Some(mime_types.clone()),
            _ => None,
        });
    assert!(offered.unwrap().contains(&"text/plain".to_string()));
    let mut pipe = f.clients[high].receive_selection("text/plain").unwrap();
    f.settle();
    let mut got = String::new();
    pipe.read_to_string(&mut got).unwrap();
    assert_eq!(got, text);
    // Low learns nothing of it.
    assert!(
        !f.clients[low]
            .data
            .events
            .iter()
            .any(|e| matches!(e, Event::Selection { mime_types } if !mime_types.is_empty())),
        "low was offered a selection"
    );
    // A stale answer (another op) changes nothing.
    let stale =
        nix::sys::memfd::memfd_create(c"x", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC).unwrap();
    f.state
        .paste_allowed(999, "low", vec!["text/plain".into()], 1, stale);
    assert!(
        f.state
            .clipboard
            .served(cloison_compositor::state::LevelId(0))
            .is_none()
    );
}

#[test]
fn the_confirmation_dialog_is_modal_and_only_real_input_answers_it() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let _high = focused_client(&mut f, "high", "h");
    chord(&mut f, "ctrl+shift+v");
    let (op, _, _) = f.state.clipboard.pending_paste.unwrap();
    f.state.from_launcher(ToCompositor::Confirm {
        op,
        from: "low".into(),
        to: "high".into(),
        mime: "text/plain;charset=utf-8".into(),
        size: 5,
        preview: "hel⟨U+202E⟩lo".into(),
    });
    assert!(f.state.ui.dialog.is_some());
    f.frame();
    let shot = f.capture();
    let area =
        cloison_compositor::ui::dialog::ConfirmDialog::geometry(f.state.output_geometry().size);
    let config = f.state.config.clone();
    let rgb = |c: cloison_config::Color| (c.r, c.g, c.b);
    assert_eq!(
        pixel(&shot, area.loc.x + 10, area.loc.y + 2),
        rgb(config.levels[0].color)
    );
    assert_eq!(
        pixel(&shot, area.loc.x + area.size.w - 10, area.loc.y + 2),
        rgb(config.levels[1].color)
    );
    // A low window mapping now gets no focus; a click elsewhere changes nothing.
    f.map_window(low, (100, 80), BLUE, "newcomer");
    assert_eq!(f.status().focused_level.as_deref(), Some("high"));
    f.click_at(5.0, (f.state.output_geometry().size.h - 5) as f64);
    assert!(f.state.ui.dialog.is_some());
    // A key pressed as it appears (meant for the window under it) does not answer it.
    chord(&mut f, "Escape");
    assert!(f.state.ui.dialog.is_some(), "answered before it was armed");
    // Once it has been on screen for ARMING, Escape refuses.
    std::thread::sleep(ARMING);
    chord(&mut f, "Escape");
    assert!(f.state.ui.dialog.is_none());
    assert!(matches!(
        f.state.launcher.unsent.last(),
        Some(ToLauncher::ConfirmAnswer { accept: false, .. })
    ));
    // Again, and Return accepts.
    chord(&mut f, "ctrl+shift+v");
    let (op, _, _) = f.state.clipboard.pending_paste.unwrap();
    f.state.from_launcher(ToCompositor::Confirm {
        op,
        from: "low".into(),
        to: "high".into(),
        mime: "text/plain;charset=utf-8".into(),
        size: 5,
        preview: "hello".into(),
    });
    chord(&mut f, "Return");
    assert!(
        f.state.ui.dialog.is_some(),
        "a Return typed on as it appeared"
    );
    std::thread::sleep(ARMING);
    chord(&mut f, "Return");
    assert!(matches!(
        f.state.launcher.unsent.last(),
        Some(ToLauncher::ConfirmAnswer { accept: true, dialog: DialogId::Paste(o) }) if *o == op
    ));
    assert_eq!(f.status().focused_level.as_deref(), Some("high"));
}

#[test]
fn a_transfer_request_from_a_level_without_the_keyboard_waits_in_the_bar() {
    let mut f = Fixture::new();
    let _low = focused_client(&mut f, "low", "l");
    let high = focused_client(&mut f, "high", "h");
    let files = [("report.pdf".to_string(), 1000u64)];
    // Low asks while the user works in high: no dialog, high keeps the keyboard and its keys.
    f.state.from_launcher(ToCompositor::ConfirmFiles {
        id: 41,
        from: "low".into(),
        to: "high".into(),
        files: files.to_vec(),
        total: 1000,
    });
    assert!(f.state.ui.dialog.is_none());
    f.clients[high].data.events.clear();
    f.inject(InputEvent::Key {
        chord: "Return".into(),
    });
    assert!(
        f.clients[high]
            .key_events()
            .iter()
            .any(|e| matches!(e, Event::Key { pressed: true, .. })),
        "high got the Return"
    );
    assert_eq!(f.status().focused_level.as_deref(), Some("high"));
    // A second request from low replaces the first, which is refused.
    f.state.from_launcher(ToCompositor::ConfirmFiles {
        id: 42,
        from: "low".into(),
        to: "high".into(),
        files: files.to_vec(),
        total: 1000,
    });
    assert_eq!(f.state.ui.dialogs_waiting.len(), 1);
    assert!(matches!(
        f.state.launcher.unsent.last(),
        Some(ToLauncher::ConfirmAnswer {
            dialog: DialogId::Files(41),
            accept: false
        })
    ));
    // The bar says so; a click there opens it, armed after ARMING.
    f.frame();
    f.click_at(400.0, 10.0);
    assert_eq!(
        f.state.ui.dialog.as_ref().map(|d| d.id),
        Some(DialogId::Files(42))
    );
    chord(&mut f, "Return");
    assert!(f.state.ui.dialog.is_some(), "not armed yet");
    std::thread::sleep(ARMING);
    chord(&mut f, "Return");
    assert!(matches!(
        f.state.launcher.unsent.last(),
        Some(ToLauncher::ConfirmAnswer {
            dialog: DialogId::Files(42),
            accept: true
        })
    ));
    // Asked from the level that has the keyboard, the dialog shows at once.
    f.state.from_launcher(ToCompositor::ConfirmFiles {
        id: 43,
        from: "high".into(),
        to: "low".into(),
        files: files.to_vec(),
        total: 1000,
    });
    assert_eq!(
        f.state.ui.dialog.as_ref().map(|d| d.id),
        Some(DialogId::Files(43))
    );
}

#[test]
fn a_source_writes_a_large_content_into_an_ordinary_blocking_pipe() {
    let mut config = cloison_config::Config::builtin();
    config.clipboard.max_bytes = 4 << 20;
    let mut f = Fixture::with_config(config);
    let low = focused_client(&mut f, "low", "l");
    f.clients[low].offer_selection(&["text/plain"]).unwrap();
    f.settle();
    chord(&mut f, "ctrl+shift+c");
    let (_, fd) = f.clients[low].data.sends.remove(0);
    // Like most apps: a plain blocking write of everything (3 MiB, more than any pipe holds).
    let writer =
        std::thread::spawn(move || std::fs::File::from(fd).write_all(&vec![b'z'; 3 << 20]));
    assert!(run_until(&mut f, Duration::from_secs(5), |f| !copied(f).is_empty()));
    assert!(writer.join().unwrap().is_ok(), "the source's write failed");
    assert_eq!(copied(&f)[0].2, 3 << 20);
}

/// Found in review: a level sending transfer requests in a loop, with the keyboard, put a
/// new modal dialog in front as soon as the user answered the last one, so the user could
/// never get away. After two refusals its requests wait behind the bar line.
#[test]
fn a_loop_of_transfer_requests_cannot_keep_a_dialog_in_front() {
    let mut f = Fixture::new();
    let _low = focused_client(&mut f, "low", "l");
    let files = [("loop.txt".to_string(), 1u64)];
    let ask = |f: &mut Fixture, id: u64| {
        f.state.from_launcher(ToCompositor::ConfirmFiles {
            id,
            from: "low".into(),
            to: "high".into(),
            files: files.to_vec(),
            total: 1,
        })
    };
    for id in 1..=2 {
        ask(&mut f, id);
        assert_eq!(
            f.state.ui.dialog.as_ref().map(|d| d.id),
            Some(DialogId::Files(id)),
            "asked with the keyboard: shown at once"
        );
        std::thread::sleep(ARMING);
        chord(&mut f, "Escape");
        assert!(f.state.ui.dialog.is_none());
    }
    ask(&mut f, 3);
    assert!(f.state.ui.dialog.is_none(), "the third waits");
    assert_eq!(f.state.ui.dialogs_waiting.len(), 1);
    assert_eq!(f.status().focused_level.as_deref(), Some("low"));
}

/// Found in review: a level that asks and leaves (its question withdrawn before the user
/// can answer) kept a modal dialog up without ever being refused. Withdrawn questions that
/// were on screen count as refusals: after two, its requests wait behind the bar line.
#[test]
fn a_loop_of_asking_and_leaving_cannot_keep_a_dialog_in_front() {
    let mut f = Fixture::new();
    let _low = focused_client(&mut f, "low", "l");
    let files = [("loop.txt".to_string(), 1u64)];
    for id in 1..=2 {
        f.state.from_launcher(ToCompositor::ConfirmFiles {
            id,
            from: "low".into(),
            to: "high".into(),
            files: files.to_vec(),
            total: 1,
        });
        assert!(f.state.ui.dialog.is_some(), "shown at once");
        f.state.from_launcher(ToCompositor::Withdraw {
            dialog: DialogId::Files(id),
        });
        assert!(f.state.ui.dialog.is_none(), "withdrawn");
    }
    f.state.from_launcher(ToCompositor::ConfirmFiles {
        id: 3,
        from: "low".into(),
        to: "high".into(),
        files: files.to_vec(),
        total: 1,
    });
    assert!(f.state.ui.dialog.is_none(), "the third waits");
    assert_eq!(f.state.ui.dialogs_waiting.len(), 1);
    // Withdrawn while waiting: gone from the bar line too.
    f.state.from_launcher(ToCompositor::Withdraw {
        dialog: DialogId::Files(3),
    });
    assert!(f.state.ui.dialogs_waiting.is_empty());
}

/// A launcher that stops reading never stalls the compositor, and gets every message whole
/// and in order once it reads again (frames wait in a bounded queue, never torn).
#[test]
fn a_launcher_that_reads_slowly_gets_every_message_whole_and_in_order() {
    use cloison_ipc::channel::{self, Receiver};
    let mut f = Fixture::new();
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    cloison_compositor::launcher_link::connect(&mut f.state, theirs).unwrap();
    // About 2 MB: far more than the socket holds.
    let reason = "r".repeat(1000);
    for op in 0..2000u64 {
        f.state.launcher.send(ToLauncher::CopyFailed {
            op,
            level: "low".into(),
            reason: reason.clone(),
            mime: None,
            size: op,
        });
    }
    f.dispatch_server();
    assert!(f.state.launcher.unsent.is_empty(), "queued, not dropped");
    // The compositor still serves its clients meanwhile.
    let low = f.add_client("low");
    f.map_window(low, (100, 100), 0xff0000ff, "low");
    let reader = std::thread::spawn(move || {
        let mut receiver = Receiver::new(channel::SESSION);
        let mut got = Vec::new();
        while got.len() < 2000 {
            if receiver.fill(&ours).unwrap() == channel::Fill::Closed {
                break;
            }
            while let Some(frame) = receiver.next_frame().unwrap() {
                got.push(frame.decode::<ToLauncher>().unwrap().0);
            }
        }
        got
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        f.dispatch_server();
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let got = reader.join().unwrap();
    assert_eq!(got.len(), 2000);
    for (i, message) in got.iter().enumerate() {
        assert!(
            matches!(message, ToLauncher::CopyFailed { op, reason: r, .. } if *op == i as u64 && *r == reason),
            "message {i} is whole and in order"
        );
    }
}
