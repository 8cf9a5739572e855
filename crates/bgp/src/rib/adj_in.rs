//! Adj-RIB-In (RFC 4271 §3.2): which routes each peer has sent, so that a peer going down or
//! finishing a graceful restart touches only its own paths. The paths themselves live in the
//! Loc-RIB entries ([`super::loc::Rib`]) as the peer's import policy accepted them; what the
//! policy rejected is kept in [`super::pre_policy`].

use std::collections::{BTreeMap, BTreeSet};

use super::key::RouteKey;
use super::path::PeerId;
use crate::family::Family;

/// One path of one peer: its key and ADD-PATH identifier.
pub type PathRef = (RouteKey, Option<u32>);

#[derive(Debug, Clone, Default)]
pub struct AdjRibIn {
    by_peer: BTreeMap<PeerId, BTreeSet<PathRef>>,
    /// Paths per peer and family, kept as they change: status and max-prefix checks ask often,
    /// and counting the set each time would cost as much as the table.
    counts: BTreeMap<(PeerId, Family), usize>,
}

impl AdjRibIn {
    pub fn insert(&mut self, peer: PeerId, key: RouteKey, path_id: Option<u32>) {
        let family = key.family();
        if self.by_peer.entry(peer).or_default().insert((key, path_id)) {
            *self.counts.entry((peer, family)).or_default() += 1;
        }
    }

    pub fn remove(&mut self, peer: PeerId, key: &RouteKey, path_id: Option<u32>) {
        if let Some(set) = self.by_peer.get_mut(&peer) {
            if set.remove(&(key.clone(), path_id))
                && let Some(n) = self.counts.get_mut(&(peer, key.family()))
            {
                *n = n.saturating_sub(1);
            }
            if set.is_empty() {
                self.by_peer.remove(&peer);
            }
        }
    }

    /// How many paths of `family` `peer` has.
    pub fn count_of(&self, peer: PeerId, family: Family) -> usize {
        self.counts.get(&(peer, family)).copied().unwrap_or(0)
    }

    /// The paths of `peer`, in `families` when given.
    pub fn paths_of(&self, peer: PeerId, families: Option<&[Family]>) -> Vec<PathRef> {
        self.by_peer
            .get(&peer)
            .map(|set| {
                set.iter()
                    .filter(|(k, _)| families.is_none_or(|f| f.contains(&k.family())))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many paths `peer` has.
    pub fn count(&self, peer: PeerId) -> usize {
        self.by_peer.get(&peer).map_or(0, BTreeSet::len)
    }
}
