//! `cloison-x11`: a level's X server and its bridge to the level's Wayland socket, both inside
//! the level's cage.
//!
//! The X server is `Xvfb` (an X server that draws into memory; Debian 12's Xwayland 22.1 is
//! too old for a rootless bridge, see `docs/ARCHITECTURE.md`). This program is its window
//! manager and shows each of its windows as a window of the level: a top-level X window
//! becomes an `xdg_toplevel`, a menu or tooltip (override-redirect) an `xdg_popup` of the
//! window it opened from. Pixels go through shared memory: the X server writes a window's
//! content (`ShmGetImage` of its composite pixmap) into a memory file that is also the
//! `wl_buffer`'s pool. Input the compositor gives these surfaces is replayed into the X server
//! with XTEST at the window's place on the X screen.
//!
//! Here: starting the server, the loop and the window manager (X events); `view.rs` shows
//! windows on the Wayland connection, `events.rs` acts on what the compositor says and
//! replays input, `selection.rs` bridges the selections, `relay.rs` carries the clients that
//! waited for the server, `wl.rs` is the Wayland dispatch.
//!
//! To the compositor this is one more client of the level: its frame, colour, title
//! sanitising, focus rules, popup clamping and quotas apply unchanged, and it never reads a
//! byte of X11. X's own weaknesses (any X client can read another's input and windows) stay
//! inside the level: the server has no socket outside this cage, and nothing of another level
//! is on it.

mod events;
mod relay;
mod selection;
mod view;
mod wl;

use std::collections::HashMap;
use std::io::Read as _;
use std::os::fd::{AsFd as _, AsRawFd as _, FromRawFd as _};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{Connection, EventQueue, QueueHandle};
use wayland_protocols::xdg::shell::client::{xdg_popup, xdg_positioner, xdg_surface, xdg_toplevel};
use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::protocol::Event;
use x11rb::protocol::composite::ConnectionExt as _;
use x11rb::protocol::damage::{self, ConnectionExt as _};
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::protocol::xproto::{
    self, AtomEnum, ChangeWindowAttributesAux, ClientMessageEvent, ConfigureWindowAux,
    ConnectionExt as _, EventMask, InputFocus, PropMode, StackMode,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use wl::{Buffer, ViewId, WlEvent, WlState, Xid};

/// When the X server starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Start {
    /// When the first X client connects.
    OnDemand,
    /// At once.
    Always,
}

/// The widest or tallest X window shown (larger ones are shown clipped to it).
pub const MAX_EXTENT: u16 = 8192;
/// X windows shown at once (more are left unshown: a level's own X clients flooding its own
/// bridge hurt only the level, and the compositor's quotas bound what reaches it anyway).
pub const MAX_WINDOWS: usize = 512;
/// Top-level X windows followed, all X clients together, and per X client: one client that
/// makes windows without end cannot keep another's from being shown.
const MAX_TRACKED: usize = 4096;
const MAX_TRACKED_PER_CLIENT: usize = 512;
/// Buffers of all the windows together, in bytes: well under the level's shared-memory quota
/// at the compositor, so a flood of large X windows leaves some unshown instead of getting
/// the bridge (and so every X app of the level) cut off.
pub const MAX_BUFFER_BYTES: usize = 1 << 30;
/// Buffers per window (one shown, one being filled).
const BUFFERS_PER_WINDOW: usize = 2;
/// A menu or tooltip larger than this share of the output (in tenths) loses its
/// override-redirect: it is shown as a framed window (Qubes' rule).
const OVERRIDE_MAX_TENTHS: i32 = 9;
/// How long the X server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest title kept, in bytes.
const MAX_TITLE: u32 = 4096;

x11rb::atom_manager! {
    Atoms: AtomsCookie {
        WM_PROTOCOLS,
        WM_DELETE_WINDOW,
        WM_TAKE_FOCUS,
        WM_STATE,
        WM_S0,
        UTF8_STRING,
        _NET_WM_NAME,
        _NET_WM_STATE,
        _NET_WM_STATE_FULLSCREEN,
        _NET_SUPPORTED,
        _NET_SUPPORTING_WM_CHECK,
    }
}

