//! Real daemons against each other, in namespaces made by each test (needs root and the Debian
//! packages frr, bird2, gobgpd, exabgp). They show the harness works before Weft's own BGP
//! speaker exists; later tests put Weft in one of the seats.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use weft_peers::{
    AdminValue, Bird, Community, ENCAP_VXLAN, Error, Exabgp, Family, Frr, Gobgp, Neighbor, Peer, PeerNet, PeerSpec,
    RawAttribute, Route, SessionState, find_route,
};

const ESTABLISH: Duration = Duration::from_secs(30);
const CONVERGE: Duration = Duration::from_secs(15);

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn rd(s: &str) -> AdminValue {
    s.parse().unwrap()
}

fn has(prefix: &str, rd_: Option<&str>) -> impl Fn(&[Route]) -> bool {
    let (p, r) = (net(prefix), rd_.map(rd));
    move |routes: &[Route]| find_route(routes, p, r).is_some()
}

fn lacks(prefix: &str, rd_: Option<&str>) -> impl Fn(&[Route]) -> bool {
    let h = has(prefix, rd_);
    move |routes: &[Route]| !h(routes)
}

fn spec(asn: u32, node: &weft_peers::Node, neighbor: IpAddr, remote_as: u32, families: &[Family]) -> PeerSpec {
    PeerSpec::new(asn, node.ipv4).neighbor(Neighbor::new(neighbor, remote_as, families))
}

#[test]
fn frr_receives_vpnv4_and_evpn_type5_from_gobgp_and_sees_withdraws() {
    let net_ = PeerNet::pair("frr-gobgp");
    let (a, b) = (net_.node(0), net_.node(1));
    let families = [Family::Vpnv4, Family::Evpn];
    let frr = Frr::start(&a.netns, &spec(64511, a, b.v4(), 64512, &families)).unwrap();
    let gobgp = Gobgp::start(&b.netns, &spec(64512, b, a.v4(), 64511, &families)).unwrap();
    frr.wait_established(b.v4(), ESTABLISH).unwrap();
    gobgp.wait_established(a.v4(), ESTABLISH).unwrap();

    let vpn = Route::vpnv4(rd("64512:1"), net("198.51.100.0/24"), 100).with_route_target(rd("64512:100"));
    let mac = "02:00:00:00:00:02".parse().unwrap();
    let evpn = Route::evpn_prefix(rd("64512:2"), net("203.0.113.0/24"), 10100)
        .with_route_target(rd("64512:200"))
        .with_encapsulation(ENCAP_VXLAN)
        .with_router_mac(mac);
    gobgp.announce(&vpn).unwrap();
    gobgp.announce(&evpn).unwrap();

    let got = frr
        .wait_for_routes(Family::Vpnv4, CONVERGE, &has("198.51.100.0/24", Some("64512:1")))
        .unwrap();
    let r = find_route(&got, vpn.prefix, vpn.rd).unwrap();
    assert_eq!(r.label, Some(100), "{r:?}");
    assert_eq!(r.route_targets(), vec![rd("64512:100")]);
    assert_eq!(r.next_hop, Some(b.v4()));
    assert_eq!(r.as_path, vec![64512]);
    assert_eq!(r.from, Some(b.v4()));

    let got = frr
        .wait_for_routes(Family::Evpn, CONVERGE, &has("203.0.113.0/24", Some("64512:2")))
        .unwrap();
    let r = find_route(&got, evpn.prefix, evpn.rd).unwrap();
    assert_eq!(r.label, Some(10100), "VNI: {r:?}");
    assert_eq!(r.route_targets(), vec![rd("64512:200")]);
    assert_eq!(r.router_mac(), Some(mac));
    assert_eq!(r.encapsulation(), Some(ENCAP_VXLAN));
    assert_eq!(r.next_hop, Some(b.v4()));

    // And the other way: FRR originates VPNv4 without a VRF.
    let back = Route::vpnv4(rd("64511:1"), net("198.51.100.128/25"), 200)
        .with_route_target(rd("64511:100"))
        .with_community(Community(64511, 7));
    frr.announce(&back).unwrap();
    let got = gobgp
        .wait_for_routes(Family::Vpnv4, CONVERGE, &has("198.51.100.128/25", Some("64511:1")))
        .unwrap();
    let r = find_route(&got, back.prefix, back.rd).unwrap();
    assert_eq!(r.label, Some(200), "{r:?}");
    assert_eq!(r.route_targets(), vec![rd("64511:100")]);
    assert_eq!(r.communities, vec![Community(64511, 7)]);
    assert_eq!(r.as_path, vec![64511]);
    assert_eq!(r.next_hop, Some(a.v4()));

    gobgp.withdraw(&vpn).unwrap();
    gobgp.withdraw(&evpn).unwrap();
    frr.withdraw(&back).unwrap();
    frr.wait_for_routes(Family::Vpnv4, CONVERGE, &lacks("198.51.100.0/24", Some("64512:1")))
        .unwrap();
    frr.wait_for_routes(Family::Evpn, CONVERGE, &lacks("203.0.113.0/24", Some("64512:2")))
        .unwrap();
    gobgp
        .wait_for_routes(Family::Vpnv4, CONVERGE, &lacks("198.51.100.128/25", Some("64511:1")))
        .unwrap();
    assert_eq!(frr.neighbor_state(b.v4()).unwrap().established_count, Some(1));
}

