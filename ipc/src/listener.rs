//! Serving a listening socket from an event loop without ever spinning: every connection
//! waiting is accepted in one pass, and a process out of descriptors sheds connections with
//! a descriptor kept in reserve (the classic accept(2)/EMFILE remedy) instead of being woken
//! again and again by a socket that stays readable.

use std::os::unix::net::{UnixListener, UnixStream};

/// One descriptor kept in reserve for a listener. When `accept` fails because the compositor
/// has no descriptor left, the waiting connection would keep the socket readable and spin the
/// loop; instead the reserve is closed, the connection accepted and closed at once, and the
/// reserve taken again (the classic accept(2)/EMFILE remedy).
pub struct Spare(Option<std::os::fd::OwnedFd>, u64);

impl Default for Spare {
    fn default() -> Self {
        Spare::new()
    }
}

impl Spare {
    /// A reserve descriptor (a tiny memory file), taken now.
    pub fn new() -> Spare {
        Spare(Self::take(), 0)
    }

    fn take() -> Option<std::os::fd::OwnedFd> {
        nix::sys::memfd::memfd_create(
            c"cloison-spare",
            nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
        )
        .ok()
    }

    /// After `err` from accept: if it was for lack of descriptors, sheds one waiting connection
    /// with `accept_and_close`; whether it did.
    fn shed(
        &mut self,
        err: &std::io::Error,
        accept_and_close: impl FnOnce() -> std::io::Result<()>,
    ) -> bool {
        if !matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
            return false;
        }
        if self.0.is_none() {
            // Lost at the last shedding (nothing was free then): try again.
            self.0 = Self::take();
        }
        self.0 = None;
        let shed = accept_and_close().is_ok();
        self.0 = Self::take();
        self.1 += 1;
        // Logged at 1, 2, 4, 8… refusals: a flood of connections is not a flood of lines.
        if self.1.is_power_of_two() {
            tracing::warn!(refused = self.1, "out of descriptors: connections refused");
        }
        shed
    }

    /// Accepts every connection waiting (`accept` answers `None` when none is), handing each
    /// to `serve`; out of descriptors, sheds one instead of spinning the loop. The one accept
    /// loop of every listener the compositor and the launcher serve.
    pub fn accept_all(
        &mut self,
        mut accept: impl FnMut() -> std::io::Result<Option<UnixStream>>,
        mut serve: impl FnMut(UnixStream),
    ) {
        loop {
            match accept() {
                Ok(Some(stream)) => serve(stream),
                Ok(None) => break,
                Err(err) => {
                    if !self.shed(&err, || accept().map(drop)) {
                        tracing::warn!("accept failed: {err}");
                    }
                    break;
                }
            }
        }
    }
}

/// `accept` on a non-blocking listener, "nothing waiting" as `None` (for [`Spare::accept_all`]).
pub fn accept_waiting(listener: &UnixListener) -> std::io::Result<Option<UnixStream>> {
    match listener.accept() {
        Ok((stream, _)) => Ok(Some(stream)),
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
        Err(err) => Err(err),
    }
}
