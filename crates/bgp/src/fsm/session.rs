//! The session of one peer: the state machine of RFC 4271 §8 over at most two TCP connections
//! (collisions, §6.8), its timers, the OPEN exchange, and the receiving side of graceful restart
//! (RFC 4724).
//!
//! Each connection runs the OpenSent → OpenConfirm → Established part of the machine on its own;
//! the session is in the state of its most advanced connection, or, with none, in Idle, Connect
//! or Active. The session fails (and, when started, comes back after the IdleHoldTimer) when its
//! last connection fails; a failing connection while another carries on only closes that one.

use std::time::Duration;

// The rest of `impl Session` is in the child modules below, which share these imports.
use crate::error::Action as UpdateAction;
use crate::family::Family;
use crate::fsm::action::{Action, DownReason, Level, StaleCause};
use crate::fsm::backoff::Backoff;
use crate::fsm::collision::keep_outgoing;
use crate::fsm::config::{ConfigError, PeerConfig};
use crate::fsm::connection::Connection;
use crate::fsm::event::{ConnId, Input};
use crate::fsm::graceful::{self, Graceful};
use crate::fsm::negotiate::{Negotiation, check_open, negotiate};
use crate::fsm::state::State;
use crate::fsm::status::{ConnectionTimers, MessageCounters, SessionStatus, Timers};
use crate::fsm::time::Time;
use crate::message::header::{
    HEADER_LEN, TYPE_KEEPALIVE, TYPE_NOTIFICATION, TYPE_OPEN, TYPE_ROUTE_REFRESH, TYPE_UPDATE,
};
use crate::message::notification::{cease, code, fsm_error};
use crate::message::{
    DecodedUpdate, Message, Notification, Open, RefreshSubtype, RouteRefresh, Update, decode_message,
};

mod lifecycle;
mod receive;
mod timers;
mod transmit;

/// How a connection ended.
enum End {
    /// TCP closed or failed under us.
    Transport,
    /// We found an error and sent this NOTIFICATION.
    Sent { notification: Notification, detail: String },
    /// The peer sent a NOTIFICATION.
    Received(Notification),
    /// The hold timer expired (hold time in seconds); we sent 4/0.
    HoldExpired(u16),
}

