//! Weft's speaker against real daemons (needs root and the Debian packages frr, gobgpd, ...).
//! Weft runs on node 0 of a [`PeerNet`], its sockets made inside that namespace; the daemon on
//! node 1. The speaker runs on a multi-threaded runtime of the test, the daemons' blocking API
//! on the test thread.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use weft_bgp::family::Family as BgpFamily;
use weft_bgp::fsm::{PeerConfig, State};
use weft_bgp::rib::{ExportEncoding, RouteKey, Vrf};
use weft_net::Asn;
use weft_peers::{
    AdminValue, Bird, ENCAP_VXLAN, Exabgp, Family, Frr, Gobgp, Neighbor, Peer, PeerNet, PeerSpec, RawAttribute, Route,
    find_route,
};
use weft_speaker::{PeerSettings, Speaker, SpeakerConfig, SpeakerHandle};

const WEFT_AS: u32 = 64511;
const PEER_AS: u32 = 64512;
const ESTABLISH: Duration = Duration::from_secs(20);
const CONVERGE: Duration = Duration::from_secs(10);

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn rd(s: &str) -> AdminValue {
    s.parse().unwrap()
}

struct Weft {
    rt: tokio::runtime::Runtime,
    handle: SpeakerHandle,
}

impl Weft {
    fn start(node: &weft_peers::Node) -> Weft {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let path = format!("/var/run/netns/{}", node.netns);
        let handle = rt
            .block_on(Speaker::start_in_netns(&path, SpeakerConfig::new(WEFT_AS, node.ipv4)))
            .unwrap();
        Weft { rt, handle }
    }

    fn add_peer(&self, settings: PeerSettings) {
        self.rt.block_on(self.handle.add_peer(settings)).unwrap();
    }

    fn state(&self, peer: IpAddr) -> State {
        self.rt.block_on(self.handle.peer(peer)).unwrap().session.state
    }

