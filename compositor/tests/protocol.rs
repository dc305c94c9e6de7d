//! Fine-grained protocol behaviour of the real compositor state, driven in process.

mod fixture;

use cloison_compositor::ui::{BAR_HEIGHT, BORDER, TITLE_HEIGHT};
use cloison_ipc::InputEvent;
use cloison_tests::client::Event;
use fixture::{Fixture, H, W, pixel};

const RED: u32 = 0xffc0_1010;
const BLUE: u32 = 0xff10_20c0;
const GREEN: u32 = 0xff10_b020;

fn seats_seen(f: &Fixture, c: usize) -> Vec<u32> {
    f.clients[c]
        .data
        .globals
        .iter()
        .filter(|(_, iface, _)| iface == "wl_seat")
        .map(|(name, _, _)| *name)
        .collect()
}

#[test]
fn each_level_sees_only_its_own_seat() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let high = f.add_client("high");
    let low_seats = seats_seen(&f, low);
    let high_seats = seats_seen(&f, high);
    assert_eq!(low_seats.len(), 1, "low sees exactly one seat");
    assert_eq!(high_seats.len(), 1, "high sees exactly one seat");
    assert_ne!(
        low_seats, high_seats,
        "the levels' seats are different globals"
    );
    assert!(
        f.clients[low]
            .data
            .events
            .contains(&Event::SeatName("low".into()))
    );
    assert!(
        f.clients[high]
            .data
            .events
            .contains(&Event::SeatName("high".into()))
    );
    // The seat has pointer (1), keyboard (2) and touch (4) capabilities even with no device
    // (headless).
    assert!(
        f.clients[low]
            .data
            .events
            .contains(&Event::SeatCapabilities(7))
    );
}

#[test]
fn binding_another_levels_seat_is_a_protocol_error() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let high = f.add_client("high");
    let high_seat = seats_seen(&f, high)[0];
    f.clients[low].bind_raw_seat(high_seat);
    let result = f.try_roundtrip(low);
    assert!(
        result.is_err(),
        "binding a hidden seat must kill the connection"
    );
    // The other level is unaffected.
    f.roundtrip(high);
}

#[test]
fn toplevel_configure_ack_and_map_centred() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    let w = f.clients[c].create_window("hello", "app.one");
    f.roundtrip(c);
    let events = &f.clients[c].data.events;
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::ToplevelConfigure {
                window: 0,
                width: 0,
                height: 0,
                ..
            }
        )),
        "initial configure lets the client choose its size: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Configure { window: 0, .. }))
    );
    assert!(f.status().windows.is_empty(), "not mapped before a buffer");

    f.clients[c].draw(w, (200, 100), RED).unwrap();
    f.roundtrip(c);
    let status = f.status();
    assert_eq!(status.windows.len(), 1);
    let win = &status.windows[0];
    assert_eq!(win.level, "low");
    assert_eq!(win.app_id, "app.one");
    assert_eq!(win.title, "hello");
    assert_eq!((win.geometry.width, win.geometry.height), (200, 100));
    // The frame (border all round, title bar on top) is centred below the trusted bar.
    let (ew, eh) = (2 * BORDER, 2 * BORDER + TITLE_HEIGHT);
    let outer = (
        (W - 200 - ew) / 2,
        BAR_HEIGHT + (H - BAR_HEIGHT - 100 - eh) / 2,
    );
    assert_eq!(
        (win.geometry.x, win.geometry.y),
        (outer.0 + BORDER, outer.1 + BORDER + TITLE_HEIGHT),
        "centred"
    );
    assert!(win.focused, "first window takes focus");
    assert_eq!(status.focused_level.as_deref(), Some("low"));

    // Second window cascades.
    f.map_window(c, (200, 100), BLUE, "app.two");
    let two = f.window_by_app("app.two");
    assert_eq!(
        (two.geometry.x, two.geometry.y),
        (win.geometry.x + 32, win.geometry.y + 32),
        "cascaded"
    );
}