#[test]
fn bird_and_gobgp_exchange_vpnv4_both_ways() {
    let net_ = PeerNet::pair("bird-gobgp");
    let (a, b) = (net_.node(0), net_.node(1));
    let bird = Bird::start(&a.netns, &spec(64511, a, b.v4(), 64512, &[Family::Vpnv4])).unwrap();
    let gobgp = Gobgp::start(&b.netns, &spec(64512, b, a.v4(), 64511, &[Family::Vpnv4])).unwrap();
    bird.wait_established(b.v4(), ESTABLISH).unwrap();
    gobgp.wait_established(a.v4(), ESTABLISH).unwrap();

    // GoBGP -> BIRD.
    let to_bird = Route::vpnv4(rd("64512:1"), net("198.51.100.0/24"), 100)
        .with_route_target(rd("64512:100"))
        .with_community(Community(64512, 7));
    gobgp.announce(&to_bird).unwrap();
    let got = bird
        .wait_for_routes(Family::Vpnv4, CONVERGE, &has("198.51.100.0/24", Some("64512:1")))
        .unwrap();
    let r = find_route(&got, to_bird.prefix, to_bird.rd).unwrap();
    assert_eq!(r.label, Some(100), "{r:?}");
    assert_eq!(r.route_targets(), vec![rd("64512:100")]);
    assert_eq!(r.communities, vec![Community(64512, 7)]);
    assert_eq!(r.next_hop, Some(b.v4()));
    assert_eq!(r.as_path, vec![64512]);

    // BIRD -> GoBGP: BIRD 2.0 keeps the label only with a third-party next hop.
    let no_next_hop = Route::vpnv4(rd("64511:1"), net("203.0.113.0/24"), 200);
    assert!(matches!(bird.announce(&no_next_hop), Err(Error::Unsupported { .. })));
    let third_party: IpAddr = "192.0.2.100".parse().unwrap();
    let to_gobgp = no_next_hop
        .with_next_hop(third_party)
        .with_route_target(rd("64511:100"));
    bird.announce(&to_gobgp).unwrap();
    let got = gobgp
        .wait_for_routes(Family::Vpnv4, CONVERGE, &has("203.0.113.0/24", Some("64511:1")))
        .unwrap();
    let r = find_route(&got, to_gobgp.prefix, to_gobgp.rd).unwrap();
    assert_eq!(r.label, Some(200), "{r:?}");
    assert_eq!(r.next_hop, Some(third_party));
    assert_eq!(r.route_targets(), vec![rd("64511:100")]);
    assert_eq!(r.as_path, vec![64511]);

    gobgp.withdraw(&to_bird).unwrap();
    bird.withdraw(&to_gobgp).unwrap();
    bird.wait_for_routes(Family::Vpnv4, CONVERGE, &lacks("198.51.100.0/24", Some("64512:1")))
        .unwrap();
    gobgp
        .wait_for_routes(Family::Vpnv4, CONVERGE, &lacks("203.0.113.0/24", Some("64511:1")))
        .unwrap();
}

