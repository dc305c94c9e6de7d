//! End to end: what a daily user of real apps meets — each level's keyboard layout, the bar
//! saying which one is in use, and GTK3 apps under one (trusted) title bar.

use std::time::Duration;

use cloison_tests::session::{Session, quiet_config, wait_until_for};
use cloison_tests::ui::BAR_HEIGHT;

/// The quiet configuration with `high` typing on French AZERTY first, US second.
fn french_high() -> String {
    let config = quiet_config().replacen(
        "rank = 1\n",
        "rank = 1\nkeyboard = { layout = \"fr,us\" }\n",
        1,
    );
    assert!(config.contains("layout = \"fr,us\""), "the level was found");
    cloison_config::parse(&config, "test").expect("the test configuration is valid");
    config
}

/// In `level`'s terminal, types `echo ` then presses the keys named by `keys` on the session's
/// (US) keymap, then ` >FILE`; returns what the level's shell wrote.
fn type_keys(s: &mut Session, level: &str, keys: &[&str], file: &str) -> String {
    let path = s.home(level).join(file);
    s.focus_app(level, "foot");
    s.input(cloison_ipc::InputEvent::Type {
        text: "echo ".into(),
    })
    .unwrap();
    for key in keys {
        s.key(key);
    }
    s.input(cloison_ipc::InputEvent::Type {
        text: format!(" >{file}\n"),
    })
    .unwrap();
    let mut text = String::new();
    wait_until_for(
        &format!("{level}'s shell to write {file}"),
        Duration::from_secs(20),
        || {
            text = std::fs::read_to_string(&path).unwrap_or_default();
            text.ends_with('\n')
        },
    );
    text.trim().to_string()
}

fn layout_of(s: &mut Session, level: &str) -> String {
    let status = s.status().unwrap();
    status
        .levels
        .iter()
        .find(|l| l.name == level)
        .unwrap()
        .keyboard_layout
        .clone()
}

#[test]
fn each_level_types_with_its_own_layout_and_the_bar_says_which() {
    let mut s = Session::start_with_config(&french_high()).unwrap();
    s.spawn_in("low", &["foot"]);
    s.spawn_in("high", &["foot"]);
    s.wait_terminals();
    assert_eq!(layout_of(&mut s, "low"), "us");
    assert_eq!(layout_of(&mut s, "high"), "fr");
    // Give the shells a moment to start reading.
    std::thread::sleep(Duration::from_millis(800));

    // The same physical keys (Q and W on a US keyboard): "qw" in low, "az" in high.
    assert_eq!(type_keys(&mut s, "low", &["q", "w"], "low1"), "qw");
    let bar_low = s.screenshot().unwrap();
    assert_eq!(type_keys(&mut s, "high", &["q", "w"], "high1"), "az");
    let bar_fr = s.screenshot().unwrap();

    // The chord switches high (the focused level) to its next layout; low keeps its own.
    s.key("super+space");
    s.wait_for("high to type in us", |st| {
        st.levels[1].keyboard_layout == "us"
    })
    .unwrap();
    assert_eq!(layout_of(&mut s, "low"), "us");
    assert_eq!(type_keys(&mut s, "high", &["q", "w"], "high2"), "qw");
    let bar_us = s.screenshot().unwrap();
    // Back to the first layout.
    s.key("super+space");
    s.wait_for("high to type in fr again", |st| {
        st.levels[1].keyboard_layout == "fr"
    })
    .unwrap();

    // The bar's keyboard chip names the layout: it reads differently for "HIGH · fr" and
    // "HIGH · us", and for low.
    let chip = |img: &cloison_tests::session::Image| -> Vec<(u8, u8, u8)> {
        (0..BAR_HEIGHT)
            .flat_map(|y| (0..220).map(move |x| (x, y)))
            .map(|(x, y)| img.rgb(x, y))
            .collect()
    };
    assert_ne!(chip(&bar_fr), chip(&bar_us), "the chip shows the layout");
    assert_ne!(chip(&bar_low), chip(&bar_fr));
    // Typed text keeps working whatever the layout (it is typed on the layout in use).
    assert_eq!(type_keys(&mut s, "high", &["e"], "high3"), "e");
}

