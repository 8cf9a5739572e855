//! Adj-RIB-In and Loc-RIB: UPDATEs as the codec decodes them, peers going down, graceful restart.

mod rib_support;

use rib_support::*;
use weft_bgp::fsm::Time;
use weft_bgp::rib::{PeerId, Rib, RibConfig, RouteKey};
use weft_bgp::{Family, PathAttributes, Update};

fn key(s: &str) -> RouteKey {
    RouteKey::Prefix(s.parse().unwrap())
}

fn rib() -> Rib {
    let mut rib = Rib::new(RibConfig::new(LOCAL_AS, ip("192.0.2.100")));
    rib.peer_up(PeerId(1), ebgp(1, 65001));
    rib.peer_up(PeerId(2), ebgp(2, 65002));
    rib.peer_up(PeerId(3), ibgp(3));
    rib
}

const T: Time = Time::ZERO;

#[test]
fn announce_then_withdraw() {
    let mut rib = rib();
    let changes = rib.apply_update(
        PeerId(1),
        &announce(&["10.1.0.0/16", "10.2.0.0/16"], attrs(&[65001]), "10.0.0.1"),
        T,
    );
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| c.old_best().is_none() && c.new_best().is_some()));
    let best = rib.best(&key("10.1.0.0/16")).unwrap();
    assert_eq!(best.peer, PeerId(1));
    assert_eq!(best.next_hop.unwrap().address.to_string(), "10.0.0.1");
    // Both prefixes of the UPDATE share one attribute set.
    let other = rib.best(&key("10.2.0.0/16")).unwrap();
    assert!(std::sync::Arc::ptr_eq(&best.attributes, &other.attributes));

    let changes = rib.apply_update(PeerId(1), &withdraw(&["10.1.0.0/16"]), T);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, key("10.1.0.0/16"));
    assert!(changes[0].new_best().is_none());
    assert!(rib.best(&key("10.1.0.0/16")).is_none());
    assert_eq!(rib.path_count(PeerId(1)), 1);
    // Withdrawing what is not there changes nothing.
    assert!(rib.apply_update(PeerId(1), &withdraw(&["10.1.0.0/16"]), T).is_empty());
}

#[test]
fn second_peer_changes_best_only_when_better() {
    let mut rib = rib();
    rib.apply_update(
        PeerId(1),
        &announce(&["10.1.0.0/16"], attrs(&[65001, 65010]), "10.0.0.1"),
        T,
    );
    // Longer path: no change.
    let c = rib.apply_update(
        PeerId(2),
        &announce(&["10.1.0.0/16"], attrs(&[65002, 65020, 65010]), "10.0.0.2"),
        T,
    );
    assert!(c.is_empty());
    assert_eq!(rib.paths(&key("10.1.0.0/16")).len(), 2);
    // Shorter path from peer 2 replaces its own (implicit withdraw) and becomes best.
    let c = rib.apply_update(PeerId(2), &announce(&["10.1.0.0/16"], attrs(&[65002]), "10.0.0.2"), T);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].old_best().unwrap().peer, PeerId(1));
    assert_eq!(c[0].new_best().unwrap().peer, PeerId(2));
    assert_eq!(rib.paths(&key("10.1.0.0/16")).len(), 2);
    // Withdraw the best: falls back to peer 1.
    let c = rib.apply_update(PeerId(2), &withdraw(&["10.1.0.0/16"]), T);
    assert_eq!(c[0].new_best().unwrap().peer, PeerId(1));
}

#[test]
fn implicit_withdraw_with_new_attributes_is_a_change() {
    let mut rib = rib();
    rib.apply_update(PeerId(1), &announce(&["10.1.0.0/16"], attrs(&[65001]), "10.0.0.1"), T);
    let c = rib.apply_update(
        PeerId(1),
        &announce(
            &["10.1.0.0/16"],
            PathAttributes {
                med: Some(5),
                ..attrs(&[65001])
            },
            "10.0.0.1",
        ),
        T,
    );
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].new_best().unwrap().attributes.med, Some(5));
    assert_eq!(rib.paths(&key("10.1.0.0/16")).len(), 1);
    // The same route again (a refresh) is no change.
    let c = rib.apply_update(
        PeerId(1),
        &announce(
            &["10.1.0.0/16"],
            PathAttributes {
                med: Some(5),
                ..attrs(&[65001])
            },
            "10.0.0.1",
        ),
        Time::from_millis(5),
    );
    assert!(c.is_empty());
}

