//! ADD-PATH (RFC 7911): Weft receives several paths of one prefix from one peer, each with its
//! path identifier, held side by side in its RIB (the peer's received count) with the best one
//! chosen among them; withdrawing one path identifier leaves the others.
//!
//! - GoBGP originates two paths of one prefix (`gobgp global rib add ... identifier N`) and
//!   sends both (`send-max`).
//! - FRR has two paths of one prefix, its own and one from GoBGP (a third node), and sends
//!   both (`addpath-tx-all-paths`).
//!
//! And Weft sends several paths ([`PeerSettings::add_path_send`]): two paths of one prefix from a
//! GoBGP reach FRR and a second GoBGP, both receiving with ADD-PATH, as two paths each
//! (`show bgp ipv4 unicast PREFIX json`, `gobgp global rib -j`); a withdrawn path goes.

mod common;

use std::net::IpAddr;

use common::*;
use weft_bgp::AddPathFamily;
use weft_bgp::family::Family as BgpFamily;
use weft_bgp::rib::RouteKey;
use weft_peers::{AddPath, Family, Frr, Gobgp, Neighbor, Peer, PeerNet, PeerSpec, Route, find_route};
use weft_speaker::PeerSettings;

fn receiving(mut s: PeerSettings) -> PeerSettings {
    s.config.add_path = vec![AddPathFamily::new(BgpFamily::Ipv4Unicast, true, false)];
    s
}

/// Every path Weft holds for `key`, the best first.
fn all_paths(weft: &Weft, key: &RouteKey) -> Vec<weft_speaker::RouteEntry> {
    weft.rt
        .block_on(weft.handle.all_paths(Some(BgpFamily::Ipv4Unicast)))
        .expect("all paths")
        .into_iter()
        .filter(|r| &r.key == key)
        .collect()
}

fn received(weft: &Weft, peer: IpAddr) -> usize {
    weft.peer(peer).prefixes[&BgpFamily::Ipv4Unicast].received
}

#[test]
fn gobgp_sends_two_paths_of_one_prefix() {
    let pnet = PeerNet::pair("wspap-gobgp");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let spec = PeerSpec::new(PEER_AS, b.ipv4)
        .neighbor(Neighbor::new(a.v4(), WEFT_AS, &[Family::Ipv4Unicast]).add_path(AddPath { receive: true, send: 8 }));
    let gobgp = Gobgp::start(&b.netns, &spec).expect("GoBGP starts");
    let weft = Weft::start(a);
    weft.add_peer(receiving(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast])));
    weft.wait_established(b.v4(), ESTABLISH);
    gobgp
        .wait_established(a.v4(), ESTABLISH)
        .expect("GoBGP's session is up");

    let prefix = "203.0.113.0/24";
    let third_party = "192.0.2.100";
    for (id, nh, med) in [("1", "192.0.2.2", "10"), ("2", third_party, "20")] {
        gobgp
            .cli(&[
                "global",
                "rib",
                "-a",
                "ipv4",
                "add",
                prefix,
                "identifier",
                id,
                "nexthop",
                nh,
                "med",
                med,
            ])
            .expect("gobgp global rib add");
    }
    let key = RouteKey::Prefix(net(prefix));
    weft.wait_status(b.v4(), "two paths from GoBGP", |s| {
        s.prefixes[&BgpFamily::Ipv4Unicast].received == 2
    });
    // The lower MED wins (same neighbouring AS, RFC 4271 §9.1.2.2 (c)).
    let best = weft.wait_route(BgpFamily::Ipv4Unicast, &key, true).expect("present");
    assert_eq!(best.path.attributes.med, Some(10), "{best:?}");
    assert!(best.path.path_id.is_some(), "no path identifier: {best:?}");
    // Both in the RIB, from GoBGP, with their own identifiers, next hops and MEDs.
    let paths = all_paths(&weft, &key);
    assert_eq!(paths.len(), 2, "{paths:#?}");
    assert!(paths[0].best && !paths[1].best, "{paths:#?}");
    assert!(paths.iter().all(|p| p.from == Some(b.v4())), "{paths:#?}");
    assert_ne!(paths[0].path.path_id, paths[1].path.path_id, "{paths:#?}");
    assert_eq!(paths[1].path.attributes.med, Some(20), "{paths:#?}");
    assert_eq!(paths[1].next_hop(), third_party.parse().ok(), "{paths:#?}");

    // Withdrawing the best path's identifier leaves the other one, which becomes best.
    gobgp
        .cli(&["global", "rib", "-a", "ipv4", "del", prefix, "identifier", "1"])
        .expect("gobgp global rib del");
    wait_for("the second path to become best", CONVERGE, || {
        let r = weft.routes(BgpFamily::Ipv4Unicast).into_iter().find(|r| r.key == key)?;
        (r.path.attributes.med == Some(20) && r.next_hop() == third_party.parse().ok()).then_some(())
    });
    assert_eq!(received(&weft, b.v4()), 1);
    gobgp
        .cli(&["global", "rib", "-a", "ipv4", "del", prefix, "identifier", "2"])
        .expect("gobgp global rib del");
    weft.wait_route(BgpFamily::Ipv4Unicast, &key, false);
    assert_eq!(weft.peer(b.v4()).session.established_transitions, 1);
}

