//! The 19-octet message header (RFC 4271 §4.1): marker, length, type; and the checks of §6.1.

use crate::DecodeError;
use crate::codec::{MAX_MESSAGE_LEN, SessionCaps};
use crate::error::Reason;
use crate::message::notification::{code, header_error};
use crate::wire::{Reader, put_u16};

pub const MARKER: [u8; 16] = [0xff; 16];
pub const HEADER_LEN: usize = 19;

pub const TYPE_OPEN: u8 = 1;
pub const TYPE_UPDATE: u8 = 2;
pub const TYPE_NOTIFICATION: u8 = 3;
pub const TYPE_KEEPALIVE: u8 = 4;
/// RFC 2918.
pub const TYPE_ROUTE_REFRESH: u8 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The whole message, header included.
    pub length: u16,
    pub message_type: u8,
}

impl Header {
    /// Checks the header at the start of `buf`; `Ok(None)` until 19 octets are there.
    ///
    /// RFC 4271 §6.1: a marker that is not all ones, a length under 19 or over the maximum
    /// (4096, or 65535 with RFC 8654 extended messages, though OPEN and KEEPALIVE stay within
    /// 4096), a length too small for the type, or an unknown type reset the session.
    pub fn decode(buf: &[u8], caps: &SessionCaps) -> Result<Option<Header>, DecodeError> {
        let mut r = Reader::new(buf);
        let (Some(marker), Some(length), Some(message_type)) = (r.array::<16>(), r.u16(), r.u8()) else {
            return Ok(None);
        };
        if marker != MARKER {
            return Err(DecodeError::new(
                Reason::NotSynchronized,
                code::MESSAGE_HEADER_ERROR,
                header_error::CONNECTION_NOT_SYNCHRONIZED,
                [],
            ));
        }
        let len = usize::from(length);
        let bad_length = || {
            DecodeError::header_length(Reason::BadMessageLength {
                length: len,
                message_type,
            })
        };
        if len < HEADER_LEN || len > caps.max_message_len() {
            return Err(bad_length());
        }
        let fits = match message_type {
            TYPE_OPEN => (29..=MAX_MESSAGE_LEN).contains(&len),
            TYPE_UPDATE => len >= 23,
            TYPE_NOTIFICATION => len >= 21,
            TYPE_KEEPALIVE => len == HEADER_LEN,
            // A wrong ROUTE-REFRESH length has its own error (RFC 7313 §5), raised on decode.
            TYPE_ROUTE_REFRESH => true,
            _ => {
                return Err(DecodeError::new(
                    Reason::BadMessageType(message_type),
                    code::MESSAGE_HEADER_ERROR,
                    header_error::BAD_MESSAGE_TYPE,
                    [message_type],
                ));
            }
        };
        if !fits {
            return Err(bad_length());
        }
        Ok(Some(Header { length, message_type }))
    }

    pub(crate) fn encode(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MARKER);
        put_u16(out, self.length);
        out.push(self.message_type);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u16, t: u8) -> Vec<u8> {
        let mut v = Vec::new();
        Header {
            length: len,
            message_type: t,
        }
        .encode(&mut v);
        v
    }

    #[test]
    fn rfc4271_checks() {
        let caps = SessionCaps::default();
        assert_eq!(Header::decode(&header(19, 4)[..18], &caps), Ok(None));
        assert_eq!(
            Header::decode(&header(19, 4), &caps),
            Ok(Some(Header {
                length: 19,
                message_type: 4
            }))
        );
        let mut bad_marker = header(19, 4);
        bad_marker[3] = 0;
        let e = Header::decode(&bad_marker, &caps).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (1, 1));
        let e = Header::decode(&header(18, 4), &caps).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (1, 2));
        assert_eq!(e.notification.data, [0, 18]);
        let e = Header::decode(&header(20, 4), &caps).unwrap_err();
        assert_eq!(e.notification.data, [0, 20]);
        assert!(Header::decode(&header(28, 1), &caps).is_err());
        assert!(Header::decode(&header(22, 2), &caps).is_err());
        assert!(Header::decode(&header(20, 3), &caps).is_err());
        let e = Header::decode(&header(19, 6), &caps).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (1, 3));
        assert_eq!(e.notification.data, [6]);
    }

    #[test]
    fn rfc8654_extended_message() {
        let caps = SessionCaps::default();
        assert!(Header::decode(&header(4097, 2), &caps).is_err());
        let ext = SessionCaps::modern();
        assert!(Header::decode(&header(65535, 2), &ext).unwrap().is_some());
        // OPEN stays within 4096 even then.
        assert!(Header::decode(&header(4097, 1), &ext).is_err());
    }
}
