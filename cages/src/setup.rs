//! Building a cage, in order.
//!
//! [`prepare`] runs in the cage's first process (its init) as soon as it is in its own mount
//! namespace, before anything is mounted: it opens (O_PATH) every host path the cage will see,
//! so the cage is built from file descriptors taken once, not from paths looked up again while
//! the tree changes, and compiles the seccomp filter. [`build`] then applies the plan step by
//! step — each step one line of comment — ending with seccomp.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope,
};
use nix::mount::{MntFlags, MsFlags, umount2};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::stat::{Mode, umask};
use nix::unistd::{Gid, Uid, chdir, pivot_root, sethostname, setresgid, setresuid};

use crate::plan::{CagePlan, Network};
use crate::seccomp::{self, CompiledPolicy};
use crate::sys::{self, SysError, bind_fd, check, do_mount, mkdir_all, open_path, symlink, touch};

/// Where the new root is assembled (in the cage's own mount namespace only).
const NEW_ROOT: &str = "/tmp";

/// Top-level host entries programs need: directories are bound read-only, symlinks (merged
/// /usr) are recreated.
const SYSTEM: [&str; 7] = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// The curated `/etc`: what programs read, nothing that identifies or configures the host.
/// Directories are bound read-only, files copied. Each directory costs two mount calls at
/// every cage start, so the list stays short (the dynamic loader needs only ld.so.cache).
/// `libreoffice`: Debian's LibreOffice keeps its whole default configuration there (its
/// `/usr/lib/libreoffice/share/registry` is a link to it), and aborts at start without it.
const ETC: [&str; 21] = [
    "fonts",
    "libreoffice",
    "ssl",
    "alternatives",
    "xdg",
    "ld.so.cache",
    "ld.so.conf",
    "nsswitch.conf",
    "localtime",
    "timezone",
    "locale.alias",
    "default/locale",
    "os-release",
    "mime.types",
    "inputrc",
    "bash.bashrc",
    "profile",
    "shells",
    "protocols",
    "services",
    "ca-certificates.conf",
];

/// Device nodes bound from the host (read-write).
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// What the helper prepares before the cage exists.
pub struct Prepared {
    system: Vec<(String, SystemEntry)>,
    /// Curated `/etc` directories, bound read-only.
    etc: Vec<(String, OwnedFd)>,
    /// Curated `/etc` files and generated ones: either a cached directory bound as `/etc`, or
    /// contents written into the new root at each start.
    etc_files: EtcFiles,
    devices: Vec<(&'static str, OwnedFd)>,
    home: OwnedFd,
    binds: Vec<(PathBuf, OwnedFd, bool, bool)>,
    resolv: Option<OwnedFd>,
    /// The compiled seccomp policy.
    pub seccomp: CompiledPolicy,
}

enum EtcFiles {
    Cached(OwnedFd),
    Written(Vec<(String, Vec<u8>)>),
}

enum SystemEntry {
    Dir(OwnedFd),
    Link(String),
}

/// Errors building a cage.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A system call failed.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// Seccomp.
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    /// Landlock could not be enforced as the plan requires.
    #[error("landlock: {0}")]
    Landlock(String),
    /// A path the plan names is missing or of the wrong kind.
    #[error("{0}")]
    Path(String),
}

fn is_dir(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_dir())
}