#[test]
fn screenshot_shows_client_pixels_at_reported_geometry() {
    let mut f = Fixture::new();
    let c = f.add_client("high");
    f.map_window(c, (120, 80), RED, "red");
    f.frame();
    let win = f.window_by_app("red");
    let shot = f.capture();
    let g = win.geometry;
    assert_eq!(pixel(&shot, g.x, g.y), (0xc0, 0x10, 0x10));
    assert_eq!(
        pixel(&shot, g.x + g.width - 1, g.y + g.height - 1),
        (0xc0, 0x10, 0x10)
    );
    assert_ne!(
        pixel(&shot, g.x - 1, g.y),
        (0xc0, 0x10, 0x10),
        "nothing outside"
    );
    assert_ne!(
        pixel(&shot, g.x + g.width, g.y + g.height),
        (0xc0, 0x10, 0x10)
    );
}

#[test]
fn popup_is_constrained_to_the_output() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    let w = f.map_window(c, (300, 200), RED, "parent");
    let parent = f.window_by_app("parent").geometry;
    // Anchored at the parent's bottom-right, growing down-right: 400x400 would leave the
    // output; slide_x | slide_y (1 | 2) must bring it back.
    let p = f.clients[c].create_popup(w, (290, 190, 10, 10), (400, 400), 1 | 2);
    f.roundtrip(c);
    let (x, y, pw, ph) = f.clients[c]
        .data
        .events
        .iter()
        .find_map(|e| match e {
            Event::PopupConfigure {
                popup,
                x,
                y,
                width,
                height,
            } if *popup == p => Some((*x, *y, *width, *height)),
            _ => None,
        })
        .expect("popup configured");
    assert_eq!((pw, ph), (400, 400));
    let (gx, gy) = (parent.x + x, parent.y + y);
    assert!(
        gx >= 0 && gy >= BAR_HEIGHT,
        "popup at {gx},{gy} must stay below the bar"
    );
    assert!(
        gx + pw <= W && gy + ph <= H,
        "popup {gx},{gy} {pw}x{ph} leaves the {W}x{H} output"
    );

    // Without constraint adjustment, the popup goes where the positioner says.
    let q = f.clients[c].create_popup(w, (10, 10, 10, 10), (50, 40), 0);
    f.roundtrip(c);
    let pos = f.clients[c].data.events.iter().find_map(|e| match e {
        Event::PopupConfigure { popup, x, y, .. } if *popup == q => Some((*x, *y)),
        _ => None,
    });
    assert_eq!(pos, Some((20, 20)), "bottom-right of the anchor rect");

    // Mapped popups are drawn.
    f.clients[c].draw_popup(q, (50, 40), GREEN).unwrap();
    f.roundtrip(c);
    f.frame();
    let shot = f.capture();
    assert_eq!(
        pixel(&shot, parent.x + 25, parent.y + 25),
        (0x10, 0xb0, 0x20)
    );
}

#[test]
fn frame_callbacks_only_while_visible() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    let small = f.map_window(c, (100, 100), RED, "small");
    // A bigger opaque window on top covers the small one entirely.
    let big = f.map_window(c, (400, 400), BLUE, "big");
    let small_geo = f.window_by_app("small").geometry;
    let big_geo = f.window_by_app("big").geometry;
    assert!(big_geo.x <= small_geo.x && big_geo.y <= small_geo.y);
    assert!(big_geo.x + big_geo.width >= small_geo.x + small_geo.width);
    f.frame();

    let frames = |f: &Fixture, w: usize| f.clients[c].data.frames[w];
    let (s0, b0) = (frames(&f, small), frames(&f, big));
    f.clients[c].request_frame(small);
    f.clients[c].request_frame(big);
    f.settle();
    f.frame();
    f.frame();
    assert_eq!(frames(&f, big), b0 + 1, "the visible window gets its frame");
    assert_eq!(frames(&f, small), s0, "the hidden window gets none");

    // Minimize the big one: the small one is on screen again and gets its frame.
    f.clients[c].data.windows[big].toplevel.set_minimized();
    f.settle();
    f.frame();
    f.frame();
    assert_eq!(
        frames(&f, small),
        s0 + 1,
        "visible again: the pending frame is delivered"
    );
}

