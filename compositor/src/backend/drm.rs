//! The DRM/KMS backend: a workstation's own displays and input devices.
//!
//! * **Session**: libseat (seatd, or logind through D-Bus) opens the GPU and input devices and
//!   hands over their descriptors; the compositor never opens `/dev` itself. When the user
//!   switches to another virtual terminal the session pauses (no modesetting, no input) and
//!   everything is redrawn when it comes back.
//! * **Displays**: every KMS device of the seat (udev; the primary GPU first), every connected
//!   connector driven by a free CRTC with its preferred mode (or the configured one), laid out
//!   left to right unless the configuration places it. Since pixman renders on the CPU, a
//!   display on a second GPU (a docking station, a second virtual GPU) costs no copy between
//!   devices. A [`DrmCompositor`] per display: pixman renders into dumb buffers
//!   (work on every KMS driver, virtual GPUs and simpledrm included), only the damaged region,
//!   and each frame is a page flip. A display that is still flipping is drawn again when its
//!   flip completes.
//! * **Hotplug**: [`DrmBackend::devices_changed`] rescans connectors and input devices; the
//!   launcher calls it (through the manager channel) when udev reports a change, since the
//!   compositor's cage has no netlink socket of its own.
//! * **Input**: libinput on the device paths the seat has (`ID_SEAT`), opened through the
//!   session: keyboards (the configured xkb layout is the seats' own), mice, touchpads (tap and
//!   natural scrolling from `[touchpad]`), tablets and touch screens (mapped onto the whole
//!   layout, as QEMU's and X11's absolute devices expect).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context as _;
use cloison_config::RendererChoice;
use smithay::backend::allocator::Fourcc;
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::dumb::DumbAllocator;
use smithay::backend::allocator::gbm::{GbmAllocator, GbmBufferFlags, GbmDevice};
use smithay::backend::drm::compositor::{DrmCompositor, FrameFlags};
use smithay::backend::drm::exporter::gbm::GbmFramebufferExporter;
use smithay::backend::drm::{DrmDevice, DrmDeviceFd, DrmEvent};
use smithay::backend::egl::{EGLContext, EGLDisplay};
use smithay::backend::input::InputEvent;
use smithay::backend::libinput::{LibinputInputBackend, LibinputSessionInterface};
use smithay::backend::renderer::Bind;
use smithay::backend::renderer::element::RenderElementStates;
use smithay::backend::renderer::gles::GlesRenderer;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::{Event as SessionEvent, Session};
use smithay::output::{Mode as OutputMode, Output, PhysicalProperties, Subpixel};
use smithay::reexports::calloop::{LoopHandle, RegistrationToken};
use smithay::reexports::drm::control::{Device as _, ModeTypeFlags, connector, crtc};
use smithay::reexports::input::{self as libinput, Libinput};
use smithay::reexports::rustix::fs::OFlags;
use smithay::utils::{DeviceFd, Logical, Point, Transform};

use super::Backend;
use crate::render::{BACKGROUND, Scene, output_elements};
use crate::state::State;

/// A display's compositor: GLES into GBM buffers, or pixman into dumb buffers.
enum Compositor {
    Gles(
        DrmCompositor<
            GbmAllocator<DrmDeviceFd>,
            GbmFramebufferExporter<DrmDeviceFd>,
            (),
            DrmDeviceFd,
        >,
    ),
    Pixman(DrmCompositor<DumbAllocator, DrmDeviceFd, (), DrmDeviceFd>),
}

/// Calls the same method on either kind of compositor.
macro_rules! either {
    ($compositor:expr, $c:ident => $body:expr) => {
        match $compositor {
            Compositor::Gles($c) => $body,
            Compositor::Pixman($c) => $body,
        }
    };
}

/// How a GPU's displays are drawn.
enum GpuRenderer {
    /// GLES through EGL on the GPU's GBM device.
    Gles {
        renderer: Box<GlesRenderer>,
        gbm: GbmDevice<DrmDeviceFd>,
        /// Mesa's software rasterizer (forced with `renderer = "gles"`).
        software: bool,
    },
    /// The backend's pixman renderer, into dumb buffers.
    Pixman,
}