/// Opens everything the cage will show from the host, compiles seccomp. Runs in the cage's
/// first process (the handles must belong to its mount namespace to be bound there).
pub fn prepare(plan: &CagePlan) -> Result<Prepared, SetupError> {
    let mut system = Vec::new();
    for name in SYSTEM {
        let path = Path::new("/").join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)
                    .map_err(|e| SetupError::Path(format!("readlink {}: {e}", path.display())))?;
                system.push((
                    name.to_string(),
                    SystemEntry::Link(target.to_string_lossy().into_owned()),
                ));
            }
            Ok(meta) if meta.is_dir() => {
                system.push((name.to_string(), SystemEntry::Dir(open_path(&path)?)))
            }
            _ => {}
        }
    }
    let mut etc = Vec::new();
    for name in ETC {
        let path = Path::new("/etc").join(name);
        if is_dir(&path) {
            etc.push((name.to_string(), open_path(&path)?));
        }
    }
    let etc_files = match &plan.etc_cache {
        Some(cache) => EtcFiles::Cached(open_path(cache)?),
        None => EtcFiles::Written(etc_contents(plan)),
    };
    let devices = DEVICES
        .iter()
        .map(|name| Ok((*name, open_path(&Path::new("/dev").join(name))?)))
        .collect::<Result<Vec<_>, SetupError>>()?;
    if !is_dir(&plan.home) {
        return Err(SetupError::Path(format!(
            "the level's home {} is not a directory",
            plan.home.display()
        )));
    }
    let home = open_path(&plan.home)?;
    let mut binds = Vec::new();
    for bind in &plan.binds {
        let meta = std::fs::metadata(&bind.source)
            .map_err(|e| SetupError::Path(format!("bind source {}: {e}", bind.source.display())))?;
        binds.push((
            bind.target.clone(),
            open_path(&bind.source)?,
            meta.is_dir(),
            bind.writable,
        ));
    }
    let resolv = match plan.network {
        Network::None | Network::Given { .. } => None,
        Network::Host | Network::Netns(_) => Path::new("/etc/resolv.conf")
            .exists()
            .then(|| open_path(Path::new("/etc/resolv.conf")))
            .transpose()?,
    };
    Ok(Prepared {
        system,
        etc,
        etc_files,
        devices,
        home,
        binds,
        resolv,
        seccomp: seccomp::compile(&plan.seccomp.profile, plan.seccomp.errno_override)?,
    })
}

/// The files of the cage's `/etc`: curated host files and generated account files, as
/// (relative path, contents). Directories in [`ETC`] are not included (they are bound).
fn etc_contents(plan: &CagePlan) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = ETC
        .iter()
        .filter(|name| !is_dir(&Path::new("/etc").join(name)))
        .filter_map(|name| {
            Some((
                name.to_string(),
                std::fs::read(Path::new("/etc").join(name)).ok()?,
            ))
        })
        .collect();
    let (uid, gid, name) = (plan.identity.uid, plan.identity.gid, &plan.name);
    files.push(("passwd".into(), format!("root:x:0:0:root:/root:/usr/sbin/nologin\nuser:x:{uid}:{gid}:{name} level:/home/user:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n").into_bytes()));
    files.push((
        "group".into(),
        format!("root:x:0:\nuser:x:{gid}:\nnogroup:x:65534:\n").into_bytes(),
    ));
    files.push(("hostname".into(), format!("{name}\n").into_bytes()));
    // A network the launcher built: the resolvers it chose for the level.
    if let Network::Given { resolv } = &plan.network {
        files.push(("resolv.conf".into(), resolv.clone().into_bytes()));
    }
    files.push((
        "hosts".into(),
        format!("127.0.0.1\tlocalhost {name}\n::1\tlocalhost ip6-localhost {name}\n").into_bytes(),
    ));
    files
}

/// A digest of what the cage's `/etc` is made of: host files' sizes and modification times,
/// the bound directories, and the plan's identity. Cheap to compute (a `stat` per entry).
fn etc_stamp(plan: &CagePlan) -> String {
    let mut stamp = format!(
        "v1 {} {} {} {}\n",
        plan.name,
        plan.identity.uid,
        plan.identity.gid,
        match &plan.network {
            Network::None => "none".to_string(),
            Network::Given { resolv } => format!("given {resolv:?}"),
            Network::Host | Network::Netns(_) => "host".to_string(),
        }
    );
    for name in ETC {
        let path = Path::new("/etc").join(name);
        match std::fs::metadata(&path) {
            Ok(m) => {
                use std::os::unix::fs::MetadataExt;
                stamp.push_str(&format!(
                    "{name} {} {} {}\n",
                    m.is_dir(),
                    m.size(),
                    m.mtime_nsec() as i128 + m.mtime() as i128 * 1_000_000_000
                ));
            }
            Err(_) => stamp.push_str(&format!("{name} -\n")),
        }
    }
    stamp
}

