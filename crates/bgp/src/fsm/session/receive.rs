//! Messages from the peer (RFC 4271 §8.1.5 events 19-28): framing, the OPEN exchange, collisions
//! (§6.8), UPDATE and ROUTE-REFRESH.

use super::*;

impl Session {
    pub(super) fn bytes(&mut self, id: ConnId, data: &[u8]) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        conn.receive(data);
        loop {
            let Some(conn) = self.conn_mut(id) else {
                return;
            };
            match conn.next_frame() {
                Ok(Some(frame)) => self.frame(id, &frame),
                Ok(None) => return,
                Err(e) => {
                    self.fail(id, e.notification.clone(), e.to_string());
                    return;
                }
            }
        }
    }

    pub(super) fn frame(&mut self, id: ConnId, frame: &[u8]) {
        let Some((state, caps, hold)) = self.conn(id).map(|c| {
            (
                c.state,
                c.receive_caps(),
                c.negotiation().and_then(Negotiation::hold_interval),
            )
        }) else {
            return;
        };
        let message_type = frame.get(HEADER_LEN - 1).copied().unwrap_or_default();
        self.stats.messages_in.count(message_type);
        // RFC 6608: a message the state does not expect is an FSM error, whatever it holds.
        let (expected, subcode) = match state {
            State::OpenSent => (
                matches!(message_type, TYPE_OPEN | TYPE_NOTIFICATION),
                fsm_error::UNEXPECTED_IN_OPENSENT,
            ),
            State::OpenConfirm => (
                matches!(message_type, TYPE_KEEPALIVE | TYPE_NOTIFICATION),
                fsm_error::UNEXPECTED_IN_OPENCONFIRM,
            ),
            _ => (message_type != TYPE_OPEN, fsm_error::UNEXPECTED_IN_ESTABLISHED),
        };
        if !expected {
            self.fail(
                id,
                Notification::new(code::FSM_ERROR, subcode, []),
                format!("unexpected {} in {state}", type_name(message_type)),
            );
            return;
        }
        let decoded = match decode_message(frame, &caps) {
            Ok(d) => d,
            Err(e) => {
                self.fail(
                    id,
                    e.notification.clone(),
                    format!("malformed {}: {}", type_name(message_type), e.reason),
                );
                return;
            }
        };
        if state != State::OpenSent {
            let now = self.now;
            if let Some(conn) = self.conn_mut(id) {
                conn.hold = hold.map(|h| now + h);
            }
        }
        match decoded.message {
            Message::Open(open) => self.open(id, open),
            Message::Keepalive => {
                if state == State::OpenConfirm {
                    self.established(id);
                }
            }
            Message::Update(update) => self.update(
                id,
                DecodedUpdate {
                    update,
                    errors: decoded.errors,
                },
            ),
            Message::Notification(n) => self.notification(id, n),
            Message::RouteRefresh(rr) => self.route_refresh(id, rr),
        }
    }

    pub(super) fn notification(&mut self, id: ConnId, n: Notification) {
        self.stats.last_received = Some(n.clone());
        let state = self.conn(id).map(|c| c.state).unwrap_or(State::Idle);
        self.log(
            Level::Warn,
            format!("received NOTIFICATION {} in {state} on {id}", short(&n)),
        );
        if let Some(conn) = self.close(id) {
            self.connection_ended(conn, End::Received(n));
        }
    }

    /// OpenSent, event 19: check the OPEN, resolve collisions, answer with KEEPALIVE.
    pub(super) fn open(&mut self, id: ConnId, open: Open) {
        let local_caps = self.config.capabilities(self.restarting);
        if let Err(rejected) = check_open(&self.config, &local_caps, &open) {
            self.fail(id, rejected.notification, format!("OPEN rejected: {}", rejected.detail));
            return;
        }
        let negotiation = negotiate(&self.config, &local_caps, &open);
        if !self.resolve_collision(id, &negotiation) {
            return;
        }
        let now = self.now;
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        conn.state = State::OpenConfirm;
        conn.hold = negotiation.hold_interval().map(|h| now + h);
        conn.keepalive = negotiation.keepalive_interval().map(|k| now + k);
        let message = format!(
            "OPEN from AS {} (id {}, hold time {} s): hold time {} s, families {}",
            negotiation.peer_as,
            negotiation.peer_id,
            negotiation.peer_hold_time,
            negotiation.hold_time,
            family_list(&negotiation.families.iter().copied().collect::<Vec<_>>())
        );
        conn.peer = Some((open, negotiation));
        self.log(Level::Debug, message);
        self.send(id, &Message::Keepalive);
    }

    /// RFC 4271 §6.8 when the OPEN on `id` tells the peer's identifier. Returns whether `id`
    /// carries on.
    pub(super) fn resolve_collision(&mut self, id: ConnId, negotiation: &Negotiation) -> bool {
        let others: Vec<(ConnId, State, bool)> = self
            .conns
            .iter()
            .filter(|c| c.id != id && c.state >= State::OpenConfirm)
            .map(|c| {
                let gr = c.negotiation().is_some_and(|n| n.graceful_restart.is_some());
                (c.id, c.state, gr)
            })
            .collect();
        for (other, state, peer_graceful) in others {
            if state == State::Established {
                if peer_graceful {
                    // RFC 4724 §4.2: the peer restarted and the old connection is dead.
                    self.log(
                        Level::Warn,
                        format!("new OPEN on {id} while {other} is Established: the peer restarted, closing {other}"),
                    );
                    if let Some(old) = self.close(other) {
                        self.session_down(&old, DownReason::PeerRestarted);
                    }
                    continue;
                }
                self.log(
                    Level::Info,
                    format!("connection collision with the Established {other}: closing {id} with Cease/7"),
                );
                self.cease_collision(id);
                return false;
            }
            let keep_new = if other.is_outgoing() == id.is_outgoing() {
                // Both initiated by the same side: the newer replaces the older.
                true
            } else {
                keep_outgoing(
                    self.config.router_id,
                    self.config.local_as.get(),
                    negotiation.peer_id,
                    negotiation.peer_as,
                ) == id.is_outgoing()
            };
            let (winner, loser) = if keep_new { (id, other) } else { (other, id) };
            self.log(
                Level::Info,
                format!(
                    "connection collision (local id {}, peer id {}): keeping {winner}, closing {loser} with Cease/7",
                    self.config.router_id, negotiation.peer_id
                ),
            );
            self.cease_collision(loser);
            if !keep_new {
                return false;
            }
        }
        true
    }

    pub(super) fn cease_collision(&mut self, id: ConnId) {
        let n = Notification::new(code::CEASE, cease::CONNECTION_COLLISION_RESOLUTION, []);
        self.send(id, &Message::Notification(n));
        self.close(id);
    }

    /// OpenConfirm, event 26: Established.
    pub(super) fn established(&mut self, id: ConnId) {
        let Some(conn) = self.conn_mut(id) else {
            return;
        };
        conn.state = State::Established;
        let Some((open, negotiation)) = conn.peer.clone() else {
            return;
        };
        if let Some(p) = self.pending.take() {
            self.out.push(Action::Close { connection: p });
        }
        self.connect_retry = None;
        self.established_since = Some(self.now);
        self.stats.established_transitions = self.stats.established_transitions.saturating_add(1);
        self.stats.disabled_families.clear();
        self.restarting = false;
        self.log(
            Level::Info,
            format!(
                "Established with AS {} (id {}), hold time {} s, families {}",
                negotiation.peer_as,
                negotiation.peer_id,
                negotiation.hold_time,
                family_list(&negotiation.families.iter().copied().collect::<Vec<_>>())
            ),
        );
        let stale_time = self
            .config
            .graceful_restart
            .as_ref()
            .map(|g| g.stale_time)
            .unwrap_or_default();
        let flush = self.graceful.established(self.now, &negotiation, stale_time);
        self.out.push(Action::Established {
            negotiated: negotiation,
            remote: open,
        });
        if !flush.is_empty() {
            self.log(
                Level::Info,
                format!(
                    "graceful restart: the peer kept no forwarding state for {}, removing its stale routes",
                    family_list(&flush)
                ),
            );
            self.out.push(Action::FlushStale {
                families: flush,
                cause: StaleCause::NotPreserved,
            });
        }
    }

    /// Established, event 27 (and 28 when the codec reset the session).
    pub(super) fn update(&mut self, id: ConnId, decoded: DecodedUpdate) {
        if let Some(UpdateAction::SessionReset(n)) = decoded.strongest_action() {
            let n = n.clone();
            self.fail(id, n, "malformed UPDATE".to_string());
            return;
        }
        for e in &decoded.errors {
            let what = match &e.action {
                UpdateAction::TreatAsWithdraw { .. } => "treat-as-withdraw".to_string(),
                UpdateAction::AttributeDiscard { type_code } => format!("attribute {type_code} discarded"),
                UpdateAction::AfiSafiDisable { afi, safi, .. } => {
                    if let Some(f) = Family::from_afi_safi(*afi, *safi)
                        && !self.stats.disabled_families.contains(&f)
                    {
                        self.stats.disabled_families.push(f);
                    }
                    format!("AFI {afi} SAFI {safi} disabled")
                }
                UpdateAction::SessionReset(_) => "session reset".to_string(),
            };
            self.log(Level::Warn, format!("UPDATE error (RFC 7606): {}: {what}", e.reason));
        }
        let end_of_rib = decoded.update.end_of_rib_family();
        self.out.push(Action::Update { decoded });
        if let Some(family) = end_of_rib {
            self.log(Level::Debug, format!("End-of-RIB for {family}"));
            if self.graceful.end_of_rib(family) {
                self.out.push(Action::FlushStale {
                    families: vec![family],
                    cause: StaleCause::EndOfRib,
                });
            }
        }
    }

    pub(super) fn route_refresh(&mut self, id: ConnId, rr: RouteRefresh) {
        let Some(n) = self.conn(id).and_then(Connection::negotiation) else {
            return;
        };
        let (plain, enhanced) = (n.route_refresh, n.enhanced_route_refresh);
        let family = rr.family().filter(|f| n.families.contains(f));
        let ignore = if !plain && !enhanced {
            Some("route refresh was not negotiated".to_string())
        } else if family.is_none() {
            Some(format!(
                "AFI {} SAFI {} was not negotiated (RFC 2918 §4)",
                rr.afi, rr.safi
            ))
        } else {
            match rr.subtype {
                RefreshSubtype::Request => None,
                RefreshSubtype::BeginningOfRefresh | RefreshSubtype::EndOfRefresh if enhanced => None,
                RefreshSubtype::BeginningOfRefresh | RefreshSubtype::EndOfRefresh => {
                    Some("enhanced route refresh was not negotiated".to_string())
                }
                RefreshSubtype::Other(v) => Some(format!("unknown subtype {v} (RFC 7313 §5)")),
            }
        };
        match (ignore, family) {
            (None, Some(family)) => self.out.push(Action::RouteRefresh {
                family,
                subtype: rr.subtype,
            }),
            (reason, _) => {
                let reason = reason.unwrap_or_default();
                self.log(Level::Warn, format!("ROUTE-REFRESH ignored: {reason}"));
            }
        }
    }
}
