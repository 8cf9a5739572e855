//! What the export rules read of a path, whether it is the readable [`Path`] or the path as the
//! Loc-RIB stores it ([`Stored`]): the Adj-RIB-Out works on stored paths for best-path changes
//! (no readable copy per route) and on readable ones for everything asked of it by key.

use std::sync::Arc;

use super::key::RouteKey;
use super::path::{Path, PeerId, PeerInfo};
use super::stored::Stored;
use crate::attribute::{ExtendedCommunity, NextHop, PathAttributes};
use crate::nlri::Nlri;

pub(crate) trait PathView {
    fn peer(&self) -> PeerId;
    fn peer_info(&self) -> &PeerInfo;
    fn attributes(&self) -> &Arc<PathAttributes>;
    fn next_hop(&self) -> Option<NextHop>;
    /// The NLRI as received.
    fn nlri(&self, key: &RouteKey) -> Nlri;

    /// The route targets among the extended communities (RFC 4360 §4).
    fn route_targets(&self) -> impl Iterator<Item = weft_net::RouteTarget> + '_ {
        self.attributes().extended_communities.iter().filter_map(|c| match c {
            ExtendedCommunity::RouteTarget(rt) => Some(*rt),
            _ => None,
        })
    }
}

impl PathView for Path {
    fn peer(&self) -> PeerId {
        self.peer
    }

    fn peer_info(&self) -> &PeerInfo {
        &self.peer_info
    }

    fn attributes(&self) -> &Arc<PathAttributes> {
        &self.attributes
    }

    fn next_hop(&self) -> Option<NextHop> {
        self.next_hop
    }

    fn nlri(&self, _key: &RouteKey) -> Nlri {
        self.nlri.clone()
    }
}

impl PathView for Stored {
    fn peer(&self) -> PeerId {
        self.source.peer
    }

    fn peer_info(&self) -> &PeerInfo {
        &self.source.peer_info
    }

    fn attributes(&self) -> &Arc<PathAttributes> {
        &self.source.attributes
    }

    fn next_hop(&self) -> Option<NextHop> {
        self.source.next_hop
    }

    fn nlri(&self, key: &RouteKey) -> Nlri {
        Stored::nlri(self, key)
    }
}
