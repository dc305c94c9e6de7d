//! Drives a real `cloison run` session for end-to-end tests: a private `XDG_RUNTIME_DIR`, the
//! real binaries from the build directory, the control socket, real clients on level sockets.
//!
//! A tool a test needs (foot, weston-simple-shm, wayland-info, Xvfb) that is missing is a test
//! failure, never a skip: CI installs them all (`scripts/dev test`).

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use cloison_ipc::{Client, InputEvent, Reply, Request, Status, WindowStatus};

/// The build directory holding the binaries (`target/debug` when run by `cargo test`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/debug/deps/<test> -> target/debug
    let mut dir = exe.parent().expect("deps dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Path of one of our binaries; panics with a clear message if it was not built.
pub fn our_binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (`cargo build --workspace --bins`, done by `scripts/dev test`)",
        path.display()
    );
    path
}

/// Path of an external program; panics (fails the test) if it is not installed.
pub fn external(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let path = Path::new(dir).join(name);
        if path.is_file() {
            return path;
        }
    }
    panic!("{name} is not installed: `scripts/dev test` installs every tool the tests use");
}

/// An RGBA image.
pub struct Image {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// RGBA rows.
    pub rgba: Vec<u8>,
}

impl Image {
    /// Decodes a PNG.
    pub fn from_png(png: &[u8]) -> anyhow::Result<Image> {
        let decoder = png::Decoder::new(png);
        let mut reader = decoder.read_info()?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf)?;
        anyhow::ensure!(info.color_type == png::ColorType::Rgba, "expected RGBA");
        buf.truncate(info.buffer_size());
        Ok(Image {
            width: info.width,
            height: info.height,
            rgba: buf,
        })
    }

    /// Writes the image as a PNG (for a person to look at after a failure).
    pub fn save_png(&self, path: &Path) -> anyhow::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut encoder = png::Encoder::new(file, self.width, self.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&self.rgba)?;
        Ok(())
    }

    /// The pixel at (x, y) as (r, g, b).
    pub fn rgb(&self, x: i32, y: i32) -> (u8, u8, u8) {
        let i = (y as usize * self.width as usize + x as usize) * 4;
        (self.rgba[i], self.rgba[i + 1], self.rgba[i + 2])
    }

    /// Number of distinct colours in a rectangle.
    pub fn distinct_colours(&self, x: i32, y: i32, w: i32, h: i32) -> usize {
        let mut seen = std::collections::HashSet::new();
        for yy in y..y + h {
            for xx in x..x + w {
                seen.insert(self.rgb(xx, yy));
            }
        }
        seen.len()
    }

    /// Whether every pixel of the rectangle is `rgb`.
    pub fn all(&self, x: i32, y: i32, w: i32, h: i32, rgb: (u8, u8, u8)) -> bool {
        (y..y + h).all(|yy| (x..x + w).all(|xx| self.rgb(xx, yy) == rgb))
    }
}

/// Processes whose parent chain reaches `ancestor`.
pub fn descendants(ancestor: u32) -> Vec<u32> {
    let parent = |pid: u32| -> Option<u32> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))?
            .trim()
            .parse()
            .ok()
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let mut p = pid;
        for _ in 0..32 {
            match parent(p) {
                Some(pp) if pp == ancestor => {
                    found.push(pid);
                    break;
                }
                Some(pp) if pp > 1 => p = pp,
                _ => break,
            }
        }
    }
    found
}

/// A process's name (`comm`: its first 15 bytes).
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Polls `pred` every 50 ms until it holds; fails the test after 15 s, naming `what`.
pub fn wait_until(what: &str, pred: impl FnMut() -> bool) {
    wait_until_for(what, Duration::from_secs(15), pred);
}

