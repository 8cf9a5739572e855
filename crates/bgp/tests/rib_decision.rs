//! The decision process (RFC 4271 §9.1.2.2, RFC 4456 §9): one test per step, each with every
//! earlier step tied, and properties of the order.

mod rib_support;

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use rib_support::*;
use weft_bgp::fsm::Time;
use weft_bgp::rib::{DecisionConfig, Path, PeerId, PeerInfo, PeerKind, best, compare};
use weft_bgp::{AsPath, AsSegment, Origin, PathAttributes, SegmentType};

fn ctx() -> DecisionConfig {
    DecisionConfig::new(LOCAL_AS)
}

/// `a` wins against `b` in both orders and as `best` of both orders.
fn assert_wins(a: &Path, b: &Path, ctx: &DecisionConfig) {
    assert_eq!(compare(a, b, ctx), Ordering::Less);
    assert_eq!(compare(b, a, ctx), Ordering::Greater);
    let set = [a.clone(), b.clone()];
    assert_eq!(best(&set, ctx).map(|p| p.peer), Some(a.peer));
    let set = [b.clone(), a.clone()];
    assert_eq!(best(&set, ctx).map(|p| p.peer), Some(a.peer));
}

#[test]
fn local_origin_after_local_pref() {
    let mut local = path(0, PeerInfo::local(LOCAL_AS, ip("192.0.2.200")), attrs(&[]));
    local.peer = PeerId::LOCAL;
    let learned = path(
        1,
        ibgp(1),
        PathAttributes {
            local_pref: Some(100),
            ..attrs(&[])
        },
    );
    // Equal LOCAL_PREF: the local path, despite its higher router id.
    assert_wins(&local, &learned, &ctx());
    // A higher LOCAL_PREF beats local origin.
    let preferred = path(
        1,
        ibgp(1),
        PathAttributes {
            local_pref: Some(500),
            ..attrs(&[])
        },
    );
    assert_wins(&preferred, &local, &ctx());
}

#[test]
fn highest_local_pref() {
    let a = path(
        2,
        ibgp(2),
        PathAttributes {
            local_pref: Some(200),
            ..attrs(&[1, 2, 3])
        },
    );
    let b = path(
        1,
        ibgp(1),
        PathAttributes {
            local_pref: Some(100),
            ..attrs(&[1])
        },
    );
    assert_wins(&a, &b, &ctx());
    // Missing LOCAL_PREF is the default; an eBGP path's LOCAL_PREF is ignored.
    let c = path(
        3,
        ibgp(3),
        PathAttributes {
            local_pref: Some(101),
            ..attrs(&[1, 2])
        },
    );
    let d = path(
        4,
        ebgp(4, 65001),
        PathAttributes {
            local_pref: Some(900),
            ..attrs(&[65001])
        },
    );
    assert_wins(&c, &d, &ctx());
}

#[test]
fn shortest_as_path_set_counts_one_confed_zero() {
    let set_path = AsPath {
        segments: vec![
            AsSegment {
                kind: SegmentType::ConfedSequence,
                asns: vec![65100, 65101, 65102],
            },
            AsSegment {
                kind: SegmentType::Sequence,
                asns: vec![65001],
            },
            AsSegment {
                kind: SegmentType::Set,
                asns: vec![1, 2, 3, 4],
            },
        ],
    };
    let a = path(
        2,
        ibgp(2),
        PathAttributes {
            as_path: Some(set_path),
            ..attrs(&[])
        },
    );
    let b = path(1, ibgp(1), attrs(&[65001, 65002, 65003]));
    assert_wins(&a, &b, &ctx());
}

#[test]
fn lowest_origin() {
    let a = path(
        2,
        ibgp(2),
        PathAttributes {
            origin: Some(Origin::Egp),
            ..attrs(&[65001])
        },
    );
    let b = path(
        1,
        ibgp(1),
        PathAttributes {
            origin: Some(Origin::Incomplete),
            ..attrs(&[65001])
        },
    );
    assert_wins(&a, &b, &ctx());
}