/// One KMS device.
struct Gpu {
    path: PathBuf,
    fd: DrmDeviceFd,
    drm: DrmDevice,
    renderer: GpuRenderer,
    /// Its event source (removed with it).
    token: RegistrationToken,
}

/// One display: a connector driven by a CRTC.
struct Head {
    /// Index in [`DrmBackend::gpus`].
    gpu: usize,
    connector: connector::Handle,
    crtc: crtc::Handle,
    output: Output,
    compositor: Compositor,
    /// A page flip is queued and not yet on screen.
    flip_pending: bool,
    /// Something changed while flipping: draw again once the flip completes.
    redraw_wanted: bool,
}

/// The DRM backend's state.
pub struct DrmBackend {
    session: LibSeatSession,
    libinput: Libinput,
    /// Renders for every GPU without GLES.
    pixman: PixmanRenderer,
    renderer_choice: RendererChoice,
    /// KMS devices by index (`None`: unplugged; indices stay stable for event sources).
    gpus: Vec<Option<Gpu>>,
    heads: Vec<Head>,
    /// Input devices in use, by device node.
    input_devices: HashMap<PathBuf, libinput::Device>,
    /// Whether the session is active (our virtual terminal is in front).
    active: bool,
    touchpad: cloison_config::TouchpadConfig,
    /// Whether a frame has reached a display yet.
    shown: bool,
}

impl DrmBackend {
    /// Opens the seat session, the seat's display devices and input devices, and adds their
    /// event sources to the loop. Displays are set up by [`start`], once the state exists.
    pub fn new(
        loop_handle: &LoopHandle<'static, State>,
        config: &cloison_config::Config,
    ) -> anyhow::Result<DrmBackend> {
        let (mut session, notifier) = LibSeatSession::new().map_err(|err| {
            anyhow::anyhow!(
                "cannot open a seat session through libseat ({err}): run from a console login (logind) or with seatd running and its socket usable by this user"
            )
        })?;
        let seat = session.seat();
        let paths = gpu_paths(&seat);
        anyhow::ensure!(
            !paths.is_empty(),
            "seat {seat} has no display device (no /dev/dri/card* on it)"
        );
        let choice = config.compositor.renderer;
        let mut gpus = Vec::new();
        for path in paths {
            match open_gpu(&mut session, &path, gpus.len(), choice, loop_handle) {
                Ok(gpu) => gpus.push(Some(gpu)),
                Err(err) => tracing::warn!(device = %path.display(), "not used: {err:#}"),
            }
        }
        anyhow::ensure!(
            !gpus.is_empty(),
            "no display device of seat {seat} is usable"
        );

        let mut libinput = Libinput::new_from_path(LibinputSessionInterface::from(session.clone()));
        loop_handle
            .insert_source(
                LibinputInputBackend::new(libinput.clone()),
                |event, _, state| input_event(state, event),
            )
            .map_err(|e| anyhow::anyhow!("cannot watch input devices: {e}"))?;
        loop_handle
            .insert_source(notifier, |event, _, state| session_event(state, event))
            .map_err(|e| anyhow::anyhow!("cannot watch the seat session: {e}"))?;
        // Events for devices added below come through the source just inserted.
        let _ = libinput.dispatch();

        let pixman = PixmanRenderer::new().context("cannot create the pixman renderer")?;
        tracing::info!(
            seat,
            devices = ?gpus
                .iter()
                .flatten()
                .map(|g| g.path.display().to_string())
                .collect::<Vec<_>>(),
            "seat session open"
        );
        let mut backend = DrmBackend {
            active: session.is_active(),
            session,
            libinput,
            pixman,
            renderer_choice: choice,
            gpus,
            heads: Vec::new(),
            input_devices: HashMap::new(),
            touchpad: config.touchpad.clone(),
            shown: false,
        };
        backend.scan_input_devices();
        Ok(backend)
    }

    /// Switches to virtual terminal `vt`.
    pub fn switch_vt(&mut self, vt: i32) {
        tracing::info!(vt, "switching virtual terminal");
        if let Err(err) = self.session.change_vt(vt) {
            tracing::warn!(vt, "cannot switch virtual terminal: {err}");
        }
    }

