//! A test's own networks: a namespace standing in for the host (the session runs in it, see
//! [`crate::session::Session::start_in_netns`]) and an "uplink" namespace standing in for the
//! gateway and the Internet behind it, joined by a veth pair. All test traffic stays inside
//! these namespaces; they are deleted when the fixture is dropped.
//!
//! ```text
//!   uplink namespace (10.99.0.2, an HTTP server on :8080 and :8081)
//!        │ veth
//!   host namespace (10.99.0.1; listeners on 0.0.0.0:7777 and 127.0.0.1:9999) ── cloison run
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The uplink's address, as the host sees it.
pub const UPLINK: &str = "10.99.0.2";
/// The host's address on the uplink.
pub const HOST: &str = "10.99.0.1";

/// The two namespaces and the servers in them.
pub struct TestNet {
    /// The host's stand-in (`ip netns` name).
    pub host: String,
    /// The uplink's (`ip netns` name).
    pub uplink: String,
    /// What the HTTP servers serve: a file `index.html` holding [`TestNet::marker`].
    pub www: tempfile::TempDir,
    /// A string no packet of the test carries in clear unless it crossed in clear.
    pub marker: String,
    children: Vec<Child>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ip {args:?}: {e} (install iproute2)"));
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestNet {
    /// Makes the namespaces, links them, and starts the servers: HTTP on the uplink's
    /// 0.0.0.0:8080 and :8081, and listeners on the host's 0.0.0.0:7777 and 127.0.0.1:9999.
    pub fn new() -> TestNet {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let host = format!("cloison-t{tag}-host");
        let uplink = format!("cloison-t{tag}-up");
        let marker = format!("marker-of-the-uplink-{tag}");
        let www = tempfile::tempdir().expect("tempdir");
        std::fs::write(www.path().join("index.html"), format!("{marker}\n")).expect("write");
        std::fs::set_permissions(
            www.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let mut net = TestNet {
            host,
            uplink,
            www,
            marker,
            children: Vec::new(),
        };
        ip(&["netns", "add", &net.host]);
        ip(&["netns", "add", &net.uplink]);
        for ns in [&net.host, &net.uplink] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&[
            "link",
            "add",
            "up0",
            "netns",
            &net.host,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &net.uplink,
        ]);
        ip(&[
            "-n",
            &net.host,
            "addr",
            "add",
            &format!("{HOST}/24"),
            "dev",
            "up0",
        ]);
        ip(&["-n", &net.host, "link", "set", "up0", "up"]);
        ip(&[
            "-n",
            &net.uplink,
            "addr",
            "add",
            &format!("{UPLINK}/24"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &net.uplink, "link", "set", "eth0", "up"]);
        ip(&["-n", &net.uplink, "route", "add", "default", "via", HOST]);
        let dir = net.www.path().to_str().expect("utf-8").to_string();
        for port in ["8080", "8081"] {
            let uplink = net.uplink.clone();
            net.spawn_in(
                &uplink,
                &[
                    "python3",
                    "-m",
                    "http.server",
                    port,
                    "--bind",
                    "0.0.0.0",
                    "--directory",
                    &dir,
                ],
            );
        }
        let host = net.host.clone();
        net.spawn_in(
            &host,
            &[
                "python3",
                "-m",
                "http.server",
                "7777",
                "--bind",
                "0.0.0.0",
                "--directory",
                &dir,
            ],
        );
        net.spawn_in(
            &host,
            &[
                "python3",
                "-m",
                "http.server",
                "9999",
                "--bind",
                "127.0.0.1",
                "--directory",
                &dir,
            ],
        );
        for (ns, port) in [
            (&net.uplink, "8080"),
            (&net.uplink, "8081"),
            (&net.host, "7777"),
            (&net.host, "9999"),
        ] {
            net.wait_listening(ns, port);
        }
        net
    }

    /// The host's stand-in, as a path to give [`crate::session::Session::start_in_netns`].
    pub fn host_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.host)
    }