#[test]
fn frr_treats_a_malformed_extended_community_from_exabgp_as_withdraw() {
    let net_ = PeerNet::pair("exa-frr");
    let (a, b) = (net_.node(0), net_.node(1));
    // IPv4 unicast: its NLRI follows the path attributes. (With VPNv4, ExaBGP puts MP_REACH_NLRI
    // after the malformed attribute, and FRR 8.4 stops reading attributes at the first
    // treat-as-withdraw error, so it never sees that NLRI; with IPv4 unicast also negotiated it
    // then misreads the rest as IPv4 NLRI and resets the session.)
    let families = [Family::Ipv4Unicast];
    let frr = Frr::start(&a.netns, &spec(64511, a, b.v4(), 64512, &families)).unwrap();
    let exabgp = Exabgp::start(&b.netns, &spec(64512, b, a.v4(), 64511, &families)).unwrap();
    frr.wait_established(b.v4(), ESTABLISH).unwrap();
    exabgp.wait_established(a.v4(), ESTABLISH).unwrap();

    // EXTENDED_COMMUNITIES (16), optional transitive, length 2: it must be a multiple of 8.
    let bad_ext_community = RawAttribute {
        flags: 0xc0,
        code: 16,
        value: vec![0x01, 0x02],
    };
    let keep = Route::unicast(net("198.51.100.0/26")).with_community(Community(64512, 1));
    let victim = Route::unicast(net("198.51.100.64/26")).with_route_target(rd("64512:100"));
    exabgp.announce(&keep).unwrap();
    exabgp.announce(&victim).unwrap();
    let got = frr
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| {
            has("198.51.100.0/26", None)(r) && has("198.51.100.64/26", None)(r)
        })
        .unwrap();
    let v = find_route(&got, victim.prefix, None).unwrap();
    assert_eq!(v.route_targets(), vec![rd("64512:100")]);
    assert_eq!(v.next_hop, Some(b.v4()));

    // The same NLRI again, now with the malformed attribute: RFC 7606 says treat-as-withdraw,
    // not a session reset.
    let mut malformed = victim.clone();
    malformed.ext_communities.clear();
    exabgp
        .announce(&malformed.with_raw_attribute(bad_ext_community.clone()))
        .unwrap();
    let got = frr
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &lacks("198.51.100.64/26", None))
        .unwrap();
    assert!(
        find_route(&got, keep.prefix, None).is_some(),
        "the valid route stays: {got:#?}"
    );

    // A new prefix that only ever comes malformed never shows up. A valid UPDATE sent after it
    // shows when FRR has read past it.
    let never = Route::unicast(net("198.51.100.128/26")).with_raw_attribute(bad_ext_community);
    let sentinel = Route::unicast(net("198.51.100.192/26"));
    exabgp.announce(&never).unwrap();
    exabgp.announce(&sentinel).unwrap();
    let got = frr
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &has("198.51.100.192/26", None))
        .unwrap();
    assert!(find_route(&got, never.prefix, None).is_none(), "{got:#?}");

    // The session stayed up all along, on both sides.
    let frr_view = frr.neighbor_state(b.v4()).unwrap();
    assert_eq!(frr_view.state, SessionState::Established);
    assert_eq!(frr_view.established_count, Some(1), "FRR's session flapped");
    let exa_view = exabgp.neighbor_state(a.v4()).unwrap();
    assert_eq!(exa_view.state, SessionState::Established);
    assert_eq!(exa_view.established_count, Some(1), "ExaBGP's session flapped");
    assert!(
        frr.logs(200)
            .contains("EXT_COMMUNITIES, parse error - treating as withdrawal"),
        "{}",
        frr.logs(50)
    );
}

fn md5_pair(test: &str, frr_key: &str, gobgp_key: &str) -> (PeerNet, Frr, Gobgp) {
    let net_ = PeerNet::pair(test);
    let (a, b) = (net_.node(0).clone(), net_.node(1).clone());
    let f = [Family::Ipv4Unicast];
    let frr = Frr::start(
        &a.netns,
        &PeerSpec::new(64511, a.ipv4).neighbor(Neighbor::new(b.v4(), 64512, &f).password(frr_key)),
    )
    .unwrap();
    let gobgp = Gobgp::start(
        &b.netns,
        &PeerSpec::new(64512, b.ipv4).neighbor(Neighbor::new(a.v4(), 64511, &f).password(gobgp_key)),
    )
    .unwrap();
    (net_, frr, gobgp)
}

