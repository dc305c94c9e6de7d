//! `network = "nat"`: the level's namespace gets one veth to the host (`eth0` inside,
//! `cloison<k>` outside) and a default route through it; the host forwards and masquerades what
//! the level's egress rules allow, drops everything else the level sends to the host itself,
//! to other levels' links, or with another source address, and lets nothing new in.

use std::net::{IpAddr, Ipv4Addr};

use anyhow::{Context, bail};
use cloison_config::{Egress, NAT_POOL, Nat, Proto};
use ipnet::{IpNet, Ipv4Net};

use super::{LevelNet, Status, ip, ip_in, ip_to, nft, resolv_conf};

/// Builds `nat` for `level` into `net` (its namespace made already).
pub fn build(net: &mut LevelNet, level: &str, nat: &Nat) -> anyhow::Result<()> {
    let used = host_ranges().context("cannot read the host's addresses and routes")?;
    let subnet = match nat.subnet {
        Some(subnet) => {
            if let Some(taken) = used.iter().find(|u| overlaps(u, &subnet)) {
                bail!(
                    "level {level}'s subnet {subnet} overlaps {taken}, which the host uses: choose another subnet (or leave it out for a free one)"
                );
            }
            subnet
        }
        None => {
            let pool: Ipv4Net = NAT_POOL.parse().context("the NAT pool")?;
            pool.subnets(30)
                .context("the NAT pool")?
                .find(|candidate| !used.iter().any(|u| overlaps(u, candidate)))
                .with_context(|| format!("no free /30 left in {NAT_POOL}: set subnet"))?
        }
    };
    let mut hosts = subnet.hosts();
    let (Some(host_addr), Some(level_addr)) = (hosts.next(), hosts.next()) else {
        bail!("subnet {subnet} has fewer than two addresses");
    };
    let prefix = subnet.prefix_len();
    let link = super::free_link_name("cloison")?;
    ip_to(
        &net.netns,
        &[
            "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", "{ns}",
        ],
    )?;
    net.links.push(link.clone());
    ip(&[
        "addr",
        "add",
        &format!("{host_addr}/{prefix}"),
        "dev",
        &link,
    ])?;
    ip(&["link", "set", &link, "up"])?;
    ip_in(
        &net.netns,
        &[
            "addr",
            "add",
            &format!("{level_addr}/{prefix}"),
            "dev",
            "eth0",
        ],
    )?;
    ip_in(&net.netns, &["link", "set", "eth0", "up"])?;
    ip_in(
        &net.netns,
        &["route", "add", "default", "via", &host_addr.to_string()],
    )?;
    enable_forwarding()?;
    let dns = if nat.dns.is_empty() {
        host_resolvers()
    } else {
        nat.dns.clone()
    };
    let table = format!("inet {link}");
    nft(&ruleset(&link, level_addr, &dns, nat.allow.as_deref()))?;
    net.tables.push(table);
    net.resolv = resolv_conf(&dns, "the resolvers of a NAT level");
    net.status = Status::ok("NAT");
    net.summary = format!(
        "NAT: {level_addr}/{prefix} through {link} ({host_addr}), egress {}, dns {}",
        match &nat.allow {
            None => "anything but the host and other levels".to_string(),
            Some(rules) if rules.is_empty() => "none".to_string(),
            Some(rules) => rules
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        },
        if dns.is_empty() {
            "none".to_string()
        } else {
            dns.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    Ok(())
}

/// The host's IPv4 forwarding on (as libvirt, nspawn and container engines do).
fn enable_forwarding() -> anyhow::Result<()> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(path, "1").context("cannot turn on IPv4 forwarding")?;
    tracing::info!("IPv4 forwarding turned on in the host's namespace (for NAT levels)");
    Ok(())
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// IPv4 ranges in use on the host: its routes (every table) and addresses' networks.
fn host_ranges() -> anyhow::Result<Vec<Ipv4Net>> {
    let mut ranges = Vec::new();
    let routes: serde_json::Value =
        serde_json::from_str(&ip(&["-j", "-4", "route", "show", "table", "all"])?)?;
    for route in routes.as_array().into_iter().flatten() {
        let Some(dst) = route.get("dst").and_then(|d| d.as_str()) else {
            continue;
        };
        if route.get("type").and_then(|t| t.as_str()) == Some("broadcast") {
            continue;
        }
        if let Ok(net) = dst.parse::<Ipv4Net>() {
            ranges.push(net);
        } else if let Ok(addr) = dst.parse::<Ipv4Addr>() {
            ranges.push(Ipv4Net::from(addr));
        }
    }
    let links: serde_json::Value = serde_json::from_str(&ip(&["-j", "-4", "addr"])?)?;
    for link in links.as_array().into_iter().flatten() {
        for info in link
            .get("addr_info")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
        {
            let local = info.get("local").and_then(|l| l.as_str());
            let prefix = info.get("prefixlen").and_then(|p| p.as_u64());
            if let (Some(local), Some(prefix)) = (local, prefix)
                && let Ok(addr) = local.parse::<Ipv4Addr>()
                && let Ok(net) = Ipv4Net::new(addr, prefix as u8)
            {
                ranges.push(net.trunc());
            }
        }
    }
    // A default route is no range in use.
    ranges.retain(|r| r.prefix_len() > 0);
    Ok(ranges)
}

/// The host's resolvers a level can use: `/etc/resolv.conf`'s, without loopback ones; when
/// the host uses a local stub (systemd-resolved), the upstream servers it names.
pub fn host_resolvers() -> Vec<IpAddr> {
    let read = |path: &str| -> Vec<IpAddr> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|a| a.trim().parse().ok())
            .collect()
    };
    let mut servers = read("/etc/resolv.conf");
    if servers.iter().any(|s| s.is_loopback()) {
        servers.extend(read("/run/systemd/resolve/resolv.conf"));
    }
    servers.retain(|s| !s.is_loopback());
    servers.dedup();
    servers.truncate(3);
    servers
}

