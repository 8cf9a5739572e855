//! What goes wrong while decoding, and what the session must do about it.
//!
//! A [`DecodeError`] is fatal: the session sends its NOTIFICATION and closes (RFC 4271 §6,
//! "session reset" in RFC 7606). Errors RFC 7606 lets the session survive are not errors of the
//! decode: [`crate::Update::decode`] returns the UPDATE together with a list of [`UpdateError`]s,
//! each with the [`Action`] the RFC prescribes.

use crate::family::{Afi, Family, Safi};

use crate::message::notification::{Notification, code, header_error, open_error, route_refresh_error, update_error};
use crate::nlri::Nlri;

/// What the session must do about a malformed message (RFC 7606 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send the NOTIFICATION and close the session.
    SessionReset(Notification),
    /// RFC 4760 §7 / RFC 7606 §2 "AFI/SAFI disable": forget every route of this AFI/SAFI learnt on the
    /// session and ignore it from now on; a session that cannot do that resets with `notification`.
    AfiSafiDisable {
        afi: Afi,
        safi: Safi,
        notification: Notification,
    },
    /// Withdraw these routes (every route the UPDATE announced) as if the UPDATE said so.
    TreatAsWithdraw { nlri: Vec<Nlri> },
    /// Ignore the attribute with this type code and use the rest of the UPDATE.
    AttributeDiscard { type_code: u8 },
}

impl Action {
    /// Higher is stronger; RFC 7606 §3 (i): with several errors the strongest action wins.
    pub fn severity(&self) -> u8 {
        match self {
            Action::AttributeDiscard { .. } => 1,
            Action::TreatAsWithdraw { .. } => 2,
            Action::AfiSafiDisable { .. } => 3,
            Action::SessionReset(_) => 4,
        }
    }
}

