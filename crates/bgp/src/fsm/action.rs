//! What the session asks of the I/O layer and tells the RIB.

use std::fmt;

use crate::family::Family;
use crate::fsm::event::ConnId;
use crate::fsm::negotiate::Negotiation;
use crate::fsm::state::State;
use crate::message::{DecodedUpdate, Notification, Open, RefreshSubtype};

/// One output of [`crate::fsm::Session::handle`], to carry out in order.
///
/// `Established` and `Update` are much larger than the rest; actions are short-lived values moved
/// once to the I/O layer, so they are not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer; report the outcome with `TcpConnected` or `TcpFailed`
    /// for this id. A `Close` for it before then means: abandon the attempt.
    Connect { connection: ConnId },
    /// Write these octets (one whole message) to the connection.
    Send { connection: ConnId, bytes: Vec<u8> },
    /// Write out what was sent, then close the connection (or abandon the attempt). The session
    /// forgets the id.
    Close { connection: ConnId },
    /// The session's state changed (at most once per call: the state before and after it).
    StateChanged { from: State, to: State },
    /// The session is Established: what was negotiated, and the peer's OPEN as it came.
    Established { negotiated: Negotiation, remote: Open },
    /// The Established session went down. Remove every route learnt from the peer, except those
    /// of the families in `retain`, which are kept and marked stale (RFC 4724 §4.2) until a
    /// [`Action::FlushStale`] names them.
    Down { reason: DownReason, retain: Vec<Family> },
    /// An UPDATE from the peer, with the RFC 7606 outcomes of its errors (treat-as-withdraw,
    /// attribute discard, AFI/SAFI disable). Its End-of-RIB (RFC 4724 §2) arrives this way too.
    Update { decoded: DecodedUpdate },
    /// The peer asks for our routes of `family` again (RFC 2918), or marks the beginning or end of
    /// its own refresh (RFC 7313).
    RouteRefresh { family: Family, subtype: RefreshSubtype },
    /// Remove the routes of the peer in these families that are still marked stale.
    FlushStale { families: Vec<Family>, cause: StaleCause },
    /// A message for the operator.
    Log { level: Level, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Why an Established session went down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// [`crate::fsm::Input::Stop`]; we sent this NOTIFICATION.
    Stopped { sent: Notification },
    /// The peer went silent; we sent Hold Timer Expired.
    HoldTimerExpired { hold_time: u16 },
    /// We found an error and sent this NOTIFICATION.
    Error { sent: Notification, detail: String },
    /// The peer sent this NOTIFICATION.
    Notification { received: Notification },
    /// The TCP connection closed or broke without a NOTIFICATION.
    ConnectionLost,
    /// The peer opened a new session while this one still looked Established; it restarted
    /// (RFC 4724 §4.2).
    PeerRestarted,
}

impl DownReason {
    /// The NOTIFICATION that ended the session and whether we sent it.
    pub fn notification(&self) -> Option<(&Notification, bool)> {
        match self {
            DownReason::Stopped { sent } | DownReason::Error { sent, .. } => Some((sent, true)),
            DownReason::Notification { received } => Some((received, false)),
            _ => None,
        }
    }
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownReason::Stopped { sent } => write!(f, "stopped, sent NOTIFICATION {sent}"),
            DownReason::HoldTimerExpired { hold_time } => {
                write!(f, "hold timer expired ({hold_time} s), sent NOTIFICATION 4/0")
            }
            DownReason::Error { sent, detail } => write!(f, "{detail}, sent NOTIFICATION {sent}"),
            DownReason::Notification { received } => write!(f, "peer sent NOTIFICATION {received}"),
            DownReason::ConnectionLost => f.write_str("TCP connection lost"),
            DownReason::PeerRestarted => f.write_str("peer restarted (new OPEN while Established)"),
        }
    }
}

/// Why stale routes go (RFC 4724 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaleCause {
    /// The peer sent its End-of-RIB for the family.
    EndOfRib,
    /// The session did not come back within the peer's Restart Time.
    RestartTimerExpired,
    /// The session came back but End-of-RIB did not arrive within the stale time.
    StaleTimerExpired,
    /// The session came back without forwarding state for the family (F bit clear, family absent,
    /// or no graceful restart capability at all).
    NotPreserved,
    /// The session went down again before the routes were refreshed.
    ConsecutiveRestart,
    /// The session was stopped.
    Stopped,
}
