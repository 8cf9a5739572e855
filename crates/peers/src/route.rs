//! The common view of a BGP route: what a test announces through a peer, and what a peer
//! reports as received, whatever daemon it is.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use ipnet::IpNet;

/// Address families (AFI/SAFI) the harness configures and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// AFI 1 / SAFI 1.
    Ipv4Unicast,
    /// AFI 2 / SAFI 1.
    Ipv6Unicast,
    /// AFI 1 / SAFI 128 (RFC 4364).
    Vpnv4,
    /// AFI 25 / SAFI 70 (RFC 7432). The harness reports and originates type-5 (IP prefix) routes.
    Evpn,
    /// AFI 2 / SAFI 128 (RFC 4659).
    Vpnv6,
    /// AFI 1 / SAFI 132, route target membership (RFC 4684): configured only (GoBGP), never
    /// announced or reported through [`Route`].
    Rtc,
}

impl Family {
    pub const ALL: [Family; 6] = [
        Family::Ipv4Unicast,
        Family::Ipv6Unicast,
        Family::Vpnv4,
        Family::Evpn,
        Family::Vpnv6,
        Family::Rtc,
    ];

    /// VPNv4 or VPNv6.
    pub fn is_vpn(self) -> bool {
        matches!(self, Family::Vpnv4 | Family::Vpnv6)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
            Family::Vpnv4 => "vpnv4",
            Family::Evpn => "evpn",
            Family::Vpnv6 => "vpnv6",
            Family::Rtc => "rtc",
        })
    }
}

/// The administrator:assigned-number pair shared by route distinguishers (RFC 4364 4.2) and
/// route targets (RFC 4360 / 5668): type 0 (2-octet AS : 32-bit), 1 (IPv4 : 16-bit) and
/// 2 (4-octet AS : 16-bit). Parsed from and shown as `64512:1`, `192.0.2.1:5`,
/// `4200000000:7` (an AS above 65535 is type 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdminValue {
    As2 { asn: u16, value: u32 },
    Ipv4 { addr: Ipv4Addr, value: u16 },
    As4 { asn: u32, value: u16 },
}

/// A route distinguisher.
pub type Rd = AdminValue;
/// A route target.
pub type Rt = AdminValue;

impl AdminValue {
    /// The type-0 form, `asn:value`.
    pub const fn as2(asn: u16, value: u32) -> AdminValue {
        AdminValue::As2 { asn, value }
    }

    /// The 6 bytes after the type octet(s): administrator then assigned number.
    fn value_bytes(&self) -> [u8; 6] {
        let mut b = [0u8; 6];
        match *self {
            AdminValue::As2 { asn, value } => {
                b[..2].copy_from_slice(&asn.to_be_bytes());
                b[2..].copy_from_slice(&value.to_be_bytes());
            }
            AdminValue::Ipv4 { addr, value } => {
                b[..4].copy_from_slice(&addr.octets());
                b[4..].copy_from_slice(&value.to_be_bytes());
            }
            AdminValue::As4 { asn, value } => {
                b[..4].copy_from_slice(&asn.to_be_bytes());
                b[4..].copy_from_slice(&value.to_be_bytes());
            }
        }
        b
    }

    fn type_code(&self) -> u8 {
        match self {
            AdminValue::As2 { .. } => 0,
            AdminValue::Ipv4 { .. } => 1,
            AdminValue::As4 { .. } => 2,
        }
    }

    fn from_value_bytes(type_code: u8, b: &[u8]) -> Option<AdminValue> {
        let b: &[u8; 6] = b.try_into().ok()?;
        Some(match type_code {
            0 => AdminValue::As2 {
                asn: u16::from_be_bytes([b[0], b[1]]),
                value: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
            },
            1 => AdminValue::Ipv4 {
                addr: Ipv4Addr::new(b[0], b[1], b[2], b[3]),
                value: u16::from_be_bytes([b[4], b[5]]),
            },
            2 => AdminValue::As4 {
                asn: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                value: u16::from_be_bytes([b[4], b[5]]),
            },
            _ => return None,
        })
    }
}

impl fmt::Display for AdminValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminValue::As2 { asn, value } => write!(f, "{asn}:{value}"),
            AdminValue::Ipv4 { addr, value } => write!(f, "{addr}:{value}"),
            AdminValue::As4 { asn, value } => write!(f, "{asn}:{value}"),
        }
    }
}

