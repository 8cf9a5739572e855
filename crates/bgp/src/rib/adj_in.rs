//! Adj-RIB-In (RFC 4271 §3.2): what each peer has sent. The paths themselves live in the
//! Loc-RIB entries ([`super::loc::Rib`]) as the peer's import policy accepted them (what the
//! policy rejected is kept in [`super::pre_policy`]); a peer's paths are found by walking the
//! entries, which only a session going down or a graceful restart needs. Kept here: how many
//! paths each peer has per family, asked for on every status poll and max-prefix check.

use super::key::RouteKey;
use super::path::PeerId;
use super::table::FastMap;
use crate::family::Family;

/// One path of one peer: its key and ADD-PATH identifier.
pub type PathRef = (RouteKey, Option<u32>);

#[derive(Debug, Clone, Default)]
pub struct AdjRibIn {
    counts: FastMap<(PeerId, Family), usize>,
}

impl AdjRibIn {
    /// `peer` has one more path of `family`.
    pub fn added(&mut self, peer: PeerId, family: Family) {
        *self.counts.entry((peer, family)).or_default() += 1;
    }

    /// `peer` has one path of `family` less.
    pub fn removed(&mut self, peer: PeerId, family: Family) {
        if let Some(n) = self.counts.get_mut(&(peer, family)) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.counts.remove(&(peer, family));
            }
        }
    }

    /// How many paths of `family` `peer` has.
    pub fn count_of(&self, peer: PeerId, family: Family) -> usize {
        self.counts.get(&(peer, family)).copied().unwrap_or(0)
    }

    /// How many paths `peer` has.
    pub fn count(&self, peer: PeerId) -> usize {
        self.counts
            .iter()
            .filter(|((p, _), _)| *p == peer)
            .map(|(_, n)| n)
            .sum()
    }
}
