//! Throughput of a level's network against the host's own path, in one run.
//!
//! A test's host and uplink namespaces (`cloison_tests::net::TestNet`), `iperf3 -s` on the
//! uplink, and a WireGuard gateway there (wireguard-go) with two peers: the high level
//! (`cloison-wg`, the userspace tunnel) and the host itself (wireguard-go on the host's side).
//! One `cloison run` in the host's namespace with low NAT'd and high behind the tunnel. Each
//! round runs, one after the other, `iperf3 -c` for `seconds`:
//!
//! * **host**: from the host's namespace straight to the uplink (the host's own path);
//! * **NAT level**: from low, through its veth, the host's forwarding, nftables and NAT;
//! * **host WireGuard**: from the host through its own wireguard-go tunnel to the gateway;
//! * **tunnel level**: from high through `cloison-wg` to the gateway.
//!
//! Medians over rounds (sender → receiver, bits per second received) are reported, with the
//! NAT level against the host and the tunnel level against the host's WireGuard.

use std::time::Duration;

use anyhow::{Context as _, bail};
use cloison_tests::net::{HOST, TestNet, UPLINK, keypair};
use cloison_tests::session::{Session, quiet_config, wait_until_for};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Received bits per second in an `iperf3 -J` report.
fn received(json: &str) -> anyhow::Result<f64> {
    let v: serde_json::Value = serde_json::from_str(json).context("iperf3's report")?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .with_context(|| format!("no throughput in iperf3's report: {json}"))
}

/// iperf3 from `level` to `server` for `seconds`.
fn from_level(s: &Session, level: &str, server: &str, seconds: u64) -> anyhow::Result<f64> {
    let home = s.home(level);
    let out = home.join("iperf.json");
    let _ = std::fs::remove_file(&out);
    s.spawn_in(
        level,
        &[
            "/bin/sh",
            "-c",
            &format!(
                "iperf3 -c {server} -t {seconds} -J > ~/iperf.tmp 2>&1; mv ~/iperf.tmp ~/iperf.json"
            ),
        ],
    );
    wait_until_for(
        "iperf3 in the level",
        Duration::from_secs(seconds + 60),
        || out.exists(),
    );
    received(&std::fs::read_to_string(&out)?)
}

pub fn run(rounds: usize, seconds: u64) -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the network benchmark needs root (namespaces, veth, nftables, TUN)");
    }
    let mut net = TestNet::new();
    let dir = tempfile::tempdir()?;
    let uplink = net.uplink.clone();
    let host = net.host.clone();
    net.spawn_in(&uplink, &["iperf3", "-s", "-p", "5201"]);
    let (level_private, level_public) = keypair();
    let (host_private, host_public) = keypair();
    let (_, gateway) = net.start_wireguard_gateway(
        dir.path(),
        &[(&level_public, "10.66.0.2"), (&host_public, "10.66.0.3")],
    );
    // The host's own WireGuard (wireguard-go) to the same gateway.
    let host_conf = dir.path().join("host-wg.conf");
    std::fs::write(
        &host_conf,
        format!(
            "[Interface]\nPrivateKey = {host_private}\n\n[Peer]\nPublicKey = {gateway}\nEndpoint = {UPLINK}:51820\nAllowedIPs = 10.66.0.0/24\n"
        ),
    )?;
    net.spawn_in(&host, &["wireguard-go", "-f", "wgh"]);
    wait_until_for("the host's wireguard-go", Duration::from_secs(15), || {
        std::process::Command::new("ip")
            .args(["-n", &host, "link", "show", "wgh"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    net.run_in(
        &host,
        &["wg", "setconf", "wgh", host_conf.to_str().context("utf-8")?],
    );
    net.run_in(&host, &["ip", "addr", "add", "10.66.0.3/32", "dev", "wgh"]);
    net.run_in(&host, &["ip", "link", "set", "wgh", "up"]);
    net.run_in(&host, &["ip", "route", "add", "10.66.0.0/24", "dev", "wgh"]);
    // The level's tunnel file, as the session wants it.
    let tunnel = dir.path().join("high-wg.conf");
    std::fs::write(
        &tunnel,
        format!(
            "[Interface]\nPrivateKey = {level_private}\nAddress = 10.66.0.2/32\n\n[Peer]\nPublicKey = {gateway}\nEndpoint = {UPLINK}:51820\nAllowedIPs = 10.66.0.0/24\n"
        ),
    )?;
    std::fs::set_permissions(&tunnel, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let config = quiet_config().replace(
        "network = \"none\"",
        &format!(
            "network = {{ mode = \"wireguard\", config = \"{}\", implementation = \"userspace\" }}",
            tunnel.display()
        ),
    );
    let mut s = Session::start_in_netns(&config, &net.host_path())?;
    wait_until_for("the tunnel up", Duration::from_secs(30), || {
        s.status().is_ok_and(|st| {
            st.levels.iter().any(|l| {
                l.name == "high"
                    && l.network
                        .as_deref()
                        .is_some_and(|n| n.starts_with("tunnel up"))
            })
        })
    });
    let (mut direct, mut nat, mut host_wg, mut tunnel_level) = (vec![], vec![], vec![], vec![]);
    let host_iperf = |server: &str| -> anyhow::Result<f64> {
        received(&net.run_in(
            &host,
            &["iperf3", "-c", server, "-t", &seconds.to_string(), "-J"],
        ))
    };
    for round in 0..rounds {
        direct.push(host_iperf(UPLINK)?);
        nat.push(from_level(&s, "low", UPLINK, seconds)?);
        host_wg.push(host_iperf("10.66.0.1")?);
        tunnel_level.push(from_level(&s, "high", "10.66.0.1", seconds)?);
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!(
                "round {}: host {:.2} Gbit/s, NAT level {:.2}, host WireGuard {:.2}, tunnel level {:.2}",
                round + 1,
                direct[round] / 1e9,
                nat[round] / 1e9,
                host_wg[round] / 1e9,
                tunnel_level[round] / 1e9
            );
        }
    }
    let (d, n, h, t) = (
        median(direct),
        median(nat),
        median(host_wg),
        median(tunnel_level),
    );
    #[allow(clippy::disallowed_macros)]
    {
        println!(
            "Throughput (iperf3 -t {seconds}, TCP, medians of {rounds} rounds; host {HOST} → uplink {UPLINK}):"
        );
        println!("| path | Gbit/s | ratio |");
        println!("|---|---|---|");
        println!(
            "| host → uplink (the host's own path) | {:.2} | 1 |",
            d / 1e9
        );
        println!(
            "| NAT level → uplink (veth, forwarding, nftables, masquerade) | {:.2} | {:.2}x of the host's |",
            n / 1e9,
            n / d
        );
        println!(
            "| host → gateway through wireguard-go (the host's own tunnel) | {:.2} | 1 |",
            h / 1e9
        );
        println!(
            "| tunnel level → gateway through cloison-wg | {:.2} | {:.2}x of the host's tunnel |",
            t / 1e9,
            t / h
        );
    }
    drop(s);
    Ok(())
}
