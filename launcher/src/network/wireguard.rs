//! `network = { mode = "wireguard", config = FILE }`: the level's namespace holds only `lo` and
//! `wg0`. The encrypted side never enters it: the kernel's WireGuard interface is made in the
//! host's namespace and moved in (its UDP socket stays where it was made); without kernel
//! WireGuard, a TUN device made in the host's namespace is moved in and `cloison-wg` (outside
//! every cage, unprivileged once started) encrypts between its descriptor and a UDP socket of
//! the host's namespace. Keys stay in the file (readable only by the launcher) and in that
//! process; nothing of them enters the cage. With no other interface and no route of its own,
//! the level reaches nothing when the tunnel is down.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use cloison_config::{WgImplementation, WireGuard};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{LevelNet, Report, Status, in_namespace, ip, resolv_conf, run};

/// A tunnel file, read.
#[derive(Debug)]
pub struct TunnelFile {
    /// `[Interface] PrivateKey`.
    pub private_key: Zeroizing<[u8; 32]>,
    /// `[Interface] Address`.
    pub address: Vec<IpNet>,
    /// `[Interface] DNS`.
    pub dns: Vec<IpAddr>,
    /// `[Interface] MTU` (default 1420).
    pub mtu: u32,
    /// `[Interface] ListenPort`.
    pub listen_port: Option<u16>,
    /// `[Peer] PublicKey`.
    pub peer_key: [u8; 32],
    /// `[Peer] PresharedKey`.
    pub preshared_key: Option<Zeroizing<[u8; 32]>>,
    /// `[Peer] Endpoint`, resolved.
    pub endpoint: SocketAddr,
    /// `[Peer] AllowedIPs`.
    pub allowed_ips: Vec<IpNet>,
    /// `[Peer] PersistentKeepalive`.
    pub keepalive: Option<u16>,
}

/// Reads `path`: it must belong to the launcher's user and be readable by no one else.
pub fn read_file(path: &Path) -> anyhow::Result<TunnelFile> {
    use std::io::Read as _;
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    // Opened once, not through a symbolic link; checked and read through that descriptor.
    let mut opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("{} (a symbolic link is refused)", path.display()))?;
    let meta = opened
        .metadata()
        .with_context(|| format!("{}", path.display()))?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me || meta.mode() & 0o077 != 0 {
        bail!(
            "{}: a tunnel file holds a private key: it must belong to uid {me} and be readable by it alone (chown {me} and chmod 600 it)",
            path.display()
        );
    }
    if meta.len() > 64 * 1024 {
        bail!("{}: too large for a tunnel file", path.display());
    }
    let mut text = Zeroizing::new(String::new());
    opened
        .read_to_string(&mut text)
        .with_context(|| format!("{}", path.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))
}

