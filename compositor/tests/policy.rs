//! Protocol policy and focus: what each level may bind, and who may take the keyboard.

mod fixture;

use cloison_ipc::InputEvent;
use cloison_tests::client::Event;
use fixture::Fixture;

const BLUE: u32 = 0xff10_20c0;

fn interfaces(f: &Fixture, c: usize) -> Vec<String> {
    f.clients[c]
        .data
        .globals
        .iter()
        .map(|(_, i, _)| i.clone())
        .collect()
}

#[test]
fn levels_see_exactly_the_safe_set_and_never_a_privileged_protocol() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    let mut seen = interfaces(&f, c);
    seen.sort();
    let mut expected: Vec<String> = cloison_config::CORE_GLOBALS
        .iter()
        .chain(cloison_config::OPTIONAL_GLOBALS.iter())
        .map(|s| s.to_string())
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
    for privileged in cloison_config::NEVER_OFFERED {
        assert!(
            !seen.iter().any(|s| s == privileged),
            "{privileged} offered"
        );
    }
}

#[test]
fn a_level_sees_only_its_allow_list_and_cannot_bind_the_rest() {
    let mut config = cloison_config::Config::builtin();
    config.levels[1].protocols.globals = vec!["wp_viewporter".into()];
    let mut f = Fixture::with_config(config);
    let low = f.add_client("low");
    let high = f.add_client("high");
    let high_seen = interfaces(&f, high);
    assert!(high_seen.contains(&"wp_viewporter".to_string()));
    assert!(high_seen.contains(&"wl_compositor".to_string()));
    for hidden in [
        "wp_presentation",
        "xdg_activation_v1",
        "wl_data_device_manager",
        "wl_subcompositor",
    ] {
        assert!(
            !high_seen.iter().any(|s| s == hidden),
            "{hidden} visible to high"
        );
        assert!(
            interfaces(&f, low).iter().any(|s| s == hidden),
            "{hidden} hidden from low too"
        );
    }
    // The numeric name low sees for wp_presentation does not work for high.
    let name = f.clients[low]
        .data
        .globals
        .iter()
        .find(|(_, i, _)| i == "wp_presentation")
        .map(|(n, _, _)| *n)
        .unwrap();
    f.clients[high].bind_raw(name, "wp_presentation");
    assert!(
        f.try_roundtrip(high).is_err(),
        "binding a hidden global is a protocol error"
    );
    f.roundtrip(low);
}

#[test]
fn activation_without_user_input_is_only_an_attention_hint() {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    f.map_window(high, (200, 100), BLUE, "h");
    let low = f.add_client("low");
    let lw = f.map_window(low, (200, 100), BLUE, "l");
    assert_eq!(f.status().focused_level.as_deref(), Some("high"));
    // A token made without any input serial, then used.
    f.clients[low].request_token(lw, None);
    f.roundtrip(low);
    let token = f.clients[low]
        .last_token()
        .expect("a token is always issued");
    f.clients[low].use_token(lw, &token);
    f.roundtrip(low);
    assert_eq!(
        f.status().focused_level.as_deref(),
        Some("high"),
        "low did not take the keyboard"
    );
    assert!(
        !f.state.wm.attention.is_empty(),
        "but its window asks for attention"
    );
}

#[test]
fn activation_from_a_click_in_another_level_does_not_steal_focus() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let lw = f.map_window(low, (200, 100), BLUE, "l");
    // The user clicks in low: low gets a genuine input serial...
    let g = f.window_by_app("l").geometry;
    f.click_at((g.x + 5) as f64, (g.y + 5) as f64);
    let serial = f.clients[low]
        .data
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Button {
                serial,
                pressed: true,
                ..
            } => Some(*serial),
            _ => None,
        })
        .expect("low saw the click");
    f.clients[low].request_token(lw, Some(serial));
    f.roundtrip(low);
    let token = f.clients[low].last_token().unwrap();
    // ...then the user moves to high, and low tries to use its token.
    let high = f.add_client("high");
    f.map_window(high, (200, 100), BLUE, "h");
    let hg = f.window_by_app("h").geometry;
    f.click_at((hg.x + hg.width - 5) as f64, (hg.y + hg.height - 5) as f64);
    assert_eq!(f.status().focused_level.as_deref(), Some("high"));
    let lw2 = f.map_window(low, (150, 80), BLUE, "l2");
    f.clients[low].use_token(lw2, &token);
    f.roundtrip(low);
    assert_eq!(
        f.status().focused_level.as_deref(),
        Some("high"),
        "high keeps the keyboard"
    );
}

