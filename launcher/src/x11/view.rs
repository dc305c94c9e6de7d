//! How the bridge shows X windows on its Wayland connection: a view (surface and role) per
//! shown window, its buffers filled by the X server, and what happens when the compositor's
//! connection goes and comes back.

use super::*;

impl Bridge {
    /// Where a menu opens from: the window under the pointer (a submenu's parent menu), else
    /// the window with the keyboard, else the most recent window shown.
    pub(super) fn popup_parent(&self, xid: Xid) -> Option<Xid> {
        let shown = |id: &Xid| {
            *id != xid
                && self
                    .windows
                    .get(id)
                    .is_some_and(|w| w.view.as_ref().is_some_and(|v| v.configured))
        };
        self.pointer
            .map(|(p, _, _)| p)
            .filter(shown)
            .or(self.keyboard.filter(shown))
            .or_else(|| self.stacking.iter().rev().copied().find(|s| shown(s)))
    }

    pub(super) fn show(&mut self, xid: Xid) -> anyhow::Result<()> {
        let Some(w) = self.windows.get(&xid) else {
            return Ok(());
        };
        let g = w.geometry;
        let compositor = self.wl.compositor.as_ref().context("wl_compositor")?;
        let wm_base = self.wl.wm_base.as_ref().context("xdg_wm_base")?;
        let too_big = i32::from(g.width) * 10 > self.output.width * OVERRIDE_MAX_TENTHS
            || i32::from(g.height) * 10 > self.output.height * OVERRIDE_MAX_TENTHS;
        let parent = if w.override_redirect && !too_big {
            self.popup_parent(xid)
        } else {
            None
        };
        self.generation += 1;
        let id = ViewId {
            xid,
            generation: self.generation,
        };
        let surface = compositor.create_surface(&self.qh, id);
        let xdg = wm_base.get_xdg_surface(&surface, &self.qh, id);
        let role = match parent {
            Some(parent) => {
                let p = self.windows.get(&parent).context("parent")?;
                let positioner = wm_base.create_positioner(&self.qh, ());
                positioner.set_size(i32::from(g.width.max(1)), i32::from(g.height.max(1)));
                positioner.set_anchor_rect(
                    i32::from(g.x) - i32::from(p.geometry.x),
                    i32::from(g.y) - i32::from(p.geometry.y),
                    1,
                    1,
                );
                positioner.set_anchor(xdg_positioner::Anchor::TopLeft);
                positioner.set_gravity(xdg_positioner::Gravity::BottomRight);
                positioner.set_constraint_adjustment(
                    xdg_positioner::ConstraintAdjustment::SlideX
                        | xdg_positioner::ConstraintAdjustment::SlideY,
                );
                let parent_xdg = &p.view.as_ref().context("parent shown")?.xdg;
                let popup = xdg.get_popup(Some(parent_xdg), &positioner, &self.qh, id);
                positioner.destroy();
                Role::Popup { popup, parent }
            }
            None => {
                let toplevel = xdg.get_toplevel(&self.qh, id);
                let title = self.title(xid);
                toplevel.set_title(if title.is_empty() {
                    "X11 window".into()
                } else {
                    title
                });
                if let Some(class) = self.class(xid) {
                    toplevel.set_app_id(class);
                }
                if let Some(parent) = self.transient_for(xid)
                    && let Some(View {
                        role: Role::Toplevel(p),
                        ..
                    }) = self.windows.get(&parent).and_then(|w| w.view.as_ref())
                {
                    toplevel.set_parent(Some(p));
                }
                Role::Toplevel(toplevel)
            }
        };
        surface.commit();
        if let Some(w) = self.windows.get_mut(&xid) {
            w.view = Some(View {
                id,
                surface,
                xdg,
                role,
                configured: false,
                frame_pending: false,
                buffers: Vec::new(),
            });
        }
        Ok(())
    }

