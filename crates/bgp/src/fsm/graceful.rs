//! The receiving side of graceful restart (RFC 4724 §4.2, RFC 8538): which families of the peer's
//! routes are stale, the Restart timer (the peer must come back in time) and the stale timer (its
//! End-of-RIB must arrive in time). The routes themselves live in the RIB; this says when to drop
//! them.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::family::Family;
use crate::fsm::action::{DownReason, StaleCause};
use crate::fsm::negotiate::Negotiation;
use crate::fsm::time::Time;
use crate::message::Notification;
use crate::message::notification::{cease, code};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Graceful {
    stale: BTreeSet<Family>,
    /// Running while the session is down: the peer's Restart Time.
    restart: Option<Time>,
    /// Running once the session is back, until every stale family had its End-of-RIB.
    stale_timer: Option<Time>,
}

fn is_hard_reset(n: &Notification) -> bool {
    n.code == code::CEASE && n.subcode == cease::HARD_RESET
}

/// The families whose routes to keep when an Established session ends this way: those of the
/// peer's graceful restart capability, when the session ended without a NOTIFICATION (RFC 4724), or
/// with one other than Hard Reset and both sides set the N bit (RFC 8538 §3; a hold timer expiry
/// counts as a NOTIFICATION).
pub(crate) fn retained(negotiation: &Negotiation, reason: &DownReason) -> Vec<Family> {
    let Some(gr) = &negotiation.graceful_restart else {
        return Vec::new();
    };
    let notified = match reason {
        DownReason::ConnectionLost | DownReason::PeerRestarted => None,
        DownReason::HoldTimerExpired { .. } => Some(false),
        DownReason::Stopped { sent } | DownReason::Error { sent, .. } => Some(is_hard_reset(sent)),
        DownReason::Notification { received } => Some(is_hard_reset(received)),
    };
    match notified {
        Some(true) => Vec::new(),
        Some(false) if !negotiation.graceful_notification => Vec::new(),
        _ => gr.families.iter().map(|f| f.family).collect(),
    }
}

/// RFC 8538 §5: with the N bit negotiated, the Cease subcodes meant to clear the peer's routes go
/// inside a Hard Reset (the data carries the code, subcode and data of the original).
pub(crate) fn hard_reset_if_needed(negotiation: &Negotiation, n: Notification) -> Notification {
    let clears = matches!(
        n.subcode,
        cease::MAXIMUM_NUMBER_OF_PREFIXES_REACHED | cease::ADMINISTRATIVE_SHUTDOWN | cease::PEER_DE_CONFIGURED
    );
    if !negotiation.graceful_notification || n.code != code::CEASE || !clears {
        return n;
    }
    let mut data = Vec::with_capacity(n.data.len() + 2);
    data.push(n.code);
    data.push(n.subcode);
    data.extend_from_slice(&n.data);
    Notification::new(code::CEASE, cease::HARD_RESET, data)
}

impl Graceful {
    pub(crate) fn stale(&self) -> Vec<Family> {
        self.stale.iter().copied().collect()
    }

    pub(crate) fn restart_deadline(&self) -> Option<Time> {
        self.restart
    }

    pub(crate) fn stale_deadline(&self) -> Option<Time> {
        self.stale_timer
    }

    /// The session went down keeping `retain`. Returns the families still stale from an earlier
    /// restart, to flush first (RFC 4724 §4.2: consecutive restarts).
    pub(crate) fn session_down(&mut self, now: Time, retain: &[Family], restart_time: Duration) -> Vec<Family> {
        let previous = std::mem::take(&mut self.stale);
        self.stale_timer = None;
        self.stale = retain.iter().copied().collect();
        self.restart = (!self.stale.is_empty()).then(|| now + restart_time);
        previous.into_iter().collect()
    }

    /// The session is back. Returns the stale families to flush at once: those the peer no longer
    /// preserves forwarding state for. The others wait for End-of-RIB, at most `stale_time`.
    pub(crate) fn established(&mut self, now: Time, negotiation: &Negotiation, stale_time: Duration) -> Vec<Family> {
        self.restart = None;
        let preserved: BTreeSet<Family> = negotiation
            .graceful_restart
            .iter()
            .flat_map(|gr| gr.families.iter())
            .filter(|f| f.forwarding)
            .map(|f| f.family)
            .collect();
        let (keep, flush): (BTreeSet<Family>, BTreeSet<Family>) =
            self.stale.iter().partition(|f| preserved.contains(f));
        self.stale = keep;
        self.stale_timer = (!self.stale.is_empty()).then(|| now + stale_time);
        flush.into_iter().collect()
    }

