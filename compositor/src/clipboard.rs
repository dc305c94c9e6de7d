//! The compositor's half of the cross-level clipboard. Each level's own clipboard and primary
//! selection live on its own seat and never meet (smithay keeps selections per seat). Only two
//! trusted gestures move data across, and only through the launcher, which holds the global
//! clipboard and the flow policy:
//!
//! * **Copy** (`copy_to_global`, Ctrl+Shift+C): the focused level's selection (the clipboard,
//!   else the primary selection) is read from its owner in the best allowed type, through a
//!   pipe, into a fresh sealed memory file — at most the level's cap, within the timeout — and
//!   handed to the launcher with the gesture's id. A newer copy cancels an older one (its pipe
//!   closes: a late writer gets nothing in), a silent source is cut off at the timeout, an
//!   oversized one is refused; each failure is reported for the audit log.
//! * **Paste** (`paste_from_global`, Ctrl+Shift+V): the launcher is asked; if the policy says
//!   `confirm`, the trusted dialog (`ui/dialog.rs`) asks the user first; an allowed paste comes
//!   back as a sealed memory file, and the compositor becomes the owner of the target level's
//!   clipboard and primary selection, serving that content (from a thread per read, so a client
//!   that does not read cannot stall anything) to whichever of the level's clients asks.

use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::memfd::{MemFdCreateFlag, memfd_create};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction, RegistrationToken};
use smithay::wayland::selection::SelectionTarget;
use smithay::wayland::selection::data_device::{
    request_data_device_client_selection, set_data_device_selection,
};
use smithay::wayland::selection::primary_selection::{
    request_primary_client_selection, set_primary_selection,
};

use cloison_ipc::session::{DialogId, PNG, TEXT_TYPES, ToLauncher};

use crate::state::{LevelId, State};

/// Pipe buffer asked for on clipboard transfers.
const PIPE_SIZE: i32 = 1 << 20;
/// How long a client may stay silent while reading a pasted content before it is cut off.
const SERVE_IDLE: Duration = Duration::from_secs(10);

/// A copy in progress.
struct CopyOp {
    op: u64,
    level: LevelId,
    mime: String,
    cap: u64,
    data: std::fs::File,
    read: u64,
    source: RegistrationToken,
    timer: RegistrationToken,
    started: Instant,
}

/// Content the compositor serves as a level's selection.
struct Served {
    op: u64,
    data: Arc<OwnedFd>,
    size: u64,
}

/// The clipboard's state.
#[derive(Default)]
pub struct Clipboard {
    next_op: u64,
    copy: Option<CopyOp>,
    /// The paste waiting for the launcher: (op, target level, window id focused at the chord).
    pub pending_paste: Option<(u64, LevelId, Option<u64>)>,
    served: HashMap<usize, Served>,
    /// What each level's clipboard owner offers (MIME types), by level index.
    clipboard_types: HashMap<usize, Vec<String>>,
    /// What each level's primary selection owner offers.
    primary_types: HashMap<usize, Vec<String>>,
}

impl Clipboard {
    fn next(&mut self) -> u64 {
        self.next_op += 1;
        self.next_op
    }

    /// Whether a copy is being read (tests).
    pub fn copying(&self) -> bool {
        self.copy.is_some()
    }

    /// The content a level is being served, if any: (op, size).
    pub fn served(&self, level: LevelId) -> Option<(u64, u64)> {
        self.served.get(&level.0).map(|s| (s.op, s.size))
    }
}

/// Picks the type to read from a source offering `types`.
pub fn pick_type(types: &[String], images: bool) -> Option<String> {
    TEXT_TYPES
        .iter()
        .find(|t| types.iter().any(|o| o == *t))
        .map(|t| t.to_string())
        .or_else(|| (images && types.iter().any(|t| t == PNG)).then(|| PNG.to_string()))
}

impl State {
    /// A client of `level` set (or cleared) its selection.
    pub fn selection_changed(
        &mut self,
        level: LevelId,
        ty: SelectionTarget,
        types: Option<Vec<String>>,
    ) {
        let map = match ty {
            SelectionTarget::Clipboard => &mut self.clipboard.clipboard_types,
            SelectionTarget::Primary => &mut self.clipboard.primary_types,
        };
        match types {
            Some(types) => {
                map.insert(level.0, types);
            }
            None => {
                map.remove(&level.0);
            }
        }
    }

