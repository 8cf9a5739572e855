//! Route target constraint (RFC 4684): which VPN and EVPN routes a peer wants, from the RT
//! membership (RTC) routes it sent.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use weft_net::RouteTarget;

use super::key::RouteKey;
use super::loc::Rib;
use super::path::{Path, PeerId, PeerInfo};
use crate::attribute::{AsPath, NextHop, Origin, PathAttributes};
use crate::family::Family;
use crate::fsm::Time;
use crate::nlri::{Nlri, RtMembership, Rtc};

/// This speaker's RT membership routes (RFC 4684 §4): one per route target its VRFs import,
/// as locally originated paths to insert into the [`Rib`] (which then sends them to the peers
/// that negotiated the family).
pub fn membership_paths(
    rts: impl IntoIterator<Item = RouteTarget>,
    local_as: u32,
    router_id: Ipv4Addr,
    next_hop: IpAddr,
    now: Time,
) -> Vec<Path> {
    let attributes = Arc::new(PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        ..PathAttributes::default()
    });
    let rts: BTreeSet<RouteTarget> = rts.into_iter().collect();
    rts.into_iter()
        .map(|rt| Path {
            peer: PeerId::LOCAL,
            peer_info: PeerInfo::local(local_as, router_id),
            nlri: Nlri::Rtc(Rtc::exact(local_as, rt)),
            attributes: attributes.clone(),
            next_hop: Some(NextHop::new(next_hop)),
            path_id: None,
            received_at: now,
            stale: false,
        })
        .collect()
}

/// The RT membership a peer advertised. With no routes at all it asks for nothing (RFC 4684 §4:
/// a peer that negotiated the family gets only what it asked for); the default route (`None`,
/// zero-length NLRI) asks for everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtFilter {
    routes: BTreeSet<Option<RtMembership>>,
}

impl RtFilter {
    pub fn new(routes: impl IntoIterator<Item = Option<RtMembership>>) -> RtFilter {
        RtFilter {
            routes: routes.into_iter().collect(),
        }
    }

    /// The RTC routes `peer` has in the RIB (its Adj-RIB-In of the RT constraint family).
    pub fn of_peer(rib: &Rib, peer: PeerId) -> RtFilter {
        RtFilter::new(
            rib.paths_of_peer(peer, Family::RtConstraint)
                .into_iter()
                .filter_map(|p| match RouteKey::of(&p.nlri) {
                    RouteKey::Rtc(m) => Some(m),
                    _ => None,
                }),
        )
    }

    pub fn wants_everything(&self) -> bool {
        self.routes.contains(&None)
    }

    /// Whether a route with these route targets matches one membership route: the route
    /// target's first `target_bits` bits equal the membership's (RFC 4684 §4).
    pub fn allows_targets(&self, rts: impl IntoIterator<Item = RouteTarget>) -> bool {
        if self.wants_everything() {
            return true;
        }
        rts.into_iter().any(|rt| {
            let bytes = rt.to_extended_community();
            self.routes.iter().flatten().any(|m| prefix_matches(m, &bytes))
        })
    }

    /// Whether `path` may go to the peer: routes outside VPN and EVPN families always may.
    pub fn allows(&self, key: &RouteKey, path: &Path) -> bool {
        !key.rt_constrained() || self.allows_targets(path.route_targets())
    }
}

fn prefix_matches(m: &RtMembership, rt: &[u8; 8]) -> bool {
    let bits = usize::from(m.target_bits.min(64));
    let full = bits / 8;
    let rest = bits % 8;
    let head_eq = m.target.iter().zip(rt.iter()).take(full).all(|(a, b)| a == b);
    if rest == 0 {
        return head_eq;
    }
    let mask = 0xffu8 << (8 - rest);
    head_eq
        && match (m.target.get(full), rt.get(full)) {
            (Some(a), Some(b)) => a & mask == b & mask,
            _ => false,
        }
}
