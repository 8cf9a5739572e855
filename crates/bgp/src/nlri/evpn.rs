//! EVPN NLRI (RFC 7432 §7): a route type octet, a length octet and the route. Type 5, the IP
//! prefix route of RFC 9136 §3.1, is decoded fully; types 1-4 (RFC 7432 §7.1-7.4) are typed when
//! their layout is the one the RFC gives and kept raw otherwise; other types are kept raw.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use weft_net::RouteDistinguisher;

use crate::EncodeError;
use crate::nlri::vpn::Label;
use crate::wire::{Reader, mask_bits};

/// Ethernet Segment Identifier (RFC 7432 §5), 10 octets; all zeros for a single-homed site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Esi(pub [u8; 10]);

impl Esi {
    pub const ZERO: Esi = Esi([0; 10]);
}

/// RFC 7432 route types.
pub mod route_type {
    pub const ETHERNET_AUTO_DISCOVERY: u8 = 1;
    pub const MAC_IP_ADVERTISEMENT: u8 = 2;
    pub const INCLUSIVE_MULTICAST_ETHERNET_TAG: u8 = 3;
    pub const ETHERNET_SEGMENT: u8 = 4;
    pub const IP_PREFIX: u8 = 5;
}

/// One EVPN NLRI with its path identifier when ADD-PATH is on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Evpn {
    pub path_id: Option<u32>,
    pub route: EvpnRoute,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EvpnRoute {
    /// Type 1 (RFC 7432 §7.1).
    EthernetAutoDiscovery {
        rd: RouteDistinguisher,
        esi: Esi,
        ethernet_tag: u32,
        label: Label,
    },
    /// Type 2 (RFC 7432 §7.2).
    MacIpAdvertisement {
        rd: RouteDistinguisher,
        esi: Esi,
        ethernet_tag: u32,
        mac: [u8; 6],
        ip: Option<IpAddr>,
        label1: Label,
        label2: Option<Label>,
    },
    /// Type 3 (RFC 7432 §7.3).
    InclusiveMulticast {
        rd: RouteDistinguisher,
        ethernet_tag: u32,
        originator: IpAddr,
    },
    /// Type 4 (RFC 7432 §7.4).
    EthernetSegment {
        rd: RouteDistinguisher,
        esi: Esi,
        originator: IpAddr,
    },
    /// Type 5 (RFC 9136 §3.1).
    IpPrefix(IpPrefixRoute),
    /// Any other route type, or a type 1-4 route this codec cannot type exactly; the value octets
    /// after the length, kept as they came.
    Other { route_type: u8, value: Vec<u8> },
}

/// The IP prefix route (RFC 9136 §3.1): 34 octets for IPv4, 58 for IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpPrefixRoute {
    pub rd: RouteDistinguisher,
    pub esi: Esi,
    pub ethernet_tag: u32,
    /// Bits past the length are cleared on decode.
    pub prefix: IpNet,
    /// 0.0.0.0 or :: when the route has no gateway (an L3VNI route with the router's MAC).
    pub gateway: IpAddr,
    /// An MPLS label, or with VXLAN the VNI in all 24 bits (RFC 8365 §5.1.3).
    pub label: Label,
}

impl EvpnRoute {
    pub fn route_type(&self) -> u8 {
        match self {
            EvpnRoute::EthernetAutoDiscovery { .. } => route_type::ETHERNET_AUTO_DISCOVERY,
            EvpnRoute::MacIpAdvertisement { .. } => route_type::MAC_IP_ADVERTISEMENT,
            EvpnRoute::InclusiveMulticast { .. } => route_type::INCLUSIVE_MULTICAST_ETHERNET_TAG,
            EvpnRoute::EthernetSegment { .. } => route_type::ETHERNET_SEGMENT,
            EvpnRoute::IpPrefix(_) => route_type::IP_PREFIX,
            EvpnRoute::Other { route_type, .. } => *route_type,
        }
    }

