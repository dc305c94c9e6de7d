//! Levels' networks the launcher builds (root sessions): a network namespace per level, owned
//! by the host's user namespace (so nothing in the cage, whatever it runs, has `CAP_NET_ADMIN`
//! over it), configured from outside before the cage joins it:
//!
//! * [`nat`]: a veth pair to the host, NAT to the host's uplink, egress rules (nftables);
//! * [`wireguard`]: only `lo` and a WireGuard interface whose encrypted UDP socket stays in the
//!   host's namespace (the kernel's WireGuard, or `cloison-wg` on a TUN device made outside);
//! * [`ipsec`]: only `lo` and an XFRM interface made in the host's namespace, keyed by the
//!   host's IKE daemon.
//!
//! Interfaces, addresses and routes are set with iproute2's `ip` and the firewall with
//! nftables' `nft` (one atomic `nft -f -` per level): both are what administrators use and
//! read, and `nft -f` replaces a whole table in one transaction. Every argument comes from the
//! validated configuration; no shell is involved.

use std::io::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use cloison_config::{Level, Network};

pub mod ipsec;
pub mod nat;
pub mod wireguard;

/// What the bar says of a level's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Short text: `no network`, `NAT`, `tunnel up → 192.0.2.7:51820`, `tunnel down`.
    pub text: String,
    /// Something is wrong (a tunnel down, a network that could not be built).
    pub alert: bool,
}

impl Status {
    pub fn ok(text: impl Into<String>) -> Status {
        Status {
            text: text.into(),
            alert: false,
        }
    }

    pub fn alert(text: impl Into<String>) -> Status {
        Status {
            text: text.into(),
            alert: true,
        }
    }
}

/// Where a level's network status changes go (the session's loop).
pub type Report = std::sync::Arc<dyn Fn(Status) + Send + Sync>;

/// A level's network as built: its namespace, its resolvers, what to undo at the end.
pub struct LevelNet {
    netns: OwnedFd,
    /// The cage's `/etc/resolv.conf`.
    pub resolv: String,
    /// What the bar shows first.
    pub status: Status,
    /// One line for the log.
    pub summary: String,
    /// nftables tables of the host's namespace to delete at the end.
    tables: Vec<String>,
    /// Links of the host's namespace to delete at the end.
    links: Vec<String>,
    /// The userspace tunnel, or the kernel tunnel's watcher.
    tunnel: Option<wireguard::Running>,
}

impl LevelNet {
    /// A copy of the namespace's descriptor, for a cage to join.
    pub fn netns(&self) -> std::io::Result<OwnedFd> {
        self.netns.try_clone()
    }
}

impl Drop for LevelNet {
    fn drop(&mut self) {
        if let Some(tunnel) = self.tunnel.take() {
            tunnel.stop();
        }
        // The link first: no packet of the level goes past a deleted table.
        for link in &self.links {
            let _ = run(Command::new(tool("ip")).args(["link", "del", link]));
        }
        for table in &self.tables {
            if let Err(e) = nft(&format!("delete table {table}\n")) {
                tracing::warn!("cannot delete nftables table {table}: {e:#}");
            }
        }
    }
}

/// A system tool by its absolute path (the launcher runs as root: never from `PATH`).
pub(crate) fn tool(name: &str) -> std::path::PathBuf {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|dir| std::path::Path::new(dir).join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| std::path::Path::new("/usr/sbin").join(name))
}

