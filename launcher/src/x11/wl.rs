//! The bridge's Wayland side: an ordinary client of the level's socket. Every X window it
//! shows is one of its surfaces (an `xdg_toplevel`, or an `xdg_popup` for a menu), so the
//! compositor frames, focuses and confines it exactly as any other window of the level.
//!
//! Dispatching only records what happened ([`WlEvent`]); the bridge acts on it with the X
//! connection at hand.

use std::os::fd::{AsFd as _, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::sync::Mutex;

use wayland_client::protocol::{
    wl_buffer, wl_callback, wl_compositor, wl_data_device, wl_data_device_manager, wl_data_offer,
    wl_data_source, wl_keyboard, wl_output, wl_pointer, wl_registry, wl_seat, wl_shm, wl_shm_pool,
    wl_surface,
};
use wayland_client::{Connection, Dispatch, Proxy as _, QueueHandle, WEnum, delegate_noop};
use wayland_protocols::wp::primary_selection::zv1::client::{
    zwp_primary_selection_device_manager_v1 as primary_manager,
    zwp_primary_selection_device_v1 as primary_device,
    zwp_primary_selection_offer_v1 as primary_offer,
    zwp_primary_selection_source_v1 as primary_source,
};
use wayland_protocols::xdg::shell::client::{
    xdg_popup, xdg_positioner, xdg_surface, xdg_toplevel, xdg_wm_base,
};

/// An X window's id.
pub type Xid = u32;

/// One showing of an X window (the user data of its Wayland objects): events that arrive for
/// an earlier showing of the same window (hidden and shown again, or an id the X server gave
/// out again) are told apart by `generation` and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewId {
    pub xid: Xid,
    pub generation: u64,
}

/// What the compositor told the bridge.
#[derive(Debug)]
pub enum WlEvent {
    /// A toplevel's new state: a size to take (0 = its own) and whether it is fullscreen.
    Configure {
        view: ViewId,
        width: i32,
        height: i32,
    },
    /// The surface acknowledged a configure: it may now show content.
    Configured {
        view: ViewId,
    },
    /// The user closed the window (its frame's close button, the close chord).
    Close {
        view: ViewId,
    },
    /// The compositor dismissed a popup.
    PopupDone {
        view: ViewId,
    },
    /// The last frame was shown: the next may be drawn.
    FrameDone {
        view: ViewId,
    },
    PointerEnter {
        view: ViewId,
        x: f64,
        y: f64,
    },
    PointerLeave,
    Motion {
        x: f64,
        y: f64,
    },
    Button {
        button: u32,
        pressed: bool,
    },
    /// Scroll steps (120ths of a notch, positive down/right).
    Scroll {
        vertical: bool,
        steps: i32,
    },
    KeyboardEnter {
        view: ViewId,
    },
    KeyboardLeave,
    /// The level's keymap (xkb text): the X server takes the same.
    Keymap(String),
    Key {
        code: u32,
        pressed: bool,
    },
    /// The level's selection changed (an offer with its MIME types), or was cleared.
    Selection {
        kind: SelKind,
        offer: Option<Offer>,
    },
    /// A Wayland client pastes what the bridge offered: write it to `fd`.
    Send {
        kind: SelKind,
        mime: String,
        fd: OwnedFd,
    },
    /// The bridge's offer is no longer the selection.
    Cancelled {
        kind: SelKind,
    },
}

/// Which selection: the clipboard (`CLIPBOARD`, `wl_data_device`) or the primary one
/// (`PRIMARY`, `zwp_primary_selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelKind {
    Clipboard,
    Primary,
}

/// The largest keymap taken from the compositor.
const MAX_KEYMAP: u32 = 1 << 20;

/// MIME types a level's offer announces, at most this many (the compositor bounds them too).
pub const MAX_MIMES: usize = 64;

/// Another client's selection, readable by MIME type.
#[derive(Debug, Clone)]
pub enum Offer {
    Data(wl_data_offer::WlDataOffer),
    Primary(primary_offer::ZwpPrimarySelectionOfferV1),
}

impl Offer {
    pub fn mimes(&self) -> Vec<String> {
        let list = match self {
            Offer::Data(o) => o.data::<Mutex<Vec<String>>>(),
            Offer::Primary(o) => o.data::<Mutex<Vec<String>>>(),
        };
        list.and_then(|l| l.lock().ok().map(|l| l.clone()))
            .unwrap_or_default()
    }