#[test]
fn tcp_md5_session_between_frr_and_gobgp_establishes() {
    let (net_, frr, gobgp) = md5_pair("md5-ok", "weft-Md5-key", "weft-Md5-key");
    let (a, b) = (net_.node(0), net_.node(1));
    frr.wait_established(b.v4(), ESTABLISH).unwrap();
    gobgp.wait_established(a.v4(), ESTABLISH).unwrap();
    // Routes flow over the signed session.
    gobgp
        .announce(&Route::unicast(net("198.51.100.0/24")).with_community(Community(64512, 1)))
        .unwrap();
    let got = frr
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &has("198.51.100.0/24", None))
        .unwrap();
    assert_eq!(got[0].communities, vec![Community(64512, 1)]);
}

#[test]
fn tcp_md5_with_mismatched_passwords_never_establishes() {
    let (net_, frr, gobgp) = md5_pair("md5-bad", "weft-key-one", "weft-key-two");
    let (a, b) = (net_.node(0), net_.node(1));
    // Both sides retry every 5 s; give them several rounds.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(12) {
        for (who, state) in [
            ("FRR", frr.neighbor_state(b.v4()).unwrap().state),
            ("GoBGP", gobgp.neighbor_state(a.v4()).unwrap().state),
        ] {
            assert_ne!(
                state,
                SessionState::Established,
                "{who} established with a wrong TCP MD5 key"
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(frr.wait_established(b.v4(), Duration::from_secs(1)).is_err());
}

#[test]
fn unicast_ipv4_and_ipv6_between_frr_bird_and_exabgp_on_one_segment() {
    let net_ = PeerNet::new("uni", 3);
    let (a, b, c) = (net_.node(0), net_.node(1), net_.node(2));
    // FRR in the middle: BIRD over IPv6 (IPv6 unicast), ExaBGP over IPv4 (IPv4 unicast).
    let frr = Frr::start(
        &a.netns,
        &PeerSpec::new(64511, a.ipv4)
            .neighbor(Neighbor::new(b.v6(), 64512, &[Family::Ipv6Unicast]).local_address(a.v6()))
            .neighbor(Neighbor::new(c.v4(), 64513, &[Family::Ipv4Unicast])),
    )
    .unwrap();
    let bird = Bird::start(
        &b.netns,
        &PeerSpec::new(64512, b.ipv4)
            .neighbor(Neighbor::new(a.v6(), 64511, &[Family::Ipv6Unicast]).local_address(b.v6())),
    )
    .unwrap();
    let exabgp = Exabgp::start(&c.netns, &spec(64513, c, a.v4(), 64511, &[Family::Ipv4Unicast])).unwrap();
    frr.wait_established(b.v6(), ESTABLISH).unwrap();
    frr.wait_established(c.v4(), ESTABLISH).unwrap();
    bird.wait_established(a.v6(), ESTABLISH).unwrap();
    exabgp.wait_established(a.v4(), ESTABLISH).unwrap();

    let from_bird = Route::unicast(net("2001:db8:100::/48")).with_community(Community(64512, 6));
    let from_exabgp = Route::unicast(net("198.51.100.0/24")).with_community(Community(64513, 5));
    let from_frr4 = Route::unicast(net("203.0.113.0/24")).with_community(Community(64511, 3));
    let from_frr6 = Route::unicast(net("2001:db8:200::/48"));
    bird.announce(&from_bird).unwrap();
    exabgp.announce(&from_exabgp).unwrap();
    frr.announce(&from_frr4).unwrap();
    frr.announce(&from_frr6).unwrap();

    let got = frr
        .wait_for_routes(Family::Ipv6Unicast, CONVERGE, &has("2001:db8:100::/48", None))
        .unwrap();
    let r = find_route(&got, from_bird.prefix, None).unwrap();
    assert_eq!((r.from, r.next_hop), (Some(b.v6()), Some(b.v6())), "{r:?}");
    assert_eq!(r.communities, vec![Community(64512, 6)]);
    assert_eq!(r.as_path, vec![64512]);

    let got = frr
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &has("198.51.100.0/24", None))
        .unwrap();
    let r = find_route(&got, from_exabgp.prefix, None).unwrap();
    assert_eq!((r.from, r.next_hop), (Some(c.v4()), Some(c.v4())), "{r:?}");
    assert_eq!(r.communities, vec![Community(64513, 5)]);

    let got = exabgp
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &has("203.0.113.0/24", None))
        .unwrap();
    let r = find_route(&got, from_frr4.prefix, None).unwrap();
    assert_eq!((r.from, r.next_hop), (Some(a.v4()), Some(a.v4())), "{r:?}");
    assert_eq!(r.communities, vec![Community(64511, 3)]);
    assert_eq!(r.as_path, vec![64511]);

    let got = bird
        .wait_for_routes(Family::Ipv6Unicast, CONVERGE, &has("2001:db8:200::/48", None))
        .unwrap();
    let r = find_route(&got, from_frr6.prefix, None).unwrap();
    assert_eq!((r.from, r.next_hop), (Some(a.v6()), Some(a.v6())), "{r:?}");
    assert_eq!(r.as_path, vec![64511]);

    frr.withdraw(&from_frr4).unwrap();
    frr.withdraw(&from_frr6).unwrap();
    bird.withdraw(&from_bird).unwrap();
    exabgp.withdraw(&from_exabgp).unwrap();
    exabgp
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &lacks("203.0.113.0/24", None))
        .unwrap();
    bird.wait_for_routes(Family::Ipv6Unicast, CONVERGE, &lacks("2001:db8:200::/48", None))
        .unwrap();
    frr.wait_for_routes(Family::Ipv6Unicast, CONVERGE, &lacks("2001:db8:100::/48", None))
        .unwrap();
    frr.wait_for_routes(Family::Ipv4Unicast, CONVERGE, &lacks("198.51.100.0/24", None))
        .unwrap();
}

