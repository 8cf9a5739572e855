//! Adj-RIB-Out: packing, eBGP and iBGP attribute rules, route reflection, MRAI, End-of-RIB.

mod rib_support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use rib_support::*;
use weft_bgp::fsm::Time;
use weft_bgp::rib::{AdjRibOut, OutPeerConfig, PeerId, PeerInfo, Rib, RibConfig, RouteKey};
use weft_bgp::{AsPath, Family, Message, PathAttributes, SessionCaps, Update};

const T: Time = Time::ZERO;
const ROUTER_ID: &str = "192.0.2.100";
const CLUSTER: &str = "192.0.2.100";

fn rib(reflector: bool) -> Rib {
    let mut cfg = RibConfig::new(LOCAL_AS, ip(ROUTER_ID));
    if reflector {
        cfg.cluster_id = Some(ip(CLUSTER));
    }
    let mut rib = Rib::new(cfg);
    rib.peer_up(PeerId(1), ebgp(1, 65001));
    rib.peer_up(PeerId(2), ebgp(2, 65002));
    rib.peer_up(PeerId(3), ibgp(3));
    rib.peer_up(PeerId(4), ibgp(4));
    rib.peer_up(
        PeerId(5),
        PeerInfo {
            rr_client: true,
            ..ibgp(5)
        },
    );
    rib.peer_up(
        PeerId(6),
        PeerInfo {
            rr_client: true,
            ..ibgp(6)
        },
    );
    rib
}

fn out(rib: &Rib, id: u32, mrai: Duration) -> AdjRibOut {
    let info = *rib.peer_info(PeerId(id)).unwrap();
    AdjRibOut::new(OutPeerConfig {
        peer: PeerId(id),
        info,
        local_as: LOCAL_AS,
        router_id: ip(ROUTER_ID),
        cluster_id: rib.config().cluster_id,
        local_address: "10.0.0.100".parse().unwrap(),
        caps: SessionCaps {
            four_octet_as: true,
            ..SessionCaps::default()
        },
        families: BTreeSet::from([Family::Ipv4Unicast, Family::Vpnv4, Family::L2vpnEvpn]),
        mrai,
        default_local_pref: 100,
    })
}

/// Feeds one UPDATE from `from` into the RIB and the changes into `to`, and takes what is due.
fn through(rib: &mut Rib, from: u32, to: &mut AdjRibOut, update: &weft_bgp::DecodedUpdate) -> Vec<Update> {
    let changes = rib.apply_update(PeerId(from), update, T);
    to.best_changed(&changes);
    to.take_updates(T).unwrap()
}

fn prefixes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("10.{}.{}.0/24", i / 256, i % 256)).collect()
}

#[test]
fn ten_prefixes_with_the_same_attributes_make_one_update() {
    let mut rib = rib(false);
    let mut to = out(&rib, 2, Duration::ZERO);
    let p = prefixes(10);
    let refs: Vec<&str> = p.iter().map(String::as_str).collect();
    // Ten UPDATEs of one prefix each, same attributes.
    let mut changes = Vec::new();
    for r in &refs {
        changes.extend(rib.apply_update(PeerId(1), &announce(&[r], attrs(&[65001]), "10.0.0.1"), T));
    }
    to.best_changed(&changes);
    let updates = to.take_updates(T).unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].nlri.len(), 10);
    // A different MED makes a second group.
    let c = rib.apply_update(
        PeerId(3),
        &announce(
            &["172.16.0.0/16"],
            PathAttributes {
                local_pref: Some(100),
                ..attrs(&[])
            },
            "10.0.0.3",
        ),
        T,
    );
    to.best_changed(&c);
    assert_eq!(to.take_updates(T).unwrap().len(), 1);
    assert_eq!(to.advertised_count(), 11);
}

#[test]
fn packing_respects_the_maximum_message_size() {
    let mut rib = rib(false);
    let mut to = out(&rib, 2, Duration::ZERO);
    let p = prefixes(3000);
    let refs: Vec<&str> = p.iter().map(String::as_str).collect();
    let mut changes = Vec::new();
    for chunk in refs.chunks(500) {
        changes.extend(rib.apply_update(PeerId(1), &announce(chunk, attrs(&[65001]), "10.0.0.1"), T));
    }
    to.best_changed(&changes);
    let updates = to.take_updates(T).unwrap();
    assert!(updates.len() > 1, "3000 /24s do not fit in 4096 octets");
    assert!(updates.len() <= 8);
    let caps = to.config().caps.clone();
    let mut total = 0;
    for u in &updates {
        let bytes = Message::Update(u.clone()).encode(&caps).unwrap();
        assert!(bytes.len() <= 4096);
        total += u.nlri.len();
    }
    assert_eq!(total, 3000);
}

