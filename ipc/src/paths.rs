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

/// The directory `cloison run` keeps its sockets in when `XDG_RUNTIME_DIR` is not set (a root
/// shell, an ssh login without a session manager) and `cloison ctl` looks in: `/run/user/UID`
/// if it is the user's, else `$TMPDIR/cloison-UID` (`/tmp` by default).
pub fn fallback_runtime_dirs(uid: u32) -> [PathBuf; 2] {
    let tmp = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    [
        PathBuf::from(format!("/run/user/{uid}")),
        tmp.join(format!("cloison-{uid}")),
    ]
}

/// Checks that `dir` is a directory (not a link) of `uid`'s that nobody else may enter or
/// write: a shared place such as `/tmp` could hold one that someone else made first.
pub fn check_private_dir(dir: &Path, uid: u32) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if meta.uid() != uid {
        return Err(format!(
            "{} belongs to uid {}, not to you (uid {uid})",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} may be entered or written by others (mode {:o})",
            dir.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// The runtime directory of `cloison run`: `$XDG_RUNTIME_DIR`, else the first of
/// [`fallback_runtime_dirs`] that is usable — `/run/user/UID` if it exists and is the user's,
/// else `$TMPDIR/cloison-UID`, made (mode 0700) if missing and refused if it is not the user's
/// alone.
pub fn session_runtime_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = runtime_dir() {
        return Ok(dir);
    }
    let uid = nix::unistd::getuid().as_raw();
    let [run_user, tmp] = fallback_runtime_dirs(uid);
    if check_private_dir(&run_user, uid).is_ok() {
        return Ok(run_user);
    }
    use std::os::unix::fs::DirBuilderExt as _;
    match std::fs::DirBuilder::new().mode(0o700).create(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot make {}: {e}", tmp.display())),
    }
    check_private_dir(&tmp, uid).map_err(|why| {
        format!("XDG_RUNTIME_DIR is not set and {why}; remove it, or export XDG_RUNTIME_DIR")
    })?;
    Ok(tmp)
}

/// The control socket `cloison ctl` and `cloison spawn` use when not given one: the session's
/// under `$XDG_RUNTIME_DIR` if set, else the first existing one under
/// [`fallback_runtime_dirs`] (checked to be the user's alone), so a session started from any
/// shell of the user's is found.
pub fn find_ctl_socket() -> Result<PathBuf, String> {
    if let Ok(dir) = runtime_dir() {
        let socket = ctl_socket(&dir);
        if socket.exists() {
            return Ok(socket);
        }
    }
    let uid = nix::unistd::getuid().as_raw();
    let mut looked = Vec::new();
    if let Ok(dir) = runtime_dir() {
        looked.push(ctl_socket(&dir).display().to_string());
    }
    for dir in fallback_runtime_dirs(uid) {
        let socket = ctl_socket(&dir);
        if socket.exists() && check_private_dir(&dir, uid).is_ok() {
            return Ok(socket);
        }
        looked.push(socket.display().to_string());
    }
    Err(format!(
        "no running Cloison session found (looked for {}); start one with `cloison run`, or give its control socket with --socket",
        looked.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_runtime_directory_in_a_shared_place_must_be_ours_alone() {
        let tmp = std::env::temp_dir().join(format!("cloison-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).unwrap();
        let uid = nix::unistd::getuid().as_raw();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(check_private_dir(&tmp, uid), Ok(()));
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            check_private_dir(&tmp, uid)
                .unwrap_err()
                .contains("mode 777")
        );
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(
            check_private_dir(&tmp, uid + 1)
                .unwrap_err()
                .contains("not to you")
        );
        let link = tmp.with_extension("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&tmp, &link).unwrap();
        assert!(
            check_private_dir(&link, uid)
                .unwrap_err()
                .contains("not a directory")
        );
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir(&tmp).unwrap();
    }
}
