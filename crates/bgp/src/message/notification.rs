//! NOTIFICATION (RFC 4271 §4.5): error code, subcode and data, with named constants for every
//! code and subcode of RFC 4271 §4.5 and §6, Cease subcodes (RFC 4486, RFC 8538, RFC 9687),
//! FSM error subcodes (RFC 6608), the ROUTE-REFRESH message error (RFC 7313) and the shutdown
//! communication of RFC 9003.

use std::fmt;

use crate::error::Reason;
use crate::{DecodeError, EncodeError};

/// Error codes (RFC 4271 §4.5, RFC 7313 §5).
pub mod code {
    pub const MESSAGE_HEADER_ERROR: u8 = 1;
    pub const OPEN_MESSAGE_ERROR: u8 = 2;
    pub const UPDATE_MESSAGE_ERROR: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM_ERROR: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH_MESSAGE_ERROR: u8 = 7;
}

/// Subcode 0: "no subcode is defined for this error" (RFC 4271 §4.5).
pub const UNSPECIFIC: u8 = 0;

/// Message Header Error subcodes (RFC 4271 §6.1).
pub mod header_error {
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    pub const BAD_MESSAGE_TYPE: u8 = 3;
}

/// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5, RFC 9234 §4.2).
pub mod open_error {
    pub const UNSUPPORTED_VERSION_NUMBER: u8 = 1;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    /// Deprecated (RFC 4271 Appendix A); never sent.
    pub const AUTHENTICATION_FAILURE: u8 = 5;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
    pub const ROLE_MISMATCH: u8 = 11;
}

/// UPDATE Message Error subcodes (RFC 4271 §6.3).
pub mod update_error {
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
    pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
    /// Deprecated (RFC 4271 Appendix A): AS routing loop.
    pub const AS_ROUTING_LOOP: u8 = 7;
    pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    pub const MALFORMED_AS_PATH: u8 = 11;
}

/// Finite State Machine Error subcodes (RFC 6608).
pub mod fsm_error {
    pub const UNEXPECTED_IN_OPENSENT: u8 = 1;
    pub const UNEXPECTED_IN_OPENCONFIRM: u8 = 2;
    pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
}

/// Cease subcodes (RFC 4486, RFC 8538 §5, RFC 9687).
pub mod cease {
    pub const MAXIMUM_NUMBER_OF_PREFIXES_REACHED: u8 = 1;
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    pub const PEER_DE_CONFIGURED: u8 = 3;
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    pub const CONNECTION_REJECTED: u8 = 5;
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
    pub const OUT_OF_RESOURCES: u8 = 8;
    pub const HARD_RESET: u8 = 9;
    pub const BFD_DOWN: u8 = 10;
}

/// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
pub mod route_refresh_error {
    pub const INVALID_MESSAGE_LENGTH: u8 = 1;
}

