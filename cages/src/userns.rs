//! A user namespace owned by the cage's own outside uid (root sessions).
//!
//! The kernel charges the per-user counters of every process in a user namespace (inotify
//! instances and watches, pending signals, POSIX message queue bytes, user namespaces…) to the
//! namespace's *owner* in the parent namespace, against that owner's limits. A namespace
//! created by the helper, which runs as root, would charge every level to root: one level
//! could use up what every other level, and root's own services, need (`inotify_init` failing
//! in systemd and udevd).
//!
//! So in a root session each cage's user namespace is created by a short-lived child that has
//! first become the cage's outside uid: that uid owns the namespace, and every level is charged
//! to its own uid. The helper writes the namespace's maps and keeps a descriptor to it; the
//! cage's init is cloned *without* `CLONE_NEWUSER`, builds the cage's file system as root in its
//! new mount namespace (so every host path is opened with the helper's rights), then joins this
//! namespace just before becoming the cage's user ([`crate::setup::build`]). The other
//! namespaces (mount, pid, network, …) then belong to the host's user namespace, where the
//! cage holds no capability at all.
//!
//! An unprivileged session cannot do this (every cage is the caller's uid anyway): its cages
//! create their own user namespace as before.

use std::io::{Read as _, Write as _};
use std::os::fd::OwnedFd;

use nix::sched::CloneFlags;
use nix::unistd::{ForkResult, Gid, Uid, fork, setresgid, setresuid};

use crate::plan::Identity;
use crate::sys;

/// Why [`create`] failed.
#[derive(Debug, thiserror::Error)]
pub enum UserNsError {
    /// A system call on the way failed.
    #[error("{step}: {source}")]
    Sys {
        /// Which.
        step: &'static str,
        /// Its error.
        #[source]
        source: nix::Error,
    },
    /// Opening the namespace or writing its maps failed.
    #[error("{what}: {source}")]
    Proc {
        /// The file.
        what: String,
        /// Its error.
        #[source]
        source: std::io::Error,
    },
    /// The forked child could not become the owner or create the namespace (its words, passed
    /// back through a pipe).
    #[error("cannot create a user namespace owned by uid {uid}: {why}")]
    Owner {
        /// The outside uid.
        uid: u32,
        /// What the child reported.
        why: String,
    },
}

/// Creates a user namespace owned by `identity`'s outside uid, mapping the cage's uid and gid
/// to the outside ones (and nothing else); returns a descriptor to it. The caller must be root
/// and single-threaded (it forks).
pub fn create(identity: &Identity) -> Result<OwnedFd, UserNsError> {
    let sys = |step| move |source| UserNsError::Sys { step, source };
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe2"))?;
    let (done_r, done_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe2"))?;
    // SAFETY: the helper is single-threaded; the child only makes system calls and exits.
    match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            drop(ready_r);
            drop(done_w);
            // "ok", or why not (the pipe closes right after).
            let answer = match become_owner(identity) {
                Ok(()) => "ok".to_string(),
                Err(e) => e,
            };
            let _ = std::fs::File::from(ready_w).write_all(answer.as_bytes());
            // Wait until the helper holds the namespace, then go.
            let _ = std::fs::File::from(done_r).read(&mut [0u8; 1]);
            // SAFETY: _exit ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(ready_w);
            drop(done_r);
            let finish = |done_w: OwnedFd| {
                drop(done_w);
                let _ = nix::sys::wait::waitpid(child, None);
            };
            let mut answer = String::new();
            let _ = std::fs::File::from(ready_r).read_to_string(&mut answer);
            if answer != "ok" {
                finish(done_w);
                return Err(UserNsError::Owner {
                    uid: identity.outside_uid,
                    why: answer,
                });
            }
            let proc = format!("/proc/{child}");
            let io = |what: String| move |source| UserNsError::Proc { what, source };
            let result = (|| {
                let ns = std::fs::File::open(format!("{proc}/ns/user"))
                    .map_err(io(format!("open {proc}/ns/user")))?;
                // Nothing in the cage may change its groups.
                std::fs::write(format!("{proc}/setgroups"), "deny")
                    .map_err(io(format!("write {proc}/setgroups")))?;
                std::fs::write(
                    format!("{proc}/uid_map"),
                    format!("{} {} 1\n", identity.uid, identity.outside_uid),
                )
                .map_err(io(format!("write {proc}/uid_map")))?;
                std::fs::write(
                    format!("{proc}/gid_map"),
                    format!("{} {} 1\n", identity.gid, identity.outside_gid),
                )
                .map_err(io(format!("write {proc}/gid_map")))?;
                Ok(OwnedFd::from(ns))
            })();
            finish(done_w);
            result
        }
    }
}

/// In the forked child: drop every group, become the outside uid (keeping the capabilities for
/// one more call), create the namespace.
fn become_owner(identity: &Identity) -> Result<(), String> {
    nix::unistd::setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    sys::prctl(libc::PR_SET_KEEPCAPS, 1, "PR_SET_KEEPCAPS").map_err(|e| e.to_string())?;
    let gid = Gid::from_raw(identity.outside_gid);
    setresgid(gid, gid, gid).map_err(|e| format!("setresgid: {e}"))?;
    let uid = Uid::from_raw(identity.outside_uid);
    setresuid(uid, uid, uid).map_err(|e| format!("setresuid: {e}"))?;
    // Kernels that restrict unprivileged user namespaces still allow them with CAP_SYS_ADMIN,
    // which the kept permitted set can raise again. The namespace's owner is the euid.
    let (_, permitted) = sys::capget().map_err(|e| e.to_string())?;
    sys::capset(permitted, permitted, 0).map_err(|e| e.to_string())?;
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| format!("unshare: {e}"))
}

/// Joins the user namespace open as `ns` (the cage's init, once its file system is built):
/// from here on it has every capability in that namespace and none in the host's.
pub fn join(ns: OwnedFd) -> Result<(), sys::SysError> {
    sys::check(nix::sched::setns(ns, CloneFlags::CLONE_NEWUSER), || {
        "setns(the cage's user namespace, CLONE_NEWUSER)".into()
    })
}
