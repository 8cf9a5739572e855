//! Selection deferral of a restarting speaker (RFC 4724 §4.1): after a restart this speaker
//! advertises nothing until every peer that can tell it its routes has done so (End-of-RIB for
//! each negotiated family), or the Selection_Deferral_Timer expires. Then each peer gets the
//! whole Adj-RIB-Out and End-of-RIB markers at once.
//!
//! Peers without graceful restart, and those that set the Restart State bit themselves (they
//! restarted too and wait for us), are not waited for. Before any peer is configured the
//! deferral lasts (only the timer ends it then); it waits for the peers configured so far, so
//! configure them all at start.

use std::collections::{BTreeMap, BTreeSet};

use weft_bgp::family::Family;
use weft_bgp::fsm::Time;
use weft_bgp::rib::PeerId;

/// The bookkeeping of one deferral, generic over what is held back per established peer (the
/// owner holds the configuration of its Adj-RIB-Out).
#[derive(Debug)]
pub(crate) struct Deferral<T> {
    deadline: Time,
    /// Peers waited for: `None` until the session is established, then the families whose
    /// End-of-RIB is still missing.
    awaited: BTreeMap<PeerId, Option<BTreeSet<Family>>>,
    /// Established peers whose advertisements wait for the end of the deferral.
    held: BTreeMap<PeerId, T>,
    /// A peer was configured.
    any_peer: bool,
}

impl<T> Deferral<T> {
    pub(crate) fn new(deadline: Time) -> Deferral<T> {
        Deferral {
            deadline,
            awaited: BTreeMap::new(),
            held: BTreeMap::new(),
            any_peer: false,
        }
    }

    pub(crate) fn deadline(&self) -> Time {
        self.deadline
    }

    /// A configured peer; one with graceful restart is waited for (until it comes up, and its
    /// End-of-RIB).
    pub(crate) fn peer_added(&mut self, peer: PeerId, graceful: bool) {
        self.any_peer = true;
        if graceful {
            self.awaited.insert(peer, None);
        }
    }

    pub(crate) fn remove(&mut self, peer: PeerId) {
        self.awaited.remove(&peer);
        self.held.remove(&peer);
    }

    /// The session came up: `end_of_rib` lists the families whose End-of-RIB to wait for (none
    /// when the peer did not negotiate graceful restart or set the Restart State bit); `held` is
    /// what to release when the deferral ends.
    pub(crate) fn established(&mut self, peer: PeerId, end_of_rib: BTreeSet<Family>, held: T) {
        if let Some(slot) = self.awaited.get_mut(&peer) {
            *slot = Some(end_of_rib);
        }
        self.held.insert(peer, held);
    }

    /// The session went down: wait for it to come back (or the timer).
    pub(crate) fn down(&mut self, peer: PeerId) {
        if let Some(slot) = self.awaited.get_mut(&peer) {
            *slot = None;
        }
        self.held.remove(&peer);
    }

    pub(crate) fn end_of_rib(&mut self, peer: PeerId, family: Family) {
        if let Some(Some(families)) = self.awaited.get_mut(&peer) {
            families.remove(&family);
        }
    }

    /// Whether the deferral is over: every awaited peer sent all its End-of-RIBs, or the timer
    /// expired.
    pub(crate) fn is_over(&self, now: Time) -> bool {
        now >= self.deadline
            || (self.any_peer
                && self
                    .awaited
                    .values()
                    .all(|a| a.as_ref().is_some_and(BTreeSet::is_empty)))
    }

    /// Ends the deferral: what was held, per peer.
    pub(crate) fn finish(self) -> BTreeMap<PeerId, T> {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PeerId = PeerId(1);
    const B: PeerId = PeerId(2);

    fn families(f: &[Family]) -> BTreeSet<Family> {
        f.iter().copied().collect()
    }

    #[test]
    fn waits_for_every_end_of_rib_of_every_graceful_peer() {
        let mut d = Deferral::new(Time::from_millis(120_000));
        assert!(!d.is_over(Time::ZERO), "no peer configured yet");
        d.peer_added(A, true);
        d.peer_added(B, true);
        let t = Time::from_millis(1000);
        assert!(!d.is_over(t), "nobody is up yet");
        d.established(A, families(&[Family::Ipv4Unicast, Family::Vpnv4]), "a");
        d.end_of_rib(A, Family::Ipv4Unicast);
        assert!(!d.is_over(t));
        d.end_of_rib(A, Family::Vpnv4);
        assert!(!d.is_over(t), "B is not up");
        // B set the Restart State bit: nothing to wait for once it is up.
        d.established(B, BTreeSet::new(), "b");
        assert!(d.is_over(t));
        assert_eq!(d.finish().into_iter().collect::<Vec<_>>(), [(A, "a"), (B, "b")]);
    }

    #[test]
    fn the_timer_ends_it_and_a_flap_waits_again() {
        let mut d = Deferral::new(Time::from_millis(5000));
        d.peer_added(A, true);
        d.established(A, families(&[Family::Ipv4Unicast]), 1);
        d.down(A);
        d.end_of_rib(A, Family::Ipv4Unicast);
        assert!(!d.is_over(Time::from_millis(4999)));
        assert!(d.is_over(Time::from_millis(5000)));
        assert!(d.finish().is_empty(), "A is down: nothing to release");
    }

    #[test]
    fn peers_not_waited_for_are_held_but_do_not_delay() {
        let mut d = Deferral::new(Time::from_millis(5000));
        // No graceful restart configured: never waited for, its advertisements still held.
        d.peer_added(A, false);
        d.established(A, families(&[Family::Ipv4Unicast]), ());
        assert!(d.is_over(Time::ZERO));
        d.peer_added(B, true);
        assert!(!d.is_over(Time::ZERO));
        d.remove(B);
        assert!(d.is_over(Time::ZERO));
        assert_eq!(d.finish().len(), 1);
    }
}
