//! The trusted launcher menu: opened by a tap of Super or the bar's button, keyboard and mouse
//! driven, invisible to clients, and answering the launcher with (level, position) only.

mod fixture;

use cloison_compositor::ui::menu::{ENTRY_HEIGHT, GAP, HEADER_HEIGHT};
use cloison_ipc::InputEvent;
use cloison_ipc::session::{MenuLevel, ToCompositor, ToLauncher};
use cloison_tests::client::Event;
use fixture::{Fixture, pixel};

const BLUE: u32 = 0xff10_20c0;

fn key(f: &mut Fixture, chord: &str) {
    f.inject(InputEvent::Key {
        chord: chord.into(),
    });
}

fn keys_seen(f: &Fixture, c: usize) -> usize {
    f.clients[c]
        .data
        .events
        .iter()
        .filter(|e| matches!(e, Event::Key { .. }))
        .count()
}

fn rgb(color: cloison_config::Color) -> (u8, u8, u8) {
    (color.r, color.g, color.b)
}

#[test]
fn super_opens_the_menu_and_its_keys_never_reach_a_client() {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    f.map_window(high, (300, 200), BLUE, "high");
    let g = f.window_by_app("high").geometry;
    f.click_at((g.x + 20) as f64, (g.y + 20) as f64);
    let before = keys_seen(&f, high);

    key(&mut f, "super");
    assert!(f.state.ui.menu.open, "a tap of Super opens the menu");
    // The columns' headers are drawn in the levels' colours.
    let size = f.state.output_geometry().size;
    let area = f.state.ui.menu.geometry(size);
    f.frame();
    let shot = f.capture();
    let config = f.state.config.clone();
    assert_eq!(
        pixel(&shot, area.loc.x + GAP + 3, area.loc.y + GAP + 3),
        rgb(config.levels[0].color)
    );
    assert_eq!(
        pixel(
            &shot,
            area.loc.x + 2 * GAP + cloison_compositor::ui::menu::COLUMN_WIDTH + 3,
            area.loc.y + GAP + 3
        ),
        rgb(config.levels[1].color)
    );

    // Opened on the focused level's column; Return starts its first entry.
    key(&mut f, "Down");
    key(&mut f, "Up");
    key(&mut f, "Return");
    assert!(!f.state.ui.menu.open);
    assert_eq!(
        f.state.launcher.unsent,
        [ToLauncher::Launch {
            level: "high".into(),
            app: 0
        }]
    );
    assert_eq!(
        keys_seen(&f, high),
        before,
        "the client heard Super or the menu's keys"
    );
    // Closed, the keyboard is the client's again.
    f.inject(InputEvent::Type { text: "ok".into() });
    assert!(keys_seen(&f, high) > before);
}

#[test]
fn the_launcher_lists_the_entries_and_a_click_starts_one() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    f.map_window(low, (300, 200), BLUE, "low");
    f.state.from_launcher(ToCompositor::Menu {
        levels: vec![
            MenuLevel {
                level: "low".into(),
                apps: vec!["Terminal".into(), "Editor".into(), "Files".into()],
            },
            MenuLevel {
                level: "high".into(),
                apps: vec!["Terminal".into()],
            },
        ],
    });
    // The bar's button opens it too.
    let width = f.state.output_geometry().size.w;
    let (x, w) = cloison_compositor::ui::bar::menu_button(width);
    f.click_at((x + w / 2) as f64, 10.0);
    assert!(f.state.ui.menu.open);
    let pointer_before = f.clients[low].pointer_events().len();
    let area = f.state.ui.menu.geometry(f.state.output_geometry().size);
    // Third entry of the first (low) column.
    f.click_at(
        (area.loc.x + GAP + 40) as f64,
        (area.loc.y + GAP + HEADER_HEIGHT + GAP + 2 * ENTRY_HEIGHT + 5) as f64,
    );
    assert!(!f.state.ui.menu.open);
    assert_eq!(
        f.state.launcher.unsent,
        [ToLauncher::Launch {
            level: "low".into(),
            app: 2
        }]
    );
    let seen: Vec<_> = f.clients[low].pointer_events()[pointer_before..].to_vec();
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Button { .. })),
        "a client saw the click on the menu: {seen:?}"
    );
    // A click outside closes without starting anything.
    key(&mut f, "super");
    f.click_at(5.0, (f.state.output_geometry().size.h - 5) as f64);
    assert!(!f.state.ui.menu.open);
    assert_eq!(f.state.launcher.unsent.len(), 1);
}

#[test]
fn a_stopped_level_shows_in_the_bar_and_notifications_are_sanitised() {
    let mut f = Fixture::new();
    f.state.from_launcher(ToCompositor::LevelState {
        level: "low".into(),
        running: false,
    });
    assert!(!f.state.levels[0].running);
    f.state.from_launcher(ToCompositor::Notify {
        text: "foot exited\u{202e} in LOW\n".into(),
    });
    let (text, _) = f.state.ui.bar.notification.clone().unwrap();
    assert!(
        !text.contains('\u{202e}') && !text.contains('\n'),
        "{text:?}"
    );
}