#[test]
fn ebgp_rules_prepend_next_hop_self_strip_local_pref_and_med() {
    let mut rib = rib(false);
    let mut to = out(&rib, 2, Duration::ZERO);
    let a = PathAttributes {
        local_pref: Some(200),
        med: Some(5),
        ..attrs(&[65010])
    };
    let u = through(&mut rib, 3, &mut to, &announce(&["10.1.0.0/16"], a, "10.0.0.3"));
    assert_eq!(u.len(), 1);
    let at = &u[0].attributes;
    assert_eq!(at.as_path, Some(AsPath::sequence(vec![LOCAL_AS, 65010])));
    assert_eq!(at.next_hop, Some(ip("10.0.0.100")));
    assert_eq!(at.local_pref, None);
    assert_eq!(at.med, None);
}

#[test]
fn ibgp_rules_keep_path_and_next_hop_and_set_local_pref() {
    let mut rib = rib(false);
    let mut to = out(&rib, 4, Duration::ZERO);
    let a = PathAttributes {
        med: Some(5),
        ..attrs(&[65001])
    };
    let u = through(&mut rib, 1, &mut to, &announce(&["10.1.0.0/16"], a, "10.0.0.1"));
    let at = &u[0].attributes;
    assert_eq!(at.as_path, Some(AsPath::sequence(vec![65001])));
    assert_eq!(at.next_hop, Some(ip("10.0.0.1")));
    assert_eq!(at.local_pref, Some(100));
    assert_eq!(at.med, Some(5));
    assert_eq!(at.originator_id, None);
}

#[test]
fn no_ibgp_to_ibgp_without_reflection_and_never_back_to_the_source() {
    let mut rib = rib(false);
    let mut to4 = out(&rib, 4, Duration::ZERO);
    let u = through(
        &mut rib,
        3,
        &mut to4,
        &announce(&["10.1.0.0/16"], attrs(&[]), "10.0.0.3"),
    );
    assert!(u.is_empty());
    let mut to1 = out(&rib, 1, Duration::ZERO);
    let u = through(
        &mut rib,
        1,
        &mut to1,
        &announce(&["10.2.0.0/16"], attrs(&[65001]), "10.0.0.1"),
    );
    assert!(u.is_empty());
}

#[test]
fn route_reflection_client_to_all_non_client_to_clients() {
    let mut rib = rib(true);
    let changes = rib.apply_update(PeerId(5), &announce(&["10.5.0.0/16"], attrs(&[]), "10.0.0.5"), T);
    // Client 5 → non-client 4 and client 6, with ORIGINATOR_ID and CLUSTER_LIST.
    for target in [4, 6] {
        let mut to = out(&rib, target, Duration::ZERO);
        to.best_changed(&changes);
        let u = to.take_updates(T).unwrap();
        assert_eq!(u.len(), 1, "to {target}");
        assert_eq!(u[0].attributes.originator_id, Some(ip("192.0.2.5")));
        assert_eq!(u[0].attributes.cluster_list, vec![ip(CLUSTER)]);
        assert_eq!(u[0].attributes.next_hop, Some(ip("10.0.0.5")));
    }
    // Non-client 3 → client 6 only, not to non-client 4.
    let changes = rib.apply_update(PeerId(3), &announce(&["10.3.0.0/16"], attrs(&[]), "10.0.0.3"), T);
    let mut to6 = out(&rib, 6, Duration::ZERO);
    to6.best_changed(&changes);
    assert_eq!(to6.take_updates(T).unwrap().len(), 1);
    let mut to4 = out(&rib, 4, Duration::ZERO);
    to4.best_changed(&changes);
    assert!(to4.take_updates(T).unwrap().is_empty());
    // To eBGP the reflection attributes go away.
    let mut to2 = out(&rib, 2, Duration::ZERO);
    to2.initial_dump(&rib);
    let u = to2.take_updates(T).unwrap();
    assert!(
        u.iter()
            .all(|u| u.attributes.originator_id.is_none() && u.attributes.cluster_list.is_empty())
    );
}

