//! The hardening review's attacks on the compositor, each played by a test client of the low
//! level against the real `State`: sizes no compositor should trust, popups and cursors that
//! try to paint over other levels, grabs without user input, and clients that try to use up
//! what the compositor holds. Each failed (a panic, a covered frame, a stolen click, an
//! unbounded count) before the fix it guards.

mod fixture;

use cloison_compositor::limits::{MAX_EXTENT, Quota};
use cloison_compositor::ui::{BAR_HEIGHT, POPUP_BORDER};
use cloison_config::Config;
use cloison_ipc::{Button, InputEvent};
use cloison_tests::client::{Event, SurfaceRole};
use fixture::{Fixture, H, W, pixel};

const GREEN: (u8, u8, u8) = cloison_config::DEFAULT_LOW_COLOR.rgb8();
const BLUE: u32 = 0xff10_20c0;
const BLUE_RGB: (u8, u8, u8) = (0x10, 0x20, 0xc0);
const MAGENTA: u32 = 0xffff_00ff;
const MAGENTA_RGB: (u8, u8, u8) = (0xff, 0x00, 0xff);
const YELLOW: u32 = 0xffff_ff00;
const YELLOW_RGB: (u8, u8, u8) = (0xff, 0xff, 0x00);

/// Pixels of `rgb` in the whole capture, as (x, y).
fn find(shot: &cloison_compositor::backend::Capture, rgb: (u8, u8, u8)) -> Vec<(i32, i32)> {
    (0..H)
        .flat_map(|y| (0..W).map(move |x| (x, y)))
        .filter(|&(x, y)| pixel(shot, x, y) == rgb)
        .collect()
}

/// A high window that must keep drawing whatever low does: it is on screen and gets frames.
fn assert_high_draws(f: &mut Fixture, high: usize, window: usize) {
    let before = f.clients[high].data.frames[window];
    f.clients[high].request_frame(window);
    f.settle();
    f.frame();
    assert_eq!(
        f.clients[high].data.frames[window],
        before + 1,
        "high still gets frame callbacks"
    );
    let g = f.window_by_app("steady").geometry;
    let shot = f.capture();
    assert_eq!(
        pixel(&shot, g.x + g.width / 2, g.y + g.height / 2),
        BLUE_RGB,
        "high's window is on screen"
    );
}

/// A fixture with a high client drawing a steady window, and a low client (the attacker).
fn steady_high_and_low() -> (Fixture, usize, usize, usize) {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    let hw = f.map_window(high, (200, 150), BLUE, "steady");
    let low = f.add_client("low");
    (f, high, hw, low)
}

#[test]
fn a_window_thirty_million_pixels_wide_or_high_cuts_off_its_client_only() {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    let hw = f.map_window(high, (200, 150), BLUE, "steady");
    for (w, h) in [(30_000_000, 1), (1, 30_000_000)] {
        let low = f.add_client("low");
        let lw = f.clients[low].create_window("wide", "wide");
        f.roundtrip(low);
        let stride = w * 4;
        let buffer = f.clients[low]
            .create_sparse_buffer(stride * h, w, h, stride)
            .unwrap();
        f.clients[low].attach(lw, buffer);
        f.settle();
        f.frame();
        assert!(
            f.try_roundtrip(low).is_err(),
            "a {w}x{h} buffer cuts its client off"
        );
        f.roundtrip(high);
        assert_high_draws(&mut f, high, hw);
    }

    // The same size through a viewport (a 1x1 buffer stretched): the window is clamped, its
    // frame and title bar drawn at the clamped width, and its client stays.
    let low = f.add_client("low");
    let lw = f.clients[low].create_window("stretched", "stretched");
    f.roundtrip(low);
    f.clients[low].set_viewport_destination(lw, 30_000_000, 1);
    f.clients[low].draw(lw, (1, 1), BLUE).unwrap();
    f.roundtrip(low);
    f.frame();
    f.roundtrip(low);
    let g = f.window_by_app("stretched").geometry;
    assert_eq!((g.width, g.height), (MAX_EXTENT, 1), "clamped");
    assert_high_draws(&mut f, high, hw);
}

