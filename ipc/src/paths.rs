//! Well-known paths under the session's runtime directory, and inside a cage.

use std::path::{Path, PathBuf};

/// `$XDG_RUNTIME_DIR/cloison`: everything Cloison puts in the runtime directory.
pub fn session_dir(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("cloison")
}

/// The trusted control socket.
pub fn ctl_socket(runtime_dir: &Path) -> PathBuf {
    session_dir(runtime_dir).join("ctl.sock")
}

/// The directory holding one level's sockets.
pub fn level_dir(runtime_dir: &Path, level: &str) -> PathBuf {
    session_dir(runtime_dir).join("levels").join(level)
}

/// One level's Wayland socket.
pub fn level_wayland_socket(runtime_dir: &Path, level: &str) -> PathBuf {
    level_dir(runtime_dir, level).join("wayland-0")
}

/// One level's manager socket (served by the launcher).
pub fn level_manager_socket(runtime_dir: &Path, level: &str) -> PathBuf {
    level_dir(runtime_dir, level).join("manager.sock")
}

/// The compositor's private control socket, which only the launcher connects to.
pub fn compositor_ctl_socket(runtime_dir: &Path) -> PathBuf {
    session_dir(runtime_dir)
        .join("private")
        .join("compositor-ctl.sock")
}

/// Inside a cage: where the level's Wayland socket is.
pub const CAGE_WAYLAND_SOCKET: &str = "/run/user/1000/wayland-0";
/// Inside a cage: the level's session bus (`$XDG_RUNTIME_DIR/bus`, where D-Bus libraries look
/// when `DBUS_SESSION_BUS_ADDRESS` is not set).
pub const CAGE_BUS_SOCKET: &str = "/run/user/1000/bus";
/// Inside a cage: where the level's manager socket is.
pub const CAGE_MANAGER_SOCKET: &str = "/run/cloison/manager.sock";

/// `$XDG_RUNTIME_DIR` is not set to an absolute path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "XDG_RUNTIME_DIR is not set to an absolute path; log in through a session manager or export it (e.g. XDG_RUNTIME_DIR=/run/user/$(id -u))"
)]
pub struct NoRuntimeDir;

/// `$XDG_RUNTIME_DIR`, which must be set.
pub fn runtime_dir() -> Result<PathBuf, NoRuntimeDir> {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() && Path::new(&dir).is_absolute() => Ok(dir.into()),
        _ => Err(NoRuntimeDir),
    }
}