#[test]
fn reflection_loops_are_dropped_on_receipt() {
    let mut rib = rib(true);
    let own_originator = PathAttributes {
        originator_id: Some(ip(ROUTER_ID)),
        ..attrs(&[])
    };
    assert!(
        rib.apply_update(PeerId(5), &announce(&["10.5.0.0/16"], own_originator, "10.0.0.5"), T)
            .is_empty()
    );
    let own_cluster = PathAttributes {
        originator_id: Some(ip("192.0.2.77")),
        cluster_list: vec![ip("192.0.2.99"), ip(CLUSTER)],
        ..attrs(&[])
    };
    assert!(
        rib.apply_update(PeerId(3), &announce(&["10.6.0.0/16"], own_cluster, "10.0.0.3"), T)
            .is_empty()
    );
    assert!(rib.best(&RouteKey::Prefix("10.6.0.0/16".parse().unwrap())).is_none());
}

#[test]
fn mrai_holds_updates_until_due() {
    let mut rib = rib(false);
    let mut to = out(&rib, 2, Duration::from_secs(5));
    let c = rib.apply_update(PeerId(1), &announce(&["10.1.0.0/16"], attrs(&[65001]), "10.0.0.1"), T);
    to.best_changed(&c);
    assert!(to.due(T));
    assert_eq!(to.take_updates(T).unwrap().len(), 1);
    let t1 = Time::from_millis(1000);
    let c = rib.apply_update(PeerId(1), &withdraw(&["10.1.0.0/16"]), t1);
    to.best_changed(&c);
    assert!(!to.due(t1));
    assert!(to.take_updates(t1).unwrap().is_empty());
    assert_eq!(to.next_due(), Some(Time::from_millis(5000)));
    let u = to.take_updates(Time::from_millis(5000)).unwrap();
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].withdrawn, vec![net("10.1.0.0/16")]);
    assert_eq!(to.advertised_count(), 0);
    assert_eq!(to.next_due(), None);
}

#[test]
fn flapping_within_mrai_sends_nothing() {
    let mut rib = rib(false);
    let mut to = out(&rib, 2, Duration::from_secs(5));
    to.take_updates(T).unwrap();
    let mut updates = Vec::new();
    let t1 = Time::from_millis(10);
    // Announce then withdraw before the first batch: the queue cancels out.
    let c = rib.apply_update(PeerId(1), &announce(&["10.1.0.0/16"], attrs(&[65001]), "10.0.0.1"), t1);
    to.best_changed(&c);
    let c = rib.apply_update(PeerId(1), &withdraw(&["10.1.0.0/16"]), t1);
    to.best_changed(&c);
    updates.extend(to.take_updates(Time::from_millis(6000)).unwrap());
    assert!(updates.is_empty());
}

#[test]
fn initial_dump_ends_with_end_of_rib() {
    let mut rib = rib(false);
    rib.apply_update(
        PeerId(1),
        &announce(&["10.1.0.0/16", "10.2.0.0/16"], attrs(&[65001]), "10.0.0.1"),
        T,
    );
    let mut to = out(&rib, 2, Duration::ZERO);
    to.initial_dump(&rib);
    let u = to.take_updates(T).unwrap();
    assert_eq!(u.len(), 4);
    assert_eq!(u[0].nlri.len(), 2);
    let eors: Vec<Family> = u[1..].iter().filter_map(Update::end_of_rib_family).collect();
    assert_eq!(eors, vec![Family::Ipv4Unicast, Family::Vpnv4, Family::L2vpnEvpn]);
    assert!(!to.has_pending());
}

#[test]
fn locally_originated_route_gets_next_hop_self_and_own_as() {
    use std::sync::Arc;
    use weft_bgp::rib::Path;
    use weft_bgp::{NextHop, Nlri};
    let mut rib = rib(false);
    let local = Path {
        peer: PeerId::LOCAL,
        peer_info: PeerInfo::local(LOCAL_AS, ip(ROUTER_ID)),
        nlri: Nlri::Prefix(net("203.0.113.0/24")),
        attributes: Arc::new(PathAttributes {
            med: Some(7),
            ..attrs(&[])
        }),
        next_hop: Some(NextHop::new(IpAddr::V4(ip("0.0.0.0")))),
        path_id: None,
        received_at: T,
        stale: false,
    };
    let c = rib.insert(local);
    let mut to2 = out(&rib, 2, Duration::ZERO);
    to2.best_changed(&c);
    let u = to2.take_updates(T).unwrap();
    assert_eq!(u[0].attributes.as_path, Some(AsPath::sequence(vec![LOCAL_AS])));
    assert_eq!(u[0].attributes.med, Some(7), "a MED this AS set goes out");
    let mut to3 = out(&rib, 3, Duration::ZERO);
    to3.best_changed(&c);
    let u = to3.take_updates(T).unwrap();
    assert_eq!(u[0].attributes.next_hop, Some(ip("10.0.0.100")));
    assert_eq!(u[0].attributes.as_path, Some(AsPath::default()));
}