/// Parses a wg-quick style file (errors start with the line number). Written by hand: the
/// format is a dozen keys of INI, and the keys Cloison refuses (`PostUp`, `Table`…) must be
/// named, which an INI crate's map would not tell.
pub fn parse(text: &str) -> Result<TunnelFile, String> {
    #[derive(PartialEq)]
    enum Section {
        None,
        Interface,
        Peer,
    }
    let mut section = Section::None;
    let mut peers = 0;
    let mut private_key = None;
    let mut address = Vec::new();
    let mut dns = Vec::new();
    let mut mtu = 1420;
    let mut listen_port = None;
    let mut peer_key = None;
    let mut preshared_key = None;
    let mut endpoint = None;
    let mut allowed_ips = Vec::new();
    let mut keepalive = None;
    let key = |v: &str, n: usize| -> Result<[u8; 32], String> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|_| format!("{n}: not a base64 key (wg genkey writes one)"))?,
        );
        <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| format!("{n}: a key is 32 bytes"))
    };
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.eq_ignore_ascii_case("[interface]") {
            section = Section::Interface;
            continue;
        }
        if line.eq_ignore_ascii_case("[peer]") {
            section = Section::Peer;
            peers += 1;
            if peers > 1 {
                return Err(format!(
                    "{n}: one [Peer] per level tunnel (the level's gateway)"
                ));
            }
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!("{n}: expected Key = Value"));
        };
        let (name, value) = (name.trim(), value.trim());
        // A key's name is shown in errors: anything else might be a key's text.
        if name.is_empty() || name.len() > 32 || !name.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!(
                "{n}: expected Key = Value (a key's name is letters)"
            ));
        }
        match (&section, name.to_ascii_lowercase().as_str()) {
            (Section::Interface, "privatekey") => {
                private_key = Some(Zeroizing::new(key(value, n)?))
            }
            (Section::Interface, "address") => {
                for a in list(value) {
                    address.push(
                        a.parse::<IpNet>().map_err(|_| {
                            format!("{n}: {a:?} is not an address like 10.66.0.2/32")
                        })?,
                    );
                }
            }
            (Section::Interface, "dns") => {
                for a in list(value) {
                    dns.push(a.parse::<IpAddr>().map_err(|_| {
                        format!(
                            "{n}: DNS {a:?} is not an IP address (search domains are not supported)"
                        )
                    })?);
                }
            }
            (Section::Interface, "mtu") => {
                mtu = value
                    .parse()
                    .ok()
                    .filter(|m| (1280..=9000).contains(m))
                    .ok_or_else(|| format!("{n}: MTU from 1280 to 9000"))?
            }
            (Section::Interface, "listenport") => {
                listen_port = Some(
                    value
                        .parse()
                        .map_err(|_| format!("{n}: ListenPort is a port number"))?,
                )
            }
            (Section::Peer, "publickey") => peer_key = Some(key(value, n)?),
            (Section::Peer, "presharedkey") => preshared_key = Some(Zeroizing::new(key(value, n)?)),
            (Section::Peer, "endpoint") => {
                endpoint = Some(
                    value
                        .to_socket_addrs()
                        .ok()
                        .and_then(|mut a| a.next())
                        .ok_or_else(|| {
                            format!("{n}: Endpoint {value:?} is not HOST:PORT that resolves")
                        })?,
                )
            }
            (Section::Peer, "allowedips") => {
                for a in list(value) {
                    let net = a.parse::<IpNet>().map_err(|_| {
                        format!("{n}: AllowedIPs {a:?} is not a range like 10.66.0.0/24")
                    })?;
                    allowed_ips.push(net.trunc());
                }
            }
            (Section::Peer, "persistentkeepalive") => {
                keepalive = match value {
                    "off" | "0" => None,
                    v => Some(
                        v.parse()
                            .map_err(|_| format!("{n}: PersistentKeepalive is seconds"))?,
                    ),
                }
            }
            (
                _,
                "postup" | "postdown" | "preup" | "predown" | "table" | "saveconfig" | "fwmark",
            ) => {
                return Err(format!(
                    "{n}: {name} is not supported (Cloison runs no commands and sets the level's routes itself)"
                ));
            }
            (Section::None, _) => return Err(format!("{n}: {name} outside [Interface] or [Peer]")),
            (_, _) => return Err(format!("{n}: unknown key {name}")),
        }
    }
    let missing = |what: &str| format!("1: {what} is missing");
    if address.len() > 16 || allowed_ips.len() > 64 || dns.len() > 3 {
        return Err("1: at most 16 addresses, 64 allowed ranges and 3 resolvers".into());
    }
    Ok(TunnelFile {
        private_key: private_key.ok_or_else(|| missing("[Interface] PrivateKey"))?,
        address: if address.is_empty() {
            return Err(missing("[Interface] Address"));
        } else {
            address
        },
        dns,
        mtu,
        listen_port,
        peer_key: peer_key.ok_or_else(|| missing("[Peer] PublicKey"))?,
        preshared_key,
        endpoint: endpoint.ok_or_else(|| missing("[Peer] Endpoint"))?,
        allowed_ips: if allowed_ips.is_empty() {
            return Err(missing("[Peer] AllowedIPs"));
        } else {
            allowed_ips
        },
        keepalive,
    })
}

