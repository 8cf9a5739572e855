//! ORIGIN (RFC 4271 §5.1.1), type 1, well-known mandatory, one octet.

use std::fmt;

use super::type_code;
use crate::error::Reason;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

impl Origin {
    /// RFC 7606 §7.1: a length other than 1 or an undefined value is malformed (treat-as-withdraw).
    pub(crate) fn decode(value: &[u8]) -> Result<Origin, Reason> {
        match value {
            [0] => Ok(Origin::Igp),
            [1] => Ok(Origin::Egp),
            [2] => Ok(Origin::Incomplete),
            [v] => Err(Reason::InvalidOrigin(*v)),
            _ => Err(Reason::AttributeLength {
                type_code: type_code::ORIGIN,
                length: value.len(),
            }),
        }
    }

    pub(crate) fn encode(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Igp => "igp",
            Origin::Egp => "egp",
            Origin::Incomplete => "incomplete",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_errors() {
        assert_eq!(Origin::decode(&[2]), Ok(Origin::Incomplete));
        assert_eq!(Origin::decode(&[3]), Err(Reason::InvalidOrigin(3)));
        assert!(matches!(Origin::decode(&[0, 0]), Err(Reason::AttributeLength { .. })));
        assert!(Origin::decode(&[]).is_err());
        let mut out = Vec::new();
        Origin::Egp.encode(&mut out);
        assert_eq!(out, [1]);
    }
}