    /// The renderer that draws `output`.
    pub fn renderer_of(&self, output: &Output) -> &'static str {
        match self.heads.iter().find(|h| h.output == *output) {
            Some(Head {
                compositor: Compositor::Gles(_),
                ..
            }) => "gles",
            _ => "pixman",
        }
    }

    /// Renders `scene` on `output`'s display and queues the page flip. `Ok(None)`: the display
    /// is busy (flipping, or the session is paused) and is drawn when it is free.
    pub fn render(
        &mut self,
        output: &Output,
        scene: &Scene<'_>,
    ) -> anyhow::Result<Option<(bool, RenderElementStates)>> {
        let Some(head) = self.heads.iter_mut().find(|h| h.output == *output) else {
            return Ok(None);
        };
        if !self.active {
            return Ok(None);
        }
        if head.flip_pending {
            head.redraw_wanted = true;
            return Ok(None);
        }
        let Some(gpu) = self.gpus.get_mut(head.gpu).and_then(Option::as_mut) else {
            return Ok(None);
        };
        // Same scene, same steps, whichever renderer: elements, render, queue the flip.
        macro_rules! draw {
            ($compositor:expr, $renderer:expr, $before_flip:expr) => {{
                let renderer = $renderer;
                let elements = output_elements(renderer, scene);
                let frame = $compositor
                    .render_frame(renderer, &elements, BACKGROUND, FrameFlags::DEFAULT)
                    .map_err(|e| anyhow::anyhow!("cannot render {}: {e}", output.name()))?;
                let rendered = !frame.is_empty;
                let states = frame.states;
                if rendered {
                    $before_flip(renderer);
                    $compositor
                        .queue_frame(())
                        .map_err(|e| anyhow::anyhow!("cannot flip {}: {e}", output.name()))?;
                }
                (rendered, states)
            }};
        }
        let (rendered, states) = match (&mut head.compositor, &mut gpu.renderer) {
            (
                Compositor::Gles(c),
                GpuRenderer::Gles {
                    renderer, software, ..
                },
            ) => {
                let software = *software;
                draw!(c, renderer.as_mut(), |r: &mut GlesRenderer| {
                    // Software GL (llvmpipe) signals no fence the display waits for: finish
                    // drawing before the flip, or the display shows half-drawn tiles.
                    if software {
                        // SAFETY: Finish takes no pointers; the context is current inside.
                        let _ = r.with_context(|gl| unsafe { gl.Finish() });
                    }
                })
            }
            (Compositor::Pixman(c), _) => draw!(c, &mut self.pixman, |_: &mut PixmanRenderer| {}),
            (Compositor::Gles(_), GpuRenderer::Pixman) => {
                anyhow::bail!("{}: GLES compositor without a GLES renderer", output.name())
            }
        };
        head.flip_pending |= rendered;
        Ok(Some((rendered, states)))
    }

    /// Connectors plugged or unplugged, input devices added or removed: set up what is new,
    /// drop what is gone.
    pub fn devices_changed(state: &mut State) {
        let loop_handle = state.loop_handle.clone();
        if let Backend::Drm(drm) = &mut state.backend {
            drm.scan_gpus(&loop_handle);
            drm.scan_input_devices();
        }
        scan_outputs(state);
    }

    /// Opens display devices that appeared, forgets those that are gone (with their
    /// displays).
    fn scan_gpus(&mut self, loop_handle: &LoopHandle<'static, State>) {
        let present = gpu_paths(&self.session.seat());
        for (index, slot) in self.gpus.iter_mut().enumerate() {
            if let Some(gpu) = slot
                && !present.contains(&gpu.path)
            {
                tracing::info!(device = %gpu.path.display(), "display device removed");
                self.heads.retain(|h| h.gpu != index);
                loop_handle.remove(gpu.token);
                *slot = None;
            }
        }
        for path in present {
            if self.gpus.iter().flatten().any(|g| g.path == path) {
                continue;
            }
            match open_gpu(
                &mut self.session,
                &path,
                self.gpus.len(),
                self.renderer_choice,
                loop_handle,
            ) {
                Ok(gpu) => {
                    tracing::info!(device = %path.display(), "display device added");
                    self.gpus.push(Some(gpu));
                }
                Err(err) => tracing::warn!(device = %path.display(), "not used: {err:#}"),
            }
        }
    }

    /// Adds the seat's input devices not in use yet and forgets those that are gone.
    fn scan_input_devices(&mut self) {
        let seat = self.session.seat();
        let mut present = Vec::new();
        match input_device_paths(&seat) {
            Ok(paths) => present = paths,
            Err(err) => tracing::warn!("cannot list input devices: {err}"),
        }
        self.input_devices.retain(|path, device| {
            let keep = present.contains(path);
            if !keep {
                tracing::info!(device = %path.display(), "input device removed");
                self.libinput.path_remove_device(device.clone());
            }
            keep
        });
        for path in present {
            if self.input_devices.contains_key(&path) {
                continue;
            }
            let Some(path_str) = path.to_str() else {
                continue;
            };
            match self.libinput.path_add_device(path_str) {
                Some(mut device) => {
                    configure_device(&mut device, &self.touchpad);
                    tracing::info!(device = %path.display(), name = device.name(), "input device added");
                    self.input_devices.insert(path, device);
                }
                None => tracing::debug!(device = %path.display(), "libinput does not use it"),
            }
        }
    }
}

