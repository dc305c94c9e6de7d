//! The private channel to the launcher (`cloison_ipc::session`): a socket the launcher hands
//! over as an inherited descriptor, never a path. The launcher sends the menu's entries, bar
//! notifications and level states; the compositor sends the user's menu choices as (level,
//! position) — it never names a command.
//!
//! Messages are framed ([`cloison_ipc::channel`]) and each carries its own descriptor, if any.
//! Writing never blocks the compositor and never tears a message: frames the socket cannot take
//! now wait in a bounded queue and go out when it drains (a launcher that does not read for
//! [`MAX_QUEUED`] bytes loses the messages past that).
//!
//! Without a launcher (the compositor started by hand, tests), menu entries come from the
//! configuration and choices are kept in [`LauncherLink::unsent`].

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use cloison_ipc::channel::{self, Fill, Receiver, Writer};
use cloison_ipc::session::{ToCompositor, ToLauncher};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};

use crate::state::State;

/// Bytes of messages that may wait for a launcher that does not read.
pub const MAX_QUEUED: usize = 8 << 20;

/// The link to the launcher.
pub struct LauncherLink {
    stream: Option<UnixStream>,
    writer: Writer,
    /// The socket is watched for room while frames wait.
    flushing: bool,
    handle: Option<LoopHandle<'static, State>>,
    /// Messages that could not be sent (no launcher, or it is gone).
    pub unsent: Vec<ToLauncher>,
}

impl Default for LauncherLink {
    fn default() -> Self {
        LauncherLink {
            stream: None,
            writer: Writer::new(channel::SESSION, MAX_QUEUED),
            flushing: false,
            handle: None,
            unsent: Vec::new(),
        }
    }
}

impl LauncherLink {
    /// Sends a message to the launcher (never blocks).
    /// Whether a launcher is connected (one can check a lock screen password).
    pub fn connected(&self) -> bool {
        self.stream.is_some()
    }

    pub fn send(&mut self, message: ToLauncher) {
        self.send_inner(message, Vec::new());
    }

    /// Sends a message with its descriptor (a copy's sealed memory file).
    pub fn send_with_fd(&mut self, message: ToLauncher, fd: OwnedFd) {
        self.send_inner(message, vec![fd]);
    }

    fn send_inner(&mut self, message: ToLauncher, fds: Vec<OwnedFd>) {
        let Some(stream) = self.stream.as_ref() else {
            self.unsent.push(message);
            return;
        };
        match self.writer.send(stream, &message, fds) {
            Ok(true) => {}
            Ok(false) => self.watch_for_room(),
            Err(err) => {
                tracing::warn!("cannot reach the launcher: {err}");
                self.unsent.push(message);
            }
        }
    }

    /// Watches the socket until the waiting frames are written.
    fn watch_for_room(&mut self) {
        if self.flushing {
            return;
        }
        let (Some(handle), Some(stream)) = (self.handle.as_ref(), self.stream.as_ref()) else {
            return;
        };
        let Ok(watched) = stream.try_clone() else {
            return;
        };
        let inserted = handle.insert_source(
            Generic::new(watched, Interest::WRITE, Mode::Level),
            |_, stream, state| {
                let link = &mut state.launcher;
                match link.writer.flush(stream) {
                    Ok(false) => Ok(PostAction::Continue),
                    Ok(true) => {
                        link.flushing = false;
                        Ok(PostAction::Remove)
                    }
                    Err(err) => {
                        tracing::warn!("cannot reach the launcher: {err}");
                        link.flushing = false;
                        Ok(PostAction::Remove)
                    }
                }
            },
        );
        self.flushing = inserted.is_ok();
    }
}