impl End {
    fn into_down_reason(self) -> DownReason {
        match self {
            End::Transport => DownReason::ConnectionLost,
            End::Sent { notification, detail } => DownReason::Error {
                sent: notification,
                detail,
            },
            End::Received(received) => DownReason::Notification { received },
            End::HoldExpired(hold_time) => DownReason::HoldTimerExpired { hold_time },
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Stats {
    messages_in: MessageCounters,
    messages_out: MessageCounters,
    established_transitions: u64,
    connect_retry_counter: u64,
    last_error: Option<String>,
    last_sent: Option<Notification>,
    last_received: Option<Notification>,
    disabled_families: Vec<Family>,
}

/// The BGP session with one peer. Sans-IO: feed it [`Input`]s with the current time, carry out the
/// [`Action`]s it returns, and call it again by [`Session::next_deadline`].
#[derive(Debug, Clone)]
pub struct Session {
    config: PeerConfig,
    /// Started and not stopped: failures are followed by an automatic restart.
    enabled: bool,
    passive: bool,
    /// The graceful restart R bit still goes in our OPENs.
    restarting: bool,
    /// Our outgoing connection attempt, not connected yet.
    pending: Option<ConnId>,
    /// Connected, in OpenSent, OpenConfirm or Established; at most two.
    conns: Vec<Connection>,
    connect_retry: Option<Time>,
    idle_hold: Option<Time>,
    backoff: Backoff,
    graceful: Graceful,
    next_outgoing: u64,
    now: Time,
    established_since: Option<Time>,
    stats: Stats,
    out: Vec<Action>,
}

fn type_name(message_type: u8) -> &'static str {
    match message_type {
        TYPE_OPEN => "OPEN",
        TYPE_UPDATE => "UPDATE",
        TYPE_NOTIFICATION => "NOTIFICATION",
        TYPE_KEEPALIVE => "KEEPALIVE",
        TYPE_ROUTE_REFRESH => "ROUTE-REFRESH",
        _ => "message",
    }
}

fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

fn family_list(families: &[Family]) -> String {
    let names: Vec<String> = families.iter().map(Family::to_string).collect();
    names.join(", ")
}

/// "4/0", "6/2 …": code/subcode and what it means.
fn short(n: &Notification) -> String {
    format!("{}/{} ({n})", n.code, n.subcode)
}

impl Session {
    pub fn new(config: PeerConfig) -> Result<Session, ConfigError> {
        config.validate()?;
        Ok(Session {
            restarting: config.graceful_restart.as_ref().is_some_and(|g| g.restarting),
            passive: config.passive,
            backoff: Backoff::new(config.idle_hold.clone()),
            config,
            enabled: false,
            pending: None,
            conns: Vec::new(),
            connect_retry: None,
            idle_hold: None,
            graceful: Graceful::default(),
            next_outgoing: 0,
            now: Time::ZERO,
            established_since: None,
            stats: Stats::default(),
            out: Vec::new(),
        })
    }

    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    /// RFC 4271 §8.2.2 state: that of the most advanced connection, else Idle (not started, or
    /// waiting out the IdleHoldTimer), Connect (our connection attempt is under way) or Active.
    pub fn state(&self) -> State {
        if let Some(best) = self.conns.iter().map(|c| c.state).max() {
            best
        } else if !self.enabled || self.idle_hold.is_some() {
            State::Idle
        } else if self.pending.is_some() {
            State::Connect
        } else {
            State::Active
        }
    }

    /// The Established connection.
    pub fn established_connection(&self) -> Option<ConnId> {
        self.conns.iter().find(|c| c.state == State::Established).map(|c| c.id)
    }

    /// What the Established connection negotiated (the RIB encodes its UPDATEs with
    /// `codec.send`).
    pub fn negotiation(&self) -> Option<&Negotiation> {
        self.conns
            .iter()
            .find(|c| c.state == State::Established)
            .and_then(Connection::negotiation)
    }

    /// The connected connections and their states.
    pub fn connections(&self) -> Vec<(ConnId, State)> {
        self.conns.iter().map(|c| (c.id, c.state)).collect()
    }

    /// Our connection attempt in progress.
    pub fn pending_connection(&self) -> Option<ConnId> {
        self.pending
    }

    pub fn timers(&self) -> Timers {
        Timers {
            connect_retry: self.connect_retry,
            idle_hold: self.idle_hold,
            graceful_restart: self.graceful.restart_deadline(),
            stale: self.graceful.stale_deadline(),
            connections: self
                .conns
                .iter()
                .map(|c| ConnectionTimers {
                    connection: c.id,
                    state: c.state,
                    hold: c.hold,
                    keepalive: c.keepalive,
                })
                .collect(),
        }
    }

    /// When to call [`Session::handle`] with [`Input::Tick`] at the latest, if any timer runs.
    pub fn next_deadline(&self) -> Option<Time> {
        [
            self.connect_retry,
            self.idle_hold,
            self.graceful.restart_deadline(),
            self.graceful.stale_deadline(),
        ]
        .into_iter()
        .chain(self.conns.iter().flat_map(|c| [c.hold, c.keepalive]))
        .flatten()
        .min()
    }

    pub fn status(&self) -> SessionStatus {
        let best = self
            .conns
            .iter()
            .filter(|c| c.peer.is_some())
            .max_by_key(|c| c.state)
            .and_then(Connection::negotiation);
        let families = best
            .map(|n| {
                n.families
                    .iter()
                    .copied()
                    .filter(|f| !self.stats.disabled_families.contains(f))
                    .collect()
            })
            .unwrap_or_default();
        SessionStatus {
            state: self.state(),
            established_since: self.established_since,
            established_transitions: self.stats.established_transitions,
            last_error: self.stats.last_error.clone(),
            last_notification_sent: self.stats.last_sent.clone(),
            last_notification_received: self.stats.last_received.clone(),
            messages_in: self.stats.messages_in,
            messages_out: self.stats.messages_out,
            families,
            disabled_families: self.stats.disabled_families.clone(),
            peer_router_id: best.map(|n| n.peer_id),
            peer_as: best.map(|n| n.peer_as),
            peer_hold_time: best.map(|n| n.peer_hold_time),
            hold_time: best.map(|n| n.hold_time),
            connect_retry_counter: self.stats.connect_retry_counter,
            next_idle_hold: self.backoff.peek(),
            stale_families: self.graceful.stale(),
            timers: self.timers(),
        }
    }

    /// Processes one input at time `now` (earlier than a previous `now` counts as that one):
    /// first the timers that are due, then the input. Returns what to do, in order.
    pub fn handle(&mut self, now: Time, input: Input) -> Vec<Action> {
        self.now = self.now.max(now);
        let before = self.state();
        self.fire_timers();
        match input {
            Input::Start { passive } => self.start(passive),
            Input::Stop { notification } => self.stop(notification),
            Input::AutomaticStop { notification, detail } => self.automatic_stop(notification, detail),
            Input::TcpConnected { connection } => self.tcp_connected(connection),
            Input::TcpFailed { connection } | Input::TcpClosed { connection } => self.tcp_lost(connection),
            Input::Bytes { connection, data } => self.bytes(connection, &data),
            Input::Tick => {}
            Input::SendUpdate(update) => self.send_update(*update),
            Input::SendRouteRefresh(rr) => self.send_route_refresh(rr),
        }
        let after = self.state();
        if before != after {
            self.log(Level::Info, format!("{before} -> {after}"));
            self.out.push(Action::StateChanged {
                from: before,
                to: after,
            });
        }
        std::mem::take(&mut self.out)
    }

    // ----- plumbing -----

    pub(super) fn log(&mut self, level: Level, message: impl AsRef<str>) {
        self.out.push(Action::Log {
            level,
            message: format!("peer {}: {}", self.config.remote_addr, message.as_ref()),
        });
    }

    pub(super) fn conn(&self, id: ConnId) -> Option<&Connection> {
        self.conns.iter().find(|c| c.id == id)
    }

    pub(super) fn conn_mut(&mut self, id: ConnId) -> Option<&mut Connection> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    /// Encodes and sends a message on a connection of the session.
    pub(super) fn send(&mut self, id: ConnId, message: &Message) -> bool {
        let Some(caps) = self.conn(id).map(Connection::send_caps) else {
            return false;
        };
        let encoded = message.encode(&caps).or_else(|e| match message {
            // A NOTIFICATION whose data is too long goes out with the data cut to fit.
            Message::Notification(n) => {
                let mut n = n.clone();
                n.data.truncate(caps.max_message_len().saturating_sub(HEADER_LEN + 2));
                Message::Notification(n).encode(&caps)
            }
            _ => Err(e),
        });
        match encoded {
            Ok(bytes) => {
                self.stats.messages_out.count(message.message_type());
                if let Message::Notification(n) = message {
                    self.stats.last_sent = Some(n.clone());
                }
                self.out.push(Action::Send { connection: id, bytes });
                true
            }
            Err(e) => {
                self.log(
                    Level::Error,
                    format!("cannot encode {}: {e}", type_name(message.message_type())),
                );
                false
            }
        }
    }

    /// Closes a connection of the session and forgets it.
    pub(super) fn close(&mut self, id: ConnId) -> Option<Connection> {
        let idx = self.conns.iter().position(|c| c.id == id)?;
        self.out.push(Action::Close { connection: id });
        Some(self.conns.remove(idx))
    }

    /// Sends the NOTIFICATION, closes the connection and handles its end.
    pub(super) fn fail(&mut self, id: ConnId, notification: Notification, detail: String) {
        self.log(
            Level::Warn,
            format!("{detail}, sending NOTIFICATION {}", short(&notification)),
        );
        self.send(id, &Message::Notification(notification.clone()));
        if let Some(conn) = self.close(id) {
            self.connection_ended(conn, End::Sent { notification, detail });
        }
    }
}
