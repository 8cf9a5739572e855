//! Sessions over IPv6 transport (RFC 4760 / RFC 2545) with FRR, BIRD and GoBGP: the session comes
//! up between 2001:db8::1 and 2001:db8::2 and IPv6 unicast routes go both ways, checked in the
//! daemon's own view (`vtysh show bgp ... json`, `birdc show route`, `gobgp -j`) and in ours.
//!
//! And IPv6 and VPNv6 routes on an IPv4 session with NEXT_HOP self: by default the IPv4-mapped
//! session address (RFC 4659 §3.2.1.1), which FRR shows as `::ffff:192.0.2.1` and GoBGP as
//! `192.0.2.1`; BIRD 2 refuses it ("Invalid NEXT_HOP attribute - mismatched address family
//! (192.0.2.1 for ipv6)", treat-as-withdraw), so for BIRD the speaker is given its IPv6 address
//! ([`weft_speaker::PeerSettings::ipv6_next_hop`]).

mod common;

use common::*;
use weft_bgp::family::Family as BgpFamily;
use weft_bgp::fsm::State;
use weft_bgp::rib::RouteKey;
use weft_peers::{Bird, Community, Family, Frr, Gobgp, Peer, PeerNet, Route, find_route};

fn over_ipv6(test: &str, start: impl Fn(&str, &weft_peers::PeerSpec) -> Box<dyn Peer>) {
    let pnet = PeerNet::pair(test);
    let (a, b) = (pnet.node(0), pnet.node(1));
    let daemon = start(&b.netns, &peer_spec(b, a.v6(), &[Family::Ipv6Unicast]));
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v6(), &[BgpFamily::Ipv6Unicast]));
    weft.wait_established(b.v6(), ESTABLISH);
    daemon
        .wait_established(a.v6(), ESTABLISH)
        .expect("the daemon's session is up");

    // Weft -> daemon.
    let ours = net("2001:db8:100::/48");
    weft.rt.block_on(weft.handle.announce_prefix(ours)).expect("announce");
    let got = daemon
        .wait_for_routes(Family::Ipv6Unicast, CONVERGE, &|r| find_route(r, ours, None).is_some())
        .expect("the daemon gets our IPv6 route");
    let r = find_route(&got, ours, None).expect("found");
    assert_eq!(r.as_path, vec![WEFT_AS], "{r:?}");
    assert_eq!(r.next_hop, Some(a.v6()), "{r:?}");
    assert_eq!(r.from, Some(a.v6()), "{r:?}");

    // Daemon -> Weft.
    let theirs = Route::unicast(net("2001:db8:200::/48")).with_community(Community(PEER_AS as u16, 7));
    daemon.announce(&theirs).expect("the daemon announces");
    let key = RouteKey::Prefix(theirs.prefix);
    let e = weft.wait_route(BgpFamily::Ipv6Unicast, &key, true).expect("present");
    assert_eq!(e.as_path(), vec![PEER_AS]);
    assert_eq!(e.next_hop(), Some(b.v6()), "{e:?}");
    assert_eq!(e.from, Some(b.v6()));
    let communities: Vec<u32> = e.path.attributes.communities.iter().map(|c| c.0).collect();
    assert_eq!(communities, vec![(PEER_AS << 16) | 7], "{e:?}");

    // Withdrawals both ways.
    assert!(weft.rt.block_on(weft.handle.withdraw_prefix(ours)).expect("withdraw"));
    daemon
        .wait_for_routes(Family::Ipv6Unicast, CONVERGE, &|r| find_route(r, ours, None).is_none())
        .expect("the daemon drops our route");
    daemon.withdraw(&theirs).expect("the daemon withdraws");
    weft.wait_route(BgpFamily::Ipv6Unicast, &key, false);
    let status = weft.peer(b.v6());
    assert_eq!(status.session.state, State::Established);
    assert_eq!(status.session.established_transitions, 1, "{status:?}");
}

#[test]
fn frr_over_ipv6() {
    over_ipv6("wsp6-frr", |ns, spec| {
        Box::new(Frr::start(ns, spec).expect("FRR starts"))
    });
}

