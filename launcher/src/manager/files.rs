//! Delivering a file into a level's incoming folder, safely against that level.
//!
//! The target level owns its home and may change it at any moment (replace a directory with a
//! symlink, pre-create names, plant FIFOs). So nothing here resolves a path the target controls
//! except through `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`
//! relative to directory descriptors opened the same way, every file is created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` under a random temporary name, owned by root and mode 0600
//! until it is complete, and appears under its final name only through
//! `renameat2(RENAME_NOREPLACE)`. A failure removes the temporary file. The source is an open
//! descriptor the sending level passed (never a path in that level).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd as _, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;
use sha2::{Digest, Sha256};

/// Longest delivered name component, in bytes.
pub const MAX_NAME: usize = 200;
/// Most components of a delivered name (folders sent with `-r` included).
pub const MAX_DEPTH: usize = 16;
/// Copy step (progress and cancellation are checked between steps).
const STEP: usize = 16 << 20;

/// Why a delivery failed (the message is shown to the sender).
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The user or the sender cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The source changed while it was copied.
    #[error("the file changed while it was copied ({0})")]
    Changed(String),
    /// The target has no room.
    #[error("no space left in the target level's home")]
    NoSpace,
    /// The target's incoming folder is not usable as it is (e.g. replaced by a symlink).
    #[error("the target's incoming folder is not usable: {0}")]
    Target(String),
    /// The record naming the file and its hash could not be written: it was not published.
    #[error("the audit log cannot be written: not delivered")]
    Unrecorded,
    /// Anything else.
    #[error("{0}")]
    Io(String),
}

impl From<Errno> for DeliverError {
    fn from(e: Errno) -> Self {
        match e {
            Errno::ENOSPC | Errno::EDQUOT => DeliverError::NoSpace,
            e => DeliverError::Io(e.desc().to_string()),
        }
    }
}

impl From<std::io::Error> for DeliverError {
    fn from(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(code) => Errno::from_raw(code).into(),
            None => DeliverError::Io(e.to_string()),
        }
    }
}

fn how(flags: OFlag, mode: u32) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .mode(Mode::from_bits_truncate(mode))
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        )
}

/// Opens (creating it if missing) the directory `name` beneath `dir`, never through a
/// symlink; a new one is given to `owner`, mode 0750.
fn subdir(dir: &OwnedFd, name: &str, owner: (u32, u32)) -> Result<OwnedFd, DeliverError> {
    let created =
        match nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), name, Mode::from_bits_truncate(0o750))
        {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => return Err(DeliverError::Target(format!("{name}: {}", e.desc()))),
        };
    let fd = openat2(
        dir.as_raw_fd(),
        name,
        how(OFlag::O_DIRECTORY | OFlag::O_RDONLY, 0),
    )
    .map_err(|e| DeliverError::Target(format!("{name}: {}", e.desc())))?;
    // SAFETY: openat2 just returned this new descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    if created {
        nix::unistd::fchown(
            fd.as_raw_fd(),
            Some(nix::unistd::Uid::from_raw(owner.0)),
            Some(nix::unistd::Gid::from_raw(owner.1)),
        )?;
    }
    Ok(fd)
}

/// The target level's `~/Incoming/<source>/`, opened beneath its home.
pub fn incoming(home: &Path, source: &str, owner: (u32, u32)) -> Result<OwnedFd, DeliverError> {
    // The home's own path is the launcher's (levels cannot change it); it is opened without
    // following a symlink at its end all the same.
    let home = nix::fcntl::open(
        home,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| DeliverError::Target(format!("{}: {}", home.display(), e.desc())))?;
    // SAFETY: open just returned this new descriptor.
    let home = unsafe { OwnedFd::from_raw_fd(home) };
    let inbox = subdir(&home, "Incoming", owner)?;
    subdir(&inbox, source, owner)
}

/// A name a level gave, made safe to create: each `/`-separated component without control,
/// bidi or invisible characters, never empty, `.` or `..`, at most [`MAX_NAME`] bytes (the
/// extension kept); at most [`MAX_DEPTH`] components (deeper ones are joined with `_` into the
/// last: a sender cannot make the manager walk or create folders without end). Components
/// are joined with `/` (directories sent with `-r`).
pub fn sanitize(name: &str) -> String {
    let raw: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
    let mut parts: Vec<String> = raw
        .iter()
        .take(MAX_DEPTH - 1)
        .map(|p| sanitize_component(p))
        .collect();
    if raw.len() >= MAX_DEPTH {
        parts.push(sanitize_component(&raw[MAX_DEPTH - 1..].join("_")));
    }
    if parts.is_empty() {
        "unnamed".into()
    } else {
        parts.join("/")
    }
}

