//! `network = { mode = "ipsec", if_id = N, … }`: an XFRM interface made in the host's
//! namespace (where the IKE daemon, strongSwan's charon, keeps its states and policies with the
//! same `if_id`) and moved into the level's, as `ipsec0`. Packets the level sends through it are
//! encrypted in the host's namespace; the level has no other way out. Cloison implements no IKE.

use std::time::Duration;

use anyhow::Context;
use cloison_config::Ipsec;

use super::{LevelNet, Report, Status, ip, resolv_conf};

pub fn build(net: &mut LevelNet, ipsec: &Ipsec, report: Report) -> anyhow::Result<()> {
    let link = super::free_link_name("clxf")?;
    let id = ipsec.if_id.to_string();
    if ip(&["link", "add", &link, "type", "xfrm", "if_id", &id]).is_err() {
        // Older kernels want the underlying device.
        let dev = default_device().context("no default route for the XFRM interface's device")?;
        ip(&["link", "add", &link, "type", "xfrm", "dev", &dev, "if_id", &id]).context(
            "cannot make an XFRM interface (the kernel needs xfrm_interface: modprobe xfrm_interface)",
        )?;
    }
    net.links.push(link.clone());
    // No routes given: everything, in each family the level has an address of.
    let mut everything = vec![ipnet::IpNet::V4(Default::default())];
    if ipsec.address.iter().any(|a| a.addr().is_ipv6()) {
        everything.push(ipnet::IpNet::V6(Default::default()));
    }
    let routes = if ipsec.routes.is_empty() {
        &everything[..]
    } else {
        &ipsec.routes[..]
    };
    super::move_in_as(net, &link, "ipsec0", &ipsec.address, None, routes)?;
    net.resolv = resolv_conf(&ipsec.dns, "the resolvers of the level's IPsec tunnel");
    net.status = Status::alert(format!("IPsec if_id {id}: no SA yet"));
    net.summary = format!(
        "IPsec: XFRM interface if_id {id} as ipsec0, {}",
        ipsec
            .address
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let if_id = ipsec.if_id;
    net.tunnel = Some(super::wireguard::Running::watcher(move |stopped| {
        let mut last = None;
        let wanted = format!("{if_id:#x}");
        while !stopped() {
            // A state of the host's with exactly this if_id (`if_id 0x2a` on its own line).
            let up = ip(&["xfrm", "state"]).is_ok_and(|out| {
                out.lines().any(|line| {
                    let mut words = line.split_whitespace();
                    words.next() == Some("if_id") && words.next() == Some(wanted.as_str())
                })
            });
            let status = if up {
                Status::ok(format!("IPsec up (if_id {id})"))
            } else {
                Status::alert(format!("IPsec down (if_id {id}): no SA"))
            };
            if last.as_ref() != Some(&status) {
                report(status.clone());
                last = Some(status);
            }
            std::thread::sleep(Duration::from_secs(3));
        }
    }));
    Ok(())
}

/// The device of the host's default route.
fn default_device() -> anyhow::Result<String> {
    let routes: serde_json::Value =
        serde_json::from_str(&ip(&["-j", "-4", "route", "show", "default"])?)?;
    routes
        .as_array()
        .and_then(|r| r.first())
        .and_then(|r| r.get("dev"))
        .and_then(|d| d.as_str())
        .map(str::to_string)
        .context("no default route")
}
