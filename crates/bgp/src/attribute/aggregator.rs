//! AGGREGATOR (RFC 4271 §5.1.7, type 7) and AS4_AGGREGATOR (RFC 6793 §3, type 18): the AS and
//! BGP identifier of the speaker that aggregated the route.

use std::net::Ipv4Addr;

use crate::AS_TRANS;
use crate::error::Reason;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

impl Aggregator {
    /// AGGREGATOR is 6 octets between OLD speakers and 8 between NEW ones; AS4_AGGREGATOR is
    /// always 8. RFC 7606 §7.7 and RFC 6793 §6: another length is malformed (attribute discard);
    /// so is AS 0 (RFC 7607 §2).
    pub(crate) fn decode(type_code: u8, value: &[u8], four_octet: bool) -> Result<Aggregator, Reason> {
        let length_error = Reason::AttributeLength {
            type_code,
            length: value.len(),
        };
        let (asn, address) = if four_octet {
            let [a, b, c, d, e, f, g, h] = <[u8; 8]>::try_from(value).map_err(|_| length_error)?;
            (u32::from_be_bytes([a, b, c, d]), [e, f, g, h])
        } else {
            let [a, b, e, f, g, h] = <[u8; 6]>::try_from(value).map_err(|_| length_error)?;
            (u32::from(u16::from_be_bytes([a, b])), [e, f, g, h])
        };
        if asn == 0 {
            return Err(Reason::ZeroAs(type_code));
        }
        Ok(Aggregator {
            asn,
            address: Ipv4Addr::from(address),
        })
    }

    /// With `four_octet` false an AS above 65535 is written as AS_TRANS (RFC 6793 §4.2.2).
    pub(crate) fn encode(&self, four_octet: bool, out: &mut Vec<u8>) {
        if four_octet {
            out.extend_from_slice(&self.asn.to_be_bytes());
        } else {
            let asn = u16::try_from(self.asn).unwrap_or(AS_TRANS);
            out.extend_from_slice(&asn.to_be_bytes());
        }
        out.extend_from_slice(&self.address.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_widths() {
        let a = Aggregator::decode(7, &[0xfc, 0, 192, 0, 2, 1], false).unwrap();
        assert_eq!(a.asn, 64512);
        let b = Aggregator::decode(7, &[0xfa, 0x56, 0xea, 0x02, 192, 0, 2, 1], true).unwrap();
        assert_eq!(b.asn, 4_200_000_002);
        let mut out = Vec::new();
        b.encode(false, &mut out);
        assert_eq!(out, [0x5b, 0xa0, 192, 0, 2, 1]);
        assert!(Aggregator::decode(7, &[0xfc, 0, 192, 0, 2, 1], true).is_err());
        assert!(Aggregator::decode(7, &[0, 0, 192, 0, 2, 1], false).is_err());
    }
}
