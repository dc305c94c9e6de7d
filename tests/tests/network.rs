//! Levels' networks, end to end (issue: per-level networks): a session runs inside a test's
//! stand-in for the host, with an uplink namespace behind it ([`TestNet`]); programs in the
//! levels connect to what is there. Needs root (namespaces, veth, nftables, TUN), like CI.

use std::time::Duration;

use cloison_tests::net::{HOST, TestNet, UPLINK};
use cloison_tests::session::{Session, external, quiet_config, wait_until_for};

/// Connects to each `HOST:PORT` from `level` (a GET, 3 s at most each) and returns one line
/// per target: `TARGET ok MARKER?`, `TARGET refused` or `TARGET unreachable` (timeout or no
/// route).
fn probe(s: &Session, level: &str, targets: &[&str]) -> Vec<String> {
    let home = s.home(level);
    std::fs::write(home.join("probe.py"), PROBE).expect("write the probe");
    let _ = std::fs::remove_file(home.join("probe.out"));
    let mut argv = vec!["python3", "/home/user/probe.py"];
    argv.extend_from_slice(targets);
    s.spawn_in(level, &argv);
    let out = home.join("probe.out");
    wait_until_for("the probe's answers", Duration::from_secs(60), || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.ends_with("done\n"))
    });
    let text = std::fs::read_to_string(&out).expect("read");
    text.lines()
        .filter(|l| *l != "done")
        .map(str::to_string)
        .collect()
}

const PROBE: &str = r#"
import socket, sys
out = []
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        s = socket.create_connection((host, int(port)), timeout=3)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        out.append(f"{target} ok {data.decode(errors='replace').strip().splitlines()[-1]}")
    except ConnectionRefusedError:
        out.append(f"{target} refused")
    except OSError as e:
        out.append(f"{target} unreachable ({type(e).__name__})")
open("/home/user/probe.out", "w").write("\n".join(out) + "\ndone\n")
"#;

/// Runs `script` in `level` with bash; its output.
fn sh(s: &Session, level: &str, script: &str) -> String {
    let home = s.home(level);
    let _ = std::fs::remove_file(home.join("sh.out"));
    s.spawn_in(
        level,
        &[
            "/bin/bash",
            "-c",
            &format!("( {script} ) > ~/sh.out.tmp 2>&1; echo done >> ~/sh.out.tmp; mv ~/sh.out.tmp ~/sh.out"),
        ],
    );
    let out = home.join("sh.out");
    wait_until_for("the script", Duration::from_secs(30), || out.exists());
    std::fs::read_to_string(&out).expect("read")
}

/// Lists the interfaces of the level's namespace, one a line.
const INTERFACES: &str = "awk -F: 'NR > 2 { gsub(/ /, \"\", $1); print $1 }' /proc/net/dev | sort";

/// The level's network as `ctl status` says.
fn network_of(s: &mut Session, level: &str) -> String {
    let status = s.status().expect("status");
    status
        .levels
        .iter()
        .find(|l| l.name == level)
        .and_then(|l| l.network.clone())
        .unwrap_or_default()
}

/// The pid (outside) of a level's cage init.
fn init_pid(s: &mut Session, level: &str) -> u32 {
    let status = s.status().expect("status");
    status
        .levels
        .iter()
        .find(|l| l.name == level)
        .and_then(|l| l.cage.as_ref())
        .and_then(|c| c.init_pid)
        .expect("the level's init")
}

/// Whether the network namespace of `pid` belongs to the host's user namespace (so no
/// capability a cage holds in its own user namespace applies to it).
fn netns_owned_by_host(pid: u32) -> bool {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::MetadataExt as _;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).expect("open the netns");
    // NS_GET_USERNS = _IO(0xb7, 0x1)
    // SAFETY: an ioctl without argument on an open namespace file; it returns a new descriptor.
    let owner = unsafe { libc::ioctl(ns.as_raw_fd(), 0xb701) };
    assert!(
        owner >= 0,
        "NS_GET_USERNS: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the ioctl returned a new descriptor we own.
    let owner = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(owner) };
    let ours = std::fs::metadata("/proc/self/ns/user").expect("our user namespace");
    owner.metadata().expect("stat").ino() == ours.ino()
}

