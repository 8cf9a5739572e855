//! What the RIB sends through the session.

use super::*;

impl Session {
    pub(super) fn send_update(&mut self, update: Update) {
        let Some(id) = self.established_connection() else {
            self.log(Level::Warn, "UPDATE not sent: the session is not Established");
            return;
        };
        if self.send(id, &Message::Update(update)) {
            // RFC 4271 §8.2.2 Established: sending an UPDATE restarts the KeepaliveTimer.
            self.restart_keepalive(id);
        }
    }

    pub(super) fn send_route_refresh(&mut self, rr: RouteRefresh) {
        let Some((id, n)) = self
            .conns
            .iter()
            .find(|c| c.state == State::Established)
            .and_then(|c| Some((c.id, c.negotiation()?)))
        else {
            self.log(Level::Warn, "ROUTE-REFRESH not sent: the session is not Established");
            return;
        };
        let family_ok = rr.family().is_some_and(|f| n.families.contains(&f));
        let ok = match rr.subtype {
            RefreshSubtype::Request => n.route_refresh || n.enhanced_route_refresh,
            _ => n.enhanced_route_refresh,
        };
        if !family_ok || !ok {
            self.log(
                Level::Warn,
                format!(
                    "ROUTE-REFRESH for AFI {} SAFI {} not sent: the peer did not negotiate it",
                    rr.afi, rr.safi
                ),
            );
            return;
        }
        self.send(id, &Message::RouteRefresh(rr));
    }
}