/// Makes sure the plan's `/etc` cache is current, rebuilding it (atomically: written aside,
/// then renamed into place) when a source changed. Runs in the helper, before the cage exists.
pub fn ensure_etc_cache(plan: &CagePlan) -> Result<(), SetupError> {
    let Some(cache) = &plan.etc_cache else {
        return Ok(());
    };
    let stamp = etc_stamp(plan);
    let stamp_path = cache.join(".cloison-stamp");
    if std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        return Ok(());
    }
    let io = |what: String| move |e: std::io::Error| SetupError::Path(format!("{what}: {e}"));
    let parent = cache
        .parent()
        .ok_or_else(|| SetupError::Path(format!("{} has no parent", cache.display())))?;
    std::fs::create_dir_all(parent).map_err(io(format!("mkdir -p {}", parent.display())))?;
    let fresh = parent.join(format!(".etc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    std::fs::create_dir(&fresh).map_err(io(format!("mkdir {}", fresh.display())))?;
    // Modes are set explicitly (the launcher's umask may be 077): the cage's user reads these.
    let mkdir = |dir: &Path| -> Result<(), SetupError> {
        std::fs::create_dir_all(dir).map_err(io(format!("mkdir -p {}", dir.display())))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .map_err(io(format!("chmod {}", dir.display())))
    };
    let write = |path: &Path, contents: &[u8]| -> Result<(), SetupError> {
        std::fs::write(path, contents).map_err(io(format!("write {}", path.display())))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(io(format!("chmod {}", path.display())))
    };
    mkdir(&fresh)?;
    for (name, contents) in etc_contents(plan) {
        let path = fresh.join(&name);
        if let Some(dir) = path.parent() {
            mkdir(dir)?;
        }
        write(&path, &contents)?;
    }
    // Mount points for the bound directories exist in advance: the cache is bound read-only.
    for name in ETC.iter().filter(|n| is_dir(&Path::new("/etc").join(n))) {
        mkdir(&fresh.join(name))?;
    }
    mkdir(&fresh.join("default"))?;
    if matches!(plan.network, Network::Host | Network::Netns(_)) {
        // The mount point of the host's resolv.conf (bound over it at each start).
        write(&fresh.join("resolv.conf"), b"")?;
    }
    write(&fresh.join(".cloison-stamp"), stamp.as_bytes())?;
    let old = parent.join(format!(".etc-old-{}", std::process::id()));
    if cache.exists() {
        std::fs::rename(cache, &old).map_err(io(format!("rename {}", cache.display())))?;
    }
    std::fs::rename(&fresh, cache).map_err(io(format!("rename into {}", cache.display())))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Builds the cage around the calling process (the cage's init, pid 1 of its namespaces),
/// after the helper wrote its uid/gid maps. Ends confined: no capabilities, no new privileges,
/// landlock, seccomp. `keep` are the descriptors to keep open (control socket, error pipe).
///
/// `user_ns` (root sessions, see [`crate::userns`]): the cage's user namespace, joined once the
/// file system is built. Until then init is root in the host's user namespace, in its own mount
/// namespace; without it (unprivileged sessions), init is already in a user namespace of its
/// own and becomes the cage's user first.
pub fn build(
    plan: &CagePlan,
    prepared: Prepared,
    keep: &[i32],
    user_ns: Option<OwnedFd>,
) -> Result<(), SetupError> {
    let root = Path::new(NEW_ROOT);
    let inside = |p: &str| root.join(p.trim_start_matches('/'));
    let (uid, gid) = (plan.identity.uid, plan.identity.gid);
    // Who owns the cage's own file systems, as the mounting process names them: the cage's
    // user either way.
    let (owner_uid, owner_gid) = match user_ns {
        Some(_) => (plan.identity.outside_uid, plan.identity.outside_gid),
        None => (uid, gid),
    };
    let owned = |options: &str| format!("{options},uid={owner_uid},gid={owner_gid}");

    if user_ns.is_none() {
        // Become the cage's user (the only uid mapped), keeping our capabilities for the setup.
        become_cage_user(plan)?;
    }
    // No mount or unmount here ever propagates back to the host.
    do_mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    // The new root: an empty tmpfs.
    do_mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(&owned("mode=0755")),
    )?;
    // System directories read-only; merged-/usr links recreated as links.
    for (name, entry) in &prepared.system {
        match entry {
            SystemEntry::Dir(fd) => {
                mkdir_all(&inside(name))?;
                bind_fd(fd, &inside(name), false)?;
            }
            SystemEntry::Link(target) => symlink(target, &inside(name))?,
        }
    }
    // A curated /etc, read-only: cached files (or files written now), bound directories.
    mkdir_all(&inside("etc"))?;
    match &prepared.etc_files {
        EtcFiles::Cached(fd) => bind_fd(fd, &inside("etc"), false)?,
        EtcFiles::Written(files) => {
            for (name, contents) in files {
                let target = inside("etc").join(name);
                if let Some(parent) = target.parent() {
                    mkdir_all(parent)?;
                }
                sys::write_bytes(&target, contents)?;
            }
        }
    }
    for (name, fd) in &prepared.etc {
        let target = inside("etc").join(name);
        if matches!(prepared.etc_files, EtcFiles::Written(_)) {
            mkdir_all(&target)?;
        }
        bind_fd(fd, &target, false)?;
    }
    if let Some(fd) = &prepared.resolv {
        if matches!(prepared.etc_files, EtcFiles::Written(_)) {
            touch(&inside("etc/resolv.conf"))?;
        }
        bind_fd(fd, &inside("etc/resolv.conf"), false)?;
    }
    // A minimal /dev: bound device nodes, a private pty instance, shm.
    mkdir_all(&inside("dev"))?;
    do_mount(
        Some("tmpfs"),
        &inside("dev"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(&owned("mode=0755")),
    )?;
    for (name, fd) in &prepared.devices {
        touch(&inside("dev").join(name))?;
        sys::bind_device(fd, &inside("dev").join(name))?;
    }
    mkdir_all(&inside("dev/pts"))?;
    do_mount(
        Some("devpts"),
        &inside("dev/pts"),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )?;
    symlink("pts/ptmx", &inside("dev/ptmx"))?;
    mkdir_all(&inside("dev/shm"))?;
    do_mount(
        Some("tmpfs"),
        &inside("dev/shm"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(&owned("mode=1777")),
    )?;
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, &inside("dev").join(link))?;
    }
    // A /proc of the cage's own pid namespace.
    mkdir_all(&inside("proc"))?;
    do_mount(
        Some("proc"),
        &inside("proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;
    // A private /tmp.
    mkdir_all(&inside("tmp"))?;
    do_mount(
        Some("tmpfs"),
        &inside("tmp"),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(&owned("mode=1777")),
    )?;
    // The level's home, read-write.
    mkdir_all(&inside("home/user"))?;
    bind_fd(&prepared.home, &inside("home/user"), true)?;
    // The runtime directory, private to the cage's user.
    let runtime = format!("run/user/{uid}");
    mkdir_all(&inside(&runtime))?;
    do_mount(
        Some("tmpfs"),
        &inside(&runtime),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(&owned("mode=0700")),
    )?;
    // The plan's binds (the level's sockets, …).
    for (target, fd, dir, writable) in &prepared.binds {
        let t = inside(&target.to_string_lossy());
        if *dir {
            mkdir_all(&t)?
        } else {
            touch(&t)?
        }
        bind_fd(fd, &t, *writable)?;
    }
    // The host handles are no longer needed: close them (before closing strays below).
    let Prepared {
        system,
        etc,
        etc_files,
        devices,
        home,
        binds,
        resolv,
        seccomp: policy,
        ..
    } = prepared;
    drop((system, etc, etc_files, devices, home, binds, resolv));
    // Switch to the new root and detach the old one.
    check(chdir(root), || format!("chdir({NEW_ROOT})"))?;
    check(pivot_root(".", "."), || "pivot_root(., .)".into())?;
    check(umount2(".", MntFlags::MNT_DETACH), || {
        "umount2(old root, MNT_DETACH)".into()
    })?;
    check(chdir("/"), || "chdir(/)".into())?;
    // The root itself becomes read-only.
    do_mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None,
    )?;
    check(chdir("/home/user"), || "chdir(/home/user)".into())?;
    // The level's name as hostname.
    check(sethostname(&plan.name), || {
        format!("sethostname({})", plan.name)
    })?;
    // No network: only the loopback interface, up.
    if plan.network == Network::None {
        loopback_up()?;
    }
    if let Some(ns) = user_ns {
        // Root's supplementary groups go before anything else changes.
        check(nix::unistd::setgroups(&[]), || "setgroups([])".into())?;
        // Into the cage's user namespace (owned by its outside uid): every capability there,
        // none over the namespaces just set up, which belong to the host's.
        crate::userns::join(ns)?;
        become_cage_user(plan)?;
    }
    // Resource limits from the plan, as ceilings: a limit above what the cage's creator may have
    // (its hard limit: 4096 open files for a console login's shell, say) cannot be raised in a
    // user namespace, and is the tighter bound anyway.
    for (resource, value, name) in [
        (Resource::RLIMIT_NPROC, plan.rlimits.nproc, "RLIMIT_NPROC"),
        (
            Resource::RLIMIT_NOFILE,
            plan.rlimits.nofile,
            "RLIMIT_NOFILE",
        ),
        (Resource::RLIMIT_CORE, plan.rlimits.core, "RLIMIT_CORE"),
    ] {
        let hard = check(getrlimit(resource), || format!("getrlimit({name})"))?.1;
        let value = value.min(hard);
        check(setrlimit(resource, value, value), || {
            format!("setrlimit({name}, {value})")
        })?;
    }
    // Private files by default.
    umask(Mode::from_bits_truncate(0o077));
    // Only the descriptors the plan passes stay open.
    let mut kept: Vec<i32> = keep.to_vec();
    kept.sort_unstable();
    sys::close_all_except(3, &kept)?;
    // No privilege can be gained by exec from here on.
    sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")?;
    // Every capability dropped: bounding set, ambient set, then the thread's sets.
    drop_capabilities()?;
    // Landlock: exactly the cage's paths, and no reaching abstract sockets or processes outside.
    landlock(plan)?;
    // Seccomp, last: the level's system-call policy (inherited by every process of the cage).
    seccomp::install(&policy)?;
    Ok(())
}

/// Becomes the cage's user (the only uid mapped), keeping the capabilities the rest of the
/// build needs (they are dropped at its end).
fn become_cage_user(plan: &CagePlan) -> Result<(), SetupError> {
    let (uid, gid) = (plan.identity.uid, plan.identity.gid);
    sys::prctl(libc::PR_SET_KEEPCAPS, 1, "PR_SET_KEEPCAPS")?;
    check(
        setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid)),
        || format!("setresgid({gid})"),
    )?;
    // Supplementary groups can only be dropped where setgroups is allowed (and were dropped
    // already in a root session).
    let _ = nix::unistd::setgroups(&[]);
    check(
        setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid)),
        || format!("setresuid({uid})"),
    )?;
    let (_, permitted) = sys::capget()?;
    sys::capset(permitted, permitted, 0)?;
    // A change of effective uid clears the parent-death signal: set it again (init dies with
    // the helper).
    sys::prctl(
        libc::PR_SET_PDEATHSIG,
        libc::SIGKILL as libc::c_ulong,
        "PR_SET_PDEATHSIG",
    )?;
    Ok(())
}