#[test]
fn a_nat_level_reaches_the_uplink_and_nothing_of_the_host_or_the_other_level() {
    let _ = external("nft");
    let net = TestNet::new();
    // low: the built-in default (`nat`, a free subnet); high: NAT'd with egress to TCP 8080
    // only, on a subnet of its own.
    let config = quiet_config().replace(
        "network = \"none\"",
        &format!(
            "network = {{ mode = \"nat\", subnet = \"10.251.9.0/30\", allow = [\"tcp/8080\"], dns = [\"{UPLINK}\"] }}"
        ),
    );
    assert!(config.contains("10.251.9.0/30"), "{config}");
    // The host publishes a port the way container engines do: DNAT of the host's port 7778
    // to a server elsewhere (the uplink's 8080 stands in for a container).
    let published = "table ip published { chain prerouting { type nat hook prerouting priority dstnat; tcp dport 7778 dnat to 10.99.0.2:8080; }; }";
    net.run_in(&net.host, &["nft", published]);
    let mut s = Session::start_in_netns(&config, &net.host_path()).expect("session");
    assert_eq!(network_of(&mut s, "low"), "NAT");
    assert_eq!(network_of(&mut s, "high"), "NAT");
    // A listener in each level, to try the other level's address.
    for level in ["low", "high"] {
        s.spawn_in(
            level,
            &["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"],
        );
    }
    let marker = net.marker.clone();
    let up = format!("{UPLINK}:8080");
    let up2 = format!("{UPLINK}:8081");
    let host = format!("{HOST}:7777");
    let host_published = format!("{HOST}:7778");
    let low = probe(
        &s,
        "low",
        &[
            &host_published,
            "10.251.0.1:7778",
            &up,
            &up2,
            &host,
            "10.251.0.1:7777",
            "127.0.0.1:9999",
            "10.251.9.2:8000",
        ],
    );
    // The host's published port is the host's: not reachable from the level, by either of
    // the host's addresses, though its DNAT would forward it.
    assert!(low[0].contains("unreachable"), "{low:?}");
    assert!(low[1].contains("unreachable"), "{low:?}");
    let low = low[2..].to_vec();
    assert_eq!(low[0], format!("{up} ok {marker}"), "{low:?}");
    // No egress rules: every port of the uplink.
    assert_eq!(low[1], format!("{up2} ok {marker}"), "{low:?}");
    // The host's addresses (uplink side and link side) are dropped; its loopback is not even
    // addressable (127.0.0.1 is the level's own, where nothing listens); high's address is
    // dropped.
    assert!(low[2].contains("unreachable"), "{low:?}");
    assert!(low[3].contains("unreachable"), "{low:?}");
    assert_eq!(low[4], "127.0.0.1:9999 refused", "{low:?}");
    assert!(low[5].contains("unreachable"), "{low:?}");
    let high = probe(&s, "high", &[&up, &up2, &host, "10.251.0.2:8000"]);
    assert_eq!(high[0], format!("{up} ok {marker}"), "{high:?}");
    // Its egress rules: 8081 is dropped (the same server answers low).
    assert!(high[1].contains("unreachable"), "{high:?}");
    assert!(high[2].contains("unreachable"), "{high:?}");
    assert!(high[3].contains("unreachable"), "{high:?}");
    // Its resolvers: what the configuration says.
    let out = sh(&s, "high", "cat /etc/resolv.conf");
    assert!(out.contains(&format!("nameserver {UPLINK}\n")), "{out}");
    // A level cannot change its addresses or routes: the namespace belongs to the host's user
    // namespace (no capability of the cage's applies), and `ip` is refused.
    for level in ["low", "high"] {
        let pid = init_pid(&mut s, level);
        assert!(
            netns_owned_by_host(pid),
            "{level}'s network namespace is its own to change"
        );
        let out = sh(
            &s,
            level,
            "ip route add 192.0.2.0/24 dev eth0; ip addr add 10.251.9.9/32 dev eth0; ip link set eth0 down",
        );
        assert_eq!(
            out.matches("Operation not permitted").count(),
            3,
            "{level}: {out}"
        );
    }
    // The addresses are the ones given, seen from outside.
    let addrs = net.run_in(&net.host, &["ip", "-4", "-o", "addr"]);
    assert!(addrs.contains("10.251.9.1/30"), "{addrs}");
    // The session's end takes its firewall tables and links away.
    drop(s);
    let rules = net.run_in(&net.host, &["nft", "list", "ruleset"]);
    assert!(!rules.contains("cloison"), "{rules}");
    let links = net.run_in(&net.host, &["ip", "-o", "link"]);
    assert!(!links.contains(": cloison"), "{links}");
}