#[test]
fn treat_as_withdraw_removes_the_announced_routes() {
    let mut rib = rib();
    rib.apply_update(PeerId(1), &announce(&["10.1.0.0/16"], attrs(&[65001]), "10.0.0.1"), T);
    // No ORIGIN: RFC 7606 §3 (d) treat-as-withdraw.
    let broken = announce(
        &["10.1.0.0/16"],
        PathAttributes {
            origin: None,
            ..attrs(&[65001])
        },
        "10.0.0.1",
    );
    assert!(broken.treat_as_withdraw());
    let c = rib.apply_update(PeerId(1), &broken, T);
    assert_eq!(c.len(), 1);
    assert!(c[0].new_best().is_none());
    assert!(rib.best(&key("10.1.0.0/16")).is_none());
}

#[test]
fn as_path_loop_from_ebgp_is_withdrawn() {
    let mut rib = rib();
    rib.apply_update(PeerId(1), &announce(&["10.1.0.0/16"], attrs(&[65001]), "10.0.0.1"), T);
    let c = rib.apply_update(
        PeerId(1),
        &announce(&["10.1.0.0/16"], attrs(&[65001, LOCAL_AS]), "10.0.0.1"),
        T,
    );
    assert_eq!(c.len(), 1);
    assert!(rib.best(&key("10.1.0.0/16")).is_none());
}

#[test]
fn unknown_peer_is_ignored() {
    let mut rib = rib();
    assert!(
        rib.apply_update(PeerId(9), &announce(&["10.1.0.0/16"], attrs(&[65009]), "10.0.0.9"), T)
            .is_empty()
    );
}

#[test]
fn peer_down_without_gr_withdraws_everything_of_that_peer() {
    let mut rib = rib();
    rib.apply_update(
        PeerId(1),
        &announce(&["10.1.0.0/16", "10.2.0.0/16"], attrs(&[65001]), "10.0.0.1"),
        T,
    );
    rib.apply_update(
        PeerId(2),
        &announce(&["10.1.0.0/16", "10.3.0.0/16"], attrs(&[65002, 65020]), "10.0.0.2"),
        T,
    );
    let c = rib.peer_down(PeerId(1), &[]);
    assert_eq!(c.len(), 2);
    assert_eq!(rib.path_count(PeerId(1)), 0);
    assert!(rib.best(&key("10.2.0.0/16")).is_none());
    assert_eq!(rib.best(&key("10.1.0.0/16")).unwrap().peer, PeerId(2));
    assert_eq!(rib.path_count(PeerId(2)), 2);
}

#[test]
fn graceful_restart_marks_stale_and_end_of_rib_flushes_what_was_not_refreshed() {
    let mut rib = rib();
    rib.apply_update(
        PeerId(1),
        &announce(
            &["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"],
            attrs(&[65001]),
            "10.0.0.1",
        ),
        T,
    );
    // Down with IPv4 unicast retained: nothing changes for anyone downstream.
    let c = rib.peer_down(PeerId(1), &[Family::Ipv4Unicast]);
    assert!(c.is_empty());
    assert!(rib.best(&key("10.1.0.0/16")).unwrap().stale);
    assert_eq!(rib.path_count(PeerId(1)), 3);

    // The peer comes back and re-announces two of them, one with new attributes.
    let later = Time::from_millis(1000);
    assert!(
        rib.apply_update(
            PeerId(1),
            &announce(&["10.1.0.0/16"], attrs(&[65001]), "10.0.0.1"),
            later
        )
        .is_empty()
    );
    let c = rib.apply_update(
        PeerId(1),
        &announce(
            &["10.2.0.0/16"],
            PathAttributes {
                med: Some(7),
                ..attrs(&[65001])
            },
            "10.0.0.1",
        ),
        later,
    );
    assert_eq!(c.len(), 1);
    assert!(!rib.best(&key("10.1.0.0/16")).unwrap().stale);

    // End-of-RIB, as the codec decodes it.
    let c = rib.apply_update(PeerId(1), &decoded(Update::end_of_rib(Family::Ipv4Unicast)), later);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].key, key("10.3.0.0/16"));
    assert!(rib.best(&key("10.3.0.0/16")).is_none());
    assert!(rib.best(&key("10.1.0.0/16")).is_some());
    assert!(rib.best(&key("10.2.0.0/16")).is_some());
}

