//! What the I/O layer tells the session: the events of RFC 4271 §8.1, as they look from a
//! program that owns the sockets and the clock.
//!
//! | RFC 4271 §8.1 event | input |
//! | --- | --- |
//! | 1 ManualStart, 4 ManualStart_with_PassiveTcpEstablishment | [`Input::Start`] |
//! | 2 ManualStop | [`Input::Stop`] |
//! | 8 AutomaticStop | [`Input::AutomaticStop`] |
//! | 3, 5, 6, 7 AutomaticStart (with damping) | the session's own IdleHoldTimer |
//! | 9-13 timer expiries | [`Input::Tick`] (and any input: due timers fire first) |
//! | 16 Tcp_CR_Acked, 17 TcpConnectionConfirmed | [`Input::TcpConnected`] |
//! | 14/15 TcpConnection_Valid / Tcp_CR_Invalid | the I/O layer's business (it hands over only connections from this peer) |
//! | 18 TcpConnectionFails | [`Input::TcpFailed`], [`Input::TcpClosed`] |
//! | 19-28 messages | [`Input::Bytes`], framed and decoded by the session |

use std::fmt;

use crate::message::{Notification, RouteRefresh, Update};

/// A TCP connection of the session.
///
/// Outgoing connections are numbered by the session ([`crate::fsm::Action::Connect`]); incoming
/// ones by the I/O layer, which must not reuse a number for the same session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnId {
    /// We initiated it.
    Outgoing(u64),
    /// The peer initiated it.
    Incoming(u64),
}

impl ConnId {
    pub fn is_outgoing(self) -> bool {
        matches!(self, ConnId::Outgoing(_))
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnId::Outgoing(n) => write!(f, "outgoing connection #{n}"),
            ConnId::Incoming(n) => write!(f, "incoming connection #{n}"),
        }
    }
}

/// One input to [`crate::fsm::Session::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start the session (ManualStart). `passive`: wait for the peer to connect, as
    /// [`crate::fsm::PeerConfig::passive`] does. Ignored unless the session is Idle.
    Start { passive: bool },
    /// Stop the session (ManualStop), sending this NOTIFICATION on every open connection; `None`
    /// sends Cease / Administrative Shutdown without a message. Build one with a shutdown
    /// communication with [`Notification::with_shutdown_communication`] (RFC 9003).
    Stop { notification: Option<Notification> },
    /// Close the session on our own initiative (AutomaticStop, RFC 4271 §8.1.2 event 8; e.g. a
    /// maximum-prefix limit, RFC 4486): send this NOTIFICATION on every open connection, take
    /// the session down and, unlike [`Input::Stop`], start again after the IdleHoldTimer (with
    /// the usual backoff). `detail` says why, for the logs and the last error.
    AutomaticStop { notification: Notification, detail: String },
    /// A TCP connection is up: the one the session asked for with `Connect`, or one the peer
    /// opened ([`ConnId::Incoming`]).
    TcpConnected { connection: ConnId },
    /// A connection attempt failed, or an open connection broke.
    TcpFailed { connection: ConnId },
    /// The peer closed the connection (or it broke). After this and `TcpFailed` the session
    /// never mentions the connection again.
    TcpClosed { connection: ConnId },
    /// Octets read from a connection, in order; any split is fine.
    Bytes { connection: ConnId, data: Vec<u8> },
    /// Time passed; fire the timers that are due.
    Tick,
    /// Send an UPDATE on the Established connection (the RIB's output). Dropped, with a log
    /// message, when the session is not Established or the UPDATE cannot be encoded.
    SendUpdate(Box<Update>),
    /// Send a ROUTE-REFRESH (RFC 2918; BoRR/EoRR of RFC 7313) on the Established connection, if
    /// the peer negotiated it for that family.
    SendRouteRefresh(RouteRefresh),
}

impl Input {
    /// Stop with Cease / Administrative Shutdown and this shutdown communication (RFC 9003).
    pub fn shutdown(reason: &str) -> Input {
        Input::Stop {
            notification: Some(Notification::with_shutdown_communication(
                crate::message::notification::cease::ADMINISTRATIVE_SHUTDOWN,
                reason,
            )),
        }
    }
}