    pub fn rd(&self) -> Option<RouteDistinguisher> {
        match self {
            EvpnRoute::EthernetAutoDiscovery { rd, .. }
            | EvpnRoute::MacIpAdvertisement { rd, .. }
            | EvpnRoute::InclusiveMulticast { rd, .. }
            | EvpnRoute::EthernetSegment { rd, .. } => Some(*rd),
            EvpnRoute::IpPrefix(r) => Some(r.rd),
            EvpnRoute::Other { .. } => None,
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<EvpnRoute, &'static str> {
        let route_type = r.u8().ok_or("truncated route type")?;
        let len = r.u8().ok_or("truncated route length")?;
        let value = r.take(usize::from(len)).ok_or("route runs past the attribute")?;
        if route_type == route_type::IP_PREFIX {
            return decode_ip_prefix(value).map(EvpnRoute::IpPrefix);
        }
        let typed = match route_type {
            route_type::ETHERNET_AUTO_DISCOVERY => decode_type1(value),
            route_type::MAC_IP_ADVERTISEMENT => decode_type2(value),
            route_type::INCLUSIVE_MULTICAST_ETHERNET_TAG => decode_type3(value),
            route_type::ETHERNET_SEGMENT => decode_type4(value),
            _ => None,
        };
        Ok(typed.unwrap_or_else(|| EvpnRoute::Other {
            route_type,
            value: value.to_vec(),
        }))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.route_type());
        let len_at = out.len();
        out.push(0);
        match self {
            EvpnRoute::EthernetAutoDiscovery {
                rd,
                esi,
                ethernet_tag,
                label,
            } => {
                out.extend_from_slice(&rd.to_bytes());
                out.extend_from_slice(&esi.0);
                out.extend_from_slice(&ethernet_tag.to_be_bytes());
                label.write(out);
            }
            EvpnRoute::MacIpAdvertisement {
                rd,
                esi,
                ethernet_tag,
                mac,
                ip,
                label1,
                label2,
            } => {
                out.extend_from_slice(&rd.to_bytes());
                out.extend_from_slice(&esi.0);
                out.extend_from_slice(&ethernet_tag.to_be_bytes());
                out.push(48);
                out.extend_from_slice(mac);
                match ip {
                    None => out.push(0),
                    Some(ip) => write_addr(out, ip),
                }
                label1.write(out);
                if let Some(l) = label2 {
                    l.write(out);
                }
            }
            EvpnRoute::InclusiveMulticast {
                rd,
                ethernet_tag,
                originator,
            } => {
                out.extend_from_slice(&rd.to_bytes());
                out.extend_from_slice(&ethernet_tag.to_be_bytes());
                write_addr(out, originator);
            }
            EvpnRoute::EthernetSegment { rd, esi, originator } => {
                out.extend_from_slice(&rd.to_bytes());
                out.extend_from_slice(&esi.0);
                write_addr(out, originator);
            }
            EvpnRoute::IpPrefix(p) => {
                out.extend_from_slice(&p.rd.to_bytes());
                out.extend_from_slice(&p.esi.0);
                out.extend_from_slice(&p.ethernet_tag.to_be_bytes());
                out.push(p.prefix.prefix_len());
                match (p.prefix.trunc(), p.gateway) {
                    (IpNet::V4(net), IpAddr::V4(gw)) => {
                        out.extend_from_slice(&net.addr().octets());
                        out.extend_from_slice(&gw.octets());
                    }
                    (IpNet::V6(net), IpAddr::V6(gw)) => {
                        out.extend_from_slice(&net.addr().octets());
                        out.extend_from_slice(&gw.octets());
                    }
                    _ => {
                        return Err(EncodeError::Invalid(
                            "EVPN IP prefix route",
                            "prefix and gateway are of different address families",
                        ));
                    }
                }
                p.label.write(out);
            }
            EvpnRoute::Other { value, .. } => out.extend_from_slice(value),
        }
        let len = out.len().saturating_sub(len_at + 1);
        let len = u8::try_from(len).map_err(|_| EncodeError::TooLong {
            what: "EVPN route",
            len,
            max: 255,
        })?;
        if let Some(slot) = out.get_mut(len_at) {
            *slot = len;
        }
        Ok(())
    }
}

fn write_addr(out: &mut Vec<u8>, ip: &IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            out.push(32);
            out.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.push(128);
            out.extend_from_slice(&a.octets());
        }
    }
}

fn read_addr(r: &mut Reader<'_>) -> Option<IpAddr> {
    match r.u8()? {
        32 => r.array::<4>().map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        128 => r.array::<16>().map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        _ => None,
    }
}

fn read_rd(r: &mut Reader<'_>) -> Option<RouteDistinguisher> {
    RouteDistinguisher::from_bytes(r.array()?)
}

fn decode_type1(value: &[u8]) -> Option<EvpnRoute> {
    let mut r = Reader::new(value);
    let route = EvpnRoute::EthernetAutoDiscovery {
        rd: read_rd(&mut r)?,
        esi: Esi(r.array()?),
        ethernet_tag: r.u32()?,
        label: Label::read(&mut r)?,
    };
    r.is_empty().then_some(route)
}