    pub fn receive(&self, mime: String, fd: std::os::fd::BorrowedFd<'_>) {
        match self {
            Offer::Data(o) => o.receive(mime, fd),
            Offer::Primary(o) => o.receive(mime, fd),
        }
    }

    pub fn destroy(&self) {
        match self {
            Offer::Data(o) => o.destroy(),
            Offer::Primary(o) => o.destroy(),
        }
    }
}

/// The bridge's own selection source (what an X client copied).
#[derive(Debug)]
pub enum Source {
    Data(wl_data_source::WlDataSource),
    Primary(primary_source::ZwpPrimarySelectionSourceV1),
}

impl Source {
    pub fn destroy(&self) {
        match self {
            Source::Data(s) => s.destroy(),
            Source::Primary(s) => s.destroy(),
        }
    }
}

/// One output's size in logical pixels (the X screen is sized from them).
#[derive(Debug, Default, Clone, Copy)]
pub struct OutputSize {
    pub width: i32,
    pub height: i32,
}

/// The Wayland globals and what dispatch recorded.
pub struct WlState {
    pub compositor: Option<wl_compositor::WlCompositor>,
    pub shm: Option<wl_shm::WlShm>,
    pub wm_base: Option<xdg_wm_base::XdgWmBase>,
    pub seat: Option<wl_seat::WlSeat>,
    pub pointer: Option<wl_pointer::WlPointer>,
    pub keyboard: Option<wl_keyboard::WlKeyboard>,
    pub outputs: Vec<(wl_output::WlOutput, OutputSize)>,
    pub data_manager: Option<wl_data_device_manager::WlDataDeviceManager>,
    pub data_device: Option<wl_data_device::WlDataDevice>,
    pub primary_manager: Option<primary_manager::ZwpPrimarySelectionDeviceManagerV1>,
    pub primary_device: Option<primary_device::ZwpPrimarySelectionDeviceV1>,
    pub events: Vec<WlEvent>,
    /// Serial of the last button press (popups need none: they take no grab).
    pub last_serial: u32,
    /// Partial scroll (in 120ths) not yet a whole step.
    scroll: [i32; 2],
}

impl WlState {
    pub fn new() -> WlState {
        WlState {
            compositor: None,
            shm: None,
            wm_base: None,
            seat: None,
            pointer: None,
            keyboard: None,
            outputs: Vec::new(),
            data_manager: None,
            data_device: None,
            primary_manager: None,
            primary_device: None,
            events: Vec::new(),
            last_serial: 0,
            scroll: [0, 0],
        }
    }

    /// The selection devices, once the seat and managers are bound.
    pub fn selection_devices(&mut self, qh: &QueueHandle<WlState>) {
        let Some(seat) = &self.seat else { return };
        if let (Some(m), None) = (&self.data_manager, &self.data_device) {
            self.data_device = Some(m.get_data_device(seat, qh, ()));
        }
        if let (Some(m), None) = (&self.primary_manager, &self.primary_device) {
            self.primary_device = Some(m.get_device(seat, qh, ()));
        }
    }

    /// Offers `mimes` as the level's `kind` selection (what an X client copied). The
    /// compositor takes it only while one of the bridge's windows has the keyboard.
    pub fn offer(
        &self,
        kind: SelKind,
        mimes: &[String],
        qh: &QueueHandle<WlState>,
    ) -> Option<Source> {
        match kind {
            SelKind::Clipboard => {
                let source = self.data_manager.as_ref()?.create_data_source(qh, ());
                for m in mimes {
                    source.offer(m.clone());
                }
                self.data_device
                    .as_ref()?
                    .set_selection(Some(&source), self.last_serial);
                Some(Source::Data(source))
            }
            SelKind::Primary => {
                let source = self.primary_manager.as_ref()?.create_source(qh, ());
                for m in mimes {
                    source.offer(m.clone());
                }
                self.primary_device
                    .as_ref()?
                    .set_selection(Some(&source), self.last_serial);
                Some(Source::Primary(source))
            }
        }
    }

    /// The largest output, at least 640x480.
    pub fn largest_output(&self) -> OutputSize {
        let mut size = OutputSize {
            width: 640,
            height: 480,
        };
        for (_, o) in &self.outputs {
            size.width = size.width.max(o.width);
            size.height = size.height.max(o.height);
        }
        size
    }
}