#[test]
fn passive_gtsm_and_route_reflector_client_options_are_honoured() {
    let net_ = PeerNet::new("opts", 4);
    let (a, b, c, d) = (net_.node(0), net_.node(1), net_.node(2), net_.node(3));
    let f = [Family::Ipv4Unicast];
    // iBGP: FRR reflects to GoBGP, which only listens; both use GTSM.
    let frr = Frr::start(
        &a.netns,
        &PeerSpec::new(64500, a.ipv4)
            .neighbor(Neighbor::new(b.v4(), 64500, &f).route_reflector_client().ttl_security()),
    )
    .unwrap();
    let gobgp = Gobgp::start(
        &b.netns,
        &PeerSpec::new(64500, b.ipv4).neighbor(Neighbor::new(a.v4(), 64500, &f).passive().ttl_security()),
    )
    .unwrap();
    // eBGP: BIRD only listens, ExaBGP connects; both use GTSM and TCP MD5.
    let bird = Bird::start(
        &c.netns,
        &PeerSpec::new(64512, c.ipv4).neighbor(
            Neighbor::new(d.v4(), 64513, &f)
                .passive()
                .ttl_security()
                .password("weft-opts"),
        ),
    )
    .unwrap();
    let exabgp = Exabgp::start(
        &d.netns,
        &PeerSpec::new(64513, d.ipv4).neighbor(Neighbor::new(c.v4(), 64512, &f).ttl_security().password("weft-opts")),
    )
    .unwrap();
    frr.wait_established(b.v4(), ESTABLISH).unwrap();
    gobgp.wait_established(a.v4(), ESTABLISH).unwrap();
    bird.wait_established(d.v4(), ESTABLISH).unwrap();
    exabgp.wait_established(c.v4(), ESTABLISH).unwrap();

    let conf = gobgp.cli(&["neighbor", &a.v4().to_string(), "-j"]).unwrap();
    let conf: serde_json::Value = serde_json::from_str(&conf).unwrap();
    assert_eq!(conf["transport"]["passive_mode"], true, "{conf}");
    assert_eq!(conf["ttl_security"]["enabled"], true, "{conf}");
    assert_eq!(conf["timers"]["config"]["connect_retry"], 5, "{conf}");
    let frr_view = frr.vtysh(&[&format!("show bgp neighbors {} json", b.v4())]).unwrap();
    assert!(frr_view.contains("\"nbrInternalLink\":true"), "{frr_view}");
    assert!(
        frr_view.contains("Route-Reflector Client") || frr_view.contains("routeReflectorClient"),
        "{frr_view}"
    );

    // ExaBGP does not reflect routes; asking for it is an error, not a silent no-op.
    let rr = PeerSpec::new(64513, d.ipv4).neighbor(Neighbor::new(c.v4(), 64513, &f).route_reflector_client());
    assert!(matches!(Exabgp::start(&d.netns, &rr), Err(Error::Unsupported { .. })));
}