#[test]
fn bird_over_ipv6() {
    over_ipv6("wsp6-bird", |ns, spec| {
        Box::new(Bird::start(ns, spec).expect("BIRD starts"))
    });
}

#[test]
fn gobgp_over_ipv6() {
    over_ipv6("wsp6-gobgp", |ns, spec| {
        Box::new(Gobgp::start(ns, spec).expect("GoBGP starts"))
    });
}

/// IPv6 unicast and VPNv6 from Weft with NEXT_HOP self over the IPv4 session.
fn ipv6_next_hop_self_over_ipv4(
    test: &str,
    configured: bool,
    expect: impl Fn(&weft_peers::Node) -> std::net::IpAddr,
    start: impl Fn(&str, &weft_peers::PeerSpec) -> Box<dyn Peer>,
) {
    let pnet = PeerNet::pair(test);
    let (a, b) = (pnet.node(0), pnet.node(1));
    let daemon = start(&b.netns, &peer_spec(b, a.v4(), &[Family::Ipv6Unicast, Family::Vpnv6]));
    let weft = Weft::start(a);
    let mut s = settings(a, b.v4(), &[BgpFamily::Ipv6Unicast, BgpFamily::Vpnv6]);
    if configured {
        s = s.ipv6_next_hop(a.ipv6);
    }
    weft.add_peer(s);
    weft.wait_established(b.v4(), ESTABLISH);
    daemon
        .wait_established(a.v4(), ESTABLISH)
        .expect("the daemon's session is up");
    let unicast = net("2001:db8:100::/48");
    weft.rt
        .block_on(weft.handle.announce_prefix(unicast))
        .expect("announce");
    let vpn = net("2001:db8:300::/48");
    let nlri = weft_bgp::Nlri::Vpn(weft_bgp::VpnPrefix::new(
        weft_bgp::Label::mpls(100, true).expect("a label"),
        "64511:1".parse().expect("an RD"),
        vpn,
    ));
    let attributes = weft_bgp::PathAttributes {
        origin: Some(weft_bgp::Origin::Igp),
        as_path: Some(Default::default()),
        extended_communities: vec![weft_bgp::attribute::ExtendedCommunity::RouteTarget(
            "64511:100".parse().expect("an RT"),
        )],
        ..Default::default()
    };
    weft.rt
        .block_on(weft.handle.announce(nlri, attributes, None))
        .expect("announce");
    let want = expect(a);
    for (family, prefix, rd_) in [
        (Family::Ipv6Unicast, unicast, None),
        (Family::Vpnv6, vpn, Some(rd("64511:1"))),
    ] {
        let got = daemon
            .wait_for_routes(family, CONVERGE, &|r| find_route(r, prefix, rd_).is_some())
            .unwrap_or_else(|e| panic!("the daemon gets {prefix}: {e}"));
        let r = find_route(&got, prefix, rd_).expect("found");
        assert_eq!(r.next_hop, Some(want), "{r:?}");
    }
}

#[test]
fn frr_takes_the_ipv4_mapped_next_hop() {
    ipv6_next_hop_self_over_ipv4(
        "wsp6nh-frr",
        false,
        |a| std::net::IpAddr::V6(a.ipv4.to_ipv6_mapped()),
        |ns, spec| Box::new(Frr::start(ns, spec).expect("FRR starts")),
    );
}

#[test]
fn gobgp_takes_the_ipv4_mapped_next_hop() {
    // GoBGP shows an IPv4-mapped next hop as the IPv4 address.
    ipv6_next_hop_self_over_ipv4(
        "wsp6nh-gobgp",
        false,
        |a| a.v4(),
        |ns, spec| Box::new(Gobgp::start(ns, spec).expect("GoBGP starts")),
    );
}

#[test]
fn bird_takes_the_configured_ipv6_next_hop() {
    ipv6_next_hop_self_over_ipv4(
        "wsp6nh-bird",
        true,
        |a| a.v6(),
        |ns, spec| Box::new(Bird::start(ns, spec).expect("BIRD starts")),
    );
}
