//! What the compositor tells the bridge about its windows (configures, closes, frames) and
//! the input it gives them, replayed into the X server with XTEST.

use super::*;

impl Bridge {
    pub(super) fn wl_event(&mut self, event: WlEvent) -> anyhow::Result<()> {
        match event {
            WlEvent::Configured { view } => {
                let Some(xid) = self.current(view) else {
                    return Ok(());
                };
                if let Some(w) = self.windows.get_mut(&xid) {
                    w.dirty = true;
                    if let Some(v) = w.view.as_mut() {
                        v.configured = true;
                    }
                }
            }
            WlEvent::Configure {
                view,
                width,
                height,
            } => {
                let Some(xid) = self.current(view) else {
                    return Ok(());
                };
                if width > 0 && height > 0 {
                    let w = u32::try_from(width.min(self.screen.0))?;
                    let h = u32::try_from(height.min(self.screen.1))?;
                    self.x
                        .configure_window(xid, &ConfigureWindowAux::new().width(w).height(h))?;
                }
            }
            WlEvent::Close { view } => {
                let Some(xid) = self.current(view) else {
                    return Ok(());
                };
                if self.protocols(xid).contains(&self.atoms.WM_DELETE_WINDOW) {
                    self.send_protocol(xid, self.atoms.WM_DELETE_WINDOW)?;
                } else {
                    self.x.kill_client(xid)?;
                }
            }
            WlEvent::PopupDone { view } => {
                let Some(xid) = self.current(view) else {
                    return Ok(());
                };
                // The compositor dismissed it (a click elsewhere, perhaps in another app X
                // never hears of): X's menu is closed too, else its grabs would take the
                // keys typed next, unseen.
                self.hide(xid);
                self.escape();
            }
            WlEvent::FrameDone { view } => {
                let Some(xid) = self.current(view) else {
                    return Ok(());
                };
                if let Some(v) = self.windows.get_mut(&xid).and_then(|w| w.view.as_mut()) {
                    v.frame_pending = false;
                }
            }
            WlEvent::PointerEnter { view, x, y } => {
                let Some(xid) = self.current(view) else {
                    return Ok(());
                };
                // The window the user points at is the one X must deliver to: on top of the
                // X screen's stack.
                self.x.configure_window(
                    xid,
                    &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE),
                )?;
                self.pointer = Some((xid, 0, 0));
                self.motion(x, y)?;
            }
            WlEvent::PointerLeave => self.pointer = None,
            WlEvent::Motion { x, y } => self.motion(x, y)?,
            WlEvent::Button { button, pressed } => {
                let Some(b) = x_button(button) else {
                    return Ok(());
                };
                // A press only over a window shown now (a release always: X must not keep a
                // button held).
                if pressed && self.pointer.is_none() {
                    return Ok(());
                }
                if pressed == self.buttons_down.contains(&b) {
                    return Ok(());
                }
                self.fake(if pressed { 4 } else { 5 }, b)?;
                if pressed {
                    self.buttons_down.push(b);
                } else {
                    self.buttons_down.retain(|d| *d != b);
                }
            }
            WlEvent::Scroll { .. } if self.pointer.is_none() => {}
            WlEvent::Scroll { vertical, steps } => {
                let b = match (vertical, steps > 0) {
                    (true, false) => 4,
                    (true, true) => 5,
                    (false, false) => 6,
                    (false, true) => 7,
                };
                for _ in 0..steps.unsigned_abs().min(10) {
                    self.fake(4, b)?;
                    self.fake(5, b)?;
                }
            }
            WlEvent::KeyboardEnter { view } => {
                let Some(xid) = self.current(view) else {
                    return Ok(());
                };
                self.keyboard = Some(xid);
                self.x.configure_window(
                    xid,
                    &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE),
                )?;
                self.x
                    .set_input_focus(InputFocus::POINTER_ROOT, xid, x11rb::CURRENT_TIME)?;
                if self.protocols(xid).contains(&self.atoms.WM_TAKE_FOCUS) {
                    self.send_protocol(xid, self.atoms.WM_TAKE_FOCUS)?;
                }
                // What an X client copied while no X window had the keyboard.
                self.offer_pending();
            }
            WlEvent::Keymap(text) => self.keymap(text),
            WlEvent::Selection { kind, offer } => self.wl_selection(kind, offer)?,
            WlEvent::Send { kind, mime, fd } => self.wl_send(kind, &mime, fd)?,
            WlEvent::Cancelled { kind } => self.wl_cancelled(kind),
            WlEvent::KeyboardLeave => {
                self.keyboard = None;
                for key in std::mem::take(&mut self.keys_down) {
                    self.fake(3, key)?;
                }
                self.x.set_input_focus(
                    InputFocus::POINTER_ROOT,
                    x11rb::NONE,
                    x11rb::CURRENT_TIME,
                )?;
            }
            WlEvent::Key { code, pressed } => {
                // X keycodes are evdev's plus 8 (the X server's default "evdev" keymap).
                let Some(key) = code
                    .checked_add(8)
                    .and_then(|k| u8::try_from(k).ok())
                    .filter(|_| self.keyboard.is_some())
                else {
                    return Ok(());
                };
                if pressed {
                    if !self.keys_down.contains(&key) {
                        self.keys_down.push(key);
                    }
                } else {
                    self.keys_down.retain(|k| *k != key);
                }
                self.fake(if pressed { 2 } else { 3 }, key)?;
            }
        }
        Ok(())
    }

    /// The level's keymap, loaded into the X server (`xkbcomp`, on a thread): X clients see the
    /// keys the level's seat sends with the layout the user chose, not X's default.
    pub(super) fn keymap(&mut self, text: String) {
        if self.keymap.as_deref() == Some(text.as_str()) {
            return;
        }
        self.keymap = Some(text.clone());
        let display = format!(":{}", self.display);
        let _ = std::thread::Builder::new()
            .name("x11-keymap".into())
            .spawn(move || {
                use std::io::Write as _;
                let child = std::process::Command::new("xkbcomp")
                    .args(["-w", "0", "-", &display])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn();
                let Ok(mut child) = child else {
                    say("cannot run xkbcomp: X keeps its default keyboard layout");
                    return;
                };
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = stdin.write_all(text.as_bytes());
                }
                match child.wait_with_output() {
                    Ok(out) if out.status.success() => {}
                    Ok(out) => {
                        let why = String::from_utf8_lossy(&out.stderr);
                        let why = why.lines().filter(|l| !l.trim().is_empty()).take(6).collect::<Vec<_>>().join(" | ");
                        say(&format!(
                            "xkbcomp refused the level's keymap ({}): X keeps its default keyboard layout",
                            why.chars().take(600).collect::<String>()
                        ));
                    }
                    Err(e) => say(&format!("xkbcomp: {e}")),
                }
            });
    }

    /// The pointer at (`x`, `y`) of the entered surface: at that window's place on the X screen.
    pub(super) fn motion(&mut self, x: f64, y: f64) -> anyhow::Result<()> {
        let Some((xid, _, _)) = self.pointer else {
            return Ok(());
        };
        let Some(w) = self.windows.get(&xid) else {
            return Ok(());
        };
        let rx = (f64::from(w.geometry.x) + x.floor()).clamp(-32768.0, 32767.0) as i16;
        let ry = (f64::from(w.geometry.y) + y.floor()).clamp(-32768.0, 32767.0) as i16;
        self.pointer = Some((xid, rx, ry));
        self.x.xtest_fake_input(6, 0, 0, self.root, rx, ry, 0)?;
        Ok(())
    }

    /// One XTEST event (2/3 key press/release, 4/5 button press/release).
    pub(super) fn fake(&self, kind: u8, detail: u8) -> anyhow::Result<()> {
        self.x
            .xtest_fake_input(kind, detail, 0, self.root, 0, 0, 0)?;
        Ok(())
    }

    pub(super) fn send_protocol(&self, xid: Xid, protocol: u32) -> anyhow::Result<()> {
        let event = ClientMessageEvent::new(
            32,
            xid,
            self.atoms.WM_PROTOCOLS,
            [protocol, x11rb::CURRENT_TIME, 0, 0, 0],
        );
        self.x.send_event(false, xid, EventMask::NO_EVENT, event)?;
        Ok(())
    }
}

/// evdev's button codes as X's buttons.
fn x_button(code: u32) -> Option<u8> {
    Some(match code {
        0x110 => 1, // BTN_LEFT
        0x112 => 2, // BTN_MIDDLE
        0x111 => 3, // BTN_RIGHT
        0x113 => 8, // BTN_SIDE
        0x114 => 9, // BTN_EXTRA
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_buttons_map_to_x_buttons() {
        assert_eq!(x_button(0x110), Some(1));
        assert_eq!(x_button(0x111), Some(3));
        assert_eq!(x_button(0x112), Some(2));
        assert_eq!(x_button(0x999), None);
    }
}
