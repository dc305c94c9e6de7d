//! Several outputs (as the drm backend lays them out): the pointer crosses them and stays on
//! them, every output's bar is trusted, maximize fills the window's own output, and an output
//! that goes away gives its windows back to the primary one.

mod fixture;

use cloison_ipc::InputEvent;
use cloison_tests::client::Event;
use fixture::{Fixture, H, W};
use smithay::output::{Mode, Output, PhysicalProperties, Subpixel};

const BLUE: u32 = 0xff10_20c0;
/// The second output: 640x480, right of the fixture's 800x600 primary.
const SECOND: (i32, i32) = (640, 480);

fn second_output() -> Output {
    let output = Output::new(
        "Virtual-2".into(),
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "test".into(),
            model: "test".into(),
        },
    );
    let mode = Mode {
        size: SECOND.into(),
        refresh: 60_000,
    };
    output.change_current_state(Some(mode), None, None, None);
    output.set_preferred(mode);
    output
}

fn two_outputs(f: &mut Fixture) -> Output {
    let primary = f.state.output.clone();
    let second = second_output();
    f.state.set_outputs(vec![
        (primary, (0, 0).into()),
        (second.clone(), (W, 0).into()),
    ]);
    f.frame();
    second
}

/// A window of low moved onto the second output, just below its bar: its client and geometry.
fn low_window_on_the_second_output(f: &mut Fixture) -> (usize, cloison_ipc::Rect) {
    let low = f.add_client("low");
    f.map_window(low, (300, 200), BLUE, "low");
    let window = f.state.space.elements().next().unwrap().clone();
    f.state.move_window(&window, (W + 40, 100).into());
    f.frame();
    (low, f.window_by_app("low").geometry)
}

fn buttons(f: &Fixture, c: usize) -> usize {
    f.clients[c]
        .pointer_events()
        .iter()
        .filter(|e| matches!(e, Event::Button { .. }))
        .count()
}

#[test]
fn the_pointer_crosses_outputs_and_never_leaves_them() {
    let mut f = Fixture::new();
    two_outputs(&mut f);
    let displays = f.status().output.displays;
    assert_eq!(displays.len(), 2);
    assert_eq!(
        (displays[1].x, displays[1].y, displays[1].width),
        (W, 0, SECOND.0)
    );
    f.inject(InputEvent::PointerMove {
        x: (W + 100) as f64,
        y: 200.0,
    });
    assert_eq!(f.state.input.pointer, ((W + 100) as f64, 200.0).into());
    // Below the shorter second output: onto the nearest edge, not into the void.
    f.inject(InputEvent::PointerMove {
        x: (W + 100) as f64,
        y: 500.0,
    });
    assert_eq!(
        f.state.input.pointer,
        ((W + 100) as f64, (SECOND.1 - 1) as f64).into()
    );
    f.inject(InputEvent::PointerMove {
        x: 10_000.0,
        y: -50.0,
    });
    assert_eq!(
        f.state.input.pointer,
        ((W + SECOND.0 - 1) as f64, 0.0).into()
    );
}

#[test]
fn the_second_outputs_bar_is_trusted_and_its_menu_button_works() {
    let mut f = Fixture::new();
    two_outputs(&mut f);
    let (low, g) = low_window_on_the_second_output(&mut f);
    assert!(g.x >= W, "{g:?}");
    f.click_at((g.x + 20) as f64, (g.y + 20) as f64);
    assert_eq!(buttons(&f, low), 2, "the window itself gets clicks");
    // A click on the second output's bar, above the window: no client sees it.
    f.click_at((g.x + 20) as f64, 10.0);
    assert_eq!(buttons(&f, low), 2, "the bar's click reached a client");
    assert!(!f.state.ui.menu.open);
    // Its menu button opens the menu (shown on the primary output).
    let (x, w) = cloison_compositor::ui::bar::menu_button(SECOND.0);
    f.click_at((W + x + w / 2) as f64, 10.0);
    assert!(f.state.ui.menu.open, "the second bar's menu button");
}