impl FromStr for AdminValue {
    type Err = String;
    fn from_str(s: &str) -> Result<AdminValue, String> {
        let bad = || format!("not an RD/RT (ASN:NN or IPv4:NN): {s:?}");
        let (admin, value) = s.rsplit_once(':').ok_or_else(bad)?;
        if let Ok(addr) = admin.parse::<Ipv4Addr>() {
            return Ok(AdminValue::Ipv4 {
                addr,
                value: value.parse().map_err(|_| bad())?,
            });
        }
        let asn: u32 = admin.parse().map_err(|_| bad())?;
        match u16::try_from(asn) {
            Ok(asn) => Ok(AdminValue::As2 {
                asn,
                value: value.parse().map_err(|_| bad())?,
            }),
            Err(_) => Ok(AdminValue::As4 {
                asn,
                value: value.parse().map_err(|_| bad())?,
            }),
        }
    }
}

/// A standard community (RFC 1997), shown as `asn:value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u16, pub u16);

impl Community {
    pub fn from_u32(v: u32) -> Community {
        Community((v >> 16) as u16, v as u16)
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

impl FromStr for Community {
    type Err = String;
    fn from_str(s: &str) -> Result<Community, String> {
        let bad = || format!("not a community (N:N): {s:?}");
        let (a, b) = s.split_once(':').ok_or_else(bad)?;
        Ok(Community(a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
    }
}

/// A large community (RFC 8092), shown as `global:local1:local2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity(pub u32, pub u32, pub u32);

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.0, self.1, self.2)
    }
}

impl FromStr for LargeCommunity {
    type Err = String;
    fn from_str(s: &str) -> Result<LargeCommunity, String> {
        let bad = || format!("not a large community (N:N:N): {s:?}");
        let mut it = s.split(':').map(|p| p.trim().parse::<u32>().map_err(|_| bad()));
        let c = LargeCommunity(
            it.next().ok_or_else(bad)??,
            it.next().ok_or_else(bad)??,
            it.next().ok_or_else(bad)??,
        );
        if it.next().is_some() {
            return Err(bad());
        }
        Ok(c)
    }
}

/// A MAC address (EVPN router MAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> Result<Mac, String> {
        let bad = || format!("not a MAC address: {s:?}");
        let mut m = [0u8; 6];
        let mut parts = s.split(':');
        for b in m.iter_mut() {
            *b = u8::from_str_radix(parts.next().ok_or_else(bad)?, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(m))
    }
}

/// BGP tunnel encapsulation type 8 (RFC 9012).
pub const ENCAP_VXLAN: u16 = 8;

/// Extended communities the harness understands; anything else is kept as its 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtCommunity {
    /// Route target (types 0x00/0x01/0x02, subtype 0x02).
    RouteTarget(Rt),
    /// EVPN router's MAC (type 0x06, subtype 0x03, RFC 9135).
    RouterMac(Mac),
    /// Encapsulation (type 0x03, subtype 0x0c, RFC 9012): the tunnel type, 8 = VXLAN.
    Encapsulation(u16),
    /// Anything else, as the 8 bytes on the wire.
    Raw([u8; 8]),
}

impl ExtCommunity {
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        match self {
            ExtCommunity::RouteTarget(rt) => {
                b[0] = rt.type_code();
                b[1] = 0x02;
                b[2..].copy_from_slice(&rt.value_bytes());
            }
            ExtCommunity::RouterMac(mac) => {
                b[0] = 0x06;
                b[1] = 0x03;
                b[2..].copy_from_slice(&mac.0);
            }
            ExtCommunity::Encapsulation(t) => {
                b[0] = 0x03;
                b[1] = 0x0c;
                b[6..].copy_from_slice(&t.to_be_bytes());
            }
            ExtCommunity::Raw(raw) => b = *raw,
        }
        b
    }

    pub fn from_bytes(b: [u8; 8]) -> ExtCommunity {
        match (b[0], b[1]) {
            (t @ 0..=2, 0x02) => match AdminValue::from_value_bytes(t, &b[2..]) {
                Some(rt) => ExtCommunity::RouteTarget(rt),
                None => ExtCommunity::Raw(b),
            },
            (0x06, 0x03) => ExtCommunity::RouterMac(Mac([b[2], b[3], b[4], b[5], b[6], b[7]])),
            (0x03, 0x0c) => ExtCommunity::Encapsulation(u16::from_be_bytes([b[6], b[7]])),
            _ => ExtCommunity::Raw(b),
        }
    }

    pub fn from_u64(v: u64) -> ExtCommunity {
        ExtCommunity::from_bytes(v.to_be_bytes())
    }

    pub fn to_u64(&self) -> u64 {
        u64::from_be_bytes(self.to_bytes())
    }
}

