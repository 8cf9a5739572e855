//! EXTENDED COMMUNITIES (RFC 4360), type 16, optional transitive: 8-octet values. Route targets
//! (RFC 4360 §4, RFC 5668) go through `weft-net`; the EVPN router's MAC (RFC 9135 §8.1) and the
//! tunnel encapsulation community (RFC 9012 §4.1) are typed; everything else stays raw.

use std::fmt;

use weft_net::RouteTarget;

use super::type_code;
use crate::error::Reason;

/// Tunnel types of the encapsulation extended community (IANA "BGP Tunnel Encapsulation
/// Attribute Tunnel Types").
pub mod tunnel_type {
    pub const VXLAN: u16 = 8;
    pub const NVGRE: u16 = 9;
    pub const MPLS: u16 = 10;
    pub const MPLS_IN_GRE: u16 = 11;
    pub const VXLAN_GPE: u16 = 12;
    pub const MPLS_IN_UDP: u16 = 13;
    pub const GENEVE: u16 = 19;
}

/// One extended community. Decoding only types a value when encoding the type gives the same
/// 8 octets back, so every community re-encodes byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExtendedCommunity {
    /// Transitive route target of type 0x00, 0x01 or 0x02 (sub-type 0x02).
    RouteTarget(RouteTarget),
    /// EVPN router's MAC, type 0x06 sub-type 0x03.
    RouterMac([u8; 6]),
    /// Encapsulation, type 0x03 sub-type 0x0c, with its tunnel type (4 reserved octets zero).
    Encapsulation(u16),
    Raw([u8; 8]),
}

impl ExtendedCommunity {
    pub fn from_bytes(b: [u8; 8]) -> ExtendedCommunity {
        if let Some(rt) = RouteTarget::from_extended_community(b)
            && rt.to_extended_community() == b
        {
            return ExtendedCommunity::RouteTarget(rt);
        }
        match b {
            [0x06, 0x03, m0, m1, m2, m3, m4, m5] => ExtendedCommunity::RouterMac([m0, m1, m2, m3, m4, m5]),
            [0x03, 0x0c, 0, 0, 0, 0, t0, t1] => ExtendedCommunity::Encapsulation(u16::from_be_bytes([t0, t1])),
            _ => ExtendedCommunity::Raw(b),
        }
    }

    pub fn to_bytes(&self) -> [u8; 8] {
        match *self {
            ExtendedCommunity::RouteTarget(rt) => rt.to_extended_community(),
            ExtendedCommunity::RouterMac([m0, m1, m2, m3, m4, m5]) => [0x06, 0x03, m0, m1, m2, m3, m4, m5],
            ExtendedCommunity::Encapsulation(t) => {
                let [t0, t1] = t.to_be_bytes();
                [0x03, 0x0c, 0, 0, 0, 0, t0, t1]
            }
            ExtendedCommunity::Raw(b) => b,
        }
    }

    /// Whether the community may cross AS boundaries (RFC 4360 §2: the T bit, 0x40, is clear).
    pub fn is_transitive(&self) -> bool {
        let [t, ..] = self.to_bytes();
        t & 0x40 == 0
    }
}

impl fmt::Display for ExtendedCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtendedCommunity::RouteTarget(rt) => write!(f, "RT:{rt}"),
            ExtendedCommunity::RouterMac(m) => write!(
                f,
                "Rmac:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            ExtendedCommunity::Encapsulation(tunnel_type::VXLAN) => f.write_str("ET:8 (VXLAN)"),
            ExtendedCommunity::Encapsulation(t) => write!(f, "ET:{t}"),
            ExtendedCommunity::Raw(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|x| write!(f, "{x:02x}"))
            }
        }
    }
}

/// RFC 7606 §7.14: a length that is not a non-zero multiple of 8 is malformed (treat-as-withdraw).
pub(crate) fn decode(value: &[u8]) -> Result<Vec<ExtendedCommunity>, Reason> {
    if value.is_empty() || !value.len().is_multiple_of(8) {
        return Err(Reason::AttributeLength {
            type_code: type_code::EXTENDED_COMMUNITIES,
            length: value.len(),
        });
    }
    Ok(value
        .chunks_exact(8)
        .filter_map(|c| <[u8; 8]>::try_from(c).ok())
        .map(ExtendedCommunity::from_bytes)
        .collect())
}

pub(crate) fn encode(list: &[ExtendedCommunity], out: &mut Vec<u8>) {
    for c in list {
        out.extend_from_slice(&c.to_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_kinds() {
        let rt = ExtendedCommunity::from_bytes([0x00, 0x02, 0xfc, 0x00, 0, 0, 0, 200]);
        assert_eq!(rt, ExtendedCommunity::RouteTarget("64512:200".parse().unwrap()));
        assert_eq!(rt.to_string(), "RT:64512:200");
        let rt4 = ExtendedCommunity::from_bytes([0x02, 0x02, 0xfa, 0x56, 0xea, 0x01, 0, 7]);
        assert_eq!(rt4.to_string(), "RT:4200000001:7");
        let mac = ExtendedCommunity::from_bytes([0x06, 0x03, 2, 0, 0, 0, 0, 2]);
        assert_eq!(mac.to_string(), "Rmac:02:00:00:00:00:02");
        let encap = ExtendedCommunity::from_bytes([0x03, 0x0c, 0, 0, 0, 0, 0, 8]);
        assert_eq!(encap, ExtendedCommunity::Encapsulation(tunnel_type::VXLAN));
        // Non-zero reserved octets, a non-transitive RT and a route origin stay raw.
        for raw in [
            [0x03, 0x0c, 0, 1, 0, 0, 0, 8],
            [0x40, 0x02, 0xfc, 0x00, 0, 0, 0, 1],
            [0x00, 0x03, 0xfc, 0x00, 0, 0, 0, 1],
        ] {
            assert_eq!(ExtendedCommunity::from_bytes(raw), ExtendedCommunity::Raw(raw));
        }
        assert!(!ExtendedCommunity::Raw([0x40, 0x02, 0, 0, 0, 0, 0, 1]).is_transitive());
    }

    #[test]
    fn length_rule() {
        assert_eq!(decode(&[0x06, 0x03, 2, 0, 0, 0, 0, 2]).unwrap().len(), 1);
        assert!(decode(&[0; 7]).is_err());
        assert!(decode(&[0; 12]).is_err());
        assert!(decode(&[]).is_err());
    }
}
