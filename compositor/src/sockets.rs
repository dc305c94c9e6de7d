//! One listening Wayland socket per level, at `$XDG_RUNTIME_DIR/cloison/levels/<level>/wayland-0`
//! in a directory of mode 0700.
//!
//! This is where a client's level is decided: each socket's accept callback inserts the client
//! with that socket's level in its [`ClientState`], and nothing ever changes it. Each cage will
//! see only its own level's socket (bind-mounted at a fixed path), so a level cannot even name
//! another level's socket.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};

use cloison_ipc::listener::{Spare, accept_waiting};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction};
use smithay::reexports::wayland_server::ListeningSocket;

use crate::state::{ClientState, LevelId, State};

/// Creates `dir` (and missing parents) and makes sure it is a directory owned by us with mode
/// 0700, so no other user can reach what we put inside.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let meta = std::fs::symlink_metadata(dir)
        .with_context(|| format!("cannot inspect {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} exists but is not a directory; remove it", dir.display());
    }
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid {
        bail!(
            "{} belongs to uid {}, not to us (uid {uid}); remove it or fix XDG_RUNTIME_DIR",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot set mode 0700 on {}", dir.display()))?;
    }
    Ok(())
}

/// Binds every level's socket and adds it to the event loop. Returns the socket paths.
pub fn listen_levels(state: &mut State, runtime_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    private_dir(&cloison_ipc::paths::session_dir(runtime_dir))?;
    private_dir(&cloison_ipc::paths::session_dir(runtime_dir).join("levels"))?;
    let mut paths = Vec::new();
    for index in 0..state.levels.len() {
        let name = state.levels[index].name.clone();
        let dir = cloison_ipc::paths::level_dir(runtime_dir, &name);
        private_dir(&dir)?;
        let path = cloison_ipc::paths::level_wayland_socket(runtime_dir, &name);
        let socket = ListeningSocket::bind_absolute(path.clone()).with_context(|| {
            format!(
                "cannot listen on {} (is another Cloison session running with this XDG_RUNTIME_DIR?)",
                path.display()
            )
        })?;
        state.levels[index].socket_path = path.display().to_string();
        add_listener(state, socket, LevelId(index))?;
        tracing::info!(level = %name, socket = %path.display(), "listening");
        paths.push(path);
    }
    Ok(paths)
}

/// Serves listening sockets the launcher created and handed over, one per level (in
/// configuration order); `paths` are what status reports (the paths on the host).
pub fn serve_level_listeners(
    state: &mut State,
    listeners: Vec<(String, UnixListener)>,
) -> anyhow::Result<()> {
    for (name, listener) in listeners {
        let Some(index) = state.levels.iter().position(|l| *l.name == name) else {
            bail!("a socket was handed over for level {name:?}, which is not configured");
        };
        listener.set_nonblocking(true)?;
        let source = Generic::new(listener, Interest::READ, Mode::Level);
        let level = LevelId(index);
        let mut spare = Spare::new();
        state
            .loop_handle
            .insert_source(source, move |_, listener, state| {
                spare.accept_all(
                    || accept_waiting(listener),
                    |stream| add_client(state, level, stream),
                );
                Ok(PostAction::Continue)
            })
            .map_err(|e| anyhow::anyhow!("cannot watch a level socket: {e}"))?;
        tracing::info!(level = %name, "listening on the socket the launcher handed over");
    }
    Ok(())
}

/// A new connection on `level`'s socket: a client of that level, unless the level already has
/// as many as `[limits] clients` (then it is closed at once, and the bar says so once).
fn add_client(state: &mut State, level: LevelId, stream: UnixStream) {
    let limit = state.config.limits.clients;
    if state.levels[level.0].client_count() >= limit {
        tracing::debug!(level = %state.levels[level.0].name, limit, "too many clients: connection closed");
        state.quota_notice(level, crate::limits::Quota::Clients);
        return;
    }
    let data = Arc::new(ClientState::new(&state.levels[level.0]));
    if let Err(err) = state.display_handle.insert_client(stream, data) {
        tracing::warn!("cannot add a client: {err}");
    }
}

/// Removes the (empty) directories [`listen_levels`] created, once the sockets are gone.
pub fn remove_level_dirs(runtime_dir: &Path, levels: &[String]) {
    for name in levels {
        let _ = std::fs::remove_dir(cloison_ipc::paths::level_dir(runtime_dir, name));
    }
    let session = cloison_ipc::paths::session_dir(runtime_dir);
    let _ = std::fs::remove_dir(session.join("levels"));
    let _ = std::fs::remove_dir(session);
}

fn add_listener(state: &mut State, socket: ListeningSocket, level: LevelId) -> anyhow::Result<()> {
    let source = Generic::new(socket, Interest::READ, Mode::Level);
    let mut spare = Spare::new();
    state
        .loop_handle
        .insert_source(source, move |_, socket, state| {
            spare.accept_all(
                || socket.accept(),
                |stream| add_client(state, level, stream),
            );
            Ok(PostAction::Continue)
        })
        .map_err(|e| anyhow::anyhow!("cannot watch a level socket: {e}"))?;
    Ok(())
}
