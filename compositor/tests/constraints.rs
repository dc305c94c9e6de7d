//! Pointer constraints against a hostile low level: a lock or confinement never takes the
//! pointer past the window that asked for it, never keeps it from another level's window,
//! and never holds again after the user took it back, until the user clicks in that window.

mod fixture;

use cloison_ipc::{Button, InputEvent};
use cloison_tests::client::Event;
use fixture::Fixture;

const BLUE: u32 = 0xff10_20c0;
const GREY: u32 = 0xff80_8080;

fn held(f: &Fixture) -> Option<String> {
    f.status().pointer.held_by
}

fn move_by(f: &mut Fixture, dx: f64, dy: f64) {
    f.inject(InputEvent::PointerMoveBy { dx, dy });
}

fn pointer(f: &Fixture) -> (f64, f64) {
    let p = f.status().pointer;
    (p.x, p.y)
}

fn inside(p: (f64, f64), g: &cloison_ipc::Rect) -> bool {
    p.0 >= g.x as f64
        && p.1 >= g.y as f64
        && p.0 < (g.x + g.width) as f64
        && p.1 < (g.y + g.height) as f64
}

/// A low window whose surface is far larger than the window (a viewport stretches it; its
/// window geometry says 300x200): confined, the pointer stays in the 300x200 the window
/// shows, and high's window beside it gets the pointer and the click.
#[test]
fn a_confinement_ends_at_the_window_not_at_an_oversized_surface() {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    f.map_window(high, (300, 200), BLUE, "high-win");
    f.place("high-win", 700, 200);
    let low = f.add_client("low");
    let lw = f.clients[low].create_window("big", "big");
    f.roundtrip(low);
    f.clients[low].set_viewport_destination(lw, 3000, 3000);
    f.clients[low].data.windows[lw]
        .xdg_surface
        .set_window_geometry(0, 0, 300, 200);
    f.clients[low].draw(lw, (1, 1), GREY).unwrap();
    f.roundtrip(low);
    f.frame();
    f.place("big", 100, 200);
    let g = f.window_by_app("big").geometry;
    assert_eq!((g.width, g.height), (300, 200), "{g:?}");
    f.click_at(250.0, 300.0);
    assert_eq!(f.status().focused_level.as_deref(), Some("low"));
    let surface = f.clients[low].data.windows[lw].surface.clone();
    let _c = f.clients[low].constrain_pointer(&surface, false).unwrap();
    f.roundtrip(low);
    assert_eq!(held(&f).as_deref(), Some("low"));
    assert!(f.clients[low].data.events.contains(&Event::ConstraintHeld));

    for (dx, dy) in [(2000.0, 0.0), (2000.0, 2000.0), (-3000.0, -3000.0)] {
        move_by(&mut f, dx, dy);
        assert!(
            inside(pointer(&f), &g),
            "({dx}, {dy}): {:?} left {g:?}",
            pointer(&f)
        );
    }
    // The user takes the pointer back and goes to high's window: high gets it, and its click.
    f.inject(InputEvent::Key {
        chord: "super+Escape".into(),
    });
    let h = f.window_by_app("high-win").geometry;
    f.inject(InputEvent::PointerMove {
        x: (h.x + 50) as f64,
        y: (h.y + 50) as f64,
    });
    f.inject(InputEvent::Click {
        button: Button::Left,
    });
    f.roundtrip(high);
    let high_events = &f.clients[high].data.events;
    assert!(
        high_events
            .iter()
            .any(|e| matches!(e, Event::Button { pressed: true, .. })),
        "high got its click"
    );
}

/// After Super+Escape, another surface of the same window (a subsurface under the pointer)
/// cannot take the pointer again by itself: nothing holds before the user clicks there.
#[test]
fn a_broken_hold_stays_broken_for_every_surface_of_the_window_until_a_click() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let lw = f.map_window(low, (400, 300), GREY, "game");
    f.place("game", 200, 200);
    let (sub, _subsurface) = f.clients[low]
        .subsurface_surface(lw, (0, 0), (400, 300), BLUE)
        .unwrap();
    f.roundtrip(low);
    f.frame();
    f.click_at(400.0, 350.0);
    let main = f.clients[low].data.windows[lw].surface.clone();
    // Locks on both the window's surface and its subsurface.
    let _a = f.clients[low].constrain_pointer(&main, true).unwrap();
    let _b = f.clients[low].constrain_pointer(&sub, true).unwrap();
    f.roundtrip(low);
    assert_eq!(held(&f).as_deref(), Some("low"));
    let before = pointer(&f);
    move_by(&mut f, 500.0, 500.0);
    assert_eq!(pointer(&f), before, "locked: the pointer does not move");

    f.inject(InputEvent::Key {
        chord: "super+Escape".into(),
    });
    assert_eq!(held(&f), None);
    // The client unmaps the subsurface the pointer was on: the pointer is now over the
    // window's own surface, which has a lock of its own. Nothing holds.
    sub.attach(None, 0, 0);
    sub.commit();
    f.clients[low].data.windows[lw].surface.commit();
    f.roundtrip(low);
    f.frame();
    move_by(&mut f, 5.0, 5.0);
    move_by(&mut f, -5.0, -5.0);
    assert_eq!(held(&f), None, "no hold before a click");
    // A click in the window: it may hold again.
    f.inject(InputEvent::Click {
        button: Button::Left,
    });
    f.roundtrip(low);
    assert_eq!(held(&f).as_deref(), Some("low"));
}

/// A client that destroys its lock: the bar and the status stop saying the pointer is held,
/// without the pointer moving.
#[test]
fn a_destroyed_lock_is_not_reported_as_holding() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let lw = f.map_window(low, (400, 300), GREY, "game");
    f.place("game", 200, 200);
    f.click_at(400.0, 350.0);
    let main = f.clients[low].data.windows[lw].surface.clone();
    let lock = f.clients[low].constrain_pointer(&main, true).unwrap();
    f.roundtrip(low);
    assert_eq!(held(&f).as_deref(), Some("low"));
    lock.destroy();
    f.roundtrip(low);
    f.frame();
    assert_eq!(held(&f), None);
}