    fn wait_established(&self, peer: IpAddr, timeout: Duration) {
        let until = Instant::now() + timeout;
        while self.state(peer) != State::Established {
            assert!(Instant::now() < until, "Weft's session with {peer} is not Established");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_route(&self, family: BgpFamily, key: &RouteKey, present: bool) -> Option<weft_speaker::RouteEntry> {
        let until = Instant::now() + CONVERGE;
        loop {
            let routes = self.rt.block_on(self.handle.routes(Some(family))).unwrap();
            let found = routes.into_iter().find(|r| &r.key == key);
            if found.is_some() == present {
                return found;
            }
            assert!(
                Instant::now() < until,
                "{key} present={present} not reached in Weft's RIB"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Weft {
    fn drop(&mut self) {
        let _ = self.rt.block_on(self.handle.shutdown());
    }
}

fn settings(me: &weft_peers::Node, peer: IpAddr, families: &[BgpFamily]) -> PeerSettings {
    let mut c = PeerConfig::new(peer, Asn::new_unchecked(WEFT_AS), Asn::new_unchecked(PEER_AS), me.ipv4);
    c.families = families.to_vec();
    c.connect_retry = Duration::from_secs(3);
    c.hold_time = 9;
    PeerSettings::new(c).local_address(me.v4())
}

fn peer_spec(node: &weft_peers::Node, weft: IpAddr, families: &[Family]) -> PeerSpec {
    PeerSpec::new(PEER_AS, node.ipv4).neighbor(Neighbor::new(weft, WEFT_AS, families))
}

#[test]
fn gobgp_ipv4_unicast_both_ways() {
    let pnet = PeerNet::pair("wsp-gobgp");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let gobgp = Gobgp::start(&b.netns, &peer_spec(b, a.v4(), &[Family::Ipv4Unicast])).unwrap();
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast]));
    weft.wait_established(b.v4(), ESTABLISH);
    gobgp.wait_established(a.v4(), ESTABLISH).unwrap();

    // Weft -> GoBGP.
    let ours = net("198.51.100.0/24");
    weft.rt.block_on(weft.handle.announce_prefix(ours)).unwrap();
    let got = gobgp
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| find_route(r, ours, None).is_some())
        .unwrap();
    let r = find_route(&got, ours, None).unwrap();
    assert_eq!(r.as_path, vec![WEFT_AS], "{r:?}");
    assert_eq!(r.next_hop, Some(a.v4()), "{r:?}");

    // GoBGP -> Weft.
    let theirs = Route::unicast(net("203.0.113.0/24"));
    gobgp.announce(&theirs).unwrap();
    let key = RouteKey::Prefix(theirs.prefix);
    let e = weft.wait_route(BgpFamily::Ipv4Unicast, &key, true).unwrap();
    assert_eq!(e.as_path(), vec![PEER_AS]);
    assert_eq!(e.next_hop(), Some(b.v4()));
    assert_eq!(e.from, Some(b.v4()));
    let status = weft.rt.block_on(weft.handle.peer(b.v4())).unwrap();
    let counts = status.prefixes[&BgpFamily::Ipv4Unicast];
    assert_eq!((counts.received, counts.accepted, counts.sent), (1, 1, 1), "{status:?}");

    // Withdrawals, both ways.
    assert!(weft.rt.block_on(weft.handle.withdraw_prefix(ours)).unwrap());
    gobgp
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| find_route(r, ours, None).is_none())
        .unwrap();
    gobgp.withdraw(&theirs).unwrap();
    weft.wait_route(BgpFamily::Ipv4Unicast, &key, false);
    assert_eq!(weft.state(b.v4()), State::Established);
    assert_eq!(
        weft.rt
            .block_on(weft.handle.peer(b.v4()))
            .unwrap()
            .session
            .established_transitions,
        1
    );
}

#[test]
fn frr_receives_evpn_type5_and_sends_vpnv4() {
    let pnet = PeerNet::pair("wsp-frr");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let frr = Frr::start(&b.netns, &peer_spec(b, a.v4(), &[Family::Vpnv4, Family::Evpn])).unwrap();
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Vpnv4, BgpFamily::L2vpnEvpn]));
    weft.wait_established(b.v4(), ESTABLISH);
    frr.wait_established(a.v4(), ESTABLISH).unwrap();

    // Weft -> FRR: EVPN type 5 out of a VRF.
    let mac = [0x02, 0, 0, 0, 0, 0x01];
    let vrf = Vrf::new(
        "red",
        "64511:2".parse().unwrap(),
        ["64511:200".parse().unwrap()],
        ["64511:200".parse().unwrap()],
        ExportEncoding::Evpn {
            vni: 10100,
            router_mac: mac,
            encapsulation: weft_bgp::attribute::extended_community::tunnel_type::VXLAN,
        },
    );
    let prefix = net("203.0.113.0/24");
    weft.rt
        .block_on(weft.handle.announce_vrf(&vrf, prefix, a.v4()))
        .unwrap();
    let got = frr
        .wait_for_routes(Family::Evpn, CONVERGE, &|r| {
            find_route(r, prefix, Some(rd("64511:2"))).is_some()
        })
        .unwrap();
    let r = find_route(&got, prefix, Some(rd("64511:2"))).unwrap();
    assert_eq!(r.label, Some(10100), "VNI: {r:?}");
    assert_eq!(r.route_targets(), vec![rd("64511:200")]);
    assert_eq!(r.router_mac(), Some(weft_peers::Mac(mac)));
    assert_eq!(r.encapsulation(), Some(ENCAP_VXLAN));
    assert_eq!(r.next_hop, Some(a.v4()));
    assert_eq!(r.as_path, vec![WEFT_AS]);

    // FRR -> Weft: VPNv4.
    let vpn = Route::vpnv4(rd("64512:1"), net("198.51.100.128/25"), 200).with_route_target(rd("64512:100"));
    frr.announce(&vpn).unwrap();
    let key = RouteKey::Vpn {
        rd: "64512:1".parse().unwrap(),
        net: vpn.prefix,
    };
    let e = weft.wait_route(BgpFamily::Vpnv4, &key, true).unwrap();
    match &e.path.nlri {
        weft_bgp::Nlri::Vpn(p) => assert_eq!(p.labels.first().map(|l| l.mpls_label()), Some(200), "{e:?}"),
        other => panic!("not a VPN NLRI: {other:?}"),
    }
    assert_eq!(e.next_hop(), Some(b.v4()));
    assert_eq!(e.as_path(), vec![PEER_AS]);
    let rts: Vec<String> = e.path.route_targets().map(|rt| rt.to_string()).collect();
    assert_eq!(rts, vec!["64512:100".to_string()]);

    // Withdrawals.
    assert!(weft.rt.block_on(weft.handle.withdraw_vrf(&vrf, prefix)).unwrap());
    frr.wait_for_routes(Family::Evpn, CONVERGE, &|r| {
        find_route(r, prefix, Some(rd("64511:2"))).is_none()
    })
    .unwrap();
    frr.withdraw(&vpn).unwrap();
    weft.wait_route(BgpFamily::Vpnv4, &key, false);
    assert_eq!(frr.neighbor_state(a.v4()).unwrap().established_count, Some(1));
}