/// Builds the network of `level` (one of the modes [`Network::is_built`] says), reporting
/// status changes (a tunnel up or down) through `report`.
///
/// `tunnel_uid`: who `cloison-wg` runs as (a uid of the level's own that owns nothing).
pub fn build(
    level: &Level,
    tools: &Tools,
    report: Report,
    tunnel_uid: u32,
) -> anyhow::Result<LevelNet> {
    // A tunnel's file is read (and its endpoint resolved) before the host-wide lock.
    let tunnel_file = match &level.network {
        Network::WireGuard(wg) => Some(wireguard::read_file(&wg.config)?),
        _ => None,
    };
    let _lock = HostLock::take()?;
    let netns = new_namespace().context("cannot make the level's network namespace")?;
    let mut net = LevelNet {
        netns,
        resolv: String::new(),
        status: Status::ok("no network"),
        summary: String::new(),
        tables: Vec::new(),
        links: Vec::new(),
        tunnel: None,
    };
    match &level.network {
        Network::Nat(nat) => nat::build(&mut net, &level.name, nat)?,
        Network::WireGuard(wg) => {
            let file = tunnel_file.context("the tunnel file")?;
            wireguard::build(&mut net, wg, file, tools, report, tunnel_uid)?
        }
        Network::Ipsec(ipsec) => ipsec::build(&mut net, ipsec, report)?,
        other => bail!("network {other} is not built by the launcher"),
    }
    Ok(net)
}

/// Programs the networks use.
#[derive(Debug, Clone, Default)]
pub struct Tools {
    /// `cloison-wg`, the userspace WireGuard tunnel.
    pub wg: Option<std::path::PathBuf>,
}

/// Serialises network set-up across sessions of the host (choosing a free subnet and
/// interface name, then taking them, is one step): an exclusive lock on
/// `/run/cloison-network.lock`.
struct HostLock(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>);

impl HostLock {
    fn take() -> anyhow::Result<HostLock> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open("/run/cloison-network.lock")
            .context("cannot open /run/cloison-network.lock")?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map(HostLock)
            .map_err(|(_, e)| anyhow::anyhow!("cannot lock /run/cloison-network.lock: {e}"))
    }
}