#[test]
fn frr_sends_all_its_paths_of_one_prefix() {
    // Weft (n1) - FRR (n2, AS 64512) - GoBGP (n3, AS 64513) on one segment.
    let pnet = PeerNet::new("wspap-frr", 3);
    let (a, b, c) = (pnet.node(0), pnet.node(1), pnet.node(2));
    const GOBGP_AS: u32 = 64513;
    let frr_spec = PeerSpec::new(PEER_AS, b.ipv4)
        .neighbor(Neighbor::new(a.v4(), WEFT_AS, &[Family::Ipv4Unicast]).add_path(AddPath { receive: true, send: 8 }))
        .neighbor(Neighbor::new(c.v4(), GOBGP_AS, &[Family::Ipv4Unicast]));
    let frr = Frr::start(&b.netns, &frr_spec).expect("FRR starts");
    let gobgp_spec = PeerSpec::new(GOBGP_AS, c.ipv4).neighbor(Neighbor::new(b.v4(), PEER_AS, &[Family::Ipv4Unicast]));
    let gobgp = Gobgp::start(&c.netns, &gobgp_spec).expect("GoBGP starts");
    let weft = Weft::start(a);
    weft.add_peer(receiving(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast])));
    weft.wait_established(b.v4(), ESTABLISH);
    frr.wait_established(a.v4(), ESTABLISH)
        .expect("FRR's session with Weft");
    frr.wait_established(c.v4(), ESTABLISH)
        .expect("FRR's session with GoBGP");

    let route = Route::unicast(net("203.0.113.0/24"));
    frr.announce(&route).expect("FRR announces");
    gobgp.announce(&route).expect("GoBGP announces");
    // FRR holds both paths (its own and GoBGP's) ...
    frr.wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| {
        find_route(r, route.prefix, None).is_some_and(|p| p.from == Some(c.v4()))
    })
    .expect("FRR has GoBGP's path");
    // ... and sends both to Weft.
    weft.wait_status(b.v4(), "two paths from FRR", |s| {
        s.prefixes[&BgpFamily::Ipv4Unicast].received == 2
    });
    let key = RouteKey::Prefix(route.prefix);
    // FRR's own path (AS path 64512) is shorter than GoBGP's through FRR (64512 64513).
    let best = weft.wait_route(BgpFamily::Ipv4Unicast, &key, true).expect("present");
    assert_eq!(best.as_path(), vec![PEER_AS], "{best:?}");
    let paths = all_paths(&weft, &key);
    let as_paths: Vec<Vec<u32>> = paths.iter().map(|p| p.as_path()).collect();
    assert_eq!(as_paths, vec![vec![PEER_AS], vec![PEER_AS, GOBGP_AS]], "{paths:#?}");
    assert_ne!(paths[0].path.path_id, paths[1].path.path_id, "{paths:#?}");

    // FRR withdraws its own path: GoBGP's stays, through FRR.
    frr.withdraw(&route).expect("FRR withdraws");
    wait_for("GoBGP's path through FRR to become best", CONVERGE, || {
        let r = weft.routes(BgpFamily::Ipv4Unicast).into_iter().find(|r| r.key == key)?;
        (r.as_path() == vec![PEER_AS, GOBGP_AS]).then_some(())
    });
    assert_eq!(received(&weft, b.v4()), 1);
}

