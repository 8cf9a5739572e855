//! COMMUNITIES (RFC 1997), type 8, optional transitive: 4-octet values.

use std::fmt;

use super::type_code;
use crate::error::Reason;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Community(pub u32);

impl Community {
    /// RFC 8326.
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xffff_0000);
    /// RFC 7611.
    pub const ACCEPT_OWN: Community = Community(0xffff_0001);
    /// RFC 9494.
    pub const LLGR_STALE: Community = Community(0xffff_0006);
    pub const NO_LLGR: Community = Community(0xffff_0007);
    /// RFC 7999.
    pub const BLACKHOLE: Community = Community(0xffff_029a);
    pub const NO_EXPORT: Community = Community(0xffff_ff01);
    pub const NO_ADVERTISE: Community = Community(0xffff_ff02);
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xffff_ff03);
    /// RFC 3765.
    pub const NO_PEER: Community = Community(0xffff_ff04);

    pub const fn new(asn: u16, value: u16) -> Community {
        Community((asn as u32) << 16 | value as u32)
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Community::NO_EXPORT => f.write_str("no-export"),
            Community::NO_ADVERTISE => f.write_str("no-advertise"),
            Community::NO_EXPORT_SUBCONFED => f.write_str("no-export-subconfed"),
            Community::NO_PEER => f.write_str("no-peer"),
            Community::BLACKHOLE => f.write_str("blackhole"),
            Community::GRACEFUL_SHUTDOWN => f.write_str("graceful-shutdown"),
            Community(v) => write!(f, "{}:{}", v >> 16, v & 0xffff),
        }
    }
}

/// RFC 7606 §7.8: a length that is not a non-zero multiple of 4 is malformed (treat-as-withdraw).
pub(crate) fn decode(value: &[u8]) -> Result<Vec<Community>, Reason> {
    if value.is_empty() || !value.len().is_multiple_of(4) {
        return Err(Reason::AttributeLength {
            type_code: type_code::COMMUNITIES,
            length: value.len(),
        });
    }
    Ok(value
        .chunks_exact(4)
        .filter_map(|c| <[u8; 4]>::try_from(c).ok())
        .map(|c| Community(u32::from_be_bytes(c)))
        .collect())
}

pub(crate) fn encode(list: &[Community], out: &mut Vec<u8>) {
    for c in list {
        out.extend_from_slice(&c.0.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1997() {
        let list = decode(&[0xfc, 0, 0, 10, 0xff, 0xff, 0xff, 0x01]).unwrap();
        assert_eq!(list, [Community::new(64512, 10), Community::NO_EXPORT]);
        assert_eq!(list[0].to_string(), "64512:10");
        assert_eq!(list[1].to_string(), "no-export");
        assert!(decode(&[]).is_err());
        assert!(decode(&[0; 6]).is_err());
    }
}
