//! A level's network: the configuration's forms (`network = "nat"`, a table for NAT options
//! and tunnels) and their validation.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

use crate::BadValue;

/// A level's network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// A fresh network namespace with only `lo` up.
    None,
    /// The host's network (no isolation: kept for compatibility).
    Host,
    /// Join the named namespace `/run/netns/NAME` (built by someone else).
    Netns(String),
    /// The level's own namespace, a veth pair to the host, NAT to the host's uplink, egress
    /// rules (root sessions).
    Nat(Nat),
    /// The level's own namespace with only `lo` and a WireGuard interface whose encrypted
    /// side stays in the host's namespace (root sessions).
    WireGuard(WireGuard),
    /// The level's own namespace with only `lo` and an XFRM interface keyed by the host's IKE
    /// daemon (root sessions; the kernel must have `xfrm_interface`).
    Ipsec(Ipsec),
}

impl Network {
    /// Whether the launcher builds this network (a namespace of the level's own with
    /// interfaces: needs a root session).
    pub fn is_built(&self) -> bool {
        matches!(
            self,
            Network::Nat(_) | Network::WireGuard(_) | Network::Ipsec(_)
        )
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Network::None => f.write_str("none"),
            Network::Host => f.write_str("host"),
            Network::Netns(name) => write!(f, "netns:{name}"),
            Network::Nat(nat) => {
                f.write_str("nat")?;
                match &nat.allow {
                    None => Ok(()),
                    Some(rules) => {
                        let rules: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
                        write!(f, " (egress {})", rules.join(", "))
                    }
                }
            }
            Network::WireGuard(wg) => write!(f, "wireguard ({})", wg.config.display()),
            Network::Ipsec(ipsec) => write!(f, "ipsec (if_id {})", ipsec.if_id),
        }
    }
}

/// `network = "nat"` or `{ mode = "nat", … }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Nat {
    /// The level's link to the host (an IPv4 `/30`, or larger: the host side takes the first
    /// address, the level the second). Default: a free `/30` of `10.251.0.0/16`.
    pub subnet: Option<Ipv4Net>,
    /// What the level may reach (none: everything but the host, other levels and their
    /// subnets). The resolvers are always reachable on port 53.
    pub allow: Option<Vec<Egress>>,
    /// The level's resolvers (its `/etc/resolv.conf`). Default: the host's, except loopback
    /// ones (systemd-resolved's upstreams when the host uses its stub).
    pub dns: Vec<IpAddr>,
}

/// One egress rule: an address range, a protocol and port range, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Egress {
    /// Destination addresses (any when absent).
    pub net: Option<IpNet>,
    /// Protocol and ports (any when absent).
    pub proto: Option<Proto>,
}

/// A protocol, with its destination ports for TCP and UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proto {
    /// TCP to ports `from..=to` (any port: 1 to 65535).
    Tcp(u16, u16),
    /// UDP to ports `from..=to`.
    Udp(u16, u16),
    /// ICMP and ICMPv6.
    Icmp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ports = |f: &mut fmt::Formatter<'_>, name: &str, a: u16, b: u16| {
            if a == b {
                write!(f, "{name}/{a}")
            } else if a == 1 && b == u16::MAX {
                f.write_str(name)
            } else {
                write!(f, "{name}/{a}-{b}")
            }
        };
        match *self {
            Proto::Tcp(a, b) => ports(f, "tcp", a, b),
            Proto::Udp(a, b) => ports(f, "udp", a, b),
            Proto::Icmp => f.write_str("icmp"),
        }
    }
}

impl fmt::Display for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.net, &self.proto) {
            (Some(net), Some(proto)) => write!(f, "{net} {proto}"),
            (Some(net), None) => write!(f, "{net}"),
            (None, Some(proto)) => write!(f, "{proto}"),
            (None, None) => f.write_str("any"),
        }
    }
}

impl std::str::FromStr for Egress {
    type Err = BadValue;