/// The seat's KMS devices, the primary GPU first (`CLOISON_DRM_DEVICE=/dev/dri/cardN`
/// restricts the session to one).
fn gpu_paths(seat: &str) -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os("CLOISON_DRM_DEVICE") {
        return vec![PathBuf::from(path)];
    }
    let mut paths = smithay::backend::udev::all_gpus(seat).unwrap_or_default();
    if let Ok(Some(primary)) = smithay::backend::udev::primary_gpu(seat) {
        paths.retain(|p| *p != primary);
        paths.insert(0, primary);
    }
    paths
}

fn open_gpu(
    session: &mut LibSeatSession,
    path: &std::path::Path,
    index: usize,
    choice: RendererChoice,
    loop_handle: &LoopHandle<'static, State>,
) -> anyhow::Result<Gpu> {
    let fd = session
        .open(
            path,
            OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        )
        .context("the seat does not give access to it")?;
    let fd = DrmDeviceFd::new(DeviceFd::from(fd));
    let (drm, notifier) = DrmDevice::new(fd.clone(), true).context("not a usable KMS device")?;
    let token = loop_handle
        .insert_source(notifier, move |event, _, state| match event {
            DrmEvent::VBlank(crtc) => vblank(state, index, crtc),
            DrmEvent::Error(err) => tracing::error!("display device error: {err}"),
        })
        .map_err(|e| anyhow::anyhow!("cannot watch it: {e}"))?;
    let renderer = match choice {
        RendererChoice::Pixman => GpuRenderer::Pixman,
        RendererChoice::Auto | RendererChoice::Gles => {
            match gles(&fd, choice == RendererChoice::Gles) {
                Ok((renderer, gbm, name)) => {
                    let software = ["llvmpipe", "softpipe", "swrast"]
                        .iter()
                        .any(|s| name.contains(s));
                    if software && choice == RendererChoice::Auto {
                        tracing::info!(
                            device = %path.display(),
                            gl = name,
                            "GLES runs in software here: pixman on dumb buffers is cheaper"
                        );
                        GpuRenderer::Pixman
                    } else {
                        tracing::info!(device = %path.display(), gl = name, "rendering with GLES");
                        GpuRenderer::Gles {
                            renderer: Box::new(renderer),
                            gbm,
                            software,
                        }
                    }
                }
                Err(err) => {
                    tracing::info!(device = %path.display(), "no GLES ({err:#}): pixman on dumb buffers");
                    GpuRenderer::Pixman
                }
            }
        }
    };
    Ok(Gpu {
        path: path.to_path_buf(),
        fd,
        drm,
        renderer,
        token,
    })
}