impl Dispatch<wl_registry::WlRegistry, ()> for WlState {
    fn event(
        state: &mut Self,
        registry: &wl_registry::WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        let wl_registry::Event::Global {
            name,
            interface,
            version,
        } = event
        else {
            return;
        };
        match interface.as_str() {
            "wl_compositor" => {
                state.compositor = Some(registry.bind(name, version.min(4), qh, ()));
            }
            "wl_shm" => state.shm = Some(registry.bind(name, 1, qh, ())),
            "xdg_wm_base" => state.wm_base = Some(registry.bind(name, version.min(2), qh, ())),
            "wl_seat" if state.seat.is_none() => {
                state.seat = Some(registry.bind(name, version.min(5), qh, ()));
            }
            "wl_data_device_manager" => {
                state.data_manager = Some(registry.bind(name, version.min(3), qh, ()));
            }
            "zwp_primary_selection_device_manager_v1" => {
                state.primary_manager = Some(registry.bind(name, 1, qh, ()));
            }
            "wl_output" => {
                let output = registry.bind(name, version.min(2), qh, ());
                state.outputs.push((output, OutputSize::default()));
            }
            _ => {}
        }
    }
}

impl Dispatch<wl_output::WlOutput, ()> for WlState {
    fn event(
        state: &mut Self,
        output: &wl_output::WlOutput,
        event: wl_output::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_output::Event::Mode {
            flags: WEnum::Value(flags),
            width,
            height,
            ..
        } = event
            && flags.contains(wl_output::Mode::Current)
            && let Some((_, size)) = state.outputs.iter_mut().find(|(o, _)| o == output)
        {
            *size = OutputSize { width, height };
        }
    }
}

impl Dispatch<wl_seat::WlSeat, ()> for WlState {
    fn event(
        state: &mut Self,
        seat: &wl_seat::WlSeat,
        event: wl_seat::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_seat::Event::Capabilities {
            capabilities: WEnum::Value(caps),
        } = event
        {
            if caps.contains(wl_seat::Capability::Pointer) && state.pointer.is_none() {
                state.pointer = Some(seat.get_pointer(qh, ()));
            }
            if caps.contains(wl_seat::Capability::Keyboard) && state.keyboard.is_none() {
                state.keyboard = Some(seat.get_keyboard(qh, ()));
            }
        }
    }
}

fn view_of(surface: &wl_surface::WlSurface) -> Option<ViewId> {
    surface.data::<ViewId>().copied()
}

