//! Weft's BGP-4 wire codec and session state machine: Sans-IO, no sockets, no clocks.
//!
//! It turns octets into typed messages and back for the parts of BGP Weft's controllers speak:
//! OPEN with capabilities (RFC 5492, 4760, 2918, 7313, 6793, 4724, 7911, 8654, 9072), UPDATE with
//! the common path attributes, communities (RFC 1997, 4360, 8092), route reflection (RFC 4456)
//! and the NLRI of IPv4/IPv6 unicast, VPNv4/VPNv6 (RFC 4364, 4659), EVPN (RFC 7432, 9136) and
//! route target constraint (RFC 4684), NOTIFICATION, KEEPALIVE and ROUTE-REFRESH.
//!
//! The wire form depends on what the session negotiated, so every entry point takes a
//! [`SessionCaps`] (4-octet AS, extended messages, ADD-PATH per family); build one per direction
//! with [`SessionCaps::negotiate`].
//!
//! - [`frame_length`] finds where a message ends in a byte stream; [`decode_message`] decodes one.
//! - [`Message::encode`] writes one.
//! - [`Update::decode`] decodes an UPDATE body and applies the revised error handling of
//!   RFC 7606: an error the session cannot survive is a [`DecodeError`] carrying the NOTIFICATION
//!   to send; the others come back beside the UPDATE as [`UpdateError`]s with their [`Action`]
//!   (treat-as-withdraw, attribute discard, AFI/SAFI disable).
//!
//! [`fsm`] is the session on top of the codec: the state machine of RFC 4271 §8, connection
//! collisions, timers driven by the time the I/O layer passes in, and graceful restart (RFC 4724).
//!
//! Decoding never panics on any input, and every value that decodes re-encodes to the same
//! octets unless noted (attribute order, extended-length flags of known attributes, optional
//! parameter grouping in OPEN, trailing prefix bits; see the golden tests).

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

pub mod attribute;
pub mod capability;
pub mod codec;
pub mod error;
pub mod family;
pub mod fsm;
pub mod message;
pub mod nlri;
pub mod rib;
mod wire;

pub use attribute::{
    Aggregator, AsPath, AsSegment, Community, ExtendedCommunity, LargeCommunity, MpReach, MpUnreach, NextHop, Origin,
    PathAttributes, SegmentType, UnknownAttribute,
};
pub use capability::{AddPathFamily, Capability, GracefulRestart, GracefulRestartFamily};
pub use codec::{MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, Negotiated, SessionCaps};
pub use error::{Action, DecodeError, EncodeError, Reason, UpdateError};
pub use family::{Afi, Family, Safi};
pub use fsm::{PeerConfig, Session};
pub use message::{
    Decoded, DecodedUpdate, Message, Notification, Open, RefreshSubtype, RouteRefresh, Update, decode_message,
    frame_length,
};
pub use nlri::{Esi, Evpn, EvpnRoute, IpPrefixRoute, Label, Nlri, Prefix, RtMembership, Rtc, VpnPrefix};

/// The 2-octet stand-in for a 4-octet AS number (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;