fn decode_type2(value: &[u8]) -> Option<EvpnRoute> {
    let mut r = Reader::new(value);
    let rd = read_rd(&mut r)?;
    let esi = Esi(r.array()?);
    let ethernet_tag = r.u32()?;
    if r.u8()? != 48 {
        return None;
    }
    let mac = r.array()?;
    let ip = match r.u8()? {
        0 => None,
        32 => Some(IpAddr::V4(Ipv4Addr::from(r.array::<4>()?))),
        128 => Some(IpAddr::V6(Ipv6Addr::from(r.array::<16>()?))),
        _ => return None,
    };
    let label1 = Label::read(&mut r)?;
    let label2 = if r.is_empty() { None } else { Some(Label::read(&mut r)?) };
    r.is_empty().then_some(EvpnRoute::MacIpAdvertisement {
        rd,
        esi,
        ethernet_tag,
        mac,
        ip,
        label1,
        label2,
    })
}

fn decode_type3(value: &[u8]) -> Option<EvpnRoute> {
    let mut r = Reader::new(value);
    let route = EvpnRoute::InclusiveMulticast {
        rd: read_rd(&mut r)?,
        ethernet_tag: r.u32()?,
        originator: read_addr(&mut r)?,
    };
    r.is_empty().then_some(route)
}

fn decode_type4(value: &[u8]) -> Option<EvpnRoute> {
    let mut r = Reader::new(value);
    let route = EvpnRoute::EthernetSegment {
        rd: read_rd(&mut r)?,
        esi: Esi(r.array()?),
        originator: read_addr(&mut r)?,
    };
    r.is_empty().then_some(route)
}

fn decode_ip_prefix(value: &[u8]) -> Result<IpPrefixRoute, &'static str> {
    let mut r = Reader::new(value);
    let v6 = match value.len() {
        34 => false,
        58 => true,
        _ => return Err("IP prefix route is neither 34 (IPv4) nor 58 (IPv6) octets"),
    };
    let rd = read_rd(&mut r).ok_or("route distinguisher of unknown type")?;
    let esi = Esi(r.array().ok_or("truncated ESI")?);
    let ethernet_tag = r.u32().ok_or("truncated Ethernet tag")?;
    let len = r.u8().ok_or("truncated prefix length")?;
    let (prefix, gateway) = if v6 {
        let mut a: [u8; 16] = r.array().ok_or("truncated prefix")?;
        mask_bits(&mut a, usize::from(len));
        let gw: [u8; 16] = r.array().ok_or("truncated gateway")?;
        let net = Ipv6Net::new(Ipv6Addr::from(a), len).map_err(|_| "IPv6 prefix length over 128")?;
        (IpNet::V6(net), IpAddr::V6(Ipv6Addr::from(gw)))
    } else {
        let mut a: [u8; 4] = r.array().ok_or("truncated prefix")?;
        mask_bits(&mut a, usize::from(len));
        let gw: [u8; 4] = r.array().ok_or("truncated gateway")?;
        let net = Ipv4Net::new(Ipv4Addr::from(a), len).map_err(|_| "IPv4 prefix length over 32")?;
        (IpNet::V4(net), IpAddr::V4(Ipv4Addr::from(gw)))
    };
    let label = Label::read(&mut r).ok_or("truncated label")?;
    Ok(IpPrefixRoute {
        rd,
        esi,
        ethernet_tag,
        prefix,
        gateway,
        label,
    })
}