#[test]
fn lowest_med_same_neighbour_as_only() {
    let a = path(
        2,
        ibgp(2),
        PathAttributes {
            med: Some(10),
            ..attrs(&[65001])
        },
    );
    let b = path(
        1,
        ibgp(1),
        PathAttributes {
            med: Some(20),
            ..attrs(&[65001])
        },
    );
    assert_wins(&a, &b, &ctx());
    // Missing MED is 0.
    let c = path(3, ibgp(3), attrs(&[65001]));
    assert_wins(&c, &a, &ctx());
    // Different neighbouring AS: MED is not compared, the router id (lower for 1) decides.
    let d = path(
        1,
        ibgp(1),
        PathAttributes {
            med: Some(50),
            ..attrs(&[65002])
        },
    );
    assert_wins(&d, &a, &ctx());
    // A path starting with an AS_SET has no neighbouring AS to compare MED with.
    let set_first = AsPath {
        segments: vec![AsSegment {
            kind: SegmentType::Set,
            asns: vec![65001],
        }],
    };
    let e = path(
        4,
        ibgp(4),
        PathAttributes {
            med: Some(1),
            as_path: Some(set_first),
            ..attrs(&[])
        },
    );
    assert_wins(&a, &e, &ctx());
    // Unless always-compare-med.
    let always = DecisionConfig {
        always_compare_med: true,
        ..ctx()
    };
    assert_wins(&a, &d, &always);
}

#[test]
fn ebgp_over_ibgp() {
    let a = path(2, ebgp(2, 65001), attrs(&[65001]));
    let b = path(1, ibgp(1), attrs(&[65001]));
    assert_wins(&a, &b, &ctx());
}

#[test]
fn oldest_ebgp_only_when_enabled() {
    let mut a = path(2, ebgp(2, 65002), attrs(&[65002]));
    a.received_at = Time::from_millis(1);
    let mut b = path(1, ebgp(1, 65001), attrs(&[65001]));
    b.received_at = Time::from_millis(2);
    assert_wins(&b, &a, &ctx());
    let oldest = DecisionConfig {
        prefer_oldest_ebgp: true,
        ..ctx()
    };
    assert_wins(&a, &b, &oldest);
}

#[test]
fn lowest_router_id_or_originator_id() {
    let a = path(1, ibgp(1), attrs(&[65001]));
    let b = path(2, ibgp(2), attrs(&[65001]));
    assert_wins(&a, &b, &ctx());
    // RFC 4456 §9: ORIGINATOR_ID replaces the router id.
    let c = path(
        1,
        ibgp(1),
        PathAttributes {
            originator_id: Some(ip("192.0.2.9")),
            ..attrs(&[65001])
        },
    );
    let d = path(
        2,
        ibgp(2),
        PathAttributes {
            originator_id: Some(ip("192.0.2.8")),
            ..attrs(&[65001])
        },
    );
    assert_wins(&d, &c, &ctx());
}

#[test]
fn shortest_cluster_list() {
    let o = Some(ip("192.0.2.50"));
    let a = path(
        2,
        ibgp(2),
        PathAttributes {
            originator_id: o,
            cluster_list: vec![ip("1.1.1.1")],
            ..attrs(&[65001])
        },
    );
    let b = path(
        1,
        ibgp(1),
        PathAttributes {
            originator_id: o,
            cluster_list: vec![ip("1.1.1.1"), ip("2.2.2.2")],
            ..attrs(&[65001])
        },
    );
    assert_wins(&a, &b, &ctx());
}

#[test]
fn lowest_peer_address() {
    let same_id = |id: u32, addr: &str| PeerInfo {
        address: IpAddr::V4(addr.parse().unwrap()),
        router_id: Ipv4Addr::new(192, 0, 2, 1),
        ..ibgp(id)
    };
    let a = path(2, same_id(2, "10.0.0.1"), attrs(&[65001]));
    let b = path(1, same_id(1, "10.0.0.2"), attrs(&[65001]));
    assert_wins(&a, &b, &ctx());
}

#[test]
fn add_path_identifier_breaks_the_last_tie() {
    let mut a = path(1, ibgp(1), attrs(&[65001]));
    a.path_id = Some(1);
    let mut b = a.clone();
    b.path_id = Some(2);
    assert_wins(&a, &b, &ctx());
}