/// Serves the launcher's end of the channel from the event loop.
pub fn connect(state: &mut State, stream: UnixStream) -> anyhow::Result<()> {
    stream.set_nonblocking(true)?;
    let reader = stream.try_clone()?;
    state.launcher.stream = Some(stream);
    state.launcher.handle = Some(state.loop_handle.clone());
    let mut receiver = Receiver::new(channel::SESSION);
    state
        .loop_handle
        .insert_source(
            Generic::new(reader, Interest::READ, Mode::Level),
            move |_, stream, state| {
                let fill = receiver.fill(stream);
                loop {
                    match receiver.next_frame() {
                        Ok(Some(frame)) => match frame.decode::<ToCompositor>() {
                            Ok((
                                ToCompositor::Paste {
                                    op,
                                    level,
                                    mime_types,
                                    size,
                                    ..
                                },
                                mut fds,
                            )) => match fds.pop() {
                                Some(fd) => state.paste_allowed(op, &level, mime_types, size, fd),
                                None => tracing::error!("a paste came without its content"),
                            },
                            Ok((message, _)) => state.from_launcher(message),
                            Err(err) => tracing::error!("bad message from the launcher: {err}"),
                        },
                        Ok(None) => break,
                        Err(err) => {
                            tracing::error!("the launcher's channel is out of step: {err}");
                            state.launcher.stream = None;
                            return Ok(PostAction::Remove);
                        }
                    }
                }
                match fill {
                    Ok(Fill::Open) => Ok(PostAction::Continue),
                    Ok(Fill::Closed) => {
                        tracing::warn!("the launcher closed its channel");
                        state.launcher.stream = None;
                        Ok(PostAction::Remove)
                    }
                    Err(err) => {
                        tracing::warn!("the launcher's channel failed: {err}");
                        state.launcher.stream = None;
                        Ok(PostAction::Remove)
                    }
                }
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot watch the launcher's channel: {e}"))?;
    Ok(())
}

impl State {
    /// Handles a message from the launcher.
    pub fn from_launcher(&mut self, message: ToCompositor) {
        match message {
            ToCompositor::Menu { levels } => {
                let entries = self
                    .levels
                    .iter()
                    .map(|level| {
                        levels
                            .iter()
                            .find(|m| m.level == *level.name)
                            .map(|m| m.apps.clone())
                            .unwrap_or_default()
                    })
                    .collect();
                self.ui.menu.set_entries(entries);
            }
            ToCompositor::Notify { text } => {
                self.ui
                    .bar
                    .notify(cloison_config::text::sanitize(&text, 160));
            }
            ToCompositor::LevelNetwork { level, text, alert } => {
                if let Some(l) = self.levels.iter_mut().find(|l| *l.name == level) {
                    l.network = Some((cloison_config::text::sanitize(&text, 48), alert));
                }
            }
            ToCompositor::LevelState { level, running } => {
                if let Some(l) = self.levels.iter_mut().find(|l| *l.name == level) {
                    l.running = running;
                }
            }
            ToCompositor::Confirm {
                op,
                from,
                to,
                mime,
                size,
                preview,
            } => self.confirm_paste(op, &from, &to, mime, size, preview),
            ToCompositor::ConfirmFiles {
                id,
                from,
                to,
                files,
                total,
            } => self.confirm_files(id, &from, &to, &files, total),
            ToCompositor::Withdraw { dialog } => self.withdraw_dialog(dialog),
            ToCompositor::Lock { why } => self.lock_for_launcher(&why),
            ToCompositor::UnlockResult {
                accepted,
                message,
                retry_after_ms,
            } => self.unlock_result(accepted, message, retry_after_ms),
            ToCompositor::Transfer { id, text } => match text {
                Some(text) => {
                    self.ui.bar.transfer = Some((id, cloison_config::text::sanitize(&text, 120)));
                }
                None => {
                    if self.ui.bar.transfer.as_ref().is_some_and(|(t, _)| *t == id) {
                        self.ui.bar.transfer = None;
                    }
                }
            },
            ToCompositor::DevicesChanged => {
                #[cfg(feature = "drm")]
                crate::backend::drm::DrmBackend::devices_changed(self);
            }
            ToCompositor::Notification {
                id,
                level,
                notification,
            } => self.show_notification(id, &level, &notification),
            ToCompositor::CloseNotification { id } => {
                self.ui.notifications.remove(id);
            }
            ToCompositor::NotificationsHeld { level, count } => {
                if let Some(index) = self.levels.iter().position(|l| *l.name == level) {
                    self.ui.notifications.held_back(index, count);
                }
            }
            // Handled where its descriptor is taken (the channel's reader).
            ToCompositor::Paste { .. } => {}
        }
        self.queue_redraw();
    }

    /// The user chose entry `app` of `level`'s menu column: the launcher starts it.
    pub fn launch(&mut self, level: String, app: usize) {
        tracing::info!(level = %level, app, "launch requested from the menu");
        self.launcher.send(ToLauncher::Launch { level, app });
    }
}
