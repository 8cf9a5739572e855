//! Route keys: what paths compete for. The NLRI without what describes one path rather than the
//! destination (path identifier, labels, EVPN gateway and label, ESI).

use std::cmp::Ordering;
use std::fmt;

use ipnet::IpNet;
use weft_net::RouteDistinguisher;

use crate::family::Family;
use crate::nlri::{EvpnRoute, Nlri, RtMembership};

/// The destination of a route, per family. Ordered by family (the variant), then as the
/// fields read; see the `Ord` impl.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteKey {
    /// IPv4 or IPv6 unicast.
    Prefix(IpNet),
    /// VPNv4 or VPNv6 (RFC 4364 §4.1): RD and prefix; the label belongs to the path.
    Vpn { rd: RouteDistinguisher, net: IpNet },
    /// EVPN IP prefix route (RFC 9136 §3.2: RD, Ethernet Tag and prefix are the key).
    EvpnIpPrefix {
        rd: RouteDistinguisher,
        ethernet_tag: u32,
        prefix: IpNet,
    },
    /// Other EVPN routes, keyed by the whole route as received; boxed, so that the common keys
    /// (prefixes, VPN prefixes) stay small in every table that holds them.
    Evpn(Box<EvpnRoute>),
    /// RT constraint (RFC 4684 §4); `None` is the default route.
    Rtc(Option<RtMembership>),
}

impl RouteKey {
    pub fn of(nlri: &Nlri) -> RouteKey {
        match nlri {
            Nlri::Prefix(p) => RouteKey::Prefix(p.net),
            Nlri::Vpn(p) => RouteKey::Vpn { rd: p.rd, net: p.net },
            Nlri::Evpn(e) => match &e.route {
                EvpnRoute::IpPrefix(r) => RouteKey::EvpnIpPrefix {
                    rd: r.rd,
                    ethernet_tag: r.ethernet_tag,
                    prefix: r.prefix,
                },
                other => RouteKey::Evpn(Box::new(other.clone())),
            },
            Nlri::Rtc(r) => RouteKey::Rtc(r.membership),
        }
    }

    pub fn family(&self) -> Family {
        let by_net = |net: &IpNet, v4, v6| match net {
            IpNet::V4(_) => v4,
            IpNet::V6(_) => v6,
        };
        match self {
            RouteKey::Prefix(n) => by_net(n, Family::Ipv4Unicast, Family::Ipv6Unicast),
            RouteKey::Vpn { net, .. } => by_net(net, Family::Vpnv4, Family::Vpnv6),
            RouteKey::EvpnIpPrefix { .. } | RouteKey::Evpn(_) => Family::L2vpnEvpn,
            RouteKey::Rtc(_) => Family::RtConstraint,
        }
    }

    /// Whether routes of this key are only sent to peers that asked for one of their route
    /// targets (RFC 4684 §4: VPN and EVPN families).
    pub fn rt_constrained(&self) -> bool {
        matches!(self.family(), Family::Vpnv4 | Family::Vpnv6 | Family::L2vpnEvpn)
    }
}

/// Orders IP prefixes as `IpNet`'s own order does (IPv4 first; address, then length), with the
/// IPv4 case inline: the RIB's tables compare keys more than they do anything else.
#[inline]
fn cmp_net(a: &IpNet, b: &IpNet) -> Ordering {
    match (a, b) {
        (IpNet::V4(x), IpNet::V4(y)) => {
            (u32::from(x.addr()), x.prefix_len()).cmp(&(u32::from(y.addr()), y.prefix_len()))
        }
        _ => a.cmp(b),
    }
}

impl RouteKey {
    /// The variant's place in the order (the order they are declared in).
    fn rank(&self) -> u8 {
        match self {
            RouteKey::Prefix(_) => 0,
            RouteKey::Vpn { .. } => 1,
            RouteKey::EvpnIpPrefix { .. } => 2,
            RouteKey::Evpn(_) => 3,
            RouteKey::Rtc(_) => 4,
        }
    }
}

/// The order `#[derive(Ord)]` would give, written out so that prefix keys compare without
/// calls.
impl Ord for RouteKey {
    /// IPv4 prefixes inline (a table search inlines this), everything else out of line.
    #[inline(always)]
    fn cmp(&self, other: &RouteKey) -> Ordering {
        if let (RouteKey::Prefix(IpNet::V4(a)), RouteKey::Prefix(IpNet::V4(b))) = (self, other) {
            return (u32::from(a.addr()), a.prefix_len()).cmp(&(u32::from(b.addr()), b.prefix_len()));
        }
        self.cmp_other(other)
    }
}

impl RouteKey {
    #[inline(never)]
    fn cmp_other(&self, other: &RouteKey) -> Ordering {
        match (self, other) {
            (RouteKey::Prefix(a), RouteKey::Prefix(b)) => cmp_net(a, b),
            (RouteKey::Vpn { rd: ra, net: na }, RouteKey::Vpn { rd: rb, net: nb }) => {
                ra.cmp(rb).then_with(|| cmp_net(na, nb))
            }
            (
                RouteKey::EvpnIpPrefix {
                    rd: ra,
                    ethernet_tag: ta,
                    prefix: pa,
                },
                RouteKey::EvpnIpPrefix {
                    rd: rb,
                    ethernet_tag: tb,
                    prefix: pb,
                },
            ) => ra.cmp(rb).then(ta.cmp(tb)).then_with(|| cmp_net(pa, pb)),
            (RouteKey::Evpn(a), RouteKey::Evpn(b)) => a.cmp(b),
            (RouteKey::Rtc(a), RouteKey::Rtc(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for RouteKey {
    #[inline(always)]
    fn partial_cmp(&self, other: &RouteKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteKey::Prefix(n) => write!(f, "{n}"),
            RouteKey::Vpn { rd, net } => write!(f, "{rd}:{net}"),
            RouteKey::EvpnIpPrefix {
                rd,
                ethernet_tag,
                prefix,
            } => write!(f, "[5][{rd}][{ethernet_tag}][{prefix}]"),
            RouteKey::Evpn(r) => write!(f, "{r}"),
            RouteKey::Rtc(None) => f.write_str("rtc default"),
            RouteKey::Rtc(Some(m)) => write!(f, "rtc {}:{}/{}", m.origin_as, hex(&m.target), m.target_bits),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The written-out order is the derived one: family, then fields in order.
    #[test]
    fn order_is_the_derived_one() {
        let p = |s: &str| RouteKey::Prefix(s.parse().unwrap());
        let vpn = |rd: &str, s: &str| RouteKey::Vpn {
            rd: rd.parse().unwrap(),
            net: s.parse().unwrap(),
        };
        let sorted = [
            p("1.0.0.0/8"),
            p("1.0.0.0/24"),
            p("1.0.1.0/24"),
            p("200.0.0.0/8"),
            p("::/0"),
            p("2001:db8::/32"),
            vpn("1:1", "10.0.0.0/8"),
            vpn("1:1", "2001:db8::/32"),
            vpn("1:2", "9.0.0.0/8"),
            RouteKey::EvpnIpPrefix {
                rd: "1:1".parse().unwrap(),
                ethernet_tag: 0,
                prefix: "10.0.0.0/8".parse().unwrap(),
            },
            RouteKey::Rtc(None),
        ];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }
}