    /// Copy: reads the focused level's selection for the launcher.
    pub fn copy_to_global(&mut self) {
        let Some(level) = self.focused_level() else {
            self.ui
                .bar
                .notify("Nothing to copy: no window has the keyboard".into());
            return;
        };
        let op = self.clipboard.next();
        self.cancel_copy();
        let name = self.level(level).name.to_string();
        let label = self.level(level).label.clone();
        let images = self.config.clipboard_images_from(&name);
        let cap = self.config.clipboard_cap_from(&name);
        // The clipboard, else the primary selection (a terminal's selected text).
        let choice = [SelectionTarget::Clipboard, SelectionTarget::Primary]
            .into_iter()
            .find_map(|ty| {
                let types = match ty {
                    SelectionTarget::Clipboard => self.clipboard.clipboard_types.get(&level.0),
                    SelectionTarget::Primary => self.clipboard.primary_types.get(&level.0),
                }?;
                pick_type(types, images).map(|mime| (ty, mime))
            });
        let Some((ty, mime)) = choice else {
            self.ui.bar.notify(format!(
                "Nothing to copy: {label}'s clipboard holds no text{}",
                if images { " or PNG image" } else { "" }
            ));
            self.ui_changed();
            return;
        };
        if let Err(err) = self.start_copy(op, level, ty, mime.clone(), cap) {
            tracing::warn!(level = %name, "copy failed: {err:#}");
            self.ui.bar.notify(format!("Could not copy from {label}"));
            self.launcher.send(ToLauncher::CopyFailed {
                op,
                level: name,
                reason: "error".into(),
                mime: Some(mime),
                size: 0,
            });
            self.ui_changed();
        }
    }

