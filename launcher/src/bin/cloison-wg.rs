//! `cloison-wg`: a level's userspace WireGuard tunnel, for kernels without WireGuard.
//!
//! Started by the launcher (never by hand) with a TUN device as descriptor 3 (its interface
//! is in the level's namespace: `wg0`), a UDP socket of the host's namespace connected to the
//! peer as descriptor 4, and the keys as JSON on standard input. It then gives up everything
//! it does not need — root (it becomes `nobody`), new privileges, every file (Landlock) — and
//! moves packets: what the level sends to `wg0` is encrypted to the peer; what the peer sends
//! is decrypted into `wg0` if its inner source is one of the peer's allowed ranges. The
//! WireGuard protocol is boringtun's (`noise::Tunn`). On standard output: `connecting`, `up`
//! (a handshake completed and the peer answers) or `down` (data went out for 15 s with
//! nothing back: WireGuard's own rekey-timeout plus keepalive-timeout).

use std::io::{Read as _, Write as _};
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd as _, OwnedFd};
use std::time::{Duration, Instant};

use base64::Engine as _;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use cloison_launcher::network::wireguard::Secrets;
use ipnet::IpNet;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use zeroize::Zeroizing;

/// Largest packet either side carries (a jumbo MTU plus WireGuard's overhead).
const BUFFER: usize = 9000 + 80;
/// WireGuard's REKEY_TIMEOUT + KEEPALIVE_TIMEOUT: data sent with nothing back for this long
/// means the peer is gone.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

fn main() {
    if let Err(e) = run() {
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!("cloison-wg: {e}");
        }
        std::process::exit(1);
    }
}

fn key(text: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("key: {e}"))?,
    );
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| "a key is 32 bytes".to_string())
}