fn sanitize_component(part: &str) -> String {
    let cleaned: String = part
        .chars()
        // The same invisible, zero-width and bidi set as every text trusted UI shows.
        .filter(|&c| !(c.is_control() || cloison_config::text::is_invisible(c)))
        .collect();
    let cleaned = cleaned.trim();
    let cleaned = match cleaned {
        "" | "." | ".." => "_".to_string(),
        c => c.to_string(),
    };
    if cleaned.len() <= MAX_NAME {
        return cleaned;
    }
    // Keep a short extension, cut the stem at a character boundary.
    let ext = Path::new(&cleaned)
        .extension()
        .map(|e| e.to_string_lossy().to_string())
        .filter(|e| e.len() <= 16)
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    let mut stem = String::new();
    for c in cleaned.chars() {
        if stem.len() + c.len_utf8() + ext.len() + 3 > MAX_NAME {
            break;
        }
        stem.push(c);
    }
    format!("{stem}…{ext}")
}

/// `name (n).ext` for the n-th collision.
fn numbered(name: &str, n: u32) -> String {
    let path = Path::new(name);
    match (path.file_stem(), path.extension()) {
        (Some(stem), Some(ext)) if !stem.is_empty() => {
            format!("{} ({n}).{}", stem.to_string_lossy(), ext.to_string_lossy())
        }
        _ => format!("{name} ({n})"),
    }
}

/// What a delivery produced.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The name it got (relative to the incoming folder).
    pub name: String,
    /// SHA-256 of what was written.
    pub sha256: String,
}