    fn start_copy(
        &mut self,
        op: u64,
        level: LevelId,
        ty: SelectionTarget,
        mime: String,
        cap: u64,
    ) -> anyhow::Result<()> {
        // Only our end is non-blocking: the source writes as it would into any pipe.
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&read),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )?;
        // A larger pipe: fewer wake-ups for large contents (best effort).
        let _ = nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&read),
            nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_SIZE),
        );
        let seat = self.levels[level.0].seat.clone();
        match ty {
            SelectionTarget::Clipboard => {
                request_data_device_client_selection(&seat, mime.clone(), write)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
            SelectionTarget::Primary => {
                request_primary_client_selection(&seat, mime.clone(), write)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
        }
        let data = std::fs::File::from(memfd_create(
            c"cloison-copy",
            MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
        )?);
        let source = self
            .loop_handle
            .insert_source(
                Generic::new(std::fs::File::from(read), Interest::READ, Mode::Level),
                move |_, pipe, state| {
                    let mut pipe: &std::fs::File = pipe;
                    Ok(state.copy_readable(op, &mut pipe))
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        timer.set(
            Expiration::OneShot(TimeSpec::from_duration(Duration::from_millis(
                self.config.clipboard.timeout_ms,
            ))),
            TimerSetTimeFlags::empty(),
        )?;
        let timer = self
            .loop_handle
            .insert_source(
                Generic::new(timer, Interest::READ, Mode::Level),
                move |_, _, state| {
                    state.copy_failed(op, "timeout");
                    Ok(PostAction::Remove)
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.clipboard.copy = Some(CopyOp {
            op,
            level,
            mime,
            cap,
            data,
            read: 0,
            source,
            timer,
            started: Instant::now(),
        });
        Ok(())
    }

    /// Drops the copy in progress (its pipe closes).
    fn cancel_copy(&mut self) -> Option<CopyOp> {
        let copy = self.clipboard.copy.take()?;
        self.loop_handle.remove(copy.source);
        self.loop_handle.remove(copy.timer);
        Some(copy)
    }

    fn copy_readable(&mut self, op: u64, pipe: &mut &std::fs::File) -> PostAction {
        use nix::fcntl::{SpliceFFlags, splice};
        loop {
            let Some(copy) = self.clipboard.copy.as_mut().filter(|c| c.op == op) else {
                return PostAction::Remove;
            };
            // Pipe to memory file without passing through this process (one byte more than
            // the cap is enough to know it is too big).
            let want = (copy.cap + 1 - copy.read).min(PIPE_SIZE as u64) as usize;
            let mut offset = copy.read as i64;
            match splice(
                &**pipe,
                None,
                &copy.data,
                Some(&mut offset),
                want,
                SpliceFFlags::SPLICE_F_NONBLOCK | SpliceFFlags::SPLICE_F_MOVE,
            ) {
                Ok(0) => {
                    self.copy_done(op);
                    return PostAction::Remove;
                }
                Ok(n) => {
                    copy.read += n as u64;
                    if copy.read > copy.cap {
                        self.copy_failed(op, "oversize");
                        return PostAction::Remove;
                    }
                }
                Err(nix::errno::Errno::EAGAIN) => return PostAction::Continue,
                Err(nix::errno::Errno::EINTR) => {}
                Err(err) => {
                    tracing::warn!("reading the copy failed: {err}");
                    self.copy_failed(op, "error");
                    return PostAction::Remove;
                }
            }
        }
    }

    fn copy_failed(&mut self, op: u64, reason: &str) {
        if self.clipboard.copy.as_ref().map(|c| c.op) != Some(op) {
            return;
        }
        let Some(copy) = self.cancel_copy() else {
            return;
        };
        let label = self.level(copy.level).label.clone();
        let text = match reason {
            "timeout" => format!(
                "Not copied: {label}'s app did not hand its clipboard over within {} ms",
                self.config.clipboard.timeout_ms
            ),
            "oversize" => format!(
                "Not copied: {label}'s clipboard holds more than {}, the limit",
                cloison_config::text::human_size(copy.cap)
            ),
            _ => format!("Not copied: reading {label}'s clipboard failed"),
        };
        self.ui.bar.notify(text);
        self.launcher.send(ToLauncher::CopyFailed {
            op,
            level: self.level(copy.level).name.to_string(),
            reason: reason.into(),
            mime: Some(copy.mime),
            size: copy.read,
        });
        self.ui_changed();
    }

    fn copy_done(&mut self, op: u64) {
        let Some(copy) = self.cancel_copy() else {
            return;
        };
        let name = self.level(copy.level).name.to_string();
        if copy.read == 0 {
            let label = self.level(copy.level).label.clone();
            self.ui
                .bar
                .notify(format!("Nothing copied: {label}'s clipboard is empty"));
            self.launcher.send(ToLauncher::CopyFailed {
                op,
                level: name,
                reason: "empty".into(),
                mime: Some(copy.mime),
                size: 0,
            });
            self.ui_changed();
            return;
        }
        // Sealed: nobody can change it from here on, not even us.
        let fd = copy.data.as_raw_fd();
        let seals =
            libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        // SAFETY: F_ADD_SEALS on a memfd we own; it only restricts later changes.
        unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) };
        tracing::debug!(
            op,
            level = %name,
            bytes = copy.read,
            micros = copy.started.elapsed().as_micros() as u64,
            "copy read"
        );
        let message = ToLauncher::Copied {
            op,
            level: name,
            mime: copy.mime,
            size: copy.read,
        };
        match copy.data.try_clone() {
            Ok(file) => self.launcher.send_with_fd(message, OwnedFd::from(file)),
            Err(err) => tracing::warn!("cannot hand a copy over: {err}"),
        }
    }

    /// Paste: asks the launcher for the global clipboard, for the focused level.
    pub fn paste_from_global(&mut self) {
        let Some(level) = self.focused_level() else {
            self.ui
                .bar
                .notify("Nowhere to paste: no window has the keyboard".into());
            self.ui_changed();
            return;
        };
        let op = self.clipboard.next();
        let window = self
            .wm
            .focused
            .as_ref()
            .and_then(crate::state::window_info)
            .map(|i| i.id);
        self.clipboard.pending_paste = Some((op, level, window));
        self.launcher.send(ToLauncher::PasteRequest {
            op,
            level: self.level(level).name.to_string(),
        });
    }

    /// The launcher allowed paste `op`: own the level's selections with `data`.
    pub fn paste_allowed(
        &mut self,
        op: u64,
        level: &str,
        mime_types: Vec<String>,
        size: u64,
        data: OwnedFd,
    ) {
        let Some((pending, target, _)) = self.clipboard.pending_paste else {
            return;
        };
        if pending != op || *self.level(target).name != *level {
            tracing::debug!(op, "a stale paste was discarded");
            return;
        }
        self.clipboard.pending_paste = None;
        self.clipboard.served.insert(
            target.0,
            Served {
                op,
                data: Arc::new(data),
                size,
            },
        );
        let seat = self.levels[target.0].seat.clone();
        let dh = self.display_handle.clone();
        set_data_device_selection(&dh, &seat, mime_types.clone(), op);
        set_primary_selection(&dh, &seat, mime_types, op);
    }

    /// The launcher asks the user to confirm paste `op`: the trusted dialog opens (modal: no
    /// client gets input, focus stays where the chord was pressed), or, if another dialog is
    /// up, right after it.
    pub fn confirm_paste(
        &mut self,
        op: u64,
        from: &str,
        to: &str,
        mime: String,
        size: u64,
        preview: String,
    ) {
        if self.clipboard.pending_paste.map(|p| p.0) != Some(op) {
            return;
        }
        let (Some(from), Some(to)) = (self.level_badge(from), self.level_badge(to)) else {
            return;
        };
        let dialog = crate::ui::dialog::ConfirmDialog::new(op, from, to, mime, size, &preview);
        if self.ui.dialog.is_some() {
            self.ui.dialogs_waiting.insert(0, dialog);
            return;
        }
        self.show_dialog(dialog);
    }

    /// A level's label and colour, as the trusted dialogs show it.
    fn level_badge(&self, name: &str) -> Option<(String, cloison_config::Color)> {
        self.levels
            .iter()
            .find(|l| *l.name == *name)
            .map(|l| (l.label.clone(), l.color))
    }

    /// The launcher asks the user to confirm a file transfer from level `from`. A level that
    /// has the keyboard (the user just ran `cloison-send` there) gets its dialog at once; any
    /// other waits behind a line in the bar until the user clicks it: a level cannot raise a
    /// dialog over the user's work in another level, nor catch a Return meant for it.
    pub fn confirm_files(
        &mut self,
        id: u64,
        from: &str,
        to: &str,
        files: &[(String, u64)],
        total: u64,
    ) {
        let (Some(from_badge), Some(to_badge)) = (self.level_badge(from), self.level_badge(to))
        else {
            return;
        };
        let dialog =
            crate::ui::dialog::ConfirmDialog::files(id, from, from_badge, to_badge, files, total);
        let focused = self.focused_level().map(|l| self.levels[l.0].name.clone());
        let asked_from_focus = focused.is_none() || focused.as_deref() == Some(from);
        // A level whose requests the user just refused twice asks from the bar only.
        let refused = self.ui.refused_asks.entry(from.to_string()).or_default();
        refused.retain(|at| at.elapsed() < crate::ui::dialog::REFUSED_WINDOW);
        let looping = refused.len() >= 2;
        // Under the lock nothing comes up: the request waits for the user's click.
        if self.ui.dialog.is_none() && asked_from_focus && !looping && !self.ui.lock.locked {
            self.show_dialog(dialog);
            return;
        }
        // One waiting request per level (the launcher refuses more; this keeps the bound
        // whatever it sends): an older one from the same level is refused.
        if let Some(i) = self
            .ui
            .dialogs_waiting
            .iter()
            .position(|d| !d.by_user && d.source == from)
        {
            let old = self.ui.dialogs_waiting.remove(i);
            self.launcher.send(ToLauncher::ConfirmAnswer {
                dialog: old.id,
                accept: false,
            });
        }
        self.ui.dialogs_waiting.push(dialog);
        self.ui_changed();
    }

    /// Puts `dialog` in front: modal, taking no answer for `ARMING`.
    fn show_dialog(&mut self, dialog: crate::ui::dialog::ConfirmDialog) {
        self.ui.menu.open = false;
        self.ui.dialog = Some(dialog);
        self.ui.dialog_since = std::time::Instant::now();
        self.release_pointer();
        self.ui_changed();
    }

    /// The launcher withdrew `id`'s question (nobody answered in time, or the sender left):
    /// its dialog goes, whether on screen or waiting; a paste asked meanwhile comes next.
    pub fn withdraw_dialog(&mut self, id: DialogId) {
        self.ui.dialogs_waiting.retain(|d| d.id != id);
        if let Some(dialog) = self.ui.dialog.take_if(|d| d.id == id) {
            // A level that withdraws the questions it put in front of the user counts as
            // refused: a loop of ask-and-leave ends up behind the bar line, like a loop the
            // user refuses.
            if !dialog.by_user {
                self.ui
                    .refused_asks
                    .entry(dialog.source.clone())
                    .or_default()
                    .push(std::time::Instant::now());
            }
            if let Some(i) = self.ui.dialogs_waiting.iter().position(|d| d.by_user) {
                let next = self.ui.dialogs_waiting.remove(i);
                self.show_dialog(next);
            }
        }
        self.ui_changed();
    }

    /// The user clicked the bar's line of a waiting transfer request: its dialog comes up.
    pub fn open_waiting_dialog(&mut self) {
        if self.ui.dialog.is_some() {
            return;
        }
        if let Some(i) = self.ui.dialogs_waiting.iter().position(|d| !d.by_user) {
            let dialog = self.ui.dialogs_waiting.remove(i);
            self.show_dialog(dialog);
        }
    }

    /// The user answered the dialog (ignored until it has been on screen for `ARMING`).
    pub fn answer_dialog(&mut self, answer: crate::ui::dialog::Answer) {
        if self.ui.dialog.is_none() || self.ui.dialog_since.elapsed() < crate::ui::dialog::ARMING {
            return;
        }
        let Some(dialog) = self.ui.dialog.take() else {
            return;
        };
        let accept = answer == crate::ui::dialog::Answer::Accept;
        if !accept && self.clipboard.pending_paste.map(|p| DialogId::Paste(p.0)) == Some(dialog.id)
        {
            self.clipboard.pending_paste = None;
        }
        if !accept && !dialog.by_user {
            self.ui
                .refused_asks
                .entry(dialog.source.clone())
                .or_default()
                .push(std::time::Instant::now());
        }
        self.launcher.send(ToLauncher::ConfirmAnswer {
            dialog: dialog.id,
            accept,
        });
        // A paste asked meanwhile comes next (re-armed); transfer requests keep waiting for a
        // click on their bar line.
        if let Some(i) = self.ui.dialogs_waiting.iter().position(|d| d.by_user) {
            let next = self.ui.dialogs_waiting.remove(i);
            self.show_dialog(next);
        }
        self.ui_changed();
    }

    /// A client of the seat's level reads content the compositor serves.
    pub fn serve_selection(&mut self, level: LevelId, op: u64, fd: OwnedFd) {
        let Some(served) = self.clipboard.served.get(&level.0).filter(|s| s.op == op) else {
            return;
        };
        let data = served.data.clone();
        let size = served.size;
        let spawned = std::thread::Builder::new()
            .name("paste".into())
            .spawn(move || {
                if let Err(err) = write_all_from(&data, size, fd) {
                    tracing::debug!("a paste reader went away: {err}");
                }
            });
        if let Err(err) = spawned {
            tracing::warn!("cannot serve a paste: {err}");
        }
    }
}

/// Copies `size` bytes of `data` (from its start) to the pipe `fd` (spliced: the pages go
/// from the memory file into the pipe without a copy through this process), giving up if the
/// reader takes nothing for [`SERVE_IDLE`].
fn write_all_from(data: &OwnedFd, size: u64, fd: OwnedFd) -> std::io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, SpliceFFlags, fcntl, splice};
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
    let mut offset = 0i64;
    while (offset as u64) < size {
        let want = ((size - offset as u64) as usize).min(PIPE_SIZE as usize);
        match splice(
            data,
            Some(&mut offset),
            &fd,
            None,
            want,
            SpliceFFlags::SPLICE_F_NONBLOCK,
        ) {
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
                let timeout = PollTimeout::try_from(SERVE_IDLE.as_millis() as i32)
                    .unwrap_or(PollTimeout::NONE);
                if poll(&mut fds, timeout)? == 0 {
                    return Err(std::io::Error::new(ErrorKind::TimedOut, "reader stalled"));
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            // Not a pipe (or an old kernel): plain copies.
            Err(nix::errno::Errno::EINVAL) => return copy_plain(data, offset as u64, size, fd),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// The fallback of [`write_all_from`]: read and write through a buffer.
fn copy_plain(data: &OwnedFd, mut offset: u64, size: u64, fd: OwnedFd) -> std::io::Result<()> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut out = std::fs::File::from(fd);
    let mut chunk = vec![0u8; 64 * 1024];
    while offset < size {
        let want = ((size - offset) as usize).min(chunk.len());
        let n = nix::sys::uio::pread(data, &mut chunk[..want], offset as i64)?;
        if n == 0 {
            break;
        }
        let mut written = 0;
        while written < n {
            match out.write(&chunk[written..n]) {
                Ok(w) => written += w,
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    let mut fds = [PollFd::new(out.as_fd(), PollFlags::POLLOUT)];
                    let timeout = PollTimeout::try_from(SERVE_IDLE.as_millis() as i32)
                        .unwrap_or(PollTimeout::NONE);
                    if poll(&mut fds, timeout)? == 0 {
                        return Err(std::io::Error::new(ErrorKind::TimedOut, "reader stalled"));
                    }
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_preferred_and_images_only_where_allowed() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            pick_type(&t(&["image/png", "text/plain", "UTF8_STRING"]), true).as_deref(),
            Some("UTF8_STRING")
        );
        assert_eq!(pick_type(&t(&["image/png"]), false), None);
        assert_eq!(pick_type(&t(&["image/png"]), true).as_deref(), Some(PNG));
        assert_eq!(pick_type(&t(&["application/x-evil"]), true), None);
        assert_eq!(cloison_config::text::human_size(1234), "1.2 kB");
    }
}
