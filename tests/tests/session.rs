//! End to end: the real `cloison run` (headless, and winit under Xvfb) driven through its
//! control socket, with real clients on the level sockets.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cloison_ipc::InputEvent;
use cloison_tests::session::{Image, Session, external, our_binary};

use cloison_tests::session::wait_until_for as wait_until;

fn region_is(shot: &Image, g: &cloison_ipc::Rect, rgb: (u8, u8, u8)) -> bool {
    shot.all(g.x, g.y, g.width, g.height, rgb)
}

#[test]
fn each_level_socket_gives_its_level_and_screenshots_show_the_pixels() {
    let mut s = Session::start(&["--size", "1280x720"]).unwrap();
    s.spawn_test_client(
        "low",
        &[
            "window", "--color", "20c040", "--size", "200x120", "--app-id", "t.low",
        ],
    )
    .unwrap();
    let low = s.wait_window("t.low").unwrap();
    s.spawn_test_client(
        "high",
        &[
            "window", "--color", "d02020", "--size", "160x100", "--app-id", "t.high",
        ],
    )
    .unwrap();
    let high = s.wait_window("t.high").unwrap();
    assert_eq!(low.level, "low");
    assert_eq!(high.level, "high");
    assert_eq!((low.geometry.width, low.geometry.height), (200, 120));

    let status = s.status().unwrap();
    assert_eq!(status.output.backend, "headless");
    assert_eq!((status.output.width, status.output.height), (1280, 720));
    let counts: Vec<(String, usize)> = status
        .levels
        .iter()
        .map(|l| (l.name.clone(), l.clients))
        .collect();
    assert_eq!(counts, [("low".to_string(), 1), ("high".to_string(), 1)]);
    assert!(
        status.levels[0]
            .socket
            .ends_with("cloison/levels/low/wayland-0")
    );
    assert_eq!(status.levels[1].color, "#c62828");

    let shot = s.screenshot().unwrap();
    assert_eq!((shot.width, shot.height), (1280, 720));
    // Low's window is centred and has the keyboard; high's opened second, cascaded by 32 px,
    // without the keyboard, so below low's: its bottom-right corner shows.
    assert!(
        region_is(&shot, &low.geometry, (0x20, 0xc0, 0x40)),
        "low's pixels at its geometry"
    );
    let h = high.geometry;
    assert!(
        shot.all(
            h.x + h.width - 10,
            h.y + h.height - 10,
            10,
            10,
            (0xd0, 0x20, 0x20)
        ),
        "high's uncovered corner"
    );
    let g = low.geometry;
    assert_ne!(
        shot.rgb(g.x - 1, g.y - 1),
        (0x20, 0xc0, 0x40),
        "nothing drawn outside"
    );
}