/// Copies `size` bytes of `source` into `dir` under the (sanitised, possibly `a/b/c`) `name`,
/// given to `owner` with mode 0640. `progress` gets the bytes done after each step; `cancel`
/// stops it between steps; `record` gets the SHA-256 of what was written once it is complete,
/// before it appears under its name, and must have recorded it (else nothing is published:
/// [`DeliverError::Unrecorded`]).
#[allow(clippy::too_many_arguments)]
pub fn deliver(
    source: &File,
    size: u64,
    dir: &OwnedFd,
    name: &str,
    owner: (u32, u32),
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64),
    record: &mut dyn FnMut(&str) -> bool,
) -> Result<Delivered, DeliverError> {
    // Subdirectories of a directory sent with -r.
    let mut parts: Vec<&str> = name.split('/').collect();
    let file_name = parts.pop().unwrap_or("unnamed").to_string();
    let mut held: Vec<OwnedFd> = Vec::new();
    for part in parts {
        let next = subdir(held.last().unwrap_or(dir), part, owner)?;
        held.push(next);
    }
    let dir = held.last().unwrap_or(dir);

    // A fresh temporary name: O_EXCL refuses anything already there (file, symlink, FIFO).
    let mut attempt = 0;
    let (tmp_name, tmp) = loop {
        let random: u64 = {
            let mut b = [0u8; 8];
            let _ = getrandom_fill(&mut b);
            u64::from_ne_bytes(b)
        };
        let tmp_name = format!(".cloison-{random:016x}.part");
        match openat2(
            dir.as_raw_fd(),
            tmp_name.as_str(),
            how(
                // Read too: the hash reads back what was written.
                OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW,
                0o600,
            ),
        ) {
            // SAFETY: openat2 just returned this new descriptor.
            Ok(fd) => break (tmp_name, unsafe { File::from_raw_fd(fd) }),
            Err(Errno::EEXIST) if attempt < 8 => attempt += 1,
            Err(e) => return Err(DeliverError::Target(e.desc().to_string())),
        }
    };
    let result = copy_and_publish(
        source, size, &tmp, dir, &tmp_name, &file_name, owner, cancel, progress, record,
    );
    if result.is_err() {
        let _ = nix::unistd::unlinkat(
            Some(dir.as_raw_fd()),
            tmp_name.as_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
    }
    result
}

fn getrandom_fill(buf: &mut [u8]) -> std::io::Result<()> {
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn copy_and_publish(
    source: &File,
    size: u64,
    tmp: &File,
    dir: &OwnedFd,
    tmp_name: &str,
    file_name: &str,
    owner: (u32, u32),
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64),
    record: &mut dyn FnMut(&str) -> bool,
) -> Result<Delivered, DeliverError> {
    // The hash follows the copy in another thread, reading what was written (the source could
    // change under us; the written bytes cannot: the file is still root's, mode 0600).
    let copied = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let reader = tmp.try_clone()?;
    let (c, f) = (copied.clone(), finished.clone());
    let hasher = std::thread::spawn(move || -> std::io::Result<String> {
        let mut hash = Sha256::new();
        let mut done = 0u64;
        let mut buf = vec![0u8; 4 << 20];
        loop {
            let available = c.load(Ordering::Acquire);
            if available > done {
                let want = ((available - done) as usize).min(buf.len());
                let n = nix::sys::uio::pread(&reader, &mut buf[..want], done as i64)?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                done += n as u64;
            } else if f.load(Ordering::Acquire) {
                if c.load(Ordering::Acquire) == done {
                    break;
                }
            } else {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        }
        Ok(super::audit::hex(&hash.finalize()))
    });
    let copy = copy_data(source, size, tmp, cancel, &copied, progress);
    finished.store(true, Ordering::Release);
    // The data reaches the disk while the hash catches up: with two cores, SHA-256 (about
    // 1.4 GB/s here) is slower than the copy, and the fsync hides behind it. (Starting
    // writeback during the copy with sync_file_range slowed the copy down more than it saved.)
    let synced = if copy.is_ok() { tmp.sync_all() } else { Ok(()) };
    let hash = hasher.join();
    copy?;
    synced?;
    let sha256 = match hash {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => return Err(DeliverError::Io("hashing failed".into())),
    };
    // The source must still be what was announced.
    let now = source.metadata()?.len();
    if now != size {
        return Err(DeliverError::Changed(format!(
            "{size} bytes announced, {now} now"
        )));
    }
    // What the target is about to be able to read, and its hash, is on record before it can:
    // until the fchown below the temporary file is root's, mode 0600.
    if !record(&sha256) {
        return Err(DeliverError::Unrecorded);
    }
    nix::unistd::fchown(
        tmp.as_raw_fd(),
        Some(nix::unistd::Uid::from_raw(owner.0)),
        Some(nix::unistd::Gid::from_raw(owner.1)),
    )?;
    nix::sys::stat::fchmod(tmp.as_raw_fd(), Mode::from_bits_truncate(0o640))?;
    // Publish under the final name, never over anything that exists.
    for n in 0..1000u32 {
        let candidate = if n == 0 {
            file_name.to_string()
        } else {
            numbered(file_name, n)
        };
        match nix::fcntl::renameat2(
            Some(dir.as_raw_fd()),
            tmp_name,
            Some(dir.as_raw_fd()),
            candidate.as_str(),
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => {
                // The directory entry is durable too.
                let _ = nix::unistd::fsync(dir.as_raw_fd());
                return Ok(Delivered {
                    name: candidate,
                    sha256,
                });
            }
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(DeliverError::Target(e.desc().to_string())),
        }
    }
    Err(DeliverError::Target("too many files with this name".into()))
}

fn copy_data(
    source: &File,
    size: u64,
    tmp: &File,
    cancel: &AtomicBool,
    copied: &AtomicU64,
    progress: &mut dyn FnMut(u64),
) -> Result<(), DeliverError> {
    let mut offset: i64 = 0;
    let mut kernel_copy = true;
    let mut buf = Vec::new();
    while (offset as u64) < size {
        if cancel.load(Ordering::Relaxed) {
            return Err(DeliverError::Cancelled);
        }
        let want = ((size - offset as u64) as usize).min(STEP);
        let n = if kernel_copy {
            let mut src_off = offset;
            let mut dst_off = offset;
            match nix::fcntl::copy_file_range(
                source.as_fd(),
                Some(&mut src_off),
                tmp.as_fd(),
                Some(&mut dst_off),
                want,
            ) {
                Ok(n) => n,
                Err(Errno::EXDEV | Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {
                    kernel_copy = false;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            buf.resize(want.min(4 << 20), 0);
            let n = nix::sys::uio::pread(source, &mut buf, offset)?;
            let mut written = 0;
            while written < n {
                written += nix::sys::uio::pwrite(tmp, &buf[written..n], offset + written as i64)?;
            }
            n
        };
        if n == 0 {
            return Err(DeliverError::Changed(format!(
                "it ended at {offset} of {size} bytes"
            )));
        }
        offset += n as i64;
        copied.store(offset as u64, Ordering::Release);
        progress(offset as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::os::unix::fs::MetadataExt as _;

    #[test]
    fn names_are_made_safe() {
        assert_eq!(sanitize("../../x"), "_/_/x");
        assert_eq!(sanitize("a\nb"), "ab");
        assert_eq!(sanitize("\u{202e}fdp.exe"), "fdp.exe");
        assert_eq!(sanitize(""), "unnamed");
        assert_eq!(sanitize("/etc/passwd"), "etc/passwd");
        let long = format!("{}.pdf", "é".repeat(5000));
        let s = sanitize(&long);
        assert!(s.len() <= MAX_NAME && s.ends_with("….pdf"), "{s}");
        // No folders without end: the 16th component holds the rest.
        let deep = sanitize(&"a/".repeat(1000));
        assert_eq!(deep.split('/').count(), MAX_DEPTH, "{deep}");
        assert!(
            deep.split('/').next_back().unwrap().starts_with("a_a_a"),
            "{deep}"
        );
        assert!(deep.split('/').all(|p| p.len() <= MAX_NAME));
        assert_eq!(numbered("report.pdf", 2), "report (2).pdf");
        assert_eq!(numbered("Makefile", 1), "Makefile (1)");
    }

    fn source(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn a_delivery_lands_whole_under_a_free_name_and_never_through_a_symlink() {
        let home = tempfile::tempdir().unwrap();
        let me = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        let dir = incoming(home.path(), "low", me).unwrap();
        let inbox = home.path().join("Incoming/low");
        // A name already taken by a symlink and a FIFO: neither is followed or opened.
        std::os::unix::fs::symlink("/etc/passwd", inbox.join("a.txt")).unwrap();
        nix::unistd::mkfifo(&inbox.join("a (1).txt"), Mode::from_bits_truncate(0o600)).unwrap();
        let data = vec![7u8; 3 << 20];
        let never = AtomicBool::new(false);
        let mut last = 0;
        let got = deliver(
            &source(&data),
            data.len() as u64,
            &dir,
            "a.txt",
            me,
            &never,
            &mut |d| last = d,
            &mut |_| true,
        )
        .unwrap();
        assert_eq!(got.name, "a (2).txt");
        assert_eq!(got.sha256, crate::manager::audit::sha256(&data));
        assert_eq!(last, data.len() as u64);
        let meta = std::fs::metadata(inbox.join("a (2).txt")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o640);
        assert_eq!(std::fs::read(inbox.join("a (2).txt")).unwrap(), data);
        assert_ne!(std::fs::read("/etc/passwd").unwrap(), data);
        // Subdirectories of a tree.
        let got = deliver(
            &source(b"x"),
            1,
            &dir,
            "tree/sub/b.txt",
            me,
            &never,
            &mut |_| (),
            &mut |_| true,
        )
        .unwrap();
        assert_eq!(got.name, "b.txt");
        // A file whose record cannot be written is not published, and nothing is left.
        let mut recorded = None;
        let e = deliver(
            &source(b"unrecorded"),
            10,
            &dir,
            "u.txt",
            me,
            &never,
            &mut |_| (),
            &mut |sha| {
                recorded = Some(sha.to_string());
                false
            },
        )
        .unwrap_err();
        assert!(matches!(e, DeliverError::Unrecorded), "{e}");
        assert_eq!(recorded, Some(crate::manager::audit::sha256(b"unrecorded")));
        assert!(!inbox.join("u.txt").exists());
        assert_eq!(std::fs::read(inbox.join("tree/sub/b.txt")).unwrap(), b"x");
        // No temporary file is left.
        let names: Vec<String> = std::fs::read_dir(&inbox)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".part")), "{names:?}");
    }

    #[test]
    fn a_replaced_incoming_folder_is_refused_and_failures_leave_nothing() {
        let home = tempfile::tempdir().unwrap();
        let me = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        std::fs::create_dir(home.path().join("Incoming")).unwrap();
        std::os::unix::fs::symlink("/etc", home.path().join("Incoming/low")).unwrap();
        assert!(matches!(
            incoming(home.path(), "low", me),
            Err(DeliverError::Target(_))
        ));
        std::fs::remove_file(home.path().join("Incoming/low")).unwrap();
        std::fs::remove_dir(home.path().join("Incoming")).unwrap();
        std::os::unix::fs::symlink("/", home.path().join("Incoming")).unwrap();
        assert!(matches!(
            incoming(home.path(), "low", me),
            Err(DeliverError::Target(_))
        ));
        std::fs::remove_file(home.path().join("Incoming")).unwrap();

        let dir = incoming(home.path(), "low", me).unwrap();
        // A source shorter than announced: refused, nothing left.
        let never = AtomicBool::new(false);
        let e = deliver(
            &source(b"short"),
            100,
            &dir,
            "s.txt",
            me,
            &never,
            &mut |_| (),
            &mut |_| true,
        )
        .unwrap_err();
        assert!(matches!(e, DeliverError::Changed(_)), "{e}");
        // Cancelled: nothing left.
        let cancel = AtomicBool::new(true);
        let e = deliver(
            &source(b"x"),
            1,
            &dir,
            "c.txt",
            me,
            &cancel,
            &mut |_| (),
            &mut |_| true,
        )
        .unwrap_err();
        assert!(matches!(e, DeliverError::Cancelled));
        assert_eq!(
            std::fs::read_dir(home.path().join("Incoming/low"))
                .unwrap()
                .count(),
            0
        );
    }
}
