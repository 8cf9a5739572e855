//! ATOMIC_AGGREGATE (RFC 4271 §5.1.6), type 6, well-known discretionary, no value.

use super::type_code;
use crate::error::Reason;

/// RFC 7606 §7.6: a length other than 0 is malformed (attribute discard).
pub(crate) fn decode(value: &[u8]) -> Result<(), Reason> {
    if value.is_empty() {
        Ok(())
    } else {
        Err(Reason::AttributeLength {
            type_code: type_code::ATOMIC_AGGREGATE,
            length: value.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn empty_only() {
        assert!(super::decode(&[]).is_ok());
        assert!(super::decode(&[0]).is_err());
    }
}
