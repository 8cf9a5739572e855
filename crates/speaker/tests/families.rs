//! Every address family each daemon supports, both ways, with the attributes intact (RFC 4271
//! AS_PATH, NEXT_HOP, MED, LOCAL_PREF on iBGP; RFC 1997 communities; RFC 4360 route targets;
//! RFC 8092 large communities; RFC 9135/9012 router MAC, VNI and encapsulation for EVPN type 5),
//! and each withdrawal seen on the other side. The daemon's view is its own `show` output
//! (`vtysh ... json`, `gobgp -j`, `birdc show route all`). One IPv4 session carries all
//! families; IPv6 and VPNv6 routes carry IPv6 next hops (the speaker maps an IPv4 one).
//!
//! - FRR: all five both ways. FRR originates EVPN type 5 here without a VRF (this kernel has
//!   no VRF device), as a static `network ... rd ... label ... routermac ...` in `address-family
//!   l2vpn evpn`: FRR 8.4 encodes that label as an MPLS label (label << 4 | bottom of stack)
//!   rather than a 24-bit VNI, sends no encapsulation extended community, and gives its IPv6
//!   address as next hop (2001:db8::2, over the IPv4 session).
//! - BIRD 2.0: IPv4, IPv6, VPNv4, VPNv6 both ways (no EVPN in BIRD 2.0).
//! - GoBGP: all five, EVPN type 5 both ways.

mod common;

use std::net::IpAddr;

use common::*;
use ipnet::IpNet;
use weft_bgp::attribute::extended_community::tunnel_type;
use weft_bgp::attribute::{AsPath, Community as BgpCommunity, ExtendedCommunity, LargeCommunity as BgpLarge};
use weft_bgp::family::Family as BgpFamily;
use weft_bgp::fsm::State;
use weft_bgp::rib::RouteKey;
use weft_bgp::{Esi, Evpn, EvpnRoute, IpPrefixRoute, Label, Nlri, Origin, PathAttributes, Prefix, VpnPrefix};
use weft_peers::{
    AdminValue, Bird, Community, ENCAP_VXLAN, Family, Frr, Gobgp, LargeCommunity, Mac, Node, Peer, PeerNet, Route,
    find_route,
};

const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const THEIR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// An AS we pretend our routes came through: the AS path must arrive as [64511, 64500].
const ORIGIN_AS: u32 = 64500;

fn bgp_family(f: Family) -> BgpFamily {
    match f {
        Family::Ipv4Unicast => BgpFamily::Ipv4Unicast,
        Family::Ipv6Unicast => BgpFamily::Ipv6Unicast,
        Family::Vpnv4 => BgpFamily::Vpnv4,
        Family::Vpnv6 => BgpFamily::Vpnv6,
        Family::Evpn => BgpFamily::L2vpnEvpn,
        Family::Rtc => BgpFamily::RtConstraint,
    }
}

fn rt(s: &str) -> weft_net::RouteTarget {
    s.parse().expect("a route target")
}

/// What Weft announces for a family: the prefix, RD, label/VNI, route target, next hop.
struct Ours {
    family: Family,
    prefix: IpNet,
    rd: Option<&'static str>,
    label: Option<u32>,
    rt: &'static str,
    next_hop: IpAddr,
}

impl Ours {
    fn of(family: Family, me: &Node) -> Ours {
        let (v4, v6) = (net("198.51.100.0/24"), net("2001:db8:100::/48"));
        let (prefix, rd, label, rt, next_hop) = match family {
            Family::Ipv4Unicast => (v4, None, None, "64511:100", me.v4()),
            Family::Ipv6Unicast => (v6, None, None, "64511:100", me.v6()),
            Family::Vpnv4 => (v4, Some("64511:1"), Some(100), "64511:100", me.v4()),
            Family::Vpnv6 => (v6, Some("64511:1"), Some(101), "64511:100", me.v6()),
            Family::Evpn => (
                net("203.0.113.0/24"),
                Some("64511:2"),
                Some(10100),
                "64511:200",
                me.v4(),
            ),
            Family::Rtc => unreachable!("not a route family"),
        };
        Ours {
            family,
            prefix,
            rd,
            label,
            rt,
            next_hop,
        }
    }

