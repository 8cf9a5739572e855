//! What one mutation of the Loc-RIB did to one destination's best path.
//!
//! The paths are kept as the RIB stores them (three words each, sharing the UPDATE's
//! [`Source`](super::stored::Source)) rather than as readable [`Path`]s: a full table withdrawn
//! is a million changes, and copying a readable path in and out of each was a fifth of the
//! speaker's time. The readable paths are made when asked for.

use super::key::RouteKey;
use super::path::{Path, PeerId};
use super::stored::Stored;

/// The best path of `key` changed from [`BestChange::old_best`] to [`BestChange::new_best`]
/// (`None`: no route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestChange {
    pub key: RouteKey,
    pub(crate) old: Option<Stored>,
    pub(crate) new: Option<Stored>,
}

impl BestChange {
    /// A change from readable paths (for callers outside the RIB: VRF import tests, a
    /// controller replaying routes).
    pub fn new(key: RouteKey, old_best: Option<Path>, new_best: Option<Path>) -> BestChange {
        BestChange {
            key,
            old: old_best.map(Stored::from_path),
            new: new_best.map(Stored::from_path),
        }
    }

    pub fn old_best(&self) -> Option<Path> {
        self.old.as_ref().map(|p| p.path(&self.key))
    }

    pub fn new_best(&self) -> Option<Path> {
        self.new.as_ref().map(|p| p.path(&self.key))
    }

    /// The same change with the paths of `peer` left out (`None` on both sides): `None` when
    /// nothing is left.
    pub fn without_peer(&self, peer: PeerId) -> Option<BestChange> {
        let keep = |p: &Option<Stored>| p.clone().filter(|s| s.peer() != peer);
        let (old, new) = (keep(&self.old), keep(&self.new));
        (old.is_some() || new.is_some()).then(|| BestChange {
            key: self.key.clone(),
            old,
            new,
        })
    }
}
