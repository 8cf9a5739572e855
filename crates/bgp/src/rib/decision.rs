//! The decision process of RFC 4271 §9.1: which of the paths to one destination is best.
//!
//! [`compare`] orders two paths step by step (`Less` = the first is preferred); [`best`] runs the
//! elimination of RFC 4271 §9.1.2.2 over a whole set, which does not depend on the order the paths
//! come in even where MED makes the pairwise order intransitive (MEDs of different neighbouring
//! ASes are not compared).
//!
//! IGP cost to the next hop (§9.1.2.2 (e)) is skipped: Weft has no IGP metric to the next hop.

use std::cmp::Ordering;

use super::path::{Path, PeerKind};

/// The default LOCAL_PREF (RFC 4271 §5.1.5 leaves it to configuration; 100 is customary).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// Options of the decision process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionConfig {
    /// This speaker's AS: the neighbouring AS of paths with an empty AS_PATH.
    pub local_as: u32,
    /// The degree of preference of paths without LOCAL_PREF (eBGP-learned ones always).
    pub default_local_pref: u32,
    /// Compare MED between paths from different neighbouring ASes too (off by default).
    pub always_compare_med: bool,
    /// Prefer the oldest of two eBGP paths before comparing router ids (RFC 5004; off).
    pub prefer_oldest_ebgp: bool,
}

impl DecisionConfig {
    pub fn new(local_as: u32) -> DecisionConfig {
        DecisionConfig {
            local_as,
            default_local_pref: DEFAULT_LOCAL_PREF,
            always_compare_med: false,
            prefer_oldest_ebgp: false,
        }
    }
}

type Rule = fn(&Path, &Path, &DecisionConfig) -> Ordering;

/// The steps in the order they apply.
const RULES: [Rule; 11] = [
    degree_of_preference,
    locally_originated,
    as_path_length,
    origin,
    multi_exit_disc,
    ebgp_over_ibgp,
    oldest_ebgp,
    router_id,
    cluster_list_length,
    peer_address,
    path_identity,
];

/// Orders two paths to the same destination: `Less` when `a` is preferred.
pub fn compare(a: &Path, b: &Path, ctx: &DecisionConfig) -> Ordering {
    RULES
        .iter()
        .map(|rule| rule(a, b, ctx))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The best path (RFC 4271 §9.1.2.2): each step removes every path some remaining path beats.
pub fn best<'a>(paths: &'a [Path], ctx: &DecisionConfig) -> Option<&'a Path> {
    if paths.len() <= 1 {
        // Most destinations have one path: nothing to compare, nothing to allocate.
        return paths.first();
    }
    let mut left: Vec<&Path> = paths.iter().collect();
    for rule in RULES {
        if left.len() <= 1 {
            break;
        }
        let kept: Vec<&Path> = left
            .iter()
            .copied()
            .filter(|p| !left.iter().any(|q| rule(q, p, ctx) == Ordering::Less))
            .collect();
        left = kept;
    }
    left.into_iter().min_by(|a, b| compare(a, b, ctx))
}

/// Between paths of equal degree of preference, a locally originated one first (common practice,
/// as in FRR and GoBGP; RFC 4271 §9.1.1 leaves local routes to policy).
pub fn locally_originated(a: &Path, b: &Path, _: &DecisionConfig) -> Ordering {
    let learned = |p: &Path| p.peer_info.kind != PeerKind::Local;
    learned(a).cmp(&learned(b))
}

/// RFC 4271 §9.1.1 and §9.1.2.2 first step: highest degree of preference, which is LOCAL_PREF
/// for internal routes and the configured default for eBGP-learned ones (§5.1.5: LOCAL_PREF
/// from an external peer is ignored).
pub fn degree_of_preference(a: &Path, b: &Path, ctx: &DecisionConfig) -> Ordering {
    let pref = |p: &Path| match p.peer_info.kind {
        PeerKind::Ebgp => ctx.default_local_pref,
        _ => p.attributes.local_pref.unwrap_or(ctx.default_local_pref),
    };
    pref(b).cmp(&pref(a))
}

/// RFC 4271 §9.1.2.2 (a): shortest AS_PATH; an AS_SET counts 1, confederation segments 0
/// (RFC 5065 §5.3).
pub fn as_path_length(a: &Path, b: &Path, _: &DecisionConfig) -> Ordering {
    let len = |p: &Path| p.attributes.as_path.as_ref().map_or(0, |x| x.path_length());
    len(a).cmp(&len(b))
}

/// RFC 4271 §9.1.2.2 (b): lowest ORIGIN (IGP < EGP < INCOMPLETE).
pub fn origin(a: &Path, b: &Path, _: &DecisionConfig) -> Ordering {
    let o = |p: &Path| p.attributes.origin.map_or(u8::MAX, |o| o as u8);
    o(a).cmp(&o(b))
}

/// RFC 4271 §9.1.2.2 (c): lowest MULTI_EXIT_DISC among paths from the same neighbouring AS (a
/// missing MED is 0); paths from different ASes are not compared unless `always_compare_med`.
pub fn multi_exit_disc(a: &Path, b: &Path, ctx: &DecisionConfig) -> Ordering {
    if !ctx.always_compare_med {
        match (a.neighbor_as(ctx.local_as), b.neighbor_as(ctx.local_as)) {
            (Some(x), Some(y)) if x == y => {}
            _ => return Ordering::Equal,
        }
    }
    let med = |p: &Path| p.attributes.med.unwrap_or(0);
    med(a).cmp(&med(b))
}

/// RFC 4271 §9.1.2.2 (d): a path from an external peer over one from an internal peer.
pub fn ebgp_over_ibgp(a: &Path, b: &Path, _: &DecisionConfig) -> Ordering {
    let internal = |p: &Path| p.peer_info.kind != PeerKind::Ebgp;
    internal(a).cmp(&internal(b))
}

/// RFC 5004 §2 (optional, off by default): between two eBGP paths, the one received first.
pub fn oldest_ebgp(a: &Path, b: &Path, ctx: &DecisionConfig) -> Ordering {
    if !(ctx.prefer_oldest_ebgp && a.peer_info.is_ebgp() && b.peer_info.is_ebgp()) {
        return Ordering::Equal;
    }
    a.received_at.cmp(&b.received_at)
}

/// RFC 4271 §9.1.2.2 (f) with RFC 4456 §9: lowest BGP Identifier, the ORIGINATOR_ID standing in
/// for the peer's router id when the path has one.
pub fn router_id(a: &Path, b: &Path, _: &DecisionConfig) -> Ordering {
    let id = |p: &Path| p.attributes.originator_id.unwrap_or(p.peer_info.router_id);
    id(a).cmp(&id(b))
}

/// RFC 4456 §9: shortest CLUSTER_LIST.
pub fn cluster_list_length(a: &Path, b: &Path, _: &DecisionConfig) -> Ordering {
    a.attributes.cluster_list.len().cmp(&b.attributes.cluster_list.len())
}

/// RFC 4271 §9.1.2.2 (g): lowest peer address.
pub fn peer_address(a: &Path, b: &Path, _: &DecisionConfig) -> Ordering {
    a.peer_info.address.cmp(&b.peer_info.address)
}

/// Not in the RFC: two paths from the same peer (ADD-PATH, RFC 7911) or equal in every step
/// above are told apart by peer and path identifier, so that the order is total.
pub fn path_identity(a: &Path, b: &Path, _: &DecisionConfig) -> Ordering {
    (a.peer, a.path_id).cmp(&(b.peer, b.path_id))
}
