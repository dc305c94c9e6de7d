//! X11 apps in each level, end to end with real X clients (xterm, xclock, xwininfo, xclip,
//! xdotool): each level's own X server runs in its cage (`cloison-x11`: Xvfb and the bridge
//! that shows its windows as the level's Wayland windows); its windows get the level's frame;
//! typed keys reach them; nothing of one level's X display is reachable from another.

use std::time::Duration;

use cloison_ipc::{InputEvent, Status, WindowStatus};
use cloison_tests::session::{Session, external, our_binary, read_when_done, wait_until_for};

fn x_window<'a>(status: &'a Status, level: &str, app_id: &str) -> Option<&'a WindowStatus> {
    status
        .windows
        .iter()
        .find(|w| w.level == level && w.app_id == app_id)
}

use cloison_tests::ui::{level_colour as colour, near};

/// Runs `script` with bash in `level`; its output in `~/NAME`, then `done`.
fn run_in(s: &Session, level: &str, name: &str, script: &str) -> String {
    let _ = std::fs::remove_file(s.home(level).join(name));
    s.spawn_in(
        level,
        &[
            "/bin/bash",
            "-c",
            &format!("out=~/{name}; ( {script} ) >> $out 2>&1; echo \"status $?\" >> $out; echo done >> $out"),
        ],
    );
    read_when_done(&s.home(level).join(name))
}

#[test]
fn xterm_in_each_level_is_framed_in_its_colour_and_takes_typed_keys() {
    for tool in ["xterm", "Xvfb", "xwininfo"] {
        let _ = external(tool);
    }
    let mut s = Session::start(&[]).expect("session");
    for level in ["low", "high"] {
        s.spawn_in(
            level,
            &[
                "xterm",
                "-title",
                &format!("xterm of {level}"),
                "-geometry",
                "60x12",
            ],
        );
    }
    let status = s
        .wait_for("an xterm in each level", |st| {
            x_window(st, "low", "XTerm").is_some() && x_window(st, "high", "XTerm").is_some()
        })
        .expect("xterms");
    // The title the X client set, through the bridge.
    assert_eq!(
        x_window(&status, "low", "XTerm").unwrap().title,
        "xterm of low"
    );
    // Each X window in its level's frame (brought to the front first: they may overlap).
    for level in ["low", "high"] {
        s.focus_app(level, "XTerm");
        let status = s.status().unwrap();
        let shot = s.screenshot().unwrap();
        let g = x_window(&status, level, "XTerm").unwrap().geometry;
        let want = colour(&status, level);
        let close = |a: (u8, u8, u8)| near(a, want);
        for (x, y) in [
            (g.x - 2, g.y + g.height / 2),
            (g.x + g.width + 1, g.y + g.height / 2),
        ] {
            let got = shot.rgb(x, y);
            assert!(
                close(got),
                "{level}'s xterm frame at {x},{y} is {got:?}, not {want:?}"
            );
        }
        // xterm draws its prompt in black on white: the content is the X window's.
        assert!(
            shot.distinct_colours(g.x, g.y, g.width, g.height) >= 2,
            "{level}'s xterm shows nothing"
        );
        assert_eq!(
            shot.rgb(g.x + g.width - 4, g.y + g.height - 4),
            (255, 255, 255)
        );
    }

    // Keys typed into low's xterm reach its shell.
    s.focus_app("low", "XTerm");
    s.input(InputEvent::Type {
        text: "echo typed-into-xterm > ~/from-xterm; echo done >> ~/from-xterm\n".into(),
    })
    .unwrap();
    let got = read_when_done(&s.home("low").join("from-xterm"));
    assert!(got.contains("typed-into-xterm"), "{got}");

    // Maximized by the compositor's chord: the X window takes the size it is given (its
    // content fills the area, xterm's white to the far corner).
    s.key("super+Up");
    let status = s
        .wait_for("low's xterm maximized and redrawn", |st| {
            x_window(st, "low", "XTerm").is_some_and(|w| w.maximized && w.geometry.width > 1500)
        })
        .unwrap();
    let g = x_window(&status, "low", "XTerm").unwrap().geometry;
    wait_until_for("the maximized xterm drawn", Duration::from_secs(20), || {
        let shot = s.screenshot().unwrap();
        shot.rgb(g.x + g.width - 8, g.y + g.height - 8) == (255, 255, 255)
    });

    // Each level's X server lists only its own windows.
    let low = run_in(&s, "low", "tree", "xwininfo -root -tree");
    assert!(low.contains("xterm of low"), "{low}");
    assert!(!low.contains("xterm of high"), "{low}");
    let high = run_in(&s, "high", "tree", "xwininfo -root -tree");
    assert!(
        high.contains("xterm of high") && !high.contains("xterm of low"),
        "{high}"
    );
}