#[test]
fn activation_from_user_input_moves_focus_within_the_level() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let a = f.map_window(low, (300, 200), BLUE, "a");
    let b = f.map_window(low, (150, 100), BLUE, "b");
    // b has focus (same level); the user clicks in b, which asks to activate a.
    let g = f.window_by_app("b").geometry;
    f.click_at((g.x + 5) as f64, (g.y + 5) as f64);
    let serial = f.clients[low]
        .data
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Button {
                serial,
                pressed: true,
                ..
            } => Some(*serial),
            _ => None,
        })
        .unwrap();
    f.clients[low].request_token(b, Some(serial));
    f.roundtrip(low);
    let token = f.clients[low].last_token().unwrap();
    f.clients[low].use_token(a, &token);
    f.roundtrip(low);
    let focused = f
        .status()
        .windows
        .into_iter()
        .find(|w| w.focused)
        .map(|w| w.app_id);
    assert_eq!(
        focused.as_deref(),
        Some("a"),
        "granted: user input, same level, level has focus"
    );
}

#[test]
fn pointer_and_keyboard_reach_only_the_level_under_them() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let high = f.add_client("high");
    f.map_window(low, (200, 150), BLUE, "low");
    f.map_window(high, (200, 150), BLUE, "high");
    let hg = f.window_by_app("high").geometry;
    let low_pointer_before = f.clients[low].pointer_events().len();
    // Move across the high window, click it, type.
    for i in 0..10 {
        f.inject(InputEvent::PointerMove {
            x: (hg.x + hg.width - 30 + i) as f64,
            y: (hg.y + hg.height - 30) as f64,
        });
    }
    f.inject(InputEvent::Click {
        button: cloison_ipc::Button::Left,
    });
    let low_keys_before = f.clients[low].key_events().len();
    f.inject(InputEvent::Type {
        text: "top secret".into(),
    });
    let low_new_keys: Vec<_> = f.clients[low].key_events()[low_keys_before..].to_vec();
    assert!(low_new_keys.is_empty(), "low got {low_new_keys:?}");
    let new_pointer: Vec<_> = f.clients[low].pointer_events()[low_pointer_before..].to_vec();
    assert!(
        new_pointer.iter().all(|e| matches!(e, Event::PointerLeave)),
        "low saw pointer activity over high: {new_pointer:?}"
    );
    let high_keys = f.clients[high]
        .data
        .events
        .iter()
        .filter(|e| matches!(e, Event::Key { pressed: true, .. }))
        .count();
    assert_eq!(high_keys, "top secret".len(), "every key reached high");
}

/// A point inside `inner` (a window's content) at least 40 px from `other` (another window's
/// content, whose frame reaches past it by a title bar and a border).
fn point_apart(inner: cloison_ipc::Rect, other: cloison_ipc::Rect) -> (f64, f64) {
    for (dx, dy) in [(10, 10), (inner.width - 10, 10), (10, inner.height - 10)]
        .into_iter()
        .chain([(inner.width - 10, inner.height - 10)])
    {
        let (x, y) = (inner.x + dx, inner.y + dy);
        let near = x > other.x - 40
            && x < other.x + other.width + 40
            && y > other.y - 70
            && y < other.y + other.height + 40;
        if !near {
            return (f64::from(x), f64::from(y));
        }
    }
    panic!("no point of {inner:?} is apart from {other:?}");
}