impl fmt::Display for ExtCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtCommunity::RouteTarget(rt) => write!(f, "rt:{rt}"),
            ExtCommunity::RouterMac(mac) => write!(f, "rmac:{mac}"),
            ExtCommunity::Encapsulation(t) => write!(f, "encap:{t}"),
            ExtCommunity::Raw(b) => write!(f, "0x{:016x}", u64::from_be_bytes(*b)),
        }
    }
}

/// A path attribute sent exactly as given (ExaBGP only), e.g. a malformed one for RFC 7606
/// tests: `RawAttribute { flags: 0xc0, code: 16, value: vec![1, 2] }` is an EXTENDED
/// COMMUNITIES attribute of length 2.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    pub flags: u8,
    pub code: u8,
    pub value: Vec<u8>,
}

/// One route (one path). Announcing: `family`, `prefix`, `rd`, `label`, `next_hop` (None:
/// the peer's own address), communities, extended communities and raw attributes are used.
/// Received: all fields but `raw_attributes` are filled from the daemon's view, and `from`
/// says which neighbor it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub family: Family,
    /// The IP prefix (for EVPN type 5: the IP prefix inside the NLRI).
    pub prefix: IpNet,
    /// Route distinguisher (VPNv4, EVPN).
    pub rd: Option<Rd>,
    /// The MPLS label (VPNv4), or the VNI carried in the label field (EVPN type 5).
    pub label: Option<u32>,
    pub next_hop: Option<IpAddr>,
    /// The AS numbers of the AS_PATH in order (sets flattened); empty for local routes.
    pub as_path: Vec<u32>,
    pub communities: Vec<Community>,
    pub ext_communities: Vec<ExtCommunity>,
    pub large_communities: Vec<LargeCommunity>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF (iBGP).
    pub local_pref: Option<u32>,
    /// Extra attributes sent verbatim (announce through ExaBGP only).
    pub raw_attributes: Vec<RawAttribute>,
    /// The neighbor this route was learned from (received routes).
    pub from: Option<IpAddr>,
}

impl Route {
    fn new(family: Family, prefix: IpNet) -> Route {
        Route {
            family,
            prefix: prefix.trunc(),
            rd: None,
            label: None,
            next_hop: None,
            as_path: Vec::new(),
            communities: Vec::new(),
            ext_communities: Vec::new(),
            large_communities: Vec::new(),
            med: None,
            local_pref: None,
            raw_attributes: Vec::new(),
            from: None,
        }
    }

    /// An IPv4 or IPv6 unicast route, by the prefix's version.
    pub fn unicast(prefix: IpNet) -> Route {
        let family = match prefix {
            IpNet::V4(_) => Family::Ipv4Unicast,
            IpNet::V6(_) => Family::Ipv6Unicast,
        };
        Route::new(family, prefix)
    }

    /// A VPNv4 route.
    pub fn vpnv4(rd: Rd, prefix: IpNet, label: u32) -> Route {
        let mut r = Route::new(Family::Vpnv4, prefix);
        r.rd = Some(rd);
        r.label = Some(label);
        r
    }

    /// A VPNv4 or VPNv6 route, by the prefix's version.
    pub fn vpn(rd: Rd, prefix: IpNet, label: u32) -> Route {
        let mut r = Route::vpnv4(rd, prefix, label);
        if prefix.addr().is_ipv6() {
            r.family = Family::Vpnv6;
        }
        r
    }

    /// An EVPN type-5 (IP prefix) route, Ethernet tag 0, gateway 0, with the VNI in the label
    /// field (RFC 9136 with VXLAN).
    pub fn evpn_prefix(rd: Rd, prefix: IpNet, vni: u32) -> Route {
        let mut r = Route::new(Family::Evpn, prefix);
        r.rd = Some(rd);
        r.label = Some(vni);
        r
    }

    pub fn with_next_hop(mut self, next_hop: IpAddr) -> Route {
        self.next_hop = Some(next_hop);
        self
    }

    pub fn with_community(mut self, c: Community) -> Route {
        self.communities.push(c);
        self
    }

    pub fn with_large_community(mut self, c: LargeCommunity) -> Route {
        self.large_communities.push(c);
        self
    }

    pub fn with_med(mut self, med: u32) -> Route {
        self.med = Some(med);
        self
    }

    pub fn with_local_pref(mut self, local_pref: u32) -> Route {
        self.local_pref = Some(local_pref);
        self
    }

