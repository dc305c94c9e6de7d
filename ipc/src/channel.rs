//! Framed messages over a UNIX stream socket, each carrying its own descriptors.
//!
//! The launcher and the compositor (their private socket pair) and a level and the multilevel
//! manager (the level's manager socket) talk this way. A frame is an 8-byte header — the
//! body's length (`u32`, little endian), the number of descriptors the frame carries (`u8`),
//! three zero bytes — then the body: one JSON message ([`Message`]). The descriptors travel
//! with the frame's first byte (`SCM_RIGHTS`, sent by the same `sendmsg`).
//!
//! Everything the peer controls is bounded before it costs anything ([`Limits`]): a header
//! announcing a body longer than the limit, or more descriptors than the limit, ends the
//! connection at once (nothing of the body is buffered); the descriptors waiting in the
//! receiver never exceed what the frames in its buffer announce plus one frame's worth (a peer
//! sending descriptors its frames do not announce is cut off); a frame whose descriptors did
//! not all arrive is refused, and descriptors the kernel had to truncate (`MSG_CTRUNC`: the
//! receiver is out of descriptors) are closed, never leaked. Each message type says how many
//! descriptors it takes ([`Message::descriptors`]): a frame that carries another number is
//! refused whole and its descriptors closed.
//!
//! A writer never tears a frame: a blocking writer sends it whole or fails; the non-blocking
//! [`Writer`] queues whole frames (up to a bound) and sends them as the socket drains.

use std::collections::VecDeque;
use std::io::{ErrorKind, Write as _};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bytes of a frame header.
pub const HEADER: usize = 8;
/// The most descriptors the kernel passes in one message (`SCM_MAX_FD`): the receive buffer is
/// sized for it, so truncation only happens when the receiver has no descriptor left.
const SCM_MAX_FD: usize = 253;

/// What one side of a channel accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest message body, in bytes.
    pub max_body: usize,
    /// Most descriptors in one message.
    pub max_fds: usize,
}

/// A level's manager socket: requests are small, and a batch of files carries at most 64
/// descriptors (a send of more files comes in several batches).
pub const LEVEL: Limits = Limits {
    max_body: 1 << 20,
    max_fds: 64,
};

/// The launcher ↔ compositor pair: a file dialog lists up to 1000 names; a message carries at
/// most one descriptor (a clipboard's sealed memory file).
pub const SESSION: Limits = Limits {
    max_body: 4 << 20,
    max_fds: 1,
};

/// A typed message: its JSON form, and how many descriptors its frame carries.
pub trait Message: Serialize + DeserializeOwned {
    /// How many descriptors a frame of this message carries (in order).
    fn descriptors(&self) -> usize;
}

