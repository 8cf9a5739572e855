//! The changes queued for one peer until its next batch of UPDATEs: in the order they came, found
//! by key through a hash index. A B-tree of them moved every change (two routes as sent, a few
//! hundred octets) on each insertion; here a change is written once and read once, and it is
//! small: a route as sent is kept as the path it is the export of and the attributes it got
//! (the NLRI and next hop follow from the path and the peer's settings, which never change
//! while the change waits).

use std::sync::Arc;

use hashbrown::HashTable;

use super::key::RouteKey;
use super::stored::Stored;
use super::table::hash_key;
use crate::attribute::PathAttributes;

/// A route as this peer has it or gets it: the export of `path`.
#[derive(Debug, Clone)]
pub(crate) struct Export {
    pub path: Stored,
    /// The attributes it goes with; `None`: the export of the path's attributes under the
    /// Adj-RIB-Out's settings, looked up in its cache when needed (a withdrawal never needs
    /// them). Set before the settings change, so that the change is seen against them.
    pub attributes: Option<Arc<PathAttributes>>,
}

/// One queued change of what a peer has for a destination.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// What the peer had when the change was first queued (`None`: nothing).
    pub sent: Option<Export>,
    /// What it gets (`None`: a withdrawal). The same route as `sent`: nothing to send after all.
    pub desired: Option<Export>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct OutQueue {
    items: Vec<(RouteKey, Change)>,
    index: HashTable<u32>,
}

impl OutQueue {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    fn position(&self, key: &RouteKey) -> Option<usize> {
        if self.items.is_empty() {
            return None;
        }
        self.position_hashed(key, hash_key(key))
    }

    fn position_hashed(&self, key: &RouteKey, hash: u64) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(hash, |&i| items.get(i as usize).is_some_and(|(k, _)| k == key))
            .map(|&i| i as usize)
    }

    /// [`OutQueue::get_mut`] with the key's [`hash_key`] already worked out.
    pub fn get_mut_hashed(&mut self, key: &RouteKey, hash: u64) -> Option<&mut Change> {
        if self.items.is_empty() {
            return None;
        }
        self.position_hashed(key, hash)
            .and_then(|i| self.items.get_mut(i))
            .map(|(_, c)| c)
    }

    pub fn get(&self, key: &RouteKey) -> Option<&Change> {
        self.position(key).and_then(|i| self.items.get(i)).map(|(_, c)| c)
    }

    pub fn get_mut(&mut self, key: &RouteKey) -> Option<&mut Change> {
        self.position(key).and_then(|i| self.items.get_mut(i)).map(|(_, c)| c)
    }

    /// Queues a change for a key that has none queued.
    pub fn push(&mut self, key: RouteKey, change: Change) {
        let hash = hash_key(&key);
        self.push_hashed(key, hash, change);
    }

    /// [`OutQueue::push`] with the key's [`hash_key`] already worked out.
    pub fn push_hashed(&mut self, key: RouteKey, hash: u64, change: Change) {
        let i = self.items.len() as u32;
        self.items.push((key, change));
        let items = &self.items;
        self.index
            .insert_unique(hash, i, |&j| items.get(j as usize).map_or(0, |(k, _)| hash_key(k)));
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Change> {
        self.items.iter_mut().map(|(_, c)| c)
    }

    /// Every queued change, in the order queued; the queue is left empty.
    pub fn take(&mut self) -> Vec<(RouteKey, Change)> {
        self.index.clear();
        std::mem::take(&mut self.items)
    }
}
