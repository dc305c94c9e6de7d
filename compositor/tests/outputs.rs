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
    let low = f.add_client("low");
    f.map_window(low, (300, 200), BLUE, "low");
    // Move the window onto the second output, just below its bar.
    let window = f.state.space.elements().next().unwrap().clone();
    f.state.move_window(&window, (W + 40, 100).into());
    f.frame();
    let g = f.window_by_app("low").geometry;
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
        g.x >= W && g.x + g.width <= W + SECOND.0 && g.y >= 28 && g.y + g.height <= SECOND.1,
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
