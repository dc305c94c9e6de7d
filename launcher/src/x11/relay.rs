//! The X clients that connected before the level's X server listened: they waited in the
//! backlog of the socket init bound (`/tmp/.X11-unix/X0`). The server then made its own socket
//! at that path, so the ones already waiting are carried to it by a relay that forwards their
//! bytes and the descriptors that come with them (MIT-SHM's `AttachFd`, DRI3), each way, until
//! either side closes. Later clients connect to the server directly.

use std::io::IoSlice;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// Descriptors carried with one read at most (X requests carry one or two).
const MAX_FDS: usize = 16;

/// Relays `client` to the server listening at `server_path`, on two threads.
pub fn start(client: UnixStream, server_path: &std::path::Path) -> std::io::Result<()> {
    let server = UnixStream::connect(server_path)?;
    let (c2, s2) = (client.try_clone()?, server.try_clone()?);
    std::thread::Builder::new()
        .name("x11-relay-up".into())
        .spawn(move || pump(&client, &server))?;
    std::thread::Builder::new()
        .name("x11-relay-down".into())
        .spawn(move || pump(&s2, &c2))?;
    Ok(())
}

/// Copies `from` to `to` with the descriptors that come with the bytes, until `from` ends or
/// `to` fails; then shuts both down so the other direction ends too.
fn pump(from: &UnixStream, to: &UnixStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let (n, fds) = match recvmsg::<()>(
            from.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) if msg.flags.contains(MsgFlags::MSG_CTRUNC) => {
                // Descriptors were lost (more than MAX_FDS at once): the stream is out of
                // step with them, the connection ends.
                let _ = from.shutdown(std::net::Shutdown::Both);
                let _ = to.shutdown(std::net::Shutdown::Both);
                return;
            }
            Ok(msg) => {
                let mut fds: Vec<OwnedFd> = Vec::new();
                if let Ok(cmsgs) = msg.cmsgs() {
                    for cmsg in cmsgs {
                        if let ControlMessageOwned::ScmRights(raw) = cmsg {
                            // SAFETY: the kernel just gave these descriptors to this process;
                            // each is owned once, here.
                            fds.extend(
                                raw.into_iter()
                                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                            );
                        }
                    }
                }
                (msg.bytes, fds)
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        };
        if n == 0 {
            // This direction ended; the other may still carry replies.
            let _ = to.shutdown(std::net::Shutdown::Write);
            return;
        }
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let mut sent = 0;
        let mut first = true;
        while sent < n {
            let cmsg = [ControlMessage::ScmRights(&raw)];
            let cmsgs: &[ControlMessage] = if first && !raw.is_empty() { &cmsg } else { &[] };
            match sendmsg::<()>(
                to.as_raw_fd(),
                &[IoSlice::new(&buf[sent..n])],
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(k) => {
                    sent += k;
                    first = false;
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => {
                    let _ = from.shutdown(std::net::Shutdown::Both);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}