#[test]
fn maximize_fills_the_windows_own_output_and_an_unplugged_output_gives_windows_back() {
    let mut f = Fixture::new();
    two_outputs(&mut f);
    let low = f.add_client("low");
    let w = f.map_window(low, (300, 200), BLUE, "low");
    let window = f.state.space.elements().next().unwrap().clone();
    f.state.move_window(&window, (W + 40, 100).into());
    f.frame();
    let g = f.window_by_app("low").geometry;
    f.click_at((g.x + 20) as f64, (g.y + 20) as f64);
    f.inject(InputEvent::Key {
        chord: "super+Up".into(),
    });
    // The client draws at the size it was given.
    f.clients[low].draw(w, (0, 0), BLUE).unwrap();
    f.roundtrip(low);
    let m = f.window_by_app("low");
    assert!(m.maximized, "{m:?}");
    let g = m.geometry;
    assert!(
        g.x >= W
            && g.x + g.width <= W + SECOND.0
            && g.y >= cloison_compositor::ui::BAR_HEIGHT
            && g.y + g.height <= SECOND.1,
        "maximized on the second output: {g:?}"
    );
    assert!(g.width > SECOND.0 / 2, "{g:?}");

    // The second output goes away: the window comes back where it can be seen.
    let primary = f.state.output.clone();
    f.state.set_outputs(vec![(primary, (0, 0).into())]);
    f.frame();
    let g = f.window_by_app("low").geometry;
    assert!(g.x < W && g.y < H, "back on the primary output: {g:?}");
    assert_eq!(f.status().output.displays.len(), 1);
    // And the pointer is on what is left.
    assert!(f.state.input.pointer.x < W as f64);
}

/// The pixels `output` shows now.
fn output_pixels(f: &mut Fixture, output: &Output) -> cloison_compositor::backend::Capture {
    let scene = cloison_compositor::scene!(f.state, None, output);
    let size = scene.output_size.to_physical(1);
    let mut offscreen = cloison_compositor::backend::headless::Headless::new(size).unwrap();
    offscreen.render(&scene).unwrap();
    offscreen.capture().unwrap()
}

#[test]
fn the_lock_covers_every_output_and_no_input_reaches_a_client() {
    let mut f = Fixture::new();
    let primary = f.state.output.clone();
    let second = two_outputs(&mut f);
    let (low, g) = low_window_on_the_second_output(&mut f);
    f.click_at((g.x + 20) as f64, (g.y + 20) as f64);
    assert_eq!(f.status().focused_level.as_deref(), Some("low"));
    let low_colour = cloison_config::DEFAULT_LOW_COLOR.rgb8();
    let shows = |c: &cloison_compositor::backend::Capture, colour: (u8, u8, u8)| {
        (0..c.height as i32).any(|y| (0..c.width as i32).any(|x| fixture::pixel(c, x, y) == colour))
    };
    assert!(
        shows(&output_pixels(&mut f, &second), low_colour),
        "the frame"
    );

    f.state.lock_screen("test");
    assert!(f.status().locked);
    for output in [&primary, &second] {
        let c = output_pixels(&mut f, output);
        assert!(
            !shows(&c, low_colour),
            "low's frame shows on {}",
            output.name()
        );
        assert!(
            !shows(&c, (0x10, 0x20, 0xc0)),
            "low's pixels show on {}",
            output.name()
        );
        // Opaque to the corners, the bar's place included.
        assert_eq!(
            fixture::pixel(&c, 0, 0),
            (0x0b, 0x0c, 0x10),
            "{}",
            output.name()
        );
    }
    let (keys, clicks) = (f.clients[low].key_events().len(), buttons(&f, low));
    f.inject(InputEvent::Type {
        text: "typed while locked".into(),
    });
    f.click_at((g.x + 20) as f64, (g.y + 20) as f64);
    f.settle();
    assert_eq!(f.clients[low].key_events().len(), keys, "a key reached low");
    assert_eq!(buttons(&f, low), clicks, "a click reached low");
    // The field holds what was typed (as dots on screen); Escape clears it.
    assert_eq!(
        f.state.ui.lock.typed.chars().count(),
        "typed while locked".len()
    );
    f.inject(InputEvent::Key {
        chord: "Escape".into(),
    });
    assert!(f.state.ui.lock.typed.is_empty());
    // Without a launcher nothing answers: Enter leaves the screen locked.
    f.inject(InputEvent::Type {
        text: "password\n".into(),
    });
    f.settle();
    assert!(f.status().locked);
}
