//! A peer's import or export policy: accept a route when it carries one of the listed route
//! targets (any route when none are listed) and none of the denied communities, then add
//! communities to it. The same test serves both directions: on what a peer sent (import) and on
//! what this speaker would send it (export).
//!
//! The outcome depends on the path attributes alone, never on the NLRI, so one evaluation covers
//! every prefix of an UPDATE.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use weft_net::RouteTarget;

use crate::attribute::{Community, ExtendedCommunity, LargeCommunity, PathAttributes};

/// A standard (RFC 1997) or large (RFC 8092) community, as policies name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnyCommunity {
    Standard(Community),
    Large(LargeCommunity),
}

impl AnyCommunity {
    fn carried_by(self, a: &PathAttributes) -> bool {
        match self {
            AnyCommunity::Standard(c) => a.communities.contains(&c),
            AnyCommunity::Large(c) => a.large_communities.contains(&c),
        }
    }

    fn add_to(self, a: &mut PathAttributes) {
        if self.carried_by(a) {
            return;
        }
        match self {
            AnyCommunity::Standard(c) => a.communities.push(c),
            AnyCommunity::Large(c) => a.large_communities.push(c),
        }
    }
}

/// Why a community or route target of a policy cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "{field}[{index}]: {text:?} is not a community; write ASN:VALUE (each 0-65535) or a large community ASN:A:B (each 0-4294967295)"
    )]
    Community {
        field: &'static str,
        index: usize,
        text: String,
    },
    #[error("{field}[{index}]: {reason}")]
    RouteTarget {
        field: &'static str,
        index: usize,
        reason: String,
    },
}

impl FromStr for AnyCommunity {
    /// The text back: the caller knows where it came from.
    type Err = String;

    /// `ASN:VALUE` (each 0-65535) or `ASN:A:B` (each 0-4294967295).
    fn from_str(text: &str) -> Result<AnyCommunity, String> {
        let bad = || text.to_string();
        let parts: Vec<&str> = text.split(':').collect();
        match parts.as_slice() {
            [a, v] => Ok(AnyCommunity::Standard(Community::new(
                a.parse().map_err(|_| bad())?,
                v.parse().map_err(|_| bad())?,
            ))),
            [a, b, c] => Ok(AnyCommunity::Large(LargeCommunity {
                global_admin: a.parse().map_err(|_| bad())?,
                local_data_1: b.parse().map_err(|_| bad())?,
                local_data_2: c.parse().map_err(|_| bad())?,
            })),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for AnyCommunity {
    /// Always numeric (`65535:65281`, not `no-export`), as policies are written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyCommunity::Standard(c) => write!(f, "{}:{}", c.0 >> 16, c.0 & 0xffff),
            AnyCommunity::Large(c) => c.fmt(f),
        }
    }
}

/// One direction's policy for one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Accept only routes with one of these; empty: any route.
    pub route_targets: Vec<RouteTarget>,
    /// Reject routes carrying any of these.
    pub deny: Vec<AnyCommunity>,
    /// Added to every accepted route.
    pub add: Vec<AnyCommunity>,
}