#[test]
fn a_two_gib_pool_is_survived_and_its_window_clamped() {
    let (mut f, high, hw, low) = steady_high_and_low();
    let lw = f.clients[low].create_window("big", "big");
    f.roundtrip(low);
    // A 2 GiB pool (the protocol's largest) and the largest buffer allowed in it: 1 GiB.
    let buffer = f.clients[low]
        .create_sparse_buffer(i32::MAX, MAX_EXTENT, MAX_EXTENT, MAX_EXTENT * 4)
        .unwrap();
    f.clients[low].attach(lw, buffer);
    f.settle();
    f.frame();
    f.roundtrip(low);
    let g = f.window_by_app("big").geometry;
    assert_eq!((g.width, g.height), (MAX_EXTENT, MAX_EXTENT));
    f.roundtrip(high);
    assert_high_draws(&mut f, high, hw);
}

#[test]
fn a_huge_popup_at_a_negative_offset_stays_inside_its_frame_and_below_the_bar() {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    f.map_window(high, (200, 150), BLUE, "steady");
    let low = f.add_client("low");
    let lw = f.map_window(low, (300, 200), BLUE, "owner");
    let g = f.window_by_app("owner").geometry;
    f.click_at((g.x + 10) as f64, (g.y + 10) as f64);
    // No constraint adjustment asked for; a window geometry claiming 6000x4000.
    let p =
        f.clients[low].create_popup_with(lw, (0, 0, 1, 1), (6000, 4000), 0, (-3000, -2000), None);
    f.roundtrip(low);
    f.clients[low].data.popups[p]
        .xdg_surface
        .set_window_geometry(0, 0, 6000, 4000);
    f.clients[low].draw_popup(p, (1000, 800), MAGENTA).unwrap();
    f.roundtrip(low);
    f.frame();
    let shot = f.capture();
    // The popup is shown inside the area below the bar, its frame on screen.
    let b = POPUP_BORDER;
    let inner = (b, BAR_HEIGHT + b, W - 2 * b, H - BAR_HEIGHT - 2 * b);
    let magenta = find(&shot, MAGENTA_RGB);
    assert!(!magenta.is_empty(), "the popup is drawn");
    assert!(
        magenta.iter().all(|&(x, y)| x >= inner.0
            && y >= inner.1
            && x < inner.0 + inner.2
            && y < inner.1 + inner.3),
        "every pixel of the popup is inside its frame"
    );
    for x in 0..W {
        for y in (BAR_HEIGHT..BAR_HEIGHT + b).chain(H - b..H) {
            assert_eq!(pixel(&shot, x, y), GREEN, "frame top/bottom at ({x}, {y})");
        }
    }
    for y in BAR_HEIGHT..H {
        for x in (0..b).chain(W - b..W) {
            assert_eq!(pixel(&shot, x, y), GREEN, "frame left/right at ({x}, {y})");
        }
    }
    assert!(
        magenta.iter().all(|&(_, y)| y >= BAR_HEIGHT),
        "the bar is not covered"
    );
}

#[test]
fn absurd_positioner_offsets_and_damage_are_bounded_not_fatal() {
    let (mut f, high, hw, low) = steady_high_and_low();
    let lw = f.map_window(low, (300, 200), BLUE, "owner");
    for (anchor, size, offset) in [
        (
            (i32::MAX, i32::MAX, i32::MAX, i32::MAX),
            (i32::MAX, i32::MAX),
            (i32::MAX, i32::MAX),
        ),
        ((i32::MIN, i32::MIN, 1, 1), (1, 1), (i32::MIN, i32::MIN)),
        ((0, 0, 1, 1), (40, 40), (i32::MAX, i32::MIN)),
    ] {
        let p = f.clients[low].create_popup_with(lw, anchor, size, 0xff, offset, None);
        f.roundtrip(low);
        f.clients[low].draw_popup(p, (40, 40), MAGENTA).unwrap();
        f.roundtrip(low);
        f.frame();
    }
    // Offsets and damage at the ends of i32 on the window itself.
    let w = &f.clients[low].data.windows[lw];
    w.surface.offset(i32::MIN, i32::MAX);
    w.surface.damage(i32::MIN, i32::MIN, i32::MAX, i32::MAX);
    w.surface
        .damage_buffer(i32::MAX, i32::MAX, i32::MAX, i32::MAX);
    w.xdg_surface
        .set_window_geometry(i32::MIN, i32::MIN, i32::MAX, i32::MAX);
    w.surface.commit();
    f.settle();
    f.frame();
    f.roundtrip(low);
    assert_high_draws(&mut f, high, hw);
}

