//! Timers: what fires when (RFC 4271 §8.1.3 events 9-13).

use super::*;

impl Session {
    pub(super) fn fire_timers(&mut self) {
        let now = self.now;
        let ids: Vec<ConnId> = self.conns.iter().map(|c| c.id).collect();
        for id in ids {
            let Some((hold, keepalive)) = self.conn(id).map(|c| (c.hold, c.keepalive)) else {
                continue;
            };
            if hold.is_some_and(|t| t <= now) {
                self.hold_expired(id);
            } else if keepalive.is_some_and(|t| t <= now) {
                self.send_keepalive(id);
            }
        }
        if self.connect_retry.is_some_and(|t| t <= now) {
            self.connect_retry = None;
            self.connect_retry_expired();
        }
        if self.idle_hold.is_some_and(|t| t <= now) {
            self.idle_hold = None;
            self.log(Level::Info, "idle hold time over, restarting");
            self.begin();
        }
        if let Some((families, cause)) = self.graceful.expire(now) {
            self.log(
                Level::Warn,
                format!(
                    "graceful restart: {}, removing stale routes of {}",
                    match cause {
                        StaleCause::RestartTimerExpired => "the peer did not come back within its restart time",
                        _ => "no End-of-RIB within the stale time",
                    },
                    family_list(&families)
                ),
            );
            self.out.push(Action::FlushStale { families, cause });
        }
    }

    pub(super) fn hold_expired(&mut self, id: ConnId) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        let hold = conn
            .negotiation()
            .map(|n| n.hold_time)
            .unwrap_or_else(|| u16::try_from(self.config.open_hold_time.as_secs()).unwrap_or(u16::MAX));
        let notification = Notification::new(code::HOLD_TIMER_EXPIRED, 0, []);
        self.log(
            Level::Warn,
            format!("hold timer expired ({hold} s), sending NOTIFICATION 4/0"),
        );
        self.send(id, &Message::Notification(notification));
        if let Some(conn) = self.close(id) {
            self.connection_ended(conn, End::HoldExpired(hold));
        }
    }

    pub(super) fn send_keepalive(&mut self, id: ConnId) {
        self.send(id, &Message::Keepalive);
        self.restart_keepalive(id);
    }

    pub(super) fn restart_keepalive(&mut self, id: ConnId) {
        let now = self.now;
        if let Some(conn) = self.conn_mut(id) {
            conn.keepalive = conn
                .negotiation()
                .and_then(Negotiation::keepalive_interval)
                .map(|k| now + k);
        }
    }

    pub(super) fn connect_retry_expired(&mut self) {
        if !self.enabled || self.passive || !self.conns.is_empty() {
            return;
        }
        if self.pending.is_some() {
            self.log(
                Level::Info,
                format!("no connection after {}, trying again", secs(self.config.connect_retry)),
            );
        }
        self.connect_retry = Some(self.now + self.config.connect_retry);
        self.initiate();
    }
}