    fn nlri(&self) -> Nlri {
        let rd = || self.rd.expect("an RD").parse().expect("an RD");
        match self.family {
            Family::Ipv4Unicast | Family::Ipv6Unicast => Nlri::Prefix(Prefix::new(self.prefix)),
            Family::Vpnv4 | Family::Vpnv6 => Nlri::Vpn(VpnPrefix::new(
                Label::mpls(self.label.expect("a label"), true).expect("a label"),
                rd(),
                self.prefix,
            )),
            Family::Evpn => Nlri::Evpn(Evpn {
                path_id: None,
                route: EvpnRoute::IpPrefix(IpPrefixRoute {
                    rd: rd(),
                    esi: Esi::ZERO,
                    ethernet_tag: 0,
                    prefix: self.prefix,
                    gateway: IpAddr::from([0, 0, 0, 0]),
                    label: Label::vni(self.label.expect("a VNI")).expect("a VNI"),
                }),
            }),
            Family::Rtc => unreachable!(),
        }
    }

    fn key(&self) -> RouteKey {
        RouteKey::of(&self.nlri())
    }

    fn attributes(&self) -> PathAttributes {
        let mut ecs = vec![ExtendedCommunity::RouteTarget(rt(self.rt))];
        if self.family == Family::Evpn {
            ecs.push(ExtendedCommunity::RouterMac(OUR_MAC));
            ecs.push(ExtendedCommunity::Encapsulation(tunnel_type::VXLAN));
        }
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![ORIGIN_AS])),
            med: Some(50),
            communities: vec![BgpCommunity((WEFT_AS << 16) | 1)],
            extended_communities: ecs,
            large_communities: vec![BgpLarge {
                global_admin: WEFT_AS,
                local_data_1: 1,
                local_data_2: 2,
            }],
            ..PathAttributes::default()
        }
    }

    /// Checks the route as the daemon shows it.
    fn check(&self, r: &Route) {
        assert_eq!(r.as_path, vec![WEFT_AS, ORIGIN_AS], "{r:?}");
        assert_eq!(r.next_hop, Some(self.next_hop), "{r:?}");
        assert_eq!(r.med, Some(50), "{r:?}");
        assert_eq!(r.communities, vec![Community(WEFT_AS as u16, 1)], "{r:?}");
        assert_eq!(r.large_communities, vec![LargeCommunity(WEFT_AS, 1, 2)], "{r:?}");
        assert_eq!(r.route_targets(), vec![rd(self.rt)], "{r:?}");
        if self.family != Family::Ipv4Unicast && self.family != Family::Ipv6Unicast {
            assert_eq!(r.label, self.label, "label/VNI: {r:?}");
        }
        if self.family == Family::Evpn {
            assert_eq!(r.router_mac(), Some(Mac(OUR_MAC)), "{r:?}");
            assert_eq!(r.encapsulation(), Some(ENCAP_VXLAN), "{r:?}");
        }
    }
}

/// What the daemon announces for a family.
fn theirs(family: Family, kind: weft_peers::PeerKind) -> Route {
    let (v4, v6) = (net("203.0.113.0/24"), net("2001:db8:200::/48"));
    let bird = kind == weft_peers::PeerKind::Bird;
    let r = match family {
        Family::Ipv4Unicast => Route::unicast(v4),
        Family::Ipv6Unicast => Route::unicast(v6),
        Family::Vpnv4 => Route::vpn(rd("64512:1"), v4, 200).with_route_target(rd("64512:100")),
        Family::Vpnv6 => Route::vpn(rd("64512:1"), v6, 201).with_route_target(rd("64512:100")),
        Family::Evpn => {
            let r = Route::evpn_prefix(rd("64512:2"), net("198.51.100.0/24"), 10200)
                .with_route_target(rd("64512:200"))
                .with_router_mac(Mac(THEIR_MAC));
            // FRR's static type-5 route cannot carry the encapsulation.
            if kind == weft_peers::PeerKind::Frr {
                r
            } else {
                r.with_encapsulation(ENCAP_VXLAN)
            }
        }
        Family::Rtc => unreachable!(),
    };
    // BIRD 2.0 keeps a VPN label only with a third-party next hop (see weft_peers::bird).
    let r = match (family, bird) {
        (Family::Vpnv4, true) => r.with_next_hop("192.0.2.100".parse().expect("an address")),
        (Family::Vpnv6, true) => r.with_next_hop("2001:db8::100".parse().expect("an address")),
        _ => r,
    };
    r.with_med(70)
        .with_community(Community(PEER_AS as u16, 7))
        .with_large_community(LargeCommunity(PEER_AS, 7, 8))
}