fn md5_spec(node: &weft_peers::Node, weft: IpAddr, password: &str) -> PeerSpec {
    PeerSpec::new(PEER_AS, node.ipv4).neighbor(Neighbor::new(weft, WEFT_AS, &[Family::Ipv4Unicast]).password(password))
}

#[test]
fn frr_tcp_md5_matching_password_establishes() {
    let pnet = PeerNet::pair("wsp-md5ok");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let frr = Frr::start(&b.netns, &md5_spec(b, a.v4(), "s3cret-Key")).unwrap();
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast]).password("s3cret-Key"));
    weft.wait_established(b.v4(), ESTABLISH);
    frr.wait_established(a.v4(), ESTABLISH).unwrap();
    let ours = net("198.51.100.0/24");
    weft.rt.block_on(weft.handle.announce_prefix(ours)).unwrap();
    frr.wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| find_route(r, ours, None).is_some())
        .unwrap();
}

#[test]
fn frr_tcp_md5_mismatched_password_does_not_establish() {
    let pnet = PeerNet::pair("wsp-md5bad");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let frr = Frr::start(&b.netns, &md5_spec(b, a.v4(), "s3cret-Key")).unwrap();
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast]).password("wrong-Key"));
    // FRR retries every 5 s and Weft every 3 s: give both a few attempts.
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        let s = weft.state(b.v4());
        assert!(
            matches!(s, State::Idle | State::Connect | State::Active),
            "Weft reached {s:?} with a wrong TCP MD5 key"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = weft.rt.block_on(weft.handle.peer(b.v4())).unwrap();
    assert_eq!(status.session.messages_in.total(), 0, "{status:?}");
    assert_ne!(
        frr.neighbor_state(a.v4()).unwrap().state,
        weft_peers::SessionState::Established
    );
}

#[test]
fn unknown_peer_is_turned_away_until_configured() {
    // A speaker with no peers: a peer that connects is turned away, nothing is established.
    let pnet = PeerNet::pair("wsp-unknown");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let gobgp = Gobgp::start(&b.netns, &peer_spec(b, a.v4(), &[Family::Ipv4Unicast])).unwrap();
    let weft = Weft::start(a);
    std::thread::sleep(Duration::from_secs(3));
    assert!(weft.rt.block_on(weft.handle.peer_status()).unwrap().is_empty());
    assert_ne!(
        gobgp.neighbor_state(a.v4()).unwrap().state,
        weft_peers::SessionState::Established
    );
    // Added later, it comes up (GoBGP's own retry or ours).
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast]));
    weft.wait_established(b.v4(), ESTABLISH);
}

#[test]
fn frr_gtsm_establishes() {
    let pnet = PeerNet::pair("wsp-gtsm");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let spec =
        PeerSpec::new(PEER_AS, b.ipv4).neighbor(Neighbor::new(a.v4(), WEFT_AS, &[Family::Ipv4Unicast]).ttl_security());
    let frr = Frr::start(&b.netns, &spec).unwrap();
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast]).gtsm());
    weft.wait_established(b.v4(), ESTABLISH);
    frr.wait_established(a.v4(), ESTABLISH).unwrap();

    let ours = net("198.51.100.0/24");
    weft.rt.block_on(weft.handle.announce_prefix(ours)).unwrap();
    frr.wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| find_route(r, ours, None).is_some())
        .unwrap();
}

