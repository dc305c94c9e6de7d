//! The trusted control socket `$XDG_RUNTIME_DIR/cloison/ctl.sock` (mode 0600, in the 0700
//! session directory, never bind-mounted into a cage). The protocol is defined in
//! `cloison-ipc`; this module serves it.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use cloison_ipc::{
    InputEvent, LevelStatus, OutputStatus, PROTOCOL_VERSION, Rect, Reply, Request, Response,
    Screenshot, Status, WindowStatus,
};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction};
use smithay::utils::Point;
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::XdgToplevelSurfaceData;

use crate::input::Input;
use crate::state::{State, window_info};

/// Longest request line accepted.
const MAX_REQUEST: usize = 1 << 20;

/// Binds the control socket and serves it from the event loop.
pub fn listen(state: &mut State, path: &Path) -> anyhow::Result<()> {
    // A socket left by a session that crashed: the level sockets' lock files (taken before
    // this) guarantee no live session owns it.
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    serve_listener(state, listener)?;
    tracing::info!(socket = %path.display(), "control socket ready");
    Ok(())
}

/// Serves a control socket the launcher created and handed over (its path is the launcher's
/// business; in a cage the compositor could not even name it).
pub fn serve_listener(state: &mut State, listener: UnixListener) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let mut spare = cloison_ipc::listener::Spare::new();
    state
        .loop_handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            move |_, listener, state| {
                spare.accept_all(
                    || cloison_ipc::listener::accept_waiting(listener),
                    |stream| {
                        if let Err(err) = serve(state, stream) {
                            tracing::warn!("control connection refused: {err:#}");
                        }
                    },
                );
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot watch the control socket: {e}"))?;
    Ok(())
}