/// GLES on the device's GBM: the renderer, the GBM device, the GL renderer's name. Fails
/// early when EGL says it renders in software, unless `even_in_software`.
fn gles(
    fd: &DrmDeviceFd,
    even_in_software: bool,
) -> anyhow::Result<(GlesRenderer, GbmDevice<DrmDeviceFd>, String)> {
    let gbm = GbmDevice::new(fd.clone()).context("GBM")?;
    // SAFETY: the GBM device lives as long as the display (both are kept with the GPU).
    let display = unsafe { EGLDisplay::new(gbm.clone()) }.context("EGL")?;
    // Asking EGL costs nothing; a GL context in software (LLVM) takes a while to start.
    let software_device = smithay::backend::egl::EGLDevice::device_for_display(&display)
        .is_ok_and(|d| d.is_software());
    if software_device && !even_in_software {
        anyhow::bail!("EGL renders in software here");
    }
    let context = EGLContext::new(&display).context("an EGL context")?;
    // SAFETY: the context is new and used by this renderer alone.
    let mut renderer = unsafe { GlesRenderer::new(context) }.context("the GLES renderer")?;
    let name = renderer
        .with_context(|gl| {
            // SAFETY: the context is current inside with_context; GetString returns a static,
            // NUL-terminated string or NULL.
            unsafe {
                let name = gl.GetString(smithay::backend::renderer::gles::ffi::RENDERER);
                if name.is_null() {
                    String::new()
                } else {
                    std::ffi::CStr::from_ptr(name.cast())
                        .to_string_lossy()
                        .into_owned()
                }
            }
        })
        .context("the GL renderer's name")?;
    Ok((renderer, gbm, name))
}

/// Sets up the displays once the state exists.
pub fn start(state: &mut State) {
    scan_outputs(state);
}

/// The seat's input event device nodes (`/dev/input/event*` whose `ID_SEAT` is the seat).
fn input_device_paths(seat: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut enumerator = smithay::reexports::udev::Enumerator::new()?;
    enumerator.match_subsystem("input")?;
    let mut paths = Vec::new();
    for device in enumerator.scan_devices()? {
        let Some(node) = device.devnode() else {
            continue;
        };
        if !device.sysname().to_string_lossy().starts_with("event") {
            continue;
        }
        let device_seat = device
            .property_value("ID_SEAT")
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "seat0".into());
        if device_seat == seat {
            paths.push(node.to_path_buf());
        }
    }
    paths.sort();
    Ok(paths)
}

fn configure_device(device: &mut libinput::Device, touchpad: &cloison_config::TouchpadConfig) {
    if device.config_tap_finger_count() > 0 {
        let _ = device.config_tap_set_enabled(touchpad.tap);
    }
    if device.config_scroll_has_natural_scroll() {
        let _ = device.config_scroll_set_natural_scroll_enabled(touchpad.natural_scroll);
    }
}

/// A connected connector found by a scan.
struct Found {
    gpu: usize,
    connector: connector::Handle,
    name: String,
    info: connector::Info,
}

/// Brings the displays in line with the connectors: new ones get a CRTC and an output,
/// unplugged ones lose theirs, and the layout is rebuilt.
fn scan_outputs(state: &mut State) {
    let configured = state.config.outputs.clone();
    let Backend::Drm(drm) = &mut state.backend else {
        return;
    };
    let mut found = Vec::new();
    for (index, gpu) in drm
        .gpus
        .iter()
        .enumerate()
        .filter_map(|(i, g)| Some((i, g.as_ref()?)))
    {
        match connected(index, &gpu.drm) {
            Ok(more) => found.extend(more),
            Err(err) => {
                tracing::error!(device = %gpu.path.display(), "cannot list its displays: {err:#}")
            }
        }
    }
    let enabled = |name: &str| {
        configured
            .iter()
            .find(|c| c.name == name)
            .is_none_or(|c| c.enabled)
    };
    // Gone (or disabled): drop the head; its CRTC becomes free.
    drm.heads.retain(|head| {
        let keep = found
            .iter()
            .any(|f| f.gpu == head.gpu && f.connector == head.connector && enabled(&f.name));
        if !keep {
            tracing::info!(output = head.output.name(), "display disconnected");
        }
        keep
    });
    for f in &found {
        if !enabled(&f.name)
            || drm
                .heads
                .iter()
                .any(|h| h.gpu == f.gpu && h.connector == f.connector)
        {
            continue;
        }
        let settings = configured.iter().find(|c| c.name == f.name);
        let wanted = settings.and_then(|c| c.mode);
        let scale = settings.map_or(1, |c| c.scale);
        match add_head(drm, f, wanted, scale) {
            Ok(head) => {
                let mode = either!(&head.compositor, c => c.pending_mode());
                tracing::info!(
                    output = f.name,
                    "display connected: {}x{}@{}",
                    mode.size().0,
                    mode.size().1,
                    mode.vrefresh()
                );
                drm.heads.push(head);
            }
            Err(err) => tracing::error!(output = f.name, "cannot use this display: {err:#}"),
        }
    }
    // Layout: configured positions, else left to right in connector order.
    let mut layout = Vec::new();
    let mut next_x = 0;
    for head in &drm.heads {
        let scale = head.output.current_scale().integer_scale().max(1);
        let size = head
            .output
            .current_mode()
            .map(|m| m.size.to_logical(scale))
            .unwrap_or_default();
        let position = configured
            .iter()
            .find(|c| c.name == head.output.name())
            .and_then(|c| c.position);
        let loc: Point<i32, Logical> = match position {
            Some((x, y)) => (x, y).into(),
            None => (next_x, 0).into(),
        };
        next_x = next_x.max(loc.x + size.w);
        layout.push((head.output.clone(), loc));
    }
    if layout.is_empty() {
        tracing::warn!("no display is connected");
        return;
    }
    state.set_outputs(layout);
}