/// Checks the daemon's route as Weft holds it.
/// `sends_med`: BIRD sends a MED over eBGP only when its export filter sets it (its static
/// routes' `bgp_med` is removed on eBGP export); the iBGP test checks BIRD's MED.
fn check_received(e: &weft_speaker::RouteEntry, sent: &Route, peer: &Node, kind: weft_peers::PeerKind) {
    let sends_med = kind != weft_peers::PeerKind::Bird;
    let a = &e.path.attributes;
    assert_eq!(e.as_path(), vec![PEER_AS], "{e:?}");
    assert_eq!(e.from, Some(peer.v4()), "{e:?}");
    if sends_med {
        assert_eq!(a.med, Some(70), "{e:?}");
    }
    assert_eq!(a.communities, vec![BgpCommunity((PEER_AS << 16) | 7)], "{e:?}");
    assert_eq!(
        a.large_communities,
        vec![BgpLarge {
            global_admin: PEER_AS,
            local_data_1: 7,
            local_data_2: 8
        }],
        "{e:?}"
    );
    let rts: Vec<String> = e.path.route_targets().map(|rt| rt.to_string()).collect();
    let want: Vec<String> = sent.route_targets().iter().map(|rt| rt.to_string()).collect();
    assert_eq!(rts, want, "{e:?}");
    let nh = e.next_hop().expect("a next hop");
    match sent.next_hop {
        Some(third_party) => assert_eq!(nh, third_party, "{e:?}"),
        // FRR's static EVPN route: its IPv6 address, see the module's comment.
        None if sent.family == Family::Evpn && kind == weft_peers::PeerKind::Frr => {
            assert_eq!(nh, peer.v6(), "{e:?}")
        }
        None if sent.prefix.addr().is_ipv4() => assert_eq!(nh, peer.v4(), "{e:?}"),
        // IPv6 routes over the IPv4 session: the daemon's IPv6 address or its IPv4-mapped one.
        None => assert!(
            nh == peer.v6() || nh == IpAddr::V6(peer.ipv4.to_ipv6_mapped()),
            "next hop {nh}: {e:?}"
        ),
    }
    match &e.path.nlri {
        Nlri::Vpn(p) => assert_eq!(p.labels.first().map(|l| l.mpls_label()), sent.label, "{e:?}"),
        Nlri::Evpn(Evpn {
            route: EvpnRoute::IpPrefix(p),
            ..
        }) => {
            let ecs = &e.path.attributes.extended_communities;
            assert!(ecs.contains(&ExtendedCommunity::RouterMac(THEIR_MAC)), "{e:?}");
            if kind == weft_peers::PeerKind::Frr {
                // An MPLS label, see the module's comment.
                assert_eq!(Some(p.label.mpls_label()), sent.label, "label: {e:?}");
            } else {
                assert_eq!(Some(p.label.raw()), sent.label, "VNI: {e:?}");
                assert!(
                    ecs.contains(&ExtendedCommunity::Encapsulation(tunnel_type::VXLAN)),
                    "{e:?}"
                );
            }
        }
        _ => {}
    }
}

