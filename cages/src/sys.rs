//! Thin wrappers over system calls whose errors name the call and its arguments, so a failed
//! cage says exactly what it could not do.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::Mode;

/// A failed system call.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {source}")]
pub struct SysError {
    /// The call and its arguments.
    pub call: String,
    /// What the kernel said.
    pub source: nix::Error,
}

/// Result of a wrapped call.
pub type SysResult<T> = Result<T, SysError>;

/// Attaches `call` to an error.
pub fn check<T>(result: nix::Result<T>, call: impl FnOnce() -> String) -> SysResult<T> {
    result.map_err(|source| SysError {
        call: call(),
        source,
    })
}

/// `mount(source, target, fstype, flags, data)`.
pub fn do_mount(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> SysResult<()> {
    check(mount(source, target, fstype, flags, data), || {
        format!(
            "mount({source:?}, {}, {fstype:?}, {flags:?}, {data:?})",
            target.display()
        )
    })
}

/// Binds the file or directory open as `fd` at `target` (which must exist), read-only unless
/// `writable`, always nosuid and nodev.
pub fn bind_fd(fd: &OwnedFd, target: &Path, writable: bool) -> SysResult<()> {
    bind_fd_flags(fd, target, writable, MsFlags::MS_NODEV)
}

/// Binds one of the host's device nodes (the one bind that keeps device access).
pub fn bind_device(fd: &OwnedFd, target: &Path) -> SysResult<()> {
    bind_fd_flags(fd, target, true, MsFlags::MS_NOEXEC)
}

fn bind_fd_flags(fd: &OwnedFd, target: &Path, writable: bool, extra: MsFlags) -> SysResult<()> {
    let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
    do_mount(
        Some(&source),
        target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | extra;
    // A remount inside a user namespace must keep the source mount's locked flags (sysfs is
    // noexec, for one).
    if let Ok(st) = nix::sys::statvfs::fstatvfs(fd)
        && st.flags().contains(nix::sys::statvfs::FsFlags::ST_NOEXEC)
    {
        flags |= MsFlags::MS_NOEXEC;
    }
    if !writable {
        flags |= MsFlags::MS_RDONLY;
    }
    do_mount(None, target, None, flags, None)
}

/// `open(2)` returning an owned descriptor.
fn open_owned(path: &Path, flags: OFlag, mode: Mode) -> nix::Result<OwnedFd> {
    let fd = open(path, flags | OFlag::O_CLOEXEC, mode)?;
    // SAFETY: open just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `open(path, O_PATH | O_CLOEXEC)`: a handle on a host path taken before the host's tree is
/// hidden.
pub fn open_path(path: &Path) -> SysResult<OwnedFd> {
    check(open_owned(path, OFlag::O_PATH, Mode::empty()), || {
        format!("open({}, O_PATH)", path.display())
    })
}

/// `mkdir -p` with mode 0755.
pub fn mkdir_all(path: &Path) -> SysResult<()> {
    std::fs::create_dir_all(path).map_err(|e| SysError {
        call: format!("mkdir -p {}", path.display()),
        source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })
}

/// Creates an empty file (a mount point for a file bind).
pub fn touch(path: &Path) -> SysResult<()> {
    if let Some(parent) = path.parent() {
        mkdir_all(parent)?;
    }
    check(
        open_owned(
            path,
            OFlag::O_CREAT | OFlag::O_WRONLY,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop),
        || format!("creat({})", path.display()),
    )
}

/// Writes a file (creating it).
pub fn write_file(path: &Path, contents: &str) -> SysResult<()> {
    write_bytes(path, contents.as_bytes())
}

/// Writes bytes to a file (creating it).
pub fn write_bytes(path: &Path, contents: &[u8]) -> SysResult<()> {
    std::fs::write(path, contents).map_err(|e| SysError {
        call: format!("write {}", path.display()),
        source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })
}

/// `symlink(target, link)`.
pub fn symlink(target: &str, link: &Path) -> SysResult<()> {
    check(nix::unistd::symlinkat(target, None, link), || {
        format!("symlink({target}, {})", link.display())
    })
}

/// `prctl(option, arg)`.
pub fn prctl(option: libc::c_int, arg: libc::c_ulong, name: &str) -> SysResult<()> {
    // SAFETY: prctl with integer arguments only; the options used here read no memory.
    let r = unsafe {
        libc::prctl(
            option,
            arg,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    check(nix::errno::Errno::result(r).map(drop), || {
        format!("prctl({name}, {arg})")
    })
}

/// Sets the effective, permitted and inheritable capability sets (all capabilities: two
/// 32-bit words each).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let data = [
        Data {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        Data {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and data are valid, properly laid out (repr(C)) for capset v3, which
    // reads two Data entries, and live for the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    check(nix::errno::Errno::result(r).map(drop), || {
        format!("capset(eff {effective:#x}, prm {permitted:#x}, inh {inheritable:#x})")
    })
}

/// Reads the effective/permitted capability sets of the calling thread.
pub fn capget() -> SysResult<(u64, u64)> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget v3 writes two Data entries into `data`, which is large enough and live.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &header as *const Header,
            data.as_mut_ptr(),
        )
    };
    check(nix::errno::Errno::result(r).map(drop), || "capget()".into())?;
    let join = |lo: u32, hi: u32| lo as u64 | (hi as u64) << 32;
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
    ))
}

/// `close_range(first, ~0)` except for `keep` (which must be sorted): closes every
/// descriptor the plan did not ask for.
pub fn close_all_except(first: RawFd, keep: &[RawFd]) -> SysResult<()> {
    let mut from = first;
    for &k in keep.iter().filter(|&&k| k >= first) {
        if k > from {
            close_range(from, k - 1)?;
        }
        from = k + 1;
    }
    close_range(from, RawFd::MAX)
}

fn close_range(first: RawFd, last: RawFd) -> SysResult<()> {
    // SAFETY: close_range only closes descriptors; the caller owns every fd in the range (the
    // process is single-threaded and about to exec or serve as init).
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            last as libc::c_uint,
            0 as libc::c_uint,
        )
    };
    check(nix::errno::Errno::result(r).map(drop), || {
        format!("close_range({first}, {last})")
    })
}

/// A path as a C string (paths in plans are validated: no NUL).
pub fn cstring(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}