#[test]
fn frr_gtsm_drops_a_peer_without_ttl_255() {
    let pnet = PeerNet::pair("wsp-nogtsm");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let spec =
        PeerSpec::new(PEER_AS, b.ipv4).neighbor(Neighbor::new(a.v4(), WEFT_AS, &[Family::Ipv4Unicast]).ttl_security());
    let frr = Frr::start(&b.netns, &spec).unwrap();
    let weft = Weft::start(a);
    // Weft without GTSM sends with TTL 64: FRR drops its segments once the connection is up
    // (Weft may still read FRR's OPEN, so it can get to OpenConfirm; FRR never gets further).
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast]));
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        let s = frr.neighbor_state(a.v4()).unwrap();
        assert_ne!(
            s.state,
            weft_peers::SessionState::Established,
            "FRR established without GTSM"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(frr.neighbor_state(a.v4()).unwrap().established_count, Some(0));
}

#[test]
fn bird_vpnv4_both_ways() {
    let pnet = PeerNet::pair("wsp-bird");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let bird = Bird::start(&b.netns, &peer_spec(b, a.v4(), &[Family::Vpnv4])).unwrap();
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Vpnv4]));
    weft.wait_established(b.v4(), ESTABLISH);
    bird.wait_established(a.v4(), ESTABLISH).unwrap();

    // Weft -> BIRD.
    let vrf = Vrf::new(
        "blue",
        "64511:1".parse().unwrap(),
        ["64511:100".parse().unwrap()],
        ["64511:100".parse().unwrap()],
        ExportEncoding::Vpn {
            label: weft_bgp::Label::mpls(100, true).unwrap(),
        },
    );
    let prefix = net("198.51.100.0/24");
    weft.rt
        .block_on(weft.handle.announce_vrf(&vrf, prefix, a.v4()))
        .unwrap();
    let got = bird
        .wait_for_routes(Family::Vpnv4, CONVERGE, &|r| {
            find_route(r, prefix, Some(rd("64511:1"))).is_some()
        })
        .unwrap();
    let r = find_route(&got, prefix, Some(rd("64511:1"))).unwrap();
    assert_eq!(r.label, Some(100), "{r:?}");
    assert_eq!(r.route_targets(), vec![rd("64511:100")]);
    assert_eq!(r.next_hop, Some(a.v4()));
    assert_eq!(r.as_path, vec![WEFT_AS]);

    // BIRD -> Weft (BIRD keeps the label only with a third-party next hop).
    let third_party: IpAddr = "192.0.2.100".parse().unwrap();
    let vpn = Route::vpnv4(rd("64512:1"), net("203.0.113.0/24"), 200)
        .with_next_hop(third_party)
        .with_route_target(rd("64512:100"));
    bird.announce(&vpn).unwrap();
    let key = RouteKey::Vpn {
        rd: "64512:1".parse().unwrap(),
        net: vpn.prefix,
    };
    let e = weft.wait_route(BgpFamily::Vpnv4, &key, true).unwrap();
    match &e.path.nlri {
        weft_bgp::Nlri::Vpn(p) => assert_eq!(p.labels.first().map(|l| l.mpls_label()), Some(200), "{e:?}"),
        other => panic!("not a VPN NLRI: {other:?}"),
    }
    assert_eq!(e.next_hop(), Some(third_party));
    assert_eq!(e.as_path(), vec![PEER_AS]);

    assert!(weft.rt.block_on(weft.handle.withdraw_vrf(&vrf, prefix)).unwrap());
    bird.wait_for_routes(Family::Vpnv4, CONVERGE, &|r| {
        find_route(r, prefix, Some(rd("64511:1"))).is_none()
    })
    .unwrap();
    bird.withdraw(&vpn).unwrap();
    weft.wait_route(BgpFamily::Vpnv4, &key, false);
}

