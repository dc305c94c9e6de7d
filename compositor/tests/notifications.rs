//! The notification stack in the compositor: cards in their level's colour, clicks that go
//! back by the launcher's id and reach no client, nothing over the lock screen or a dialog,
//! and expiry that starts only once a card has been seen.

mod fixture;

use std::time::Duration;

use cloison_compositor::ui::dialog::ARMING;
use cloison_ipc::level::Notification;
use cloison_ipc::session::{ToCompositor, ToLauncher};
use cloison_tests::client::Event;
use fixture::{Fixture, pixel};

const BLUE: u32 = 0xff10_20c0;

fn note(summary: &str, actions: &[(&str, &str)]) -> Notification {
    Notification {
        app: "mail".into(),
        summary: summary.into(),
        body: "body".into(),
        urgency: 1,
        expire_ms: None,
        actions: actions
            .iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect(),
    }
}

fn show(f: &mut Fixture, id: u64, level: &str, n: Notification) {
    f.state.from_launcher(ToCompositor::Notification {
        id,
        level: level.into(),
        notification: n,
    });
    f.frame();
}

fn rgb(c: cloison_config::Color) -> (u8, u8, u8) {
    (c.r, c.g, c.b)
}

#[test]
fn a_card_shows_in_its_levels_colour_and_its_clicks_reach_no_client() {
    let mut f = Fixture::new();
    // A window of high under where the stack goes: it must not hear the clicks.
    let high = f.add_client("high");
    f.map_window(high, (760, 500), BLUE, "under");
    f.place("under", 20, 40);
    show(&mut f, 7, "low", note("from low", &[("default", "Open")]));
    show(&mut f, 8, "high", note("from high", &[]));
    let status = f.status();
    let cards = &status.notifications.shown;
    assert_eq!(cards.len(), 2, "{cards:?}");
    // Newest on top.
    assert_eq!(
        (cards[0].level.as_str(), cards[1].level.as_str()),
        ("high", "low")
    );
    let shot = f.capture();
    let config = f.state.config.clone();
    for card in cards {
        let colour = config.level(&card.level).unwrap().color;
        let g = &card.geometry;
        assert_eq!(
            pixel(&shot, g.x + 2, g.y + g.height / 2),
            rgb(colour),
            "{card:?}"
        );
    }

    // A click as the stack changes does nothing: it was aimed at what was there before.
    let low = cards[1].geometry;
    let before = f.state.launcher.unsent.len();
    f.click_at(f64::from(low.x + 60), f64::from(low.y + 40));
    assert_eq!(
        f.state.launcher.unsent.len(),
        before,
        "a click as a card appeared acted"
    );
    assert_eq!(f.status().notifications.shown.len(), 2);
    // A click on low's card is its default action, sent back by the launcher's id; the card
    // goes, dismissed; the window under it heard nothing.
    std::thread::sleep(ARMING);
    f.click_at(f64::from(low.x + 60), f64::from(low.y + 40));
    let sent: Vec<_> = f
        .state
        .launcher
        .unsent
        .iter()
        .rev()
        .take(2)
        .cloned()
        .collect();
    assert!(
        sent.contains(&ToLauncher::NotificationAction {
            id: 7,
            key: "default".into()
        }),
        "{sent:?}"
    );
    assert!(
        sent.contains(&ToLauncher::NotificationClosed { id: 7, reason: 2 }),
        "{sent:?}"
    );
    f.roundtrip(high);
    assert!(
        !f.clients[high]
            .data
            .events
            .iter()
            .any(|e| matches!(e, Event::Button { .. })),
        "a click on the stack reached the window under it"
    );
    // High's card has no default action: a click dismisses it (its × too).
    let card = f.status().notifications.shown[0].clone();
    assert_eq!(card.id, 8);
    std::thread::sleep(ARMING);
    f.click_at(
        f64::from(card.geometry.x + card.geometry.width - 12),
        f64::from(card.geometry.y + 12),
    );
    assert!(f.status().notifications.shown.is_empty());
    assert_eq!(
        f.state.launcher.unsent.last(),
        Some(&ToLauncher::NotificationClosed { id: 8, reason: 2 })
    );
}

#[test]
fn nothing_shows_over_the_lock_or_a_dialog_and_time_starts_once_seen() {
    let mut f = Fixture::new();
    f.state.lock_screen("test");
    let mut quick = note("while locked", &[]);
    quick.expire_ms = Some(300);
    show(&mut f, 1, "low", quick);
    assert!(f.status().notifications.shown.is_empty());
    // The lock screen alone: no level colour anywhere along the stack's column.
    let shot = f.capture();
    let low = rgb(f.state.config.levels[0].color);
    let w = f.state.output_geometry().size.w;
    for y in (40..200).step_by(10) {
        assert_ne!(
            pixel(&shot, w - 380, y),
            low,
            "a card over the lock at y {y}"
        );
    }
    // Long after its time, still there: it has not been seen.
    std::thread::sleep(Duration::from_millis(500));
    f.settle();
    assert_eq!(f.status().notifications.held, 1);

    // Unlocked (the launcher's answer to a password), it shows, then goes after its time.
    f.state.ui.lock.checking = true;
    f.state.from_launcher(ToCompositor::UnlockResult {
        accepted: true,
        message: None,
        retry_after_ms: 0,
    });
    f.frame();
    assert_eq!(f.status().notifications.shown.len(), 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while f.status().notifications.held > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        f.settle();
    }
    assert_eq!(f.status().notifications.held, 0, "it never expired");
    assert_eq!(
        f.state.launcher.unsent.last(),
        Some(&ToLauncher::NotificationClosed { id: 1, reason: 1 })
    );

    // A dialog in front: the stack steps aside, and comes back when it goes.
    show(&mut f, 2, "high", note("behind a dialog", &[]));
    f.state.from_launcher(ToCompositor::ConfirmFiles {
        id: 3,
        from: "low".into(),
        to: "high".into(),
        files: vec![("a.txt".into(), 1)],
        total: 1,
    });
    if f.state.ui.dialog.is_none() {
        // (A request of a level without the keyboard waits in the bar: open it.)
        f.state.open_waiting_dialog();
    }
    f.frame();
    assert!(f.state.ui.dialog.is_some());
    assert!(f.status().notifications.shown.is_empty());
    f.state.from_launcher(ToCompositor::Withdraw {
        dialog: cloison_ipc::session::DialogId::Files(3),
    });
    f.frame();
    assert_eq!(f.status().notifications.shown.len(), 1);
}

