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
}

impl AdjRibIn {
    pub fn insert(&mut self, peer: PeerId, key: RouteKey, path_id: Option<u32>) {
        self.by_peer.entry(peer).or_default().insert((key, path_id));
    }

    pub fn remove(&mut self, peer: PeerId, key: &RouteKey, path_id: Option<u32>) {
        if let Some(set) = self.by_peer.get_mut(&peer) {
            set.remove(&(key.clone(), path_id));
            if set.is_empty() {
                self.by_peer.remove(&peer);
            }
        }
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
