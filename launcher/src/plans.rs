//! Where a session keeps things, and the cage plans the launcher builds from the
//! configuration: one per level, one for the compositor. Plans are made here only, from the
//! validated configuration and the launcher's own paths — never from anything a cage says.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use cloison_cages::plan::{
    Bind, CagePlan, Identity, LandlockPolicy, Network, Rlimits, SeccompPolicy,
};
use cloison_config::{Config, LandlockMode, Level};
use cloison_ipc::paths;

mod x11;
pub use x11::{X11_FD, X11_IN_CAGE, X11Bridge, x11_display};

/// Inside every cage the user is this uid and gid.
pub const INSIDE_ID: u32 = 1000;
/// Landlock ABI a cage needs for everything it promises (scoped abstract sockets and signals).
pub const LANDLOCK_ABI: u8 = 6;
/// Where the compositor's binary is bound inside its cage.
const COMPOSITOR_IN_CAGE: &str = "/opt/cloison/cloison-compositor";

/// The session's directories.
#[derive(Debug, Clone)]
pub struct SessionPaths {
    /// `$XDG_RUNTIME_DIR`, or where `cloison ctl` finds a session without it
    /// ([`paths::session_runtime_dir`]).
    pub runtime_dir: PathBuf,
    /// `$XDG_RUNTIME_DIR/cloison` (0700): sockets.
    pub session_dir: PathBuf,
    /// `$XDG_DATA_HOME/cloison`: the levels' homes, the compositor's home.
    pub data_dir: PathBuf,
    /// `$XDG_CACHE_HOME/cloison`: each cage's `/etc`.
    pub cache_dir: PathBuf,
    /// `$XDG_STATE_HOME/cloison`: the audit log.
    pub state_dir: PathBuf,
}

impl SessionPaths {
    /// From the environment (XDG base directories).
    pub fn from_env() -> anyhow::Result<SessionPaths> {
        let runtime_dir = paths::session_runtime_dir().map_err(anyhow::Error::msg)?;
        Ok(SessionPaths {
            session_dir: paths::session_dir(&runtime_dir),
            runtime_dir,
            data_dir: xdg_dir("XDG_DATA_HOME", ".local/share")?.join("cloison"),
            cache_dir: xdg_dir("XDG_CACHE_HOME", ".cache")?.join("cloison"),
            state_dir: xdg_dir("XDG_STATE_HOME", ".local/state")?.join("cloison"),
        })
    }
    /// The audit log.
    pub fn audit_log(&self) -> PathBuf {
        self.state_dir.join("audit.jsonl")
    }

    /// Where a level's programs' output goes (`cloison logs LEVEL`).
    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// A level's programs' output.
    pub fn level_log(&self, level: &str) -> PathBuf {
        self.logs_dir().join(format!("{level}.log"))
    }

    /// A level's home on the host.
    pub fn level_home(&self, level: &str) -> PathBuf {
        self.data_dir.join("levels").join(level).join("home")
    }

    /// The compositor's home on the host (Mesa's shader cache, nothing of any level).
    pub fn compositor_home(&self) -> PathBuf {
        self.data_dir.join("compositor").join("home")
    }

    /// A cage's `/etc` cache.
    pub fn etc_cache(&self, cage: &str) -> PathBuf {
        self.cache_dir.join("etc").join(cage)
    }

    /// The compositor's private files (a copy of the X authority).
    pub fn compositor_private(&self) -> PathBuf {
        self.session_dir.join("private").join("compositor")
    }
}

/// An XDG base directory: `$VAR` if absolute, else `$HOME/fallback`.
pub fn xdg_dir(var: &str, fallback: &str) -> anyhow::Result<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if Path::new(&v).is_absolute() => Ok(PathBuf::from(v)),
        _ => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(fallback))
            .with_context(|| format!("neither {var} nor HOME is set")),
    }
}