#[test]
fn a_tunnel_level_reaches_only_its_peer_and_only_through_the_tunnel() {
    for tool in ["wg", "wireguard-go", "tcpdump"] {
        let _ = external(tool);
    }
    let mut net = TestNet::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (level_private, level_public) = cloison_tests::net::keypair();
    let (peer_pid, peer_public) = net.start_wireguard_peer(dir.path(), &level_public);
    let tunnel = dir.path().join("high-wg.conf");
    std::fs::write(
        &tunnel,
        format!(
            "[Interface]\nPrivateKey = {level_private}\nAddress = 10.66.0.2/32\nDNS = 10.66.0.1\n\n[Peer]\nPublicKey = {peer_public}\nEndpoint = {UPLINK}:51820\nAllowedIPs = 10.66.0.0/24\n"
        ),
    )
    .expect("write");
    // A tunnel file readable by others is refused (it holds a private key).
    std::fs::set_permissions(&tunnel, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let config = quiet_config().replace(
        "network = \"none\"",
        &format!(
            "network = {{ mode = \"wireguard\", config = \"{}\", implementation = \"userspace\" }}",
            tunnel.display()
        ),
    );
    {
        let mut s = Session::start_in_netns(&config, &net.host_path()).expect("session");
        assert_eq!(network_of(&mut s, "high"), "no network (see the log)");
        assert!(s.stderr_contains("readable by it alone"));
        let out = sh(&s, "high", INTERFACES);
        assert_eq!(out, "lo\ndone\n");
    }
    std::fs::set_permissions(&tunnel, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let mut s = Session::start_in_netns(&config, &net.host_path()).expect("session");
    let peer = format!("{UPLINK}:51820");
    wait_until_for("the tunnel up", Duration::from_secs(30), || {
        network_of(&mut s, "high") == format!("tunnel up → {peer}")
    });
    // Only lo and the tunnel in the level; its resolver is the tunnel's.
    let out = sh(&s, "high", &format!("{INTERFACES}; cat /etc/resolv.conf"));
    assert!(out.starts_with("lo\nwg0\n"), "{out}");
    assert!(out.contains("nameserver 10.66.0.1\n"), "{out}");
    // What crosses the uplink, captured there while the level fetches through the tunnel.
    let capture = dir.path().join("uplink.txt");
    let capture_file = std::fs::File::create(&capture).expect("create");
    let uplink = net.uplink.clone();
    let mut tcpdump = std::process::Command::new("ip")
        .args([
            "netns", "exec", &uplink, "tcpdump", "-i", "eth0", "-n", "-l", "-U", "-A", "-s", "0",
        ])
        .stdout(capture_file)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tcpdump");
    std::thread::sleep(Duration::from_secs(1));
    let marker = net.marker.clone();
    let through = "10.66.0.1:8090";
    let direct = format!("{UPLINK}:8080");
    let host = format!("{HOST}:7777");
    let out = probe(&s, "high", &[through, &direct, &host]);
    assert_eq!(out[0], format!("{through} ok {marker}"), "{out:?}");
    // The uplink and the host are out of reach: no route but the tunnel's.
    assert!(out[1].contains("unreachable"), "{out:?}");
    assert!(out[2].contains("unreachable"), "{out:?}");
    std::thread::sleep(Duration::from_millis(500));
    let _ = tcpdump.kill();
    let _ = tcpdump.wait();
    let seen = std::fs::read_to_string(&capture).expect("read the capture");
    assert!(
        seen.contains(&format!("{HOST}.")) && seen.contains(&format!("> {UPLINK}.51820: UDP")),
        "no WireGuard packets on the uplink:\n{seen}"
    );
    assert!(!seen.contains(&marker), "clear text on the uplink:\n{seen}");
    assert!(!seen.contains("GET /"), "clear text on the uplink:\n{seen}");
    assert!(
        !seen.contains(":8080"),
        "the level reached the uplink directly:\n{seen}"
    );
    // The gateway goes away: the level is cut off (no clear-text fallback), and the bar says
    // the tunnel is down once data has gone unanswered.
    net.kill(peer_pid);
    let out = probe(&s, "high", &[through, &direct]);
    assert!(out[0].contains("unreachable"), "{out:?}");
    assert!(out[1].contains("unreachable"), "{out:?}");
    wait_until_for("the tunnel down", Duration::from_secs(60), || {
        network_of(&mut s, "high") == format!("tunnel down → {peer}")
    });
    // The keys never entered the level: not in its files, its environment or its view.
    let out = sh(
        &s,
        "high",
        "grep -rl PrivateKey /etc /home/user /tmp 2>/dev/null; env | grep -ci wireguard; ls /dev/net 2>&1",
    );
    assert!(
        !out.contains("wg.conf") && !out.contains("peer.conf"),
        "{out}"
    );
    let key_seen = sh(
        &s,
        "high",
        &format!(
            "grep -rF -- '{}' /proc/*/environ /etc /home/user 2>/dev/null | head -1",
            &level_private[..20]
        ),
    );
    assert_eq!(
        key_seen, "done\n",
        "the level's private key is visible inside"
    );
}

#[test]
fn check_config_warns_about_a_host_network_and_reads_tunnel_files_as_the_session_will() {
    let dir = tempfile::tempdir().expect("tempdir");
    let check = |config: &str| {
        let file = dir.path().join("cloison.toml");
        std::fs::write(&file, config).expect("write");
        let out = std::process::Command::new(cloison_tests::session::our_binary("cloison"))
            .arg("check-config")
            .arg(&file)
            .output()
            .expect("cloison check-config");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = check(&quiet_config());
    assert!(ok && !out.contains("warning"), "{out}");
    assert!(out.contains("network nat"), "{out}");
    let (ok, out) = check(&quiet_config().replace("network = \"nat\"", "network = \"host\""));
    assert!(ok, "{out}");
    assert!(
        out.contains("warning: level \"low\": network = \"host\" is not isolation"),
        "{out}"
    );
    let tunnel = dir.path().join("high-wg.conf");
    std::fs::write(&tunnel, "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nAddress = 10.66.0.2/32\n[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nEndpoint = 192.0.2.7:51820\nAllowedIPs = 10.66.0.0/24\nPostUp = iptables -F\n").expect("write");
    std::fs::set_permissions(&tunnel, std::os::unix::fs::PermissionsExt::from_mode(0o640))
        .expect("chmod");
    let config = quiet_config().replace(
        "network = \"none\"",
        &format!(
            "network = {{ mode = \"wireguard\", config = \"{}\" }}",
            tunnel.display()
        ),
    );
    let (ok, out) = check(&config);
    assert!(!ok && out.contains("readable by it alone"), "{out}");
    std::fs::set_permissions(&tunnel, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let (ok, out) = check(&config);
    assert!(
        !ok && out.contains("high-wg.conf:8: PostUp is not supported"),
        "{out}"
    );
}

#[test]
fn a_user_session_gives_a_nat_level_no_network_rather_than_a_weaker_one() {
    // The launcher as an unprivileged user (nobody) cannot build NAT: low gets no network
    // (only `lo`), not the host's, and the bar says why.
    let mut s = Session::start_as_user(&quiet_config(), 65534).expect("session");
    assert_eq!(network_of(&mut s, "low"), "no network (needs root)");
    assert!(s.stderr_contains("network nat needs a root session"));
    let out = sh(&s, "low", INTERFACES);
    assert_eq!(out, "lo\ndone\n");
}