#[test]
fn weft_sends_both_paths_to_frr_and_gobgp() {
    // Weft (n1, AS 64511); the source GoBGP (n2, AS 64512); FRR (n3, AS 64513); a receiving
    // GoBGP (n4, AS 64514).
    let pnet = PeerNet::new("wspap-send", 4);
    let (a, src, f, g) = (pnet.node(0), pnet.node(1), pnet.node(2), pnet.node(3));
    let ap = AddPath { receive: true, send: 8 };
    let source = Gobgp::start(
        &src.netns,
        &PeerSpec::new(PEER_AS, src.ipv4).neighbor(Neighbor::new(a.v4(), WEFT_AS, &[Family::Ipv4Unicast]).add_path(ap)),
    )
    .expect("the source GoBGP starts");
    let frr = Frr::start(
        &f.netns,
        &PeerSpec::new(64513, f.ipv4).neighbor(Neighbor::new(a.v4(), WEFT_AS, &[Family::Ipv4Unicast]).add_path(ap)),
    )
    .expect("FRR starts");
    let gobgp = Gobgp::start(
        &g.netns,
        &PeerSpec::new(64514, g.ipv4).neighbor(
            Neighbor::new(a.v4(), WEFT_AS, &[Family::Ipv4Unicast]).add_path(AddPath { receive: true, send: 0 }),
        ),
    )
    .expect("the receiving GoBGP starts");
    let weft = Weft::start(a);
    weft.add_peer(receiving(settings(a, src.v4(), &[BgpFamily::Ipv4Unicast])));
    for (node, asn) in [(f, 64513), (g, 64514)] {
        weft.add_peer(settings_as(a, node.v4(), asn, &[BgpFamily::Ipv4Unicast]).add_path_send(4));
    }
    for peer in [src.v4(), f.v4(), g.v4()] {
        weft.wait_established(peer, ESTABLISH);
    }
    frr.wait_established(a.v4(), ESTABLISH).expect("FRR's session is up");
    gobgp
        .wait_established(a.v4(), ESTABLISH)
        .expect("GoBGP's session is up");

    let prefix = "203.0.113.0/24";
    for (id, nh, med) in [("1", "192.0.2.2", "10"), ("2", "192.0.2.100", "20")] {
        source
            .cli(&[
                "global",
                "rib",
                "-a",
                "ipv4",
                "add",
                prefix,
                "identifier",
                id,
                "nexthop",
                nh,
                "med",
                med,
            ])
            .expect("gobgp global rib add");
    }
    weft.wait_status(src.v4(), "two paths from the source", |s| {
        s.prefixes[&BgpFamily::Ipv4Unicast].received == 2
    });
    let from_weft = |routes: &[Route]| {
        routes
            .iter()
            .filter(|r| r.prefix == net(prefix) && r.from == Some(a.v4()))
            .cloned()
            .collect::<Vec<_>>()
    };
    for daemon in [&frr as &dyn Peer, &gobgp as &dyn Peer] {
        let got = daemon
            .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| from_weft(r).len() == 2)
            .unwrap_or_else(|e| panic!("{} gets both paths: {e}", daemon.kind().name()));
        for r in from_weft(&got) {
            assert_eq!(r.as_path, vec![WEFT_AS, PEER_AS], "{r:?}");
            assert_eq!(r.next_hop, Some(a.v4()), "{r:?}");
        }
    }

    // One path goes at the source: one stays at each receiver.
    source
        .cli(&["global", "rib", "-a", "ipv4", "del", prefix, "identifier", "2"])
        .expect("gobgp global rib del");
    for daemon in [&frr as &dyn Peer, &gobgp as &dyn Peer] {
        daemon
            .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| from_weft(r).len() == 1)
            .unwrap_or_else(|e| panic!("{} keeps one path: {e}", daemon.kind().name()));
    }
    source
        .cli(&["global", "rib", "-a", "ipv4", "del", prefix, "identifier", "1"])
        .expect("gobgp global rib del");
    for daemon in [&frr as &dyn Peer, &gobgp as &dyn Peer] {
        daemon
            .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| from_weft(r).is_empty())
            .unwrap_or_else(|e| panic!("{} drops the prefix: {e}", daemon.kind().name()));
    }
}
