//! A small Wayland client for tests: binds globals, opens xdg toplevels and popups filled with
//! a colour from wl_shm buffers, and records every input and surface event it receives.
//!
//! It is used two ways: in process by the compositor's fixture tests (over a socket pair,
//! driven step by step), and as the `cloison-test-client` binary in end-to-end tests (over a
//! level's socket, printing what it receives).

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use anyhow::Context as _;
use wayland_client::globals::GlobalListContents;
use wayland_client::protocol::{
    wl_buffer, wl_callback, wl_compositor, wl_data_device, wl_data_device_manager, wl_data_offer,
    wl_data_source, wl_keyboard, wl_pointer, wl_region, wl_registry, wl_seat, wl_shm, wl_shm_pool,
    wl_subcompositor, wl_subsurface, wl_surface, wl_touch,
};
use wayland_client::{
    Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum, event_created_child,
};
use wayland_protocols::wp::idle_inhibit::zv1::client::{
    zwp_idle_inhibit_manager_v1, zwp_idle_inhibitor_v1,
};
use wayland_protocols::wp::presentation_time::client::wp_presentation;
use wayland_protocols::wp::viewporter::client::{wp_viewport, wp_viewporter};
use wayland_protocols::xdg::activation::v1::client::{xdg_activation_token_v1, xdg_activation_v1};
use wayland_protocols::xdg::shell::client::{
    xdg_popup, xdg_positioner, xdg_surface, xdg_toplevel, xdg_wm_base,
};

/// Something the client received, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A global was announced.
    Global {
        /// Its numeric name.
        name: u32,
        /// Its interface.
        interface: String,
        /// Its version.
        version: u32,
    },
    /// The seat's name.
    SeatName(String),
    /// The seat's capabilities (raw bits).
    SeatCapabilities(u32),
    /// An xdg_surface configure (window index, serial).
    Configure {
        /// Window index.
        window: usize,
        /// Serial to ack.
        serial: u32,
    },
    /// An xdg_toplevel configure.
    ToplevelConfigure {
        /// Window index.
        window: usize,
        /// Suggested width (0: client decides).
        width: i32,
        /// Suggested height.
        height: i32,
        /// xdg_toplevel states.
        states: Vec<u32>,
    },
    /// The toplevel was asked to close.
    Close {
        /// Window index.
        window: usize,
    },
    /// A popup configure.
    PopupConfigure {
        /// Popup index.
        popup: usize,
        /// Position relative to the parent.
        x: i32,
        /// Position relative to the parent.
        y: i32,
        /// Size.
        width: i32,
        /// Size.
        height: i32,
    },
    /// The popup was dismissed.
    PopupDone {
        /// Popup index.
        popup: usize,
    },
    /// A frame callback fired.
    Frame {
        /// Window index.
        window: usize,
    },
    /// An activation token arrived.
    ActivationToken {
        /// The token.
        token: String,
    },
    /// The compositor released a buffer.
    BufferRelease {
        /// Buffer index.
        buffer: usize,
    },
    /// The clipboard's content changed: its types (empty: nothing).
    Selection {
        /// Offered MIME types.
        mime_types: Vec<String>,
    },
    /// Someone asked our clipboard source for its data (the descriptor is in `data.sends`).
    DataSend {
        /// The type asked for.
        mime_type: String,
    },
    /// Keyboard focus entered a surface (window index, or usize::MAX for others).
    KeyboardEnter {
        /// Window index.
        window: usize,
    },
    /// Keyboard focus left.
    KeyboardLeave,
    /// A key.
    Key {
        /// evdev key code.
        key: u32,
        /// Pressed.
        pressed: bool,
    },
    /// Modifier state.
    Modifiers {
        /// Depressed modifiers.
        depressed: u32,
    },
    /// A touch point went down on a surface.
    TouchDown {
        /// Its id.
        id: i32,
        /// Window index of the surface.
        window: usize,
        /// Surface-local position.
        x: f64,
        /// Surface-local position.
        y: f64,
    },
    /// A touch point moved.
    TouchMotion {
        /// Its id.
        id: i32,
        /// Surface-local position.
        x: f64,
        /// Surface-local position.
        y: f64,
    },
    /// A touch point went up.
    TouchUp {
        /// Its id.
        id: i32,
    },
    /// The pointer entered a surface.
    PointerEnter {
        /// Serial (for set_cursor).
        serial: u32,
        /// Window index.
        window: usize,
        /// Surface-local position.
        x: f64,
        /// Surface-local position.
        y: f64,
    },
    /// The pointer left.
    PointerLeave,
    /// A pointer constraint of ours holds (`locked` or `confined`).
    ConstraintHeld,
    /// A pointer constraint of ours let go (`unlocked` or `unconfined`).
    ConstraintLetGo,
    /// Pointer motion.
    Motion {
        /// Surface-local position.
        x: f64,
        /// Surface-local position.
        y: f64,
    },
    /// A pointer button.
    Button {
        /// Button code.
        button: u32,
        /// Pressed.
        pressed: bool,
        /// Serial (for move/resize requests).
        serial: u32,
    },
}

/// A toplevel window of the test client.
pub struct Window {
    /// Its wl_surface.
    pub surface: wl_surface::WlSurface,
    /// Its xdg_surface.
    pub xdg_surface: xdg_surface::XdgSurface,
    /// Its xdg_toplevel.
    pub toplevel: xdg_toplevel::XdgToplevel,
    /// Last configure serial not yet acked.
    pub pending_serial: Option<u32>,
    /// Size from the last toplevel configure (0 = client decides).
    pub configured_size: (i32, i32),
}

