//! NEXT_HOP (RFC 4271 §5.1.3), type 3: the IPv4 next hop of the NLRI in the UPDATE's own NLRI
//! field. Other families carry theirs in MP_REACH_NLRI.

use std::net::Ipv4Addr;

use super::type_code;
use crate::error::Reason;

/// RFC 7606 §7.3: a length other than 4 is malformed (treat-as-withdraw).
pub(crate) fn decode(value: &[u8]) -> Result<Ipv4Addr, Reason> {
    <[u8; 4]>::try_from(value)
        .map(Ipv4Addr::from)
        .map_err(|_| Reason::AttributeLength {
            type_code: type_code::NEXT_HOP,
            length: value.len(),
        })
}

pub(crate) fn encode(addr: Ipv4Addr, out: &mut Vec<u8>) {
    out.extend_from_slice(&addr.octets());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_octets_only() {
        assert_eq!(decode(&[192, 0, 2, 2]), Ok(Ipv4Addr::new(192, 0, 2, 2)));
        assert!(decode(&[192, 0, 2]).is_err());
        assert!(decode(&[0; 16]).is_err());
    }
}
