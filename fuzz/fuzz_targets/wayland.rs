//! The compositor as clients of both levels drive it: the real `State` on the headless backend
//! (pixman), clients over socket pairs, and a program of requests read from the fuzzer's
//! input — windows, buffers of any size and stride, pools of any size (resized too), popups and
//! positioners with any values, window geometry, subsurfaces (trees, cycles, reparenting),
//! cursors and drag icons, viewports, damage and offsets, regions, frame callbacks,
//! selections and their sources' types, grabs
//! with any serial — between injected input (pointer, clicks, keys, the compositor's chords)
//! and rendered frames. A client cut off by a protocol error is dropped; the compositor must
//! never panic, and keeps drawing for the clients that remain.

#![no_main]

use std::os::fd::AsFd as _;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use cloison_compositor::State;
use cloison_compositor::state::ClientState;
use cloison_config::Config;
use cloison_ipc::{Button, InputEvent};
use cloison_tests::client::{SurfaceRole, TestClient};
use libfuzzer_sys::fuzz_target;
use smithay::reexports::calloop::EventLoop;
use smithay::reexports::wayland_server::Display;
use wayland_client::protocol::{wl_shm, wl_surface};
use wayland_protocols::xdg::shell::client::xdg_positioner;

const W: i32 = 640;
const H: i32 = 480;

/// Reads the fuzzer's bytes as numbers.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn index(&mut self, len: usize) -> Option<usize> {
        (len > 0)
            .then(|| self.byte().map(|b| b as usize % len))
            .flatten()
    }
    /// Mostly small numbers, sometimes the extremes.
    fn int(&mut self) -> i32 {
        match self.byte().unwrap_or(0) {
            0 => i32::MIN,
            1 => i32::MAX,
            2 => -1,
            3 => 0,
            4 => 1 << 15,
            5 => 30_000_000,
            b if b < 128 => b as i32 * 8,
            b => {
                let lo = self.byte().unwrap_or(0) as i32;
                ((b as i32 - 128) << 8 | lo) - 8192
            }
        }
    }
}

struct Harness {
    event_loop: EventLoop<'static, State>,
    display: Display<State>,
    state: State,
    clients: Vec<TestClient>,
    /// Surfaces each client made besides its windows (for subsurface trees).
    surfaces: Vec<Vec<wl_surface::WlSurface>>,
}

impl Harness {
    fn new() -> Harness {
        let mut config = Config::builtin();
        // Small quotas, so the fuzzer reaches them.
        config.limits.surfaces = 64;
        config.limits.shm_buffers = 32;
        config.limits.frame_callbacks = 64;
        config.limits.shm_bytes = 256 << 20;
        let (event_loop, display, state) =
            cloison_compositor::in_process(config, (W, H).into()).expect("compositor");
        Harness {
            event_loop,
            display,
            state,
            clients: Vec::new(),
            surfaces: Vec::new(),
        }
    }

    fn add_client(&mut self, level: usize) {
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        let level = &self.state.levels[level % self.state.levels.len()];
        let _ = self
            .display
            .handle()
            .insert_client(theirs, Arc::new(ClientState::new(level)));
        let Ok(client) = TestClient::from_stream(ours) else {
            return;
        };
        self.clients.push(client);
        self.surfaces.push(Vec::new());
        let c = self.clients.len() - 1;
        self.settle();
        if c < self.clients.len() {
            self.clients[c].bind_globals();
            self.clients[c].get_input_devices();
            let _ = self.clients[c].bind_data_device();
            self.settle();
        }
    }

    /// Requests in, events out; a client the compositor cut off is dropped.
    fn settle(&mut self) {
        for _ in 0..3 {
            for c in &mut self.clients {
                let _ = c.flush();
            }
            let _ = self.display.dispatch_clients(&mut self.state);
            let _ = self
                .event_loop
                .dispatch(Some(Duration::ZERO), &mut self.state);
            self.state.space.refresh();
            self.state.popups.cleanup();
            let _ = self.display.flush_clients();
            let mut dead = Vec::new();
            for (i, c) in self.clients.iter_mut().enumerate() {
                if c.read_and_dispatch().is_err() {
                    dead.push(i);
                }
            }
            for i in dead.into_iter().rev() {
                self.clients.remove(i);
                self.surfaces.remove(i);
            }
        }
    }