#[test]
fn real_clients_connect_through_a_level_socket_and_render() {
    let mut s = Session::start(&["--size", "1280x720"]).unwrap();

    // wayland-info lists what a level sees: its own seat only.
    let info = s
        .client_command("low", external("wayland-info"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        info.status.success(),
        "wayland-info failed: {}",
        String::from_utf8_lossy(&info.stderr)
    );
    let text = String::from_utf8_lossy(&info.stdout);
    assert_eq!(text.matches("interface: 'wl_seat'").count(), 1, "{text}");
    assert!(text.contains("name: low"), "{text}");
    assert!(!text.contains("name: high"), "{text}");
    for expected in [
        "xdg_wm_base",
        "wl_shm",
        "wp_viewporter",
        "wp_presentation",
        "zxdg_output_manager_v1",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }

    // weston-simple-shm maps and draws its pattern.
    let mut shm = s.client_command("high", external("weston-simple-shm"));
    shm.stdout(Stdio::null()).stderr(Stdio::null());
    s.spawn(shm).unwrap();
    let win = s.wait_window("org.freedesktop.weston.simple-shm").unwrap();
    assert_eq!(win.level, "high");
    let g = win.geometry;
    let shot = s.screenshot().unwrap();
    assert!(
        shot.distinct_colours(g.x, g.y, g.width, g.height) > 10,
        "simple-shm drew its pattern"
    );

    // foot shows a shell prompt: its window is not blank.
    let mut foot = s.client_command("low", external("foot"));
    foot.stdout(Stdio::null()).stderr(Stdio::null());
    s.spawn(foot).unwrap();
    let foot_win = s.wait_window("foot").unwrap();
    assert_eq!(foot_win.level, "low");
    let g = foot_win.geometry;
    let mut distinct = 0;
    wait_until("foot to draw text", Duration::from_secs(10), || {
        let shot = s.screenshot().unwrap();
        distinct = shot.distinct_colours(g.x, g.y, g.width.min(300), g.height.min(60));
        distinct > 2
    });
    assert!(distinct > 2);
}

#[test]
fn injected_typing_reaches_a_real_terminal() {
    let mut s = Session::start(&[]).unwrap();
    let marker = s.runtime.path().join("typed.txt");
    let mut foot = s.client_command("low", external("foot"));
    foot.stdout(Stdio::null()).stderr(Stdio::null());
    s.spawn(foot).unwrap();
    let win = s.wait_window("foot").unwrap();
    assert!(win.focused, "the only window has focus");
    // Give the shell a moment to start reading.
    std::thread::sleep(Duration::from_millis(500));
    s.input(InputEvent::Type {
        text: format!("echo cloison-typed > {}\n", marker.display()),
    })
    .unwrap();
    wait_until("the typed command to run", Duration::from_secs(10), || {
        std::fs::read_to_string(&marker).is_ok_and(|t| t.trim() == "cloison-typed")
    });
}

fn wait_for_frames(lines: &std::sync::Mutex<Vec<String>>, n: usize) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("frame "))
            .count()
            > n
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_client_that_truncates_its_pool_is_cut_off_and_others_keep_their_frames() {
    let mut s = Session::start(&["--size", "800x600"]).unwrap();
    let (_, good) = s
        .spawn_test_client(
            "high",
            &[
                "window",
                "--animate",
                "--app-id",
                "good",
                "--size",
                "100x100",
            ],
        )
        .unwrap();
    s.wait_window("good").unwrap();
    let frames = |lines: &std::sync::Mutex<Vec<String>>| {
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("frame "))
            .count()
    };
    // (Waits of 30 s: on a 2-core machine running many sessions at once, 10 s was once too
    // short for 5 frames; these wait for an event, they time nothing.)
    if !wait_for_frames(&good, 5) {
        panic!(
            "the animating client got no frames: {:?}\nstatus {:?}",
            good.lock().unwrap(),
            s.status()
        );
    }

    let (bad_index, bad) = s
        .spawn_test_client("low", &["truncate", "--app-id", "bad"])
        .unwrap();
    wait_until(
        "the truncating client to be cut off",
        Duration::from_secs(30),
        || {
            bad.lock()
                .unwrap()
                .iter()
                .any(|l| l.starts_with("disconnected"))
        },
    );
    let status = s.child(bad_index).wait().unwrap();
    assert!(
        status.success(),
        "the test client saw its disconnection: {:?}",
        bad.lock().unwrap()
    );
    s.wait_for("low's client to be gone", |st| {
        st.levels[0].clients == 0 && st.windows.iter().all(|w| w.app_id != "bad")
    })
    .unwrap();

    let before = frames(&good);
    wait_until(
        "more frames for the good client",
        Duration::from_secs(30),
        || frames(&good) > before + 10,
    );
    assert_eq!(s.status().unwrap().levels[1].clients, 1);
}