/// Connected connectors, in the device's order.
fn connected(gpu: usize, drm: &DrmDevice) -> anyhow::Result<Vec<Found>> {
    let resources = drm
        .resource_handles()
        .context("cannot read the device's resources")?;
    let mut found = Vec::new();
    for handle in resources.connectors() {
        let info = drm
            .get_connector(*handle, true)
            .context("cannot read a connector")?;
        if info.state() != connector::State::Connected || info.modes().is_empty() {
            continue;
        }
        let name = format!("{}-{}", info.interface().as_str(), info.interface_id());
        found.push(Found {
            gpu,
            connector: *handle,
            name,
            info,
        });
    }
    Ok(found)
}

fn add_head(
    drm: &mut DrmBackend,
    found: &Found,
    wanted: Option<(u32, u32, Option<u32>)>,
    scale: u32,
) -> anyhow::Result<Head> {
    let gpu = drm.gpus[found.gpu]
        .as_mut()
        .context("the display device is gone")?;
    let resources = gpu.drm.resource_handles()?;
    let used: Vec<crtc::Handle> = drm
        .heads
        .iter()
        .filter(|h| h.gpu == found.gpu)
        .map(|h| h.crtc)
        .collect();
    let crtc = found
        .info
        .encoders()
        .iter()
        .filter_map(|e| gpu.drm.get_encoder(*e).ok())
        .flat_map(|e| resources.filter_crtcs(e.possible_crtcs()))
        .find(|c| !used.contains(c))
        .context("no free CRTC drives this connector")?;
    let modes = found.info.modes();
    let preferred = modes
        .iter()
        .find(|m| m.mode_type().contains(ModeTypeFlags::PREFERRED))
        .unwrap_or(&modes[0]);
    let mode = match wanted {
        None => *preferred,
        Some((w, h, hz)) => *modes
            .iter()
            .find(|m| {
                m.size() == (w as u16, h as u16) && hz.is_none_or(|hz| m.vrefresh() == hz)
            })
            .unwrap_or_else(|| {
                tracing::warn!(
                    output = found.name,
                    "the configured mode {w}x{h} is not offered by the display: using its preferred mode"
                );
                preferred
            }),
    };
    let surface = gpu
        .drm
        .create_surface(crtc, mode, &[found.connector])
        .context("cannot drive the connector")?;
    let (mm_w, mm_h) = found.info.size().unwrap_or((0, 0));
    let output = Output::new(
        found.name.clone(),
        PhysicalProperties {
            size: (mm_w as i32, mm_h as i32).into(),
            subpixel: Subpixel::Unknown,
            make: "Unknown".into(),
            model: found.name.clone(),
        },
    );
    let output_mode = OutputMode {
        size: (mode.size().0 as i32, mode.size().1 as i32).into(),
        refresh: mode.vrefresh() as i32 * 1000,
    };
    output.change_current_state(
        Some(output_mode),
        Some(Transform::Normal),
        Some(smithay::output::Scale::Integer(scale as i32)),
        None,
    );
    output.set_preferred(output_mode);
    let color_formats = [Fourcc::Xrgb8888, Fourcc::Argb8888];
    let cursor_size = gpu.drm.cursor_size();
    let compositor = match &gpu.renderer {
        GpuRenderer::Gles { renderer, gbm, .. } => Compositor::Gles(
            DrmCompositor::new(
                &output,
                surface,
                None,
                GbmAllocator::new(
                    gbm.clone(),
                    GbmBufferFlags::RENDERING | GbmBufferFlags::SCANOUT,
                ),
                GbmFramebufferExporter::new(gbm.clone(), None),
                color_formats,
                renderer.egl_context().dmabuf_render_formats().clone(),
                cursor_size,
                Some(gbm.clone()),
            )
            .map_err(|e| anyhow::anyhow!("cannot set up GLES rendering for the display: {e}"))?,
        ),
        GpuRenderer::Pixman => Compositor::Pixman(
            DrmCompositor::new(
                &output,
                surface,
                None,
                DumbAllocator::new(gpu.fd.clone()),
                gpu.fd.clone(),
                color_formats,
                Bind::<Dmabuf>::supported_formats(&drm.pixman).unwrap_or_default(),
                cursor_size,
                None::<GbmDevice<DrmDeviceFd>>,
            )
            .map_err(|e| anyhow::anyhow!("cannot set up rendering for the display: {e}"))?,
        ),
    };
    Ok(Head {
        gpu: found.gpu,
        connector: found.connector,
        crtc,
        output,
        compositor,
        flip_pending: false,
        redraw_wanted: false,
    })
}