/// Copies the X test client into `level`'s home (the cage sees the home, not the build tree)
/// and starts it there with `args`.
fn x_client(s: &Session, level: &str, args: &[&str]) {
    use std::os::unix::fs::PermissionsExt as _;
    if !s.home(level).join("x11-test-client").exists() {
        let path = s.put(
            level,
            "x11-test-client",
            &std::fs::read(our_binary("cloison-x11-test-client")).unwrap(),
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut argv = vec!["/home/user/x11-test-client"];
    argv.extend_from_slice(args);
    s.spawn_in(level, &argv);
}

#[test]
fn x_selections_bridge_to_the_level_and_the_chords_carry_them_up() {
    for tool in ["xterm", "xclip", "wl-paste", "wl-copy"] {
        let _ = external(tool);
    }
    let mut s = Session::start(&[]).expect("session");
    for level in ["low", "high"] {
        s.spawn_in(level, &["xterm"]);
    }
    s.wait_for("an xterm in each level", |st| {
        x_window(st, "low", "XTerm").is_some() && x_window(st, "high", "XTerm").is_some()
    })
    .expect("xterms");

    // X → Wayland in low: xclip takes CLIPBOARD while low's xterm has the keyboard; low's
    // Wayland clients paste it.
    s.focus_app("low", "XTerm");
    let out = run_in(
        &s,
        "low",
        "xclip-in",
        "printf 'from X in low' | xclip -selection clipboard",
    );
    assert!(out.contains("status 0"), "{out}");
    // X to X within the level.
    let out = run_in(&s, "low", "xclip-x", "xclip -o -selection clipboard");
    assert!(out.starts_with("from X in low"), "{out}");
    wait_until_for(
        "low's Wayland clipboard to hold the X copy",
        Duration::from_secs(20),
        || {
            s.focus_app("low", "XTerm");
            // (wl-paste takes the keyboard for a moment, then gives it back to the xterm.)
            let got = s.wl_paste("low", false);
            got == b"from X in low"
        },
    );

    // The chords carry it up: copy in low, paste in high; a Wayland client of high reads it,
    // and so does an X client of high.
    s.focus_app("low", "XTerm");
    s.key("ctrl+shift+c");
    wait_until_for("the copy to be recorded", Duration::from_secs(20), || {
        !s.audit_records().is_empty()
    });
    s.focus_app("high", "XTerm");
    s.key("ctrl+shift+v");
    wait_until_for("the paste to be recorded", Duration::from_secs(20), || {
        s.audit_records().len() >= 2
    });
    assert_eq!(s.wl_paste("high", false), b"from X in low");
    s.focus_app("high", "XTerm");
    let out = run_in(&s, "high", "xclip-out", "xclip -o -selection clipboard");
    assert!(out.starts_with("from X in low"), "{out}");

    // Wayland → X within low (PRIMARY too).
    s.put("low", "w", b"from Wayland in low");
    s.wl_copy("low", "w", false);
    s.wl_copy("low", "w", true);
    s.focus_app("low", "XTerm");
    let out = run_in(
        &s,
        "low",
        "xclip-w",
        "xclip -o -selection clipboard; echo; xclip -o -selection primary",
    );
    assert!(
        out.starts_with("from Wayland in low\nfrom Wayland in low"),
        "{out}"
    );
    // Nothing of low's reached high's X server by itself: high still has what the chord gave.
    let out = run_in(&s, "high", "xclip-out2", "xclip -o -selection clipboard");
    assert!(out.starts_with("from X in low"), "{out}");
}

#[test]
fn override_redirect_windows_stay_on_screen_framed_and_below_the_bar() {
    let _ = external("xterm");
    let mut s = Session::start(&[]).expect("session");
    s.spawn_in("low", &["xterm"]);
    s.wait_window("XTerm").expect("xterm");
    s.focus_app("low", "XTerm");
    let status = s.status().unwrap();
    let term = x_window(&status, "low", "XTerm").unwrap().geometry;
    // A menu (blue, 200x120) far beyond the X screen's right edge: shown as a popup of the
    // xterm, slid back on the output, framed in low's colour.
    x_client(
        &s,
        "low",
        &["--override", "200", "120", "5000", "40", "0000ff", "menu"],
    );
    let low = colour(&status, "low");
    let mut found = None;
    wait_until_for("the menu on screen", Duration::from_secs(20), || {
        let shot = s.screenshot().unwrap();
        found = find_block(&shot, (0, 0, 255), 200, 120);
        found.is_some()
    });
    let (mx, my) = found.unwrap();
    let shot = s.screenshot().unwrap();
    assert!(
        my >= cloison_tests::ui::BAR_HEIGHT,
        "the menu covers the bar at y={my}"
    );
    assert!(
        near(shot.rgb(mx - 1, my + 60), low),
        "no frame left of the menu: {:?}",
        shot.rgb(mx - 1, my + 60)
    );
    // It is a popup, not a window of its own.
    let status = s.status().unwrap();
    assert_eq!(status.windows.len(), 1, "{:?}", status.windows);
    let _ = term;

    // A 4000x4000 override-redirect window (larger than 90 % of the output) loses its
    // override-redirect: a framed window of low like any other, its title bar below the bar.
    x_client(
        &s,
        "low",
        &["--override", "4000", "4000", "0", "0", "ff00ff", "huge"],
    );
    let status = s
        .wait_for("the huge window, framed", |st| {
            st.windows.iter().any(|w| w.title == "huge")
        })
        .unwrap();
    let huge = status.windows.iter().find(|w| w.title == "huge").unwrap();
    assert_eq!(huge.level, "low");
    assert!(
        huge.geometry.y > cloison_tests::ui::BAR_HEIGHT,
        "{:?}",
        huge.geometry
    );
    let shot = s.screenshot().unwrap();
    // The bar is intact above it.
    assert!(!near(shot.rgb(700, 4), (255, 0, 255)));
    assert!(near(
        shot.rgb(huge.geometry.x - 2, huge.geometry.y + 50),
        low
    ));
}

/// The top-left corner of a `w`x`h` block of colour `rgb` in the screenshot.
fn find_block(
    shot: &cloison_tests::session::Image,
    rgb: (u8, u8, u8),
    w: i32,
    h: i32,
) -> Option<(i32, i32)> {
    for y in (0..=shot.height as i32 - h / 2).step_by(4) {
        for x in (0..=shot.width as i32 - w / 2).step_by(4) {
            if shot.rgb(x, y) == rgb && shot.all(x, y, w / 2, h / 2, rgb) {
                // Walk back to the corner.
                let (mut cx, mut cy) = (x, y);
                while cx > 0 && shot.rgb(cx - 1, cy) == rgb {
                    cx -= 1;
                }
                while cy > 0 && shot.rgb(cx, cy - 1) == rgb {
                    cy -= 1;
                }
                return shot.all(cx, cy, w, h, rgb).then_some((cx, cy));
            }
        }
    }
    None
}

#[test]
fn a_level_sees_only_its_own_x_display() {
    for tool in ["xterm", "xdotool", "xwininfo"] {
        let _ = external(tool);
    }
    // low shares the host's namespace here (`network = "host"`): the case where display
    // numbers and abstract sockets could meet.
    let config =
        cloison_tests::session::quiet_config().replace("network = \"nat\"", "network = \"host\"");
    assert!(config.contains("network = \"host\""), "{config}");
    let mut s = Session::start_with_config(&config).expect("session");
    s.spawn_in("high", &["xterm", "-title", "secret of high"]);
    s.spawn_in("low", &["xterm", "-title", "low's own"]);
    s.wait_for("both xterms", |st| st.windows.len() == 2)
        .unwrap();
    // xdotool lists low's windows, none of high's.
    let out = run_in(
        &s,
        "low",
        "search",
        "xdotool search --name . getwindowname %@",
    );
    assert!(out.contains("low's own"), "{out}");
    assert!(!out.contains("secret of high"), "{out}");
    // Only low's own display is in low's /tmp (low shares the host's network namespace: its
    // display number is its own, 100), no other display answers (high's is :0 in its own
    // cage), and no abstract X socket answers (the servers listen on none, and Landlock scopes
    // abstract sockets to the cage).
    let out = run_in(
        &s,
        "low",
        "sockets",
        "echo $DISPLAY; ls /tmp/.X11-unix; for d in :0 :1 :101; do xwininfo -root -display $d >/dev/null 2>&1 && echo reached $d; done; \
         for n in 0 100; do python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.connect('\\0/tmp/.X11-unix/X$n')\" 2>&1 | tail -1; done",
    );
    assert!(out.starts_with(":100\nX100\n"), "{out}");
    assert!(!out.contains("reached"), "{out}");
    assert_eq!(
        out.matches("Error").count(),
        2,
        "an abstract X socket answered: {out}"
    );
}

#[test]
fn x11_off_gives_a_level_no_display() {
    let config = cloison_tests::session::quiet_config()
        .replace("name = \"high\"\n", "name = \"high\"\nx11 = \"off\"\n");
    assert!(config.contains("x11 = \"off\""), "{config}");
    let mut s = Session::start_with_config(&config).expect("session");
    let out = run_in(
        &s,
        "high",
        "display",
        "echo \"DISPLAY=$DISPLAY\"; ls /tmp/.X11-unix 2>&1; xwininfo -root 2>&1 | head -1",
    );
    assert!(out.starts_with("DISPLAY=\n"), "{out}");
    assert!(out.contains("No such file"), "{out}");
    // low keeps its display (:0 in its own, NAT'd, namespace).
    let out = run_in(&s, "low", "display", "echo \"DISPLAY=$DISPLAY\"");
    assert!(out.starts_with("DISPLAY=:0"), "{out}");
    let _ = &mut s;
}

/// Whether a pixel of `rgb` (within 24 per channel) lies on the row `y` between `x0` and `x1`.
fn colour_on_row(
    shot: &cloison_tests::session::Image,
    y: i32,
    x0: i32,
    x1: i32,
    rgb: (u8, u8, u8),
) -> bool {
    (x0..x1).any(|x| near(shot.rgb(x, y), rgb))
}

#[test]
fn a_gtk3_program_on_x11_is_framed_and_its_menus_open_on_screen() {
    let _ = external("gtk3-widget-factory");
    let mut s = Session::start(&[]).expect("session");
    s.spawn_in(
        "low",
        &[
            "env",
            "GDK_BACKEND=x11",
            "NO_AT_BRIDGE=1",
            "gtk3-widget-factory",
        ],
    );
    let status = s
        .wait_for("the widget factory", |st| {
            st.windows
                .iter()
                .any(|w| w.level == "low" && w.app_id == "Gtk3-widget-factory")
        })
        .unwrap();
    let low = colour(&status, "low");
    let w = status
        .windows
        .iter()
        .find(|w| w.app_id == "Gtk3-widget-factory")
        .unwrap()
        .clone();
    s.focus_app("low", &w.app_id);
    let g = w.geometry;
    // The "Andrea" combo box (its place in the widget factory's first page): its list opens
    // in an override-redirect X window, shown as a popup framed in low's colour.
    let (cx, cy) = (g.x + 459, g.y + 248);
    wait_until_for("the widget factory drawn", Duration::from_secs(20), || {
        s.screenshot()
            .unwrap()
            .distinct_colours(g.x, g.y, g.width, g.height)
            > 8
    });
    let before = s.screenshot().unwrap();
    assert!(
        !colour_on_row(&before, cy, cx - 100, cx, low),
        "a frame inside the window already"
    );
    s.input(InputEvent::PointerMove {
        x: f64::from(cx),
        y: f64::from(cy),
    })
    .unwrap();
    s.input(InputEvent::Click {
        button: cloison_ipc::Button::Left,
    })
    .unwrap();
    wait_until_for(
        "the combo box's menu, framed",
        Duration::from_secs(20),
        || colour_on_row(&s.screenshot().unwrap(), cy, cx - 100, cx, low),
    );
    // Still one window: the menu is a popup of it, not a window of its own.
    assert_eq!(s.status().unwrap().windows.len(), 1);
    // Choosing an entry in the menu (input reaches the popup) closes it.
    s.input(InputEvent::PointerMove {
        x: f64::from(cx - 49),
        y: f64::from(cy + 33),
    })
    .unwrap();
    s.input(InputEvent::Click {
        button: cloison_ipc::Button::Left,
    })
    .unwrap();
    wait_until_for("the menu to close", Duration::from_secs(20), || {
        !colour_on_row(&s.screenshot().unwrap(), cy, cx - 100, cx, low)
    });
}

#[test]
fn x_apps_outlive_a_compositor_restart_and_their_windows_come_back() {
    let _ = external("xterm");
    let mut s = Session::start(&[]).expect("session");
    s.spawn_in("low", &["xterm", "-title", "survivor"]);
    s.wait_window("XTerm").expect("xterm");
    let compositor = s.compositor_pid().expect("the compositor");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(compositor as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // The new compositor (locked, as after any restart) lists the same X window again: the
    // bridge reconnected, its X server and xterm never stopped.
    wait_until_for(
        "the compositor to be replaced",
        Duration::from_secs(60),
        || s.compositor_pid().is_some_and(|p| p != compositor),
    );
    let mut status = None;
    wait_until_for("the xterm shown again", Duration::from_secs(60), || {
        // (The new compositor answers once it serves.)
        status = s.status().ok().filter(|st| {
            st.windows
                .iter()
                .any(|w| w.level == "low" && w.title == "survivor")
        });
        status.is_some()
    });
    let status = status.unwrap();
    assert_eq!(status.windows.len(), 1, "{:?}", status.windows);
    assert!(
        !s.stderr_contains("program ended"),
        "an X program ended with the compositor"
    );
    assert!(s.level_log("low").contains("the compositor is back"));
}

#[test]
fn x_apps_type_with_the_sessions_keyboard_layout() {
    let _ = external("xterm");
    let _ = external("xkbcomp");
    // A French keyboard: a, q, z, w, m and the digits are where a US X server would not
    // expect them.
    let config =
        cloison_tests::session::quiet_config().replacen("layout = \"us\"", "layout = \"fr\"", 1);
    assert!(config.contains("layout = \"fr\""));
    let mut s = Session::start_with_config(&config).expect("session");
    s.spawn_in("low", &["xterm"]);
    s.wait_window("XTerm").expect("xterm");
    s.focus_app("low", "XTerm");
    let out = s.home("low").join("typed");
    wait_until_for(
        "xterm to type with the French layout",
        Duration::from_secs(30),
        || {
            let _ = std::fs::remove_file(&out);
            s.input(InputEvent::Type {
                text: "echo aqzwm-123 > ~/typed\n".into(),
            })
            .unwrap();
            std::thread::sleep(Duration::from_millis(500));
            std::fs::read_to_string(&out).is_ok_and(|t| t == "aqzwm-123\n")
        },
    );
}

#[test]
fn x11_always_starts_the_server_with_the_level_and_on_demand_waits_for_a_client() {
    let config = cloison_tests::session::quiet_config()
        .replace("name = \"high\"\n", "name = \"high\"\nx11 = \"always\"\n");
    assert!(config.contains("x11 = \"always\""), "{config}");
    let s = Session::start_with_config(&config).expect("session");
    let said = |level: &str| s.level_log(level).contains("X server :0 ready");
    wait_until_for("high's X server", Duration::from_secs(30), || said("high"));
    // low (on demand) has no X server until an X client connects.
    std::thread::sleep(Duration::from_secs(1));
    assert!(!said("low"));
    let count = "cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^Xvfb$'";
    let out = run_in(&s, "low", "xvfbs", count);
    assert!(out.starts_with("0\n"), "{out}");
    let out = run_in(&s, "high", "xvfbs", count);
    assert!(out.starts_with("1\n"), "{out}");
}