fn their_key(r: &Route) -> RouteKey {
    let rd = r.rd.map(|rd| rd.to_string().parse().expect("an RD"));
    match r.family {
        Family::Ipv4Unicast | Family::Ipv6Unicast => RouteKey::Prefix(r.prefix),
        Family::Vpnv4 | Family::Vpnv6 => RouteKey::Vpn {
            rd: rd.expect("an RD"),
            net: r.prefix,
        },
        Family::Evpn => RouteKey::of(&Nlri::Evpn(Evpn {
            path_id: None,
            route: EvpnRoute::IpPrefix(IpPrefixRoute {
                rd: rd.expect("an RD"),
                esi: Esi::ZERO,
                ethernet_tag: 0,
                prefix: r.prefix,
                gateway: IpAddr::from([0, 0, 0, 0]),
                label: Label::vni(r.label.expect("a VNI")).expect("a VNI"),
            }),
        })),
        Family::Rtc => unreachable!(),
    }
}

fn rd_of(s: Option<&str>) -> Option<AdminValue> {
    s.map(rd)
}

/// All of `both` both ways, `to_daemon_only` from Weft only.
fn every_family(
    test: &str,
    both: &[Family],
    to_daemon_only: &[Family],
    start: impl Fn(&str, &weft_peers::PeerSpec) -> Box<dyn Peer>,
) {
    let pnet = PeerNet::pair(test);
    let (a, b) = (pnet.node(0), pnet.node(1));
    let all: Vec<Family> = both.iter().chain(to_daemon_only).copied().collect();
    let daemon = start(&b.netns, &peer_spec(b, a.v4(), &all));
    let kind = daemon.kind();
    let weft = Weft::start(a);
    let bgp: Vec<BgpFamily> = all.iter().map(|f| bgp_family(*f)).collect();
    weft.add_peer(settings(a, b.v4(), &bgp));
    weft.wait_established(b.v4(), ESTABLISH);
    daemon
        .wait_established(a.v4(), ESTABLISH)
        .expect("the daemon's session is up");

    // Weft -> daemon, every family.
    let ours: Vec<Ours> = all.iter().map(|f| Ours::of(*f, a)).collect();
    for o in &ours {
        weft.rt
            .block_on(weft.handle.announce(o.nlri(), o.attributes(), Some(o.next_hop)))
            .expect("announce");
    }
    for o in &ours {
        let got = daemon
            .wait_for_routes(o.family, CONVERGE, &|r| find_route(r, o.prefix, rd_of(o.rd)).is_some())
            .unwrap_or_else(|e| panic!("{} gets our {} route: {e}", kind.name(), o.family));
        o.check(find_route(&got, o.prefix, rd_of(o.rd)).expect("found"));
    }

    // Daemon -> Weft.
    let sent: Vec<Route> = both.iter().map(|f| theirs(*f, kind)).collect();
    for r in &sent {
        daemon
            .announce(r)
            .unwrap_or_else(|e| panic!("{} announces {}: {e}", kind.name(), r.key()));
    }
    for r in &sent {
        let e = weft
            .wait_route(bgp_family(r.family), &their_key(r), true)
            .expect("present");
        check_received(&e, r, b, kind);
    }

    // Withdrawals, both ways.
    for o in &ours {
        assert!(weft.rt.block_on(weft.handle.withdraw(o.key())).expect("withdraw"));
    }
    for o in &ours {
        daemon
            .wait_for_routes(o.family, CONVERGE, &|r| find_route(r, o.prefix, rd_of(o.rd)).is_none())
            .unwrap_or_else(|e| panic!("{} drops our {} route: {e}", kind.name(), o.family));
    }
    for r in &sent {
        daemon.withdraw(r).expect("the daemon withdraws");
    }
    for r in &sent {
        weft.wait_route(bgp_family(r.family), &their_key(r), false);
    }
    let status = weft.peer(b.v4());
    assert_eq!(status.session.state, State::Established);
    assert_eq!(status.session.established_transitions, 1, "{status:?}");
}

#[test]
fn frr_every_family_with_attributes() {
    every_family(
        "wspf-frr",
        &[
            Family::Ipv4Unicast,
            Family::Ipv6Unicast,
            Family::Vpnv4,
            Family::Vpnv6,
            Family::Evpn,
        ],
        &[],
        |ns, spec| Box::new(Frr::start(ns, spec).expect("FRR starts")),
    );
}