/// A popup of the test client.
pub struct Popup {
    /// Its wl_surface.
    pub surface: wl_surface::WlSurface,
    /// Its xdg_surface.
    pub xdg_surface: xdg_surface::XdgSurface,
    /// Its xdg_popup.
    pub popup: xdg_popup::XdgPopup,
    /// Last configure serial not yet acked.
    pub pending_serial: Option<u32>,
}

/// A shm buffer and the pool file behind it.
pub struct Buffer {
    /// The wl_buffer.
    pub buffer: wl_buffer::WlBuffer,
    /// The pool.
    pub pool: wl_shm_pool::WlShmPool,
    /// The memfd backing the pool.
    pub file: File,
    /// Whether the compositor has released it since its last attach.
    pub released: bool,
    /// Attached and not released yet: the compositor may be reading it.
    pub busy: bool,
}

/// Everything the client knows.
#[derive(Default)]
pub struct ClientData {
    /// Events in arrival order.
    pub events: Vec<Event>,
    /// Globals by (name, interface, version).
    pub globals: Vec<(u32, String, u32)>,
    /// wl_compositor.
    pub compositor: Option<wl_compositor::WlCompositor>,
    /// wl_subcompositor.
    pub subcompositor: Option<wl_subcompositor::WlSubcompositor>,
    /// wl_shm.
    pub shm: Option<wl_shm::WlShm>,
    /// xdg_wm_base.
    pub wm_base: Option<xdg_wm_base::XdgWmBase>,
    /// The (single visible) seat.
    pub seat: Option<wl_seat::WlSeat>,
    /// The seat's keyboard.
    pub keyboard: Option<wl_keyboard::WlKeyboard>,
    /// The seat's pointer.
    pub pointer: Option<wl_pointer::WlPointer>,
    /// The seat's touch device, if asked for.
    pub touch: Option<wl_touch::WlTouch>,
    /// xdg_activation_v1, if bound.
    pub activation: Option<xdg_activation_v1::XdgActivationV1>,
    /// Windows by index.
    pub windows: Vec<Window>,
    /// Popups by index.
    pub popups: Vec<Popup>,
    /// Buffers by index.
    pub buffers: Vec<Buffer>,
    /// Set when a sync callback fires.
    pub synced: u32,
    /// Frame callbacks received per window.
    pub frames: Vec<u64>,
    /// wl_data_device_manager, if bound.
    pub data_manager: Option<wl_data_device_manager::WlDataDeviceManager>,
    /// The seat's data device.
    pub data_device: Option<wl_data_device::WlDataDevice>,
    /// Types of offers announced but not yet made the selection, by offer id.
    pub offer_types: Vec<(wl_data_offer::WlDataOffer, Vec<String>)>,
    /// The current selection offer.
    pub selection: Option<wl_data_offer::WlDataOffer>,
    /// Requests for our source's data, waiting for the test to answer: (type, where to write).
    pub sends: Vec<(String, std::os::fd::OwnedFd)>,
    /// The serial of the last keyboard enter (to set a selection with).
    pub enter_serial: Option<u32>,
}

/// A connected test client.
pub struct TestClient {
    /// The connection.
    pub conn: Connection,
    /// Its event queue.
    pub queue: EventQueue<ClientData>,
    /// Its state.
    pub data: ClientData,
    /// The registry.
    pub registry: wl_registry::WlRegistry,
}

impl TestClient {
    /// Connects through `WAYLAND_DISPLAY`.
    pub fn connect_env() -> anyhow::Result<TestClient> {
        Ok(Self::new(Connection::connect_to_env()?))
    }

    /// Uses an already connected socket (e.g. one end of a socket pair).
    pub fn from_stream(stream: UnixStream) -> anyhow::Result<TestClient> {
        Ok(Self::new(Connection::from_socket(stream)?))
    }

    fn new(conn: Connection) -> TestClient {
        let queue = conn.new_event_queue();
        let registry = conn.display().get_registry(&queue.handle(), ());
        TestClient {
            conn,
            queue,
            data: ClientData::default(),
            registry,
        }
    }

    /// The queue handle.
    pub fn qh(&self) -> QueueHandle<ClientData> {
        self.queue.handle()
    }

    /// Blocking roundtrip (only for clients talking to a compositor in another thread or
    /// process).
    pub fn roundtrip(&mut self) -> anyhow::Result<()> {
        self.queue.roundtrip(&mut self.data)?;
        Ok(())
    }

    /// Sends a sync request; `data.synced` increases when it is answered.
    pub fn sync(&mut self) {
        self.conn.display().sync(&self.qh(), ());
    }