/// The audit log's default place: `$XDG_STATE_HOME/cloison/audit.jsonl`.
pub fn default_audit_log() -> anyhow::Result<PathBuf> {
    Ok(xdg_dir("XDG_STATE_HOME", ".local/state")?
        .join("cloison")
        .join("audit.jsonl"))
}

/// Who the cages map to: their own uids when the launcher runs as root, else the caller.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    /// The launcher's uid.
    pub caller: u32,
    /// The launcher's gid.
    pub caller_gid: u32,
}

impl Ids {
    /// The launcher's identity.
    pub fn current() -> Ids {
        Ids {
            caller: nix::unistd::geteuid().as_raw(),
            caller_gid: nix::unistd::getegid().as_raw(),
        }
    }

    /// Whether cages get their own outside uids.
    pub fn root(&self) -> bool {
        self.caller == 0
    }

    /// The outside (uid, gid) for a cage configured with `uid`.
    pub fn outside(&self, uid: u32) -> (u32, u32) {
        if self.root() {
            (uid, uid)
        } else {
            (self.caller, self.caller_gid)
        }
    }
}

/// Creates `dir` (and parents) and gives it `owner` and `mode`; refuses a symlink or a
/// non-directory in its place.
pub fn own_dir(dir: &Path, owner: (u32, u32), mode: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        bail!("{} is not a directory; remove it", dir.display());
    }
    if (meta.uid(), meta.gid()) != owner {
        std::os::unix::fs::lchown(dir, Some(owner.0), Some(owner.1))
            .with_context(|| format!("cannot give {} to uid {}", dir.display(), owner.0))?;
    }
    if meta.mode() & 0o7777 != mode {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set mode {mode:o} on {}", dir.display()))?;
    }
    Ok(())
}