#[test]
fn med_elimination_is_order_independent() {
    // The classic MED cycle: A (AS1, MED 10), B (AS1, MED 20), C (AS2). Pairwise: A < B by MED,
    // and by router id B < C < A. The elimination of §9.1.2.2 removes B first, then C beats A.
    let a = path(
        3,
        ibgp(3),
        PathAttributes {
            med: Some(10),
            ..attrs(&[1])
        },
    );
    let b = path(
        1,
        ibgp(1),
        PathAttributes {
            med: Some(20),
            ..attrs(&[1])
        },
    );
    let c = path(2, ibgp(2), attrs(&[2]));
    let orders = [
        [a.clone(), b.clone(), c.clone()],
        [a.clone(), c.clone(), b.clone()],
        [b.clone(), a.clone(), c.clone()],
        [b.clone(), c.clone(), a.clone()],
        [c.clone(), a.clone(), b.clone()],
        [c.clone(), b.clone(), a.clone()],
    ];
    for o in orders {
        assert_eq!(best(&o, &ctx()).map(|p| p.peer), Some(PeerId(2)));
    }
}

fn arb_path() -> impl Strategy<Value = Path> {
    (
        1u32..6,
        prop_oneof![Just(PeerKind::Ibgp), Just(PeerKind::Ebgp)],
        prop::option::of(90u32..110),
        prop::collection::vec(1u32..4, 0..3),
        0u8..3,
        prop::option::of(0u32..3),
        prop::option::of(0u8..3),
        0usize..3,
        (0u64..3, prop::option::of(0u32..3)),
    )
        .prop_map(|(id, kind, lp, asp, origin, med, originator, clusters, (t, path_id))| {
            let info = peer(id, kind, if kind == PeerKind::Ibgp { LOCAL_AS } else { 65000 + id });
            let a = PathAttributes {
                local_pref: lp,
                origin: Some(match origin {
                    0 => Origin::Igp,
                    1 => Origin::Egp,
                    _ => Origin::Incomplete,
                }),
                as_path: Some(AsPath::sequence(asp)),
                med,
                originator_id: originator.map(|o| Ipv4Addr::new(192, 0, 2, o)),
                cluster_list: vec![ip("9.9.9.9"); clusters],
                ..PathAttributes::default()
            };
            let mut p = path(id, info, a);
            p.received_at = Time::from_millis(t);
            p.path_id = path_id;
            p
        })
}

/// Paths with distinct (peer, path id), as a RIB holds them.
fn arb_set() -> impl Strategy<Value = Vec<Path>> {
    prop::collection::vec(arb_path(), 1..8).prop_map(|mut v| {
        let mut seen = std::collections::BTreeSet::new();
        v.retain(|p| seen.insert((p.peer, p.path_id)));
        v
    })
}

proptest! {
    #[test]
    fn compare_is_a_total_order_with_always_compare_med(a in arb_path(), b in arb_path(), c in arb_path()) {
        let ctx = DecisionConfig { always_compare_med: true, prefer_oldest_ebgp: true, ..ctx() };
        prop_assert_eq!(compare(&a, &b, &ctx), compare(&b, &a, &ctx).reverse());
        if compare(&a, &b, &ctx) != Ordering::Greater && compare(&b, &c, &ctx) != Ordering::Greater {
            prop_assert_ne!(compare(&a, &c, &ctx), Ordering::Greater);
        }
        if (a.peer, a.path_id) != (b.peer, b.path_id) {
            prop_assert_ne!(compare(&a, &b, &ctx), Ordering::Equal);
        }
    }

    #[test]
    fn compare_is_antisymmetric(a in arb_path(), b in arb_path()) {
        prop_assert_eq!(compare(&a, &b, &ctx()), compare(&b, &a, &ctx()).reverse());
    }

    #[test]
    fn best_is_the_minimum_with_always_compare_med(set in arb_set()) {
        let ctx = DecisionConfig { always_compare_med: true, ..ctx() };
        let min = set.iter().min_by(|a, b| compare(a, b, &ctx));
        prop_assert_eq!(best(&set, &ctx), min);
    }

    #[test]
    fn best_does_not_depend_on_input_order(set in arb_set(), rot in 0usize..8, rev in any::<bool>()) {
        let ctx = ctx();
        let expected = best(&set, &ctx).map(|p| (p.peer, p.path_id));
        let mut other = set.clone();
        let n = other.len();
        other.rotate_left(rot % n);
        if rev {
            other.reverse();
        }
        prop_assert_eq!(best(&other, &ctx).map(|p| (p.peer, p.path_id)), expected);
        // And the winner beats or ties every path under the steps that compare it.
        prop_assert!(expected.is_some());
    }
}