#[test]
fn buffers_are_released_when_replaced() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    let w = f.map_window(c, (64, 64), RED, "rel");
    f.frame();
    let first = 0;
    assert!(!f.clients[c].data.buffers[first].released);
    let second = f.clients[c].create_buffer(64, 64, BLUE).unwrap();
    f.clients[c].attach(w, second);
    f.settle();
    f.frame();
    assert!(
        f.clients[c].data.buffers[first].released,
        "the replaced buffer is released"
    );
    assert!(
        !f.clients[c].data.buffers[second].released,
        "the shown buffer is kept"
    );
}

#[test]
fn click_focuses_and_raises() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let high = f.add_client("high");
    f.map_window(low, (300, 300), RED, "low-win");
    f.map_window(high, (300, 300), BLUE, "high-win");
    // The high window opened while low had focus: it does not take the keyboard.
    assert_eq!(f.status().focused_level.as_deref(), Some("low"));
    let low_geo = f.window_by_app("low-win").geometry;
    let high_geo = f.window_by_app("high-win").geometry;

    // Click on a part of the high window not covered by anything.
    f.click_at(
        (high_geo.x + high_geo.width - 5) as f64,
        (high_geo.y + high_geo.height - 5) as f64,
    );
    let status = f.status();
    assert_eq!(status.focused_level.as_deref(), Some("high"));
    assert_eq!(
        status.windows.last().unwrap().app_id,
        "high-win",
        "raised to the top"
    );
    assert!(
        f.clients[high]
            .data
            .events
            .contains(&Event::KeyboardEnter { window: 0 })
    );
    assert!(f.clients[low].data.events.contains(&Event::KeyboardLeave));

    // Click on the low window's uncovered corner.
    f.click_at((low_geo.x + 3) as f64, (low_geo.y + 3) as f64);
    assert_eq!(f.status().focused_level.as_deref(), Some("low"));
    assert_eq!(f.status().windows.last().unwrap().app_id, "low-win");

    // Click on the background: nobody has the keyboard.
    f.click_at(2.0, (H - 2) as f64);
    assert_eq!(f.status().focused_level, None);
}

#[test]
fn alt_tab_cycles_through_all_windows_most_recent_first() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let high = f.add_client("high");
    f.map_window(low, (100, 100), RED, "a");
    f.map_window(low, (100, 100), RED, "b");
    f.map_window(high, (100, 100), BLUE, "c");
    // a, then b (same level: takes focus); c (other level) opened without focus.
    let focused = |f: &Fixture| {
        f.status()
            .windows
            .into_iter()
            .find(|w| w.focused)
            .map(|w| w.app_id)
    };
    assert_eq!(focused(&f).as_deref(), Some("b"));

    f.inject(InputEvent::Key {
        chord: "alt+Tab".into(),
    });
    assert_eq!(
        focused(&f).as_deref(),
        Some("a"),
        "most recent other window"
    );
    f.inject(InputEvent::Key {
        chord: "alt+Tab".into(),
    });
    assert_eq!(focused(&f).as_deref(), Some("b"), "back to b");

    // Holding Alt and pressing Tab twice reaches the third window.
    let alt = 64; // KEY_LEFTALT + 8
    let tab = 23; // KEY_TAB + 8
    let t = f.state.now_ms();
    use cloison_compositor::input::Input::Key;
    f.input(Key {
        keycode: alt,
        pressed: true,
        time: t,
    });
    for _ in 0..2 {
        f.input(Key {
            keycode: tab,
            pressed: true,
            time: t,
        });
        f.input(Key {
            keycode: tab,
            pressed: false,
            time: t,
        });
    }
    f.input(Key {
        keycode: alt,
        pressed: false,
        time: t,
    });
    assert_eq!(focused(&f).as_deref(), Some("c"), "cycled across levels");
    assert_eq!(f.status().focused_level.as_deref(), Some("high"));

    // Tab never reached a client, Alt did (it was not a shortcut by itself).
    let tab_evdev = tab - 8;
    for client in [low, high] {
        assert!(
            !f.clients[client]
                .data
                .events
                .iter()
                .any(|e| matches!(e, Event::Key { key, .. } if *key == tab_evdev)),
            "Tab of Alt+Tab must not be delivered"
        );
    }
}