    /// `"tcp/443"`, `"udp/5000-5100"`, `"icmp"`, `"10.20.0.0/16"`, `"10.20.0.5 tcp/22"`.
    fn from_str(text: &str) -> Result<Egress, BadValue> {
        let bad = |why: &str| {
            BadValue::from(format!(
                "egress rule {text:?}: {why} (write \"tcp/443\", \"udp/1000-2000\", \"icmp\", \"10.20.0.0/16\" or \"10.20.0.0/16 tcp/22\")"
            ))
        };
        let mut rule = Egress {
            net: None,
            proto: None,
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() || words.len() > 2 {
            return Err(bad("one address range and/or one protocol"));
        }
        for word in words {
            let lower = word.to_ascii_lowercase();
            let proto = if lower == "icmp" {
                Some(Proto::Icmp)
            } else if let Some((name, ports)) = lower
                .split_once('/')
                .filter(|(n, _)| *n == "tcp" || *n == "udp")
            {
                let (a, b) = parse_ports(ports).ok_or_else(|| bad("ports go from 1 to 65535"))?;
                Some(if name == "tcp" {
                    Proto::Tcp(a, b)
                } else {
                    Proto::Udp(a, b)
                })
            } else if lower == "tcp" {
                Some(Proto::Tcp(1, u16::MAX))
            } else if lower == "udp" {
                Some(Proto::Udp(1, u16::MAX))
            } else {
                None
            };
            match proto {
                Some(p) if rule.proto.is_none() => rule.proto = Some(p),
                Some(_) => return Err(bad("one protocol per rule")),
                None if rule.net.is_none() => {
                    rule.net = Some(parse_net(word).map_err(|_| bad("not an address range"))?)
                }
                None => return Err(bad("one address range per rule")),
            }
        }
        Ok(rule)
    }
}

fn parse_ports(text: &str) -> Option<(u16, u16)> {
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let p = text.parse().ok()?;
            (p, p)
        }
    };
    (a >= 1 && a <= b).then_some((a, b))
}

/// An address range, or one address (as its `/32` or `/128`); host bits must be zero.
pub fn parse_net(text: &str) -> Result<IpNet, BadValue> {
    let net: IpNet = match text.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(
            text.parse::<IpAddr>()
                .map_err(|_| BadValue::from(format!("{text:?} is not an address or range")))?,
        ),
    };
    if net.trunc() != net {
        return Err(BadValue::from(format!(
            "{text:?} has host bits set: write {}",
            net.trunc()
        )));
    }
    Ok(net)
}

/// `{ mode = "wireguard", config = "/etc/cloison/admin-wg.conf" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireGuard {
    /// A wg-quick style file (`[Interface]` with `PrivateKey`, `Address`, optional `DNS` and
    /// `MTU`; one `[Peer]` with `PublicKey`, `Endpoint`, `AllowedIPs`, optional
    /// `PresharedKey` and `PersistentKeepalive`), readable only by the launcher.
    pub config: PathBuf,
    /// Which WireGuard carries it.
    pub implementation: WgImplementation,
}

/// `implementation` of a WireGuard tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WgImplementation {
    /// The kernel's when it has WireGuard, else `cloison-wg`.
    #[default]
    Auto,
    /// The kernel's (an error without it).
    Kernel,
    /// `cloison-wg` (userspace, on a TUN device).
    Userspace,
}

/// `{ mode = "ipsec", if_id = 7, address = [...], routes = [...], dns = [...] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipsec {
    /// The XFRM interface id the IKE daemon's policies carry (strongSwan's `if_id_in` and
    /// `if_id_out`).
    pub if_id: u32,
    /// The level's inner addresses on the interface.
    pub address: Vec<IpNet>,
    /// What the level reaches through the tunnel (default: everything).
    pub routes: Vec<IpNet>,
    /// The level's resolvers (inside the tunnel).
    pub dns: Vec<IpAddr>,
}

