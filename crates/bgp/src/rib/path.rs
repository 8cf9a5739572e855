//! A path: one route to one key as one peer (or this speaker) advertised it.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use crate::attribute::{NextHop, PathAttributes};
use crate::fsm::Time;
use crate::nlri::Nlri;

/// Who a path came from, as the caller numbers its peers. [`PeerId::LOCAL`] is this speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u32);

impl PeerId {
    /// Routes this speaker originates (VRF export, static routes).
    pub const LOCAL: PeerId = PeerId(0);
}

/// How a peer relates to this speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerKind {
    /// This speaker itself: locally originated routes.
    Local,
    /// Same AS (RFC 4271 §1.1 internal peer).
    Ibgp,
    /// Another AS.
    Ebgp,
}

/// What the RIB needs to know about a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerInfo {
    /// The peer's transport address (RFC 4271 §9.1.2.2 (g): the last tie-breaker).
    pub address: IpAddr,
    pub asn: u32,
    /// The BGP Identifier from the peer's OPEN.
    pub router_id: Ipv4Addr,
    pub kind: PeerKind,
    /// A route reflector client of this speaker (RFC 4456 §6).
    pub rr_client: bool,
}

impl PeerInfo {
    /// This speaker as the source of its own routes.
    pub fn local(asn: u32, router_id: Ipv4Addr) -> PeerInfo {
        PeerInfo {
            address: IpAddr::V4(router_id),
            asn,
            router_id,
            kind: PeerKind::Local,
            rr_client: false,
        }
    }

    pub fn is_ibgp(&self) -> bool {
        self.kind == PeerKind::Ibgp
    }

    pub fn is_ebgp(&self) -> bool {
        self.kind == PeerKind::Ebgp
    }
}

/// One path. `attributes` carries no MP_REACH_NLRI / MP_UNREACH_NLRI (the NLRI lives in `nlri`,
/// the next hop in `next_hop`), so every prefix of one UPDATE shares the same `Arc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub peer: PeerId,
    pub peer_info: PeerInfo,
    /// The NLRI as received (labels, EVPN gateway and VNI, path identifier included).
    pub nlri: Nlri,
    pub attributes: Arc<PathAttributes>,
    /// NEXT_HOP for IPv4 unicast in the NLRI field, the MP_REACH_NLRI next hop otherwise.
    pub next_hop: Option<NextHop>,
    /// The ADD-PATH path identifier (RFC 7911), `None` without ADD-PATH.
    pub path_id: Option<u32>,
    pub received_at: Time,
    /// Kept across a graceful restart of the peer (RFC 4724 §4.2) and not yet refreshed.
    pub stale: bool,
}

impl Path {
    /// The same route with the same attributes: what matters to anyone downstream, whatever
    /// `received_at` and `stale` say.
    pub fn same_route(&self, other: &Path) -> bool {
        self.peer == other.peer
            && self.path_id == other.path_id
            && self.nlri == other.nlri
            && self.next_hop == other.next_hop
            && (Arc::ptr_eq(&self.attributes, &other.attributes) || self.attributes == other.attributes)
    }

    /// The route's route targets (RFC 4360 §4).
    pub fn route_targets(&self) -> impl Iterator<Item = weft_net::RouteTarget> + '_ {
        super::view::PathView::route_targets(self)
    }

    /// The AS the path came from (RFC 4271 §9.1.2.2 (c)): the first AS of the AS_PATH's first
    /// AS_SEQUENCE (confederation segments skipped, RFC 5065 §5.3), this speaker's own AS for a
    /// path with no AS at all (an internal route), `None` when the path starts with an AS_SET.
    pub fn neighbor_as(&self, local_as: u32) -> Option<u32> {
        let first = self
            .attributes
            .as_path
            .as_ref()
            .and_then(|p| p.segments.iter().find(|s| !s.kind.is_confed()));
        match first {
            None => Some(local_as),
            Some(s) if s.kind == crate::attribute::SegmentType::Sequence => s.asns.first().copied(),
            Some(_) => None,
        }
    }
}
