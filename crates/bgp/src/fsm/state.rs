//! The six states of RFC 4271 §8.2.2.

use std::fmt;

/// Ordered by progress: a session with several connections is in the state of the most advanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Not started, stopped, or waiting (IdleHoldTimer) before an automatic restart; refuses
    /// connections.
    Idle,
    /// Waiting for the outgoing TCP connection; accepts incoming ones.
    Connect,
    /// Waiting for the peer to connect (and for ConnectRetryTimer, unless passive).
    Active,
    /// OPEN sent, waiting for the peer's.
    OpenSent,
    /// OPENs exchanged, KEEPALIVE sent, waiting for the peer's.
    OpenConfirm,
    Established,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        })
    }
}
