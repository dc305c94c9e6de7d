//! The idle lock and idle inhibitors: a level may hold the idle lock off (a video playing)
//! only with a window on screen; minimised, its inhibitor counts for nothing.

mod fixture;

use std::time::{Duration, Instant};

use cloison_config::Config;
use cloison_ipc::InputEvent;
use fixture::Fixture;

const BLUE: u32 = 0xff10_20c0;

/// Runs the server for `how_long` (timers need real time).
fn run_for(f: &mut Fixture, how_long: Duration) {
    let end = Instant::now() + how_long;
    while Instant::now() < end {
        f.settle();
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_window_on_screen_holds_the_idle_lock_off_and_a_minimised_one_does_not() {
    let mut config = Config::builtin();
    config.lock.idle_lock_secs = 1;
    let mut f = Fixture::with_config(config);
    f.state.start_idle_lock();
    let c = f.add_client("low");
    let w = f.map_window(c, (200, 120), BLUE, "video");
    let g = f.window_by_app("video").geometry;
    f.click_at((g.x + 10) as f64, (g.y + 10) as f64);
    assert!(f.clients[c].inhibit_idle(w), "the global is offered");
    f.settle();
    run_for(&mut f, Duration::from_millis(2500));
    assert!(!f.status().locked, "a window on screen held the lock off");

    // Minimised, it holds nothing: the screen locks within an idle time or two.
    f.inject(InputEvent::Key {
        chord: "super+Down".into(),
    });
    assert!(
        f.status().windows.iter().all(|w| w.app_id != "video"),
        "minimised"
    );
    let deadline = Instant::now() + Duration::from_secs(4);
    while !f.status().locked && Instant::now() < deadline {
        run_for(&mut f, Duration::from_millis(50));
    }
    assert!(f.status().locked, "a minimised window held the lock off");
}

#[test]
fn without_inhibitors_the_idle_lock_comes() {
    let mut config = Config::builtin();
    config.lock.idle_lock_secs = 1;
    let mut f = Fixture::with_config(config);
    f.state.start_idle_lock();
    let c = f.add_client("low");
    f.map_window(c, (200, 120), BLUE, "plain");
    let deadline = Instant::now() + Duration::from_secs(4);
    while !f.status().locked && Instant::now() < deadline {
        run_for(&mut f, Duration::from_millis(50));
    }
    assert!(f.status().locked);
}

/// A fixture whose launcher end is a socket pair kept open (a launcher that never answers).
fn with_launcher(f: &mut Fixture) -> std::os::unix::net::UnixStream {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    cloison_compositor::launcher_link::connect(&mut f.state, theirs).unwrap();
    ours
}

/// Found in review: a dialog a level raised while the screen was locked was armed long before
/// the user saw it, so the Enter that unlocked could answer it; and it kept the lock chord
/// from working.
#[test]
fn a_dialog_never_comes_up_under_the_lock_and_never_keeps_the_screen_from_locking() {
    use cloison_ipc::session::{DialogId, ToCompositor};
    let mut f = Fixture::new();
    let _launcher = with_launcher(&mut f);
    let c = f.add_client("low");
    f.map_window(c, (200, 120), BLUE, "l");
    let g = f.window_by_app("l").geometry;
    f.click_at((g.x + 10) as f64, (g.y + 10) as f64);
    let ask = |f: &mut Fixture, id: u64| {
        f.state.from_launcher(ToCompositor::ConfirmFiles {
            id,
            from: "low".into(),
            to: "high".into(),
            files: vec![("a.txt".into(), 1)],
            total: 1,
        })
    };
    // A dialog up: the lock chord still locks.
    ask(&mut f, 1);
    assert!(f.state.ui.dialog.is_some());
    f.inject(InputEvent::Key {
        chord: "super+l".into(),
    });
    assert!(f.status().locked, "a dialog kept the screen from locking");
    // Locked: a new request waits behind the bar line.
    f.state.from_launcher(ToCompositor::Withdraw {
        dialog: DialogId::Files(1),
    });
    ask(&mut f, 2);
    assert!(
        f.state.ui.dialog.is_none(),
        "a dialog came up under the lock"
    );
    assert_eq!(f.state.ui.dialogs_waiting.len(), 1);
}

/// Found in review: a window mapped under the still pointer while locked gave the pointer to
/// its client.
#[test]
fn a_window_appearing_under_the_pointer_while_locked_gets_no_pointer() {
    let mut f = Fixture::new();
    let _launcher = with_launcher(&mut f);
    f.inject(InputEvent::PointerMove { x: 400.0, y: 300.0 });
    f.state.lock_screen("test");
    let c = f.add_client("low");
    f.map_window(c, (600, 400), BLUE, "under");
    f.frame();
    f.settle();
    assert!(
        f.clients[c].pointer_events().is_empty(),
        "{:?}",
        f.clients[c].pointer_events()
    );
}