    /// Sends queued requests.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.conn.flush()?;
        Ok(())
    }

    /// Reads whatever the compositor sent (without blocking) and dispatches it.
    pub fn read_and_dispatch(&mut self) -> anyhow::Result<()> {
        self.queue.dispatch_pending(&mut self.data)?;
        if let Some(guard) = self.queue.prepare_read() {
            match guard.read() {
                Ok(_) => {}
                Err(wayland_client::backend::WaylandError::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.queue.dispatch_pending(&mut self.data)?;
        Ok(())
    }

    /// Binds the globals a client normally uses (compositor, subcompositor, shm, xdg_wm_base,
    /// the first seat) from the announced list.
    pub fn bind_globals(&mut self) {
        let qh = self.qh();
        for (name, interface, version) in self.data.globals.clone() {
            match interface.as_str() {
                "wl_compositor" => {
                    self.data.compositor = Some(self.registry.bind(name, version.min(5), &qh, ()))
                }
                "wl_subcompositor" => {
                    self.data.subcompositor = Some(self.registry.bind(name, 1, &qh, ()))
                }
                "wl_shm" => self.data.shm = Some(self.registry.bind(name, 1, &qh, ())),
                "xdg_wm_base" => {
                    self.data.wm_base = Some(self.registry.bind(name, version.min(5), &qh, ()))
                }
                "xdg_activation_v1" => {
                    self.data.activation = Some(self.registry.bind(name, 1, &qh, ()))
                }
                "wl_seat" if self.data.seat.is_none() => {
                    self.data.seat = Some(self.registry.bind(name, version.min(7), &qh, ()))
                }
                _ => {}
            }
        }
    }

    /// Binds wl_data_device_manager and gets the seat's data device (call after
    /// [`TestClient::bind_globals`]).
    pub fn bind_data_device(&mut self) -> anyhow::Result<()> {
        let qh = self.qh();
        let (name, version) = self
            .data
            .globals
            .iter()
            .find(|(_, i, _)| i == "wl_data_device_manager")
            .map(|(n, _, v)| (*n, *v))
            .context("no wl_data_device_manager")?;
        let manager: wl_data_device_manager::WlDataDeviceManager =
            self.registry.bind(name, version.min(3), &qh, ());
        let seat = self.data.seat.as_ref().context("no seat")?;
        self.data.data_device = Some(manager.get_data_device(seat, &qh, ()));
        self.data.data_manager = Some(manager);
        Ok(())
    }

    /// Offers text as the clipboard selection (needs keyboard focus: uses the last enter's
    /// serial). Requests for the data land in `data.sends`.
    pub fn offer_selection(&mut self, mime_types: &[&str]) -> anyhow::Result<()> {
        let qh = self.qh();
        let manager = self
            .data
            .data_manager
            .as_ref()
            .context("no data device manager")?;
        let source = manager.create_data_source(&qh, ());
        for m in mime_types {
            source.offer(m.to_string());
        }
        let serial = self.data.enter_serial.context("never had keyboard focus")?;
        self.data
            .data_device
            .as_ref()
            .context("no data device")?
            .set_selection(Some(&source), serial);
        Ok(())
    }

    /// Asks the current selection for `mime_type`; returns the pipe's read end.
    pub fn receive_selection(&mut self, mime_type: &str) -> anyhow::Result<File> {
        let offer = self.data.selection.as_ref().context("no selection")?;
        let (read, write) = nix::unistd::pipe()?;
        offer.receive(mime_type.to_string(), write.as_fd());
        drop(write);
        Ok(File::from(read))
    }

    /// Binds a global by numeric name and interface, whether announced or not (to test that
    /// hidden globals cannot be bound).
    pub fn bind_raw_seat(&mut self, name: u32) -> wl_seat::WlSeat {
        self.registry.bind(name, 1, &self.qh(), ())
    }

    /// Binds a global by numeric name and interface name, whatever was announced (to test that
    /// hidden globals cannot be bound). Only interfaces this client knows are supported.
    pub fn bind_raw(&mut self, name: u32, interface: &str) {
        let qh = self.qh();
        match interface {
            "wp_presentation" => {
                let _: wp_presentation::WpPresentation = self.registry.bind(name, 1, &qh, ());
            }
            "wp_viewporter" => {
                let _: wp_viewporter::WpViewporter = self.registry.bind(name, 1, &qh, ());
            }
            "xdg_activation_v1" => {
                let _: xdg_activation_v1::XdgActivationV1 = self.registry.bind(name, 1, &qh, ());
            }
            "wl_seat" => {
                let _: wl_seat::WlSeat = self.registry.bind(name, 1, &qh, ());
            }
            other => panic!("bind_raw does not know {other}"),
        }
    }

    /// Asks for an activation token (with the last pointer button serial if `with_serial`),
    /// then activates `window` with it once it arrives (call [`TestClient::use_token`]).
    pub fn request_token(&mut self, window: usize, serial: Option<u32>) {
        let qh = self.qh();
        let Some(activation) = &self.data.activation else {
            return;
        };
        let token = activation.get_activation_token(&qh, ());
        if let (Some(serial), Some(seat)) = (serial, &self.data.seat) {
            token.set_serial(serial, seat);
        }
        token.set_surface(&self.data.windows[window].surface);
        token.commit();
    }

    /// Activates `window` with a token received earlier.
    pub fn use_token(&mut self, window: usize, token: &str) {
        if let Some(activation) = &self.data.activation {
            activation.activate(token.to_string(), &self.data.windows[window].surface);
        }
    }

    /// The last activation token received.
    pub fn last_token(&self) -> Option<String> {
        self.data.events.iter().rev().find_map(|e| match e {
            Event::ActivationToken { token } => Some(token.clone()),
            _ => None,
        })
    }

    /// Sets the cursor to a `size`×`size` surface of colour `argb` (after a pointer enter).
    pub fn set_cursor(&mut self, size: i32, argb: u32) -> anyhow::Result<()> {
        let qh = self.qh();
        let serial = self
            .data
            .events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::PointerEnter { serial, .. } => Some(*serial),
                _ => None,
            })
            .context("no pointer enter yet")?;
        let buffer = self.create_buffer(size, size, argb)?;
        let compositor = self.data.compositor.as_ref().expect("wl_compositor bound");
        let surface = compositor.create_surface(&qh, SurfaceRole::Other);
        surface.attach(Some(&self.data.buffers[buffer].buffer), 0, 0);
        surface.damage_buffer(0, 0, size, size);
        surface.commit();
        if let Some(pointer) = &self.data.pointer {
            pointer.set_cursor(serial, Some(&surface), 0, 0);
        }
        Ok(())
    }

    /// Creates the seat's keyboard and pointer.
    pub fn get_input_devices(&mut self) {
        let qh = self.qh();
        if let Some(seat) = &self.data.seat {
            self.data.keyboard = Some(seat.get_keyboard(&qh, ()));
            self.data.pointer = Some(seat.get_pointer(&qh, ()));
            self.data.touch = Some(seat.get_touch(&qh, ()));
        }
    }

    /// Creates a toplevel (not yet mapped: it needs a configure, then [`TestClient::draw`]).
    pub fn create_window(&mut self, title: &str, app_id: &str) -> usize {
        let qh = self.qh();
        let index = self.data.windows.len();
        let compositor = self.data.compositor.as_ref().expect("wl_compositor bound");
        let wm_base = self.data.wm_base.as_ref().expect("xdg_wm_base bound");
        let surface = compositor.create_surface(&qh, SurfaceRole::Window(index));
        let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, SurfaceRole::Window(index));
        let toplevel = xdg_surface.get_toplevel(&qh, index);
        toplevel.set_title(title.into());
        toplevel.set_app_id(app_id.into());
        surface.commit();
        self.data.windows.push(Window {
            surface,
            xdg_surface,
            toplevel,
            pending_serial: None,
            configured_size: (0, 0),
        });
        self.data.frames.push(0);
        index
    }

    /// Creates a shm buffer of `width`×`height` filled with `argb` (premultiplied).
    pub fn create_buffer(&mut self, width: i32, height: i32, argb: u32) -> anyhow::Result<usize> {
        let qh = self.qh();
        let stride = width * 4;
        let size = (stride * height) as usize;
        let fd = nix::sys::memfd::memfd_create(
            c"cloison-test-buffer",
            nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
        )?;
        let mut file = File::from(fd);
        let pixel = argb.to_le_bytes();
        let mut bytes = Vec::with_capacity(size);
        for _ in 0..(width * height) {
            bytes.extend_from_slice(&pixel);
        }
        file.write_all(&bytes)?;
        let shm = self.data.shm.as_ref().expect("wl_shm bound");
        let pool = shm.create_pool(file.as_fd(), size as i32, &qh, ());
        let index = self.data.buffers.len();
        // Opaque colours use XRGB so the compositor knows nothing shows through.
        let format = if argb >> 24 == 0xff {
            wl_shm::Format::Xrgb8888
        } else {
            wl_shm::Format::Argb8888
        };
        let buffer = pool.create_buffer(0, width, height, stride, format, &qh, index);
        self.data.buffers.push(Buffer {
            buffer,
            pool,
            file,
            released: false,
            busy: false,
        });
        Ok(index)
    }

    /// Acks the window's pending configure, attaches a new buffer of the configured size (or
    /// `default_size`) filled with `argb`, damages it all and commits. Returns the buffer index.
    pub fn draw(
        &mut self,
        window: usize,
        default_size: (i32, i32),
        argb: u32,
    ) -> anyhow::Result<usize> {
        let (cw, ch) = self.data.windows[window].configured_size;
        let (w, h) = if cw > 0 && ch > 0 {
            (cw, ch)
        } else {
            default_size
        };
        let buffer = self.create_buffer(w, h, argb)?;
        self.attach(window, buffer);
        Ok(buffer)
    }

    /// Acks any pending configure, attaches `buffer`, damages everything and commits.
    pub fn attach(&mut self, window: usize, buffer: usize) {
        let w = &mut self.data.windows[window];
        if let Some(serial) = w.pending_serial.take() {
            w.xdg_surface.ack_configure(serial);
        }
        let b = &mut self.data.buffers[buffer];
        b.released = false;
        b.busy = true;
        w.surface.attach(Some(&b.buffer), 0, 0);
        w.surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        w.surface.commit();
    }

    /// Repaints `buffer` with `argb` (the buffer must not be busy).
    pub fn fill(&mut self, buffer: usize, argb: u32) -> anyhow::Result<()> {
        use std::os::unix::fs::FileExt as _;
        let b = &self.data.buffers[buffer];
        let len = b.file.metadata()?.len() as usize;
        let bytes: Vec<u8> = argb
            .to_le_bytes()
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect();
        b.file.write_all_at(&bytes, 0)?;
        Ok(())
    }

    /// A buffer of this size the compositor is not using, if any.
    pub fn idle_buffer(&self, width: i32, height: i32) -> Option<usize> {
        self.data.buffers.iter().position(|b| {
            !b.busy
                && b.file
                    .metadata()
                    .is_ok_and(|m| m.len() == (width * height * 4) as u64)
        })
    }

    /// Attaches `buffer` damaging only `damage` (x, y, w, h in buffer pixels), asks for a
    /// frame callback and commits.
    pub fn attach_damage_frame(
        &mut self,
        window: usize,
        buffer: usize,
        damage: (i32, i32, i32, i32),
    ) {
        let qh = self.qh();
        let w = &mut self.data.windows[window];
        if let Some(serial) = w.pending_serial.take() {
            w.xdg_surface.ack_configure(serial);
        }
        let b = &mut self.data.buffers[buffer];
        b.released = false;
        b.busy = true;
        w.surface.attach(Some(&b.buffer), 0, 0);
        w.surface
            .damage_buffer(damage.0, damage.1, damage.2, damage.3);
        w.surface.frame(&qh, window);
        w.surface.commit();
    }

    /// Asks for a frame callback on the window and commits.
    pub fn request_frame(&mut self, window: usize) {
        let qh = self.qh();
        let w = &self.data.windows[window];
        w.surface.frame(&qh, window);
        w.surface.commit();
    }

    /// Creates a popup on `parent` anchored at `anchor` (x, y, w, h relative to the parent's
    /// geometry), of `size`, with the given constraint adjustment bits. Commits it unmapped.
    pub fn create_popup(
        &mut self,
        parent: usize,
        anchor: (i32, i32, i32, i32),
        size: (i32, i32),
        constraint_adjustment: u32,
    ) -> usize {
        let qh = self.qh();
        let index = self.data.popups.len();
        let compositor = self.data.compositor.as_ref().expect("wl_compositor bound");
        let wm_base = self.data.wm_base.as_ref().expect("xdg_wm_base bound");
        let positioner = wm_base.create_positioner(&qh, ());
        positioner.set_size(size.0, size.1);
        positioner.set_anchor_rect(anchor.0, anchor.1, anchor.2, anchor.3);
        positioner.set_anchor(xdg_positioner::Anchor::BottomRight);
        positioner.set_gravity(xdg_positioner::Gravity::BottomRight);
        positioner.set_constraint_adjustment(
            xdg_positioner::ConstraintAdjustment::from_bits_truncate(constraint_adjustment),
        );
        let surface = compositor.create_surface(&qh, SurfaceRole::Popup(index));
        let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, SurfaceRole::Popup(index));
        let parent_xdg = &self.data.windows[parent].xdg_surface;
        let popup = xdg_surface.get_popup(Some(parent_xdg), &positioner, &qh, index);
        positioner.destroy();
        surface.commit();
        self.data.popups.push(Popup {
            surface,
            xdg_surface,
            popup,
            pending_serial: None,
        });
        index
    }

    /// Like [`TestClient::create_popup`], with the positioner's `offset`, and a popup grab
    /// with `grab` as serial (made before the popup's first commit, as xdg-shell requires).
    pub fn create_popup_with(
        &mut self,
        parent: usize,
        anchor: (i32, i32, i32, i32),
        size: (i32, i32),
        constraint_adjustment: u32,
        offset: (i32, i32),
        grab: Option<u32>,
    ) -> usize {
        let qh = self.qh();
        let index = self.data.popups.len();
        let compositor = self.data.compositor.as_ref().expect("wl_compositor bound");
        let wm_base = self.data.wm_base.as_ref().expect("xdg_wm_base bound");
        let positioner = wm_base.create_positioner(&qh, ());
        positioner.set_size(size.0, size.1);
        positioner.set_anchor_rect(anchor.0, anchor.1, anchor.2, anchor.3);
        positioner.set_anchor(xdg_positioner::Anchor::BottomRight);
        positioner.set_gravity(xdg_positioner::Gravity::BottomRight);
        positioner.set_offset(offset.0, offset.1);
        positioner.set_constraint_adjustment(
            xdg_positioner::ConstraintAdjustment::from_bits_truncate(constraint_adjustment),
        );
        let surface = compositor.create_surface(&qh, SurfaceRole::Popup(index));
        let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, SurfaceRole::Popup(index));
        let parent_xdg = &self.data.windows[parent].xdg_surface;
        let popup = xdg_surface.get_popup(Some(parent_xdg), &positioner, &qh, index);
        positioner.destroy();
        if let (Some(serial), Some(seat)) = (grab, &self.data.seat) {
            popup.grab(seat, serial);
        }
        surface.commit();
        self.data.popups.push(Popup {
            surface,
            xdg_surface,
            popup,
            pending_serial: None,
        });
        index
    }

    /// A shm pool of `pool_size` bytes (a sparse memory file: zero pixels, nothing written)
    /// and a `width`×`height` ARGB buffer with `stride` at its start. For tests of what a
    /// hostile client may ask for.
    pub fn create_sparse_buffer(
        &mut self,
        pool_size: i32,
        width: i32,
        height: i32,
        stride: i32,
    ) -> anyhow::Result<usize> {
        let qh = self.qh();
        let fd = nix::sys::memfd::memfd_create(
            c"cloison-test-sparse",
            nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
        )?;
        let file = File::from(fd);
        file.set_len(pool_size.max(0) as u64)?;
        let shm = self.data.shm.as_ref().expect("wl_shm bound");
        let pool = shm.create_pool(file.as_fd(), pool_size, &qh, ());
        let index = self.data.buffers.len();
        let buffer = pool.create_buffer(
            0,
            width,
            height,
            stride,
            wl_shm::Format::Argb8888,
            &qh,
            index,
        );
        self.data.buffers.push(Buffer {
            buffer,
            pool,
            file,
            released: false,
            busy: false,
        });
        Ok(index)
    }

    /// Binds zwp_idle_inhibit_manager_v1 and inhibits idleness on `window`'s surface (until
    /// the client goes); whether the global was there.
    pub fn inhibit_idle(&mut self, window: usize) -> bool {
        let qh = self.qh();
        let Some(name) = self
            .data
            .globals
            .iter()
            .find(|(_, i, _)| i == "zwp_idle_inhibit_manager_v1")
            .map(|(n, _, _)| *n)
        else {
            return false;
        };
        let manager: zwp_idle_inhibit_manager_v1::ZwpIdleInhibitManagerV1 =
            self.registry.bind(name, 1, &qh, ());
        let inhibitor = manager.create_inhibitor(&self.data.windows[window].surface, &qh, ());
        // Kept for the client's life.
        std::mem::forget(inhibitor);
        true
    }

    /// Binds wp_viewporter and gives `window`'s surface a viewport with this destination
    /// (applied at its next commit).
    pub fn set_viewport_destination(&mut self, window: usize, width: i32, height: i32) {
        let qh = self.qh();
        let Some((name, _)) = self
            .data
            .globals
            .iter()
            .find(|(_, i, _)| i == "wp_viewporter")
            .map(|(n, _, v)| (*n, *v))
        else {
            return;
        };
        let viewporter: wp_viewporter::WpViewporter = self.registry.bind(name, 1, &qh, ());
        let viewport = viewporter.get_viewport(&self.data.windows[window].surface, &qh, ());
        viewport.set_destination(width, height);
    }

    /// A cursor made of a `root`-sized surface of `argb` with a subsurface of `sub_size` at
    /// `sub_pos` (same colour), set with the last pointer enter's serial and `hotspot`.
    pub fn set_cursor_tree(
        &mut self,
        root: i32,
        sub_pos: (i32, i32),
        sub_size: (i32, i32),
        hotspot: (i32, i32),
        argb: u32,
    ) -> anyhow::Result<()> {
        let qh = self.qh();
        let serial = self
            .data
            .events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::PointerEnter { serial, .. } => Some(*serial),
                _ => None,
            })
            .context("no pointer enter yet")?;
        let root_buffer = self.create_buffer(root, root, argb)?;
        let sub_buffer = self.create_buffer(sub_size.0, sub_size.1, argb)?;
        let compositor = self.data.compositor.as_ref().expect("wl_compositor bound");
        let sub = self
            .data
            .subcompositor
            .as_ref()
            .expect("wl_subcompositor bound");
        let surface = compositor.create_surface(&qh, SurfaceRole::Other);
        let child = compositor.create_surface(&qh, SurfaceRole::Other);
        let subsurface = sub.get_subsurface(&child, &surface, &qh, ());
        subsurface.set_position(sub_pos.0, sub_pos.1);
        child.attach(Some(&self.data.buffers[sub_buffer].buffer), 0, 0);
        child.damage_buffer(0, 0, sub_size.0, sub_size.1);
        child.commit();
        surface.attach(Some(&self.data.buffers[root_buffer].buffer), 0, 0);
        surface.damage_buffer(0, 0, root, root);
        surface.commit();
        if let Some(pointer) = &self.data.pointer {
            pointer.set_cursor(serial, Some(&surface), hotspot.0, hotspot.1);
        }
        Ok(())
    }

    /// Starts a drag of text from `window` with an icon like [`TestClient::set_cursor_tree`]'s
    /// (needs [`TestClient::bind_data_device`] and a button held on the window: uses the last
    /// press's serial).
    pub fn start_drag_with_icon(
        &mut self,
        window: usize,
        root: i32,
        sub_pos: (i32, i32),
        sub_size: (i32, i32),
        argb: u32,
    ) -> anyhow::Result<()> {
        let qh = self.qh();
        let serial = self
            .data
            .events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::Button {
                    pressed: true,
                    serial,
                    ..
                } => Some(*serial),
                _ => None,
            })
            .context("no button press yet")?;
        let root_buffer = self.create_buffer(root, root, argb)?;
        let sub_buffer = self.create_buffer(sub_size.0, sub_size.1, argb)?;
        let manager = self
            .data
            .data_manager
            .as_ref()
            .context("no data device manager")?;
        let source = manager.create_data_source(&qh, ());
        source.offer("text/plain".into());
        let compositor = self.data.compositor.as_ref().expect("wl_compositor bound");
        let sub = self
            .data
            .subcompositor
            .as_ref()
            .expect("wl_subcompositor bound");
        let icon = compositor.create_surface(&qh, SurfaceRole::Other);
        let child = compositor.create_surface(&qh, SurfaceRole::Other);
        let subsurface = sub.get_subsurface(&child, &icon, &qh, ());
        subsurface.set_position(sub_pos.0, sub_pos.1);
        child.attach(Some(&self.data.buffers[sub_buffer].buffer), 0, 0);
        child.damage_buffer(0, 0, sub_size.0, sub_size.1);
        child.commit();
        self.data
            .data_device
            .as_ref()
            .context("no data device")?
            .start_drag(
                Some(&source),
                &self.data.windows[window].surface,
                Some(&icon),
                serial,
            );
        icon.attach(Some(&self.data.buffers[root_buffer].buffer), 0, 0);
        icon.damage_buffer(0, 0, root, root);
        icon.commit();
        Ok(())
    }

    /// Acks the popup's configure and maps it with a buffer.
    pub fn draw_popup(&mut self, popup: usize, size: (i32, i32), argb: u32) -> anyhow::Result<()> {
        let buffer = self.create_buffer(size.0, size.1, argb)?;
        let p = &mut self.data.popups[popup];
        if let Some(serial) = p.pending_serial.take() {
            p.xdg_surface.ack_configure(serial);
        }
        p.surface
            .attach(Some(&self.data.buffers[buffer].buffer), 0, 0);
        p.surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        p.surface.commit();
        Ok(())
    }

    /// Adds a subsurface to `parent` at `pos` with its own buffer.
    pub fn add_subsurface(
        &mut self,
        parent: usize,
        pos: (i32, i32),
        size: (i32, i32),
        argb: u32,
    ) -> anyhow::Result<wl_subsurface::WlSubsurface> {
        Ok(self.subsurface_surface(parent, pos, size, argb)?.1)
    }

    /// Shrinks the memfd behind `buffer` to nothing: the next time the compositor reads the
    /// buffer, it faults.
    pub fn truncate_buffer(&mut self, buffer: usize) -> anyhow::Result<()> {
        self.data.buffers[buffer].file.set_len(0)?;
        Ok(())
    }

    /// Keyboard events received so far.
    pub fn key_events(&self) -> Vec<&Event> {
        self.data
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::Key { .. }
                        | Event::KeyboardEnter { .. }
                        | Event::KeyboardLeave
                        | Event::Modifiers { .. }
                )
            })
            .collect()
    }

    /// Pointer events received so far.
    pub fn pointer_events(&self) -> Vec<&Event> {
        self.data
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::PointerEnter { .. }
                        | Event::PointerLeave
                        | Event::Motion { .. }
                        | Event::Button { .. }
                )
            })
            .collect()
    }
}