#[test]
fn a_cursor_or_drag_icon_with_a_big_subsurface_is_not_drawn() {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    f.map_window(high, (200, 150), BLUE, "steady");
    let low = f.add_client("low");
    let lw = f.map_window(low, (300, 200), BLUE, "cursor-owner");
    f.place("steady", 500, 300);
    f.place("cursor-owner", 40, 80);
    let g = f.window_by_app("cursor-owner").geometry;
    f.inject(InputEvent::PointerMove {
        x: (g.x + 150) as f64,
        y: (g.y + 100) as f64,
    });
    // An 8x8 cursor with a 1200x900 subsurface around it.
    f.clients[low]
        .set_cursor_tree(8, (-600, -450), (1200, 900), (0, 0), YELLOW)
        .unwrap();
    f.settle();
    f.frame();
    assert!(
        find(&f.capture(), YELLOW_RGB).is_empty(),
        "the oversized cursor tree is replaced by the default arrow"
    );
    // A small one with its hotspot far off it could be drawn anywhere: refused too.
    f.clients[low]
        .set_cursor_tree(8, (0, 0), (8, 8), (-300, -300), YELLOW)
        .unwrap();
    f.settle();
    f.frame();
    assert!(
        find(&f.capture(), YELLOW_RGB).is_empty(),
        "hotspot off the cursor"
    );
    // A legitimate two-surface cursor still shows.
    f.clients[low]
        .set_cursor_tree(16, (4, 4), (8, 8), (0, 0), YELLOW)
        .unwrap();
    f.settle();
    f.frame();
    assert!(
        !find(&f.capture(), YELLOW_RGB).is_empty(),
        "a small cursor shows"
    );

    // A drag from low with an 8x8 icon and a 1200x900 subsurface.
    f.clients[low].set_cursor(8, BLUE).unwrap();
    f.clients[low].bind_data_device().unwrap();
    f.roundtrip(low);
    f.inject(InputEvent::Button {
        button: Button::Left,
        pressed: true,
    });
    f.clients[low]
        .start_drag_with_icon(lw, 8, (-600, -450), (1200, 900), YELLOW)
        .unwrap();
    f.settle();
    f.inject(InputEvent::PointerMove {
        x: (g.x + 100) as f64,
        y: (g.y + 80) as f64,
    });
    f.frame();
    assert!(
        find(&f.capture(), YELLOW_RGB).is_empty(),
        "the oversized drag icon is not drawn"
    );
    f.inject(InputEvent::Button {
        button: Button::Left,
        pressed: false,
    });
}

#[test]
fn a_popup_grab_without_a_recent_press_is_dismissed_and_steals_no_click() {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    f.map_window(high, (200, 150), BLUE, "steady");
    let low = f.add_client("low");
    let lw = f.map_window(low, (300, 200), BLUE, "grabber");
    f.place("steady", 500, 300);
    f.place("grabber", 40, 80);
    // No input ever reached low: a grab with serial 0 (or any made-up serial).
    let p = f.clients[low].create_popup_with(lw, (10, 10, 10, 10), (80, 60), 0, (0, 0), Some(0));
    f.roundtrip(low);
    assert!(
        f.clients[low]
            .data
            .events
            .contains(&Event::PopupDone { popup: p }),
        "the popup is dismissed"
    );
    // The pointer crosses low's window, then clicks high's: high gets the click and the
    // keyboard.
    let lg = f.window_by_app("grabber").geometry;
    let hg = f.window_by_app("steady").geometry;
    f.inject(InputEvent::PointerMove {
        x: (lg.x + 20) as f64,
        y: (lg.y + 20) as f64,
    });
    f.click_at((hg.x + 20) as f64, (hg.y + 20) as f64);
    assert!(
        f.clients[high]
            .pointer_events()
            .iter()
            .any(|e| matches!(e, Event::Button { pressed: true, .. })),
        "high got the click"
    );
    assert_eq!(f.status().focused_level.as_deref(), Some("high"));

    // With the serial of a real press on low's window, a grab works.
    f.click_at((lg.x + 20) as f64, (lg.y + 20) as f64);
    let serial = f.clients[low]
        .data
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Button {
                pressed: true,
                serial,
                ..
            } => Some(*serial),
            _ => None,
        })
        .expect("low got the press");
    let q =
        f.clients[low].create_popup_with(lw, (10, 10, 10, 10), (80, 60), 0, (0, 0), Some(serial));
    f.roundtrip(low);
    f.clients[low].draw_popup(q, (80, 60), MAGENTA).unwrap();
    f.roundtrip(low);
    assert!(
        !f.clients[low]
            .data
            .events
            .contains(&Event::PopupDone { popup: q }),
        "a grab with a real press's serial stands"
    );
}

