//! The BGP session: the finite state machine of RFC 4271 §8, Sans-IO and deterministic.
//!
//! A [`Session`] owns no socket and reads no clock. The I/O layer drives it:
//!
//! 1. `Session::new(PeerConfig)`, then `handle(now, Input::Start { passive: false })`.
//! 2. Carry out the returned [`Action`]s in order:
//!    - [`Action::Connect`]: open a TCP connection to the peer (port 179) tagged with the given
//!      [`ConnId`]; report `Input::TcpConnected` or `Input::TcpFailed` for that id later.
//!    - [`Action::Send`]: write the octets to that connection (one whole message each).
//!    - [`Action::Close`]: flush what was sent, then close it (or abandon the attempt).
//!    - [`Action::Established`], [`Action::Update`], [`Action::RouteRefresh`], [`Action::Down`],
//!      [`Action::FlushStale`]: for the RIB. [`Action::Log`], [`Action::StateChanged`]: for the
//!      operator.
//! 3. Feed everything that happens back with the time it happened:
//!    - a connection accepted from the peer's address: `Input::TcpConnected` with a fresh
//!      [`ConnId::Incoming`] (the session closes it when it does not want it);
//!    - octets read: `Input::Bytes` (any split; the session frames and decodes);
//!    - EOF or a socket error: `Input::TcpClosed` / `Input::TcpFailed`;
//!    - routes to advertise: `Input::SendUpdate` (encoded with the negotiated capabilities);
//!    - operator commands: `Input::Start`, `Input::Stop` (optionally with an RFC 9003 shutdown
//!      communication, [`Input::shutdown`]);
//!    - closing on the I/O layer's own initiative (e.g. a maximum-prefix limit):
//!      `Input::AutomaticStop`, which restarts after the IdleHoldTimer.
//! 4. Sleep until [`Session::next_deadline`] (or the next socket event) and then call
//!    `handle(now, Input::Tick)`. Timers that are due fire at the start of every `handle`, so a
//!    late tick changes nothing but timing.
//!
//! [`Time`] is a millisecond count on the I/O layer's monotonic clock (`Time::since(start, now)`
//! for `std::time::Instant`s). The same inputs at the same times always give the same actions.

pub mod action;
mod backoff;
pub mod collision;
pub mod config;
mod connection;
pub mod event;
mod graceful;
pub mod negotiate;
pub mod session;
pub mod state;
pub mod status;
pub mod time;

pub use action::{Action, DownReason, Level, StaleCause};
pub use config::{ConfigError, GrFamily, GracefulRestartConfig, IdleHoldConfig, PeerConfig};
pub use event::{ConnId, Input};
pub use negotiate::{Negotiation, PeerGracefulRestart};
pub use session::Session;
pub use state::State;
pub use status::{ConnectionTimers, MessageCounters, SessionStatus, Timers};
pub use time::Time;