#[test]
fn bird_every_family_with_attributes() {
    every_family(
        "wspf-bird",
        &[Family::Ipv4Unicast, Family::Ipv6Unicast, Family::Vpnv4, Family::Vpnv6],
        &[],
        |ns, spec| Box::new(Bird::start(ns, spec).expect("BIRD starts")),
    );
}

#[test]
fn gobgp_every_family_with_attributes() {
    every_family(
        "wspf-gobgp",
        &[
            Family::Ipv4Unicast,
            Family::Ipv6Unicast,
            Family::Vpnv4,
            Family::Vpnv6,
            Family::Evpn,
        ],
        &[],
        |ns, spec| Box::new(Gobgp::start(ns, spec).expect("GoBGP starts")),
    );
}

/// iBGP: LOCAL_PREF goes both ways (RFC 4271 §5.1.5), the AS path stays as originated, MED kept.
fn ibgp_local_pref(test: &str, start: impl Fn(&str, &weft_peers::PeerSpec) -> Box<dyn Peer>) {
    let pnet = PeerNet::pair(test);
    let (a, b) = (pnet.node(0), pnet.node(1));
    let families = [Family::Ipv4Unicast, Family::Ipv6Unicast];
    let daemon = start(&b.netns, &peer_spec_as(b, WEFT_AS, a.v4(), &families));
    let weft = Weft::start(a);
    weft.add_peer(settings_as(
        a,
        b.v4(),
        WEFT_AS,
        &[BgpFamily::Ipv4Unicast, BgpFamily::Ipv6Unicast],
    ));
    weft.wait_established(b.v4(), ESTABLISH);
    daemon
        .wait_established(a.v4(), ESTABLISH)
        .expect("the daemon's session is up");

    for (prefix, nh) in [("198.51.100.0/24", a.v4()), ("2001:db8:100::/48", a.v6())] {
        let attributes = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![ORIGIN_AS])),
            local_pref: Some(300),
            med: Some(5),
            ..PathAttributes::default()
        };
        let nlri = Nlri::Prefix(Prefix::new(net(prefix)));
        weft.rt
            .block_on(weft.handle.announce(nlri, attributes, Some(nh)))
            .expect("announce");
        let family = if nh.is_ipv4() {
            Family::Ipv4Unicast
        } else {
            Family::Ipv6Unicast
        };
        let got = daemon
            .wait_for_routes(family, CONVERGE, &|r| find_route(r, net(prefix), None).is_some())
            .expect("the daemon gets our route");
        let r = find_route(&got, net(prefix), None).expect("found");
        assert_eq!(r.local_pref, Some(300), "{r:?}");
        assert_eq!(r.med, Some(5), "{r:?}");
        assert_eq!(r.as_path, vec![ORIGIN_AS], "{r:?}");
        assert_eq!(r.next_hop, Some(nh), "{r:?}");
    }
    for prefix in ["203.0.113.0/24", "2001:db8:200::/48"] {
        let r = Route::unicast(net(prefix)).with_local_pref(250).with_med(9);
        daemon.announce(&r).expect("the daemon announces");
        let key = RouteKey::Prefix(r.prefix);
        let family = bgp_family(r.family);
        let e = weft.wait_route(family, &key, true).expect("present");
        assert_eq!(e.path.attributes.local_pref, Some(250), "{e:?}");
        assert_eq!(e.path.attributes.med, Some(9), "{e:?}");
        assert!(e.as_path().is_empty(), "{e:?}");
        daemon.withdraw(&r).expect("the daemon withdraws");
        weft.wait_route(family, &key, false);
    }
}

#[test]
fn frr_ibgp_local_pref() {
    ibgp_local_pref("wspl-frr", |ns, spec| {
        Box::new(Frr::start(ns, spec).expect("FRR starts"))
    });
}

#[test]
fn bird_ibgp_local_pref() {
    ibgp_local_pref("wspl-bird", |ns, spec| {
        Box::new(Bird::start(ns, spec).expect("BIRD starts"))
    });
}

#[test]
fn gobgp_ibgp_local_pref() {
    ibgp_local_pref("wspl-gobgp", |ns, spec| {
        Box::new(Gobgp::start(ns, spec).expect("GoBGP starts"))
    });
}