/// A page flip completed on `crtc`.
fn vblank(state: &mut State, gpu: usize, crtc: crtc::Handle) {
    let Backend::Drm(drm) = &mut state.backend else {
        return;
    };
    let Some(head) = drm
        .heads
        .iter_mut()
        .find(|h| h.gpu == gpu && h.crtc == crtc)
    else {
        return;
    };
    if let Err(err) = either!(&mut head.compositor, c => c.frame_submitted().map(|_| ()).map_err(|e| e.to_string()))
    {
        tracing::warn!(output = head.output.name(), "page flip: {err}");
    }
    head.flip_pending = false;
    if !std::mem::replace(&mut drm.shown, true) {
        // CLOCK_MONOTONIC, comparable with the boot-relative times of other programs.
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| std::time::Duration::from(t).as_millis())
            .unwrap_or(0);
        tracing::info!(
            output = head.output.name(),
            monotonic_ms = now as u64,
            "first frame on screen"
        );
    }
    if std::mem::take(&mut head.redraw_wanted) {
        state.queue_redraw();
    }
}

fn session_event(state: &mut State, event: SessionEvent) {
    let Backend::Drm(drm) = &mut state.backend else {
        return;
    };
    match event {
        SessionEvent::PauseSession => {
            tracing::info!("session paused (another virtual terminal is in front)");
            drm.active = false;
            drm.libinput.suspend();
            for gpu in drm.gpus.iter_mut().flatten() {
                gpu.drm.pause();
            }
        }
        SessionEvent::ActivateSession => {
            tracing::info!("session active again");
            drm.active = true;
            if drm.libinput.resume().is_err() {
                tracing::warn!("cannot resume input devices");
            }
            for gpu in drm.gpus.iter_mut().flatten() {
                if let Err(err) = gpu.drm.activate(false) {
                    tracing::error!(device = %gpu.path.display(), "cannot take the display device back: {err}");
                }
            }
            for head in &mut drm.heads {
                head.flip_pending = false;
                head.redraw_wanted = false;
                // Another program may have changed the display: redraw all of it.
                if let Err(err) = either!(&mut head.compositor, c => c.reset_state()) {
                    tracing::warn!(
                        output = head.output.name(),
                        "cannot reset the display: {err}"
                    );
                }
                either!(&mut head.compositor, c => c.reset_buffers());
            }
            DrmBackend::devices_changed(state);
            state.queue_redraw();
        }
    }
}

fn input_event(state: &mut State, event: InputEvent<LibinputInputBackend>) {
    match event {
        InputEvent::DeviceAdded { .. } | InputEvent::DeviceRemoved { .. } => {}
        event => {
            let layout = state.layout_geometry();
            if let Some(input) = super::convert_input(layout, event) {
                state.handle_input(input);
            }
        }
    }
}