/// What `cloison-wg` is given on its standard input.
#[derive(Serialize, Deserialize)]
pub struct Secrets {
    /// Base64 keys.
    pub private_key: String,
    pub peer_key: String,
    pub preshared_key: Option<String>,
    pub keepalive: Option<u16>,
    /// What the peer may send from (cryptokey routing) and the level to.
    pub allowed_ips: Vec<IpNet>,
    /// The peer's address (its handshakes are told apart from others' under load).
    pub endpoint: IpAddr,
    /// Who to run as once the descriptors are held.
    pub uid: u32,
}

/// A running tunnel: `cloison-wg`, or the kernel tunnel's watcher.
pub struct Running {
    child: Option<Child>,
    stop: Arc<AtomicBool>,
}

impl Running {
    /// A thread doing `work` until told to stop (it asks `stopped()`).
    pub fn watcher(work: impl FnOnce(&dyn Fn() -> bool) + Send + 'static) -> Running {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || work(&|| stopped.load(Ordering::Relaxed)));
        Running { child: None, stop }
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether the kernel has WireGuard (a link of the type can be made).
fn kernel_has_wireguard() -> bool {
    let Ok(name) = super::free_link_name("clwgprobe") else {
        return false;
    };
    let ok = ip(&["link", "add", &name, "type", "wireguard"]).is_ok();
    if ok {
        let _ = ip(&["link", "del", &name]);
    }
    ok
}

pub fn build(
    net: &mut LevelNet,
    wg: &WireGuard,
    file: TunnelFile,
    tools: &super::Tools,
    report: Report,
    uid: u32,
) -> anyhow::Result<()> {
    let kernel = match wg.implementation {
        WgImplementation::Kernel => true,
        WgImplementation::Userspace => false,
        WgImplementation::Auto => kernel_has_wireguard(),
    };
    let link = super::free_link_name("clwg")?;
    let peer = file.endpoint.to_string();
    if kernel {
        ip(&["link", "add", &link, "type", "wireguard"]).context(
            "the kernel's WireGuard (implementation = \"userspace\" uses cloison-wg instead)",
        )?;
        net.links.push(link.clone());
        configure_kernel(&link, &file)?;
    } else {
        let binary = tools
            .wg
            .as_deref()
            .context("cloison-wg is not installed beside cloison (the kernel has no WireGuard)")?;
        let tun = open_tun(&link)?;
        net.links.push(link.clone());
        let udp = udp_socket(&file)?;
        net.tunnel = Some(start_userspace(
            binary,
            tun,
            udp,
            &file,
            uid,
            report.clone(),
        )?);
    }
    // Into the level's namespace, as wg0, with its addresses and routes.
    super::move_in_as(
        net,
        &link,
        "wg0",
        &file.address,
        Some(file.mtu),
        &file.allowed_ips,
    )?;
    if kernel {
        handshake_now(net, &file)?;
        net.tunnel = Some(watch_kernel(net.netns()?, peer.clone(), report));
    }
    net.resolv = resolv_conf(&file.dns, "the resolvers of the level's tunnel");
    net.status = Status::ok(format!("tunnel connecting → {peer}"));
    net.summary = format!(
        "WireGuard ({}) to {peer}: {} through wg0, reaching {}",
        if kernel { "kernel" } else { "cloison-wg" },
        file.address
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        file.allowed_ips
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    Ok(())
}

/// Keys, peer and port of the kernel's interface `link` (with `wg`, keys through pipes).
fn configure_kernel(link: &str, file: &TunnelFile) -> anyhow::Result<()> {
    let b64 = |k: &[u8; 32]| Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(k));
    let mut args: Vec<String> = vec![
        "set".into(),
        link.into(),
        "private-key".into(),
        "/dev/fd/3".into(),
    ];
    if let Some(port) = file.listen_port {
        args.extend(["listen-port".into(), port.to_string()]);
    }
    args.extend(["peer".into(), b64(&file.peer_key).to_string()]);
    if file.preshared_key.is_some() {
        args.extend(["preshared-key".into(), "/dev/fd/4".into()]);
    }
    args.extend(["endpoint".into(), file.endpoint.to_string()]);
    args.extend([
        "allowed-ips".into(),
        file.allowed_ips
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(","),
    ]);
    if let Some(k) = file.keepalive {
        args.extend(["persistent-keepalive".into(), k.to_string()]);
    }
    let pipe_with = |secret: &[u8]| -> anyhow::Result<OwnedFd> {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
        let mut w = std::fs::File::from(w);
        w.write_all(secret)?;
        Ok(r)
    };
    let key = pipe_with(b64(&file.private_key).as_bytes())?;
    let psk = match &file.preshared_key {
        Some(p) => Some(pipe_with(b64(p).as_bytes())?),
        None => None,
    };
    let mut command = Command::new(super::tool("wg"));
    command.args(&args);
    let mut fds = vec![(key.as_raw_fd(), 3)];
    if let Some(p) = &psk {
        fds.push((p.as_raw_fd(), 4));
    }
    cloison_cages::pass_fds(&mut command, fds);
    run(&mut command)
        .context("cannot configure the WireGuard interface (install wireguard-tools)")?;
    Ok(())
}

/// The kernel's WireGuard makes its first handshake when something is to be sent: setting a
/// persistent keepalive on the interface that is up sends one now (and with it the handshake),
/// so the bar says `up` as soon as the peer answers, as with `cloison-wg`. The file's own
/// keepalive (none: off) is set back at once; the queued handshake stays.
fn handshake_now(net: &LevelNet, file: &TunnelFile) -> anyhow::Result<()> {
    let peer = base64::engine::general_purpose::STANDARD.encode(file.peer_key);
    let keepalive = |value: &str| -> anyhow::Result<()> {
        let mut command = Command::new(super::tool("wg"));
        command.args(["set", "wg0", "peer", &peer, "persistent-keepalive", value]);
        in_namespace(&mut command, &net.netns);
        run(&mut command).map(drop)
    };
    keepalive("25")?;
    match file.keepalive {
        Some(seconds) => keepalive(&seconds.to_string()),
        None => keepalive("off"),
    }
}

/// Polls the kernel interface's last handshake (inside the level's namespace, where it is now).
fn watch_kernel(ns: OwnedFd, peer: String, report: Report) -> Running {
    Running::watcher(move |stopped| {
        let mut last: Option<Status> = None;
        while !stopped() {
            let mut command = Command::new(super::tool("wg"));
            command.args(["show", "wg0", "latest-handshakes"]);
            in_namespace(&mut command, &ns);
            let status = match run(&mut command) {
                Ok(out) => {
                    let when: u64 = out
                        .split_whitespace()
                        .nth(1)
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0);
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    if when == 0 {
                        Status::alert(format!("tunnel connecting → {peer}"))
                    } else if now.saturating_sub(when) < 180 {
                        Status::ok(format!("tunnel up → {peer}"))
                    } else {
                        Status::alert(format!("tunnel down → {peer}"))
                    }
                }
                Err(_) => Status::alert("tunnel gone"),
            };
            if last.as_ref() != Some(&status) {
                report(status.clone());
                last = Some(status);
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    })
}

/// A TUN device `name` in the host's namespace (no packet information header).
fn open_tun(name: &str) -> anyhow::Result<OwnedFd> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .context("cannot open /dev/net/tun")?;
    // SAFETY: ifreq is a plain C struct; all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    // SAFETY: TUNSETIFF reads `req` (valid, live) on an open /dev/net/tun descriptor.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &req) };
    if r < 0 {
        bail!("TUNSETIFF {name}: {}", std::io::Error::last_os_error());
    }
    Ok(file.into())
}

/// The tunnel's UDP socket, in the host's namespace, talking to the endpoint only.
fn udp_socket(file: &TunnelFile) -> anyhow::Result<std::net::UdpSocket> {
    let any: IpAddr = if file.endpoint.is_ipv4() {
        [0u8; 4].into()
    } else {
        [0u16; 8].into()
    };
    let socket = std::net::UdpSocket::bind((any, file.listen_port.unwrap_or(0)))
        .context("cannot open the tunnel's UDP socket")?;
    socket
        .connect(file.endpoint)
        .with_context(|| format!("cannot reach {}", file.endpoint))?;
    Ok(socket)
}

/// Starts `cloison-wg` with the TUN device as its descriptor 3, the UDP socket as 4, the keys
/// on its standard input; its standard output says `up`, `down`, `connecting`.
fn start_userspace(
    binary: &Path,
    tun: OwnedFd,
    udp: std::net::UdpSocket,
    file: &TunnelFile,
    uid: u32,
    report: Report,
) -> anyhow::Result<Running> {
    let b64 = |k: &[u8; 32]| base64::engine::general_purpose::STANDARD.encode(k);
    let secrets = Zeroizing::new(serde_json::to_vec(&Secrets {
        private_key: b64(&file.private_key),
        peer_key: b64(&file.peer_key),
        preshared_key: file.preshared_key.as_ref().map(|k| b64(k)),
        keepalive: file.keepalive,
        allowed_ips: file.allowed_ips.clone(),
        endpoint: file.endpoint.ip(),
        uid,
    })?);
    let udp: OwnedFd = udp.into();
    let mut command = Command::new(binary);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0);
    cloison_cages::pass_fds(
        &mut command,
        vec![(tun.as_raw_fd(), 3), (udp.as_raw_fd(), 4)],
    );
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    drop((tun, udp));
    let written = child
        .stdin
        .take()
        .context("cloison-wg's input")
        .and_then(|mut stdin| stdin.write_all(&secrets).context("cloison-wg's keys"));
    if let Err(e) = written {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    let peer = file.endpoint.to_string();
    let out = child.stdout.take().context("cloison-wg's output")?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let peer = peer.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let status = match line.trim() {
                "up" => Status::ok(format!("tunnel up → {peer}")),
                "connecting" => Status::alert(format!("tunnel connecting → {peer}")),
                _ => Status::alert(format!("tunnel down → {peer}")),
            };
            report(status);
        }
        if !stopped.load(Ordering::Relaxed) {
            tracing::error!("cloison-wg ended: the level's tunnel is gone (its network with it)");
            report(Status::alert("tunnel gone"));
        }
    });
    Ok(Running {
        child: Some(child),
        stop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    const PUB: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

    #[test]
    fn a_tunnel_file_reads_as_wg_quick_writes_it() {
        let text = format!(
            "[Interface]\nPrivateKey = {KEY}\nAddress = 10.66.0.2/32, fd66::2/128\nDNS = 10.66.0.1\n\n[Peer]\nPublicKey = {PUB}\nEndpoint = 192.0.2.7:51820\nAllowedIPs = 10.66.0.0/24\nPersistentKeepalive = 25 # seconds\n"
        );
        let f = parse(&text).unwrap();
        assert_eq!(f.address.len(), 2);
        assert_eq!(f.endpoint.to_string(), "192.0.2.7:51820");
        assert_eq!(f.keepalive, Some(25));
        assert_eq!(f.mtu, 1420);
        assert_eq!(f.dns, vec!["10.66.0.1".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn bad_tunnel_files_name_the_line() {
        let base = format!(
            "[Interface]\nPrivateKey = {KEY}\nAddress = 10.66.0.2/32\n[Peer]\nPublicKey = {PUB}\nEndpoint = 192.0.2.7:51820\nAllowedIPs = 0.0.0.0/0\n"
        );
        assert!(parse(&base).is_ok());
        for (extra, want) in [
            ("PostUp = iptables -F\n", "8: PostUp is not supported"),
            ("[Peer]\n", "8: one [Peer]"),
            ("Frob = 1\n", "8: unknown key Frob"),
            ("PersistentKeepalive = soon\n", "8: PersistentKeepalive"),
        ] {
            let e = parse(&format!("{base}{extra}")).unwrap_err();
            assert!(e.starts_with(want), "{extra}: {e}");
        }
        assert!(
            parse("[Interface]\nPrivateKey = abc\n")
                .unwrap_err()
                .starts_with("2: not a base64 key")
                || parse("[Interface]\nPrivateKey = abc\n")
                    .unwrap_err()
                    .starts_with("2: a key")
        );
        assert!(
            parse(&base.replace("Endpoint = 192.0.2.7:51820\n", ""))
                .unwrap_err()
                .contains("Endpoint is missing")
        );
    }
}