#[test]
fn exabgp_malformed_attribute_is_treat_as_withdraw_and_session_stays_up() {
    let pnet = PeerNet::pair("wsp-exa");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let exabgp = Exabgp::start(&b.netns, &peer_spec(b, a.v4(), &[Family::Ipv4Unicast])).unwrap();
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast]));
    weft.wait_established(b.v4(), ESTABLISH);
    exabgp.wait_established(a.v4(), ESTABLISH).unwrap();

    // EXTENDED_COMMUNITIES (16), optional transitive, length 2: it must be a multiple of 8.
    let bad = RawAttribute {
        flags: 0xc0,
        code: 16,
        value: vec![0x01, 0x02],
    };
    let keep = Route::unicast(net("198.51.100.0/26"));
    let victim = Route::unicast(net("198.51.100.64/26"));
    exabgp.announce(&keep).unwrap();
    exabgp.announce(&victim).unwrap();
    let victim_key = RouteKey::Prefix(victim.prefix);
    weft.wait_route(BgpFamily::Ipv4Unicast, &RouteKey::Prefix(keep.prefix), true);
    weft.wait_route(BgpFamily::Ipv4Unicast, &victim_key, true);

    // The same NLRI with the malformed attribute: withdrawn, session up.
    exabgp
        .announce(&victim.clone().with_raw_attribute(bad.clone()))
        .unwrap();
    weft.wait_route(BgpFamily::Ipv4Unicast, &victim_key, false);
    // A prefix that only ever comes malformed never shows; a valid one after it does.
    let never = Route::unicast(net("198.51.100.128/26")).with_raw_attribute(bad);
    let sentinel = Route::unicast(net("198.51.100.192/26"));
    exabgp.announce(&never).unwrap();
    exabgp.announce(&sentinel).unwrap();
    weft.wait_route(BgpFamily::Ipv4Unicast, &RouteKey::Prefix(sentinel.prefix), true);
    let routes = weft
        .rt
        .block_on(weft.handle.routes(Some(BgpFamily::Ipv4Unicast)))
        .unwrap();
    assert!(
        routes.iter().all(|r| r.key != RouteKey::Prefix(never.prefix)),
        "{routes:?}"
    );
    assert!(
        routes.iter().any(|r| r.key == RouteKey::Prefix(keep.prefix)),
        "{routes:?}"
    );

    let status = weft.rt.block_on(weft.handle.peer(b.v4())).unwrap();
    assert_eq!(status.session.state, State::Established);
    assert_eq!(status.session.established_transitions, 1);
    let exa = exabgp.neighbor_state(a.v4()).unwrap();
    assert_eq!(exa.state, weft_peers::SessionState::Established);
    assert_eq!(exa.established_count, Some(1));
}