    pub fn with_ext_community(mut self, c: ExtCommunity) -> Route {
        self.ext_communities.push(c);
        self
    }

    pub fn with_route_target(self, rt: Rt) -> Route {
        self.with_ext_community(ExtCommunity::RouteTarget(rt))
    }

    pub fn with_router_mac(self, mac: Mac) -> Route {
        self.with_ext_community(ExtCommunity::RouterMac(mac))
    }

    pub fn with_encapsulation(self, tunnel_type: u16) -> Route {
        self.with_ext_community(ExtCommunity::Encapsulation(tunnel_type))
    }

    pub fn with_raw_attribute(mut self, a: RawAttribute) -> Route {
        self.raw_attributes.push(a);
        self
    }

    pub fn route_targets(&self) -> Vec<Rt> {
        self.ext_communities
            .iter()
            .filter_map(|c| match c {
                ExtCommunity::RouteTarget(rt) => Some(*rt),
                _ => None,
            })
            .collect()
    }

    pub fn router_mac(&self) -> Option<Mac> {
        self.ext_communities.iter().find_map(|c| match c {
            ExtCommunity::RouterMac(m) => Some(*m),
            _ => None,
        })
    }

    pub fn encapsulation(&self) -> Option<u16> {
        self.ext_communities.iter().find_map(|c| match c {
            ExtCommunity::Encapsulation(t) => Some(*t),
            _ => None,
        })
    }

    /// Same NLRI (family, RD, prefix): the identity of a route in a RIB.
    pub fn same_nlri(&self, other: &Route) -> bool {
        self.family == other.family && self.rd == other.rd && self.prefix == other.prefix
    }

    /// The RD and prefix, e.g. `64512:1 198.51.100.0/24`, for messages.
    pub fn key(&self) -> String {
        match self.rd {
            Some(rd) => format!("{} {rd} {}", self.family, self.prefix),
            None => format!("{} {}", self.family, self.prefix),
        }
    }
}

/// The route in `routes` with this prefix (and RD, when given).
pub fn find_route(routes: &[Route], prefix: IpNet, rd: Option<Rd>) -> Option<&Route> {
    routes
        .iter()
        .find(|r| r.prefix == prefix.trunc() && (rd.is_none() || r.rd == rd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_values_parse_and_show() {
        for s in ["64512:1", "192.0.2.1:5", "4200000000:7"] {
            assert_eq!(s.parse::<AdminValue>().unwrap().to_string(), s);
        }
        assert!(matches!(
            "4200000000:7".parse::<AdminValue>(),
            Ok(AdminValue::As4 { .. })
        ));
        assert!("64512".parse::<AdminValue>().is_err());
        assert!("64512:70000".parse::<AdminValue>().is_ok());
        assert!("4200000000:70000".parse::<AdminValue>().is_err());
    }

    #[test]
    fn ext_communities_round_trip_through_bytes() {
        let all = [
            ExtCommunity::RouteTarget("64512:100".parse().unwrap()),
            ExtCommunity::RouteTarget("192.0.2.1:5".parse().unwrap()),
            ExtCommunity::RouteTarget("4200000000:7".parse().unwrap()),
            ExtCommunity::RouterMac("02:00:00:00:00:02".parse().unwrap()),
            ExtCommunity::Encapsulation(ENCAP_VXLAN),
            ExtCommunity::Raw([0x80, 0x0a, 1, 2, 3, 4, 5, 6]),
        ];
        for c in all {
            assert_eq!(ExtCommunity::from_u64(c.to_u64()), c, "{c}");
        }
        // As ExaBGP reports them.
        assert_eq!(
            ExtCommunity::from_u64(840026883620964),
            ExtCommunity::RouteTarget(AdminValue::as2(64512, 100))
        );
        assert_eq!(
            ExtCommunity::from_u64(433192188180955138),
            ExtCommunity::RouterMac("02:00:00:00:00:02".parse().unwrap())
        );
        assert_eq!(
            ExtCommunity::from_u64(219550481834311688),
            ExtCommunity::Encapsulation(8)
        );
    }

    #[test]
    fn communities_and_macs() {
        assert_eq!(Community::from_u32(4227858439), Community(64512, 7));
        assert_eq!("64512:7".parse::<Community>().unwrap(), Community(64512, 7));
        let mac: Mac = "02:AA:00:00:00:02".parse().unwrap();
        assert_eq!(mac.to_string(), "02:aa:00:00:00:02");
        assert!("02:00:00:00:00".parse::<Mac>().is_err());
    }
}