#[test]
fn sigterm_ends_the_session_cleanly() {
    let mut s = Session::start(&[]).unwrap();
    s.spawn_test_client("low", &["window", "--app-id", "x"])
        .unwrap();
    s.wait_window("x").unwrap();
    let session_dir = cloison_ipc::paths::session_dir(s.runtime.path());
    assert!(session_dir.join("ctl.sock").exists());
    let status = s.terminate().unwrap();
    assert_eq!(status.code(), Some(0), "exit 0 on SIGTERM");
    assert!(
        !session_dir.exists(),
        "sockets and runtime directory removed"
    );
}

#[test]
fn the_ctl_command_line_client_works() {
    let s = Session::start(&["--size", "640x480"]).unwrap();
    let ctl = |args: &[&str]| {
        Command::new(our_binary("cloison"))
            .arg("ctl")
            .args(args)
            .env("XDG_RUNTIME_DIR", s.runtime.path())
            .output()
            .unwrap()
    };
    let out = ctl(&["status"]);
    assert!(out.status.success());
    let status: cloison_ipc::Status = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status.output.width, 640);

    let file = s.runtime.path().join("shot.png");
    let out = ctl(&["screenshot", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shot = Image::from_png(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!((shot.width, shot.height), (640, 480));

    let out = ctl(&["input", "key", "ctrl+nosuchkey"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown key name \"nosuchkey\""));
    assert!(ctl(&["input", "pointer-move", "10", "10"]).status.success());
    assert!(ctl(&["input", "click"]).status.success());

    let out = ctl(&["quit"]);
    assert!(out.status.success());
    let mut s = s;
    let deadline = Instant::now() + Duration::from_secs(10);
    let session_dir = cloison_ipc::paths::session_dir(s.runtime.path());
    while session_dir.exists() {
        assert!(Instant::now() < deadline, "quit did not end the session");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.terminate().ok().and_then(|st| st.code()), Some(0));
}

#[test]
fn a_bad_configuration_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[[level]]\nname = \"low\"\nlabel = \"LOW\"\ncolor = \"#2e9e44\"\nrank = 0\n\n[[level]]\nname = \"low\"\nlabel = \"HIGH\"\ncolor = \"#c62828\"\nrank = 1\n",
    )
    .unwrap();
    let out = Command::new(our_binary("cloison"))
        .args(["run", "--backend", "headless", "--config"])
        .arg(&config)
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:8:8: duplicate level name \"low\"",
            config.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("fix: give each [[level]] a unique name"),
        "{err}"
    );
    assert!(
        !cloison_ipc::paths::session_dir(dir.path()).exists(),
        "nothing started"
    );
}

#[test]
fn the_nested_window_opens_at_a_size_that_fits_the_display() {
    // The default size (1920x1080) on a 1280x800 display.
    let x = Xvfb::start();
    let mut s = Session::start_with(
        &["--backend", "winit"],
        &[],
        &[("DISPLAY", x.1.as_str()), ("LIBGL_ALWAYS_SOFTWARE", "1")],
    )
    .unwrap();
    let st = s
        .wait_for("the window to fit 90 % of the display", |st| {
            st.output.width <= 1152 && st.output.height <= 720
        })
        .unwrap();
    assert!(
        st.output.width >= 1000 && st.output.height >= 600,
        "{:?}",
        st.output
    );
    // What the user sees is drawn at that size.
    let shot = s.screenshot().unwrap();
    assert_eq!(
        (shot.width as i32, shot.height as i32),
        (st.output.width, st.output.height)
    );
}

/// An X server for the nested backend; killed on drop.
struct Xvfb(std::process::Child, String);

impl Xvfb {
    fn start() -> Xvfb {
        Self::start_with(&[])
    }