    fn step(&mut self, input: &mut Input<'_>) -> Option<()> {
        let op = input.byte()?;
        if self.clients.is_empty() || op % 24 == 0 {
            if self.clients.len() < 4 {
                let level = input.byte()? as usize;
                self.add_client(level);
            }
            return Some(());
        }
        let c = input.index(self.clients.len())?;
        let qh = self.clients[c].qh();
        match op % 24 {
            1 => {
                self.clients[c].create_window("fuzz", "fuzz");
            }
            2 | 3 => {
                let w = input.index(self.clients[c].data.windows.len())?;
                let (bw, bh) = (input.int().clamp(1, 256), input.int().clamp(1, 256));
                let buffer = self.clients[c].create_buffer(bw, bh, 0xff40_8020).ok()?;
                self.clients[c].attach(w, buffer);
            }
            4 => {
                // A buffer with any numbers, from a sparse pool of any size.
                let (pool, width, height, stride) =
                    (input.int(), input.int(), input.int(), input.int());
                let pool = pool.clamp(1, i32::MAX);
                if let Ok(b) = self.clients[c].create_sparse_buffer(pool, width, height, stride)
                    && let Some(w) = input.index(self.clients[c].data.windows.len())
                {
                    self.clients[c].attach(w, b);
                }
            }
            5 => {
                let b = input.index(self.clients[c].data.buffers.len())?;
                let size = input.int();
                self.clients[c].data.buffers[b].pool.resize(size);
            }
            6 => {
                let w = input.index(self.clients[c].data.windows.len())?;
                let g = (input.int(), input.int(), input.int(), input.int());
                let win = &self.clients[c].data.windows[w];
                win.xdg_surface.set_window_geometry(g.0, g.1, g.2, g.3);
                win.surface.commit();
            }
            7 => {
                let w = input.index(self.clients[c].data.windows.len())?;
                let anchor = (input.int(), input.int(), input.int(), input.int());
                let size = (input.int(), input.int());
                let offset = (input.int(), input.int());
                let adjust = input.byte()? as u32;
                let grab = match input.byte()? % 3 {
                    0 => None,
                    1 => Some(0),
                    _ => Some(input.int() as u32),
                };
                let p = self.clients[c].create_popup_with(w, anchor, size, adjust, offset, grab);
                let (pw, ph) = (size.0.clamp(1, 1024), size.1.clamp(1, 1024));
                self.settle();
                if c < self.clients.len() && p < self.clients[c].data.popups.len() {
                    let _ = self.clients[c].draw_popup(p, (pw, ph), 0xffff_00ff);
                }
            }
            8 => {
                // A subsurface between any two surfaces of the client (trees, cycles).
                let compositor = self.clients[c].data.compositor.clone()?;
                let sub = self.clients[c].data.subcompositor.clone()?;
                let mut all: Vec<wl_surface::WlSurface> = self.clients[c]
                    .data
                    .windows
                    .iter()
                    .map(|w| w.surface.clone())
                    .collect();
                all.extend(self.surfaces[c].iter().cloned());
                let child = if input.byte()? & 1 == 0 || all.is_empty() {
                    let s = compositor.create_surface(&qh, SurfaceRole::Other);
                    self.surfaces[c].push(s.clone());
                    s
                } else {
                    all[input.index(all.len())?].clone()
                };
                if let Some(parent) = input.index(all.len()).map(|i| all[i].clone()) {
                    let subsurface = sub.get_subsurface(&child, &parent, &qh, ());
                    subsurface.set_position(input.int(), input.int());
                    if input.byte()? & 1 == 0 {
                        subsurface.set_desync();
                    }
                    if let Ok(b) = self.clients[c].create_buffer(
                        input.int().clamp(1, 512),
                        input.int().clamp(1, 512),
                        0xff20_4080,
                    ) {
                        child.attach(Some(&self.clients[c].data.buffers[b].buffer), 0, 0);
                    }
                    child.commit();
                    parent.commit();
                }
            }
            9 => {
                let (root, sub_pos, sub_size, hotspot) = (
                    input.int().clamp(1, 128),
                    (input.int(), input.int()),
                    (input.int().clamp(1, 512), input.int().clamp(1, 512)),
                    (input.int(), input.int()),
                );
                let _ =
                    self.clients[c].set_cursor_tree(root, sub_pos, sub_size, hotspot, 0xffff_ff00);
            }
            10 => {
                let w = input.index(self.clients[c].data.windows.len())?;
                let (dw, dh) = (input.int(), input.int());
                self.clients[c].set_viewport_destination(w, dw, dh);
                self.clients[c].data.windows[w].surface.commit();
            }
            11 => {
                let w = input.index(self.clients[c].data.windows.len())?;
                let s = &self.clients[c].data.windows[w].surface;
                match input.byte()? % 4 {
                    0 => s.damage(input.int(), input.int(), input.int(), input.int()),
                    1 => s.damage_buffer(input.int(), input.int(), input.int(), input.int()),
                    2 => s.offset(input.int(), input.int()),
                    _ => s.set_buffer_scale(input.int()),
                }
                s.commit();
            }
            12 => {
                let w = input.index(self.clients[c].data.windows.len())?;
                for _ in 0..input.byte()? {
                    self.clients[c].request_frame(w);
                }
            }
            13 => {
                let w = input.index(self.clients[c].data.windows.len())?;
                let t = &self.clients[c].data.windows[w].toplevel;
                match input.byte()? % 8 {
                    0 => t.set_maximized(),
                    1 => t.unset_maximized(),
                    2 => t.set_fullscreen(None),
                    3 => t.set_minimized(),
                    4 => t.set_min_size(input.int(), input.int()),
                    5 => t.set_max_size(input.int(), input.int()),
                    6 => {
                        if let Some(seat) = &self.clients[c].data.seat {
                            t._move(seat, input.int() as u32);
                        }
                    }
                    // Any text a title may carry (a NUL cannot be sent at all).
                    _ => t.set_title(String::from_utf8_lossy(input.0).replace('\0', "")),
                }
            }
            14 => {
                let _ = self.clients[c].offer_selection(&["text/plain"]);
            }
            15 => {
                let w = input.index(self.clients[c].data.windows.len())?;
                let _ = self.clients[c].start_drag_with_icon(
                    w,
                    input.int().clamp(1, 128),
                    (input.int(), input.int()),
                    (input.int().clamp(1, 1024), input.int().clamp(1, 1024)),
                    0xff00_ffff,
                );
            }
            16 => {
                // A pool and a buffer with any format.
                let compositor_shm = self.clients[c].data.shm.clone()?;
                let fd = nix::sys::memfd::memfd_create(
                    c"fuzz",
                    nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
                )
                .ok()?;
                let file = std::fs::File::from(fd);
                let _ = file.set_len(4096);
                let pool = compositor_shm.create_pool(file.as_fd(), input.int(), &qh, ());
                let format = wayland_client::WEnum::<wl_shm::Format>::from(input.int() as u32);
                if let wayland_client::WEnum::Value(format) = format {
                    let _ = pool.create_buffer(
                        input.int(),
                        input.int(),
                        input.int(),
                        input.int(),
                        format,
                        &qh,
                        usize::MAX,
                    );
                }
            }
            17 => {
                let x = input.int() as f64;
                let y = input.int() as f64;
                let _ = self.state.inject(InputEvent::PointerMove {
                    x: x.rem_euclid(W as f64),
                    y: y.rem_euclid(H as f64),
                });
            }
            18 => {
                let _ = self.state.inject(InputEvent::Click {
                    button: [Button::Left, Button::Right, Button::Middle][input.index(3)?],
                });
            }
            19 => {
                let chords = [
                    "Return",
                    "Escape",
                    "a",
                    "alt+Tab",
                    "super",
                    "ctrl+shift+c",
                    "ctrl+shift+v",
                    "super+f",
                    "super+Up",
                    "super+q",
                ];
                let _ = self.state.inject(InputEvent::Key {
                    chord: chords[input.index(chords.len())?].into(),
                });
            }
            20 => {
                // A window goes away, or the whole client.
                if input.byte()? & 1 == 0 && !self.clients[c].data.windows.is_empty() {
                    // Destroyed in place: the client's objects carry their window's index,
                    // and requests on a destroyed object are dropped by the client library.
                    let w = input.index(self.clients[c].data.windows.len())?;
                    let win = &self.clients[c].data.windows[w];
                    win.toplevel.destroy();
                    win.xdg_surface.destroy();
                    win.surface.destroy();
                } else {
                    self.clients.remove(c);
                    self.surfaces.remove(c);
                }
            }
            21 => {
                let p = input.index(self.clients[c].data.popups.len())?;
                let positioner = self.clients[c]
                    .data
                    .wm_base
                    .clone()?
                    .create_positioner(&qh, ());
                positioner.set_size(input.int(), input.int());
                positioner.set_anchor_rect(input.int(), input.int(), input.int(), input.int());
                positioner.set_offset(input.int(), input.int());
                positioner.set_constraint_adjustment(
                    xdg_positioner::ConstraintAdjustment::from_bits_truncate(input.byte()? as u32),
                );
                self.clients[c].data.popups[p]
                    .popup
                    .reposition(&positioner, input.int() as u32);
            }
            22 => {
                // Counts inside one object: a region's rectangles (set as a window's opaque or
                // input region), damage before a commit, a source's MIME types.
                let w = input.index(self.clients[c].data.windows.len())?;
                let count = input.byte()? as i32 * 2;
                let (x, y, width, height) = (input.int(), input.int(), input.int(), input.int());
                let surface = self.clients[c].data.windows[w].surface.clone();
                match input.byte()? % 3 {
                    0 => {
                        let region = self.clients[c]
                            .data
                            .compositor
                            .clone()?
                            .create_region(&qh, ());
                        for i in 0..count {
                            if i % 3 == 2 {
                                region.subtract(x.wrapping_add(i), y, width, height);
                            } else {
                                region.add(x.wrapping_add(i), y, width, height);
                            }
                        }
                        if count % 4 == 0 {
                            surface.set_opaque_region(Some(&region));
                        } else {
                            surface.set_input_region(Some(&region));
                        }
                        region.destroy();
                    }
                    1 => {
                        for i in 0..count * 4 {
                            surface.damage_buffer(x.wrapping_add(i), y, width, height);
                        }
                    }
                    _ => {
                        let source = self.clients[c]
                            .data
                            .data_manager
                            .clone()?
                            .create_data_source(&qh, ());
                        for i in 0..count / 2 {
                            source.offer(format!("text/x-{i}"));
                        }
                    }
                }
                surface.commit();
            }
            _ => self.state.redraw(),
        }
        self.settle();
        Some(())
    }
}

