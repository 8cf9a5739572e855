//! Path attributes this codec does not know (RFC 4271 §5, §9): an optional transitive one is kept
//! byte for byte and passed on with the Partial bit set; an optional non-transitive one is
//! dropped on decode; an unknown well-known one is an error (handled by the decoder).

use super::flags;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnknownAttribute {
    /// The flags octet as received, Extended Length bit included.
    pub flags: u8,
    pub type_code: u8,
    pub value: Vec<u8>,
}

impl UnknownAttribute {
    pub fn is_transitive(&self) -> bool {
        self.flags & flags::TRANSITIVE != 0
    }

    /// The attribute as this speaker passes it on: Partial bit set (RFC 4271 §9).
    pub fn passed_on(&self) -> UnknownAttribute {
        UnknownAttribute {
            flags: self.flags | flags::PARTIAL,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_bit() {
        let a = UnknownAttribute {
            flags: 0xc0,
            type_code: 0x99,
            value: vec![1],
        };
        assert!(a.is_transitive());
        assert_eq!(a.passed_on().flags, 0xe0);
    }
}