/// A NOTIFICATION message. `data` is whatever the error defines (often the offending field).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(code: u8, subcode: u8, data: impl Into<Vec<u8>>) -> Notification {
        Notification {
            code,
            subcode,
            data: data.into(),
        }
    }

    /// Cease with a shutdown communication (RFC 9003): Administrative Shutdown or Reset with a
    /// UTF-8 reason of at most 255 octets (a longer one is cut at a character boundary).
    pub fn with_shutdown_communication(subcode: u8, reason: &str) -> Notification {
        let mut end = reason.len().min(255);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let text = reason.get(..end).unwrap_or_default();
        let mut data = Vec::with_capacity(end + 1);
        data.push(u8::try_from(text.len()).unwrap_or(u8::MAX));
        data.extend_from_slice(text.as_bytes());
        Notification::new(code::CEASE, subcode, data)
    }

    /// The RFC 9003 shutdown communication of a Cease/Administrative Shutdown or Reset, if the data
    /// carries a well-formed one.
    pub fn shutdown_communication(&self) -> Option<&str> {
        if self.code != code::CEASE
            || !matches!(
                self.subcode,
                cease::ADMINISTRATIVE_SHUTDOWN | cease::ADMINISTRATIVE_RESET
            )
        {
            return None;
        }
        let (&len, text) = self.data.split_first()?;
        let text = text.get(..usize::from(len))?;
        std::str::from_utf8(text).ok()
    }

    /// The name of the code and subcode, as RFC 4271 and its updates spell them.
    pub fn describe(&self) -> String {
        let (c, s) = names(self.code, self.subcode);
        match s {
            Some(s) => format!("{c} / {s}"),
            None => format!("{c} / subcode {}", self.subcode),
        }
    }

    pub(crate) fn decode_body(body: &[u8]) -> Result<Notification, DecodeError> {
        match body {
            [code, subcode, data @ ..] => Ok(Notification::new(*code, *subcode, data)),
            _ => Err(DecodeError::header_length(Reason::BadMessageLength {
                length: body.len().saturating_add(crate::message::header::HEADER_LEN),
                message_type: crate::message::header::TYPE_NOTIFICATION,
            })),
        }
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.code);
        out.push(self.subcode);
        out.extend_from_slice(&self.data);
        Ok(())
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())?;
        if let Some(text) = self.shutdown_communication() {
            write!(f, ": {text:?}")
        } else if !self.data.is_empty() {
            write!(f, " (data ")?;
            for b in &self.data {
                write!(f, "{b:02x}")?;
            }
            write!(f, ")")
        } else {
            Ok(())
        }
    }
}