/// What a wl_surface is, for event attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurfaceRole {
    /// A toplevel's surface.
    Window(usize),
    /// A popup's surface.
    Popup(usize),
    /// Anything else.
    Other,
}

fn window_of(surface: &wl_surface::WlSurface) -> usize {
    match surface.data::<SurfaceRole>() {
        Some(SurfaceRole::Window(i)) => *i,
        _ => usize::MAX,
    }
}

impl Dispatch<wl_registry::WlRegistry, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &wl_registry::WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_registry::Event::Global {
            name,
            interface,
            version,
        } = event
        {
            data.globals.push((name, interface.clone(), version));
            data.events.push(Event::Global {
                name,
                interface,
                version,
            });
        }
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for ClientData {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wl_callback::WlCallback, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &wl_callback::WlCallback,
        event: wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            data.synced += 1;
        }
    }
}

impl Dispatch<wl_callback::WlCallback, usize> for ClientData {
    fn event(
        data: &mut Self,
        _: &wl_callback::WlCallback,
        event: wl_callback::Event,
        window: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            data.frames[*window] += 1;
            data.events.push(Event::Frame { window: *window });
        }
    }
}

impl Dispatch<wl_buffer::WlBuffer, usize> for ClientData {
    fn event(
        data: &mut Self,
        _: &wl_buffer::WlBuffer,
        event: wl_buffer::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_buffer::Event::Release = event {
            data.buffers[*index].released = true;
            data.buffers[*index].busy = false;
            data.events.push(Event::BufferRelease { buffer: *index });
        }
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for ClientData {
    fn event(
        _: &mut Self,
        wm_base: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm_base.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, SurfaceRole> for ClientData {
    fn event(
        data: &mut Self,
        _: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        role: &SurfaceRole,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            match *role {
                SurfaceRole::Window(i) => {
                    data.windows[i].pending_serial = Some(serial);
                    data.events.push(Event::Configure { window: i, serial });
                }
                SurfaceRole::Popup(i) => data.popups[i].pending_serial = Some(serial),
                SurfaceRole::Other => {}
            }
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, usize> for ClientData {
    fn event(
        data: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        window: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            xdg_toplevel::Event::Configure {
                width,
                height,
                states,
            } => {
                let states = states
                    .chunks_exact(4)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                data.windows[*window].configured_size = (width, height);
                data.events.push(Event::ToplevelConfigure {
                    window: *window,
                    width,
                    height,
                    states,
                });
            }
            xdg_toplevel::Event::Close => data.events.push(Event::Close { window: *window }),
            _ => {}
        }
    }
}

impl Dispatch<xdg_popup::XdgPopup, usize> for ClientData {
    fn event(
        data: &mut Self,
        _: &xdg_popup::XdgPopup,
        event: xdg_popup::Event,
        popup: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            xdg_popup::Event::Configure {
                x,
                y,
                width,
                height,
            } => data.events.push(Event::PopupConfigure {
                popup: *popup,
                x,
                y,
                width,
                height,
            }),
            xdg_popup::Event::PopupDone => data.events.push(Event::PopupDone { popup: *popup }),
            _ => {}
        }
    }
}

impl Dispatch<wl_seat::WlSeat, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &wl_seat::WlSeat,
        event: wl_seat::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_seat::Event::Name { name } => data.events.push(Event::SeatName(name)),
            wl_seat::Event::Capabilities {
                capabilities: WEnum::Value(caps),
            } => data.events.push(Event::SeatCapabilities(caps.bits())),
            _ => {}
        }
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_keyboard::Event::Enter {
                surface, serial, ..
            } => {
                data.enter_serial = Some(serial);
                data.events.push(Event::KeyboardEnter {
                    window: window_of(&surface),
                })
            }
            wl_keyboard::Event::Leave { .. } => data.events.push(Event::KeyboardLeave),
            wl_keyboard::Event::Key { key, state, .. } => data.events.push(Event::Key {
                key,
                pressed: state == WEnum::Value(wl_keyboard::KeyState::Pressed),
            }),
            wl_keyboard::Event::Modifiers { mods_depressed, .. } => {
                data.events.push(Event::Modifiers {
                    depressed: mods_depressed,
                })
            }
            _ => {}
        }
    }
}