#[test]
fn add_path_send_carries_a_path_identifier() {
    let mut rib = rib(false);
    let mut cfg = out(&rib, 2, Duration::ZERO).config().clone();
    cfg.caps.add_path.insert(Family::Ipv4Unicast);
    let mut to = AdjRibOut::new(cfg);
    let u = through(
        &mut rib,
        1,
        &mut to,
        &announce(&["10.1.0.0/16"], attrs(&[65001]), "10.0.0.1"),
    );
    assert_eq!(u[0].nlri[0].path_id, Some(1));
    Message::Update(u[0].clone()).encode(&to.config().caps).unwrap();
}

#[test]
fn four_octet_ases_reach_a_two_octet_peer_through_as4_path() {
    let mut rib = rib(false);
    let mut cfg = out(&rib, 2, Duration::ZERO).config().clone();
    cfg.caps.four_octet_as = false;
    let mut to = AdjRibOut::new(cfg);
    let u = through(
        &mut rib,
        1,
        &mut to,
        &announce(&["10.1.0.0/16"], attrs(&[4_200_000_001]), "10.0.0.1"),
    );
    assert_eq!(
        u[0].attributes.as4_path,
        Some(AsPath::sequence(vec![LOCAL_AS, 4_200_000_001]))
    );
    let caps = to.config().caps.clone();
    let bytes = Message::Update(u[0].clone()).encode(&caps).unwrap();
    let d = weft_bgp::decode_message(&bytes, &caps).unwrap();
    let Message::Update(back) = d.message else {
        panic!("not an UPDATE")
    };
    assert_eq!(
        back.attributes.effective_as_path(),
        Some(AsPath::sequence(vec![LOCAL_AS, 4_200_000_001]))
    );
}

#[test]
fn ipv6_routes_over_an_ipv4_session_get_an_ipv4_mapped_next_hop() {
    // RFC 4659 §3.2.1.1 / RFC 4798 §2: the 16-octet next hop of an IPv6 family, from the IPv4
    // session address; before, the UPDATE failed to encode and the batch was lost.
    let mut rib = rib(false);
    let local = weft_bgp::rib::Path {
        peer: PeerId::LOCAL,
        peer_info: PeerInfo::local(LOCAL_AS, ip(ROUTER_ID)),
        nlri: weft_bgp::Nlri::Prefix(weft_bgp::nlri::Prefix::new("2001:db8:1::/48".parse().unwrap())),
        attributes: std::sync::Arc::new(attrs(&[])),
        next_hop: None,
        path_id: None,
        received_at: T,
        stale: false,
    };
    let changes = rib.insert(local);
    let mut to = out(&rib, 2, Duration::ZERO);
    let mut cfg = to.config().clone();
    cfg.families.insert(Family::Ipv6Unicast);
    to = AdjRibOut::new(cfg);
    to.best_changed(&changes);
    let updates = to.take_updates(T).unwrap();
    assert_eq!(updates.len(), 1, "{updates:?}");
    let mp = updates[0].attributes.mp_reach.as_ref().unwrap();
    assert_eq!(mp.next_hop.address, "::ffff:10.0.0.100".parse::<IpAddr>().unwrap());
    Message::Update(updates[0].clone())
        .encode(&SessionCaps::default())
        .unwrap();

    // With an IPv6 address configured for NEXT_HOP self, that one (RFC 2545 §3); IPv4 routes
    // keep the session address.
    let v4_local = weft_bgp::rib::Path {
        nlri: weft_bgp::Nlri::Prefix(weft_bgp::nlri::Prefix::new("198.51.100.0/24".parse().unwrap())),
        ..rib.paths(&RouteKey::Prefix("2001:db8:1::/48".parse().unwrap()))[0].clone()
    };
    rib.insert(v4_local);
    let mut cfg = to.config().clone();
    cfg.families.insert(Family::Ipv4Unicast);
    let mut to = AdjRibOut::new(cfg).with_ipv6_next_hop(Some("2001:db8::100".parse().unwrap()));
    to.initial_dump(&rib);
    let updates = to.take_updates(T).unwrap();
    let v6 = updates
        .iter()
        .find_map(|u| u.attributes.mp_reach.as_ref())
        .expect("the IPv6 route");
    assert_eq!(v6.next_hop.address, "2001:db8::100".parse::<IpAddr>().unwrap());
    let v4 = updates
        .iter()
        .find_map(|u| u.attributes.next_hop)
        .expect("an IPv4 route");
    assert_eq!(v4, ip("10.0.0.100"));
}