    /// Stops showing a window (and the menus opened from it, first).
    pub(super) fn hide(&mut self, xid: Xid) {
        let children: Vec<Xid> = self
            .windows
            .iter()
            .filter(|(_, w)| matches!(w.view, Some(View { role: Role::Popup { parent, .. }, .. }) if parent == xid))
            .map(|(id, _)| *id)
            .collect();
        for child in children {
            self.hide(child);
        }
        let Some(view) = self.windows.get_mut(&xid).and_then(|w| w.view.take()) else {
            return;
        };
        match view.role {
            Role::Toplevel(t) => t.destroy(),
            Role::Popup { popup, .. } => popup.destroy(),
        }
        view.xdg.destroy();
        view.surface.destroy();
        for b in view.buffers {
            self.release_buffer(b);
        }
    }

    pub(super) fn release_buffer(&mut self, b: Buffer) {
        b.buffer.destroy();
        if b.seg != 0 {
            let _ = self.x.shm_detach(b.seg);
        }
        self.buffer_bytes = self.buffer_bytes.saturating_sub(b.bytes());
    }

    /// Shows the new content of every window that changed and may draw.
    pub(super) fn show_dirty(&mut self) {
        let ready: Vec<Xid> = self
            .windows
            .iter()
            .filter(|(_, w)| {
                w.dirty
                    && w.mapped
                    && w.view
                        .as_ref()
                        .is_some_and(|v| v.configured && !v.frame_pending)
            })
            .map(|(id, _)| *id)
            .collect();
        for xid in ready {
            if let Err(e) = self.draw(xid) {
                tracing::debug!("drawing X window {xid:#x}: {e}");
            }
        }
    }

    pub(super) fn draw(&mut self, xid: Xid) -> anyhow::Result<()> {
        let w = self.windows.get_mut(&xid).context("window")?;
        w.dirty = false;
        // Never larger than the X screen (twice the largest output): input reaches no
        // further, and the compositor would clip it anyway.
        let max =
            |limit: i32| u16::try_from(limit.clamp(1, i32::from(MAX_EXTENT))).unwrap_or(MAX_EXTENT);
        let (width, height) = (
            w.geometry.width.clamp(1, max(self.screen.0)),
            w.geometry.height.clamp(1, max(self.screen.1)),
        );
        let size = (i32::from(width), i32::from(height));
        let argb = w.argb;
        let view = w.view.as_mut().context("view")?;
        // Buffers of another size go once the compositor has let go of them.
        let (stale, kept): (Vec<Buffer>, Vec<Buffer>) = std::mem::take(&mut view.buffers)
            .into_iter()
            .partition(|b| (b.width, b.height) != size && !b.busy.load(Ordering::Relaxed));
        view.buffers = kept;
        let free = view
            .buffers
            .iter()
            .position(|b| !b.busy.load(Ordering::Relaxed) && (b.width, b.height) == size);
        let count = view.buffers.len();
        for b in stale {
            self.release_buffer(b);
        }
        let index = match free {
            Some(i) => i,
            None if count < BUFFERS_PER_WINDOW => {
                let bytes = usize::from(width) * usize::from(height) * 4;
                if self.buffer_bytes + bytes > MAX_BUFFER_BYTES {
                    // The level's X windows hold all the memory the bridge allows itself: this
                    // one waits until others shrink or go.
                    self.windows.get_mut(&xid).context("window")?.dirty = true;
                    return Ok(());
                }
                let mut b = Buffer::new(&self.wl, &self.qh, size.0, size.1, argb)?;
                let attached = (|| -> anyhow::Result<u32> {
                    let seg = self.x.generate_id()?;
                    self.x
                        .shm_attach_fd(seg, b.memfd.try_clone()?, false)?
                        .check()?;
                    Ok(seg)
                })();
                match attached {
                    Ok(seg) => b.seg = seg,
                    Err(e) => {
                        b.buffer.destroy();
                        return Err(e);
                    }
                }
                self.buffer_bytes += bytes;
                let view = self
                    .windows
                    .get_mut(&xid)
                    .and_then(|w| w.view.as_mut())
                    .context("view")?;
                view.buffers.push(b);
                view.buffers.len() - 1
            }
            None => {
                // Every buffer is still read by the compositor: try again at the next frame.
                self.windows.get_mut(&xid).context("window")?.dirty = true;
                return Ok(());
            }
        };
        let view = self
            .windows
            .get_mut(&xid)
            .and_then(|w| w.view.as_mut())
            .context("view")?;
        let buffer = &view.buffers[index];
        // The window's own pixels (its composite pixmap: complete even where other windows
        // or the screen's edge hide it on the X screen).
        let pixmap = self.x.generate_id()?;
        self.x.composite_name_window_pixmap(xid, pixmap)?;
        let got = self
            .x
            .shm_get_image(
                pixmap,
                0,
                0,
                width,
                height,
                !0,
                xproto::ImageFormat::Z_PIXMAP.into(),
                buffer.seg,
                0,
            )?
            .reply();
        self.x.free_pixmap(pixmap)?;
        got?;
        buffer.busy.store(true, Ordering::Relaxed);
        view.surface.attach(Some(&buffer.buffer), 0, 0);
        view.surface.damage_buffer(0, 0, size.0, size.1);
        view.surface.frame(&self.qh, view.id);
        view.surface.commit();
        view.frame_pending = true;
        Ok(())
    }