/// A fixture whose levels may hold little.
fn small_limits() -> Fixture {
    let mut config = Config::builtin();
    config.limits.surfaces = 64;
    config.limits.frame_callbacks = 64;
    config.limits.shm_buffers = 16;
    config.limits.shm_bytes = 64 << 20;
    Fixture::with_config(config)
}

fn notification(f: &Fixture) -> String {
    f.state
        .ui
        .bar
        .notification
        .as_ref()
        .map(|(t, _)| t.clone())
        .unwrap_or_default()
}

#[test]
fn a_level_past_its_quotas_loses_the_offending_client_only() {
    let mut f = small_limits();
    let high = f.add_client("high");
    let hw = f.map_window(high, (200, 150), BLUE, "steady");
    let low_level = 0;
    let qh = |f: &Fixture, c: usize| f.clients[c].qh();

    // Surfaces: the 65th cuts the client off; its surfaces are given back.
    let bad = f.add_client("low");
    let compositor = f.clients[bad].data.compositor.clone().unwrap();
    for _ in 0..100 {
        compositor.create_surface(&qh(&f, bad), SurfaceRole::Other);
    }
    assert!(f.try_roundtrip(bad).is_err(), "cut off past 64 surfaces");
    f.roundtrip(high);
    assert!(
        notification(&f).contains("surfaces"),
        "{}",
        notification(&f)
    );
    assert_eq!(f.state.levels[low_level].usage.get(Quota::Surfaces), 0);
    // Another program of the level carries on.
    let good = f.add_client("low");
    let gw = f.map_window(good, (100, 100), BLUE, "low-good");
    f.frame();
    f.roundtrip(good);

    // Frame callbacks piling up on a surface that is never shown.
    let bad = f.add_client("low");
    let compositor = f.clients[bad].data.compositor.clone().unwrap();
    let hidden = compositor.create_surface(&qh(&f, bad), SurfaceRole::Other);
    for _ in 0..100 {
        hidden.frame(&qh(&f, bad), usize::MAX);
        hidden.commit();
    }
    assert!(
        f.try_roundtrip(bad).is_err(),
        "cut off past 64 frame callbacks"
    );
    f.roundtrip(good);
    assert_eq!(
        f.state.levels[low_level].usage.get(Quota::FrameCallbacks),
        0
    );

    // shm pools and buffers (descriptors): 20 small buffers, each with its pool.
    let bad = f.add_client("low");
    for _ in 0..20 {
        let _ = f.clients[bad].create_buffer(4, 4, BLUE);
    }
    assert!(f.try_roundtrip(bad).is_err(), "cut off past 16 shm objects");
    f.roundtrip(good);

    // shm bytes: one 128 MiB buffer.
    let bad = f.add_client("low");
    f.clients[bad]
        .create_sparse_buffer(MAX_EXTENT * 4 * 2048, MAX_EXTENT, 2048, MAX_EXTENT * 4)
        .unwrap();
    assert!(f.try_roundtrip(bad).is_err(), "cut off past 64 MiB");
    f.roundtrip(good);

    // What is left is the good client's: its window's pool and buffer.
    assert_eq!(f.state.levels[low_level].usage.get(Quota::ShmBuffers), 2);
    assert_eq!(
        f.state.levels[low_level].usage.get(Quota::ShmBytes),
        100 * 100 * 4
    );
    assert_eq!(
        f.state.levels[low_level].usage.get(Quota::FrameCallbacks),
        0
    );
    // Low's good client and high still draw.
    f.roundtrip(good);
    let before = f.clients[good].data.frames[gw];
    f.clients[good].request_frame(gw);
    f.settle();
    f.frame();
    assert_eq!(f.clients[good].data.frames[gw], before + 1);
    assert_high_draws(&mut f, high, hw);
}