fn loopback_up() -> Result<(), SetupError> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
    let sock = check(
        socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        ),
        || "socket(AF_INET, SOCK_DGRAM)".into(),
    )?;
    // SAFETY: ifreq is a plain C struct; all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags union member of `req`, which is
    // valid and live; the socket is open.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) };
    check(nix::errno::Errno::result(r).map(drop), || {
        "ioctl(SIOCGIFFLAGS, lo)".into()
    })?;
    // SAFETY: ifru_flags is the member SIOCGIFFLAGS filled.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above, SIOCSIFFLAGS reads `req`.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) };
    check(nix::errno::Errno::result(r).map(drop), || {
        "ioctl(SIOCSIFFLAGS, lo up)".into()
    })?;
    Ok(())
}

fn drop_capabilities() -> Result<(), SetupError> {
    for cap in 0..64 {
        // Capabilities past the kernel's last one give EINVAL: the loop just ends there.
        if sys::prctl(libc::PR_CAPBSET_DROP, cap, "PR_CAPBSET_DROP").is_err() && cap > 40 {
            break;
        }
    }
    sys::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        "PR_CAP_AMBIENT_CLEAR_ALL",
    )?;
    sys::capset(0, 0, 0)?;
    Ok(())
}

/// The Landlock ABI the kernel offers (0 if none).
pub fn kernel_landlock_abi() -> i32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) reads no memory
    // and returns the ABI version.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    r.max(0) as i32
}

