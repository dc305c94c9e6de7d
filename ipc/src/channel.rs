//! Line-delimited JSON over a UNIX stream socket, where a line may carry one file descriptor
//! (`SCM_RIGHTS`, attached to the line's first byte). The launcher and the compositor talk
//! this way: clipboard contents travel as sealed memory files, never inside the JSON.

use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice, IoSliceMut, Write as _};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd as _, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// Longest line accepted.
pub const MAX_LINE: usize = 1 << 20;

/// Most descriptors one line carries.
pub const MAX_FDS: usize = 32;

/// Sends `line` (a newline is added), with `fd` attached if given.
pub fn send_line(
    stream: &UnixStream,
    line: &str,
    fd: Option<BorrowedFd<'_>>,
) -> std::io::Result<()> {
    let fds: Vec<BorrowedFd<'_>> = fd.into_iter().collect();
    send_line_fds(stream, line, &fds)
}

/// Sends `line` (a newline is added) with up to [`MAX_FDS`] descriptors attached, in order.
pub fn send_line_fds(
    stream: &UnixStream,
    line: &str,
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            format!("at most {MAX_FDS} descriptors per line"),
        ));
    }
    let mut data = Vec::with_capacity(line.len() + 1);
    data.extend_from_slice(line.as_bytes());
    data.push(b'\n');
    let raw: Vec<std::os::fd::RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let cmsgs: Vec<ControlMessage<'_>> = if raw.is_empty() {
        Vec::new()
    } else {
        vec![ControlMessage::ScmRights(&raw)]
    };
    let sent = loop {
        match sendmsg::<()>(
            stream.as_raw_fd(),
            &[IoSlice::new(&data)],
            &cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => break n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    // The descriptor went with the first byte; the rest (if any) follows plainly.
    let mut rest: &UnixStream = stream;
    rest.write_all(&data[sent..])
}

/// What [`Receiver::fill`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Data (or nothing yet, on a non-blocking socket) and the peer is still there.
    Open,
    /// The peer closed the connection.
    Closed,
}

/// The receiving side: bytes split into lines, descriptors queued in arrival order.
#[derive(Debug, Default)]
pub struct Receiver {
    buffer: Vec<u8>,
    fds: VecDeque<OwnedFd>,
}

impl Receiver {
    /// Reads what is available (blocking sockets: waits for at least one chunk).
    pub fn fill(&mut self, stream: &UnixStream) -> std::io::Result<Fill> {
        loop {
            let mut chunk = [0u8; 64 * 1024];
            let mut space = nix::cmsg_space!([std::os::fd::RawFd; MAX_FDS]);
            let mut iov = [IoSliceMut::new(&mut chunk)];
            let (n, fds) = match recvmsg::<()>(
                stream.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    let mut fds = Vec::new();
                    for cmsg in msg.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(received) = cmsg {
                            fds.extend(received);
                        }
                    }
                    (msg.bytes, fds)
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => return Ok(Fill::Open),
                Err(e) => return Err(e.into()),
            };
            for fd in fds {
                // SAFETY: SCM_RIGHTS just gave this process these new descriptors; nothing
                // else owns them.
                self.fds.push_back(unsafe { OwnedFd::from_raw_fd(fd) });
            }
            if n == 0 {
                return Ok(Fill::Closed);
            }
            self.buffer.extend_from_slice(&chunk[..n]);
            if self.buffer.len() > MAX_LINE && !self.buffer.contains(&b'\n') {
                return Err(std::io::Error::new(ErrorKind::InvalidData, "line too long"));
            }
            // A blocking socket returns what one read brought; a non-blocking one is drained.
            if is_blocking(stream) {
                return Ok(Fill::Open);
            }
        }
    }

    /// The next complete line, without its newline.
    pub fn next_line(&mut self) -> Option<Vec<u8>> {
        let end = self.buffer.iter().position(|&b| b == b'\n')?;
        let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
        line.pop();
        Some(line)
    }

    /// The next descriptor received (a message that carries one takes it).
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        self.fds.pop_front()
    }
}

fn is_blocking(stream: &UnixStream) -> bool {
    nix::fcntl::fcntl(stream.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)
        .map(|flags| flags & nix::fcntl::OFlag::O_NONBLOCK.bits() == 0)
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Seek as _};

    #[test]
    fn lines_and_their_descriptors_arrive_in_order() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut file = tempfile_like();
        file.write_all(b"payload").unwrap();
        send_line(&a, "{\"first\":1}", None).unwrap();
        send_line(
            &a,
            "{\"with\":\"fd\"}",
            Some(std::os::fd::AsFd::as_fd(&file)),
        )
        .unwrap();
        drop(a);
        let mut r = Receiver::default();
        let mut lines = Vec::new();
        loop {
            let fill = r.fill(&b).unwrap();
            while let Some(line) = r.next_line() {
                lines.push(String::from_utf8(line).unwrap());
            }
            if fill == Fill::Closed {
                break;
            }
        }
        assert_eq!(lines, ["{\"first\":1}", "{\"with\":\"fd\"}"]);
        let mut got = std::fs::File::from(r.take_fd().expect("the descriptor"));
        got.rewind().unwrap();
        let mut text = String::new();
        got.read_to_string(&mut text).unwrap();
        assert_eq!(text, "payload");
        assert!(r.take_fd().is_none());
    }

    fn tempfile_like() -> std::fs::File {
        let fd = nix::sys::memfd::memfd_create(c"t", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)
            .unwrap();
        std::fs::File::from(fd)
    }
}