fn serve(state: &mut State, stream: UnixStream) -> anyhow::Result<()> {
    // Reads only happen when the loop says data is there; writes block for at most 5 s, so a
    // client that stops reading cannot stall the compositor for long.
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut pending: Vec<u8> = Vec::new();
    state
        .loop_handle
        .insert_source(
            Generic::new(stream, Interest::READ, Mode::Level),
            move |_, stream, state| {
                let mut chunk = [0u8; 16 * 1024];
                let mut stream: &UnixStream = stream;
                let n = match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return Ok(PostAction::Remove),
                    Ok(n) => n,
                };
                pending.extend_from_slice(&chunk[..n]);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let response = match serde_json::from_slice::<Request>(&line[..line.len() - 1])
                    {
                        Ok(request) => state.handle_request(request),
                        Err(err) => Response::Error(format!("bad request: {err}")),
                    };
                    let mut out = match serde_json::to_vec(&response) {
                        Ok(out) => out,
                        Err(err) => {
                            format!("{{\"error\":\"cannot encode reply: {err}\"}}").into_bytes()
                        }
                    };
                    out.push(b'\n');
                    if stream.write_all(&out).is_err() {
                        return Ok(PostAction::Remove);
                    }
                }
                if pending.len() > MAX_REQUEST {
                    let _ = stream.write_all(b"{\"error\":\"request too long\"}\n");
                    return Ok(PostAction::Remove);
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot watch a control connection: {e}"))?;
    Ok(())
}

impl State {
    /// Answers one control request.
    pub fn handle_request(&mut self, request: Request) -> Response {
        match request {
            Request::Status => Response::Ok(Reply::Status(self.status())),
            Request::Lock if !self.launcher.connected() => Response::Error(
                "not locking: no launcher runs to check a password (start the session with cloison run)"
                    .into(),
            ),
            Request::Lock => {
                self.lock_screen("ctl");
                Response::Ok(Reply::Done)
            }
            Request::Screenshot => match self.screenshot() {
                Ok(shot) => Response::Ok(Reply::Screenshot(shot)),
                Err(err) => Response::Error(format!("screenshot failed: {err:#}")),
            },
            Request::Input { event } => match self.inject(event) {
                Ok(()) => Response::Ok(Reply::Done),
                Err(err) => Response::Error(err),
            },
            Request::Quit => {
                tracing::info!("quit requested on the control socket");
                self.stop();
                Response::Ok(Reply::Done)
            }
            Request::Spawn { .. }
            | Request::RestartLevel { .. }
            | Request::CancelTransfer { .. } => Response::Error(
                "levels' cages are the launcher's: send this to the session's control socket (cloison run)"
                    .into(),
            ),
        }
    }

    /// The status reply.
    pub fn status(&self) -> Status {
        let size = self.output_geometry().size;
        let focused = self.wm.focused.clone();
        let levels = self
            .levels
            .iter()
            .map(|l| LevelStatus {
                name: l.name.to_string(),
                label: l.label.clone(),
                color: l.color.to_string(),
                socket: l.socket_path.clone(),
                clients: l.client_count(),
                network: l.network.as_ref().map(|(text, _)| text.clone()),
                keyboard_layout: l.layouts.get(l.layout).cloned().unwrap_or_default(),
                cage: None,
            })
            .collect();
        let windows = self
            .space
            .elements()
            .filter_map(|window| {
                let info = window_info(window)?;
                let toplevel = window.toplevel()?;
                let loc = self.space.element_location(window)?;
                let size = crate::shell::window_geometry(window).size;
                let (app_id, title) = with_states(toplevel.wl_surface(), |states| {
                    states
                        .data_map
                        .get::<XdgToplevelSurfaceData>()
                        .and_then(|d| d.lock().ok())
                        .map(|d| (d.app_id.clone().unwrap_or_default(), d.title.clone().unwrap_or_default()))
                        .unwrap_or_default()
                });
                let current = toplevel.current_state();
                use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State as S;
                Some(WindowStatus {
                    id: info.id,
                    level: self.level(info.level).name.to_string(),
                    app_id,
                    title,
                    geometry: Rect {
                        x: loc.x,
                        y: loc.y,
                        width: size.w,
                        height: size.h,
                    },
                    focused: focused.as_ref() == Some(window),
                    maximized: current.states.contains(S::Maximized),
                    fullscreen: current.states.contains(S::Fullscreen),
                })
            })
            .collect();
        Status {
            protocol: PROTOCOL_VERSION,
            output: OutputStatus {
                backend: self.backend.name().to_string(),
                width: size.w,
                height: size.h,
                displays: self
                    .output_geometries()
                    .map(|(output, g)| cloison_ipc::DisplayStatus {
                        name: output.name(),
                        x: g.loc.x,
                        y: g.loc.y,
                        width: g.size.w,
                        height: g.size.h,
                        refresh: output.current_mode().map_or(0, |m| m.refresh),
                        renderer: self.backend.renderer_of(output).into(),
                    })
                    .collect(),
            },
            focused_level: self.focused_level().map(|l| self.level(l).name.to_string()),
            levels,
            windows,
            transfer: self
                .ui
                .bar
                .transfer
                .as_ref()
                .map(|(id, text)| cloison_ipc::TransferStatus {
                    id: *id,
                    text: text.clone(),
                }),
            locked: self.ui.lock.locked,
            notifications: Box::new(self.notifications_status()),
            pointer: cloison_ipc::PointerStatus {
                x: self.input.pointer.x,
                y: self.input.pointer.y,
                held_by: self
                    .input
                    .constrained
                    .as_ref()
                    .map(|(level, _)| self.levels[level.0].name.to_string()),
            },
        }
    }

    /// The stack as the user sees it now.
    fn notifications_status(&self) -> cloison_ipc::NotificationsStatus {
        let stack = &self.ui.notifications;
        let content = self.notification_content();
        let primary = self.output_geometry();
        let area = stack.geometry(&content, primary.size);
        let mut y = primary.loc.y + area.loc.y;
        let mut shown = Vec::new();
        if self.notifications_on_screen() {
            for (card, _) in &content.cards {
                let h = card.height();
                let mut actions: Vec<String> =
                    card.buttons.iter().map(|(k, _)| k.clone()).collect();
                if card.default_action {
                    actions.insert(0, "default".into());
                }
                shown.push(cloison_ipc::NotificationStatus {
                    id: card.id,
                    level: self.levels[card.level].name.to_string(),
                    app: card.app.clone(),
                    summary: card.summary.clone(),
                    body: card.body.clone(),
                    actions,
                    critical: card.critical,
                    geometry: cloison_ipc::Rect {
                        x: primary.loc.x + area.loc.x,
                        y,
                        width: area.size.w,
                        height: h,
                    },
                });
                y += h + crate::ui::notifications::GAP;
            }
        }
        cloison_ipc::NotificationsStatus {
            shown,
            held: stack.cards.len(),
            counts: if self.notifications_on_screen() {
                content
                    .counts
                    .iter()
                    .map(|(_, text)| text.clone())
                    .collect()
            } else {
                Vec::new()
            },
            quiet: stack.quiet,
        }
    }

    fn screenshot(&mut self) -> anyhow::Result<Screenshot> {
        let capture = crate::backend::capture(self)?;
        let png = encode_png(capture.width, capture.height, &capture.rgba)?;
        Ok(Screenshot {
            width: capture.width,
            height: capture.height,
            png_base64: base64::engine::general_purpose::STANDARD.encode(png),
        })
    }

    /// Injects input as if from real devices. Nothing is injected if the request is invalid.
    pub fn inject(&mut self, event: InputEvent) -> Result<(), String> {
        let time = self.now_ms();
        let mut events = Vec::new();
        let stroke = |events: &mut Vec<Input>, keys: &[u32]| {
            for &keycode in keys {
                events.push(Input::Key {
                    keycode,
                    pressed: true,
                    time,
                });
            }
            for &keycode in keys.iter().rev() {
                events.push(Input::Key {
                    keycode,
                    pressed: false,
                    time,
                });
            }
        };
        match event {
            InputEvent::Key { chord } => {
                let keys = crate::keys::parse_chord(&self.input.keymap, &chord)?;
                stroke(&mut events, &keys);
            }
            InputEvent::Type { text } => {
                // Text is typed on the layout the focused level uses now (a level without the
                // keyboard gets nothing anyway); keys of a chord are the session keymap's.
                let strokes = match self.focused_level() {
                    Some(level) => {
                        let level = &self.levels[level.0];
                        crate::keys::text_strokes(&level.keymap, level.layout as u32, &text)?
                    }
                    None => crate::keys::text_strokes(&self.input.keymap, 0, &text)?,
                };
                for keys in strokes {
                    stroke(&mut events, &keys);
                }
            }
            InputEvent::PointerMove { x, y } => {
                if !x.is_finite() || !y.is_finite() {
                    return Err("pointer coordinates must be finite numbers".into());
                }
                events.push(Input::PointerMotion {
                    pos: Point::from((x, y)),
                    time,
                });
            }
            InputEvent::PointerMoveBy { dx, dy } => {
                if !dx.is_finite() || !dy.is_finite() || dx.abs() > 1e5 || dy.abs() > 1e5 {
                    return Err("relative motion must be finite numbers of at most 100000".into());
                }
                events.push(Input::PointerMotionRelative {
                    delta: Point::from((dx, dy)),
                    unaccelerated: Point::from((dx, dy)),
                    utime: u64::from(time) * 1000,
                });
            }
            InputEvent::Click { button } => {
                for pressed in [true, false] {
                    events.push(Input::PointerButton {
                        button: button.code(),
                        pressed,
                        time,
                    });
                }
            }
            InputEvent::Button { button, pressed } => events.push(Input::PointerButton {
                button: button.code(),
                pressed,
                time,
            }),
        }
        for input in events {
            self.handle_input(input);
        }
        Ok(())
    }
}

/// Encodes RGBA8 pixels as PNG.
pub fn encode_png(width: u32, height: u32, rgba: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgba)?;
    }
    Ok(out)
}
