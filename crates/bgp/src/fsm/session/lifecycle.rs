//! Starting, stopping, TCP connections coming and going (RFC 4271 §8.1.2 and §8.1.4), and what
//! follows when a connection or the session ends.

use super::*;

impl Session {
    pub(super) fn start(&mut self, passive: bool) {
        if self.enabled && self.idle_hold.is_none() {
            self.log(Level::Debug, "already started");
            return;
        }
        self.enabled = true;
        self.passive = self.config.passive || passive;
        self.stats.connect_retry_counter = 0;
        self.backoff.reset();
        self.log(
            Level::Info,
            if self.passive {
                "started, waiting for the peer to connect"
            } else {
                "started"
            },
        );
        self.begin();
    }

    /// Idle → Connect (or Active when passive): ManualStart, or AutomaticStart after the
    /// IdleHoldTimer.
    pub(super) fn begin(&mut self) {
        self.idle_hold = None;
        if self.passive {
            return;
        }
        self.connect_retry = Some(self.now + self.config.connect_retry);
        self.initiate();
    }

    pub(super) fn initiate(&mut self) {
        if let Some(old) = self.pending.take() {
            self.out.push(Action::Close { connection: old });
        }
        self.next_outgoing = self.next_outgoing.saturating_add(1);
        let id = ConnId::Outgoing(self.next_outgoing);
        self.pending = Some(id);
        self.log(Level::Debug, format!("connecting ({id})"));
        self.out.push(Action::Connect { connection: id });
    }

    pub(super) fn stop(&mut self, notification: Option<Notification>) {
        let notification =
            notification.unwrap_or_else(|| Notification::new(code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN, []));
        let running = self.enabled || !self.conns.is_empty() || self.pending.is_some();
        self.enabled = false;
        self.idle_hold = None;
        self.connect_retry = None;
        self.backoff.reset();
        if running {
            self.log(
                Level::Info,
                format!("stopping with NOTIFICATION {}", short(&notification)),
            );
        }
        for (conn, sent) in self.notify_and_close_all(&notification) {
            if conn.state == State::Established {
                self.session_down(&conn, DownReason::Stopped { sent });
            }
        }
        if let Some(p) = self.pending.take() {
            self.out.push(Action::Close { connection: p });
        }
        let stale = self.graceful.flush_all();
        if !stale.is_empty() {
            self.out.push(Action::FlushStale {
                families: stale,
                cause: StaleCause::Stopped,
            });
        }
    }

    /// Sends `notification` on every connection (as a Hard Reset where the peer negotiated the
    /// N bit, RFC 8538) and closes them; returns each closed connection with what it was sent.
    fn notify_and_close_all(&mut self, notification: &Notification) -> Vec<(Connection, Notification)> {
        let ids: Vec<ConnId> = self.conns.iter().map(|c| c.id).collect();
        let mut closed = Vec::new();
        for id in ids {
            let sent = match self.conn(id).and_then(Connection::negotiation) {
                Some(n) => graceful::hard_reset_if_needed(n, notification.clone()),
                None => notification.clone(),
            };
            self.send(id, &Message::Notification(sent.clone()));
            if let Some(conn) = self.close(id) {
                closed.push((conn, sent));
            }
        }
        closed
    }

    /// AutomaticStop (event 8): the NOTIFICATION on every connection, the session down, and,
    /// when started, a restart after the IdleHoldTimer (the backoff is not reset).
    pub(super) fn automatic_stop(&mut self, notification: Notification, detail: String) {
        if self.conns.is_empty() {
            self.log(Level::Debug, format!("{detail}: no connection to close"));
            return;
        }
        self.log(
            Level::Warn,
            format!("{detail}, sending NOTIFICATION {}", short(&notification)),
        );
        for (conn, sent) in self.notify_and_close_all(&notification) {
            if conn.state == State::Established {
                let detail = detail.clone();
                self.session_down(&conn, DownReason::Error { sent, detail });
            } else {
                self.stats.last_error = Some(format!("{detail} in {}", conn.state));
            }
        }
        self.go_idle();
    }

    // ----- TCP (RFC 4271 §8.1.4 events 16-18) -----

    pub(super) fn tcp_connected(&mut self, id: ConnId) {
        if self.conn(id).is_some() {
            self.log(Level::Warn, format!("{id} reported connected twice; ignored"));
            return;
        }
        if id.is_outgoing() {
            if self.pending != Some(id) {
                self.log(Level::Debug, format!("{id} is no longer wanted, closing it"));
                self.out.push(Action::Close { connection: id });
                return;
            }
            self.pending = None;
        }
        if !self.enabled || self.idle_hold.is_some() {
            self.log(Level::Info, format!("refusing {id} while Idle"));
            self.out.push(Action::Close { connection: id });
            return;
        }
        if self.conns.len() >= 2 {
            self.log(Level::Info, format!("refusing {id}: already two connections"));
            self.out.push(Action::Close { connection: id });
            return;
        }
        self.connect_retry = None;
        self.conns
            .push(Connection::new(id, self.now + self.config.open_hold_time));
        self.log(Level::Debug, format!("{id} is up, sending OPEN"));
        let open = self.config.open(self.restarting);
        self.send(id, &Message::Open(open));
    }