/// The host's rules for a level on `link` with address `level`: everything it sends to the
/// host itself is dropped (but DNS to a resolver there), everything into it that it did not
/// start, everything to another level's link or from another address; what `allow` allows
/// (everything when absent) is forwarded and masqueraded.
pub fn ruleset(link: &str, level: Ipv4Addr, dns: &[IpAddr], allow: Option<&[Egress]>) -> String {
    let from = format!("iifname \"{link}\"");
    let dns_rules: Vec<String> = dns
        .iter()
        .flat_map(|server| {
            let family = if server.is_ipv4() { "ip" } else { "ip6" };
            ["udp", "tcp"].map(|proto| format!("{family} daddr {server} {proto} dport 53 accept"))
        })
        .collect();
    // Before anything rewrites destinations (a container engine's or a hypervisor's DNAT of
    // host ports comes at dstnat, later): nothing to an address of the host's but DNS.
    let mut prerouting = Vec::new();
    for rule in &dns_rules {
        prerouting.push(format!("{from} fib daddr type local {rule}"));
    }
    prerouting.push(format!("{from} fib daddr type local drop"));
    // The host itself, again (defence in depth).
    let mut input = vec![format!("{from} ct state established,related accept")];
    input.extend(dns_rules.iter().map(|r| format!("{from} {r}")));
    input.push(format!("{from} drop"));
    let mut forward = vec![
        format!("oifname \"{link}\" ct state established,related accept"),
        format!("oifname \"{link}\" drop"),
        format!("{from} ip saddr != {level} drop"),
        format!("{from} meta nfproto ipv6 drop"),
        format!("{from} oifname \"cloison*\" drop"),
        // Rewritten by someone's DNAT: the original destination was not the level's to reach.
        format!("{from} ct status dnat drop"),
        // The host's connection table is shared: a level may not fill it.
        format!(
            "{from} ct state new limit rate over {NEW_FLOWS_PER_SECOND}/second burst {} packets drop",
            NEW_FLOWS_PER_SECOND * 2
        ),
        format!("{from} ct state new ct count over {MAX_FLOWS} drop"),
    ];
    forward.extend(dns_rules.iter().map(|r| format!("{from} {r}")));
    match allow {
        None => forward.push(format!("{from} accept")),
        Some(rules) => {
            for rule in rules {
                forward.push(format!("{from} {} accept", egress_match(rule)));
            }
            forward.push(format!("{from} drop"));
        }
    }
    let chain = |name: &str, hook: &str, priority: &str, rules: &[String]| {
        let mut text = format!(
            "\tchain {name} {{\n\t\ttype filter hook {hook} priority {priority}; policy accept;\n"
        );
        for rule in rules {
            text.push_str(&format!("\t\t{rule}\n"));
        }
        text.push_str("\t}\n");
        text
    };
    format!(
        "table inet {link} {{}}\ndelete table inet {link}\ntable inet {link} {{\n{}{}{}\tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tip saddr {level} oifname != \"{link}\" masquerade\n\t}}\n}}\n",
        chain("prerouting", "prerouting", "raw", &prerouting),
        chain("input", "input", "filter - 5", &input),
        chain("forward", "forward", "filter - 5", &forward),
    )
}