#[test]
fn frr_route_refresh_gets_the_routes_again() {
    let pnet = PeerNet::pair("wsp-rr");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let frr = Frr::start(&b.netns, &peer_spec(b, a.v4(), &[Family::Ipv4Unicast])).unwrap();
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast]));
    weft.wait_established(b.v4(), ESTABLISH);
    frr.wait_established(a.v4(), ESTABLISH).unwrap();
    let ours = net("198.51.100.0/24");
    weft.rt.block_on(weft.handle.announce_prefix(ours)).unwrap();
    frr.wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| find_route(r, ours, None).is_some())
        .unwrap();
    let before = weft.rt.block_on(weft.handle.peer(b.v4())).unwrap().session;

    frr.vtysh(&[&format!("clear bgp ipv4 unicast {} soft in", a.ipv4)])
        .unwrap();
    let until = Instant::now() + CONVERGE;
    loop {
        let now = weft.rt.block_on(weft.handle.peer(b.v4())).unwrap().session;
        // The ROUTE-REFRESH came in and our route went out again (one UPDATE and End-of-RIB).
        if now.messages_in.route_refresh > before.messages_in.route_refresh
            && now.messages_out.update >= before.messages_out.update + 2
        {
            break;
        }
        assert!(Instant::now() < until, "no refresh: before {before:?}, now {now:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    frr.wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| find_route(r, ours, None).is_some())
        .unwrap();
    assert_eq!(frr.neighbor_state(a.v4()).unwrap().established_count, Some(1));
}

/// Five IPv4 prefixes of GoBGP's, for the maximum-prefix tests.
fn five_prefixes() -> Vec<Route> {
    (1..=5)
        .map(|i| Route::unicast(net(&format!("203.0.{i}.0/24"))))
        .collect()
}

#[test]
fn gobgp_over_max_prefixes_is_closed_with_cease_1() {
    let pnet = PeerNet::pair("wsp-maxpfx");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let gobgp = Gobgp::start(&b.netns, &peer_spec(b, a.v4(), &[Family::Ipv4Unicast])).unwrap();
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast]).max_prefixes(BgpFamily::Ipv4Unicast, 3));
    weft.wait_established(b.v4(), ESTABLISH);
    gobgp.wait_established(a.v4(), ESTABLISH).unwrap();

    let routes = five_prefixes();
    for r in &routes {
        gobgp.announce(r).unwrap();
    }
    // Weft closes the session with Cease/1 and says why.
    let until = Instant::now() + CONVERGE;
    let status = loop {
        let status = weft.rt.block_on(weft.handle.peer(b.v4())).unwrap();
        let sent = status.session.last_notification_sent.clone();
        if sent.as_ref().is_some_and(|n| (n.code, n.subcode) == (6, 1)) {
            break status;
        }
        assert!(Instant::now() < until, "no Cease/1 sent: {status:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let error = status.session.last_error.clone().unwrap_or_default();
    assert!(error.contains("exceed the limit of 3"), "{error}");
    // RFC 4486 §4: AFI 1, SAFI 1, upper bound 3.
    let sent = status.session.last_notification_sent.unwrap();
    assert_eq!(sent.data, [0, 1, 1, 0, 0, 0, 3], "{sent:?}");
    // None of GoBGP's prefixes stays in Weft's RIB.
    for r in &routes {
        weft.wait_route(BgpFamily::Ipv4Unicast, &RouteKey::Prefix(r.prefix), false);
    }
    // GoBGP saw the session go down.
    let theirs = gobgp.neighbor_state(a.v4()).unwrap();
    assert_ne!(theirs.state, weft_peers::SessionState::Established, "{theirs:?}");
    // Any restart comes at the idle-hold backoff's pace (1 s, 2 s, 4 s, ...; GoBGP waits longer
    // itself after a Cease), never in a fast loop, and is closed again.
    std::thread::sleep(Duration::from_secs(5));
    let status = weft.rt.block_on(weft.handle.peer(b.v4())).unwrap();
    assert!(status.session.established_transitions <= 4, "{status:?}");
    let routes_now = weft
        .rt
        .block_on(weft.handle.routes(Some(BgpFamily::Ipv4Unicast)))
        .unwrap();
    assert!(routes_now.iter().all(|e| e.from != Some(b.v4())), "{routes_now:?}");
}

#[test]
fn gobgp_under_max_prefixes_stays_established() {
    let pnet = PeerNet::pair("wsp-maxok");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let gobgp = Gobgp::start(&b.netns, &peer_spec(b, a.v4(), &[Family::Ipv4Unicast])).unwrap();
    let weft = Weft::start(a);
    weft.add_peer(settings(a, b.v4(), &[BgpFamily::Ipv4Unicast]).max_prefixes(BgpFamily::Ipv4Unicast, 10));
    weft.wait_established(b.v4(), ESTABLISH);
    gobgp.wait_established(a.v4(), ESTABLISH).unwrap();

    let routes = five_prefixes();
    for r in &routes {
        gobgp.announce(r).unwrap();
    }
    for r in &routes {
        weft.wait_route(BgpFamily::Ipv4Unicast, &RouteKey::Prefix(r.prefix), true);
    }
    std::thread::sleep(Duration::from_secs(1));
    let status = weft.rt.block_on(weft.handle.peer(b.v4())).unwrap();
    assert_eq!(status.session.state, State::Established, "{status:?}");
    assert_eq!(status.session.established_transitions, 1, "{status:?}");
    assert_eq!(status.prefixes[&BgpFamily::Ipv4Unicast].received, 5, "{status:?}");
}