fn abi_of(version: u8) -> ABI {
    match version {
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        _ => ABI::V6,
    }
}

fn landlock(plan: &CagePlan) -> Result<(), SetupError> {
    let kernel = kernel_landlock_abi();
    let wanted = plan.landlock.min_abi.min(6);
    if kernel < wanted as i32 && !plan.landlock.best_effort {
        return Err(SetupError::Landlock(format!(
            "the kernel offers Landlock ABI {kernel}, the plan needs {wanted}; upgrade the kernel or set landlock = \"best-effort\""
        )));
    }
    let abi = abi_of(wanted);
    let level = if plan.landlock.best_effort {
        CompatLevel::BestEffort
    } else {
        CompatLevel::HardRequirement
    };
    let read_exec = AccessFs::from_read(abi);
    let all = AccessFs::from_all(abi);
    let files_only = AccessFs::from_file(abi);
    let rule = |path: &str,
                access: landlock::BitFlags<AccessFs>|
     -> Result<Option<PathBeneath<PathFd>>, SetupError> {
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(None);
        };
        // Directory-only rights make no sense (and are refused) on a file.
        let access = if meta.is_dir() {
            access
        } else {
            access & files_only
        };
        let fd = PathFd::new(path).map_err(|e| SetupError::Landlock(format!("{path}: {e}")))?;
        Ok(Some(PathBeneath::new(fd, access)))
    };
    let uid = plan.identity.uid;
    let runtime = format!("/run/user/{uid}");
    let mut rules = Vec::new();
    // The cage's own skeleton can be listed (`ls /`, `ls /run`): everything under its root is
    // the cage's; listing gives nothing else.
    rules.extend(rule("/", AccessFs::ReadDir.into())?);
    // Programs and their data: read and execute.
    for path in [
        "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/dev/fd",
    ] {
        rules.extend(rule(path, read_exec)?);
    }
    // The user's places: everything.
    for path in [
        "/home/user",
        "/tmp",
        runtime.as_str(),
        "/dev/shm",
        "/dev/pts",
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ] {
        rules.extend(rule(path, all)?);
    }
    for bind in &plan.binds {
        let target = bind.target.to_string_lossy();
        let access = if bind.writable { all } else { read_exec };
        rules.extend(rule(&target, access)?);
    }
    let mut ruleset = Ruleset::default().set_compatibility(level);
    ruleset = ruleset
        .handle_access(all)
        .map_err(|e| SetupError::Landlock(e.to_string()))?;
    if wanted >= 6 {
        ruleset = ruleset
            .scope(Scope::AbstractUnixSocket | Scope::Signal)
            .map_err(|e| SetupError::Landlock(e.to_string()))?;
    }
    let created = ruleset
        .create()
        .map_err(|e| SetupError::Landlock(e.to_string()))?;
    let created = created
        .add_rules(rules.into_iter().map(Ok::<_, landlock::RulesetError>))
        .map_err(|e| SetupError::Landlock(e.to_string()))?;
    let status = created
        .restrict_self()
        .map_err(|e| SetupError::Landlock(e.to_string()))?;
    if status.ruleset == RulesetStatus::NotEnforced && !plan.landlock.best_effort {
        return Err(SetupError::Landlock("the ruleset is not enforced".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_etc_cache_is_built_readable_reused_and_rebuilt_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = crate::plan::tests::plan();
        plan.etc_cache = Some(dir.path().join("etc"));
        // The launcher may run with umask 077 (no other test here depends on the mask).
        let old = umask(Mode::from_bits_truncate(0o077));
        ensure_etc_cache(&plan).unwrap();
        umask(old);
        let passwd = dir.path().join("etc/passwd");
        let meta = std::fs::metadata(&passwd).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o644, "readable by the cage's user");
        assert!(
            std::fs::read_to_string(&passwd)
                .unwrap()
                .contains("user:x:1000:1000:low level:/home/user")
        );
        assert!(!dir.path().join("etc/resolv.conf").exists(), "no network");
        // Unchanged sources: the cache is reused as is.
        ensure_etc_cache(&plan).unwrap();
        assert_eq!(std::fs::metadata(&passwd).unwrap().ino(), meta.ino());
        // A different identity or network: rebuilt.
        plan.identity.uid = 1001;
        plan.network = Network::Host;
        ensure_etc_cache(&plan).unwrap();
        assert!(
            std::fs::read_to_string(&passwd)
                .unwrap()
                .contains("user:x:1001:1000")
        );
        assert!(dir.path().join("etc/resolv.conf").exists());
        // Nothing is left aside.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["etc"]);
    }
}