/// A level's `network` as written: a string or a table.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RawNetwork {
    Mode(String),
    Table(toml::Table),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNat {
    #[allow(dead_code)]
    mode: String,
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default)]
    allow: Option<Vec<String>>,
    #[serde(default)]
    dns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWireGuard {
    #[allow(dead_code)]
    mode: String,
    config: PathBuf,
    #[serde(default)]
    implementation: WgImplementation,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIpsec {
    #[allow(dead_code)]
    mode: String,
    if_id: u32,
    address: Vec<String>,
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    dns: Vec<String>,
}

/// The default pool NAT subnets are taken from.
pub const NAT_POOL: &str = "10.251.0.0/16";

pub(crate) fn parse_network(raw: &RawNetwork) -> Result<Network, BadValue> {
    match raw {
        RawNetwork::Mode(mode) => parse_network_mode(mode),
        RawNetwork::Table(table) => parse_network_table(table),
    }
}

pub(crate) fn parse_network_mode(value: &str) -> Result<Network, BadValue> {
    match value {
        "none" => Ok(Network::None),
        "host" => Ok(Network::Host),
        "nat" => Ok(Network::Nat(Nat::default())),
        "wireguard" | "ipsec" => Err(BadValue::from(format!(
            "a {value} tunnel needs its settings: write network = {{ mode = \"{value}\", … }}"
        ))),
        other => match other.strip_prefix("netns:") {
            Some(name)
                if !name.is_empty()
                    && name != "."
                    && name != ".."
                    && name.len() <= 64
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
            {
                Ok(Network::Netns(name.to_string()))
            }
            Some(name) => Err(BadValue::from(format!(
                "invalid network namespace name {name:?}: use letters, digits, '-', '_' and '.'"
            ))),
            None => Err(BadValue::from(format!("unknown network mode {other:?}"))),
        },
    }
}

fn parse_network_table(table: &toml::Table) -> Result<Network, BadValue> {
    let mode = match table.get("mode") {
        Some(toml::Value::String(mode)) => mode.as_str(),
        Some(_) => return Err(BadValue::from("mode is a string")),
        None => {
            return Err(BadValue::from(
                "a network table names its mode: mode = \"nat\", \"wireguard\" or \"ipsec\"",
            ));
        }
    };
    let value = toml::Value::Table(table.clone());
    let fields = |e: toml::de::Error| BadValue::from(format!("network {mode}: {}", e.message()));
    match mode {
        "nat" => {
            let raw = RawNat::deserialize(value).map_err(fields)?;
            let subnet = match raw.subnet {
                None => None,
                Some(text) => {
                    let net: Ipv4Net = text.parse().map_err(|_| {
                        BadValue::from(format!(
                            "subnet {text:?} is not an IPv4 range like \"10.251.7.0/30\""
                        ))
                    })?;
                    if net.prefix_len() > 30 || net.trunc() != net {
                        return Err(BadValue::from(format!(
                            "subnet {text:?} must be a range of at least 4 addresses without host bits, like \"10.251.7.0/30\""
                        )));
                    }
                    Some(net)
                }
            };
            let allow = match raw.allow {
                None => None,
                Some(rules) => {
                    if rules.len() > 256 {
                        return Err(BadValue::from("at most 256 egress rules"));
                    }
                    Some(
                        rules
                            .iter()
                            .map(|r| r.parse())
                            .collect::<Result<Vec<Egress>, _>>()?,
                    )
                }
            };
            let dns = parse_dns(&raw.dns)?;
            // NAT levels are IPv4 only: an IPv6 rule or resolver could never be used.
            if let Some(v6) = dns.iter().find(|d| d.is_ipv6()) {
                return Err(BadValue::from(format!(
                    "dns {v6}: a NAT level is IPv4 only"
                )));
            }
            if let Some(v6) = allow
                .iter()
                .flatten()
                .find(|r| r.net.is_some_and(|n| matches!(n, IpNet::V6(_))))
            {
                return Err(BadValue::from(format!(
                    "egress rule {v6}: a NAT level is IPv4 only"
                )));
            }
            Ok(Network::Nat(Nat { subnet, allow, dns }))
        }
        "wireguard" => {
            let raw = RawWireGuard::deserialize(value).map_err(fields)?;
            if !raw.config.is_absolute() {
                return Err(BadValue::from(format!(
                    "config {:?} must be an absolute path",
                    raw.config
                )));
            }
            Ok(Network::WireGuard(WireGuard {
                config: raw.config,
                implementation: raw.implementation,
            }))
        }
        "ipsec" => {
            let raw = RawIpsec::deserialize(value).map_err(fields)?;
            if raw.if_id == 0 {
                return Err(BadValue::from(
                    "if_id must not be 0 (the kernel's \"none\")",
                ));
            }
            let nets = |list: &[String]| -> Result<Vec<IpNet>, BadValue> {
                list.iter()
                    .map(|a| a.parse::<IpNet>().or_else(|_| parse_net(a)))
                    .collect()
            };
            let address = nets(&raw.address)?;
            if address.is_empty() {
                return Err(BadValue::from(
                    "address needs the level's inner address, like [\"10.30.0.2/32\"]",
                ));
            }
            let routes = nets(&raw.routes)?;
            Ok(Network::Ipsec(Ipsec {
                if_id: raw.if_id,
                address,
                routes,
                dns: parse_dns(&raw.dns)?,
            }))
        }
        other => Err(BadValue::from(format!(
            "unknown network mode {other:?}: a table's mode is \"nat\", \"wireguard\" or \"ipsec\""
        ))),
    }
}

/// What a level's network may not share with the levels declared `before` it: an IPsec
/// `if_id`, or a NAT subnet. Errors are (message, fix).
pub(crate) fn check_against(
    network: &Network,
    before: &[crate::Level],
) -> Result<(), (String, &'static str)> {
    for other in before {
        match (network, &other.network) {
            (Network::Ipsec(mine), Network::Ipsec(theirs)) if mine.if_id == theirs.if_id => {
                return Err((
                    format!("if_id {} is level {:?}'s already", mine.if_id, other.name),
                    "give each IPsec level an if_id of its own (and its own IKE connection)",
                ));
            }
            (
                Network::Nat(Nat {
                    subnet: Some(mine), ..
                }),
                Network::Nat(Nat {
                    subnet: Some(theirs),
                    ..
                }),
            ) if theirs.contains(&mine.network()) || mine.contains(&theirs.network()) => {
                return Err((
                    format!("subnet {mine} overlaps level {:?}'s {theirs}", other.name),
                    "give each level a subnet of its own, or leave subnet out to get a free one",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_dns(list: &[String]) -> Result<Vec<IpAddr>, BadValue> {
    if list.len() > 3 {
        return Err(BadValue::from(
            "at most 3 resolvers (resolv.conf reads no more)",
        ));
    }
    list.iter()
        .map(|a| {
            a.parse::<IpAddr>()
                .map_err(|_| BadValue::from(format!("dns {a:?} is not an IP address")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egress_rules_read_as_written_and_bad_ones_say_how() {
        let r: Egress = "tcp/443".parse().unwrap();
        assert_eq!(r.proto, Some(Proto::Tcp(443, 443)));
        assert_eq!(r.net, None);
        let r: Egress = "10.20.0.0/16 udp/1000-2000".parse().unwrap();
        assert_eq!(r.to_string(), "10.20.0.0/16 udp/1000-2000");
        let r: Egress = "192.0.2.7".parse().unwrap();
        assert_eq!(r.to_string(), "192.0.2.7/32");
        assert_eq!("icmp".parse::<Egress>().unwrap().proto, Some(Proto::Icmp));
        assert_eq!(
            "2001:db8::/32".parse::<Egress>().unwrap().to_string(),
            "2001:db8::/32"
        );
        for bad in [
            "",
            "tcp/0",
            "tcp/70000",
            "tcp/9-3",
            "10.0.0.1/8",
            "tcp/1 udp/2",
            "a b c",
            "sctp/4",
        ] {
            let e = bad.parse::<Egress>().unwrap_err();
            assert!(e.0.contains("egress rule"), "{bad}: {}", e.0);
        }
    }

    #[test]
    fn tables_name_their_mode_and_fields() {
        let t = |s: &str| -> Result<Network, BadValue> {
            let table: toml::Table = toml::from_str(s).unwrap();
            parse_network_table(&table)
        };
        let nat = t(
            "mode = \"nat\"\nallow = [\"tcp/443\"]\nsubnet = \"10.9.0.0/30\"\ndns = [\"10.9.9.9\"]",
        )
        .unwrap();
        assert_eq!(nat.to_string(), "nat (egress tcp/443)");
        assert!(t("allow = []").unwrap_err().0.contains("names its mode"));
        assert!(
            t("mode = \"nat\"\nsubnet = \"10.9.0.0/31\"")
                .unwrap_err()
                .0
                .contains("at least 4")
        );
        assert!(
            t("mode = \"nat\"\nallowed = []")
                .unwrap_err()
                .0
                .contains("unknown field")
        );
        assert!(
            t("mode = \"wireguard\"\nconfig = \"wg.conf\"")
                .unwrap_err()
                .0
                .contains("absolute")
        );
        assert!(
            t("mode = \"ipsec\"\nif_id = 0\naddress = [\"10.1.0.2/32\"]")
                .unwrap_err()
                .0
                .contains("if_id")
        );
        let ipsec =
            t("mode = \"ipsec\"\nif_id = 7\naddress = [\"10.1.0.2\"]\nroutes = [\"10.20.0.0/16\"]")
                .unwrap();
        assert_eq!(ipsec.to_string(), "ipsec (if_id 7)");
        assert!(
            parse_network_mode("wireguard")
                .unwrap_err()
                .0
                .contains("mode = \"wireguard\"")
        );
    }
}