fn names(code: u8, subcode: u8) -> (&'static str, Option<&'static str>) {
    let unspecific = (subcode == UNSPECIFIC).then_some("Unspecific");
    match code {
        code::MESSAGE_HEADER_ERROR => (
            "Message Header Error",
            match subcode {
                header_error::CONNECTION_NOT_SYNCHRONIZED => Some("Connection Not Synchronized"),
                header_error::BAD_MESSAGE_LENGTH => Some("Bad Message Length"),
                header_error::BAD_MESSAGE_TYPE => Some("Bad Message Type"),
                _ => unspecific,
            },
        ),
        code::OPEN_MESSAGE_ERROR => (
            "OPEN Message Error",
            match subcode {
                open_error::UNSUPPORTED_VERSION_NUMBER => Some("Unsupported Version Number"),
                open_error::BAD_PEER_AS => Some("Bad Peer AS"),
                open_error::BAD_BGP_IDENTIFIER => Some("Bad BGP Identifier"),
                open_error::UNSUPPORTED_OPTIONAL_PARAMETER => Some("Unsupported Optional Parameter"),
                open_error::AUTHENTICATION_FAILURE => Some("Authentication Failure (deprecated)"),
                open_error::UNACCEPTABLE_HOLD_TIME => Some("Unacceptable Hold Time"),
                open_error::UNSUPPORTED_CAPABILITY => Some("Unsupported Capability"),
                open_error::ROLE_MISMATCH => Some("Role Mismatch"),
                _ => unspecific,
            },
        ),
        code::UPDATE_MESSAGE_ERROR => (
            "UPDATE Message Error",
            match subcode {
                update_error::MALFORMED_ATTRIBUTE_LIST => Some("Malformed Attribute List"),
                update_error::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE => Some("Unrecognized Well-known Attribute"),
                update_error::MISSING_WELL_KNOWN_ATTRIBUTE => Some("Missing Well-known Attribute"),
                update_error::ATTRIBUTE_FLAGS_ERROR => Some("Attribute Flags Error"),
                update_error::ATTRIBUTE_LENGTH_ERROR => Some("Attribute Length Error"),
                update_error::INVALID_ORIGIN_ATTRIBUTE => Some("Invalid ORIGIN Attribute"),
                update_error::AS_ROUTING_LOOP => Some("AS Routing Loop (deprecated)"),
                update_error::INVALID_NEXT_HOP_ATTRIBUTE => Some("Invalid NEXT_HOP Attribute"),
                update_error::OPTIONAL_ATTRIBUTE_ERROR => Some("Optional Attribute Error"),
                update_error::INVALID_NETWORK_FIELD => Some("Invalid Network Field"),
                update_error::MALFORMED_AS_PATH => Some("Malformed AS_PATH"),
                _ => unspecific,
            },
        ),
        code::HOLD_TIMER_EXPIRED => ("Hold Timer Expired", unspecific),
        code::FSM_ERROR => (
            "Finite State Machine Error",
            match subcode {
                fsm_error::UNEXPECTED_IN_OPENSENT => Some("Receive Unexpected Message in OpenSent State"),
                fsm_error::UNEXPECTED_IN_OPENCONFIRM => Some("Receive Unexpected Message in OpenConfirm State"),
                fsm_error::UNEXPECTED_IN_ESTABLISHED => Some("Receive Unexpected Message in Established State"),
                _ => (subcode == UNSPECIFIC).then_some("Unspecified Error"),
            },
        ),
        code::CEASE => (
            "Cease",
            match subcode {
                cease::MAXIMUM_NUMBER_OF_PREFIXES_REACHED => Some("Maximum Number of Prefixes Reached"),
                cease::ADMINISTRATIVE_SHUTDOWN => Some("Administrative Shutdown"),
                cease::PEER_DE_CONFIGURED => Some("Peer De-configured"),
                cease::ADMINISTRATIVE_RESET => Some("Administrative Reset"),
                cease::CONNECTION_REJECTED => Some("Connection Rejected"),
                cease::OTHER_CONFIGURATION_CHANGE => Some("Other Configuration Change"),
                cease::CONNECTION_COLLISION_RESOLUTION => Some("Connection Collision Resolution"),
                cease::OUT_OF_RESOURCES => Some("Out of Resources"),
                cease::HARD_RESET => Some("Hard Reset"),
                cease::BFD_DOWN => Some("BFD Down"),
                _ => unspecific,
            },
        ),
        code::ROUTE_REFRESH_MESSAGE_ERROR => (
            "ROUTE-REFRESH Message Error",
            match subcode {
                route_refresh_error::INVALID_MESSAGE_LENGTH => Some("Invalid Message Length"),
                _ => unspecific,
            },
        ),
        _ => ("unknown error code", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_layout() {
        let n = Notification::new(
            code::UPDATE_MESSAGE_ERROR,
            update_error::ATTRIBUTE_LENGTH_ERROR,
            [0x40, 1, 2],
        );
        let mut out = Vec::new();
        n.encode_body(&mut out).unwrap();
        assert_eq!(out, [3, 5, 0x40, 1, 2]);
        assert_eq!(Notification::decode_body(&out).unwrap(), n);
        assert!(Notification::decode_body(&[6]).is_err());
    }

    #[test]
    fn shutdown_communication_rfc9003() {
        let n = Notification::with_shutdown_communication(cease::ADMINISTRATIVE_SHUTDOWN, "maintenance");
        assert_eq!(n.data[0], 11);
        assert_eq!(n.shutdown_communication(), Some("maintenance"));
        // A length octet running past the data is not a communication.
        let bad = Notification::new(code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN, [5, b'a']);
        assert_eq!(bad.shutdown_communication(), None);
        // Cut at a character boundary.
        let long = "é".repeat(200);
        let n = Notification::with_shutdown_communication(cease::ADMINISTRATIVE_RESET, &long);
        assert_eq!(n.data[0], 254);
        assert_eq!(n.shutdown_communication().map(str::len), Some(254));
    }

    #[test]
    fn names_follow_the_rfcs() {
        assert_eq!(
            Notification::new(3, 11, []).describe(),
            "UPDATE Message Error / Malformed AS_PATH"
        );
        assert_eq!(
            Notification::new(6, 2, []).describe(),
            "Cease / Administrative Shutdown"
        );
        assert_eq!(
            Notification::new(7, 1, []).describe(),
            "ROUTE-REFRESH Message Error / Invalid Message Length"
        );
        assert_eq!(
            Notification::new(2, 0, []).describe(),
            "OPEN Message Error / Unspecific"
        );
    }
}