thread_local! {
    /// One compositor for the whole run, as in a session: clients come and go around it
    /// (dropping a whole compositor is no path a session takes).
    static HARNESS: std::cell::RefCell<Option<Harness>> = const { std::cell::RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let mut harness = HARNESS
        .with(|h| h.borrow_mut().take())
        .unwrap_or_else(Harness::new);
    let mut input = Input(data);
    for _ in 0..256 {
        if harness.step(&mut input).is_none() {
            break;
        }
    }
    harness.state.redraw();
    harness.settle();
    // Everyone leaves; the compositor must have let go of all they held.
    harness.clients.clear();
    harness.surfaces.clear();
    harness.settle();
    harness.state.redraw();
    harness.settle();
    for level in &harness.state.levels {
        assert_eq!(level.client_count(), 0, "a client outlived its connection");
        for quota in [
            cloison_compositor::limits::Quota::Surfaces,
            cloison_compositor::limits::Quota::ShmBuffers,
            cloison_compositor::limits::Quota::ShmBytes,
            cloison_compositor::limits::Quota::FrameCallbacks,
        ] {
            assert_eq!(level.usage.get(quota), 0, "{quota:?} not given back");
        }
    }
    assert_eq!(
        harness.state.space.elements().count(),
        0,
        "a window outlived its client"
    );
    // The compositor still serves: a new client of high maps a window and gets a frame.
    harness.add_client(1);
    if let Some(c) = harness.clients.len().checked_sub(1) {
        let w = harness.clients[c].create_window("check", "check");
        harness.settle();
        if let Ok(b) = harness.clients[c].create_buffer(32, 32, 0xff00_00ff) {
            harness.clients[c].attach(w, b);
        }
        harness.settle();
        harness.state.redraw();
        harness.settle();
        assert_eq!(
            harness.state.space.elements().count(),
            1,
            "the check window"
        );
    }
    harness.clients.clear();
    harness.surfaces.clear();
    harness.settle();
    HARNESS.with(|h| *h.borrow_mut() = Some(harness));
});