    /// The window an event is about, if the event is about its current showing.
    pub(super) fn current(&self, view: ViewId) -> Option<Xid> {
        self.windows
            .get(&view.xid)
            .and_then(|w| w.view.as_ref())
            .filter(|v| v.id == view)
            .map(|_| view.xid)
    }

    /// The compositor's connection is gone: every view with it (nothing can be sent there).
    pub(super) fn forget_wayland(&mut self) {
        let mut buffers = Vec::new();
        let mut menus = false;
        self.reshow.clear();
        for (xid, w) in self.windows.iter_mut() {
            if let Some(view) = w.view.take() {
                buffers.extend(view.buffers);
                match view.role {
                    Role::Toplevel(_) => self.reshow.push(*xid),
                    Role::Popup { .. } => menus = true,
                }
            }
            w.dirty = true;
        }
        // Windows shown again in the order they were mapped.
        let order = &self.stacking;
        self.reshow
            .sort_by_key(|x| order.iter().position(|s| s == x).unwrap_or(usize::MAX));
        if menus {
            // Open menus hold X's pointer and keyboard grabs; nobody can see them now.
            self.escape();
        }
        for b in buffers {
            if b.seg != 0 {
                let _ = self.x.shm_detach(b.seg);
            }
        }
        self.buffer_bytes = 0;
        self.pointer = None;
        self.keyboard = None;
        for key in std::mem::take(&mut self.keys_down) {
            let _ = self.fake(3, key);
        }
        for button in std::mem::take(&mut self.buttons_down) {
            let _ = self.fake(5, button);
        }
        self.sel.forget_wayland();
        let _ = self.give_up_x_selections();
        let _ = self.x.flush();
    }

    /// Escape pressed and released in X: closes the menu that holds X's grabs.
    pub(super) fn escape(&mut self) {
        // X keycode 9: evdev's KEY_ESC (1) + 8.
        let _ = self.fake(2, 9);
        let _ = self.fake(3, 9);
    }

    /// A new connection to the compositor: every mapped window is shown again, in the order
    /// it was mapped (menus after the windows they belong to).
    pub(super) fn attach_wayland(
        &mut self,
        wl: WlState,
        qh: QueueHandle<WlState>,
        conn: Connection,
    ) {
        self.output = wl.largest_output();
        self.wl = wl;
        self.qh = qh;
        self.wl_conn = conn;
        // The windows that were shown (not the menus: they were closed), as they were.
        for xid in std::mem::take(&mut self.reshow) {
            if self.windows.get(&xid).is_some_and(|w| w.mapped)
                && let Err(e) = self.show(xid)
            {
                tracing::debug!("showing X window {xid:#x} again: {e}");
            }
        }
        self.offer_pending();
    }
}