/// What went wrong on a channel.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The peer closed the connection.
    #[error("the peer closed the connection")]
    Closed,
    /// A frame announced a body above the limit.
    #[error("a message of {0} bytes, more than the {1} allowed")]
    TooLong(usize, usize),
    /// A frame announced more descriptors than allowed.
    #[error("a message with {0} descriptors, more than the {1} allowed")]
    TooManyDescriptors(usize, usize),
    /// A header's reserved bytes were not zero.
    #[error("a malformed frame header")]
    BadHeader,
    /// Descriptors arrived that no frame announced.
    #[error("descriptors arrived that no message announced")]
    StrayDescriptors,
    /// A frame's descriptors did not arrive.
    #[error("a message's descriptors did not arrive")]
    MissingDescriptors,
    /// The kernel truncated the descriptors (the receiver has none left); they were closed.
    #[error("descriptors were lost in transit (the receiver is out of descriptors)")]
    Truncated,
    /// The body is not the message expected.
    #[error("the message does not parse: {0}")]
    Decode(#[from] serde_json::Error),
    /// The frame carried another number of descriptors than its message takes.
    #[error("the message takes {want} descriptors, its frame carried {got}")]
    WrongDescriptors {
        /// What the message takes.
        want: usize,
        /// What came.
        got: usize,
    },
    /// A [`Writer`]'s queue is full: the peer does not read.
    #[error("the peer does not read: {0} bytes are waiting")]
    Backlog(usize),
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl ChannelError {
    /// Whether the error was a timeout of a socket with one (nothing was lost).
    pub fn is_timeout(&self) -> bool {
        matches!(self, ChannelError::Io(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
    }
}

/// A frame as received: its body and its descriptors.
#[derive(Debug)]
pub struct Frame {
    /// The JSON body.
    pub body: Vec<u8>,
    /// The descriptors that came with it, in order.
    pub fds: Vec<OwnedFd>,
    /// Its descriptors were lost in transit ([`ChannelError::Truncated`]): `fds` is empty.
    pub lost_descriptors: bool,
}

impl Frame {
    /// The message, if its descriptors are what it takes (else they are closed).
    pub fn decode<T: Message>(self) -> Result<(T, Vec<OwnedFd>), ChannelError> {
        let message: T = serde_json::from_slice(&self.body)?;
        let want = message.descriptors();
        if want != self.fds.len() {
            return Err(ChannelError::WrongDescriptors {
                want,
                got: self.fds.len(),
            });
        }
        Ok((message, self.fds))
    }
}

/// The bytes of a frame holding `message`, announcing `fds` descriptors.
pub fn encode<T: Message>(
    message: &T,
    fds: usize,
    limits: Limits,
) -> Result<Vec<u8>, ChannelError> {
    let body = serde_json::to_vec(message)?;
    if body.len() > limits.max_body {
        return Err(ChannelError::TooLong(body.len(), limits.max_body));
    }
    if fds > limits.max_fds {
        return Err(ChannelError::TooManyDescriptors(fds, limits.max_fds));
    }
    let mut frame = Vec::with_capacity(HEADER + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.push(fds as u8);
    frame.extend_from_slice(&[0, 0, 0]);
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Sends `message` with its descriptors on a blocking socket: the whole frame or an error.
pub fn send<T: Message>(
    stream: &UnixStream,
    message: &T,
    fds: &[BorrowedFd<'_>],
    limits: Limits,
) -> Result<(), ChannelError> {
    if fds.len() != message.descriptors() {
        return Err(ChannelError::WrongDescriptors {
            want: message.descriptors(),
            got: fds.len(),
        });
    }
    let frame = encode(message, fds.len(), limits)?;
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let sent = send_with_fds(stream, &frame, &raw)?;
    // The descriptors went with the first byte; the rest follows plainly.
    let mut rest: &UnixStream = stream;
    rest.write_all(&frame[sent..])?;
    Ok(())
}

/// One `sendmsg` of (the start of) `bytes` with `fds` attached; returns the bytes sent.
fn send_with_fds(stream: &UnixStream, bytes: &[u8], fds: &[RawFd]) -> std::io::Result<usize> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let cmsgs: Vec<ControlMessage<'_>> = if fds.is_empty() {
        Vec::new()
    } else {
        vec![ControlMessage::ScmRights(fds)]
    };
    loop {
        match sendmsg::<()>(
            stream.as_raw_fd(),
            &[std::io::IoSlice::new(bytes)],
            &cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => return Ok(n),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The sending side of a non-blocking socket: whole frames queued, written as the socket takes
/// them, never torn. A peer that lets more than `max_queued` bytes wait is dropped.
#[derive(Debug)]
pub struct Writer {
    queue: VecDeque<Pending>,
    queued: usize,
    max_queued: usize,
    limits: Limits,
}

#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    /// Sent with the frame's first byte (then emptied).
    fds: Vec<OwnedFd>,
    sent: usize,
}

impl Writer {
    /// A writer holding at most `max_queued` bytes for a slow peer.
    pub fn new(limits: Limits, max_queued: usize) -> Writer {
        Writer {
            queue: VecDeque::new(),
            queued: 0,
            max_queued,
            limits,
        }
    }

    /// Queues `message` with its descriptors and writes what the socket takes now. `Ok(true)`:
    /// everything is written; `Ok(false)`: some waits (call [`Writer::flush`] when writable).
    pub fn send<T: Message>(
        &mut self,
        stream: &UnixStream,
        message: &T,
        fds: Vec<OwnedFd>,
    ) -> Result<bool, ChannelError> {
        if fds.len() != message.descriptors() {
            return Err(ChannelError::WrongDescriptors {
                want: message.descriptors(),
                got: fds.len(),
            });
        }
        let bytes = encode(message, fds.len(), self.limits)?;
        if self.queued + bytes.len() > self.max_queued {
            return Err(ChannelError::Backlog(self.queued + bytes.len()));
        }
        self.queued += bytes.len();
        self.queue.push_back(Pending {
            bytes,
            fds,
            sent: 0,
        });
        self.flush(stream)
    }

    /// Writes what the socket takes; whether the queue is empty.
    pub fn flush(&mut self, stream: &UnixStream) -> Result<bool, ChannelError> {
        while let Some(front) = self.queue.front_mut() {
            let raw: Vec<RawFd> = front.fds.iter().map(|f| f.as_raw_fd()).collect();
            let result = if front.sent == 0 {
                send_with_fds(stream, &front.bytes, &raw)
            } else {
                let mut s: &UnixStream = stream;
                std::io::Write::write(&mut s, &front.bytes[front.sent..])
            };
            match result {
                Ok(0) => return Err(ChannelError::Closed),
                Ok(n) => {
                    if front.sent == 0 {
                        // The descriptors went with the first byte.
                        front.fds.clear();
                    }
                    front.sent += n;
                    self.queued -= n;
                    if front.sent == front.bytes.len() {
                        self.queue.pop_front();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    /// Whether frames wait to be written.
    pub fn pending(&self) -> bool {
        !self.queue.is_empty()
    }
}

/// What [`Receiver::fill`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Data (or nothing yet, on a non-blocking socket) and the peer is still there.
    Open,
    /// The peer closed the connection.
    Closed,
}

/// The receiving side: bytes split into frames, each frame with the descriptors it announced.
#[derive(Debug)]
pub struct Receiver {
    buffer: Vec<u8>,
    fds: VecDeque<OwnedFd>,
    limits: Limits,
    /// Stream offset of `buffer[0]`.
    consumed: u64,
    /// Stream offsets of a read whose descriptors the kernel truncated: the first frame
    /// starting there that announces descriptors lost them.
    truncated: Option<std::ops::Range<u64>>,
}

impl Receiver {
    /// A receiver accepting frames within `limits`.
    pub fn new(limits: Limits) -> Receiver {
        Receiver {
            buffer: Vec::new(),
            fds: VecDeque::new(),
            limits,
            consumed: 0,
            truncated: None,
        }
    }

    /// Reads what is available (a blocking socket: waits for at least one chunk, or its
    /// read timeout). An error other than [`ChannelError::Truncated`] ends the connection's
    /// use. After `Truncated` (this process is out of descriptors: the kernel could not pass
    /// them all, and the ones that did arrive were closed) the data was kept and the frame
    /// that lost its descriptors comes out marked ([`Frame::lost_descriptors`]); a trusted
    /// peer's channel may go on, an untrusted one is better dropped.
    pub fn fill(&mut self, stream: &UnixStream) -> Result<Fill, ChannelError> {
        loop {
            let mut chunk = [0u8; 64 * 1024];
            let (n, fds, truncated) = match recv_with_fds(stream, &mut chunk) {
                Ok(got) => got,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock && !is_blocking(stream) => {
                    return Ok(Fill::Open);
                }
                Err(e) => return Err(e.into()),
            };
            if n == 0 && !truncated {
                return Ok(Fill::Closed);
            }
            self.feed(&chunk[..n], fds, truncated)?;
            if is_blocking(stream) {
                return Ok(Fill::Open);
            }
        }
    }

    /// Takes what one read brought: `bytes`, the descriptors that came with them, and whether
    /// the kernel truncated those (see [`Receiver::fill`], which calls this; the fuzzer calls
    /// it directly).
    pub fn feed(
        &mut self,
        bytes: &[u8],
        fds: Vec<OwnedFd>,
        truncated: bool,
    ) -> Result<(), ChannelError> {
        let start = self.consumed + self.buffer.len() as u64;
        self.buffer.extend_from_slice(bytes);
        if truncated {
            // The ones that did arrive are closed (dropped) with `fds`.
            drop(fds);
            self.truncated = Some(start..start + bytes.len() as u64);
            return Err(ChannelError::Truncated);
        }
        self.fds.extend(fds);
        self.check()
    }

    /// Checks the buffered headers against the limits, and the waiting descriptors against
    /// what the buffered frames announce (plus, for a frame whose header has not arrived, one
    /// frame's worth).
    fn check(&self) -> Result<(), ChannelError> {
        let mut at = 0;
        let mut announced = 0;
        loop {
            match self.header_at(at)? {
                Some((len, fds)) => {
                    announced += fds;
                    at += HEADER + len;
                    if at >= self.buffer.len() {
                        break;
                    }
                }
                None => {
                    // Part of a header: a frame has begun, its descriptors may be here.
                    if at < self.buffer.len() {
                        announced += self.limits.max_fds;
                    }
                    break;
                }
            }
        }
        if self.fds.len() > announced {
            return Err(ChannelError::StrayDescriptors);
        }
        Ok(())
    }

    /// The (body length, descriptors) of the header at `at`, if it has arrived.
    fn header_at(&self, at: usize) -> Result<Option<(usize, usize)>, ChannelError> {
        let Some(header) = self.buffer.get(at..at + HEADER) else {
            return Ok(None);
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let fds = header[4] as usize;
        if header[5..8] != [0, 0, 0] {
            return Err(ChannelError::BadHeader);
        }
        if len > self.limits.max_body {
            return Err(ChannelError::TooLong(len, self.limits.max_body));
        }
        if fds > self.limits.max_fds {
            return Err(ChannelError::TooManyDescriptors(fds, self.limits.max_fds));
        }
        Ok(Some((len, fds)))
    }

    /// The next complete frame, with its descriptors.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ChannelError> {
        let Some((len, fds)) = self.header_at(0)? else {
            return Ok(None);
        };
        if self.buffer.len() < HEADER + len {
            return Ok(None);
        }
        let lost = fds > 0
            && self
                .truncated
                .as_ref()
                .is_some_and(|range| range.contains(&self.consumed));
        if lost {
            self.truncated = None;
        } else if self.fds.len() < fds {
            return Err(ChannelError::MissingDescriptors);
        }
        let body = self.buffer[HEADER..HEADER + len].to_vec();
        self.buffer.drain(..HEADER + len);
        self.consumed += (HEADER + len) as u64;
        let fds = if lost {
            Vec::new()
        } else {
            self.fds.drain(..fds).collect()
        };
        Ok(Some(Frame {
            body,
            fds,
            lost_descriptors: lost,
        }))
    }

    /// Bytes and descriptors waiting (tests).
    pub fn waiting(&self) -> (usize, usize) {
        (self.buffer.len(), self.fds.len())
    }
}

/// One `recvmsg` into `buf`: (bytes, descriptors received, whether the kernel truncated the
/// descriptors). Descriptors are received close-on-exec and owned at once — also when the
/// kernel truncated them, so none is ever leaked.
fn recv_with_fds(
    stream: &UnixStream,
    buf: &mut [u8],
) -> std::io::Result<(usize, Vec<OwnedFd>, bool)> {
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE((SCM_MAX_FD * std::mem::size_of::<RawFd>()) as u32) };
    // u64 keeps the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; (space as usize).div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is a plain C struct; all-zero is a valid (empty) value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() * 8;
    // SAFETY: `msg` points to `iov` (which points to `buf`) and `control`, all valid and live
    // for the call, with their true lengths.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `msg_control` with `msg_controllen` bytes of well-formed
    // cmsghdrs; CMSG_FIRSTHDR/NXTHDR/DATA walk them within those bounds. SCM_RIGHTS data is an
    // array of descriptors just installed in this process, owned by nothing else yet.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let header = libc::CMSG_LEN(0) as usize;
                let count = ((*cmsg).cmsg_len as usize).saturating_sub(header)
                    / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    let truncated = msg.msg_flags & libc::MSG_CTRUNC != 0;
    Ok((n as usize, fds, truncated))
}

fn is_blocking(stream: &UnixStream) -> bool {
    nix::fcntl::fcntl(stream.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)
        .map(|flags| flags & nix::fcntl::OFlag::O_NONBLOCK.bits() == 0)
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::io::{Read as _, Seek as _};
    use std::os::fd::AsFd;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Test {
        Plain(String),
        WithFiles(usize),
    }

    impl Message for Test {
        fn descriptors(&self) -> usize {
            match self {
                Test::Plain(_) => 0,
                Test::WithFiles(n) => *n,
            }
        }
    }

    const LIMITS: Limits = Limits {
        max_body: 1024,
        max_fds: 4,
    };

    fn memfd(text: &str) -> std::fs::File {
        let fd = nix::sys::memfd::memfd_create(c"t", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)
            .unwrap();
        let mut f = std::fs::File::from(fd);
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn read_all(fd: OwnedFd) -> String {
        let mut f = std::fs::File::from(fd);
        f.rewind().unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        s
    }

    fn receive_all(r: &mut Receiver, b: &UnixStream) -> Result<Vec<Frame>, ChannelError> {
        let mut frames = Vec::new();
        loop {
            let fill = r.fill(b)?;
            while let Some(frame) = r.next_frame()? {
                frames.push(frame);
            }
            if fill == Fill::Closed {
                return Ok(frames);
            }
        }
    }

    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    #[test]
    fn messages_arrive_with_their_own_descriptors() {
        let (a, b) = UnixStream::pair().unwrap();
        let (x, y) = (memfd("x"), memfd("y"));
        send(&a, &Test::Plain("first".into()), &[], LIMITS).unwrap();
        send(&a, &Test::WithFiles(2), &[x.as_fd(), y.as_fd()], LIMITS).unwrap();
        send(&a, &Test::Plain("last".into()), &[], LIMITS).unwrap();
        drop(a);
        let mut r = Receiver::new(LIMITS);
        let frames = receive_all(&mut r, &b).unwrap();
        let decoded: Vec<(Test, Vec<OwnedFd>)> =
            frames.into_iter().map(|f| f.decode().unwrap()).collect();
        assert_eq!(decoded[0].0, Test::Plain("first".into()));
        assert_eq!(decoded[1].0, Test::WithFiles(2));
        let mut fds = decoded.into_iter().nth(1).unwrap().1.into_iter();
        assert_eq!(read_all(fds.next().unwrap()), "x");
        assert_eq!(read_all(fds.next().unwrap()), "y");
        assert_eq!(r.waiting(), (0, 0));
    }

    #[test]
    fn a_message_split_across_reads_is_put_back_together() {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let frame = encode(&Test::Plain("split across reads".into()), 0, LIMITS).unwrap();
        let mut r = Receiver::new(LIMITS);
        for byte in &frame {
            (&a).write_all(&[*byte]).unwrap();
            r.fill(&b).unwrap();
            if r.buffer.len() < frame.len() {
                assert!(r.next_frame().unwrap().is_none());
            }
        }
        let (msg, _) = r.next_frame().unwrap().unwrap().decode::<Test>().unwrap();
        assert_eq!(msg, Test::Plain("split across reads".into()));
    }

    #[test]
    fn an_overlong_message_is_refused_from_its_header() {
        let (a, b) = UnixStream::pair().unwrap();
        // A header announcing 10 MB: refused before any of the body is read.
        let mut header = (10u32 << 20).to_le_bytes().to_vec();
        header.extend_from_slice(&[0, 0, 0, 0]);
        (&a).write_all(&header).unwrap();
        let mut r = Receiver::new(LIMITS);
        let err = r.fill(&b).unwrap_err();
        assert!(matches!(err, ChannelError::TooLong(_, 1024)), "{err}");
        // And one can never be built.
        assert!(matches!(
            encode(&Test::Plain("x".repeat(2000)), 0, LIMITS),
            Err(ChannelError::TooLong(..))
        ));
    }

    #[test]
    fn too_many_or_unannounced_or_miscounted_descriptors_are_refused_and_closed() {
        let before = open_fds();
        {
            // More descriptors than the limit: refused whole, every one closed.
            let (a, b) = UnixStream::pair().unwrap();
            let files: Vec<_> = (0..10).map(|_| memfd("f")).collect();
            let borrowed: Vec<_> = files.iter().map(|f| f.as_raw_fd()).collect();
            let frame = encode(
                &Test::WithFiles(10),
                10,
                Limits {
                    max_fds: 10,
                    ..LIMITS
                },
            )
            .unwrap();
            send_with_fds(&a, &frame, &borrowed).unwrap();
            let mut r = Receiver::new(LIMITS);
            let err = receive_all(&mut r, &b).unwrap_err();
            assert!(
                matches!(err, ChannelError::TooManyDescriptors(10, 4)),
                "{err}"
            );
        }
        {
            // Descriptors no frame announces.
            let (a, b) = UnixStream::pair().unwrap();
            let files: Vec<_> = (0..3).map(|_| memfd("f")).collect();
            let raw: Vec<_> = files.iter().map(|f| f.as_raw_fd()).collect();
            let frame = encode(&Test::Plain("liar".into()), 0, LIMITS).unwrap();
            send_with_fds(&a, &frame, &raw).unwrap();
            // A second frame, so the liar's header is followed by a complete frame.
            send(&a, &Test::Plain("next".into()), &[], LIMITS).unwrap();
            drop(a);
            let mut r = Receiver::new(LIMITS);
            let err = receive_all(&mut r, &b).unwrap_err();
            assert!(matches!(err, ChannelError::StrayDescriptors), "{err}");
        }
        {
            // A frame whose message takes another number of descriptors than it carries.
            let (a, b) = UnixStream::pair().unwrap();
            let f = memfd("f");
            let frame = encode(&Test::WithFiles(2), 1, LIMITS).unwrap();
            send_with_fds(&a, &frame, &[f.as_raw_fd()]).unwrap();
            drop(a);
            let mut r = Receiver::new(LIMITS);
            let frame = receive_all(&mut r, &b).unwrap().pop().unwrap();
            let err = frame.decode::<Test>().unwrap_err();
            assert!(matches!(
                err,
                ChannelError::WrongDescriptors { want: 2, got: 1 }
            ));
        }
        assert_eq!(open_fds(), before, "no descriptor leaked");
    }

    #[test]
    fn truncated_descriptors_are_closed_not_leaked() {
        let (a, b) = UnixStream::pair().unwrap();
        let files: Vec<_> = (0..4).map(|_| memfd("f")).collect();
        let raw: Vec<_> = files.iter().map(|f| f.as_raw_fd()).collect();
        let frame = encode(&Test::WithFiles(4), 4, LIMITS).unwrap();
        send_with_fds(&a, &frame, &raw).unwrap();
        drop(files);
        // Run in a child: it fills its descriptor table but two slots, so the kernel installs
        // two of the four and sets MSG_CTRUNC.
        // SAFETY: fork in a test; the child only makes system calls and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let mut fillers = Vec::new();
                loop {
                    // SAFETY: dup of a descriptor this process holds.
                    let fd = unsafe { libc::dup(b.as_raw_fd()) };
                    if fd < 0 {
                        break;
                    }
                    fillers.push(fd);
                    if fillers.len() > 1_000_000 {
                        break;
                    }
                }
                for fd in fillers.drain(fillers.len() - 2..) {
                    // SAFETY: closing a descriptor made just above.
                    unsafe { libc::close(fd) };
                }
                let mut r = Receiver::new(LIMITS);
                let truncated = matches!(r.fill(&b), Err(ChannelError::Truncated));
                // Both slots are free again: the two that arrived were closed.
                // SAFETY: dup of a descriptor this process holds.
                let (x, y) = unsafe { (libc::dup(b.as_raw_fd()), libc::dup(b.as_raw_fd())) };
                // The frame comes out without its descriptors, marked; what follows is intact.
                let victim = r.next_frame().ok().flatten();
                let marked = victim.is_some_and(|f| f.lost_descriptors && f.fds.is_empty());
                let ok = truncated && x >= 0 && y >= 0 && marked;
                // SAFETY: ends the child without running the parent's destructors.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }

    #[test]
    fn a_full_socket_never_tears_a_message() {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut w = Writer::new(
            Limits {
                max_body: 1 << 20,
                max_fds: 1,
            },
            8 << 20,
        );
        let big = Test::Plain("z".repeat(200_000));
        // Far more than the socket holds: the writer queues whole frames.
        let mut all_sent = true;
        for _ in 0..20 {
            all_sent &= w.send(&a, &big, Vec::new()).unwrap();
        }
        assert!(!all_sent && w.pending(), "the socket filled up");
        // A slow reader gets every frame whole, in order.
        let reader = std::thread::spawn(move || {
            let mut r = Receiver::new(Limits {
                max_body: 1 << 20,
                max_fds: 1,
            });
            let frames = receive_all(&mut r, &b).unwrap();
            frames
                .into_iter()
                .map(|f| f.decode::<Test>().unwrap().0)
                .collect::<Vec<_>>()
        });
        while w.pending() {
            std::thread::sleep(std::time::Duration::from_millis(5));
            w.flush(&a).unwrap();
        }
        drop(a);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), 20);
        assert!(got.iter().all(|m| *m == big));
        // And a peer that never reads is dropped past the bound, not buffered forever.
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut w = Writer::new(
            Limits {
                max_body: 1 << 20,
                max_fds: 1,
            },
            1 << 20,
        );
        let err = (0..100)
            .find_map(|_| w.send(&a, &big, Vec::new()).err())
            .expect("a bound");
        assert!(matches!(err, ChannelError::Backlog(_)), "{err}");
    }
}
