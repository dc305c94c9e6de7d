//! End to end: trusted UI and isolation as a user sees them, with real clients.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloison_ipc::{Button, InputEvent};
use cloison_tests::session::{Session, external, wait_until};

use cloison_tests::ui::{BAR_HEIGHT as BAR, BORDER, GREEN, RED, TITLE_HEIGHT as TITLE};

fn lines(out: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    out.lock().unwrap().clone()
}

#[test]
fn wayland_info_lists_only_each_levels_allowed_globals() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cloison.toml");
    let text = cloison_config::DEFAULT_CONFIG.replace(
        "network = \"none\"\n",
        "network = \"none\"\n\n[level.protocols]\nglobals = [\"wp_viewporter\", \"zxdg_decoration_manager_v1\"]\n",
    );
    std::fs::write(&config, &text).unwrap();
    cloison_config::parse(&text, "test").expect("the test configuration is valid");
    let s = Session::start(&["--config", config.to_str().unwrap()]).unwrap();
    let info = |level: &str| {
        let out = s
            .client_command(level, external("wayland-info"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut interfaces: Vec<String> = text
            .lines()
            .filter_map(|l| l.split("interface: '").nth(1))
            .filter_map(|rest| rest.split('\'').next())
            .map(str::to_string)
            .collect();
        interfaces.sort();
        interfaces
    };
    let mut low_expected: Vec<String> = cloison_config::CORE_GLOBALS
        .iter()
        .chain(cloison_config::OPTIONAL_GLOBALS.iter())
        .map(|s| s.to_string())
        .collect();
    low_expected.sort();
    assert_eq!(info("low"), low_expected);
    let mut high_expected: Vec<String> = cloison_config::CORE_GLOBALS
        .iter()
        .chain(["wp_viewporter", "zxdg_decoration_manager_v1"].iter())
        .map(|s| s.to_string())
        .collect();
    high_expected.sort();
    assert_eq!(info("high"), high_expected);
}

#[test]
fn typing_and_pointing_in_high_teach_low_nothing() {
    let mut s = Session::start(&["--size", "1280x720"]).unwrap();
    let (_, low) = s
        .spawn_test_client("low", &["window", "--app-id", "low", "--size", "300x200"])
        .unwrap();
    let low_win = s.wait_window("low").unwrap();
    let (_, high) = s
        .spawn_test_client("high", &["window", "--app-id", "high", "--size", "300x200"])
        .unwrap();
    let high_win = s.wait_window("high").unwrap();
    assert_eq!(
        s.status().unwrap().focused_level.as_deref(),
        Some("low"),
        "high did not take focus"
    );

    // Give the keyboard to high with a click, then type and move over it.
    let g = high_win.geometry;
    s.input(InputEvent::PointerMove {
        x: (g.x + g.width - 10) as f64,
        y: (g.y + g.height - 10) as f64,
    })
    .unwrap();
    s.input(InputEvent::Click {
        button: Button::Left,
    })
    .unwrap();
    wait_until("high to get the keyboard", || {
        lines(&high).iter().any(|l| l.starts_with("KeyboardEnter"))
    });
    let low_before = lines(&low).len();
    s.input(InputEvent::Type {
        text: "classified".into(),
    })
    .unwrap();
    for i in 0..20 {
        s.input(InputEvent::PointerMove {
            x: (g.x + g.width - 40 + i) as f64,
            y: (g.y + g.height - 20) as f64,
        })
        .unwrap();
    }
    wait_until("high to receive the ten keys", || {
        lines(&high)
            .iter()
            .filter(|l| l.starts_with("Key {") && l.contains("pressed: true"))
            .count()
            == 10
    });
    // Let anything in flight arrive, then check what low learned.
    std::thread::sleep(Duration::from_millis(300));
    let low_after = lines(&low)[low_before..].to_vec();
    let leaked: Vec<&String> = low_after
        .iter()
        .filter(|l| {
            // Losing the keyboard (leave, modifiers cleared, the deactivation configure) is
            // all low may learn.
            let lost_focus = l.starts_with("KeyboardLeave")
                || l.starts_with("PointerLeave")
                || l.starts_with("Modifiers")
                || l.starts_with("Configure {")
                || (l.starts_with("ToplevelConfigure {") && l.contains("states: []"));
            !lost_focus
        })
        .collect();
    assert!(leaked.is_empty(), "low learned: {leaked:?}");
    assert!(!low_after.iter().any(|l| l.starts_with("Key {")
        || l.starts_with("KeyboardEnter")
        || l.starts_with("Motion")));
    let _ = low_win;
}

#[test]
fn a_new_window_of_another_level_does_not_take_the_keyboard() {
    let mut s = Session::start(&[]).unwrap();
    s.spawn_test_client("high", &["window", "--app-id", "high"])
        .unwrap();
    s.wait_window("high").unwrap();
    assert_eq!(s.status().unwrap().focused_level.as_deref(), Some("high"));
    let mut foot = s.client_command("low", external("foot"));
    foot.stdout(Stdio::null()).stderr(Stdio::null());
    s.spawn(foot).unwrap();
    let foot_win = s.wait_window("foot").unwrap();
    assert!(!foot_win.focused);
    assert_eq!(
        s.status().unwrap().focused_level.as_deref(),
        Some("high"),
        "foot did not steal focus"
    );
}

#[test]
fn real_terminals_sit_in_frames_of_their_level_colour_under_the_bar() {
    let mut s = Session::start(&["--size", "1280x720"]).unwrap();
    for level in ["low", "high"] {
        let mut foot = s.client_command(level, external("foot"));
        foot.args(["--app-id", level])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        s.spawn(foot).unwrap();
        s.wait_window(level).unwrap();
    }
    // Each terminal in turn: a click where the other does not cover it (the cascade's
    // bottom-right) raises it and gives it the keyboard; then its whole frame is in its
    // level's colour, its badge too, and the bar's first chip names its level.
    for level in ["low", "high"] {
        let w = s.wait_window(level).unwrap();
        let g = w.geometry;
        s.input(InputEvent::PointerMove {
            x: (g.x + g.width - 10) as f64,
            y: (g.y + g.height - 10) as f64,
        })
        .unwrap();
        s.input(InputEvent::Click {
            button: cloison_ipc::Button::Left,
        })
        .unwrap();
        s.wait_for("the click to focus it", |st| {
            st.focused_level.as_deref() == Some(level)
        })
        .unwrap();
        let colour = if level == "low" { GREEN } else { RED };
        wait_until("foot to draw", || {
            s.screenshot().unwrap().distinct_colours(g.x, g.y, 200, 40) > 2
        });
        let shot = s.screenshot().unwrap();
        assert!(g.y - TITLE - BORDER >= BAR, "below the bar");
        assert!(
            shot.all(g.x - BORDER, g.y, BORDER, 40, colour),
            "{level} left border"
        );
        assert!(
            shot.all(g.x - BORDER, g.y - TITLE - BORDER, 40, BORDER, colour),
            "{level} top border"
        );
        assert!(
            shot.all(g.x + 3, g.y - TITLE + 4, 5, 10, colour),
            "{level} badge"
        );
        assert_eq!(shot.rgb(1, 1), colour, "the bar names {level}");
    }
}