impl Policy {
    /// Reads a policy as a BGPPeer writes it; an error names the list and the index.
    pub fn parse<S: AsRef<str>>(route_targets: &[S], deny: &[S], add: &[S]) -> Result<Policy, PolicyError> {
        let communities = |field: &'static str, list: &[S]| {
            list.iter()
                .enumerate()
                .map(|(index, s)| {
                    s.as_ref()
                        .parse()
                        .map_err(|text| PolicyError::Community { field, index, text })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Policy {
            route_targets: route_targets
                .iter()
                .enumerate()
                .map(|(index, s)| {
                    s.as_ref()
                        .parse()
                        .map_err(|e: weft_net::NotationError| PolicyError::RouteTarget {
                            field: "routeTargets",
                            index,
                            reason: e.to_string(),
                        })
                })
                .collect::<Result<_, _>>()?,
            deny: communities("denyCommunities", deny)?,
            add: communities("addCommunities", add)?,
        })
    }

    /// Whether a route with these attributes passes.
    pub fn allows(&self, a: &PathAttributes) -> bool {
        let rt_ok = self.route_targets.is_empty()
            || a.extended_communities.iter().any(|c| match c {
                ExtendedCommunity::RouteTarget(rt) => self.route_targets.contains(rt),
                _ => false,
            });
        rt_ok && !self.deny.iter().any(|c| c.carried_by(a))
    }

    /// Whether accepted routes come out different (communities to add that are not there).
    fn changes(&self, a: &PathAttributes) -> bool {
        self.add.iter().any(|c| !c.carried_by(a))
    }

    /// The attributes of an accepted route (the same `Arc` when nothing is added, so that
    /// prefixes sharing attributes keep sharing them); `None` when the route is rejected.
    pub fn apply(&self, a: &Arc<PathAttributes>) -> Option<Arc<PathAttributes>> {
        if !self.allows(a) {
            return None;
        }
        if !self.changes(a) {
            return Some(a.clone());
        }
        let mut out = PathAttributes::clone(a);
        self.add_communities(&mut out);
        Some(Arc::new(out))
    }

    /// [`Policy::apply`] in place: false when the route is rejected (and `a` is left alone).
    pub fn apply_mut(&self, a: &mut PathAttributes) -> bool {
        if !self.allows(a) {
            return false;
        }
        self.add_communities(a);
        true
    }

    fn add_communities(&self, a: &mut PathAttributes) {
        for c in &self.add {
            c.add_to(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(communities: &[&str], rts: &[&str]) -> PathAttributes {
        let mut a = PathAttributes::default();
        for c in communities {
            match c.parse::<AnyCommunity>().unwrap() {
                AnyCommunity::Standard(s) => a.communities.push(s),
                AnyCommunity::Large(l) => a.large_communities.push(l),
            }
        }
        for rt in rts {
            a.extended_communities
                .push(ExtendedCommunity::RouteTarget(rt.parse().unwrap()));
        }
        a
    }

    fn policy(rts: &[&str], deny: &[&str], add: &[&str]) -> Policy {
        Policy::parse(rts, deny, add).unwrap()
    }

    #[test]
    fn empty_policy_accepts_everything_unchanged() {
        let a = Arc::new(attrs(&["64512:1"], &[]));
        let out = Policy::default().apply(&a).unwrap();
        assert!(Arc::ptr_eq(&a, &out));
    }

    #[test]
    fn denied_standard_and_large_communities_reject() {
        let p = policy(&[], &["64512:666", "64512:1:2"], &[]);
        assert!(p.allows(&attrs(&["64512:1"], &[])));
        assert!(!p.allows(&attrs(&["64512:1", "64512:666"], &[])));
        assert!(!p.allows(&attrs(&["64512:1:2"], &[])));
        // A standard 1:2 is not the large 64512:1:2.
        assert!(p.allows(&attrs(&["1:2", "64512:1:3"], &[])));
    }

    #[test]
    fn route_targets_when_listed() {
        let p = policy(&["64512:100", "192.0.2.1:7"], &[], &[]);
        assert!(!p.allows(&attrs(&[], &[])));
        assert!(!p.allows(&attrs(&[], &["64512:200"])));
        assert!(p.allows(&attrs(&[], &["64512:200", "64512:100"])));
        assert!(p.allows(&attrs(&[], &["192.0.2.1:7"])));
    }

    #[test]
    fn deny_wins_over_a_matching_route_target() {
        let p = policy(&["64512:100"], &["65000:1"], &[]);
        assert!(!p.allows(&attrs(&["65000:1"], &["64512:100"])));
    }

    #[test]
    fn adds_communities_once_and_only_to_accepted_routes() {
        let p = policy(&[], &["64512:666"], &["64511:10", "64511:1:1"]);
        let a = Arc::new(attrs(&["64511:10"], &[]));
        let out = p.apply(&a).unwrap();
        assert_eq!(out.communities, attrs(&["64511:10"], &[]).communities);
        assert_eq!(out.large_communities.len(), 1);
        assert_eq!(out.large_communities[0].to_string(), "64511:1:1");
        assert!(p.apply(&Arc::new(attrs(&["64512:666"], &[]))).is_none());
        let mut m = attrs(&["64512:666"], &[]);
        assert!(!p.apply_mut(&mut m));
        assert!(m.large_communities.is_empty(), "a rejected route is left alone");
        let mut m = attrs(&[], &[]);
        assert!(p.apply_mut(&mut m));
        assert_eq!(m.communities.len(), 1);
        // Already carrying everything: the same Arc.
        assert!(Arc::ptr_eq(&out, &p.apply(&out).unwrap()));
    }

    #[test]
    fn errors_name_the_list_and_the_index() {
        let e = Policy::parse(&["64512:1"], &["64512:1", "65536:1"], &[]).unwrap_err();
        assert_eq!(
            e,
            PolicyError::Community {
                field: "denyCommunities",
                index: 1,
                text: "65536:1".into()
            }
        );
        assert!(
            e.to_string()
                .starts_with("denyCommunities[1]: \"65536:1\" is not a community")
        );
        let e = Policy::parse(&["nope"], &[], &[]).unwrap_err();
        assert!(e.to_string().starts_with("routeTargets[0]:"), "{e}");
        let e = Policy::parse(&[], &[], &["1:2:3:4"]).unwrap_err();
        assert!(e.to_string().starts_with("addCommunities[0]:"), "{e}");
    }

    #[test]
    fn communities_print_numerically() {
        for text in ["65535:65281", "64512:1", "4200000000:1:2"] {
            assert_eq!(text.parse::<AnyCommunity>().unwrap().to_string(), text);
        }
    }
}