impl Dispatch<wl_touch::WlTouch, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &wl_touch::WlTouch,
        event: wl_touch::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_touch::Event::Down {
                surface, id, x, y, ..
            } => data.events.push(Event::TouchDown {
                id,
                window: window_of(&surface),
                x,
                y,
            }),
            wl_touch::Event::Motion { id, x, y, .. } => {
                data.events.push(Event::TouchMotion { id, x, y })
            }
            wl_touch::Event::Up { id, .. } => data.events.push(Event::TouchUp { id }),
            _ => {}
        }
    }
}

impl Dispatch<wl_pointer::WlPointer, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &wl_pointer::WlPointer,
        event: wl_pointer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_pointer::Event::Enter {
                surface,
                surface_x,
                surface_y,
                serial,
            } => data.events.push(Event::PointerEnter {
                serial,
                window: window_of(&surface),
                x: surface_x,
                y: surface_y,
            }),
            wl_pointer::Event::Leave { .. } => data.events.push(Event::PointerLeave),
            wl_pointer::Event::Motion {
                surface_x,
                surface_y,
                ..
            } => data.events.push(Event::Motion {
                x: surface_x,
                y: surface_y,
            }),
            wl_pointer::Event::Button {
                button,
                state,
                serial,
                ..
            } => data.events.push(Event::Button {
                button,
                pressed: state == WEnum::Value(wl_pointer::ButtonState::Pressed),
                serial,
            }),
            _ => {}
        }
    }
}