    /// End-of-RIB for `family`: whether it had stale routes to flush.
    pub(crate) fn end_of_rib(&mut self, family: Family) -> bool {
        if self.restart.is_some() || !self.stale.remove(&family) {
            return false;
        }
        if self.stale.is_empty() {
            self.stale_timer = None;
        }
        true
    }

    /// The timer that is due, if one is, with the families to flush.
    pub(crate) fn expire(&mut self, now: Time) -> Option<(Vec<Family>, StaleCause)> {
        let cause = if self.restart.is_some_and(|t| t <= now) {
            StaleCause::RestartTimerExpired
        } else if self.stale_timer.is_some_and(|t| t <= now) {
            StaleCause::StaleTimerExpired
        } else {
            return None;
        };
        Some((self.flush_all(), cause))
    }

    /// Forget everything; returns the families that were stale.
    pub(crate) fn flush_all(&mut self) -> Vec<Family> {
        self.restart = None;
        self.stale_timer = None;
        std::mem::take(&mut self.stale).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::config::GrFamily;
    use crate::fsm::negotiate::PeerGracefulRestart;

    fn negotiation(families: &[(Family, bool)], n_bit: bool) -> Negotiation {
        Negotiation {
            codec: Default::default(),
            peer_as: 1,
            peer_id: "192.0.2.2".parse().unwrap(),
            peer_hold_time: 90,
            hold_time: 90,
            families: families.iter().map(|f| f.0).collect(),
            four_octet_as: true,
            route_refresh: true,
            enhanced_route_refresh: false,
            graceful_restart: Some(PeerGracefulRestart {
                restart_time: 120,
                restarted: false,
                families: families
                    .iter()
                    .map(|&(family, forwarding)| GrFamily { family, forwarding })
                    .collect(),
            }),
            graceful_notification: n_bit,
            internal: false,
        }
    }

    #[test]
    fn retention_rules() {
        let n = negotiation(&[(Family::Ipv4Unicast, true)], false);
        assert_eq!(retained(&n, &DownReason::ConnectionLost), [Family::Ipv4Unicast]);
        assert!(retained(&n, &DownReason::HoldTimerExpired { hold_time: 90 }).is_empty());
        let with_n = negotiation(&[(Family::Ipv4Unicast, true)], true);
        assert_eq!(
            retained(&with_n, &DownReason::HoldTimerExpired { hold_time: 90 }),
            [Family::Ipv4Unicast]
        );
        let hard = Notification::new(6, 9, [6, 2]);
        assert!(retained(&with_n, &DownReason::Notification { received: hard }).is_empty());
        let stop = hard_reset_if_needed(&with_n, Notification::with_shutdown_communication(2, "bye"));
        assert_eq!((stop.code, stop.subcode), (6, 9));
        assert_eq!(stop.data, [6, 2, 3, b'b', b'y', b'e']);
        assert_eq!(hard_reset_if_needed(&n, Notification::new(6, 2, [])).subcode, 2);
    }

    #[test]
    fn timers_and_end_of_rib() {
        let mut g = Graceful::default();
        let t0 = Time::from_millis(1000);
        assert!(
            g.session_down(t0, &[Family::Ipv4Unicast, Family::L2vpnEvpn], Duration::from_secs(120))
                .is_empty()
        );
        assert_eq!(g.restart_deadline(), Some(Time::from_millis(121_000)));
        assert_eq!(g.expire(Time::from_millis(120_999)), None);
        // Back in time; EVPN lost its forwarding state.
        let n = negotiation(&[(Family::Ipv4Unicast, true), (Family::L2vpnEvpn, false)], false);
        let flushed = g.established(Time::from_millis(2000), &n, Duration::from_secs(360));
        assert_eq!(flushed, [Family::L2vpnEvpn]);
        assert_eq!(g.stale(), [Family::Ipv4Unicast]);
        assert!(!g.end_of_rib(Family::L2vpnEvpn));
        assert!(g.end_of_rib(Family::Ipv4Unicast));
        assert_eq!(g.stale_deadline(), None);
        // Not back in time.
        g.session_down(t0, &[Family::Ipv4Unicast], Duration::from_secs(5));
        assert_eq!(
            g.expire(Time::from_millis(6000)),
            Some((vec![Family::Ipv4Unicast], StaleCause::RestartTimerExpired))
        );
        assert_eq!(g.restart_deadline(), None);
    }
}
