//! The private channel to the launcher (`cloison_ipc::session`): a socket the launcher hands
//! over as an inherited descriptor, never a path. The launcher sends the menu's entries, bar
//! notifications and level states; the compositor sends the user's menu choices as (level,
//! position) — it never names a command.
//!
//! Without a launcher (the compositor started by hand, tests), menu entries come from the
//! configuration and choices are kept in [`Manager::unsent`].

use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;

use cloison_ipc::channel::{Fill, Receiver, send_line};
use cloison_ipc::session::{ToCompositor, ToLauncher};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction};

use crate::state::State;

/// The link to the launcher.
#[derive(Default)]
pub struct Manager {
    stream: Option<UnixStream>,
    /// Messages that could not be sent (no launcher, or it is gone).
    pub unsent: Vec<ToLauncher>,
}

impl Manager {
    /// Sends a message to the launcher (never blocks: a launcher that does not read loses it).
    pub fn send(&mut self, message: ToLauncher) {
        self.send_inner(message, None);
    }

    /// Sends a message with a descriptor attached (a copy's sealed memory file).
    pub fn send_with_fd(&mut self, message: ToLauncher, fd: BorrowedFd<'_>) {
        self.send_inner(message, Some(fd));
    }

    fn send_inner(&mut self, message: ToLauncher, fd: Option<BorrowedFd<'_>>) {
        let Some(stream) = self.stream.as_ref() else {
            self.unsent.push(message);
            return;
        };
        let line = serde_json::to_string(&message).unwrap_or_default();
        if let Err(err) = send_line(stream, &line, fd) {
            tracing::warn!("cannot reach the launcher: {err}");
            self.unsent.push(message);
        }
    }
}

/// Serves the launcher's end of the channel from the event loop.
pub fn connect(state: &mut State, stream: UnixStream) -> anyhow::Result<()> {
    stream.set_nonblocking(true)?;
    let reader = stream.try_clone()?;
    state.manager.stream = Some(stream);
    let mut receiver = Receiver::default();
    state
        .loop_handle
        .insert_source(
            Generic::new(reader, Interest::READ, Mode::Level),
            move |_, stream, state| {
                let fill = receiver.fill(stream);
                while let Some(line) = receiver.next_line() {
                    match serde_json::from_slice::<ToCompositor>(&line) {
                        Ok(ToCompositor::Paste {
                            op,
                            level,
                            mime_types,
                            size,
                            ..
                        }) => match receiver.take_fd() {
                            Some(fd) => state.paste_allowed(op, &level, mime_types, size, fd),
                            None => tracing::warn!("a paste came without its content"),
                        },
                        Ok(message) => state.from_launcher(message),
                        Err(err) => tracing::warn!("bad message from the launcher: {err}"),
                    }
                }
                match fill {
                    Ok(Fill::Open) => Ok(PostAction::Continue),
                    Ok(Fill::Closed) => {
                        tracing::warn!("the launcher closed its channel");
                        state.manager.stream = None;
                        Ok(PostAction::Remove)
                    }
                    Err(err) => {
                        tracing::warn!("the launcher's channel failed: {err}");
                        state.manager.stream = None;
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
                op,
                from,
                to,
                files,
                total,
            } => self.confirm_files(op, &from, &to, &files, total),
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
            // Handled where its descriptor is taken (the channel's reader).
            ToCompositor::Paste { .. } => {}
        }
        self.queue_redraw();
    }

    /// The user chose entry `app` of `level`'s menu column: the launcher starts it.
    pub fn launch(&mut self, level: String, app: usize) {
        tracing::info!(level = %level, app, "launch requested from the menu");
        self.manager.send(ToLauncher::Launch { level, app });
    }
}