    /// Starts `argv` in namespace `ns` (killed with the fixture).
    pub fn spawn_in(&mut self, ns: &str, argv: &[&str]) -> u32 {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Runs `argv` in namespace `ns` to its end; its standard output.
    pub fn run_in(&self, ns: &str, argv: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .output()
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        assert!(
            out.status.success(),
            "{argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Kills the process `pid` started by [`TestNet::spawn_in`] (through `ip netns exec`, which
    /// execs it: the same process).
    pub fn kill(&mut self, pid: u32) {
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            let mut child = self.children.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A WireGuard gateway in the uplink namespace (wireguard-go, a userspace implementation
    /// nobody here wrote): `wgp`, 10.66.0.1/24, port 51820, peer `level_public` at 10.66.0.2, an
    /// HTTP server on 10.66.0.1:8090. Returns (wireguard-go's pid, the gateway's public key).
    pub fn start_wireguard_peer(&mut self, dir: &Path, level_public: &str) -> (u32, String) {
        self.start_wireguard_gateway(dir, &[(level_public, "10.66.0.2")])
    }

    /// [`TestNet::start_wireguard_peer`] with several peers: (public key, inner address).
    pub fn start_wireguard_gateway(&mut self, dir: &Path, peers: &[(&str, &str)]) -> (u32, String) {
        let net = self;
        let (private, public) = keypair();
        let conf = dir.join("peer.conf");
        let mut text = format!("[Interface]\nPrivateKey = {private}\nListenPort = 51820\n");
        for (key, address) in peers {
            text.push_str(&format!(
                "\n[Peer]\nPublicKey = {key}\nAllowedIPs = {address}/32\n"
            ));
        }
        std::fs::write(&conf, text).expect("write");
        let uplink = net.uplink.clone();
        // Foreground (-f): the fixture owns the process.
        let pid = net.spawn_in(&uplink, &["wireguard-go", "-f", "wgp"]);
        crate::session::wait_until_for("wireguard-go's interface", Duration::from_secs(15), || {
            std::process::Command::new("ip")
                .args(["-n", &uplink, "link", "show", "wgp"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        net.run_in(
            &uplink,
            &["wg", "setconf", "wgp", conf.to_str().expect("utf-8")],
        );
        net.run_in(
            &uplink,
            &["ip", "addr", "add", "10.66.0.1/24", "dev", "wgp"],
        );
        net.run_in(&uplink, &["ip", "link", "set", "wgp", "up"]);
        let www = net.www.path().to_str().expect("utf-8").to_string();
        net.spawn_in(
            &uplink,
            &[
                "python3",
                "-m",
                "http.server",
                "8090",
                "--bind",
                "10.66.0.1",
                "--directory",
                &www,
            ],
        );
        net.wait_listening(&uplink, "8090");
        (pid, public)
    }

    fn wait_listening(&self, ns: &str, port: &str) {
        crate::session::wait_until_for(
            &format!("a listener on port {port} in {ns}"),
            Duration::from_secs(15),
            || {
                self.run_in(ns, &["ss", "-Hltn", &format!("sport = :{port}")])
                    .contains(port)
            },
        );
    }
}

/// A key pair from `wg`: (private, public).
pub fn keypair() -> (String, String) {
    let private = std::process::Command::new("wg")
        .arg("genkey")
        .output()
        .expect("wg genkey (install wireguard-tools)");
    let private = String::from_utf8(private.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    let mut child = std::process::Command::new("wg")
        .arg("pubkey")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("wg pubkey");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(private.as_bytes())
        .expect("write");
    let public = child.wait_with_output().expect("wg pubkey");
    (
        private,
        String::from_utf8(public.stdout)
            .expect("utf-8")
            .trim()
            .to_string(),
    )
}

impl Default for TestNet {
    fn default() -> TestNet {
        TestNet::new()
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.host, &self.uplink] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