/// The path identifiers of the NLRI announced and withdrawn in `updates`.
fn path_ids(updates: &[Update]) -> (Vec<Option<u32>>, Vec<Option<u32>>) {
    let mut announced = Vec::new();
    let mut withdrawn = Vec::new();
    for u in updates {
        announced.extend(u.nlri.iter().map(|p| p.path_id));
        withdrawn.extend(u.withdrawn.iter().map(|p| p.path_id));
    }
    announced.sort();
    withdrawn.sort();
    (announced, withdrawn)
}

#[test]
fn add_path_send_advertises_the_next_paths_with_their_own_identifiers() {
    // RFC 7911: best with path id 1, the next in decision order with 2; a path that goes
    // withdraws its identifier, and a peer without ADD-PATH send negotiated gets the best only.
    let mut rib = rib(false);
    rib.track_path_changes();
    let base = out(&rib, 3, Duration::ZERO);
    let mut cfg = base.config().clone();
    cfg.caps.add_path = BTreeSet::from([Family::Ipv4Unicast]);
    let mut to = AdjRibOut::new(cfg).with_add_path_send(2);
    let mut plain = out(&rib, 4, Duration::ZERO).with_add_path_send(2);
    let p = "198.51.100.0/24";
    let mut feed = |rib: &mut Rib, from: u32, u: &weft_bgp::DecodedUpdate| {
        let changes = rib.apply_update(PeerId(from), u, T);
        let keys = rib.take_path_changes();
        let mut got = Vec::new();
        for adj in [&mut to, &mut plain] {
            adj.best_changed(&changes);
            adj.paths_changed(&keys, rib);
            got.push(adj.take_updates(T).unwrap());
        }
        got
    };
    let got = feed(&mut rib, 1, &announce(&[p], attrs(&[65001]), "10.0.0.1"));
    assert_eq!(path_ids(&got[0]), (vec![Some(1)], vec![]));
    assert_eq!(path_ids(&got[1]), (vec![None], vec![]));
    // A longer path from peer 2: second best, path id 2.
    let got = feed(&mut rib, 2, &announce(&[p], attrs(&[65002, 65010]), "10.0.0.2"));
    assert_eq!(path_ids(&got[0]), (vec![Some(2)], vec![]));
    assert!(got[1].is_empty(), "{:?}", got[1]);
    let second = got[0][0].clone();
    assert_eq!(second.attributes.as_path, Some(AsPath::sequence(vec![65002, 65010])));
    // Peer 2's path goes: id 2 is withdrawn, id 1 stays.
    let got = feed(&mut rib, 2, &withdraw(&[p]));
    assert_eq!(path_ids(&got[0]), (vec![], vec![Some(2)]));
    // The best goes: peer 2's is gone too, so id 1 is withdrawn.
    let got = feed(&mut rib, 1, &withdraw(&[p]));
    assert_eq!(path_ids(&got[0]), (vec![], vec![Some(1)]));
    assert_eq!(path_ids(&got[1]), (vec![], vec![None]));
}

