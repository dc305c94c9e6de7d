//! Each level's notifications, end to end with the real `notify-send` (libnotify): it talks to
//! `org.freedesktop.Notifications` on the level's own bus (`cloison-notifyd`), which hands the
//! notification over the level's manager socket; the compositor shows it with the level's
//! badge and colour, sanitised; a click's action reaches only the level that sent it; a flood
//! is held back and counted.

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use cloison_ipc::level::{ManagerRequest, Notification};
use cloison_ipc::{Button, InputEvent, NotificationStatus, Status};
use cloison_tests::session::{Session, external, read_when_done, wait_until};

/// `notify-send ARGS` in `level` until the level's notification service has taken the bus name
/// (it starts with the level), its output and status in `~/NAME`, then `done`.
fn notify_send(s: &Session, level: &str, name: &str, args: &[&str]) {
    let _ = external("notify-send");
    let mut argv = vec![
        "/bin/bash",
        "-c",
        "out=~/$1; shift; for i in $(seq 100); do notify-send \"$@\" >> $out 2>&1 && break; sleep 0.1; done; echo \"status $?\" >> $out; echo done >> $out",
        "notify",
        name,
    ];
    argv.extend_from_slice(args);
    s.spawn_in(level, &argv);
}

fn shown(status: &Status) -> &[NotificationStatus] {
    &status.notifications.shown
}

use cloison_tests::ui::level_colour as colour;

fn click(s: &mut Session, x: i32, y: i32) {
    s.input(InputEvent::PointerMove {
        x: f64::from(x),
        y: f64::from(y),
    })
    .unwrap();
    s.input(InputEvent::Click {
        button: Button::Left,
    })
    .unwrap();
}

#[test]
fn notify_send_in_each_level_shows_its_badge_and_colour_and_hostile_text_is_tamed() {
    let mut s = Session::start(&[]).expect("session");
    notify_send(
        &s,
        "low",
        "low-sent",
        &["-a", "mail", "Low says", "hello from low"],
    );
    notify_send(
        &s,
        "high",
        "high-sent",
        &["-a", "mail", "High says", "hello from high"],
    );
    let status = s
        .wait_for("a card from each level", |st| {
            shown(st).iter().any(|c| c.level == "low")
                && shown(st).iter().any(|c| c.level == "high")
        })
        .unwrap();
    let shot = s.screenshot().unwrap();
    for card in shown(&status) {
        let g = &card.geometry;
        assert_eq!(
            shot.rgb(g.x + 2, g.y + g.height / 2),
            colour(&status, &card.level),
            "the left edge of {card:?}"
        );
        assert_eq!(card.app, "mail");
        assert_eq!(card.body, [format!("hello from {}", card.level)]);
    }
    assert!(read_when_done(&s.home("low").join("low-sent")).contains("status 0"));

    // Markup, an RTL override, controls and 10,000 characters: plain, cleaned, capped.
    let long = "x".repeat(10_000);
    let summary = "<b>bold</b> <a href=\"http://evil\">link</a> \u{202e}gpj.exe\u{7}\u{1b}[31m";
    notify_send(&s, "low", "low-hostile", &["-a", "evil", summary, &long]);
    let status = s
        .wait_for("the hostile card", |st| {
            shown(st).iter().any(|c| c.app == "evil")
        })
        .unwrap();
    let card = shown(&status).iter().find(|c| c.app == "evil").unwrap();
    assert!(
        card.summary
            .starts_with("<b>bold</b> <a href=\"http://evil\">link</a> "),
        "markup shown as written: {}",
        card.summary
    );
    assert!(
        !card
            .summary
            .chars()
            .any(|c| c.is_control() || c == '\u{202e}'),
        "{:?}",
        card.summary
    );
    assert_eq!(card.body.len(), 1);
    assert!(card.body[0].chars().count() <= 200 && card.body[0].ends_with('…'));
    assert!(
        card.geometry.height < 200,
        "one line of body, not 10,000 characters"
    );
    assert_eq!(card.level, "low", "the level is the socket's");
}