impl Dispatch<xdg_activation_token_v1::XdgActivationTokenV1, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &xdg_activation_token_v1::XdgActivationTokenV1,
        event: xdg_activation_token_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_activation_token_v1::Event::Done { token } = event {
            data.events.push(Event::ActivationToken { token });
        }
    }
}

impl Dispatch<wl_data_device::WlDataDevice, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &wl_data_device::WlDataDevice,
        event: wl_data_device::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_data_device::Event::DataOffer { id } => data.offer_types.push((id, Vec::new())),
            wl_data_device::Event::Selection { id } => {
                let mime_types = id
                    .as_ref()
                    .and_then(|o| data.offer_types.iter().find(|(x, _)| x == o))
                    .map(|(_, t)| t.clone())
                    .unwrap_or_default();
                data.selection = id;
                data.events.push(Event::Selection { mime_types });
            }
            _ => {}
        }
    }

    event_created_child!(ClientData, wl_data_device::WlDataDevice, [
        wl_data_device::EVT_DATA_OFFER_OPCODE => (wl_data_offer::WlDataOffer, ()),
    ]);
}

impl Dispatch<wl_data_offer::WlDataOffer, ()> for ClientData {
    fn event(
        data: &mut Self,
        offer: &wl_data_offer::WlDataOffer,
        event: wl_data_offer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_data_offer::Event::Offer { mime_type } = event
            && let Some((_, types)) = data.offer_types.iter_mut().find(|(o, _)| o == offer)
        {
            types.push(mime_type);
        }
    }
}