/// Found by fuzzing: a buffer both over the quota (the client is cut off) and beyond its pool
/// (smithay would post a second error) counted the client's departure twice, and the level's
/// client count wrapped round; a level with a huge count refuses every new connection.
#[test]
fn a_client_cut_off_twice_in_one_request_leaves_its_level_count_right() {
    let mut f = small_limits();
    let good = f.add_client("low");
    f.roundtrip(good);
    assert_eq!(f.state.levels[0].client_count(), 1);
    let bad = f.add_client("low");
    f.roundtrip(bad);
    assert_eq!(f.state.levels[0].client_count(), 2);
    // 128 MiB (over the 64 MiB quota) from a one-page pool.
    f.clients[bad]
        .create_sparse_buffer(4096, MAX_EXTENT, 2048, MAX_EXTENT * 4)
        .unwrap();
    assert!(f.try_roundtrip(bad).is_err(), "cut off");
    f.roundtrip(good);
    assert_eq!(f.state.levels[0].client_count(), 1);
    let again = f.add_client("low");
    f.roundtrip(again);
    assert_eq!(f.state.levels[0].client_count(), 2);
}

/// Found by fuzzing: smithay 0.7 builds a negative `Size` (a debug assertion: a panic of a
/// debug compositor) from a window geometry or a positioner's parent size of zero or less, and
/// from a negative minimum or maximum window size.
#[test]
fn window_geometry_parent_size_or_size_limits_below_zero_are_protocol_errors() {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    let hw = f.map_window(high, (200, 150), BLUE, "steady");
    for (w, h) in [(0, 10), (10, -1), (i32::MIN, i32::MIN)] {
        let low = f.add_client("low");
        let lw = f.map_window(low, (100, 100), BLUE, "low");
        let win = &f.clients[low].data.windows[lw];
        win.xdg_surface.set_window_geometry(0, 0, w, h);
        win.surface.commit();
        assert!(f.try_roundtrip(low).is_err(), "window geometry {w}x{h}");
    }
    for (w, h) in [(-1, 10), (10, i32::MIN)] {
        let low = f.add_client("low");
        let qh = f.clients[low].qh();
        let positioner = f.clients[low]
            .data
            .wm_base
            .clone()
            .unwrap()
            .create_positioner(&qh, ());
        positioner.set_parent_size(w, h);
        assert!(f.try_roundtrip(low).is_err(), "parent size {w}x{h}");
    }
    // Found by fuzzing too: a negative minimum or maximum size.
    for max in [false, true] {
        let low = f.add_client("low");
        let lw = f.map_window(low, (100, 100), BLUE, "low");
        let win = &f.clients[low].data.windows[lw];
        if max {
            win.toplevel.set_max_size(-6779, -6911);
        } else {
            win.toplevel.set_min_size(10, -1);
        }
        win.surface.commit();
        assert!(f.try_roundtrip(low).is_err(), "negative max {max}");
    }
    // A parent size of zero is allowed (the protocol gives no meaning to it, and no error).
    let low = f.add_client("low");
    let qh = f.clients[low].qh();
    let positioner = f.clients[low]
        .data
        .wm_base
        .clone()
        .unwrap()
        .create_positioner(&qh, ());
    positioner.set_parent_size(0, 0);
    f.roundtrip(low);
    f.roundtrip(high);
    assert_high_draws(&mut f, high, hw);
}

#[test]
fn deep_subsurface_trees_and_resizing_a_pool_to_nothing_are_protocol_errors() {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    let hw = f.map_window(high, (200, 150), BLUE, "steady");

    let low = f.add_client("low");
    let qh = f.clients[low].qh();
    let compositor = f.clients[low].data.compositor.clone().unwrap();
    let sub = f.clients[low].data.subcompositor.clone().unwrap();
    let mut parent = compositor.create_surface(&qh, SurfaceRole::Other);
    for _ in 0..20 {
        let child = compositor.create_surface(&qh, SurfaceRole::Other);
        sub.get_subsurface(&child, &parent, &qh, ());
        parent = child;
    }
    assert!(
        f.try_roundtrip(low).is_err(),
        "a tree deeper than 16 is refused"
    );

    // smithay 0.7 panics on wl_shm_pool.resize(0): refused before it gets there.
    let low = f.add_client("low");
    let buffer = f.clients[low].create_buffer(4, 4, BLUE).unwrap();
    f.clients[low].data.buffers[buffer].pool.resize(0);
    assert!(f.try_roundtrip(low).is_err(), "resize(0) is an error");
    f.roundtrip(high);
    assert_high_draws(&mut f, high, hw);
}