#[test]
fn flush_stale_on_timer_only_touches_named_families() {
    let mut rib = rib();
    rib.apply_update(PeerId(1), &announce(&["10.1.0.0/16"], attrs(&[65001]), "10.0.0.1"), T);
    rib.peer_down(PeerId(1), &[Family::Ipv4Unicast]);
    assert!(rib.flush_stale(PeerId(1), &[Family::Vpnv4]).is_empty());
    let c = rib.flush_stale(PeerId(1), &[Family::Ipv4Unicast]);
    assert_eq!(c.len(), 1);
    assert_eq!(rib.path_count(PeerId(1)), 0);
}

#[test]
fn add_path_keeps_one_path_per_identifier() {
    use weft_bgp::DecodedUpdate;
    let mut rib = rib();
    let with_ids = |ids: &[u32], a: PathAttributes| DecodedUpdate {
        update: Update {
            withdrawn: Vec::new(),
            attributes: PathAttributes {
                next_hop: Some(ip("10.0.0.3")),
                ..a
            },
            nlri: ids.iter().map(|&i| net("10.1.0.0/16").with_path_id(i)).collect(),
        },
        errors: Vec::new(),
    };
    rib.apply_update(
        PeerId(3),
        &with_ids(
            &[1],
            PathAttributes {
                med: Some(20),
                ..attrs(&[65001])
            },
        ),
        T,
    );
    let c = rib.apply_update(
        PeerId(3),
        &with_ids(
            &[2],
            PathAttributes {
                med: Some(10),
                ..attrs(&[65001])
            },
        ),
        T,
    );
    assert_eq!(rib.paths(&key("10.1.0.0/16")).len(), 2);
    assert_eq!(c.len(), 1);
    assert_eq!(rib.best(&key("10.1.0.0/16")).unwrap().path_id, Some(2));
    // Withdrawing path 2 falls back to path 1 of the same peer.
    let w = DecodedUpdate {
        update: Update {
            withdrawn: vec![net("10.1.0.0/16").with_path_id(2)],
            ..Update::default()
        },
        errors: Vec::new(),
    };
    let c = rib.apply_update(PeerId(3), &w, T);
    assert_eq!(c[0].new_best().unwrap().path_id, Some(1));
    assert_eq!(rib.path_count(PeerId(3)), 1);
}

#[test]
fn session_actions_drive_the_rib() {
    use weft_bgp::RefreshSubtype;
    use weft_bgp::fsm::{Action, StaleCause};
    let mut rib = rib();
    let a = Action::Update {
        decoded: announce(&["10.1.0.0/16", "10.2.0.0/16"], attrs(&[65001]), "10.0.0.1"),
    };
    assert_eq!(rib.on_session_action(PeerId(1), &a, T).len(), 2);
    // Enhanced route refresh (RFC 7313): BoRR, one route re-sent, EoRR.
    let borr = Action::RouteRefresh {
        family: Family::Ipv4Unicast,
        subtype: RefreshSubtype::BeginningOfRefresh,
    };
    assert!(rib.on_session_action(PeerId(1), &borr, T).is_empty());
    assert!(rib.best(&key("10.1.0.0/16")).unwrap().stale);
    let again = Action::Update {
        decoded: announce(&["10.1.0.0/16"], attrs(&[65001]), "10.0.0.1"),
    };
    assert!(rib.on_session_action(PeerId(1), &again, T).is_empty());
    let eorr = Action::RouteRefresh {
        family: Family::Ipv4Unicast,
        subtype: RefreshSubtype::EndOfRefresh,
    };
    let c = rib.on_session_action(PeerId(1), &eorr, T);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].key, key("10.2.0.0/16"));
    // FlushStale from the FSM after a graceful restart.
    rib.peer_down(PeerId(1), &[Family::Ipv4Unicast]);
    let flush = Action::FlushStale {
        families: vec![Family::Ipv4Unicast],
        cause: StaleCause::RestartTimerExpired,
    };
    assert_eq!(rib.on_session_action(PeerId(1), &flush, T).len(), 1);
    assert_eq!(rib.path_count(PeerId(1)), 0);
}