/// The environment inside a level's cage.
fn level_env(level: &Level) -> Vec<(String, String)> {
    let home = "/home/user";
    [
        (
            "PATH",
            format!("/usr/local/bin:/usr/bin:/bin:{TOOLS_IN_CAGE}"),
        ),
        ("HOME", home.into()),
        ("USER", "user".into()),
        ("LOGNAME", "user".into()),
        ("SHELL", "/bin/bash".into()),
        ("LANG", "C.UTF-8".into()),
        ("XDG_RUNTIME_DIR", format!("/run/user/{INSIDE_ID}")),
        ("WAYLAND_DISPLAY", "wayland-0".into()),
        ("XDG_SESSION_TYPE", "wayland".into()),
        ("XDG_CURRENT_DESKTOP", "Cloison".into()),
        ("XDG_CONFIG_HOME", format!("{home}/.config")),
        ("XDG_DATA_HOME", format!("{home}/.local/share")),
        ("XDG_CACHE_HOME", format!("{home}/.cache")),
        ("XDG_STATE_HOME", format!("{home}/.local/state")),
        ("XDG_DATA_DIRS", "/usr/local/share:/usr/share".into()),
        ("XDG_CONFIG_DIRS", "/etc/xdg".into()),
        ("CLOISON_LEVEL", level.name.clone()),
        (
            "CLOISON_MANAGER_SOCKET",
            paths::CAGE_MANAGER_SOCKET.to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The cage's network for a level whose network the launcher does not build (for one it
/// builds, the session passes [`Network::Given`]; without a root session, such a level gets
/// none).
pub fn plain_network(level: &Level) -> Network {
    match &level.network {
        cloison_config::Network::Host => Network::Host,
        cloison_config::Network::Netns(name) => Network::Netns(name.clone()),
        _ => Network::None,
    }
}

/// Where the launcher's tools (`cloison-send`) are inside a level's cage (on its PATH).
pub const TOOLS_IN_CAGE: &str = "/opt/cloison/bin";

/// A level's cage: its home, its two sockets at fixed paths, the `cloison-send` tool (and,
/// with `notifyd`, the level's notification service `cloison-notifyd`, which the launcher
/// starts once the bus is up), its
/// network, no programs yet (the launcher starts the session apps through init, to know their
/// pids).
///
/// With `bus` (the host's `dbus-daemon`), the level gets its own session bus: the cage's init
/// makes its listening socket at `/run/user/1000/bus` and starts the daemon on it before
/// anything else (as [`BUS_FD`], handed over in systemd's socket-activation convention), so a
/// program that connects before the daemon serves waits in the backlog instead of failing. The
/// socket is bound inside the cage, not by the launcher: the daemon tells the services it
/// activates the address it was bound at, which must be the cage's path (a host path there
/// broke every activated service that connects back, found with the accessibility bus).
#[allow(clippy::too_many_arguments)]
pub fn level_plan(
    paths: &SessionPaths,
    ids: Ids,
    level: &Level,
    send_tool: &Path,
    bus: Option<&Path>,
    notifyd: Option<&Path>,
    x11: Option<X11Bridge<'_>>,
    network: Network,
) -> CagePlan {
    let (outside_uid, outside_gid) = ids.outside(level.uid);
    let mut plan = CagePlan {
        name: level.name.clone(),
        network,
        identity: Identity {
            uid: INSIDE_ID,
            gid: INSIDE_ID,
            outside_uid,
            outside_gid,
        },
        home: paths.level_home(&level.name),
        etc_cache: Some(paths.etc_cache(&level.name)),
        binds: vec![
            Bind {
                source: paths::level_wayland_socket(&paths.runtime_dir, &level.name),
                target: paths::CAGE_WAYLAND_SOCKET.into(),
                writable: true,
            },
            Bind {
                source: paths::level_manager_socket(&paths.runtime_dir, &level.name),
                target: paths::CAGE_MANAGER_SOCKET.into(),
                writable: true,
            },
            Bind {
                source: send_tool.to_path_buf(),
                target: Path::new(TOOLS_IN_CAGE).join("cloison-send"),
                writable: false,
            },
        ],
        env: level_env(level),
        rlimits: Rlimits::default(),
        landlock: LandlockPolicy {
            min_abi: LANDLOCK_ABI,
            best_effort: level.landlock == LandlockMode::BestEffort,
        },
        seccomp: SeccompPolicy {
            profile: "level".into(),
            errno_override: None,
        },
        run: Vec::new(),
        exit_with_first: false,
        pass_fds: Vec::new(),
        listen: Vec::new(),
    };
    if let Some(daemon) = bus {
        plan.listen.push(cloison_cages::plan::Listen {
            path: paths::CAGE_BUS_SOCKET.into(),
            fd: BUS_FD,
        });
        plan.env.push((
            "DBUS_SESSION_BUS_ADDRESS".into(),
            format!("unix:path={}", paths::CAGE_BUS_SOCKET),
        ));
        plan.run.push(bus_command(daemon));
        if let Some(notifyd) = notifyd {
            plan.binds.push(Bind {
                source: notifyd.to_path_buf(),
                target: Path::new(NOTIFYD_IN_CAGE).into(),
                writable: false,
            });
        }
    }
    if let Some(bridge) = x11 {
        x11::add_to(&mut plan, level, bridge);
    }
    plan
}

/// Where a level's notification service is inside its cage.
pub const NOTIFYD_IN_CAGE: &str = "/opt/cloison/bin/cloison-notifyd";

/// The descriptor a level's session bus socket is passed as.
pub const BUS_FD: i32 = cloison_cages::plan::FIRST_PASSED_FD;

/// `dbus-daemon --session` serving the socket passed as [`BUS_FD`]: moved to descriptor 3 and
/// announced with `LISTEN_FDS`/`LISTEN_PID` (the shell's pid is the daemon's, through `exec`),
/// as `--address=systemd:` expects.
fn bus_command(daemon: &Path) -> Vec<String> {
    vec![
        // (bash: dash's redirections take single-digit descriptors only.)
        "/bin/bash".into(),
        "-c".into(),
        format!(
            "exec 3<&{BUS_FD} {BUS_FD}<&- {X11_FD}<&-; LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" --session --nofork --nopidfile --address=systemd:"
        ),
        daemon.display().to_string(),
    ]
}

/// How the compositor reaches the display it is nested in (winit), from the launcher's
/// environment. The compositor's cage gets as little of it as works: the X display's own
/// socket (not the host's `/tmp/.X11-unix`) and only that display's cookie (a descriptor, not
/// the authority file); a Wayland parent as a connected socket (a descriptor, not the path,
/// not the runtime directory).
#[derive(Debug, Clone, Default)]
pub struct ParentDisplay {
    /// `DISPLAY`.
    pub x11: Option<String>,
    /// The X authority file (`XAUTHORITY`, else `~/.Xauthority`).
    pub xauthority: Option<PathBuf>,
    /// The parent Wayland compositor's socket (absolute path).
    pub wayland: Option<PathBuf>,
}

impl ParentDisplay {
    /// What the environment offers.
    pub fn from_env(runtime_dir: &Path) -> ParentDisplay {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        let wayland = var("WAYLAND_DISPLAY").map(|w| {
            let p = PathBuf::from(&w);
            if p.is_absolute() {
                p
            } else {
                runtime_dir.join(w)
            }
        });
        ParentDisplay {
            x11: var("DISPLAY"),
            xauthority: var("XAUTHORITY")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| Path::new(&h).join(".Xauthority"))),
            wayland,
        }
    }

    /// The local X display's number and socket (`:N`, `:N.S`, `unix:N`): the only X socket
    /// the compositor's cage sees. TCP displays are not reachable from it (no network).
    pub fn x11_socket(&self) -> Option<(String, PathBuf)> {
        let display = self.x11.as_deref()?;
        let rest = display
            .strip_prefix("unix:")
            .or_else(|| display.strip_prefix(':'))?;
        let number = rest.split('.').next()?;
        if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some((
            number.to_string(),
            PathBuf::from(format!("/tmp/.X11-unix/X{number}")),
        ))
    }
}

/// The entries of an X authority file (`Xauthority` format: a u16 family, then address,
/// display number, auth name and auth data, each a big-endian u16 length and bytes) for local
/// display `number`, as a new authority file's bytes: the compositor gets these, not the
/// user's file with other displays' and hosts' cookies. They are made wildcard entries
/// (family `FamilyWild`, no address): a local entry names the host, and the compositor's cage
/// has a hostname of its own. `None` if the file does not parse.
pub fn xauthority_for(file: &[u8], number: &str) -> Option<Vec<u8>> {
    /// FamilyLocal (a host's own displays) and FamilyWild.
    const LOCAL: u16 = 256;
    const WILD: u16 = 0xffff;
    let mut out = Vec::new();
    let mut at = 0;
    while at < file.len() {
        let family = u16::from_be_bytes(file.get(at..at + 2)?.try_into().ok()?);
        at += 2;
        let mut fields: [&[u8]; 4] = [&[]; 4];
        for field in &mut fields {
            let len = u16::from_be_bytes(file.get(at..at + 2)?.try_into().ok()?) as usize;
            at += 2;
            *field = file.get(at..at + len)?;
            at += len;
        }
        let [_, entry_number, name, data] = fields;
        if matches!(family, LOCAL | WILD) && entry_number == number.as_bytes() {
            out.extend_from_slice(&WILD.to_be_bytes());
            for field in [&[][..], entry_number, name, data] {
                out.extend_from_slice(&(field.len() as u16).to_be_bytes());
                out.extend_from_slice(field);
            }
        }
    }
    Some(out)
}

/// Descriptors the launcher hands the compositor, and where they land.
pub struct CompositorFds {
    /// (level name, descriptor number, host socket path).
    pub levels: Vec<(String, i32, PathBuf)>,
    /// The private control socket.
    pub ctl: i32,
    /// The launcher's channel.
    pub manager: i32,
    /// The configuration (JSON, to read to the end).
    pub config: i32,
    /// The nested backend's parent: a connected Wayland socket (`WAYLAND_SOCKET`), or the X
    /// display's cookie (an authority file, `XAUTHORITY=/proc/self/fd/N`).
    pub parent: Option<i32>,
}

/// The compositor's open-file limit: what every level may make it hold (each client its
/// connection and the descriptors it may leave waiting, the shm pools and buffers), plus its
/// own.
pub fn compositor_nofile(config: &Config) -> u64 {
    let levels = config.levels.len() as u64;
    let per_level = (config.limits.clients * cloison_config::DESCRIPTORS_PER_CLIENT
        + config.limits.shm_buffers) as u64;
    (levels * per_level + 2048).max(8192)
}

/// The compositor's cage: no level's files, no network, the compositor profile, the
/// sockets it serves as descriptors.
#[allow(clippy::too_many_arguments)]
pub fn compositor_plan(
    paths: &SessionPaths,
    ids: Ids,
    config: &Config,
    binary: &Path,
    backend: &str,
    size: (i32, i32),
    verbose: bool,
    parent: &ParentDisplay,
    fds: &CompositorFds,
) -> CagePlan {
    let (outside_uid, outside_gid) = ids.outside(config.compositor.uid);
    let mut binds = vec![Bind {
        source: binary.to_path_buf(),
        target: COMPOSITOR_IN_CAGE.into(),
        writable: false,
    }];
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("HOME".into(), "/home/user".into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("XDG_RUNTIME_DIR".into(), format!("/run/user/{INSIDE_ID}")),
    ];
    if let Ok(filter) = std::env::var("RUST_LOG") {
        env.push(("RUST_LOG".into(), filter));
    }
    // The name the lock screen shows (the session's user; the compositor's cage has no
    // password database to look it up).
    env.push(("CLOISON_USER".into(), session_user()));
    if backend == "winit" {
        if let Some((_, socket)) = parent.x11_socket() {
            // The display's own socket, not the host's /tmp/.X11-unix: no other display, and
            // nothing the compositor could create there.
            binds.push(Bind {
                source: socket.clone(),
                target: socket,
                writable: false,
            });
            env.push(("DISPLAY".into(), parent.x11.clone().unwrap_or_default()));
            if let Some(fd) = fds.parent {
                // Only this display's cookie, as a descriptor (session.rs makes it).
                env.push(("XAUTHORITY".into(), format!("/proc/self/fd/{fd}")));
            }
        } else if let Some(fd) = fds.parent {
            // A Wayland parent: the launcher's connection to it (no path, no runtime dir).
            env.push(("WAYLAND_SOCKET".into(), fd.to_string()));
        }
    }
    if backend == "drm" {
        seat_access(&mut binds, &mut env);
    }
    let mut argv: Vec<String> = vec![
        COMPOSITOR_IN_CAGE.into(),
        "--backend".into(),
        backend.into(),
        "--size".into(),
        format!("{}x{}", size.0, size.1),
        "--config-fd".into(),
        fds.config.to_string(),
        "--ctl-fd".into(),
        fds.ctl.to_string(),
        "--launcher-fd".into(),
        fds.manager.to_string(),
    ];
    for (name, fd, path) in &fds.levels {
        argv.push("--level-fd".into());
        argv.push(format!("{name}={fd}={}", path.display()));
    }
    if verbose {
        argv.push("--verbose".into());
    }
    let mut pass_fds: Vec<i32> = fds.levels.iter().map(|(_, fd, _)| *fd).collect();
    pass_fds.extend([fds.ctl, fds.manager, fds.config]);
    pass_fds.extend(fds.parent);
    CagePlan {
        name: "compositor".into(),
        network: Network::None,
        identity: Identity {
            uid: INSIDE_ID,
            gid: INSIDE_ID,
            outside_uid,
            outside_gid,
        },
        home: paths.compositor_home(),
        etc_cache: Some(paths.etc_cache("compositor")),
        binds,
        env,
        rlimits: Rlimits {
            nproc: 512,
            // Every level's share of descriptors ([limits] clients and shm_buffers), and room
            // for the compositor's own (outputs, devices, clipboard pipes…).
            nofile: compositor_nofile(config),
            core: 0,
        },
        landlock: LandlockPolicy {
            min_abi: LANDLOCK_ABI,
            best_effort: config
                .levels
                .iter()
                .any(|l| l.landlock == LandlockMode::BestEffort),
        },
        seccomp: SeccompPolicy {
            profile: "compositor".into(),
            errno_override: None,
        },
        run: vec![argv],
        exit_with_first: true,
        pass_fds,
        listen: Vec::new(),
    }
}

/// What the compositor needs on a seat: the seat manager's socket (seatd's, else the system
/// bus for logind), read-only sysfs and udev database (to find the GPU and input devices and
/// their seat). Devices themselves are opened by the seat manager and passed as descriptors:
/// `/dev/dri` and `/dev/input` are bound like every bind, without device access (nodev).
fn seat_access(binds: &mut Vec<Bind>, env: &mut Vec<(String, String)>) {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    // libinput stats a device node before asking the seat manager to open it: the nodes
    // are visible (bound nodev, read-only), never openable.
    for dir in ["/sys", "/run/udev", "/dev/input", "/dev/dri"] {
        if Path::new(dir).is_dir() {
            binds.push(Bind {
                source: dir.into(),
                target: dir.into(),
                writable: false,
            });
        }
    }
    let seatd = var("SEATD_SOCK").unwrap_or_else(|| "/run/seatd.sock".into());
    let backend = var("LIBSEAT_BACKEND");
    // Only a socket: whatever SEATD_SOCK names is bound writable into the compositor's cage.
    let is_socket = |path: &str| {
        use std::os::unix::fs::FileTypeExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
    };
    if backend.as_deref() != Some("logind") && is_socket(&seatd) {
        binds.push(Bind {
            source: seatd.into(),
            target: "/run/cloison/seatd.sock".into(),
            writable: true,
        });
        env.push(("SEATD_SOCK".into(), "/run/cloison/seatd.sock".into()));
        env.push(("LIBSEAT_BACKEND".into(), "seatd".into()));
    } else if is_socket("/run/dbus/system_bus_socket") {
        binds.push(Bind {
            source: "/run/dbus/system_bus_socket".into(),
            target: "/run/dbus/system_bus_socket".into(),
            writable: true,
        });
        env.push(("LIBSEAT_BACKEND".into(), "logind".into()));
    }
    for name in ["XDG_SEAT", "XDG_SESSION_ID", "XDG_VTNR"] {
        if let Some(value) = var(name) {
            env.push((name.into(), value));
        }
    }
}

/// What a cage's confinement amounts to on this kernel, in words (logged at start, shown in
/// status).
pub fn enforced(plan: &CagePlan) -> String {
    let abi = cloison_cages::setup::kernel_landlock_abi();
    let landlock = if abi >= LANDLOCK_ABI as i32 {
        format!("landlock ABI {abi} (filesystem, abstract sockets, signals)")
    } else if abi >= 1 {
        format!(
            "landlock ABI {abi} (filesystem only: abstract sockets and signals NOT scoped, ABI {LANDLOCK_ABI} needed)"
        )
    } else {
        "NO landlock (the kernel has none)".to_string()
    };
    format!(
        "namespaces (user, mount, pid, ipc, uts, cgroup, network {}), {landlock}, seccomp {}, no capabilities, no_new_privs",
        plan.network, plan.seccomp.profile
    )
}

/// The session's user name (from the password database; the uid if it has none).
pub fn session_user() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn paths() -> SessionPaths {
        SessionPaths {
            runtime_dir: "/run/user/0".into(),
            session_dir: "/run/user/0/cloison".into(),
            data_dir: "/root/.local/share/cloison".into(),
            cache_dir: "/root/.cache/cloison".into(),
            state_dir: "/root/.local/state/cloison".into(),
        }
    }

    #[test]
    fn level_plans_are_valid_and_see_only_their_own_sockets() {
        let config = Config::builtin();
        let root = Ids {
            caller: 0,
            caller_gid: 0,
        };
        let tool = Path::new("/usr/bin/cloison-send");
        let daemon = Some(Path::new("/usr/bin/dbus-daemon"));
        let low = level_plan(
            &paths(),
            root,
            &config.levels[0],
            tool,
            daemon,
            None,
            None,
            Network::None,
        );
        let high = level_plan(
            &paths(),
            root,
            &config.levels[1],
            tool,
            daemon,
            Some(Path::new("/usr/bin/cloison-notifyd")),
            None,
            plain_network(&config.levels[1]),
        );
        low.validate(0).unwrap();
        high.validate(0).unwrap();
        assert_ne!(low.identity.outside_uid, high.identity.outside_uid);
        // Every writable or level-specific bind is the level's own; the only other one is the
        // read-only tool.
        for bind in &low.binds {
            if bind.source == tool {
                assert!(!bind.writable, "{bind:?}");
                continue;
            }
            assert!(
                bind.source.to_string_lossy().contains("/levels/low/"),
                "{bind:?}"
            );
        }
        assert!(low.binds.iter().any(|b| b.source == tool));
        // Its session bus: a socket its init makes inside, its daemon the first program,
        // given that socket.
        assert_eq!(
            low.listen,
            [cloison_cages::plan::Listen {
                path: paths::CAGE_BUS_SOCKET.into(),
                fd: BUS_FD
            }]
        );
        assert!(low.pass_fds.is_empty());
        assert_eq!(low.run[0][3], "/usr/bin/dbus-daemon");
        assert!(low.run[0][2].contains("exec \"$0\" --session"));
        assert!(low.env.contains(&(
            "DBUS_SESSION_BUS_ADDRESS".into(),
            "unix:path=/run/user/1000/bus".into()
        )));
        let without = level_plan(
            &paths(),
            root,
            &config.levels[0],
            tool,
            None,
            None,
            None,
            Network::None,
        );
        assert!(without.run.is_empty() && without.listen.is_empty());
        // The notification service, read-only, only where asked (and only with a bus).
        let notifyd = |p: &CagePlan| {
            p.binds
                .iter()
                .find(|b| b.target == Path::new(NOTIFYD_IN_CAGE))
                .map(|b| b.writable)
        };
        assert_eq!(notifyd(&high), Some(false));
        assert_eq!(notifyd(&low), None);
        let no_bus = level_plan(
            &paths(),
            root,
            &config.levels[1],
            tool,
            None,
            Some(Path::new("/usr/bin/cloison-notifyd")),
            None,
            Network::None,
        );
        assert_eq!(notifyd(&no_bus), None);
        // The built-in low is NAT'd: a network the session builds, none when it cannot.
        assert!(matches!(
            config.levels[0].network,
            cloison_config::Network::Nat(_)
        ));
        assert_eq!(plain_network(&config.levels[0]), Network::None);
        assert_eq!(high.network, Network::None);
        let user = Ids {
            caller: 1000,
            caller_gid: 1000,
        };
        let low = level_plan(
            &paths(),
            user,
            &config.levels[0],
            tool,
            None,
            None,
            None,
            Network::None,
        );
        low.validate(1000).unwrap();
        assert_eq!(low.identity.outside_uid, 1000);
    }

    #[test]
    fn the_compositor_plan_has_no_level_home_and_no_network() {
        let config = Config::builtin();
        let root = Ids {
            caller: 0,
            caller_gid: 0,
        };
        let fds = CompositorFds {
            levels: vec![
                (
                    "low".into(),
                    10,
                    "/run/user/0/cloison/levels/low/wayland-0".into(),
                ),
                (
                    "high".into(),
                    11,
                    "/run/user/0/cloison/levels/high/wayland-0".into(),
                ),
            ],
            ctl: 12,
            manager: 13,
            config: 14,
            parent: None,
        };
        let plan = compositor_plan(
            &paths(),
            root,
            &config,
            Path::new("/usr/bin/cloison-compositor"),
            "headless",
            (800, 600),
            false,
            &ParentDisplay::default(),
            &fds,
        );
        plan.validate(0).unwrap();
        assert_eq!(plan.network, Network::None);
        assert_eq!(plan.seccomp.profile, "compositor");
        assert_eq!(plan.pass_fds, [10, 11, 12, 13, 14]);
        for bind in &plan.binds {
            assert!(!bind.source.starts_with(paths().data_dir.join("levels")));
        }
        assert!(!plan.home.starts_with(paths().data_dir.join("levels")));
    }

    #[test]
    fn a_nested_compositor_gets_one_x_socket_and_its_parent_as_a_descriptor() {
        let config = Config::builtin();
        let root = Ids {
            caller: 0,
            caller_gid: 0,
        };
        let fds = CompositorFds {
            levels: vec![],
            ctl: 10,
            manager: 11,
            config: 12,
            parent: Some(13),
        };
        let x = ParentDisplay {
            x11: Some(":7.0".into()),
            xauthority: Some("/home/u/.Xauthority".into()),
            wayland: None,
        };
        let plan = compositor_plan(
            &paths(),
            root,
            &config,
            Path::new("/usr/bin/cloison-compositor"),
            "winit",
            (800, 600),
            false,
            &x,
            &fds,
        );
        let x_binds: Vec<_> = plan
            .binds
            .iter()
            .filter(|b| b.source.starts_with("/tmp"))
            .collect();
        assert_eq!(x_binds.len(), 1);
        assert_eq!(x_binds[0].source, Path::new("/tmp/.X11-unix/X7"));
        assert!(!x_binds[0].writable);
        assert!(
            plan.binds
                .iter()
                .all(|b| !b.source.ends_with(".Xauthority"))
        );
        assert!(
            plan.env
                .contains(&("XAUTHORITY".into(), "/proc/self/fd/13".into()))
        );
        assert_eq!(plan.pass_fds.last(), Some(&13));

        let wayland = ParentDisplay {
            x11: None,
            xauthority: None,
            wayland: Some("/run/user/1000/wayland-0".into()),
        };
        let plan = compositor_plan(
            &paths(),
            root,
            &config,
            Path::new("/usr/bin/cloison-compositor"),
            "winit",
            (800, 600),
            false,
            &wayland,
            &fds,
        );
        assert!(
            plan.binds
                .iter()
                .all(|b| !b.source.starts_with("/run/user"))
        );
        assert!(plan.env.contains(&("WAYLAND_SOCKET".into(), "13".into())));
        assert!(plan.env.iter().all(|(k, _)| k != "WAYLAND_DISPLAY"));
        assert_eq!(
            ParentDisplay {
                x11: Some("host:0".into()),
                ..x
            }
            .x11_socket(),
            None
        );
    }

    #[test]
    fn only_the_displays_cookies_are_passed_on() {
        let entry = |family: u16, address: &[u8], number: &[u8], data: &[u8]| {
            let mut out = family.to_be_bytes().to_vec();
            for field in [address, number, b"MIT-MAGIC-COOKIE-1".as_slice(), data] {
                out.extend_from_slice(&(field.len() as u16).to_be_bytes());
                out.extend_from_slice(field);
            }
            out
        };
        let mine = entry(256, b"box", b"7", &[1; 16]);
        let other = entry(256, b"box", b"0", &[2; 16]);
        let remote = entry(0, &[10, 0, 0, 1], b"7", &[3; 16]);
        let file = [other, mine, remote].concat();
        // Display 7's local cookie alone, as a wildcard entry (the cage has its own hostname).
        assert_eq!(
            xauthority_for(&file, "7"),
            Some(entry(0xffff, b"", b"7", &[1; 16]))
        );
        assert_eq!(xauthority_for(&file[..5], "7"), None, "truncated");
    }
}