/// Ten thousand surfaces from one client of low, each a subsurface of its window with a
/// buffer: the client is cut off at its level's quota (1024 by default), everything it held is
/// given back, and high's frames draw exactly what they drew before (the transient cost is
/// bounded by the quota; docs/benchmarks.md measures it).
#[test]
fn ten_thousand_surfaces_from_one_client_are_cut_off_at_the_quota() {
    let mut f = Fixture::new();
    let limit = f.state.config.limits.surfaces;
    let high = f.add_client("high");
    let hw = f.map_window(high, (200, 150), BLUE, "steady");
    f.frame();
    let before = f.capture();
    let low = f.add_client("low");
    let lw = f.map_window(low, (300, 200), BLUE, "crowd");
    f.place("crowd", 420, 300);
    let qh = f.clients[low].qh();
    let compositor = f.clients[low].data.compositor.clone().unwrap();
    let sub = f.clients[low].data.subcompositor.clone().unwrap();
    let parent = f.clients[low].data.windows[lw].surface.clone();
    let b = f.clients[low].create_buffer(1, 1, 0xffff_0000).unwrap();
    let buffer = f.clients[low].data.buffers[b].buffer.clone();
    let mut cut_off = false;
    for i in 0..10_000 {
        let s = compositor.create_surface(&qh, SurfaceRole::Other);
        let ss = sub.get_subsurface(&s, &parent, &qh, ());
        ss.set_position((i % 300) as i32, (i / 300) as i32);
        s.attach(Some(&buffer), 0, 0);
        s.commit();
        if i % 256 == 255 {
            parent.commit();
            if f.try_roundtrip(low).is_err() {
                cut_off = true;
                assert!(i < limit + 256, "cut off at {i}, the quota is {limit}");
                break;
            }
        }
    }
    assert!(cut_off, "a client with 10,000 surfaces is cut off");
    f.roundtrip(high);
    assert_eq!(f.state.levels[0].usage.get(Quota::Surfaces), 0);
    assert_eq!(f.state.levels[0].client_count(), 0);
    f.frame();
    let after = f.capture();
    // Below the bar (which now says a program of low was closed), the output is what it was.
    let below_bar = |c: &cloison_compositor::backend::Capture| {
        c.rgba[(BAR_HEIGHT as usize * c.width as usize * 4)..].to_vec()
    };
    assert!(
        below_bar(&before) == below_bar(&after),
        "high's output is what it was"
    );
    assert_high_draws(&mut f, high, hw);
}

