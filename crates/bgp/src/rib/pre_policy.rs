//! A peer's routes as received, before its import policy (FRR's soft-reconfiguration inbound):
//! the routes the policy rejected stay here, counted as received but not accepted, so that a
//! changed policy is applied again to everything the peer sent without asking it to resend
//! (no session reset, no ROUTE-REFRESH).
//!
//! Kept only for peers with an import policy; without one the Loc-RIB holds each path exactly
//! as received, and that is the pre-policy view.

use std::collections::BTreeMap;

use super::adj_in::PathRef;
use super::key::RouteKey;
use super::path::Path;
use crate::family::Family;

#[derive(Debug, Clone, Default)]
pub struct PrePolicy {
    paths: BTreeMap<PathRef, Path>,
}

impl PrePolicy {
    /// Adds or replaces a received path (an announcement refreshes a stale one).
    pub fn insert(&mut self, path: Path) {
        self.paths.insert((RouteKey::of(&path.nlri), path.path_id), path);
    }

    pub fn remove(&mut self, key: &RouteKey, path_id: Option<u32>) {
        self.paths.remove(&(key.clone(), path_id));
    }

    /// Drops the paths whose family is not in `keep`.
    pub fn retain_families(&mut self, keep: &[Family]) {
        self.paths.retain(|(k, _), _| keep.contains(&k.family()));
    }

    /// Drops the paths of `family` (RFC 7606 AFI/SAFI disable).
    pub fn remove_family(&mut self, family: Family) {
        self.paths.retain(|(k, _), _| k.family() != family);
    }

    /// Marks the paths of `families` stale (graceful restart, enhanced route refresh).
    pub fn mark_stale(&mut self, families: &[Family]) {
        for ((k, _), p) in self.paths.iter_mut() {
            if families.contains(&k.family()) {
                p.stale = true;
            }
        }
    }

    /// Drops the stale paths of `families`.
    pub fn remove_stale(&mut self, families: &[Family]) {
        self.paths
            .retain(|(k, _), p| !(p.stale && families.contains(&k.family())));
    }

    /// How many paths of `family` the peer sent.
    pub fn count(&self, family: Family) -> usize {
        self.paths.keys().filter(|(k, _)| k.family() == family).count()
    }

    /// The paths of `family`, as received.
    pub fn paths(&self, family: Family) -> impl Iterator<Item = &Path> {
        self.paths
            .iter()
            .filter(move |((k, _), _)| k.family() == family)
            .map(|(_, p)| p)
    }

    pub fn into_paths(self) -> impl Iterator<Item = Path> {
        self.paths.into_values()
    }
}