/// Why a message or part of one is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    #[error("the header marker is not all ones")]
    NotSynchronized,
    #[error("message type {message_type} cannot be {length} octets long")]
    BadMessageLength { length: usize, message_type: u8 },
    #[error("unknown message type {0}")]
    BadMessageType(u8),
    #[error("the message is {got} octets but its header says {declared}")]
    FrameLength { declared: usize, got: usize },

    #[error("BGP version {0} is not supported (only 4)")]
    UnsupportedVersion(u8),
    #[error("AS 0 is not a valid peer AS (RFC 7607)")]
    BadPeerAs,
    #[error("BGP identifier 0.0.0.0 is not valid (RFC 6286)")]
    BadBgpIdentifier,
    #[error("hold time {0} is neither 0 nor at least 3 seconds")]
    UnacceptableHoldTime(u16),
    #[error("optional parameter type {0} is not supported")]
    UnsupportedOptionalParameter(u8),
    #[error("the optional parameters are malformed: {0}")]
    MalformedOptionalParameters(&'static str),
    #[error("capability {code} is malformed: {detail}")]
    MalformedCapability { code: u8, detail: &'static str },

    #[error("ROUTE-REFRESH must be 23 octets, not {0}")]
    RouteRefreshLength(usize),

    #[error("the attribute list is malformed: {0}")]
    MalformedAttributeList(&'static str),
    #[error("the {field} field is malformed: {detail}")]
    MalformedNlriField { field: &'static str, detail: &'static str },
    #[error("the NLRI of {family} is malformed: {detail}")]
    MalformedNlri { family: Family, detail: &'static str },
    #[error("path attribute {0} appears twice")]
    DuplicateAttribute(u8),
    #[error("well-known path attribute {0} is not recognized")]
    UnrecognizedWellKnown(u8),
    #[error("well-known path attribute {0} is missing")]
    MissingWellKnown(u8),
    #[error("path attribute {type_code} has flags {flags:#04x}, in conflict with its definition")]
    AttributeFlags { type_code: u8, flags: u8 },
    #[error("path attribute {type_code} cannot be {length} octets long")]
    AttributeLength { type_code: u8, length: usize },
    #[error("ORIGIN {0} is undefined")]
    InvalidOrigin(u8),
    #[error("AS_PATH is malformed: {0}")]
    MalformedAsPath(&'static str),
    #[error("path attribute {0} carries AS 0 (RFC 7607)")]
    ZeroAs(u8),
    #[error("path attribute {0} (AS4_PATH/AS4_AGGREGATOR) came from a 4-octet AS speaker (RFC 6793 §3)")]
    As4FromNewSpeaker(u8),
    #[error("AFI {afi} SAFI {safi} is not supported")]
    UnsupportedFamily { afi: Afi, safi: Safi },
    #[error("a next hop of {length} octets does not fit {family}")]
    MpNextHopLength { family: Family, length: usize },
}

/// A fatal decode error: send [`DecodeError::notification`] and close the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} ({})", notification.describe())]
pub struct DecodeError {
    pub reason: Reason,
    pub notification: Notification,
}

impl DecodeError {
    pub fn action(&self) -> Action {
        Action::SessionReset(self.notification.clone())
    }

    pub(crate) fn new(reason: Reason, code: u8, subcode: u8, data: impl Into<Vec<u8>>) -> DecodeError {
        DecodeError {
            reason,
            notification: Notification::new(code, subcode, data),
        }
    }

    /// Message Header Error / Bad Message Length, the data being the length field (RFC 4271 §6.1).
    pub(crate) fn header_length(reason: Reason) -> DecodeError {
        let length = match reason {
            Reason::BadMessageLength { length, .. } => length,
            Reason::FrameLength { declared, .. } => declared,
            _ => 0,
        };
        let field = u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes();
        DecodeError::new(
            reason,
            code::MESSAGE_HEADER_ERROR,
            header_error::BAD_MESSAGE_LENGTH,
            field,
        )
    }

    pub(crate) fn open(reason: Reason) -> DecodeError {
        let (subcode, data) = match &reason {
            Reason::UnsupportedVersion(_) => (open_error::UNSUPPORTED_VERSION_NUMBER, 4u16.to_be_bytes().to_vec()),
            Reason::BadPeerAs => (open_error::BAD_PEER_AS, Vec::new()),
            Reason::BadBgpIdentifier => (open_error::BAD_BGP_IDENTIFIER, Vec::new()),
            Reason::UnacceptableHoldTime(_) => (open_error::UNACCEPTABLE_HOLD_TIME, Vec::new()),
            Reason::UnsupportedOptionalParameter(_) => (open_error::UNSUPPORTED_OPTIONAL_PARAMETER, Vec::new()),
            _ => (crate::message::notification::UNSPECIFIC, Vec::new()),
        };
        DecodeError::new(reason, code::OPEN_MESSAGE_ERROR, subcode, data)
    }

    pub(crate) fn update(reason: Reason, subcode: u8, data: &[u8]) -> DecodeError {
        DecodeError::new(reason, code::UPDATE_MESSAGE_ERROR, subcode, data)
    }

    pub(crate) fn malformed_attribute_list(detail: &'static str) -> DecodeError {
        DecodeError::update(
            Reason::MalformedAttributeList(detail),
            update_error::MALFORMED_ATTRIBUTE_LIST,
            &[],
        )
    }

    pub(crate) fn route_refresh(length: usize, message: &[u8]) -> DecodeError {
        DecodeError::new(
            Reason::RouteRefreshLength(length),
            code::ROUTE_REFRESH_MESSAGE_ERROR,
            route_refresh_error::INVALID_MESSAGE_LENGTH,
            message,
        )
    }

    /// Whether the NOTIFICATION is one RFC 4271/7313 defines for a decode error of this kind of
    /// message (used by the robustness tests).
    pub fn is_rfc_notification(&self) -> bool {
        let n = &self.notification;
        match n.code {
            code::MESSAGE_HEADER_ERROR => (1..=3).contains(&n.subcode),
            code::OPEN_MESSAGE_ERROR => matches!(n.subcode, 0..=4 | 6 | 7),
            code::UPDATE_MESSAGE_ERROR => matches!(n.subcode, 1..=6 | 8..=11),
            code::ROUTE_REFRESH_MESSAGE_ERROR => n.subcode == route_refresh_error::INVALID_MESSAGE_LENGTH,
            _ => false,
        }
    }
}

/// One RFC 7606 outcome of decoding an UPDATE that the session survives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateError {
    pub action: Action,
    pub reason: Reason,
}

/// Why a value cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("{what} would be {len} octets, more than {max}")]
    TooLong { what: &'static str, len: usize, max: usize },
    #[error("{0} cannot be encoded: {1}")]
    Invalid(&'static str, &'static str),
    #[error("an NLRI of {nlri} cannot go in an attribute of {family}")]
    FamilyMismatch { family: Family, nlri: Family },
    #[error("{family} sends path identifiers (RFC 7911) but an NLRI has none")]
    MissingPathId { family: Family },
    #[error("{family} does not send path identifiers but an NLRI has one")]
    UnexpectedPathId { family: Family },
}