    /// Starts Xvfb with extra arguments (e.g. `-auth FILE`). The server picks a free display
    /// number itself (`-displayfd`) and says which: display numbers left behind by servers of
    /// earlier runs (sockets and lock files) never make a test fail.
    fn start_with(extra: &[&str]) -> Xvfb {
        use std::io::BufRead as _;
        use std::os::fd::AsRawFd as _;
        let xvfb = external("Xvfb");
        // Inherited by the server (no close-on-exec); ours is dropped after the spawn.
        let (read, write) = nix::unistd::pipe().expect("pipe");
        let child = Command::new(&xvfb)
            .args(["-displayfd", &write.as_raw_fd().to_string()])
            .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        drop(write);
        let mut line = String::new();
        std::io::BufReader::new(std::fs::File::from(read))
            .read_line(&mut line)
            .expect("Xvfb says its display");
        let n: u32 = line.trim().parse().expect("a display number");
        let display = format!(":{n}");
        let socket = format!("/tmp/.X11-unix/X{n}");
        wait_until("Xvfb to listen", Duration::from_secs(10), || {
            std::path::Path::new(&socket).exists()
        });
        Xvfb(child, display)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM, so the server removes its socket and lock file.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pid of the compositor process of the session whose launcher is `launcher`.
fn compositor_pid(launcher: u32) -> Option<u32> {
    let parent = |pid: u32| -> Option<u32> {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))?
            .trim()
            .parse()
            .ok()
    };
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        if comm.trim() != "cloison-composi" {
            return None;
        }
        let mut p = pid;
        for _ in 0..8 {
            p = parent(p)?;
            if p == launcher {
                return Some(pid);
            }
        }
        None
    })
}