#[test]
fn an_action_reaches_only_the_level_that_sent_it() {
    let mut s = Session::start(&[]).expect("session");
    // Each waits for its notification's end (`--wait`), printing the action chosen.
    for level in ["low", "high"] {
        notify_send(
            &s,
            level,
            &format!("{level}-action"),
            &["--wait", "-A", "default=Open", &format!("{level} asks")],
        );
    }
    let status = s.wait_for("both cards", |st| shown(st).len() == 2).unwrap();
    let low = shown(&status)
        .iter()
        .find(|c| c.level == "low")
        .unwrap()
        .clone();
    assert!(low.actions.contains(&"default".to_string()), "{low:?}");
    // (A click as the stack changes does nothing: both cards have been up a while first.)
    std::thread::sleep(Duration::from_millis(600));
    click(&mut s, low.geometry.x + 60, low.geometry.y + 40);
    let out = read_when_done(&s.home("low").join("low-action"));
    assert!(out.lines().any(|l| l == "default"), "{out}");
    // High's notify-send heard nothing: it still waits, its card still shows.
    std::thread::sleep(Duration::from_millis(700));
    let high_out = std::fs::read_to_string(s.home("high").join("high-action")).unwrap_or_default();
    assert!(
        !high_out.contains("default") && !high_out.contains("done"),
        "{high_out}"
    );
    let status = s.status().unwrap();
    let high = shown(&status)
        .iter()
        .find(|c| c.level == "high")
        .unwrap()
        .clone();
    // Its × dismisses it: high's notify-send ends without an action.
    click(
        &mut s,
        high.geometry.x + high.geometry.width - 12,
        high.geometry.y + 12,
    );
    let out = read_when_done(&s.home("high").join("high-action"));
    assert!(!out.contains("default"), "{out}");
}

#[test]
fn a_flood_from_low_is_held_back_and_counted_and_high_still_shows() {
    let mut s = Session::start(&[]).expect("session");
    // The attacker in low talks to its manager socket directly: 1,000 notifications at once.
    let socket = s.socket("low").with_file_name("manager.sock");
    let stream = UnixStream::connect(&socket).expect("connect");
    let mut batch = Vec::new();
    for id in 1..=1000u32 {
        let request = ManagerRequest::Notify {
            id,
            notification: Notification {
                app: "flood".into(),
                summary: format!("flood {id}"),
                body: String::new(),
                urgency: 2,
                expire_ms: Some(0),
                actions: Vec::new(),
            },
        };
        let body = serde_json::to_vec(&request).unwrap();
        batch.extend_from_slice(&(body.len() as u32).to_le_bytes());
        batch.extend_from_slice(&0u32.to_le_bytes());
        batch.extend_from_slice(&body);
    }
    (&stream).write_all(&batch).expect("write");
    let status = s
        .wait_for("the flood counted", |st| {
            st.notifications
                .counts
                .iter()
                .any(|c| c.contains("more held back"))
        })
        .unwrap();
    // A burst shows, the rest are one counted line, and the compositor holds a bounded number.
    assert!(shown(&status).len() <= 5, "{:?}", status.notifications);
    assert!(status.notifications.held <= 16);
    wait_until("every held-back one counted", || {
        let st = s.status().unwrap();
        st.notifications.counts.iter().any(|c| {
            c.split(' ')
                .next()
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n >= 980)
        })
    });
    // High is not held back by low's flood.
    notify_send(
        &s,
        "high",
        "high-sent",
        &["-u", "critical", "High still speaks"],
    );
    s.wait_for("high's card, newest on top", |st| {
        st.notifications
            .shown
            .first()
            .is_some_and(|c| c.level == "high")
    })
    .unwrap();
    let st = s.status().unwrap();
    assert!(st.notifications.held <= 17);
    assert!(
        read_when_done(&s.home("high").join("high-sent")).contains("status 0"),
        "high's notify-send was answered"
    );
    drop(stream);
}