impl Dispatch<wl_pointer::WlPointer, ()> for WlState {
    fn event(
        state: &mut Self,
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
                ..
            } => {
                if let Some(view) = view_of(&surface) {
                    state.events.push(WlEvent::PointerEnter {
                        view,
                        x: surface_x,
                        y: surface_y,
                    });
                }
            }
            wl_pointer::Event::Leave { .. } => state.events.push(WlEvent::PointerLeave),
            wl_pointer::Event::Motion {
                surface_x,
                surface_y,
                ..
            } => state.events.push(WlEvent::Motion {
                x: surface_x,
                y: surface_y,
            }),
            wl_pointer::Event::Button {
                serial,
                button,
                state: WEnum::Value(pressed),
                ..
            } => {
                let pressed = pressed == wl_pointer::ButtonState::Pressed;
                if pressed {
                    state.last_serial = serial;
                }
                state.events.push(WlEvent::Button { button, pressed });
            }
            wl_pointer::Event::Axis {
                axis: WEnum::Value(axis),
                value,
                ..
            } => {
                // 10 units of continuous scroll make one notch (libinput's wheel step).
                let vertical = axis == wl_pointer::Axis::VerticalScroll;
                let slot = &mut state.scroll[usize::from(!vertical)];
                *slot += (value * 12.0) as i32;
                let steps = *slot / 120;
                if steps != 0 {
                    *slot -= steps * 120;
                    state.events.push(WlEvent::Scroll { vertical, steps });
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, ()> for WlState {
    fn event(
        state: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_keyboard::Event::Enter { surface, .. } => {
                if let Some(view) = view_of(&surface) {
                    state.events.push(WlEvent::KeyboardEnter { view });
                }
            }
            wl_keyboard::Event::Leave { .. } => state.events.push(WlEvent::KeyboardLeave),
            wl_keyboard::Event::Key {
                serial,
                key,
                state: WEnum::Value(pressed),
                ..
            } => {
                state.last_serial = serial;
                state.events.push(WlEvent::Key {
                    code: key,
                    pressed: pressed == wl_keyboard::KeyState::Pressed,
                });
            }
            wl_keyboard::Event::Keymap {
                format: WEnum::Value(wl_keyboard::KeymapFormat::XkbV1),
                fd,
                size,
            } if size <= MAX_KEYMAP => {
                // From its start, whatever the descriptor's offset (the compositor shares
                // one open file among its clients).
                use std::os::unix::fs::FileExt as _;
                let mut bytes = vec![0u8; size as usize];
                if std::fs::File::from(fd).read_exact_at(&mut bytes, 0).is_ok() {
                    let text = String::from_utf8_lossy(&bytes);
                    state
                        .events
                        .push(WlEvent::Keymap(text.trim_end_matches('\0').to_string()));
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for WlState {
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

impl Dispatch<xdg_surface::XdgSurface, ViewId> for WlState {
    fn event(
        state: &mut Self,
        surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        view: &ViewId,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            surface.ack_configure(serial);
            state.events.push(WlEvent::Configured { view: *view });
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ViewId> for WlState {
    fn event(
        state: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        view: &ViewId,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            xdg_toplevel::Event::Configure { width, height, .. } => {
                state.events.push(WlEvent::Configure {
                    view: *view,
                    width,
                    height,
                })
            }
            xdg_toplevel::Event::Close => state.events.push(WlEvent::Close { view: *view }),
            _ => {}
        }
    }
}

impl Dispatch<xdg_popup::XdgPopup, ViewId> for WlState {
    fn event(
        state: &mut Self,
        _: &xdg_popup::XdgPopup,
        event: xdg_popup::Event,
        view: &ViewId,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_popup::Event::PopupDone = event {
            state.events.push(WlEvent::PopupDone { view: *view });
        }
    }
}

impl Dispatch<wl_callback::WlCallback, ViewId> for WlState {
    fn event(
        state: &mut Self,
        _: &wl_callback::WlCallback,
        event: wl_callback::Event,
        view: &ViewId,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            state.events.push(WlEvent::FrameDone { view: *view });
        }
    }
}

/// A buffer is busy from its commit until the compositor releases it.
impl Dispatch<wl_buffer::WlBuffer, Arc<AtomicBool>> for WlState {
    fn event(
        _: &mut Self,
        _: &wl_buffer::WlBuffer,
        event: wl_buffer::Event,
        busy: &Arc<AtomicBool>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_buffer::Event::Release = event {
            busy.store(false, Ordering::Relaxed);
        }
    }
}

impl Dispatch<wl_surface::WlSurface, ViewId> for WlState {
    fn event(
        _: &mut Self,
        _: &wl_surface::WlSurface,
        _: wl_surface::Event,
        _: &ViewId,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wl_data_device::WlDataDevice, ()> for WlState {
    fn event(
        state: &mut Self,
        _: &wl_data_device::WlDataDevice,
        event: wl_data_device::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_data_device::Event::Selection { id } = event {
            state.events.push(WlEvent::Selection {
                kind: SelKind::Clipboard,
                offer: id.map(Offer::Data),
            });
        }
    }

    wayland_client::event_created_child!(WlState, wl_data_device::WlDataDevice, [
        wl_data_device::EVT_DATA_OFFER_OPCODE => (wl_data_offer::WlDataOffer, Mutex::new(Vec::new())),
    ]);
}

impl Dispatch<wl_data_offer::WlDataOffer, Mutex<Vec<String>>> for WlState {
    fn event(
        _: &mut Self,
        _: &wl_data_offer::WlDataOffer,
        event: wl_data_offer::Event,
        mimes: &Mutex<Vec<String>>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_data_offer::Event::Offer { mime_type } = event
            && let Ok(mut m) = mimes.lock()
            && m.len() < MAX_MIMES
        {
            m.push(mime_type);
        }
    }
}

impl Dispatch<wl_data_source::WlDataSource, ()> for WlState {
    fn event(
        state: &mut Self,
        _: &wl_data_source::WlDataSource,
        event: wl_data_source::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_data_source::Event::Send { mime_type, fd } => state.events.push(WlEvent::Send {
                kind: SelKind::Clipboard,
                mime: mime_type,
                fd,
            }),
            wl_data_source::Event::Cancelled => state.events.push(WlEvent::Cancelled {
                kind: SelKind::Clipboard,
            }),
            _ => {}
        }
    }
}

impl Dispatch<primary_device::ZwpPrimarySelectionDeviceV1, ()> for WlState {
    fn event(
        state: &mut Self,
        _: &primary_device::ZwpPrimarySelectionDeviceV1,
        event: primary_device::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let primary_device::Event::Selection { id } = event {
            state.events.push(WlEvent::Selection {
                kind: SelKind::Primary,
                offer: id.map(Offer::Primary),
            });
        }
    }

    wayland_client::event_created_child!(WlState, primary_device::ZwpPrimarySelectionDeviceV1, [
        primary_device::EVT_DATA_OFFER_OPCODE => (primary_offer::ZwpPrimarySelectionOfferV1, Mutex::new(Vec::new())),
    ]);
}

impl Dispatch<primary_offer::ZwpPrimarySelectionOfferV1, Mutex<Vec<String>>> for WlState {
    fn event(
        _: &mut Self,
        _: &primary_offer::ZwpPrimarySelectionOfferV1,
        event: primary_offer::Event,
        mimes: &Mutex<Vec<String>>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let primary_offer::Event::Offer { mime_type } = event
            && let Ok(mut m) = mimes.lock()
            && m.len() < MAX_MIMES
        {
            m.push(mime_type);
        }
    }
}

impl Dispatch<primary_source::ZwpPrimarySelectionSourceV1, ()> for WlState {
    fn event(
        state: &mut Self,
        _: &primary_source::ZwpPrimarySelectionSourceV1,
        event: primary_source::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            primary_source::Event::Send { mime_type, fd } => state.events.push(WlEvent::Send {
                kind: SelKind::Primary,
                mime: mime_type,
                fd,
            }),
            primary_source::Event::Cancelled => state.events.push(WlEvent::Cancelled {
                kind: SelKind::Primary,
            }),
            _ => {}
        }
    }
}

delegate_noop!(WlState: ignore wl_data_device_manager::WlDataDeviceManager);
delegate_noop!(WlState: ignore primary_manager::ZwpPrimarySelectionDeviceManagerV1);
delegate_noop!(WlState: ignore wl_compositor::WlCompositor);
delegate_noop!(WlState: ignore wl_shm::WlShm);
delegate_noop!(WlState: ignore wl_shm_pool::WlShmPool);
delegate_noop!(WlState: ignore xdg_positioner::XdgPositioner);

/// One shared-memory buffer: the X server writes a window's pixels into it
/// (`ShmGetImage` on the memory file attached as an MIT-SHM segment) and the compositor
/// reads them from the same pages — the bridge itself never maps or copies them.
pub struct Buffer {
    pub memfd: OwnedFd,
    pub buffer: wl_buffer::WlBuffer,
    pub busy: Arc<AtomicBool>,
    pub width: i32,
    pub height: i32,
    /// Its MIT-SHM segment id on the X side (0 before it is attached).
    pub seg: u32,
}

impl Buffer {
    /// Its size in memory.
    pub fn bytes(&self) -> usize {
        usize::try_from(self.width).unwrap_or(0) * usize::try_from(self.height).unwrap_or(0) * 4
    }

    /// A `width`x`height` buffer, 4 bytes a pixel, `argb` if the window has alpha.
    pub fn new(
        state: &WlState,
        qh: &QueueHandle<WlState>,
        width: i32,
        height: i32,
        argb: bool,
    ) -> anyhow::Result<Buffer> {
        let shm = state
            .shm
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the compositor offers no wl_shm"))?;
        let stride = width * 4;
        let size = i64::from(stride) * i64::from(height);
        let memfd = nix::sys::memfd::memfd_create(
            c"cloison-x11",
            nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC
                | nix::sys::memfd::MemFdCreateFlag::MFD_ALLOW_SEALING,
        )?;
        nix::unistd::ftruncate(&memfd, size)?;
        // Its size is fixed: nobody that holds it (the X server too) can shrink it under the
        // compositor's reads.
        nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&memfd),
            nix::fcntl::FcntlArg::F_ADD_SEALS(
                nix::fcntl::SealFlag::F_SEAL_SHRINK | nix::fcntl::SealFlag::F_SEAL_SEAL,
            ),
        )?;
        let pool = shm.create_pool(memfd.as_fd(), i32::try_from(size)?, qh, ());
        let format = if argb {
            wl_shm::Format::Argb8888
        } else {
            wl_shm::Format::Xrgb8888
        };
        let busy = Arc::new(AtomicBool::new(false));
        let buffer = pool.create_buffer(0, width, height, stride, format, qh, busy.clone());
        pool.destroy();
        Ok(Buffer {
            memfd,
            buffer,
            busy,
            width,
            height,
            seg: 0,
        })
    }
}