/// FRR's notation: `[5]:[0]:[24]:[198.51.100.0]`, `[2]:[0]:[48]:[02:00:00:00:00:01]:[32]:[192.0.2.1]`.
impl fmt::Display for EvpnRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mac = |m: &[u8; 6]| m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
        let ip_len = |ip: &IpAddr| if ip.is_ipv4() { 32 } else { 128 };
        match self {
            EvpnRoute::EthernetAutoDiscovery { rd, ethernet_tag, .. } => write!(f, "{rd} [1]:[{ethernet_tag}]"),
            EvpnRoute::MacIpAdvertisement {
                rd,
                ethernet_tag,
                mac: m,
                ip,
                ..
            } => {
                write!(f, "{rd} [2]:[{ethernet_tag}]:[48]:[{}]", mac(m))?;
                if let Some(ip) = ip {
                    write!(f, ":[{}]:[{ip}]", ip_len(ip))?;
                }
                Ok(())
            }
            EvpnRoute::InclusiveMulticast {
                rd,
                ethernet_tag,
                originator,
            } => write!(f, "{rd} [3]:[{ethernet_tag}]:[{}]:[{originator}]", ip_len(originator)),
            EvpnRoute::EthernetSegment { rd, originator, .. } => {
                write!(f, "{rd} [4]:[{}]:[{originator}]", ip_len(originator))
            }
            EvpnRoute::IpPrefix(p) => write!(
                f,
                "{} [5]:[{}]:[{}]:[{}]",
                p.rd,
                p.ethernet_tag,
                p.prefix.prefix_len(),
                p.prefix.addr()
            ),
            EvpnRoute::Other { route_type, value } => write!(f, "[{route_type}] ({} octets)", value.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> EvpnRoute {
        let mut r = Reader::new(bytes);
        let route = EvpnRoute::decode(&mut r).unwrap();
        assert!(r.is_empty());
        let mut out = Vec::new();
        route.encode(&mut out).unwrap();
        assert_eq!(out, bytes);
        route
    }

    const RD: [u8; 8] = [0, 0, 0xfc, 0, 0, 0, 0, 2];

    #[test]
    fn type5_ipv4_rfc9136_layout() {
        let mut b = vec![5, 34];
        b.extend_from_slice(&RD);
        b.extend_from_slice(&[0; 10]); // ESI
        b.extend_from_slice(&[0, 0, 0, 0]); // Ethernet tag
        b.extend_from_slice(&[24, 198, 51, 100, 0]); // prefix
        b.extend_from_slice(&[0, 0, 0, 0]); // gateway
        b.extend_from_slice(&[0x00, 0x27, 0x74]); // VNI 10100
        let EvpnRoute::IpPrefix(p) = round_trip(&b) else {
            panic!()
        };
        assert_eq!(p.rd.to_string(), "64512:2");
        assert_eq!(p.prefix.to_string(), "198.51.100.0/24");
        assert_eq!(p.gateway, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(p.label.raw(), 10100);
    }

    #[test]
    fn type5_ipv6_and_malformed() {
        let mut b = vec![5, 58];
        b.extend_from_slice(&RD);
        b.extend_from_slice(&[0; 14]);
        b.push(64);
        b.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&[0; 16]);
        b.extend_from_slice(&[0, 0x27, 0xd8]);
        let EvpnRoute::IpPrefix(p) = round_trip(&b) else {
            panic!()
        };
        assert_eq!(p.prefix.to_string(), "2001:db8:300::/64");
        // Prefix length 129.
        let mut bad = b.clone();
        bad[24] = 129;
        assert!(EvpnRoute::decode(&mut Reader::new(&bad)).is_err());
        // Wrong length.
        let mut bad = b.clone();
        bad[1] = 57;
        bad.pop();
        assert!(EvpnRoute::decode(&mut Reader::new(&bad)).is_err());
    }

    #[test]
    fn types_1_to_4() {
        let mut t1 = vec![1, 25];
        t1.extend_from_slice(&RD);
        t1.extend_from_slice(&[1; 10]);
        t1.extend_from_slice(&[0, 0, 0, 7, 0, 0x06, 0x41]);
        assert!(matches!(
            round_trip(&t1),
            EvpnRoute::EthernetAutoDiscovery { ethernet_tag: 7, .. }
        ));

        let mut t2 = vec![2, 37];
        t2.extend_from_slice(&RD);
        t2.extend_from_slice(&[0; 10]);
        t2.extend_from_slice(&[0, 0, 0, 0, 48, 2, 0, 0, 0, 0, 1, 32, 192, 0, 2, 1, 0, 0x27, 0x74]);
        let r2 = round_trip(&t2);
        assert_eq!(
            r2.to_string(),
            "64512:2 [2]:[0]:[48]:[02:00:00:00:00:01]:[32]:[192.0.2.1]"
        );

        let mut t3 = vec![3, 17];
        t3.extend_from_slice(&RD);
        t3.extend_from_slice(&[0, 0, 0, 0, 32, 192, 0, 2, 2]);
        assert!(matches!(round_trip(&t3), EvpnRoute::InclusiveMulticast { .. }));

        let mut t4 = vec![4, 23];
        t4.extend_from_slice(&RD);
        t4.extend_from_slice(&[9; 10]);
        t4.extend_from_slice(&[32, 192, 0, 2, 2]);
        assert!(matches!(round_trip(&t4), EvpnRoute::EthernetSegment { .. }));

        // A type 3 with a 24-bit "address" is kept raw, and so is an unknown type.
        let mut odd = vec![3, 16];
        odd.extend_from_slice(&RD);
        odd.extend_from_slice(&[0, 0, 0, 0, 24, 192, 0, 2]);
        assert!(matches!(round_trip(&odd), EvpnRoute::Other { route_type: 3, .. }));
        assert!(matches!(
            round_trip(&[9, 2, 1, 2]),
            EvpnRoute::Other { route_type: 9, .. }
        ));
        // Overrun is an error.
        assert!(EvpnRoute::decode(&mut Reader::new(&[2, 40, 0])).is_err());
    }
}