/// Nested in an X display that wants a cookie: the compositor's cage sees that display's
/// socket alone (not /tmp/.X11-unix), and gets only that display's cookie, as a descriptor.
#[test]
fn the_nested_backend_sees_its_display_socket_and_cookie_only() {
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("Xauthority");
    // A cookie for the display (added once its number is known) and one for another host.
    std::fs::write(&auth, b"").unwrap();
    let x = Xvfb::start_with(&["-auth", auth.to_str().unwrap()]);
    let xauth = external("xauth");
    for (display, cookie) in [
        (x.1.as_str(), "0123456789abcdef0123456789abcdef"),
        ("elsewhere/unix:3", "fedcba9876543210fedcba9876543210"),
    ] {
        let status = Command::new(&xauth)
            .args(["-f", auth.to_str().unwrap(), "add", display, ".", cookie])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let mut s = Session::start_with(
        &["--backend", "winit", "--size", "640x480"],
        &[],
        &[
            ("DISPLAY", x.1.as_str()),
            ("XAUTHORITY", auth.to_str().unwrap()),
            ("LIBGL_ALWAYS_SOFTWARE", "1"),
        ],
    )
    .unwrap();
    // It runs: the cookie reached it (the server refuses connections without one).
    assert_eq!(s.status().unwrap().output.backend, "winit");
    let compositor = compositor_pid(s.launcher_pid().unwrap()).expect("the compositor");
    let number = x.1.trim_start_matches(':');
    let sockets: Vec<String> = std::fs::read_dir(format!("/proc/{compositor}/root/tmp/.X11-unix"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(sockets, [format!("X{number}")], "only its display's socket");
    let environ = std::fs::read(format!("/proc/{compositor}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        environ
            .split('\0')
            .any(|v| v.starts_with("XAUTHORITY=/proc/self/fd/")),
        "{environ}"
    );
    // The authority it holds has this display's cookie and not the other host's.
    let fd = environ
        .split('\0')
        .find_map(|v| v.strip_prefix("XAUTHORITY=/proc/self/fd/"))
        .unwrap()
        .to_string();
    let held = std::fs::read(format!("/proc/{compositor}/fd/{fd}")).unwrap();
    let find = |hex: &str| {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        held.windows(bytes.len()).any(|w| w == bytes)
    };
    assert!(find("0123456789abcdef0123456789abcdef"), "its cookie");
    assert!(
        !find("fedcba9876543210fedcba9876543210"),
        "not the other host's"
    );
    assert_eq!(s.terminate().unwrap().code(), Some(0));
}

/// Nested in a Wayland compositor (weston, headless): the compositor's cage gets the launcher's
/// connection to it as a descriptor (`WAYLAND_SOCKET`), not the parent's socket or runtime
/// directory.
#[test]
fn the_nested_backend_gets_a_wayland_parent_as_a_descriptor() {
    let parent_runtime = tempfile::Builder::new()
        .prefix("cloison-parent-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        parent_runtime.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let mut weston = Command::new(external("weston"))
        .args(["--backend=headless-backend.so", "--socket=wayland-parent"])
        .env("XDG_RUNTIME_DIR", parent_runtime.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let socket = parent_runtime.path().join("wayland-parent");
    wait_until("weston to listen", Duration::from_secs(10), || {
        socket.exists()
    });
    let started = Session::start_with(
        &["--backend", "auto", "--size", "640x480"],
        &[],
        &[
            ("WAYLAND_DISPLAY", socket.to_str().unwrap()),
            ("LIBGL_ALWAYS_SOFTWARE", "1"),
        ],
    );
    let mut s = match started {
        Ok(s) => s,
        Err(e) => {
            let _ = weston.kill();
            panic!("{e}");
        }
    };
    assert_eq!(s.status().unwrap().output.backend, "winit");
    s.spawn_test_client(
        "high",
        &[
            "window", "--color", "2040e0", "--size", "150x100", "--app-id", "nested",
        ],
    )
    .unwrap();
    let win = s.wait_window("nested").unwrap();
    let shot = s.screenshot().unwrap();
    assert!(region_is(&shot, &win.geometry, (0x20, 0x40, 0xe0)));
    let compositor = compositor_pid(s.launcher_pid().unwrap()).expect("the compositor");
    let environ = std::fs::read(format!("/proc/{compositor}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        environ
            .split('\0')
            .any(|v| v.starts_with("WAYLAND_SOCKET=")),
        "{environ}"
    );
    assert!(!environ.contains("WAYLAND_DISPLAY="), "{environ}");
    let root = format!("/proc/{compositor}/root");
    assert!(!Path::new(&root).join("run/cloison/parent-wayland").exists());
    assert!(
        !Path::new(&root)
            .join(socket.strip_prefix("/").unwrap())
            .exists()
    );
    assert_eq!(s.terminate().unwrap().code(), Some(0));
    let _ = weston.kill();
    let _ = weston.wait();
}

#[test]
fn the_nested_winit_backend_runs_under_xvfb() {
    let x = Xvfb::start();
    let mut s = Session::start_with(
        &["--backend", "auto", "--size", "800x600"],
        &[],
        &[("DISPLAY", x.1.as_str()), ("LIBGL_ALWAYS_SOFTWARE", "1")],
    )
    .unwrap();
    assert_eq!(
        s.status().unwrap().output.backend,
        "winit",
        "auto picks winit with a display"
    );
    s.spawn_test_client(
        "high",
        &[
            "window", "--color", "2040e0", "--size", "150x100", "--app-id", "nested",
        ],
    )
    .unwrap();
    let win = s.wait_window("nested").unwrap();
    let shot = s.screenshot().unwrap();
    assert_eq!((shot.width, shot.height), (800, 600));
    assert!(
        region_is(&shot, &win.geometry, (0x20, 0x40, 0xe0)),
        "the client's pixels in the nested output"
    );
    // Locked, the nested output shows the lock alone: not the client's pixels, not its
    // level's frame.
    s.request(&cloison_ipc::Request::Lock).unwrap();
    let shot = s.screenshot().unwrap();
    let high = cloison_tests::ui::RED;
    let any = |rgb: (u8, u8, u8)| {
        (0..shot.height as i32).any(|y| (0..shot.width as i32).any(|x| shot.rgb(x, y) == rgb))
    };
    assert!(
        !any((0x20, 0x40, 0xe0)) && !any(high),
        "a level shows through the lock"
    );
    assert!(s.status().unwrap().locked);
    assert_eq!(s.terminate().unwrap().code(), Some(0));
}
