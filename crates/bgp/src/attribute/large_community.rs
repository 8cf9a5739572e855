//! LARGE_COMMUNITY (RFC 8092), type 32, optional transitive: 12-octet values.

use std::fmt;

use super::type_code;
use crate::error::Reason;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local_data_1: u32,
    pub local_data_2: u32,
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global_admin, self.local_data_1, self.local_data_2)
    }
}

/// RFC 8092 §5: a length that is not a non-zero multiple of 12 is malformed (treat-as-withdraw).
pub(crate) fn decode(value: &[u8]) -> Result<Vec<LargeCommunity>, Reason> {
    if value.is_empty() || !value.len().is_multiple_of(12) {
        return Err(Reason::AttributeLength {
            type_code: type_code::LARGE_COMMUNITY,
            length: value.len(),
        });
    }
    Ok(value
        .chunks_exact(12)
        .filter_map(|c| <[u8; 12]>::try_from(c).ok())
        .map(|[a, b, c, d, e, f, g, h, i, j, k, l]| LargeCommunity {
            global_admin: u32::from_be_bytes([a, b, c, d]),
            local_data_1: u32::from_be_bytes([e, f, g, h]),
            local_data_2: u32::from_be_bytes([i, j, k, l]),
        })
        .collect())
}

pub(crate) fn encode(list: &[LargeCommunity], out: &mut Vec<u8>) {
    for c in list {
        out.extend_from_slice(&c.global_admin.to_be_bytes());
        out.extend_from_slice(&c.local_data_1.to_be_bytes());
        out.extend_from_slice(&c.local_data_2.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8092() {
        let list = decode(&[0, 0, 0xfc, 0, 0, 0, 0, 1, 0, 0, 0, 2]).unwrap();
        assert_eq!(list[0].to_string(), "64512:1:2");
        assert!(decode(&[0; 8]).is_err());
        assert!(decode(&[]).is_err());
    }
}
