//! ORIGINATOR_ID (type 9) and CLUSTER_LIST (type 10), optional non-transitive, of route
//! reflection (RFC 4456 §8).

use std::net::Ipv4Addr;

use super::type_code;
use crate::error::Reason;

/// RFC 7606 §7.9: a length other than 4 is malformed (treat-as-withdraw).
pub(crate) fn decode_originator_id(value: &[u8]) -> Result<Ipv4Addr, Reason> {
    <[u8; 4]>::try_from(value)
        .map(Ipv4Addr::from)
        .map_err(|_| Reason::AttributeLength {
            type_code: type_code::ORIGINATOR_ID,
            length: value.len(),
        })
}

/// RFC 7606 §7.10: a length that is not a non-zero multiple of 4 is malformed (treat-as-withdraw).
pub(crate) fn decode_cluster_list(value: &[u8]) -> Result<Vec<Ipv4Addr>, Reason> {
    if value.is_empty() || !value.len().is_multiple_of(4) {
        return Err(Reason::AttributeLength {
            type_code: type_code::CLUSTER_LIST,
            length: value.len(),
        });
    }
    Ok(value
        .chunks_exact(4)
        .filter_map(|c| <[u8; 4]>::try_from(c).ok())
        .map(Ipv4Addr::from)
        .collect())
}

pub(crate) fn encode_addresses(list: &[Ipv4Addr], out: &mut Vec<u8>) {
    for a in list {
        out.extend_from_slice(&a.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4456() {
        assert_eq!(decode_originator_id(&[192, 0, 2, 9]), Ok(Ipv4Addr::new(192, 0, 2, 9)));
        assert!(decode_originator_id(&[0; 5]).is_err());
        assert_eq!(
            decode_cluster_list(&[10, 0, 0, 1, 10, 0, 0, 2]).unwrap(),
            [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
        assert!(decode_cluster_list(&[]).is_err());
        assert!(decode_cluster_list(&[1, 2, 3]).is_err());
    }
}