fn touch_events(f: &Fixture, c: usize) -> Vec<Event> {
    f.clients[c]
        .data
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::TouchDown { .. } | Event::TouchMotion { .. } | Event::TouchUp { .. }
            )
        })
        .cloned()
        .collect()
}

#[test]
fn a_touch_stays_with_the_level_it_went_down_in() {
    use cloison_compositor::input::Input;
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let high = f.add_client("high");
    f.map_window(low, (300, 200), BLUE, "low");
    f.map_window(high, (300, 200), BLUE, "high");
    // Side by side.
    let windows: Vec<_> = f.state.space.elements().cloned().collect();
    f.state
        .space
        .map_element(windows[0].clone(), (20, 80), false);
    f.state
        .space
        .map_element(windows[1].clone(), (420, 300), false);
    f.frame();
    let (lg, hg) = (
        f.window_by_app("low").geometry,
        f.window_by_app("high").geometry,
    );
    let (hx, hy) = point_apart(hg, lg);
    let (lx, ly) = point_apart(lg, hg);
    let time = 1;
    f.input(Input::TouchDown {
        slot: 0,
        pos: (hx, hy).into(),
        time,
    });
    // Dragged over the low window: still high's touch; low never hears of it.
    f.input(Input::TouchMotion {
        slot: 0,
        pos: (lx, ly).into(),
        time,
    });
    f.input(Input::TouchUp { slot: 0, time });
    assert_eq!(
        touch_events(&f, high),
        [
            Event::TouchDown {
                id: 0,
                window: 0,
                x: hx - f64::from(hg.x),
                y: hy - f64::from(hg.y),
            },
            Event::TouchMotion {
                id: 0,
                x: lx - f64::from(hg.x),
                y: ly - f64::from(hg.y),
            },
            Event::TouchUp { id: 0 },
        ]
    );
    assert!(
        touch_events(&f, low).is_empty(),
        "{:?}",
        touch_events(&f, low)
    );
    assert_eq!(f.status().focused_level.as_deref(), Some("high"));
    // A touch on low's window goes to low, and gives it the keyboard like a click.
    f.input(Input::TouchDown {
        slot: 1,
        pos: (lx, ly).into(),
        time,
    });
    f.input(Input::TouchUp { slot: 1, time });
    assert_eq!(touch_events(&f, low).len(), 2);
    assert_eq!(touch_events(&f, high).len(), 3);
    assert_eq!(f.status().focused_level.as_deref(), Some("low"));
    // The bar is trusted UI: a touch there reaches nobody.
    f.input(Input::TouchDown {
        slot: 2,
        pos: (200.0, 5.0).into(),
        time,
    });
    f.input(Input::TouchUp { slot: 2, time });
    assert_eq!(
        touch_events(&f, low).len() + touch_events(&f, high).len(),
        5
    );
}

#[test]
fn a_window_that_appears_under_a_still_pointer_gets_it() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    let w = f.map_window(low, (300, 200), BLUE, "low");
    let g = f.window_by_app("low").geometry;
    // The pointer rests on the output's corner, away from the window.
    f.inject(InputEvent::PointerMove { x: 790.0, y: 590.0 });
    let before = f.clients[low].pointer_events().len();
    // The window moves under the pointer (as a compositor move would): it gets an enter
    // without the pointer moving, at the right place.
    let window = f.state.space.elements().next().unwrap().clone();
    f.state
        .space
        .map_element(window, (790 - 50, 590 - 40), false);
    f.frame();
    let new: Vec<_> = f.clients[low].pointer_events()[before..].to_vec();
    assert!(
        new.iter().any(|e| matches!(
            e,
            Event::PointerEnter { window, x, y, .. } if *window == w && *x == 50.0 && *y == 40.0
        )),
        "{new:?} (window was at {g:?})"
    );
}