impl Dispatch<wl_data_source::WlDataSource, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &wl_data_source::WlDataSource,
        event: wl_data_source::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_data_source::Event::Send { mime_type, fd } = event {
            data.events.push(Event::DataSend {
                mime_type: mime_type.clone(),
            });
            data.sends.push((mime_type, fd));
        }
    }
}

macro_rules! ignore_events {
    ($($iface:ty : $udata:ty),* $(,)?) => {$(
        impl Dispatch<$iface, $udata> for ClientData {
            fn event(
                _: &mut Self,
                _: &$iface,
                _: <$iface as Proxy>::Event,
                _: &$udata,
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
            }
        }
    )*};
}

ignore_events!(
    wl_compositor::WlCompositor: (),
    wl_subcompositor::WlSubcompositor: (),
    wl_subsurface::WlSubsurface: (),
    wl_shm::WlShm: (),
    wl_shm_pool::WlShmPool: (),
    wl_surface::WlSurface: SurfaceRole,
    xdg_positioner::XdgPositioner: (),
    xdg_activation_v1::XdgActivationV1: (),
    wp_presentation::WpPresentation: (),
    wp_viewporter::WpViewporter: (),
    wp_viewport::WpViewport: (),
    zwp_idle_inhibit_manager_v1::ZwpIdleInhibitManagerV1: (),
    zwp_idle_inhibitor_v1::ZwpIdleInhibitorV1: (),
    wl_data_device_manager::WlDataDeviceManager: (),
    wl_region::WlRegion: (),
);