#[allow(clippy::disallowed_macros)]
fn say(line: &str) {
    eprintln!("cloison-x11: {line}");
}

/// Runs the level's X server and bridge until either the server or the compositor goes.
pub fn run(listen_fd: i32, display: u32, start: Start) -> anyhow::Result<()> {
    // SAFETY: the cage's init passed this listening socket at this number for this program.
    let listener = unsafe { UnixListener::from_raw_fd(listen_fd) };
    // SAFETY: F_SETFD only sets close-on-exec on a descriptor number.
    unsafe { libc::fcntl(listen_fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // The session bus's socket, which init's run commands all inherit, is not this program's
    // to keep: once the bus daemon is gone, its clients must be refused, not wait.
    if listen_fd != crate::plans::BUS_FD {
        let _ = nix::unistd::close(crate::plans::BUS_FD);
    }
    if start == Start::OnDemand {
        // The first X client waits in the backlog while the server starts.
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        loop {
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("waiting for the first X client"),
            }
        }
        say("an X client connected: starting the X server");
    }

    let (mut conn, mut queue, wl_state) = connect_wayland()?;

    // The X screen: room for the largest output's windows and the menus they open past
    // their edges (input is replayed at X screen coordinates, which end at its edge).
    let out = wl_state.largest_output();
    let screen = (
        out.width.saturating_mul(2).min(i32::from(MAX_EXTENT)),
        out.height.saturating_mul(2).min(i32::from(MAX_EXTENT)),
    );
    let mut server = start_server(display, screen)?;
    say(&format!(
        "X server :{display} ready ({}x{})",
        screen.0, screen.1
    ));

    // Clients that waited for the server are carried to it.
    listener.set_nonblocking(true)?;
    let socket = Path::new(cloison_cages::plan::X11_SOCKET_DIR).join(format!("X{display}"));
    for _ in 0..4096 {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                if let Err(e) = relay::start(client, &socket) {
                    say(&format!(
                        "cannot carry an early X client to the server: {e}"
                    ));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            // (One that gave up meanwhile, or no descriptor left: the next may still come.)
            Err(_) => {}
        }
    }
    drop(listener);

    // The server's socket by its path, never an abstract name someone else may hold.
    let stream = std::os::unix::net::UnixStream::connect(&socket)
        .with_context(|| format!("connecting to {}", socket.display()))?;
    let stream = x11rb::rust_connection::DefaultStream::from_unix_stream(stream)?.0;
    let x = RustConnection::connect_to_stream(stream, 0).context("the X server's setup")?;
    let mut bridge = Bridge::new(
        x,
        wl_state,
        queue.handle(),
        out,
        conn.clone(),
        screen,
        display,
    )?;
    let mut reconnects: Vec<Instant> = Vec::new();
    let result = loop {
        match bridge.run(&conn, &mut queue) {
            Ended::X(e) => break Err(e),
            Ended::Wayland(e) => {
                // A compositor that keeps cutting the bridge off (a quota the level's X apps
                // exceed again each time) is not tried without end.
                reconnects.retain(|t| t.elapsed() < Duration::from_secs(60));
                reconnects.push(Instant::now());
                if reconnects.len() > MAX_RECONNECTS {
                    break Err(e.context("the compositor closed the connection too often"));
                }
                // The compositor went (it is restarted on the same socket): the X apps keep
                // running, their windows come back with the new one.
                say(&format!("lost the compositor ({e:#}): waiting for it"));
                bridge.forget_wayland();
                match reconnect_wayland() {
                    Ok((c, q, state)) => {
                        conn = c;
                        queue = q;
                        bridge.attach_wayland(state, queue.handle(), conn.clone());
                        say("the compositor is back: showing the X windows again");
                    }
                    Err(e) => break Err(e),
                }
            }
        }
    };
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// How the bridge's loop ended.
enum Ended {
    /// The X server is gone: the bridge ends.
    X(anyhow::Error),
    /// The compositor's connection is gone: the bridge connects again.
    Wayland(anyhow::Error),
}

/// A connection to the level's Wayland socket with the globals the bridge needs.
fn connect_wayland() -> anyhow::Result<(Connection, EventQueue<WlState>, WlState)> {
    let conn = Connection::connect_to_env().context("connecting to the level's Wayland socket")?;
    let mut queue: EventQueue<WlState> = conn.new_event_queue();
    let qh = queue.handle();
    conn.display().get_registry(&qh, ());
    let mut state = WlState::new();
    queue.roundtrip(&mut state)?;
    state.selection_devices(&qh);
    queue.roundtrip(&mut state)?;
    if state.compositor.is_none() || state.wm_base.is_none() || state.shm.is_none() {
        bail!("the level's compositor offers no wl_compositor, xdg_wm_base or wl_shm");
    }
    Ok((conn, queue, state))
}

/// Connections to the compositor lost in a minute before the bridge gives up.
const MAX_RECONNECTS: usize = 5;

/// How long the bridge waits for a compositor that went away to come back.
const RECONNECT_FOR: Duration = Duration::from_secs(60);

fn reconnect_wayland() -> anyhow::Result<(Connection, EventQueue<WlState>, WlState)> {
    let deadline = Instant::now() + RECONNECT_FOR;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        match connect_wayland() {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() > deadline => {
                return Err(e).context("the compositor did not come back");
            }
            Err(_) => {}
        }
    }
}

/// Starts `Xvfb :DISPLAY` and waits until it accepts connections.
fn start_server(display: u32, screen: (i32, i32)) -> anyhow::Result<std::process::Child> {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let write_fd = write.as_raw_fd();
    let mut command = std::process::Command::new("Xvfb");
    command
        .arg(format!(":{display}"))
        .args(["-screen", "0"])
        .arg(format!("{}x{}x24", screen.0, screen.1))
        // Unix socket only (no TCP, no abstract socket), no root background drawn (the X
        // screen is never shown), the server kept across client resets.
        .args([
            "-nolisten",
            "tcp",
            "-nolisten",
            "local",
            "-background",
            "none",
            "-noreset",
        ])
        .args(["-displayfd", &write_fd.to_string()])
        .stdin(std::process::Stdio::null());
    // SAFETY: between fork and exec only async-signal-safe calls: clearing close-on-exec on
    // the pipe's write end (the server reports its display number there) and asking for
    // SIGTERM when this bridge dies.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(write_fd, libc::F_SETFD, 0) < 0
                || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().context("starting Xvfb")?;
    drop(write);
    let mut read = std::fs::File::from(read);
    let deadline = Instant::now() + START_TIMEOUT;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [PollFd::new(read.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        if left.is_zero() || poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) == 0 {
            let _ = child.kill();
            bail!("Xvfb did not start within {START_TIMEOUT:?}");
        }
        let mut chunk = [0u8; 16];
        match read.read(&mut chunk) {
            Ok(0) => {
                let status = child.wait()?;
                bail!("Xvfb ended while starting ({status})");
            }
            Ok(n) => {
                got.extend_from_slice(&chunk[..n]);
                if got.contains(&b'\n') {
                    return Ok(child);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// A rectangle on the X screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Geometry {
    x: i16,
    y: i16,
    width: u16,
    height: u16,
}

/// A top-level X window (a child of the root).
struct XWindow {
    geometry: Geometry,
    override_redirect: bool,
    mapped: bool,
    /// Depth 32: its pixels have alpha.
    argb: bool,
    /// Its content changed since it was last shown.
    dirty: bool,
    damage: Option<damage::Damage>,
    view: Option<View>,
}

/// How an X window is shown: its surface and role.
struct View {
    id: ViewId,
    surface: WlSurface,
    xdg: xdg_surface::XdgSurface,
    role: Role,
    /// Acknowledged a configure: content may be attached.
    configured: bool,
    /// A frame is on its way: the next waits for the compositor.
    frame_pending: bool,
    buffers: Vec<Buffer>,
}

enum Role {
    Toplevel(xdg_toplevel::XdgToplevel),
    /// A menu or tooltip, placed relative to `parent`.
    Popup {
        popup: xdg_popup::XdgPopup,
        parent: Xid,
    },
}

struct Bridge {
    x: RustConnection,
    wl_conn: Connection,
    /// The X selections bridged to the level's Wayland ones.
    sel: selection::Selections,
    /// Windows of the bridge itself (never shown).
    own: [xproto::Window; 2],
    root: xproto::Window,
    atoms: Atoms,
    wl: WlState,
    qh: QueueHandle<WlState>,
    output: wl::OutputSize,
    windows: HashMap<Xid, XWindow>,
    /// Order windows were mapped in (the most recent last).
    stacking: Vec<Xid>,
    damage_event: u8,
    /// Where the pointer is: the window and its position on the X screen.
    pointer: Option<(Xid, i16, i16)>,
    keyboard: Option<Xid>,
    /// Keys held down in X by this bridge (released when the level loses the keyboard).
    keys_down: Vec<u8>,
    buttons_down: Vec<u8>,
    /// The X server's resource id mask: the bits above it tell which X client made a window.
    id_mask: u32,
    /// The X screen's size (no window is shown larger).
    screen: (i32, i32),
    /// The last [`ViewId::generation`] given.
    generation: u64,
    /// Bytes of all the windows' buffers together ([`MAX_BUFFER_BYTES`]).
    buffer_bytes: usize,
    /// The display number.
    display: u32,
    /// The keymap last given to the X server.
    keymap: Option<String>,
    /// Windows to show again once the compositor is back.
    reshow: Vec<Xid>,
}

impl Bridge {
    fn new(
        x: RustConnection,
        wl: WlState,
        qh: QueueHandle<WlState>,
        output: wl::OutputSize,
        wl_conn: Connection,
        screen: (i32, i32),
        display: u32,
    ) -> anyhow::Result<Bridge> {
        let root = x.setup().roots.first().context("an X screen")?.root;
        let id_mask = x.setup().resource_id_mask;
        let atoms = Atoms::new(&x)?.reply()?;
        for (name, present) in [
            (
                "Composite",
                x.composite_query_version(0, 4)?.reply().is_ok(),
            ),
            ("DAMAGE", x.damage_query_version(1, 1)?.reply().is_ok()),
            ("MIT-SHM", x.shm_query_version()?.reply().is_ok()),
            ("XTEST", x.xtest_get_version(2, 2)?.reply().is_ok()),
        ] {
            if !present {
                bail!("the X server lacks the {name} extension");
            }
        }
        let damage_event = x
            .extension_information(damage::X11_EXTENSION_NAME)?
            .map(|e| e.first_event)
            .context("DAMAGE")?;
        // The window manager: every top-level window's mapping and configuration comes here.
        x.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().event_mask(
                EventMask::SUBSTRUCTURE_REDIRECT
                    | EventMask::SUBSTRUCTURE_NOTIFY
                    | EventMask::PROPERTY_CHANGE,
            ),
        )?
        .check()
        .context("another window manager runs on :0")?;
        // Every window keeps its own pixels (nothing is drawn onto the root).
        x.composite_redirect_subwindows(root, x11rb::protocol::composite::Redirect::MANUAL)?;
        let check = x.generate_id()?;
        x.create_window(
            0,
            check,
            root,
            -1,
            -1,
            1,
            1,
            0,
            xproto::WindowClass::INPUT_ONLY,
            x11rb::COPY_FROM_PARENT,
            &Default::default(),
        )?;
        x.set_selection_owner(check, atoms.WM_S0, x11rb::CURRENT_TIME)?;
        for w in [root, check] {
            x.change_property32(
                PropMode::REPLACE,
                w,
                atoms._NET_SUPPORTING_WM_CHECK,
                AtomEnum::WINDOW,
                &[check],
            )?;
        }
        x.change_property8(
            PropMode::REPLACE,
            check,
            atoms._NET_WM_NAME,
            atoms.UTF8_STRING,
            b"cloison",
        )?;
        x.change_property32(
            PropMode::REPLACE,
            root,
            atoms._NET_SUPPORTED,
            AtomEnum::ATOM,
            &[
                atoms._NET_WM_NAME,
                atoms._NET_WM_STATE,
                atoms._NET_WM_STATE_FULLSCREEN,
                atoms._NET_SUPPORTING_WM_CHECK,
            ],
        )?;
        let sel = selection::Selections::new(&x, root)?;
        x.flush()?;
        let mut bridge = Bridge {
            own: [check, sel.window()],
            sel,
            wl_conn,
            x,
            root,
            atoms,
            wl,
            qh,
            output,
            windows: HashMap::new(),
            stacking: Vec::new(),
            damage_event,
            pointer: None,
            keyboard: None,
            keys_down: Vec::new(),
            buttons_down: Vec::new(),
            id_mask,
            screen,
            generation: 0,
            buffer_bytes: 0,
            display,
            keymap: None,
            reshow: Vec::new(),
        };
        // Windows that exist already (clients relayed before the manager started).
        let tree = bridge.x.query_tree(root)?.reply()?;
        for child in tree.children {
            if bridge.own.contains(&child) {
                continue;
            }
            let Ok(attrs) = bridge.x.get_window_attributes(child)?.reply() else {
                continue;
            };
            let Ok(geo) = bridge.x.get_geometry(child)?.reply() else {
                continue;
            };
            bridge.add_window(
                child,
                geo.x,
                geo.y,
                geo.width,
                geo.height,
                attrs.override_redirect,
            );
            if attrs.map_state != xproto::MapState::UNMAPPED {
                bridge.mapped(child)?;
            }
        }
        Ok(bridge)
    }

    fn run(&mut self, conn: &Connection, queue: &mut EventQueue<WlState>) -> Ended {
        loop {
            loop {
                match self.x.poll_for_event() {
                    Ok(Some(event)) => {
                        if let Err(e) = self.x_event(event) {
                            // A request about a window that went away meanwhile: X's own race.
                            tracing::debug!("X event: {e}");
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Ended::X(e.into()),
                }
            }
            if let Err(e) = queue.dispatch_pending(&mut self.wl) {
                return Ended::Wayland(e.into());
            }
            let events = std::mem::take(&mut self.wl.events);
            for event in events {
                if let Err(e) = self.wl_event(event) {
                    tracing::debug!("Wayland event: {e}");
                }
            }
            self.show_dirty();
            if let Err(e) = self.x.flush() {
                return Ended::X(e.into());
            }
            // A full socket is not a dead one: the rest goes when it drains.
            let mut blocked = false;
            match conn.flush() {
                Ok(()) => {}
                Err(wayland_client::backend::WaylandError::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock =>
                {
                    blocked = true;
                }
                Err(e) => return Ended::Wayland(e.into()),
            }

            let Some(guard) = queue.prepare_read() else {
                continue;
            };
            let mut fds = [
                PollFd::new(self.x.stream().as_fd(), PollFlags::POLLIN),
                PollFd::new(
                    guard.connection_fd(),
                    if blocked {
                        PollFlags::POLLIN | PollFlags::POLLOUT
                    } else {
                        PollFlags::POLLIN
                    },
                ),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Ended::X(e.into()),
            }
            let revents = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
            let x_gone = revents(0).intersects(PollFlags::POLLHUP | PollFlags::POLLERR)
                && !revents(0).contains(PollFlags::POLLIN);
            if revents(1).intersects(!PollFlags::POLLOUT) {
                match guard.read() {
                    Ok(_) => {}
                    Err(wayland_client::backend::WaylandError::Io(e))
                        if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Ended::Wayland(e.into()),
                }
            } else {
                drop(guard);
            }
            if x_gone {
                return Ended::X(anyhow::anyhow!("the X server closed its connection"));
            }
        }
    }

    // ---- X side ----

    fn add_window(&mut self, xid: Xid, x: i16, y: i16, w: u16, h: u16, override_redirect: bool) {
        let client = xid & !self.id_mask;
        if self.windows.len() >= MAX_TRACKED
            || self
                .windows
                .keys()
                .filter(|k| *k & !self.id_mask == client)
                .count()
                >= MAX_TRACKED_PER_CLIENT
        {
            return;
        }
        let depth32 = self
            .x
            .get_geometry(xid)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some_and(|g| g.depth == 32);
        self.windows.insert(
            xid,
            XWindow {
                geometry: Geometry {
                    x,
                    y,
                    width: w,
                    height: h,
                },
                override_redirect,
                mapped: false,
                argb: depth32,
                dirty: false,
                damage: None,
                view: None,
            },
        );
    }

    fn x_event(&mut self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::CreateNotify(e) if e.parent == self.root && !self.own.contains(&e.window) => {
                self.add_window(e.window, e.x, e.y, e.width, e.height, e.override_redirect);
            }
            Event::DestroyNotify(e) => {
                self.unmapped(e.window);
                self.windows.remove(&e.window);
            }
            Event::MapRequest(e) => {
                // Managed windows open at the X screen's corner: input reaches all of a
                // window only inside the screen.
                self.x
                    .configure_window(e.window, &ConfigureWindowAux::new().x(0).y(0))?;
                if let Some(w) = self.windows.get_mut(&e.window) {
                    w.geometry.x = 0;
                    w.geometry.y = 0;
                }
                self.x.change_property32(
                    PropMode::REPLACE,
                    e.window,
                    self.atoms.WM_STATE,
                    self.atoms.WM_STATE,
                    &[1, 0],
                )?;
                self.x.map_window(e.window)?;
            }
            Event::MapNotify(e) if self.windows.contains_key(&e.window) => {
                self.mapped(e.window)?;
            }
            Event::UnmapNotify(e) => self.unmapped(e.window),
            Event::ConfigureRequest(e) => {
                // Sizes as asked (bounded); positions stay where the manager put them once
                // mapped (the compositor places the window).
                let mapped = self.windows.get(&e.window).is_some_and(|w| w.mapped);
                let mut aux = ConfigureWindowAux::from_configure_request(&e);
                aux.width = aux.width.map(|v| v.clamp(1, u32::from(MAX_EXTENT)));
                aux.height = aux.height.map(|v| v.clamp(1, u32::from(MAX_EXTENT)));
                if mapped {
                    aux.x = None;
                    aux.y = None;
                }
                aux.sibling = None;
                aux.stack_mode = None;
                self.x.configure_window(e.window, &aux)?;
            }
            Event::ConfigureNotify(e) => {
                let Some(w) = self.windows.get_mut(&e.window) else {
                    return Ok(());
                };
                let moved = (w.geometry.x, w.geometry.y) != (e.x, e.y);
                w.geometry = Geometry {
                    x: e.x,
                    y: e.y,
                    width: e.width,
                    height: e.height,
                };
                w.dirty = true;
                // A menu that moves is shown again at its new place.
                if moved && w.override_redirect && w.mapped && w.view.is_some() {
                    self.hide(e.window);
                    self.show(e.window)?;
                }
            }
            Event::XfixesSelectionNotify(e) => self.x_owner_changed(e)?,
            Event::SelectionNotify(e) => self.x_selection_notify(e)?,
            Event::SelectionRequest(e) => self.x_selection_request(e)?,
            Event::SelectionClear(e) => self.x_selection_clear(e),
            Event::PropertyNotify(e) if e.window == self.sel.window() => {
                self.x_selection_property(e)?
            }
            Event::PropertyNotify(e) => {
                if e.atom == self.atoms._NET_WM_NAME || e.atom == u32::from(AtomEnum::WM_NAME) {
                    let title = self.title(e.window);
                    if let Some(View {
                        role: Role::Toplevel(t),
                        ..
                    }) = self.windows.get(&e.window).and_then(|w| w.view.as_ref())
                    {
                        t.set_title(title);
                    }
                }
            }
            Event::ClientMessage(e) if e.type_ == self.atoms._NET_WM_STATE => {
                let data = e.data.as_data32();
                let fullscreen = data[1] == self.atoms._NET_WM_STATE_FULLSCREEN
                    || data[2] == self.atoms._NET_WM_STATE_FULLSCREEN;
                if let (
                    true,
                    Some(View {
                        role: Role::Toplevel(t),
                        ..
                    }),
                ) = (
                    fullscreen,
                    self.windows.get(&e.window).and_then(|w| w.view.as_ref()),
                ) {
                    // 0 remove, 1 add, 2 toggle (the compositor decides, per its rules).
                    match data[0] {
                        0 => t.unset_fullscreen(),
                        _ => t.set_fullscreen(None),
                    }
                }
            }
            Event::Unknown(_) | Event::Error(_) => {}
            other => {
                if other.response_type() & 0x7f == self.damage_event
                    && let Event::DamageNotify(d) = other
                {
                    if let Some(w) = self.windows.get_mut(&d.drawable) {
                        w.dirty = true;
                    }
                    self.x.damage_subtract(d.damage, x11rb::NONE, x11rb::NONE)?;
                }
            }
        }
        Ok(())
    }

    fn mapped(&mut self, xid: Xid) -> anyhow::Result<()> {
        let shown = self.windows.values().filter(|w| w.view.is_some()).count();
        let Some(w) = self.windows.get_mut(&xid) else {
            return Ok(());
        };
        if w.mapped {
            return Ok(());
        }
        w.mapped = true;
        w.dirty = true;
        if shown >= MAX_WINDOWS {
            say("too many X windows: this one is not shown");
            return Ok(());
        }
        let dmg = self.x.generate_id()?;
        self.x
            .damage_create(dmg, xid, damage::ReportLevel::NON_EMPTY)?;
        w.damage = Some(dmg);
        if !w.override_redirect {
            self.x.change_window_attributes(
                xid,
                &ChangeWindowAttributesAux::new()
                    .event_mask(EventMask::PROPERTY_CHANGE | EventMask::FOCUS_CHANGE),
            )?;
        }
        self.stacking.retain(|s| *s != xid);
        self.stacking.push(xid);
        self.show(xid)
    }

    fn unmapped(&mut self, xid: Xid) {
        self.hide(xid);
        self.stacking.retain(|s| *s != xid);
        if let Some(w) = self.windows.get_mut(&xid) {
            w.mapped = false;
            if let Some(d) = w.damage.take() {
                let _ = self.x.damage_destroy(d);
            }
        }
        if self.pointer.is_some_and(|(p, _, _)| p == xid) {
            self.pointer = None;
        }
        if self.keyboard == Some(xid) {
            self.keyboard = None;
        }
    }

    /// The window's title: `_NET_WM_NAME` (UTF-8) or `WM_NAME` (Latin-1), bounded; the
    /// compositor sanitises it again before showing it.
    fn title(&self, xid: Xid) -> String {
        let get = |atom: u32, ty: u32| {
            self.x
                .get_property(false, xid, atom, ty, 0, MAX_TITLE / 4)
                .ok()
                .and_then(|c| c.reply().ok())
                .filter(|r| r.format == 8 && !r.value.is_empty())
                .map(|r| r.value)
        };
        if let Some(v) = get(self.atoms._NET_WM_NAME, self.atoms.UTF8_STRING) {
            return String::from_utf8_lossy(&v).into_owned();
        }
        if let Some(v) = get(AtomEnum::WM_NAME.into(), AtomEnum::ANY.into()) {
            return v.iter().map(|&b| char::from(b)).collect();
        }
        String::new()
    }

    fn class(&self, xid: Xid) -> Option<String> {
        let r = self
            .x
            .get_property(false, xid, AtomEnum::WM_CLASS, AtomEnum::STRING, 0, 64)
            .ok()?
            .reply()
            .ok()?;
        // "instance\0class\0": the class names the app.
        let class = r.value.split(|b| *b == 0).nth(1)?;
        let class: String = class
            .iter()
            .map(|&b| char::from(b))
            .filter(|c| c.is_ascii_graphic())
            .collect();
        (!class.is_empty()).then_some(class)
    }

    fn transient_for(&self, xid: Xid) -> Option<Xid> {
        let r = self
            .x
            .get_property(
                false,
                xid,
                AtomEnum::WM_TRANSIENT_FOR,
                AtomEnum::WINDOW,
                0,
                1,
            )
            .ok()?
            .reply()
            .ok()?;
        r.value32()?.next()
    }

    fn protocols(&self, xid: Xid) -> Vec<u32> {
        self.x
            .get_property(false, xid, self.atoms.WM_PROTOCOLS, AtomEnum::ATOM, 0, 32)
            .ok()
            .and_then(|c| c.reply().ok())
            .and_then(|r| r.value32().map(|v| v.collect()))
            .unwrap_or_default()
    }
}