#[test]
fn gtk3_draws_no_title_bar_of_its_own_where_the_kde_decoration_protocol_is_offered() {
    // high is offered every optional global but the KDE one (as before it existed).
    let globals: Vec<String> = cloison_config::OPTIONAL_GLOBALS
        .iter()
        .filter(|g| **g != "org_kde_kwin_server_decoration_manager")
        .map(|g| format!("{g:?}"))
        .collect();
    let config = quiet_config().replacen(
        "network = \"none\"\n",
        &format!(
            "network = \"none\"\n\n[level.protocols]\nglobals = [{}]\n",
            globals.join(", ")
        ),
        1,
    );
    cloison_config::parse(&config, "test").expect("the test configuration is valid");
    let mut s = Session::start_with_config(&config).unwrap();
    // A plain GtkWindow (no header bar of the app's own): GTK3 adds a client-side title bar
    // unless the compositor says it draws them.
    for level in ["low", "high"] {
        s.spawn_in(level, &["gtk3-demo", "--run=pickers"]);
    }
    let pickers = |st: &cloison_ipc::Status, level: &str| {
        st.windows
            .iter()
            .find(|w| w.level == level && w.title == "Pickers")
            .cloned()
    };
    let st = s
        .wait_for("GTK3 windows in both levels", |st| {
            pickers(st, "low").is_some() && pickers(st, "high").is_some()
        })
        .unwrap();
    let low = pickers(&st, "low").unwrap().geometry;
    let high = pickers(&st, "high").unwrap().geometry;
    // Same widgets; high's window is taller by GTK's own title bar, low's is not.
    assert_eq!(low.width, high.width, "{low:?} {high:?}");
    assert!(
        high.height >= low.height + 24,
        "GTK's own title bar is gone in low: low {low:?}, high {high:?}"
    );
}

/// Pixels of the bar in the warning colour (the chip that names a level holding the pointer).
fn warning_pixels(img: &cloison_tests::session::Image) -> usize {
    (0..BAR_HEIGHT)
        .flat_map(|y| (0..img.width as i32).map(move |x| (x, y)))
        .filter(|&(x, y)| img.rgb(x, y) == (0xff, 0xb3, 0x00))
        .count()
}

#[test]
fn a_level_that_holds_the_pointer_never_keeps_it_from_the_user() {
    let mut s = Session::start(&["--size", "1024x700"]).unwrap();
    // weston-confine confines the pointer to its drawing area on a click.
    s.spawn_in("low", &["weston-confine"]);
    let win = s
        .wait_window("org.freedesktop.weston.wayland-confine")
        .unwrap();
    let g = win.geometry;
    let (cx, cy) = ((g.x + g.width / 2) as f64, (g.y + g.height / 2) as f64);
    let inside = |st: &cloison_ipc::Status| {
        let p = &st.pointer;
        p.x >= g.x as f64
            && p.y >= g.y as f64
            && p.x < (g.x + g.width) as f64
            && p.y < (g.y + g.height) as f64
    };
    let before = warning_pixels(&s.screenshot().unwrap());
    let hold = |s: &mut Session| {
        s.input(cloison_ipc::InputEvent::PointerMove { x: cx, y: cy })
            .unwrap();
        s.input(cloison_ipc::InputEvent::Click {
            button: cloison_ipc::Button::Left,
        })
        .unwrap();
        s.wait_for("low to hold the pointer", |st| {
            st.pointer.held_by.as_deref() == Some("low")
        })
        .unwrap();
    };
    let move_by = |s: &mut Session, dx: f64, dy: f64| {
        s.input(cloison_ipc::InputEvent::PointerMoveBy { dx, dy })
            .unwrap();
        s.status().unwrap()
    };
    hold(&mut s);
    // The bar says who holds it.
    let held_bar = warning_pixels(&s.screenshot().unwrap());
    assert!(held_bar > before + 300, "{before} -> {held_bar}");

    // Held: neither a mouse nor an absolute device takes it out of the window, nor onto
    // the bar.
    for (dx, dy) in [(3000.0, 3000.0), (-3000.0, -3000.0), (3000.0, -3000.0)] {
        let st = move_by(&mut s, dx, dy);
        assert!(
            inside(&st),
            "still inside after ({dx}, {dy}): {:?}",
            st.pointer
        );
    }
    s.input(cloison_ipc::InputEvent::PointerMove { x: 5.0, y: 5.0 })
        .unwrap();
    assert!(inside(&s.status().unwrap()), "the bar is out of reach");

    // The chord takes it back at once; the bar says nothing more.
    s.key("super+Escape");
    let st = s.status().unwrap();
    assert_eq!(st.pointer.held_by, None);
    let st = move_by(&mut s, 3000.0, 3000.0);
    assert!(!inside(&st), "free again: {:?}", st.pointer);
    assert!(warning_pixels(&s.screenshot().unwrap()) <= before);
    // Back over the window, it does not hold again until the user clicks there.
    s.input(cloison_ipc::InputEvent::PointerMove { x: cx, y: cy })
        .unwrap();
    assert_eq!(s.status().unwrap().pointer.held_by, None);

    // Super alone (it opens the menu) takes it back too.
    hold(&mut s);
    s.key("super");
    assert_eq!(s.status().unwrap().pointer.held_by, None);
    s.key("Escape");

    // So does giving the keyboard to another window (another level's here).
    hold(&mut s);
    s.spawn_test_client(
        "high",
        &["window", "--app-id", "other", "--size", "200x100"],
    )
    .unwrap();
    s.wait_window("other").unwrap();
    // (Another level's new window does not take the keyboard by itself.)
    assert_eq!(s.status().unwrap().pointer.held_by.as_deref(), Some("low"));
    s.key("alt+Tab");
    s.wait_for("high to have the keyboard", |st| {
        st.focused_level.as_deref() == Some("high")
    })
    .unwrap();
    assert_eq!(s.status().unwrap().pointer.held_by, None);
}

