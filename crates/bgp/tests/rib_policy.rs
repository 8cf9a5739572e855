//! Import and export policies in the RIB: rejected routes kept before the policy and accepted
//! when the policy changes, without the peer resending; export policy changes sent as the
//! difference.

mod rib_support;

use std::collections::BTreeSet;
use std::time::Duration;

use rib_support::*;
use weft_bgp::attribute::Community;
use weft_bgp::fsm::Time;
use weft_bgp::rib::{AdjRibOut, OutPeerConfig, PeerId, Policy, Rib, RibConfig, RouteKey};
use weft_bgp::{Family, SessionCaps};

const T: Time = Time::ZERO;

fn rib() -> Rib {
    let mut rib = Rib::new(RibConfig::new(LOCAL_AS, ip("192.0.2.100")));
    rib.peer_up(PeerId(1), ebgp(1, 65001));
    rib.peer_up(PeerId(2), ebgp(2, 65002));
    rib
}

fn with_communities(cs: &[(u16, u16)]) -> weft_bgp::PathAttributes {
    let mut a = attrs(&[65001]);
    a.communities = cs.iter().map(|&(x, y)| Community::new(x, y)).collect();
    a
}

fn policy(deny: &[&str], add: &[&str]) -> Option<Policy> {
    Some(Policy::parse(&[], deny, add).unwrap())
}

/// The Adj-RIB-Out of peer 2 (eBGP, IPv4 unicast, no MRAI).
fn out_to_peer_2(rib: &Rib) -> AdjRibOut {
    AdjRibOut::new(OutPeerConfig {
        peer: PeerId(2),
        info: *rib.peer_info(PeerId(2)).unwrap(),
        local_as: LOCAL_AS,
        router_id: ip("192.0.2.100"),
        cluster_id: None,
        local_address: "10.0.0.100".parse().unwrap(),
        caps: SessionCaps {
            four_octet_as: true,
            ..SessionCaps::default()
        },
        families: BTreeSet::from([Family::Ipv4Unicast]),
        mrai: Duration::ZERO,
        default_local_pref: 100,
    })
}

fn key(p: &str) -> RouteKey {
    RouteKey::Prefix(p.parse().unwrap())
}

#[test]
fn denied_routes_are_received_not_accepted_and_come_back_when_the_policy_changes() {
    let mut rib = rib();
    assert!(rib.set_import_policy(PeerId(1), policy(&["65001:666"], &[])).is_empty());
    let changes = rib.apply_update(
        PeerId(1),
        &announce(
            &["10.0.0.0/24", "10.0.1.0/24"],
            with_communities(&[(65001, 666)]),
            "10.1.0.1",
        ),
        T,
    );
    assert!(changes.is_empty(), "{changes:?}");
    rib.apply_update(
        PeerId(1),
        &announce(&["10.0.2.0/24"], with_communities(&[(65001, 1)]), "10.1.0.1"),
        T,
    );
    assert_eq!(rib.received_count(PeerId(1), Family::Ipv4Unicast), 3);
    assert_eq!(rib.paths_of_peer(PeerId(1), Family::Ipv4Unicast).len(), 1);
    assert!(rib.best(&key("10.0.0.0/24")).is_none());

    // The policy changes: what was rejected is accepted, nothing resent.
    let changes = rib.set_import_policy(PeerId(1), policy(&["65001:1"], &[]));
    let changed: BTreeSet<String> = changes.iter().map(|c| c.key.to_string()).collect();
    assert_eq!(
        changed,
        BTreeSet::from(["10.0.0.0/24".into(), "10.0.1.0/24".into(), "10.0.2.0/24".into()])
    );
    assert!(rib.best(&key("10.0.0.0/24")).is_some());
    assert!(rib.best(&key("10.0.2.0/24")).is_none());
    assert_eq!(rib.received_count(PeerId(1), Family::Ipv4Unicast), 3);

    // A withdrawal removes a rejected route too: it does not come back with the next policy.
    rib.apply_update(PeerId(1), &withdraw(&["10.0.2.0/24"]), T);
    rib.set_import_policy(PeerId(1), None);
    assert!(rib.best(&key("10.0.2.0/24")).is_none());
    assert_eq!(rib.received_count(PeerId(1), Family::Ipv4Unicast), 2);
    assert_eq!(rib.paths_of_peer(PeerId(1), Family::Ipv4Unicast).len(), 2);
}

#[test]
fn added_communities_and_the_original_attributes_back_without_a_policy() {
    let mut rib = rib();
    rib.apply_update(
        PeerId(1),
        &announce(&["10.0.0.0/24"], with_communities(&[]), "10.1.0.1"),
        T,
    );
    // A policy set on a peer that already sent routes applies to them.
    let changes = rib.set_import_policy(PeerId(1), policy(&[], &["64512:7"]));
    assert_eq!(changes.len(), 1);
    let best = rib.best(&key("10.0.0.0/24")).unwrap();
    assert_eq!(best.attributes.communities, vec![Community::new(64512, 7)]);
    // The received copy is unchanged.
    let received = rib.received_paths(PeerId(1), Family::Ipv4Unicast);
    assert!(received[0].attributes.communities.is_empty());
    rib.set_import_policy(PeerId(1), None);
    assert!(rib.best(&key("10.0.0.0/24")).unwrap().attributes.communities.is_empty());
}

