//! MULTI_EXIT_DISC (RFC 4271 §5.1.4, type 4, optional non-transitive) and LOCAL_PREF
//! (§5.1.5, type 5, well-known): both one 4-octet number.

use crate::error::Reason;

/// RFC 7606 §7.4 and §7.5: a length other than 4 is malformed (treat-as-withdraw).
pub(crate) fn decode(type_code: u8, value: &[u8]) -> Result<u32, Reason> {
    <[u8; 4]>::try_from(value)
        .map(u32::from_be_bytes)
        .map_err(|_| Reason::AttributeLength {
            type_code,
            length: value.len(),
        })
}

pub(crate) fn encode(v: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_octets_only() {
        assert_eq!(decode(4, &[0, 0, 0, 10]), Ok(10));
        assert_eq!(
            decode(5, &[0, 0, 10]),
            Err(Reason::AttributeLength {
                type_code: 5,
                length: 3
            })
        );
    }
}