fn run() -> Result<(), String> {
    // SAFETY: prctl with integer arguments.
    if unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    } != 0
    {
        return Err(format!(
            "PR_SET_PDEATHSIG: {}",
            std::io::Error::last_os_error()
        ));
    }
    // Nothing but the standard streams, the TUN device and the socket.
    // SAFETY: close_range with integer arguments closes descriptors this program never uses.
    unsafe { libc::syscall(libc::SYS_close_range, 5u32, u32::MAX, 0u32) };
    let mut input = Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(64 * 1024)
        .read_to_end(&mut input)
        .map_err(|e| format!("stdin: {e}"))?;
    let secrets: Secrets = serde_json::from_slice(&input).map_err(|e| format!("keys: {e}"))?;
    let private = StaticSecret::from(*key(&secrets.private_key)?);
    let peer = PublicKey::from(*key(&secrets.peer_key)?);
    let psk = match &secrets.preshared_key {
        Some(k) => Some(*key(k)?),
        None => None,
    };
    let mut index = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut index))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    let mut tunn = Tunn::new(
        private,
        peer,
        psk,
        secrets.keepalive,
        u32::from_ne_bytes(index) >> 8,
        None,
    );
    // SAFETY: the launcher passes the TUN device as 3 and the UDP socket as 4, to us only.
    let (tun, udp) = unsafe { (OwnedFd::from_raw_fd(3), OwnedFd::from_raw_fd(4)) };
    let allowed = secrets.allowed_ips;
    let endpoint = secrets.endpoint;
    // A level's packets must never block the loop (one it drops leaves nothing to read).
    nix::fcntl::fcntl(
        tun.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(|e| format!("O_NONBLOCK: {e}"))?;
    confine(secrets.uid)?;

    let mut from_tun = vec![0u8; BUFFER];
    let mut from_udp = vec![0u8; BUFFER];
    let mut out = vec![0u8; BUFFER + 32];
    let mut state = Watch::new();
    // A handshake at once: the bar says `up` as soon as the peer answers.
    if let TunnResult::WriteToNetwork(packet) = tunn.format_handshake_initiation(&mut out, false) {
        state.sent(packet);
        let _ = nix::unistd::write(&udp, packet);
    }
    let mut last_timers = Instant::now();
    loop {
        let mut fds = [
            PollFd::new(tun.as_fd(), PollFlags::POLLIN),
            PollFd::new(udp.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::from(250u16)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        let tun_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let udp_ready = fds[1].revents().is_some_and(|r| !r.is_empty());
        if tun_ready {
            // The level's packets, to the peer (only to its allowed ranges).
            for _ in 0..64 {
                let n = match nix::unistd::read(tun.as_raw_fd(), &mut from_tun) {
                    Ok(0) => return Err("the TUN device closed".into()),
                    Ok(n) => n,
                    Err(nix::errno::Errno::EAGAIN) => break,
                    Err(e) => return Err(format!("TUN read: {e}")),
                };
                if !destination(&from_tun[..n]).is_some_and(|d| within(&allowed, d)) {
                    continue;
                }
                if let TunnResult::WriteToNetwork(packet) =
                    tunn.encapsulate(&from_tun[..n], &mut out)
                {
                    state.sent(packet);
                    let _ = nix::unistd::write(&udp, packet);
                }
            }
        }
        if udp_ready {
            for _ in 0..64 {
                let n = match nix::sys::socket::recv(
                    udp.as_raw_fd(),
                    &mut from_udp,
                    nix::sys::socket::MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(n) => n,
                    Err(e @ (nix::errno::Errno::EBADF | nix::errno::Errno::ENOTSOCK)) => {
                        return Err(format!("UDP recv: {e}"));
                    }
                    // EAGAIN, or an ICMP error about the peer (refused, unreachable,
                    // prohibited…) that the connected socket reports: nothing to read now, and
                    // anyone on the path can send those, so never fatal.
                    Err(_) => break,
                };
                let mut datagram: &[u8] = &from_udp[..n];
                loop {
                    match tunn.decapsulate(Some(endpoint), datagram, &mut out) {
                        TunnResult::WriteToNetwork(packet) => {
                            state.received();
                            let _ = nix::unistd::write(&udp, packet);
                            // Queued packets follow.
                            datagram = &[];
                            continue;
                        }
                        TunnResult::WriteToTunnelV4(packet, source) => {
                            state.received();
                            if within(&allowed, IpAddr::V4(source)) {
                                let _ = nix::unistd::write(&tun, packet);
                            }
                        }
                        TunnResult::WriteToTunnelV6(packet, source) => {
                            state.received();
                            if within(&allowed, IpAddr::V6(source)) {
                                let _ = nix::unistd::write(&tun, packet);
                            }
                        }
                        TunnResult::Done => {
                            if !datagram.is_empty() {
                                // A keepalive, or a handshake response that queued nothing.
                                state.received_if_handshaken(&tunn);
                            }
                        }
                        TunnResult::Err(_) => {}
                    }
                    break;
                }
            }
        }
        if last_timers.elapsed() >= Duration::from_millis(250) {
            last_timers = Instant::now();
            match tunn.update_timers(&mut out) {
                TunnResult::WriteToNetwork(packet) => {
                    state.sent(packet);
                    let _ = nix::unistd::write(&udp, packet);
                }
                TunnResult::Err(e) => {
                    state.expired(&format!("{e:?}"));
                }
                _ => {}
            }
        }
        state.report(&tunn);
    }
}

/// Nothing but the two descriptors from here on: a uid of its own that owns nothing, no new
/// privileges, no files, no new connections or listening ports, no abstract sockets or
/// signals outside (Landlock, what the kernel has of it), and an allow-list of system calls.
fn confine(uid: u32) -> Result<(), String> {
    use landlock::{ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr as _, Scope};
    if uid == 0 {
        return Err("refusing to run as root".into());
    }
    nix::unistd::setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    nix::unistd::setresgid(uid.into(), uid.into(), uid.into())
        .map_err(|e| format!("setresgid: {e}"))?;
    nix::unistd::setresuid(uid.into(), uid.into(), uid.into())
        .map_err(|e| format!("setresuid: {e}"))?;
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    let abi = ABI::V6;
    Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self())
        .map_err(|e| format!("landlock: {e}"))?;
    let policy = cloison_cages::seccomp::compile("tunnel", None).map_err(|e| e.to_string())?;
    cloison_cages::seccomp::install(&policy).map_err(|e| e.to_string())?;
    Ok(())
}

/// An IP packet's destination.
fn destination(packet: &[u8]) -> Option<IpAddr> {
    match packet.first()? >> 4 {
        4 if packet.len() >= 20 => Some(IpAddr::from(<[u8; 4]>::try_from(&packet[16..20]).ok()?)),
        6 if packet.len() >= 40 => Some(IpAddr::from(<[u8; 16]>::try_from(&packet[24..40]).ok()?)),
        _ => None,
    }
}

fn within(ranges: &[IpNet], addr: IpAddr) -> bool {
    ranges.iter().any(|r| r.contains(&addr))
}

/// The tunnel's state as the bar shows it.
struct Watch {
    /// Since when something that wants an answer went out unanswered.
    waiting: Option<Instant>,
    handshaken: bool,
    said: Option<&'static str>,
}

impl Watch {
    fn new() -> Watch {
        Watch {
            waiting: None,
            handshaken: false,
            said: None,
        }
    }

    /// A packet went to the peer: a handshake initiation or data (not a bare keepalive, which
    /// gets no answer) waits for one.
    fn sent(&mut self, packet: &[u8]) {
        let wants_answer = match packet.first() {
            Some(1) => true,
            Some(4) => packet.len() > 32,
            _ => false,
        };
        if wants_answer && self.waiting.is_none() {
            self.waiting = Some(Instant::now());
        }
    }

    fn received(&mut self) {
        self.waiting = None;
        self.handshaken = true;
    }

    fn received_if_handshaken(&mut self, tunn: &Tunn) {
        if tunn.time_since_last_handshake().is_some() {
            self.received();
        }
    }

    fn expired(&mut self, _why: &str) {
        self.handshaken = false;
    }

    fn report(&mut self, tunn: &Tunn) {
        let now = if self.waiting.is_some_and(|t| t.elapsed() >= ANSWER_TIMEOUT) {
            "down"
        } else if self.handshaken && tunn.time_since_last_handshake().is_some() {
            "up"
        } else if self.said.is_none() || self.said == Some("connecting") {
            "connecting"
        } else {
            "down"
        };
        if self.said != Some(now) {
            self.said = Some(now);
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "{now}");
            let _ = stdout.flush();
        }
    }
}