#[test]
fn do_not_disturb_keeps_all_but_critical_cards_off_the_screen() {
    let mut f = Fixture::new();
    let w = f.state.output_geometry().size.w;
    let (x, width) = cloison_compositor::ui::bar::quiet_button(w);
    // (The bar's button is not the stack: it takes a click at once.)
    f.click_at(f64::from(x + width / 2), 10.0);
    assert!(f.status().notifications.quiet);
    show(&mut f, 1, "low", note("quiet please", &[]));
    assert!(f.status().notifications.shown.is_empty());
    let mut urgent = note("disk failing", &[]);
    urgent.urgency = 2;
    show(&mut f, 2, "high", urgent);
    let shown = f.status().notifications.shown;
    assert_eq!(shown.len(), 1);
    assert!(shown[0].critical && shown[0].id == 2);
    // Off again: what waited shows.
    f.click_at(f64::from(x + width / 2), 10.0);
    assert!(!f.status().notifications.quiet);
    f.frame();
    assert_eq!(f.status().notifications.shown.len(), 2);
}

#[test]
fn a_replacement_keeps_its_place_and_a_flood_is_counted_not_stacked() {
    let mut f = Fixture::new();
    show(&mut f, 1, "low", note("first", &[]));
    show(&mut f, 2, "low", note("second", &[]));
    show(&mut f, 1, "low", note("first, updated", &[]));
    let shown = f.status().notifications.shown;
    assert_eq!(shown.len(), 2);
    assert!(shown.iter().any(|c| c.summary == "first, updated"));
    f.state.from_launcher(ToCompositor::NotificationsHeld {
        level: "low".into(),
        count: 996,
    });
    f.frame();
    let status = f.status();
    assert!(
        status
            .notifications
            .counts
            .iter()
            .any(|c| c.starts_with("996 more")),
        "{:?}",
        status.notifications.counts
    );
    // The app withdrew one.
    f.state
        .from_launcher(ToCompositor::CloseNotification { id: 2 });
    assert_eq!(f.status().notifications.shown.len(), 1);
}

/// Not a test: prints how long high's frames take while low floods notifications (run with
/// `--ignored --nocapture`; docs/benchmarks.md quotes it). Three cases: none; after a flood of
/// 1,000 as the launcher passes it on (a burst of 10 cards, the rest one counted line); and the
/// worst the compositor can be given, a new card every frame (its stack re-drawn each time).
#[test]
#[ignore]
fn measure_high_frames_under_a_notification_flood() {
    fn median(
        f: &mut Fixture,
        high: usize,
        w: usize,
        mut each: impl FnMut(&mut Fixture, u32),
    ) -> f64 {
        let mut times = Vec::new();
        for i in 0..60u32 {
            let b = f.clients[high]
                .create_buffer(200, 150, 0xff00_0000 | i)
                .unwrap();
            f.clients[high].attach(w, b);
            each(f, i);
            f.settle();
            let t = std::time::Instant::now();
            f.state.redraw();
            times.push(t.elapsed().as_secs_f64() * 1e6);
            f.settle();
        }
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    }
    let setup = || {
        let mut f = Fixture::new();
        let high = f.add_client("high");
        let w = f.map_window(high, (200, 150), BLUE, "steady");
        f.frame();
        (f, high, w)
    };
    let (mut f, high, w) = setup();
    let none = median(&mut f, high, w, |_, _| {});
    let (mut f, high, w) = setup();
    for id in 1..=10 {
        show(&mut f, id, "low", note(&format!("flood {id}"), &[]));
    }
    f.state.from_launcher(ToCompositor::NotificationsHeld {
        level: "low".into(),
        count: 990,
    });
    let after = median(&mut f, high, w, |_, _| {});
    let (mut f, high, w) = setup();
    let churn = median(&mut f, high, w, |f, i| {
        f.state.from_launcher(ToCompositor::Notification {
            id: u64::from(i) + 1,
            level: "low".into(),
            notification: note(&format!("flood {i}"), &[("reply", "Reply")]),
        });
    });
    #[allow(clippy::disallowed_macros)]
    {
        println!("high's frame, median of 60: no notifications {none:.0} µs");
        println!(
            "  after 1,000 from low, as the launcher passes them on: {after:.0} µs ({:.2}x)",
            after / none
        );
        println!(
            "  a new card every frame (no rate limit): {churn:.0} µs ({:.2}x)",
            churn / none
        );
    }
}