#[test]
fn typed_text_reaches_only_the_focused_level() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let high = f.add_client("high");
    f.map_window(low, (200, 200), RED, "low-win");
    f.map_window(high, (200, 200), BLUE, "high-win");
    let high_geo = f.window_by_app("high-win").geometry;
    f.click_at(
        (high_geo.x + high_geo.width - 3) as f64,
        (high_geo.y + high_geo.height - 3) as f64,
    );
    let low_keys_before = f.clients[low].key_events().len();
    f.inject(InputEvent::Type {
        text: "secret".into(),
    });
    let high_keys = f.clients[high]
        .data
        .events
        .iter()
        .filter(|e| matches!(e, Event::Key { pressed: true, .. }))
        .count();
    assert_eq!(high_keys, 6, "six key presses reach high");
    let new_low: Vec<_> = f.clients[low].key_events()[low_keys_before..].to_vec();
    assert!(new_low.is_empty(), "low learned nothing: {new_low:?}");
}

#[test]
fn a_client_that_truncates_its_pool_is_disconnected_and_others_carry_on() {
    let mut f = Fixture::new();
    let good = f.add_client("high");
    let bad = f.add_client("low");
    let gw = f.map_window(good, (100, 100), BLUE, "good");
    let bw = f.map_window(bad, (100, 100), RED, "bad");
    f.frame();
    let bad_buffer = f.clients[bad].data.buffers.len() - 1;
    f.clients[bad].truncate_buffer(bad_buffer).unwrap();
    // Attaching it again forces the compositor to read the truncated pool.
    f.clients[bad].attach(bw, bad_buffer);
    f.settle();
    f.frame();
    assert!(f.try_roundtrip(bad).is_err(), "the bad client is cut off");
    // wayland-server destroys a killed client's objects on its next dispatch with activity.
    f.roundtrip(good);
    assert_eq!(
        f.state.levels[0].client_count(),
        0,
        "low has no client left"
    );
    assert_eq!(
        f.state.wm.focus_order.len(),
        1,
        "its window left the focus order"
    );
    assert!(
        f.status().windows.iter().all(|w| w.app_id != "bad"),
        "its window is gone"
    );

    let before = f.clients[good].data.frames[gw];
    f.clients[good].request_frame(gw);
    f.settle();
    f.frame();
    assert_eq!(
        f.clients[good].data.frames[gw],
        before + 1,
        "the other client still gets frames"
    );
}

fn last_toplevel_configure(f: &Fixture, c: usize) -> (i32, i32, Vec<u32>) {
    f.clients[c]
        .data
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::ToplevelConfigure {
                width,
                height,
                states,
                ..
            } => Some((*width, *height, states.clone())),
            _ => None,
        })
        .expect("a toplevel configure")
}

const FULLSCREEN: u32 = 2;

#[test]
fn fullscreen_request_fills_the_output_when_the_level_allows_it() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    let w = f.map_window(c, (100, 100), RED, "fs");
    f.clients[c].data.windows[w].toplevel.set_fullscreen(None);
    f.roundtrip(c);
    let (width, height, states) = last_toplevel_configure(&f, c);
    // Everything but the bar, inside the level's border.
    assert_eq!(
        (width, height),
        (W - 2 * BORDER, H - BAR_HEIGHT - 2 * BORDER)
    );
    assert!(
        states.contains(&FULLSCREEN),
        "fullscreen state set: {states:?}"
    );
}

#[test]
fn fullscreen_request_is_refused_when_the_level_forbids_it() {
    let mut config = cloison_config::Config::builtin();
    config.levels[0].protocols.fullscreen = false;
    let mut f = Fixture::with_config(config);
    let c = f.add_client("low");
    let w = f.map_window(c, (100, 100), RED, "fs");
    let configures = |f: &Fixture| {
        f.clients[c]
            .data
            .events
            .iter()
            .filter(|e| matches!(e, Event::ToplevelConfigure { .. }))
            .count()
    };
    let before = configures(&f);
    f.clients[c].data.windows[w].toplevel.set_fullscreen(None);
    f.roundtrip(c);
    assert_eq!(configures(&f), before + 1, "the request is answered");
    let (_, _, states) = last_toplevel_configure(&f, c);
    assert!(!states.contains(&FULLSCREEN), "but not granted: {states:?}");
    assert_eq!(f.window_by_app("fs").geometry.width, 100);
}
