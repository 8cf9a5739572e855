//! KEEPALIVE (RFC 4271 §4.4): the header alone.

use crate::DecodeError;
use crate::error::Reason;
use crate::message::header::{HEADER_LEN, TYPE_KEEPALIVE};

/// The whole KEEPALIVE message.
pub const KEEPALIVE: [u8; 19] = [
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0,
    19,
    TYPE_KEEPALIVE,
];

pub(crate) fn decode_body(body: &[u8]) -> Result<(), DecodeError> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::header_length(Reason::BadMessageLength {
            length: HEADER_LEN + body.len(),
            message_type: TYPE_KEEPALIVE,
        }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn empty_body_only() {
        assert!(super::decode_body(&[]).is_ok());
        let e = super::decode_body(&[0]).unwrap_err();
        assert_eq!(e.notification.data, [0, 20]);
    }
}