/// The Adj-RIB-Out keeps no copy of what it sent: changes queued between two batches that undo
/// each other send nothing, a flap of a route the peer has sends nothing, and a withdrawal goes
/// for what the peer really has (RFC 4271 §9.2: nothing the peer already has, nothing it never
/// had).
#[test]
fn changes_that_undo_each_other_send_nothing() {
    let mut rib = rib(false);
    let mut to = out(&rib, 2, Duration::from_secs(5));
    let key = RouteKey::Prefix("10.1.0.0/16".parse().unwrap());
    let a = announce(&["10.1.0.0/16"], attrs(&[65001]), "10.0.0.1");
    to.best_changed(&rib.apply_update(PeerId(1), &a, T));
    assert_eq!(to.take_updates(T).unwrap().len(), 1);
    assert!(to.advertised(&key, &rib).is_some());

    // Withdrawn and announced again, the same, before the next batch: nothing goes.
    let t1 = Time::from_millis(1000);
    to.best_changed(&rib.apply_update(PeerId(1), &withdraw(&["10.1.0.0/16"]), t1));
    to.best_changed(&rib.apply_update(PeerId(1), &a, t1));
    assert!(to.take_updates(Time::from_millis(5000)).unwrap().is_empty());
    assert_eq!(to.advertised_count(), 1);
    // And it started no interval: a real change goes at once.
    let t2 = Time::from_millis(5001);
    assert!(to.next_due().is_none());
    // A route announced and withdrawn within one batch was never sent: nothing goes.
    to.best_changed(&rib.apply_update(PeerId(1), &announce(&["10.2.0.0/16"], attrs(&[65001]), "10.0.0.1"), t2));
    to.best_changed(&rib.apply_update(PeerId(1), &withdraw(&["10.2.0.0/16"]), t2));
    assert!(to.take_updates(t2).unwrap().is_empty());
    // Another peer's better path replaces the route: one announcement, no withdrawal.
    let better = announce(&["10.1.0.0/16"], attrs(&[]), "10.0.0.3");
    to.best_changed(&rib.apply_update(PeerId(3), &better, t2));
    let sent = to.take_updates(Time::from_millis(20_000)).unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].withdrawn.is_empty());
    assert_eq!(sent[0].nlri, vec![net("10.1.0.0/16")]);
    // Both paths gone: one withdrawal of what the peer has.
    let t3 = Time::from_millis(30_000);
    to.best_changed(&rib.apply_update(PeerId(3), &withdraw(&["10.1.0.0/16"]), t3));
    to.best_changed(&rib.apply_update(PeerId(1), &withdraw(&["10.1.0.0/16"]), t3));
    let sent = to.take_updates(t3).unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].withdrawn, vec![net("10.1.0.0/16")]);
    assert_eq!(to.advertised_count(), 0);
    assert!(to.advertised(&key, &rib).is_none());
}

/// A batch of changes whose every source a peer refuses (here: its own routes, split horizon)
/// is passed over at once; other peers get it, and a peer with changes queued still looks.
#[test]
fn batches_from_refused_sources_are_passed_over() {
    let mut rib = rib(false);
    let mut from = out(&rib, 1, Duration::ZERO);
    let mut other = out(&rib, 2, Duration::ZERO);
    let prefixes = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"];
    let changes = rib.apply_update(PeerId(1), &announce(&prefixes, attrs(&[65001]), "10.0.0.1"), T);
    let sources = weft_bgp::rib::sources(&changes);
    assert_eq!(sources.as_ref().map(|s| s.len()), Some(1), "one UPDATE, one source");
    from.best_changed_from(&changes, sources.as_ref());
    other.best_changed_from(&changes, sources.as_ref());
    assert!(from.take_updates(T).unwrap().is_empty());
    let sent = other.take_updates(T).unwrap();
    assert_eq!(sent.iter().map(|u| u.nlri.len()).sum::<usize>(), 3);

    // Peer 2 has a change queued when peer 1's withdrawal comes: it is not passed over.
    let c = rib.apply_update(PeerId(2), &announce(&["10.9.0.0/16"], attrs(&[65002]), "10.0.0.2"), T);
    from.best_changed_from(&c, weft_bgp::rib::sources(&c).as_ref());
    let c = rib.apply_update(PeerId(1), &withdraw(&prefixes), T);
    let s = weft_bgp::rib::sources(&c);
    from.best_changed_from(&c, s.as_ref());
    other.best_changed_from(&c, s.as_ref());
    let to_from = from.take_updates(T).unwrap();
    assert_eq!(to_from.len(), 1, "{to_from:?}");
    assert_eq!(to_from[0].nlri, vec![net("10.9.0.0/16")]);
    let to_other = other.take_updates(T).unwrap();
    assert_eq!(to_other.iter().map(|u| u.withdrawn.len()).sum::<usize>(), 3);
}