/// [`wait_until`] with another timeout.
pub fn wait_until_for(what: &str, timeout: Duration, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for `file` to exist and end with a line `done`; returns its contents before that.
pub fn read_when_done(file: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.ends_with("done\n") {
            return text.trim_end_matches("done\n").to_string();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {} to be written",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The built-in default without session apps.
pub fn quiet_config() -> String {
    include_str!("../../assets/cloison.toml")
        .replace("[[level.session]]\ncommand = [\"foot\"]\n", "")
}

/// Where a test's `cloison run` runs.
#[derive(Clone, Copy)]
enum Host<'a> {
    /// Root: a new network namespace of its own.
    Private,
    /// Root: the network namespace at this path.
    Netns(&'a Path),
    /// As this unprivileged user (in a new network namespace).
    User(u32),
}

/// `dir` and everything under it.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// A running `cloison run` session.
pub struct Session {
    child: Option<Child>,
    /// The session's private `XDG_RUNTIME_DIR`.
    pub runtime: tempfile::TempDir,
    /// What `cloison run` printed on standard output.
    pub stdout: Arc<Mutex<Vec<String>>>,
    /// What `cloison run` printed on standard error.
    pub stderr: Arc<Mutex<Vec<String>>>,
    ctl: Client,
    /// Clients started with [`Session::spawn`], killed on drop.
    children: Vec<Child>,
    /// The terminal `cloison run` was started from ([`Session::start_in_terminal`]): its
    /// controlling terminal, standard input and outputs.
    pub terminal: Option<std::os::fd::OwnedFd>,
}

impl Session {
    /// Starts `cloison run --backend headless` with the given extra arguments, and a
    /// configuration like the built-in default but with no session apps (tests add their own
    /// clients).
    pub fn start(extra: &[&str]) -> anyhow::Result<Session> {
        Self::start_with(&["--backend", "headless"], extra, &[])
    }

    /// Starts `cloison run --backend headless` with the real built-in default configuration
    /// (a terminal in each level).
    pub fn start_default(extra: &[&str]) -> anyhow::Result<Session> {
        Self::start_full(&["--backend", "headless"], extra, &[], None, false)
    }

    /// Starts `cloison run --backend headless` with `config` as its configuration file.
    pub fn start_with_config(config: &str) -> anyhow::Result<Session> {
        Self::start_full(&["--backend", "headless"], &[], &[], Some(config), false)
    }

    /// [`Session::start_default`] with environment `env` too.
    pub fn start_default_with(extra: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Session> {
        Self::start_full(&["--backend", "headless"], extra, env, None, false)
    }

    /// Starts `cloison run --backend headless` (quiet configuration) the way a user does from a
    /// terminal or a console login: in a session of its own whose controlling terminal is a new
    /// pty, which is also its standard input and outputs (like `script`). Its output (both
    /// streams, through the terminal) is collected in `stdout` and `stderr` alike.
    pub fn start_in_terminal(extra: &[&str]) -> anyhow::Result<Session> {
        Self::start_full(
            &["--backend", "headless"],
            extra,
            &[],
            Some(&quiet_config()),
            true,
        )
    }

    /// Starts `cloison run` with `args`, `extra` and environment `env` (quiet configuration).
    pub fn start_with(
        args: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Session> {
        Self::start_full(args, extra, env, Some(&quiet_config()), false)
    }

    /// Starts `cloison run --backend headless` with `config`, inside the network namespace
    /// at `netns` (a test's stand-in for the host: see [`crate::net::TestNet`]).
    pub fn start_in_netns(config: &str, netns: &Path) -> anyhow::Result<Session> {
        Self::start_netns(
            &["--backend", "headless"],
            &[],
            &[],
            Some(config),
            false,
            Host::Netns(netns),
        )
    }

    /// Starts `cloison run --backend headless` with `config` as the unprivileged user `uid`
    /// (a user session: the launcher is not root), from a root test.
    pub fn start_as_user(config: &str, uid: u32) -> anyhow::Result<Session> {
        Self::start_netns(
            &["--backend", "headless"],
            &[],
            &[],
            Some(config),
            false,
            Host::User(uid),
        )
    }

    fn start_full(
        args: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
        config: Option<&str>,
        terminal: bool,
    ) -> anyhow::Result<Session> {
        Self::start_netns(args, extra, env, config, terminal, Host::Private)
    }

    /// Run as root, a session is started in a network namespace of its own (`netns`, or a
    /// new empty one): the networks it builds for its levels (NAT links, firewall tables, IPv4
    /// forwarding) are made there, never in the machine's own namespace.
    fn start_netns(
        args: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
        config: Option<&str>,
        terminal: bool,
        host: Host<'_>,
    ) -> anyhow::Result<Session> {
        let runtime = tempfile::Builder::new().prefix("cloison-e2e-").tempdir()?;
        let config_home = runtime.path().join("config");
        if let Some(config) = config {
            let dir = config_home.join("cloison");
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("cloison.toml"), config)?;
        }
        let mut command = Command::new(our_binary("cloison"));
        command
            .arg("run")
            .args(args)
            .args(extra)
            .env("XDG_RUNTIME_DIR", runtime.path())
            // Homes and caches of this session only.
            .env("XDG_DATA_HOME", runtime.path().join("data"))
            .env("XDG_CACHE_HOME", runtime.path().join("cache"))
            .env("XDG_STATE_HOME", runtime.path().join("state"))
            // Never pick up the developer's own configuration.
            .env("XDG_CONFIG_HOME", &config_home)
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let pty = if terminal {
            let pty = nix::pty::openpty(None, None).context("openpty")?;
            let slave = std::fs::File::from(pty.slave);
            command
                .stdin(slave.try_clone()?)
                .stdout(slave.try_clone()?)
                .stderr(slave);
            use std::os::unix::process::CommandExt as _;
            // SAFETY: setsid and ioctl are async-signal-safe; standard input is the pty's
            // slave by the time this runs.
            unsafe {
                command.pre_exec(|| {
                    nix::unistd::setsid().map_err(std::io::Error::from)?;
                    if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            Some(pty.master)
        } else {
            None
        };
        let netns = match host {
            Host::Netns(path) => Some(
                std::fs::File::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ),
            _ => None,
        };
        let user = match host {
            Host::User(uid) => {
                // Its session's directories are its own.
                for entry in walk(runtime.path()) {
                    std::os::unix::fs::lchown(&entry, Some(uid), Some(uid))?;
                }
                Some(uid)
            }
            _ => None,
        };
        if nix::unistd::geteuid().is_root() {
            use std::os::fd::AsRawFd as _;
            use std::os::unix::process::CommandExt as _;
            let fd = netns.as_ref().map(|f| f.as_raw_fd());
            // SAFETY: setns, unshare, setgroups, setresgid and setresuid are single system
            // calls (async-signal-safe); the namespace's file stays open until spawn returns.
            unsafe {
                command.pre_exec(move || {
                    let r = match fd {
                        Some(fd) => libc::setns(fd, libc::CLONE_NEWNET),
                        None => libc::unshare(libc::CLONE_NEWNET),
                    };
                    if r != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if let Some(uid) = user
                        && (libc::setgroups(0, std::ptr::null()) != 0
                            || libc::setresgid(uid, uid, uid) != 0
                            || libc::setresuid(uid, uid, uid) != 0)
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().context("cannot start cloison run")?;
        drop(netns);
        // Its messages are kept (tests read them) and passed on to the test's output.
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let keep = |read: Box<dyn std::io::Read + Send>,
                    sinks: Vec<Arc<Mutex<Vec<String>>>>,
                    echo: bool| {
            std::thread::spawn(move || {
                use std::io::Write as _;
                for line in BufReader::new(read).lines().map_while(Result::ok) {
                    let line = line.trim_end_matches('\r').to_string();
                    if echo {
                        let _ = writeln!(std::io::stderr(), "{line}");
                    }
                    for sink in &sinks {
                        sink.lock().expect("lock").push(line.clone());
                    }
                }
            });
        };
        match &pty {
            Some(master) => keep(
                Box::new(std::fs::File::from(master.try_clone()?)),
                vec![stdout.clone(), stderr.clone()],
                true,
            ),
            None => {
                let err = child.stderr.take().context("no stderr")?;
                keep(Box::new(err), vec![stderr.clone()], true);
                let out = child.stdout.take().context("no stdout")?;
                keep(Box::new(out), vec![stdout.clone()], false);
            }
        }
        let ctl_path = cloison_ipc::paths::ctl_socket(runtime.path());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if stdout
                .lock()
                .expect("lock")
                .iter()
                .any(|l| l.starts_with("Press Ctrl+C"))
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!("cloison run exited early: {status}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("cloison run did not become ready");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let ctl = Client::connect(&ctl_path)?;
        Ok(Session {
            child: Some(child),
            runtime,
            stdout,
            stderr,
            ctl,
            children: Vec::new(),
            terminal: pty,
        })
    }

    /// Waits for the default session's terminals: one foot window per level.
    pub fn wait_terminals(&mut self) {
        self.wait_for("a terminal in each level", |st| {
            ["low", "high"].iter().all(|l| {
                st.windows
                    .iter()
                    .any(|w| &w.level == l && w.app_id == "foot")
            })
        })
        .expect("terminals");
    }

    /// Gives `level` the keyboard (if it has not got it) with Alt+Shift+Tab, a compositor
    /// shortcut no client sees (a click in a terminal would select text there); each press
    /// goes to the least recently used window, so presses visit every window in turn.
    pub fn focus(&mut self, level: &str) {
        self.focus_where(level, |_| true);
    }

    /// Like [`Session::focus`], for `level`'s window with this app_id.
    pub fn focus_app(&mut self, level: &str, app_id: &str) {
        self.focus_where(level, |w| w.app_id == app_id);
    }

    fn focus_where(&mut self, level: &str, pred: impl Fn(&WindowStatus) -> bool) {
        // Each press visits the least recently used window: as many as there are windows.
        let tries = self.status().expect("status").windows.len().max(11) + 1;
        for _ in 0..tries {
            let status = self.status().expect("status");
            if status
                .windows
                .iter()
                .any(|w| w.focused && w.level == level && pred(w))
            {
                return;
            }
            self.input(InputEvent::Key {
                chord: "alt+shift+Tab".into(),
            })
            .expect("input");
        }
        panic!("Alt+Shift+Tab never reached a window of {level}");
    }

    /// Types a command line into `level`'s terminal (its foot window).
    pub fn type_in(&mut self, level: &str, line: &str) {
        self.focus_app(level, "foot");
        self.input(InputEvent::Type {
            text: format!("{line}\n"),
        })
        .expect("input");
    }

    /// `cloison spawn LEVEL -- ARGV`: the pid it prints.
    pub fn spawn_in(&self, level: &str, argv: &[&str]) -> i32 {
        let out = self
            .cloison()
            .arg("spawn")
            .arg(level)
            .arg("--")
            .args(argv)
            .output()
            .expect("cloison spawn");
        assert!(
            out.status.success(),
            "cloison spawn failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a pid")
    }

    /// What `level`'s programs wrote so far (its log file; `cloison logs LEVEL`).
    pub fn level_log(&self, level: &str) -> String {
        std::fs::read_to_string(
            self.runtime
                .path()
                .join("state/cloison/logs")
                .join(format!("{level}.log")),
        )
        .unwrap_or_default()
    }

    /// The session's audit log.
    pub fn audit_log(&self) -> PathBuf {
        self.runtime.path().join("state/cloison/audit.jsonl")
    }

    /// A level's home on the host.
    pub fn home(&self, level: &str) -> PathBuf {
        self.runtime
            .path()
            .join("data/cloison/levels")
            .join(level)
            .join("home")
    }

    /// `cloison` with this session's environment (for `cloison spawn`, `cloison ctl`).
    pub fn cloison(&self) -> Command {
        let mut command = Command::new(our_binary("cloison"));
        command
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("XDG_STATE_HOME", self.runtime.path().join("state"))
            .stdin(Stdio::null());
        command
    }

    /// A control request.
    pub fn request(&mut self, request: &Request) -> anyhow::Result<Reply> {
        Ok(self.ctl.request(request)?)
    }

    /// The pid of `cloison run`.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The pid of the session's compositor (in its cage, under the launcher).
    pub fn compositor_pid(&self) -> Option<u32> {
        descendants(self.pid()?)
            .into_iter()
            .find(|p| comm(*p) == "cloison-composi")
    }

    /// A level's Wayland socket.
    pub fn socket(&self, level: &str) -> PathBuf {
        cloison_ipc::paths::level_wayland_socket(self.runtime.path(), level)
    }

    /// A command set up to run as a client of `level`.
    pub fn client_command(&self, level: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env("WAYLAND_DISPLAY", self.socket(level))
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("SHELL", "/bin/sh")
            .env("HOME", self.runtime.path())
            .env_remove("DISPLAY")
            .stdin(Stdio::null());
        command
    }

    /// Starts a client on `level`; it is killed when the session is dropped.
    pub fn spawn(&mut self, mut command: Command) -> anyhow::Result<usize> {
        let child = command.spawn().context("cannot start the client")?;
        self.children.push(child);
        Ok(self.children.len() - 1)
    }

    /// Starts `cloison-test-client` on `level`; returns its index and a live view of the lines it prints.
    pub fn spawn_test_client(
        &mut self,
        level: &str,
        args: &[&str],
    ) -> anyhow::Result<(usize, Arc<Mutex<Vec<String>>>)> {
        let mut command = self.client_command(level, our_binary("cloison-test-client"));
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let out = child.stdout.take().context("no stdout")?;
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().expect("lock").push(line);
            }
        });
        // Its stderr too, marked: with libwayland-client (the backend whenever smithay's winit
        // backend is in the same build), a protocol error's message is only logged there.
        let sink = lines.clone();
        let err = child.stderr.take().context("no stderr")?;
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = writeln!(std::io::stderr(), "test client: {line}");
                sink.lock().expect("lock").push(format!("stderr: {line}"));
            }
        });
        self.children.push(child);
        Ok((self.children.len() - 1, lines))
    }

    /// Presses and releases a chord through the control socket (`ctl input key`).
    pub fn key(&mut self, chord: &str) {
        self.input(InputEvent::Key {
            chord: chord.into(),
        })
        .expect("input");
    }

    /// Puts `bytes` in a file of `level`'s home, owned by the level (as if it wrote it).
    pub fn put(&self, level: &str, name: &str, bytes: &[u8]) -> PathBuf {
        use std::os::unix::fs::MetadataExt as _;
        let home = self.home(level);
        let path = home.join(name);
        std::fs::write(&path, bytes).expect("write");
        let owner = std::fs::metadata(&home).expect("home");
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).expect("chown");
        path
    }

    /// `wl-copy` of a home file in `level` (given the keyboard first): waits until it holds
    /// the level's clipboard (its short-lived window is gone).
    pub fn wl_copy(&mut self, level: &str, file: &str, primary: bool) {
        self.focus(level);
        let before = self.status().expect("status").windows.len();
        let flag = if primary { "--primary " } else { "" };
        self.spawn_in(level, &["sh", "-c", &format!("wl-copy {flag}< ~/{file}")]);
        std::thread::sleep(Duration::from_millis(400));
        self.wait_for("wl-copy to settle", |st| {
            st.windows.len() == before && st.focused_level.as_deref() == Some(level)
        })
        .expect("wl-copy");
    }

    /// `wl-paste` in `level` (given the keyboard first) into a home file; returns what it
    /// wrote (empty when there was nothing).
    pub fn wl_paste(&mut self, level: &str, primary: bool) -> Vec<u8> {
        self.focus(level);
        let flag = if primary { "--primary " } else { "" };
        let home = self.home(level);
        let _ = std::fs::remove_file(home.join("pasted.done"));
        self.spawn_in(
            level,
            &[
                "sh",
                "-c",
                &format!("wl-paste -n {flag}> ~/pasted 2>/dev/null; echo done > ~/pasted.done"),
            ],
        );
        read_when_done(&home.join("pasted.done"));
        std::fs::read(home.join("pasted")).expect("pasted")
    }

    /// Waits for `cloison run` to log a notification containing `text`.
    pub fn wait_notified(&self, text: &str) {
        wait_until(&format!("a notification with {text:?}"), || {
            self.stderr
                .lock()
                .expect("lock")
                .iter()
                .any(|l| l.contains("notification=") && l.contains(text))
        });
    }

    /// The audit log's records.
    pub fn audit_records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.audit_log())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The pid of `cloison run` (while it runs).
    pub fn launcher_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A spawned client's process.
    pub fn child(&mut self, index: usize) -> &mut Child {
        &mut self.children[index]
    }

    /// `ctl status`.
    pub fn status(&mut self) -> anyhow::Result<Status> {
        match self.ctl.request(&Request::Status)? {
            Reply::Status(s) => Ok(s),
            other => bail!("unexpected reply {other:?}"),
        }
    }

    /// Polls `ctl status` until `pred` holds (10 s at most).
    pub fn wait_for(
        &mut self,
        what: &str,
        pred: impl Fn(&Status) -> bool,
    ) -> anyhow::Result<Status> {
        self.wait_for_long(what, Duration::from_secs(10), pred)
    }

    /// [`Session::wait_for`] with another timeout (for slow starters: browsers, office).
    pub fn wait_for_long(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Status) -> bool,
    ) -> anyhow::Result<Status> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status()?;
            if pred(&status) {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what}; last status: {status:#?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a window whose app_id is `app_id` and returns it.
    pub fn wait_window(&mut self, app_id: &str) -> anyhow::Result<WindowStatus> {
        let status = self.wait_for(&format!("a window with app_id {app_id}"), |s| {
            s.windows.iter().any(|w| w.app_id == app_id)
        })?;
        Ok(status
            .windows
            .into_iter()
            .find(|w| w.app_id == app_id)
            .expect("present"))
    }

    /// `ctl screenshot`, decoded.
    pub fn screenshot(&mut self) -> anyhow::Result<Image> {
        match self.ctl.request(&Request::Screenshot)? {
            Reply::Screenshot(shot) => {
                let png = base64::engine::general_purpose::STANDARD.decode(shot.png_base64)?;
                Image::from_png(&png)
            }
            other => bail!("unexpected reply {other:?}"),
        }
    }

    /// `ctl input`.
    pub fn input(&mut self, event: InputEvent) -> anyhow::Result<()> {
        self.ctl.request(&Request::Input { event })?;
        Ok(())
    }

    /// Whether `cloison run` printed a line containing `text` on standard error.
    pub fn stderr_contains(&self, text: &str) -> bool {
        self.stderr
            .lock()
            .expect("lock")
            .iter()
            .any(|l| l.contains(text))
    }

    /// Waits for `cloison run` to end by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                // Let the output threads catch up.
                std::thread::sleep(Duration::from_millis(100));
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("cloison run did not end");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM to `cloison run` and waits for it.
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("cloison run did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub use crate::bus::PrivateBus;
