//! What an operator sees of a session.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::family::Family;
use crate::fsm::event::ConnId;
use crate::fsm::state::State;
use crate::fsm::time::Time;
use crate::message::Notification;
use crate::message::header::{TYPE_KEEPALIVE, TYPE_NOTIFICATION, TYPE_OPEN, TYPE_ROUTE_REFRESH, TYPE_UPDATE};

/// Messages per type, in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounters {
    pub open: u64,
    pub update: u64,
    pub notification: u64,
    pub keepalive: u64,
    pub route_refresh: u64,
}

impl MessageCounters {
    pub fn total(&self) -> u64 {
        self.open
            .saturating_add(self.update)
            .saturating_add(self.notification)
            .saturating_add(self.keepalive)
            .saturating_add(self.route_refresh)
    }

    pub(crate) fn count(&mut self, message_type: u8) {
        let slot = match message_type {
            TYPE_OPEN => &mut self.open,
            TYPE_UPDATE => &mut self.update,
            TYPE_NOTIFICATION => &mut self.notification,
            TYPE_KEEPALIVE => &mut self.keepalive,
            TYPE_ROUTE_REFRESH => &mut self.route_refresh,
            _ => return,
        };
        *slot = slot.saturating_add(1);
    }
}

/// A snapshot of a session for `show bgp neighbor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStatus {
    pub state: State,
    /// When the session reached Established (uptime = now - this).
    pub established_since: Option<Time>,
    /// How many times it reached Established.
    pub established_transitions: u64,
    /// The last thing that went wrong, in words.
    pub last_error: Option<String>,
    pub last_notification_sent: Option<Notification>,
    pub last_notification_received: Option<Notification>,
    pub messages_in: MessageCounters,
    pub messages_out: MessageCounters,
    /// Negotiated families, minus those disabled by RFC 7606 AFI/SAFI disable.
    pub families: Vec<Family>,
    pub disabled_families: Vec<Family>,
    pub peer_router_id: Option<Ipv4Addr>,
    pub peer_as: Option<u32>,
    pub peer_hold_time: Option<u16>,
    /// Negotiated hold time.
    pub hold_time: Option<u16>,
    /// Failures since the last manual start (RFC 4271 ConnectRetryCounter).
    pub connect_retry_counter: u64,
    /// The Idle delay the next failure will get.
    pub next_idle_hold: Duration,
    /// Families whose routes are stale after a graceful restart of the peer.
    pub stale_families: Vec<Family>,
    pub timers: Timers,
}

/// Every running timer, as the time it fires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timers {
    pub connect_retry: Option<Time>,
    pub idle_hold: Option<Time>,
    /// The peer's Restart Time is running (RFC 4724).
    pub graceful_restart: Option<Time>,
    /// Waiting for End-of-RIB of stale families.
    pub stale: Option<Time>,
    pub connections: Vec<ConnectionTimers>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTimers {
    pub connection: ConnId,
    pub state: State,
    pub hold: Option<Time>,
    pub keepalive: Option<Time>,
}

impl Timers {
    /// The earliest.
    pub fn next(&self) -> Option<Time> {
        [self.connect_retry, self.idle_hold, self.graceful_restart, self.stale]
            .into_iter()
            .chain(self.connections.iter().flat_map(|c| [c.hold, c.keepalive]))
            .flatten()
            .min()
    }
}