#[test]
fn a_levels_programs_write_to_its_own_log_not_the_sessions_terminal() {
    let s = Session::start(&[]).unwrap();
    s.spawn_in(
        "low",
        // (Made by the shell: the command line itself is in the launcher's log.)
        &[
            "sh",
            "-c",
            "echo low-$((6*7))-hello; echo low-$((6*7))-complains >&2",
        ],
    );
    wait_until_for("low's log", Duration::from_secs(20), || {
        let log = s.level_log("low");
        log.contains("low-42-hello") && log.contains("low-42-complains")
    });
    assert!(!s.level_log("high").contains("low-42"));
    assert!(!s.stderr_contains("low-42-hello"), "not on the terminal");
    // `cloison logs` shows it, newest last; -n keeps the last lines.
    let out = s.cloison().args(["logs", "low"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("low-42-hello"), "{text}");
    let out = s
        .cloison()
        .args(["logs", "low", "-n", "1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    // A name that is not a level's is refused before it becomes a path.
    let out = s.cloison().args(["logs", "../../etc"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a level name"));
    // The banner says where the output goes.
    assert!(
        s.stdout
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("programs' output") && l.contains("cloison logs LEVEL"))
    );
}

/// `cloison run` started the way a newcomer does on a headless machine (no
/// `XDG_RUNTIME_DIR`): `cloison ctl` from another shell finds it without being told.
#[test]
fn cloison_ctl_finds_a_session_started_without_xdg_runtime_dir() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let config_home = dir.path().join("config");
    std::fs::create_dir_all(config_home.join("cloison")).unwrap();
    // No network to build: the session changes nothing on the host.
    let config = quiet_config().replace("network = \"nat\"", "network = \"none\"");
    std::fs::write(config_home.join("cloison/cloison.toml"), &config).unwrap();
    let env = |c: &mut Command| {
        c.env_remove("XDG_RUNTIME_DIR")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .env("TMPDIR", &tmp)
            .env("XDG_CONFIG_HOME", &config_home)
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .env("XDG_STATE_HOME", dir.path().join("state"));
    };
    let cloison = cloison_tests::session::our_binary("cloison");
    let uid = nix::unistd::getuid().as_raw();
    let run_user = std::path::PathBuf::from(format!("/run/user/{uid}"));
    let run_user_usable = cloison_ipc::paths::check_private_dir(&run_user, uid).is_ok();
    let expected = if run_user_usable {
        run_user
    } else {
        tmp.join(format!("cloison-{uid}"))
    };

    if !run_user_usable {
        // Someone else's (or a shared) directory in its place is refused, not used.
        let hostile = tmp.join(format!("cloison-{uid}"));
        std::fs::create_dir(&hostile).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&hostile, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut c = Command::new(&cloison);
        env(&mut c);
        let out = c
            .args(["run", "--backend", "headless"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("may be entered or written by others"), "{err}");
        std::fs::remove_dir(&hostile).unwrap();
    }

    let mut c = Command::new(&cloison);
    env(&mut c);
    let mut child = c
        .args(["run", "--backend", "headless"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let keep = lines.clone();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            keep.lock().unwrap().push(line);
        }
    });
    wait_until_for("the session", Duration::from_secs(30), || {
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("Press Ctrl+C"))
    });
    let banner = lines.lock().unwrap().join("\n");
    assert!(
        banner.contains(&format!(
            "{}",
            cloison_ipc::paths::ctl_socket(&expected).display()
        )),
        "{banner}"
    );
    // Nothing to export: the line to paste is the plain command.
    assert!(
        banner.contains("from another shell: cloison ctl status"),
        "{banner}"
    );
    let ctl = |args: &[&str]| {
        let mut c = Command::new(&cloison);
        env(&mut c);
        c.arg("ctl").args(args).output().unwrap()
    };
    let out = ctl(&["status"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && status.contains("\"high\""),
        "{out:?}"
    );
    assert!(ctl(&["quit"]).status.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    // Gone with the session: the next `cloison ctl` says there is none, and where it looked.
    let out = ctl(&["status"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no running Cloison session found"), "{err}");
}

/// `cloison exec` as a CI job runs it: one command, its status, its output, a screenshot.
#[test]
fn cloison_exec_runs_one_command_in_a_level_and_exits_with_its_status() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let config = dir.path().join("cloison.toml");
    // No network to build: nothing changes on the host.
    std::fs::write(
        &config,
        cloison_config::DEFAULT_CONFIG.replace("network = \"nat\"", "network = \"none\""),
    )
    .unwrap();
    let exec = |args: &[&str]| {
        Command::new(cloison_tests::session::our_binary("cloison"))
            .arg("exec")
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .env("TMPDIR", &tmp)
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .output()
            .unwrap()
    };
    let shot = dir.path().join("shot.png");
    let out = exec(&[
        "--screenshot",
        shot.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo exec-$((40+2)); weston-simple-shm & sleep 2; exit 3",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        stdout.contains("exec-42"),
        "the level's output is printed: {stdout}"
    );
    // Only the command ran: the default configuration's terminals did not start.
    assert!(!stdout.contains("foot"), "{stdout}");
    let img = cloison_tests::session::Image::from_png(&std::fs::read(&shot).unwrap()).unwrap();
    assert_eq!((img.width, img.height), (1280, 720));
    let green = (0..img.height as i32)
        .flat_map(|y| (0..img.width as i32).map(move |x| (x, y)))
        .filter(|&(x, y)| img.rgb(x, y) == cloison_tests::ui::GREEN)
        .count();
    assert!(
        green > 1000,
        "the command's window in low's frame: {green} px"
    );

    let started = std::time::Instant::now();
    let out = exec(&["--timeout", "1", "--", "sleep", "60"]);
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not end within 1 s"));

    let out = exec(&["--level", "high", "--", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such file"));

    // Output past a rotation of the level's log still reaches the job's output: 190 lines
    // of escape characters (each about 6 kB once made visible) rotate the log.
    let out = exec(&[
        "--",
        "sh",
        "-c",
        "for i in $(seq 190); do head -c 4000 /dev/zero | tr '\\0' '\\033'; echo; done; echo after-$((6*7))",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("after-42"), "{}", stdout.len());
    assert!(
        !stdout.contains('\x1b'),
        "no escape reaches the job's terminal"
    );

    // Nothing left behind: the session's private directory went with it.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);

    // A cancelled job (SIGTERM to cloison exec) ends its session and leaves nothing.
    let mut child = Command::new(cloison_tests::session::our_binary("cloison"))
        .arg("exec")
        .arg("--config")
        .arg(&config)
        .args(["--", "sleep", "60"])
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", &tmp)
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_until_for("the command to run", Duration::from_secs(30), || {
        cloison_tests::session::descendants(pid)
            .iter()
            .any(|p| cloison_tests::session::comm(*p) == "sleep")
    });
    let session = cloison_tests::session::descendants(pid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    wait_until_for(
        "the session's processes to end",
        Duration::from_secs(30),
        || {
            session
                .iter()
                .all(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        },
    );
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}