#[test]
fn a_peer_going_down_takes_its_rejected_routes_and_graceful_restart_keeps_them() {
    let mut rib = rib();
    rib.set_import_policy(PeerId(1), policy(&["65001:666"], &[]));
    let denied = with_communities(&[(65001, 666)]);
    rib.apply_update(PeerId(1), &announce(&["10.0.0.0/24"], denied.clone(), "10.1.0.1"), T);
    // Graceful restart: kept stale, then flushed when not refreshed.
    rib.peer_down(PeerId(1), &[Family::Ipv4Unicast]);
    assert_eq!(rib.received_count(PeerId(1), Family::Ipv4Unicast), 1);
    rib.flush_stale(PeerId(1), &[Family::Ipv4Unicast]);
    assert_eq!(rib.received_count(PeerId(1), Family::Ipv4Unicast), 0);
    rib.apply_update(PeerId(1), &announce(&["10.0.0.0/24"], denied, "10.1.0.1"), T);
    rib.peer_down(PeerId(1), &[]);
    assert_eq!(rib.received_count(PeerId(1), Family::Ipv4Unicast), 0);
    assert!(rib.set_import_policy(PeerId(1), None).is_empty());
}

#[test]
fn export_policy_changes_are_sent_as_the_difference() {
    let mut rib = rib();
    let mut to = out_to_peer_2(&rib).with_export_policy(policy(&["65001:666"], &["64512:9"]));
    let changes = rib.apply_update(
        PeerId(1),
        &announce(&["10.0.0.0/24"], with_communities(&[]), "10.1.0.1"),
        T,
    );
    to.best_changed(&changes);
    let changes = rib.apply_update(
        PeerId(1),
        &announce(&["10.0.1.0/24"], with_communities(&[(65001, 666)]), "10.1.0.1"),
        T,
    );
    to.best_changed(&changes);
    let sent = to.take_updates(T).unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].nlri.len(), 1);
    assert_eq!(sent[0].attributes.communities, vec![Community::new(64512, 9)]);
    assert!(to.advertised(&key("10.0.1.0/24"), &rib).is_none());

    // Without the deny: the other route goes out; the first one is not sent again.
    to.set_export_policy(policy(&[], &["64512:9"]), &rib);
    let sent = to.take_updates(T).unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].nlri.len(), 1);
    assert_eq!(sent[0].nlri[0].net.to_string(), "10.0.1.0/24");

    // Deny the second route's community again, add nothing: it is withdrawn.
    to.set_export_policy(policy(&["65001:666"], &[]), &rib);
    let sent = to.take_updates(T).unwrap();
    let withdrawn: Vec<String> = sent
        .iter()
        .flat_map(|u| u.withdrawn.iter().map(|p| p.net.to_string()))
        .collect();
    assert_eq!(withdrawn, vec!["10.0.1.0/24".to_string()]);
    // And the first one is sent again, without the community the old policy added.
    let announced: Vec<_> = sent.iter().filter(|u| !u.nlri.is_empty()).collect();
    assert_eq!(announced.len(), 1);
    assert!(announced[0].attributes.communities.is_empty());
}

/// A change still queued when the export policy changes is seen against what the peer got
/// under the old policy: a route that flapped back to what the peer has gets the new
/// communities, and one that the new policy refuses is withdrawn.
#[test]
fn queued_changes_are_measured_against_the_old_policy() {
    let mut rib = rib();
    let mut to = out_to_peer_2(&rib);
    let prefixes = ["10.0.0.0/24", "10.0.1.0/24"];
    let a = || with_communities(&[(65001, 7)]);
    to.initial_dump(&rib);
    let changes = rib.apply_update(PeerId(1), &announce(&prefixes, a(), "10.1.0.1"), T);
    to.best_changed(&changes);
    let first = to.take_updates(T).unwrap();
    assert_eq!(first.iter().map(|u| u.nlri.len()).sum::<usize>(), 2, "{first:?}");

    // Both routes flap: withdrawn, then 10.0.0.0/24 the same again and 10.0.1.0/24 with a
    // community the next policy refuses. Queued, not sent yet.
    let changes = rib.apply_update(PeerId(1), &withdraw(&prefixes), T);
    to.best_changed(&changes);
    let changes = rib.apply_update(PeerId(1), &announce(&["10.0.0.0/24"], a(), "10.1.0.1"), T);
    to.best_changed(&changes);
    let changes = rib.apply_update(
        PeerId(1),
        &announce(&["10.0.1.0/24"], with_communities(&[(65001, 666)]), "10.1.0.1"),
        T,
    );
    to.best_changed(&changes);
    // Then the policy adds a community and refuses 65001:666.
    to.set_export_policy(policy(&["65001:666"], &["64512:9"]), &rib);
    let sent = to.take_updates(T).unwrap();
    let announced: Vec<String> = sent
        .iter()
        .flat_map(|u| u.nlri.iter().map(|p| p.net.to_string()))
        .collect();
    assert_eq!(announced, vec!["10.0.0.0/24".to_string()], "{sent:?}");
    let with_new = sent.iter().find(|u| !u.nlri.is_empty()).unwrap();
    assert!(with_new.attributes.communities.contains(&Community::new(64512, 9)));
    let withdrawn: Vec<String> = sent
        .iter()
        .flat_map(|u| u.withdrawn.iter().map(|p| p.net.to_string()))
        .collect();
    assert_eq!(withdrawn, vec!["10.0.1.0/24".to_string()]);
    assert!(!to.has_pending());
}