/// Not a test: prints how long high's frames take while low holds many surfaces (run with
/// `--ignored --nocapture`; docs/benchmarks.md quotes it).
#[test]
#[ignore]
fn measure_frames_with_many_low_surfaces() {
    let measure = |f: &mut Fixture, high: usize, w: usize| {
        let mut times = Vec::new();
        for i in 0..40u32 {
            let b = f.clients[high]
                .create_buffer(200, 150, 0xff00_0000 | i)
                .unwrap();
            f.clients[high].attach(w, b);
            f.settle();
            let t = std::time::Instant::now();
            f.state.redraw();
            times.push(t.elapsed().as_secs_f64() * 1e6);
            f.settle();
        }
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let counts: Vec<usize> = std::env::var("SURFACES")
        .map(|v| v.split(",").map(|n| n.parse().unwrap()).collect())
        .unwrap_or(vec![0, 256, 2048, 8000]);
    for n in counts {
        let mut config = Config::builtin();
        config.limits.surfaces = 10_000;
        config.limits.shm_buffers = 20_000;
        let mut f = Fixture::with_config(config);
        let high = f.add_client("high");
        let hw = f.map_window(high, (200, 150), BLUE, "steady");
        let low = f.add_client("low");
        let lw = f.map_window(low, (300, 200), BLUE, "crowd");
        let qh = f.clients[low].qh();
        let compositor = f.clients[low].data.compositor.clone().unwrap();
        let sub = f.clients[low].data.subcompositor.clone().unwrap();
        let parent = f.clients[low].data.windows[lw].surface.clone();
        let b = f.clients[low].create_buffer(1, 1, 0xffff_0000).unwrap();
        let buffer = f.clients[low].data.buffers[b].buffer.clone();
        for i in 0..n {
            let s = compositor.create_surface(&qh, SurfaceRole::Other);
            let ss = sub.get_subsurface(&s, &parent, &qh, ());
            ss.set_position((i % 300) as i32, (i / 300) as i32);
            s.attach(Some(&buffer), 0, 0);
            s.commit();
            if i % 500 == 0 {
                f.settle();
            }
        }
        parent.commit();
        f.settle();
        f.frame();
        let median = measure(&mut f, high, hw);
        #[allow(clippy::disallowed_macros)]
        {
            println!("{n} low subsurfaces: high's frame {median:.0} µs (median of 40)");
        }
    }
}

/// Found in review: the Wayland library kept every descriptor a client attached to its
/// messages, taken or not; a client of low sending `wl_display.sync` with 28 descriptors each
/// made the compositor hold them until it could open nothing for anyone. Now a client leaving
/// more than 256 waiting is disconnected and they are all closed.
#[test]
fn descriptors_a_client_attaches_for_nothing_are_bounded() {
    use std::io::IoSlice;
    use std::os::fd::AsRawFd as _;
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;

    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

    // Descriptors of this test's own file, wherever they are (tests run side by side).
    let open = || {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().contains("cloison-fd-flood"))
            .count()
    };
    let mut f = Fixture::new();
    let high = f.add_client("high");
    let hw = f.map_window(high, (200, 150), BLUE, "steady");
    let path = std::env::temp_dir().join(format!("cloison-fd-flood-{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(open(), 1);
    let (ours, theirs) = UnixStream::pair().unwrap();
    f.display
        .handle()
        .insert_client(
            theirs,
            Arc::new(cloison_compositor::state::ClientState::new(
                &f.state.levels[0],
            )),
        )
        .unwrap();
    assert_eq!(f.state.levels[0].client_count(), 1);
    let fds = [file.as_raw_fd(); 28];
    let mut sent = 0;
    for i in 0..40u32 {
        // wl_display@1.sync(callback = new id i + 2): twelve bytes.
        let mut message = Vec::new();
        message.extend(1u32.to_ne_bytes());
        message.extend((12u32 << 16).to_ne_bytes());
        message.extend((i + 2).to_ne_bytes());
        let rights = [ControlMessage::ScmRights(&fds)];
        let iov = [IoSlice::new(&message)];
        if sendmsg::<()>(
            ours.as_raw_fd(),
            &iov,
            &rights,
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .is_err()
        {
            break;
        }
        sent += 1;
        f.settle();
        // Never more than 256 waiting plus one read's 28, besides ours.
        assert!(open() <= 1 + 256 + 28, "{} open", open());
    }
    f.settle();
    assert_eq!(f.state.levels[0].client_count(), 0, "after {sent} sends");
    // Every descriptor it sent is closed: only ours remains.
    assert_eq!(open(), 1);
    drop((ours, file));
    assert_high_draws(&mut f, high, hw);
}

/// Found in review: a region's rectangles were unbounded (smithay merges an opaque region
/// with a pass quadratic in their number at every commit), and a negative width built a
/// negative `Size` (a panic of a debug build).
#[test]
fn regions_are_bounded_and_empty_rectangles_do_nothing() {
    let (mut f, high, hw, low) = steady_high_and_low();
    let lw = f.map_window(low, (100, 100), BLUE, "low");
    let qh = f.clients[low].qh();
    let compositor = f.clients[low].data.compositor.clone().unwrap();
    let region = compositor.create_region(&qh, ());
    region.add(0, 0, -5, 10);
    region.subtract(i32::MIN, i32::MIN, 10, i32::MIN);
    region.add(i32::MAX, i32::MAX, i32::MAX, i32::MAX);
    let surface = f.clients[low].data.windows[lw].surface.clone();
    surface.set_opaque_region(Some(&region));
    surface.commit();
    f.roundtrip(low);
    for i in 0..300 {
        region.add(2 * i, 0, 1, 1);
    }
    assert!(f.try_roundtrip(low).is_err(), "cut off past 256 rectangles");
    f.roundtrip(high);
    assert_high_draws(&mut f, high, hw);
}

/// Found in review: damage a client sends before a commit piled up without bound. Past 256
/// rectangles the whole surface is damaged once and the rest dropped; the client stays.
#[test]
fn a_flood_of_damage_before_a_commit_is_folded_into_one_rectangle() {
    use smithay::wayland::compositor::{SurfaceAttributes, with_states};
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let lw = f.map_window(low, (100, 100), BLUE, "low");
    let surface = f.clients[low].data.windows[lw].surface.clone();
    // In batches, so the client's socket never fills.
    for batch in 0..20 {
        for i in 0..500 {
            surface.damage_buffer((batch + i) % 100, 0, 1, 1);
        }
        f.roundtrip(low);
    }
    let window = f.state.space.elements().next().unwrap().clone();
    let server_surface = window.toplevel().unwrap().wl_surface().clone();
    let pending = with_states(&server_surface, |states| {
        states
            .cached_state
            .get::<SurfaceAttributes>()
            .pending()
            .damage
            .len()
    });
    assert_eq!(pending, 257);
    // A commit starts the count again; the client draws on.
    let before = f.clients[low].data.frames[lw];
    f.clients[low].request_frame(lw);
    f.settle();
    f.frame();
    f.roundtrip(low);
    assert_eq!(f.clients[low].data.frames[lw], before + 1);
    surface.damage(0, 0, 1, 1);
    f.roundtrip(low);
    let pending = with_states(&server_surface, |states| {
        states
            .cached_state
            .get::<SurfaceAttributes>()
            .pending()
            .damage
            .len()
    });
    assert_eq!(pending, 1);
}

/// Found in review: a source's MIME types were unbounded (each is copied to every offer).
#[test]
fn a_source_offering_hundreds_of_types_is_cut_off() {
    let (mut f, high, hw, low) = steady_high_and_low();
    f.clients[low].bind_data_device().expect("data device");
    let qh = f.clients[low].qh();
    let manager = f.clients[low].data.data_manager.clone().unwrap();
    let source = manager.create_data_source(&qh, ());
    for i in 0..64 {
        source.offer(format!("text/x-{i}"));
    }
    f.roundtrip(low);
    source.offer("text/x-one-too-many".into());
    assert!(f.try_roundtrip(low).is_err(), "cut off past 64 types");
    assert!(f.state.levels[0].client_count() == 0);
    f.roundtrip(high);
    assert_high_draws(&mut f, high, hw);
}

/// Found in review: activation tokens were kept until used, so a client asking for them in a
/// loop grew the compositor without end. A level holds at most 64 (the expired forgotten).
#[test]
fn a_level_holds_a_bounded_number_of_activation_tokens() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let lw = f.map_window(low, (100, 100), BLUE, "low");
    for _ in 0..500 {
        f.clients[low].request_token(lw, None);
    }
    f.roundtrip(low);
    assert_eq!(f.state.xdg_activation_state.tokens().count(), 64);
    // The high level has its own share.
    let high = f.add_client("high");
    let hw = f.map_window(high, (100, 100), BLUE, "high");
    f.clients[high].request_token(hw, None);
    f.roundtrip(high);
    assert_eq!(f.state.xdg_activation_state.tokens().count(), 65);
}

/// Found in review: the depth bound looked at the parent only, so a chain built from the
/// bottom up (each new parent a root) grew as deep as the surface quota.
#[test]
fn a_subsurface_chain_built_from_the_bottom_up_is_bounded_too() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let qh = f.clients[low].qh();
    let compositor = f.clients[low].data.compositor.clone().unwrap();
    let sub = f.clients[low].data.subcompositor.clone().unwrap();
    let mut child = compositor.create_surface(&qh, SurfaceRole::Other);
    for _ in 0..16 {
        let parent = compositor.create_surface(&qh, SurfaceRole::Other);
        sub.get_subsurface(&child, &parent, &qh, ());
        child = parent;
    }
    f.roundtrip(low);
    let parent = compositor.create_surface(&qh, SurfaceRole::Other);
    sub.get_subsurface(&child, &parent, &qh, ());
    assert!(
        f.try_roundtrip(low).is_err(),
        "a 17th level from the bottom is refused"
    );
}
