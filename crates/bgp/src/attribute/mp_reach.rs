//! MP_REACH_NLRI (RFC 4760 §3), type 14, optional non-transitive: AFI, SAFI, next hop, a
//! reserved octet and the NLRI of that family.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::EncodeError;
use crate::codec::SessionCaps;
use crate::error::Reason;
use crate::family::{Afi, Family, Safi};
use crate::nlri::Nlri;
use crate::wire::Reader;

/// A next hop in MP_REACH_NLRI. VPN families put an all-zero route distinguisher before each
/// address (RFC 4364 §4.3.2, RFC 4659 §3.2.1); a second, link-local IPv6 address may follow a
/// global one (RFC 2545 §3). IPv4 families may carry an IPv6 next hop (RFC 8950).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NextHop {
    pub address: IpAddr,
    pub link_local: Option<Ipv6Addr>,
}

impl NextHop {
    pub fn new(address: IpAddr) -> NextHop {
        NextHop {
            address,
            link_local: None,
        }
    }
}

impl From<IpAddr> for NextHop {
    fn from(address: IpAddr) -> NextHop {
        NextHop::new(address)
    }
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.address)?;
        if let Some(ll) = self.link_local {
            write!(f, " ({ll})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpReach {
    pub family: Family,
    pub next_hop: NextHop,
    pub nlri: Vec<Nlri>,
}

/// What decoding MP_REACH_NLRI or MP_UNREACH_NLRI found.
pub(crate) enum MpDecoded<T> {
    Known(T),
    /// An AFI/SAFI this codec does not speak (RFC 4760 §7: the session ignores it or resets).
    Unsupported(Afi, Safi),
}

fn is_vpn(family: Family) -> bool {
    matches!(family, Family::Vpnv4 | Family::Vpnv6)
}

fn decode_next_hop(family: Family, nh: &[u8]) -> Option<NextHop> {
    let mut r = Reader::new(nh);
    let vpn = is_vpn(family);
    let read_rd = |r: &mut Reader<'_>| if vpn { r.take(8).map(|_| ()) } else { Some(()) };
    let rd_len = if vpn { 8 } else { 0 };
    let v4_allowed = !matches!(family, Family::Ipv6Unicast | Family::Vpnv6);
    let hop = match nh.len() {
        n if n == rd_len + 4 && v4_allowed => {
            read_rd(&mut r)?;
            NextHop::new(IpAddr::V4(Ipv4Addr::from(r.array::<4>()?)))
        }
        n if n == rd_len + 16 => {
            read_rd(&mut r)?;
            NextHop::new(IpAddr::V6(Ipv6Addr::from(r.array::<16>()?)))
        }
        n if n == 2 * (rd_len + 16) => {
            read_rd(&mut r)?;
            let global = Ipv6Addr::from(r.array::<16>()?);
            read_rd(&mut r)?;
            NextHop {
                address: IpAddr::V6(global),
                link_local: Some(Ipv6Addr::from(r.array::<16>()?)),
            }
        }
        _ => return None,
    };
    Some(hop)
}

pub(crate) fn encode_next_hop(family: Family, hop: &NextHop, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let rd = |out: &mut Vec<u8>| {
        if is_vpn(family) {
            out.extend_from_slice(&[0; 8]);
        }
    };
    match (hop.address, hop.link_local) {
        (IpAddr::V4(a), None) if !matches!(family, Family::Ipv6Unicast | Family::Vpnv6) => {
            rd(out);
            out.extend_from_slice(&a.octets());
        }
        (IpAddr::V6(a), ll) => {
            rd(out);
            out.extend_from_slice(&a.octets());
            if let Some(ll) = ll {
                rd(out);
                out.extend_from_slice(&ll.octets());
            }
        }
        _ => {
            return Err(EncodeError::Invalid(
                "MP_REACH_NLRI next hop",
                "an IPv4 next hop cannot carry a link-local address or serve an IPv6 family",
            ));
        }
    }
    Ok(())
}

impl MpReach {
    /// RFC 7606 §7.11: a next hop length that does not fit the family, or NLRI that do not parse,
    /// make the attribute malformed (session reset or AFI/SAFI disable, decided by the caller).
    pub(crate) fn decode(value: &[u8], caps: &SessionCaps) -> Result<MpDecoded<MpReach>, Reason> {
        let mut r = Reader::new(value);
        let too_short = Reason::AttributeLength {
            type_code: super::type_code::MP_REACH_NLRI,
            length: value.len(),
        };
        let afi = Afi(r.u16().ok_or(too_short.clone())?);
        let safi = Safi(r.u8().ok_or(too_short.clone())?);
        let nh_len = r.u8().ok_or(too_short.clone())?;
        let nh = r.take(usize::from(nh_len)).ok_or(too_short.clone())?;
        let _reserved = r.u8().ok_or(too_short)?;
        let Some(family) = Family::from_afi_safi(afi, safi) else {
            return Ok(MpDecoded::Unsupported(afi, safi));
        };
        let next_hop = decode_next_hop(family, nh).ok_or(Reason::MpNextHopLength {
            family,
            length: nh.len(),
        })?;
        let nlri = Nlri::decode_all(family, r.rest(), caps, false)
            .map_err(|detail| Reason::MalformedNlri { family, detail })?;
        Ok(MpDecoded::Known(MpReach { family, next_hop, nlri }))
    }

    pub(crate) fn encode(&self, caps: &SessionCaps, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(&self.family.afi().0.to_be_bytes());
        out.push(self.family.safi().0);
        let len_at = out.len();
        out.push(0);
        encode_next_hop(self.family, &self.next_hop, out)?;
        let nh_len = out.len().saturating_sub(len_at + 1);
        if let Some(slot) = out.get_mut(len_at) {
            *slot = u8::try_from(nh_len).unwrap_or(u8::MAX);
        }
        out.push(0);
        for n in &self.nlri {
            n.encode(self.family, caps, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(value: &[u8]) -> Result<MpReach, Reason> {
        match MpReach::decode(value, &SessionCaps::default())? {
            MpDecoded::Known(m) => Ok(m),
            MpDecoded::Unsupported(..) => panic!("unsupported"),
        }
    }

    #[test]
    fn next_hop_lengths_per_family() {
        // IPv6 unicast, global + link-local (32 octets), no NLRI.
        let mut v = vec![0, 2, 1, 32];
        v.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v.push(0);
        let m = decode(&v).unwrap();
        assert_eq!(m.next_hop.to_string(), "2001:db8::1 (fe80::1)");
        let mut out = Vec::new();
        m.encode(&SessionCaps::default(), &mut out).unwrap();
        assert_eq!(out, v);
        // VPNv4 with a 12-octet next hop.
        let v = [0, 1, 128, 12, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 2, 0];
        assert_eq!(
            decode(&v).unwrap().next_hop.address,
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2))
        );
        // VPNv4 with a bare 4-octet next hop is malformed; so is IPv6 unicast with 4 octets.
        assert!(matches!(
            decode(&[0, 1, 128, 4, 192, 0, 2, 2, 0]),
            Err(Reason::MpNextHopLength { .. })
        ));
        assert!(decode(&[0, 2, 1, 4, 192, 0, 2, 2, 0]).is_err());
        // Truncated.
        assert!(decode(&[0, 1, 1, 4, 192, 0]).is_err());
        // Unknown family.
        assert!(matches!(
            MpReach::decode(&[0, 1, 5, 4, 1, 2, 3, 4, 0], &SessionCaps::default()),
            Ok(MpDecoded::Unsupported(Afi(1), Safi(5)))
        ));
    }

    #[test]
    fn rejects_ipv4_next_hop_for_ipv6() {
        let m = MpReach {
            family: Family::Ipv6Unicast,
            next_hop: NextHop::new(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            nlri: vec![],
        };
        assert!(m.encode(&SessionCaps::default(), &mut Vec::new()).is_err());
    }
}
