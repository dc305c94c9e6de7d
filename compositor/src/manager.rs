//! The private channel to the launcher (`cloison_ipc::session`): a socket the launcher hands
//! over as an inherited descriptor, never a path. The launcher sends the menu's entries, bar
//! notifications and level states; the compositor sends the user's menu choices as (level,
//! position) — it never names a command.
//!
//! Without a launcher (the compositor started by hand, tests), menu entries come from the
//! configuration and choices are kept in [`Manager::unsent`].

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;

use cloison_ipc::session::{ToCompositor, ToLauncher};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction};

use crate::state::State;

/// Longest line accepted from the launcher.
const MAX_LINE: usize = 1 << 20;

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
        let Some(stream) = self.stream.as_mut() else {
            self.unsent.push(message);
            return;
        };
        let mut line = serde_json::to_string(&message).unwrap_or_default();
        line.push('\n');
        if let Err(err) = stream.write_all(line.as_bytes()) {
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
    let mut pending: Vec<u8> = Vec::new();
    state
        .loop_handle
        .insert_source(
            Generic::new(reader, Interest::READ, Mode::Level),
            move |_, stream, state| {
                let mut chunk = [0u8; 16 * 1024];
                let mut stream: &UnixStream = stream;
                loop {
                    match stream.read(&mut chunk) {
                        Ok(0) => {
                            tracing::warn!("the launcher closed its channel");
                            state.manager.stream = None;
                            return Ok(PostAction::Remove);
                        }
                        Ok(n) => pending.extend_from_slice(&chunk[..n]),
                        Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                        Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                        Err(err) => {
                            tracing::warn!("the launcher's channel failed: {err}");
                            state.manager.stream = None;
                            return Ok(PostAction::Remove);
                        }
                    }
                }
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    match serde_json::from_slice::<ToCompositor>(&line) {
                        Ok(message) => state.from_launcher(message),
                        Err(err) => tracing::warn!("bad message from the launcher: {err}"),
                    }
                }
                if pending.len() > MAX_LINE {
                    tracing::warn!("the launcher sent an overlong line; dropped");
                    pending.clear();
                }
                Ok(PostAction::Continue)
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
        }
        self.queue_redraw();
    }

    /// The user chose entry `app` of `level`'s menu column: the launcher starts it.
    pub fn launch(&mut self, level: String, app: usize) {
        tracing::info!(level = %level, app, "launch requested from the menu");
        self.manager.send(ToLauncher::Launch { level, app });
    }
}