    pub(super) fn tcp_lost(&mut self, id: ConnId) {
        if self.pending == Some(id) {
            self.pending = None;
            let message = format!(
                "TCP connection failed, next attempt in {}",
                secs(self.config.connect_retry)
            );
            self.stats.last_error = Some("TCP connection failed".to_string());
            self.log(Level::Info, message);
            return;
        }
        let Some(idx) = self.conns.iter().position(|c| c.id == id) else {
            return;
        };
        // The I/O layer already knows: no Close.
        let conn = self.conns.remove(idx);
        self.connection_ended(conn, End::Transport);
    }

    /// A connection is gone (closed already). An Established one takes the session down; any
    /// other only matters when it was the last one.
    pub(super) fn connection_ended(&mut self, conn: Connection, end: End) {
        if conn.state == State::Established {
            self.session_down(&conn, end.into_down_reason());
            if self.conns.is_empty() {
                self.go_idle();
            } else {
                self.log(Level::Info, "carrying on with the other connection");
            }
            return;
        }
        let what = match &end {
            End::Transport => "TCP connection closed".to_string(),
            End::Sent { detail, .. } => detail.clone(),
            End::Received(n) => format!("peer sent NOTIFICATION {}", short(n)),
            End::HoldExpired(h) => format!("hold timer expired ({h} s)"),
        };
        self.stats.last_error = Some(format!("{what} in {}", conn.state));
        if !self.conns.is_empty() {
            self.log(
                Level::Info,
                format!(
                    "{} ended in {}: {what}; the other connection carries on",
                    conn.id, conn.state
                ),
            );
            return;
        }
        if conn.state == State::OpenSent && matches!(end, End::Transport) {
            // RFC 4271 §8.2.2, OpenSent, event 18: Active, ConnectRetryTimer restarted.
            self.log(Level::Info, format!("{what} in OpenSent"));
            if self.enabled && !self.passive {
                self.connect_retry = Some(self.now + self.config.connect_retry);
            }
            return;
        }
        self.go_idle();
    }

    /// The Established session is gone: tell the RIB what to keep (RFC 4724).
    pub(super) fn session_down(&mut self, conn: &Connection, reason: DownReason) {
        let negotiation = conn.negotiation();
        let retain = match negotiation {
            Some(n) if self.enabled => graceful::retained(n, &reason),
            _ => Vec::new(),
        };
        let restart_time = negotiation
            .and_then(|n| n.graceful_restart.as_ref())
            .map(|g| Duration::from_secs(u64::from(g.restart_time)))
            .unwrap_or_default();
        let previous = self.graceful.session_down(self.now, &retain, restart_time);
        if !previous.is_empty() {
            self.out.push(Action::FlushStale {
                families: previous,
                cause: StaleCause::ConsecutiveRestart,
            });
        }
        if let Some(since) = self.established_since.take()
            && self.now.saturating_duration_since(since) >= self.backoff.stable()
        {
            self.backoff.reset();
        }
        let mut message = format!("session down: {reason}");
        if !retain.is_empty() {
            message.push_str(&format!(
                "; keeping routes of {} as stale for up to {} (graceful restart)",
                family_list(&retain),
                secs(restart_time)
            ));
        }
        self.log(Level::Warn, message);
        self.stats.last_error = Some(reason.to_string());
        self.out.push(Action::Down { reason, retain });
    }

    /// Closes everything; when started, waits out the IdleHoldTimer before starting again.
    pub(super) fn go_idle(&mut self) {
        if let Some(p) = self.pending.take() {
            self.out.push(Action::Close { connection: p });
        }
        let ids: Vec<ConnId> = self.conns.iter().map(|c| c.id).collect();
        for id in ids {
            self.close(id);
        }
        self.connect_retry = None;
        if !self.enabled {
            return;
        }
        self.stats.connect_retry_counter = self.stats.connect_retry_counter.saturating_add(1);
        let delay = self.backoff.failure();
        if delay.is_zero() {
            self.begin();
        } else {
            self.idle_hold = Some(self.now + delay);
            let message = format!(
                "Idle for {} before trying again (failure {})",
                secs(delay),
                self.stats.connect_retry_counter
            );
            self.log(Level::Info, message);
        }
    }
}