/// New connections a NAT level may open a second (twice as many in a burst).
const NEW_FLOWS_PER_SECOND: u32 = 1000;
/// Connections a NAT level may hold in the host's connection table.
const MAX_FLOWS: u32 = 8192;

/// An egress rule as an nftables match.
fn egress_match(rule: &Egress) -> String {
    let mut words = Vec::new();
    match &rule.net {
        Some(IpNet::V4(net)) => words.push(format!("ip daddr {net}")),
        Some(IpNet::V6(net)) => words.push(format!("ip6 daddr {net}")),
        None => {}
    }
    let ports = |a: u16, b: u16| {
        if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        }
    };
    match rule.proto {
        Some(Proto::Tcp(a, b)) => words.push(format!("tcp dport {}", ports(a, b))),
        Some(Proto::Udp(a, b)) => words.push(format!("udp dport {}", ports(a, b))),
        Some(Proto::Icmp) => words.push("meta l4proto { icmp, ipv6-icmp }".into()),
        None => {}
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ruleset_drops_what_is_not_allowed_and_lets_dns_through() {
        let allow: Vec<Egress> = ["tcp/443", "10.20.0.0/16 udp/1000-2000", "icmp"]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        let text = ruleset(
            "cloison3",
            "10.251.0.14".parse().unwrap(),
            &["192.0.2.53".parse().unwrap()],
            Some(&allow),
        );
        for line in [
            "table inet cloison3 {}\ndelete table inet cloison3\ntable inet cloison3 {",
            "iifname \"cloison3\" ip saddr != 10.251.0.14 drop",
            "iifname \"cloison3\" oifname \"cloison*\" drop",
            "oifname \"cloison3\" drop",
            "iifname \"cloison3\" ip daddr 192.0.2.53 udp dport 53 accept",
            "iifname \"cloison3\" tcp dport 443 accept",
            "iifname \"cloison3\" ip daddr 10.20.0.0/16 udp dport 1000-2000 accept",
            "iifname \"cloison3\" meta l4proto { icmp, ipv6-icmp } accept",
            "iifname \"cloison3\" fib daddr type local ip daddr 192.0.2.53 tcp dport 53 accept",
            "iifname \"cloison3\" fib daddr type local drop",
            "iifname \"cloison3\" ct status dnat drop",
            "iifname \"cloison3\" ct state new ct count over 8192 drop",
            "ip saddr 10.251.0.14 oifname != \"cloison3\" masquerade",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // The host itself: only DNS, then nothing.
        let input = &text[text.find("chain input").unwrap()..text.find("chain forward").unwrap()];
        assert!(
            input
                .trim_end()
                .trim_end_matches('}')
                .trim_end()
                .ends_with("iifname \"cloison3\" drop")
        );
        // Default: everything else forwarded.
        let open = ruleset("cloison0", "10.251.0.2".parse().unwrap(), &[], None);
        assert!(open.contains("iifname \"cloison0\" accept"));
        assert!(!open.contains("iifname \"cloison0\" drop\n\t}\n\tchain postrouting"));
    }

    #[test]
    fn overlapping_ranges_are_told() {
        let a: Ipv4Net = "10.251.0.0/16".parse().unwrap();
        let b: Ipv4Net = "10.251.7.4/30".parse().unwrap();
        let c: Ipv4Net = "10.252.0.0/30".parse().unwrap();
        assert!(overlaps(&a, &b) && overlaps(&b, &a));
        assert!(!overlaps(&a, &c));
    }
}