/// A new network namespace with `lo` up, IPv6 off on interfaces added later, and ping
/// sockets allowed to everyone in it (ping without privileges). Made in a thread of its own,
/// which alone enters it.
fn new_namespace() -> anyhow::Result<OwnedFd> {
    std::thread::spawn(|| -> anyhow::Result<OwnedFd> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .context("unshare(CLONE_NEWNET)")?;
        let ns: OwnedFd = std::fs::File::open("/proc/thread-self/ns/net")
            .context("open /proc/thread-self/ns/net")?
            .into();
        // This thread's namespace is the new one: its sysctls are the namespace's.
        for (key, value) in [
            ("net/ipv4/ping_group_range", "0 2147483647"),
            ("net/ipv6/conf/default/disable_ipv6", "1"),
            // A level routes nothing (a new namespace may inherit the host's forwarding).
            ("net/ipv4/ip_forward", "0"),
        ] {
            std::fs::write(format!("/proc/sys/{key}"), value)
                .with_context(|| format!("sysctl {key}"))?;
        }
        run(Command::new(tool("ip")).args(["link", "set", "lo", "up"]))?;
        Ok(ns)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
}

/// Writes a sysctl of the namespace `ns` (`key` under `/proc/sys`).
pub(crate) fn sysctl_in(ns: &OwnedFd, key: &str, value: &str) -> anyhow::Result<()> {
    let ns = ns.try_clone()?;
    let key = key.to_string();
    let value = value.to_string();
    std::thread::spawn(move || -> anyhow::Result<()> {
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
        std::fs::write(format!("/proc/sys/{key}"), value).with_context(|| format!("sysctl {key}"))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the sysctl thread panicked"))?
}

/// Runs `command`; its standard error becomes the error's text.
pub(crate) fn run(command: &mut Command) -> anyhow::Result<String> {
    let shown = format!("{command:?}").replace('"', "");
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown}: {}",
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', "; ")
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip ARGS` in the host's namespace.
pub(crate) fn ip(args: &[&str]) -> anyhow::Result<String> {
    run(Command::new(tool("ip")).args(args))
}

/// `ip ARGS` inside `ns`.
pub(crate) fn ip_in(ns: &OwnedFd, args: &[&str]) -> anyhow::Result<String> {
    let mut command = Command::new(tool("ip"));
    command.args(args);
    in_namespace(&mut command, ns);
    run(&mut command)
}

/// `command` runs inside `ns` (joined between fork and exec).
pub(crate) fn in_namespace(command: &mut Command, ns: &OwnedFd) {
    let fd = ns.as_raw_fd();
    // SAFETY: setns is a single system call, async-signal-safe; `fd` stays open in the parent
    // until spawn returns.
    unsafe {
        command.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// `ip ARGS` in the host's namespace, where the word `{ns}` in ARGS names `ns` (as a path to
/// the descriptor, which the command inherits as its descriptor 3).
pub(crate) fn ip_to(ns: &OwnedFd, args: &[&str]) -> anyhow::Result<String> {
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "{ns}" { "/proc/self/fd/3" } else { a })
        .collect();
    let mut command = Command::new(tool("ip"));
    command.args(&args);
    cloison_cages::pass_fds(&mut command, vec![(ns.as_raw_fd(), 3)]);
    run(&mut command)
}

/// Applies an nftables ruleset (`nft -f -`: one transaction).
pub(crate) fn nft(ruleset: &str) -> anyhow::Result<()> {
    let mut child = Command::new(tool("nft"))
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run nft (install nftables)")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(ruleset.as_bytes()).context("nft's input")?;
    }
    let out = child.wait_with_output().context("nft")?;
    if !out.status.success() {
        bail!(
            "nft refused the level's rules: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The first `prefix{k}` that names no interface of the launcher's namespace, `k` from 0
/// (asked of the kernel: `/sys/class/net` shows the namespace sysfs was mounted in).
pub(crate) fn free_link_name(prefix: &str) -> anyhow::Result<String> {
    (0..10_000)
        .map(|k| format!("{prefix}{k}"))
        .find(|name| nix::net::if_::if_nametoindex(name.as_str()).is_err())
        .context("no free interface name")
}

/// Moves the host's link `link` into the level's namespace as `name`, with `addresses`, an
/// MTU, up, and a route through it for each of `routes` (a `/0` is the default route): a
/// tunnel's interface, which is the level's only way out.
pub(crate) fn move_in_as(
    net: &mut LevelNet,
    link: &str,
    name: &str,
    addresses: &[ipnet::IpNet],
    mtu: Option<u32>,
    routes: &[ipnet::IpNet],
) -> anyhow::Result<()> {
    ip_to(&net.netns, &["link", "set", link, "netns", "{ns}"])?;
    // Gone from the host's namespace: not the host's to delete any more (the name may be
    // another session's by then); it goes with the level's namespace.
    net.links.retain(|l| l != link);
    ip_in(&net.netns, &["link", "set", link, "name", name])?;
    let v6 = addresses.iter().any(|a| a.addr().is_ipv6());
    let key = format!("net/ipv6/conf/{name}/disable_ipv6");
    sysctl_in(&net.netns, &key, if v6 { "0" } else { "1" })?;
    if let Some(mtu) = mtu {
        ip_in(&net.netns, &["link", "set", name, "mtu", &mtu.to_string()])?;
    }
    for address in addresses {
        ip_in(
            &net.netns,
            &["addr", "add", &address.to_string(), "dev", name],
        )?;
    }
    ip_in(&net.netns, &["link", "set", name, "up"])?;
    for range in routes {
        let family = if range.addr().is_ipv6() { "-6" } else { "-4" };
        let dst = if range.prefix_len() == 0 {
            "default".to_string()
        } else {
            range.to_string()
        };
        ip_in(&net.netns, &[family, "route", "replace", &dst, "dev", name])?;
    }
    Ok(())
}

/// A `resolv.conf` naming `servers` (or saying there are none).
pub(crate) fn resolv_conf(servers: &[std::net::IpAddr], how: &str) -> String {
    let mut text = format!("# Written by Cloison: {how}.\n");
    if servers.is_empty() {
        text.push_str("# No resolver: set dns = [...] in the level's network.\n");
    }
    for server in servers.iter().take(3) {
        text.push_str(&format!("nameserver {server}\n"));
    }
    text
}
