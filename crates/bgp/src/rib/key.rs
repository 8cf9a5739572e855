//! Route keys: what paths compete for. The NLRI without what describes one path rather than the
//! destination (path identifier, labels, EVPN gateway and label, ESI).

use std::fmt;

use ipnet::IpNet;
use weft_net::RouteDistinguisher;

use crate::family::Family;
use crate::nlri::{EvpnRoute, Nlri, RtMembership};

/// The destination of a route, per family.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
