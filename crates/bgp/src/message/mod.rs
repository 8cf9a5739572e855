//! BGP messages (RFC 4271 §4), framing and the two entry points [`decode_message`] and
//! [`Message::encode`].

pub mod header;
pub mod keepalive;
pub mod notification;
pub mod open;
pub mod route_refresh;
pub mod update;

use crate::codec::{MAX_MESSAGE_LEN, SessionCaps};
use crate::error::{Reason, UpdateError};
use crate::{DecodeError, EncodeError};
use header::{HEADER_LEN, Header, TYPE_KEEPALIVE, TYPE_NOTIFICATION, TYPE_OPEN, TYPE_ROUTE_REFRESH, TYPE_UPDATE};
pub use notification::Notification;
pub use open::Open;
pub use route_refresh::{RefreshSubtype, RouteRefresh};
pub use update::{DecodedUpdate, Update};

/// One BGP message. UPDATE is much larger than the rest; messages are short-lived values moved
/// once from the decoder to the session, so it is not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// A decoded message; `errors` holds the RFC 7606 outcomes of an UPDATE (always empty for the
/// other types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub message: Message,
    pub errors: Vec<UpdateError>,
}

/// Sans-IO framing: the length of the message at the start of `buf` once its header is there
/// (`Ok(None)` until then), after the header checks of RFC 4271 §6.1. Read that many octets, then
/// hand them to [`decode_message`].
pub fn frame_length(buf: &[u8], caps: &SessionCaps) -> Result<Option<usize>, DecodeError> {
    Ok(Header::decode(buf, caps)?.map(|h| usize::from(h.length)))
}

/// Decodes exactly one message, header included.
pub fn decode_message(frame: &[u8], caps: &SessionCaps) -> Result<Decoded, DecodeError> {
    let header = Header::decode(frame, caps)?.ok_or_else(|| {
        DecodeError::header_length(Reason::FrameLength {
            declared: HEADER_LEN,
            got: frame.len(),
        })
    })?;
    if usize::from(header.length) != frame.len() {
        return Err(DecodeError::header_length(Reason::FrameLength {
            declared: usize::from(header.length),
            got: frame.len(),
        }));
    }
    let body = frame.get(HEADER_LEN..).unwrap_or_default();
    let plain = |message| Decoded {
        message,
        errors: Vec::new(),
    };
    Ok(match header.message_type {
        TYPE_OPEN => plain(Message::Open(Open::decode_body(body)?)),
        TYPE_UPDATE => {
            let d = Update::decode(body, caps)?;
            Decoded {
                message: Message::Update(d.update),
                errors: d.errors,
            }
        }
        TYPE_NOTIFICATION => plain(Message::Notification(Notification::decode_body(body)?)),
        TYPE_KEEPALIVE => {
            keepalive::decode_body(body)?;
            plain(Message::Keepalive)
        }
        TYPE_ROUTE_REFRESH => plain(Message::RouteRefresh(RouteRefresh::decode_body(body, frame)?)),
        // Header::decode already refused other types.
        other => {
            return Err(DecodeError::new(
                Reason::BadMessageType(other),
                notification::code::MESSAGE_HEADER_ERROR,
                notification::header_error::BAD_MESSAGE_TYPE,
                [other],
            ));
        }
    })
}

impl Message {
    pub fn message_type(&self) -> u8 {
        match self {
            Message::Open(_) => TYPE_OPEN,
            Message::Update(_) => TYPE_UPDATE,
            Message::Notification(_) => TYPE_NOTIFICATION,
            Message::Keepalive => TYPE_KEEPALIVE,
            Message::RouteRefresh(_) => TYPE_ROUTE_REFRESH,
        }
    }

    /// The whole message, header included. Fails when it would exceed the session's maximum
    /// (4096 octets, 65535 with extended messages; OPEN and KEEPALIVE always 4096), or when a value
    /// cannot be represented on the wire.
    pub fn encode(&self, caps: &SessionCaps) -> Result<Vec<u8>, EncodeError> {
        let mut out = vec![0u8; HEADER_LEN];
        match self {
            Message::Open(o) => o.encode_body(&mut out)?,
            Message::Update(u) => u.encode_body(caps, &mut out)?,
            Message::Notification(n) => n.encode_body(&mut out)?,
            Message::Keepalive => {}
            Message::RouteRefresh(r) => r.encode_body(&mut out),
        }
        let max = match self {
            Message::Open(_) | Message::Keepalive => MAX_MESSAGE_LEN,
            _ => caps.max_message_len(),
        };
        let len = out.len();
        let length = u16::try_from(len)
            .ok()
            .filter(|_| len <= max)
            .ok_or(EncodeError::TooLong {
                what: "message",
                len,
                max,
            })?;
        let mut head = Vec::with_capacity(HEADER_LEN);
        Header {
            length,
            message_type: self.message_type(),
        }
        .encode(&mut head);
        if let Some(slot) = out.get_mut(..HEADER_LEN) {
            slot.copy_from_slice(&head);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        let caps = SessionCaps::default();
        let ka = Message::Keepalive.encode(&caps).unwrap();
        assert_eq!(ka, keepalive::KEEPALIVE);
        assert_eq!(frame_length(&ka[..10], &caps), Ok(None));
        assert_eq!(frame_length(&ka, &caps), Ok(Some(19)));
        assert_eq!(decode_message(&ka, &caps).unwrap().message, Message::Keepalive);
        // The frame must be exactly the declared length.
        let mut long = ka.to_vec();
        long.push(0);
        assert!(decode_message(&long, &caps).is_err());
        assert!(decode_message(&ka[..18], &caps).is_err());
    }

    #[test]
    fn too_long_to_encode() {
        let n = Message::Notification(Notification::new(6, 0, vec![0; 5000]));
        assert!(matches!(
            n.encode(&SessionCaps::default()),
            Err(EncodeError::TooLong { max: 4096, .. })
        ));
        assert_eq!(n.encode(&SessionCaps::modern()).unwrap().len(), 5021);
    }
}
