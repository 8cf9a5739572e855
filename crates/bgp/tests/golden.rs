//! Messages captured from GoBGP 3.10 (see tests/golden/README.md): each decodes to the values
//! the gobgp command asked for and re-encodes to the same octets, except where noted.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{golden, golden_files};
use weft_bgp::attribute::tunnel_type;
use weft_bgp::message::notification::{cease, code};
use weft_bgp::{
    Afi, Aggregator, AsPath, Capability, Community, Decoded, Esi, Evpn, EvpnRoute, ExtendedCommunity, Family,
    GracefulRestart, GracefulRestartFamily, IpPrefixRoute, Label, LargeCommunity, Message, MpReach, MpUnreach, NextHop,
    Nlri, Notification, Origin, PathAttributes, Prefix, Rtc, Safi, SessionCaps, Update, VpnPrefix, decode_message,
    frame_length,
};

fn decode(name: &str, caps: &SessionCaps) -> Message {
    let bytes = golden(name);
    let Decoded { message, errors } = decode_message(&bytes, caps).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(errors.is_empty(), "{name}: {errors:?}");
    message
}

fn caps_of(name: &str) -> SessionCaps {
    golden_files()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("{name} is not in golden_files()"))
}

fn update(name: &str) -> Update {
    match decode(name, &caps_of(name)) {
        Message::Update(u) => u,
        other => panic!("{name}: {other:?}"),
    }
}

fn open(name: &str) -> weft_bgp::Open {
    match decode(name, &caps_of(name)) {
        Message::Open(o) => o,
        other => panic!("{name}: {other:?}"),
    }
}

fn net(s: &str) -> ipnet::IpNet {
    s.parse().unwrap()
}

fn rt(s: &str) -> ExtendedCommunity {
    ExtendedCommunity::RouteTarget(s.parse().unwrap())
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// GoBGP's FQDN capability (code 73): hostname "vm", no domain.
fn fqdn() -> Capability {
    Capability::Unknown {
        code: 73,
        value: vec![2, b'v', b'm', 0],
    }
}

/// GoBGP's extended next hop capability (RFC 8950, code 5), kept raw.
fn extended_next_hop(value: &[u8]) -> Capability {
    Capability::Unknown {
        code: 5,
        value: value.to_vec(),
    }
}

#[test]
fn every_vector_round_trips_byte_for_byte() {
    for (name, caps) in golden_files() {
        let bytes = golden(name);
        let message = decode(name, &caps);
        let encoded = message.encode(&caps).unwrap_or_else(|e| panic!("{name}: {e}"));
        if name == "gobgp_update_as4_path" {
            // GoBGP writes AGGREGATOR (7) before NEXT_HOP (3); the codec writes type code order
            // (RFC 4271 §5 SHOULD). Same attributes, same octets each, only the order differs.
            assert_ne!(encoded, bytes);
            assert_eq!(sorted_attributes(&encoded), sorted_attributes(&bytes));
            assert_eq!(encoded.len(), bytes.len());
        } else {
            assert_eq!(encoded, bytes, "{name} re-encodes differently");
        }
    }
}

/// The attribute TLVs of an UPDATE, sorted by type code.
fn sorted_attributes(msg: &[u8]) -> Vec<Vec<u8>> {
    let body = &msg[19..];
    let wl = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let al = usize::from(u16::from_be_bytes([body[2 + wl], body[3 + wl]]));
    let mut attrs = &body[4 + wl..4 + wl + al];
    let mut out = Vec::new();
    while !attrs.is_empty() {
        let ext = attrs[0] & 0x10 != 0;
        let (hdr, len) = if ext {
            (4, usize::from(u16::from_be_bytes([attrs[2], attrs[3]])))
        } else {
            (3, usize::from(attrs[2]))
        };
        out.push(attrs[..hdr + len].to_vec());
        attrs = &attrs[hdr + len..];
    }
    out.sort_by_key(|a| a[1]);
    out
}

#[test]
fn the_vectors_as_one_stream_frame_correctly() {
    let mut stream = Vec::new();
    for (name, _) in golden_files() {
        stream.extend(golden(name));
    }
    let mut rest = &stream[..];
    let mut count = 0;
    let caps = SessionCaps::modern();
    while !rest.is_empty() {
        let len = frame_length(rest, &caps).unwrap().unwrap();
        rest = &rest[len..];
        count += 1;
    }
    assert_eq!(count, golden_files().len());
    assert_eq!(frame_length(&stream[..18], &caps), Ok(None));
}

#[test]
fn open_unicast() {
    let o = open("gobgp_open_unicast");
    assert_eq!(o.my_as, 64512);
    assert_eq!(o.asn(), 64512);
    assert_eq!(o.hold_time, 90);
    assert_eq!(o.bgp_id, v4("192.0.2.2"));
    assert_eq!(
        o.capabilities,
        [
            Capability::RouteRefresh,
            fqdn(),
            Capability::multiprotocol(Family::Ipv4Unicast),
            Capability::multiprotocol(Family::Ipv6Unicast),
            Capability::FourOctetAs(64512),
            extended_next_hop(&[0, 1, 0, 1, 0, 2]),
        ]
    );
}

#[test]
fn open_vpn_families() {
    let o = open("gobgp_open_vpn");
    let families: Vec<Family> = o
        .capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::Multiprotocol { afi, safi } => Family::from_afi_safi(*afi, *safi),
            _ => None,
        })
        .collect();
    assert_eq!(
        families,
        [Family::Vpnv4, Family::Vpnv6, Family::L2vpnEvpn, Family::RtConstraint]
    );
    assert!(o.capabilities.contains(&Capability::FourOctetAs(64512)));
}

#[test]
fn open_four_octet_as_with_graceful_restart() {
    let o = open("gobgp_open_as4_graceful_restart");
    assert_eq!(o.my_as, weft_bgp::AS_TRANS);
    assert_eq!(o.asn(), 4_200_000_002);
    assert!(o.capabilities.contains(&Capability::GracefulRestart(GracefulRestart {
        flags: 0,
        restart_time: 120,
        families: vec![GracefulRestartFamily {
            afi: Afi::IPV4,
            safi: Safi::UNICAST,
            flags: 0,
        }],
    })));
}

#[test]
fn open_add_path() {
    let o = open("gobgp_open_add_path");
    assert!(
        o.capabilities
            .contains(&Capability::AddPath(vec![weft_bgp::AddPathFamily::new(
                Family::Ipv4Unicast,
                true,
                true
            )]))
    );
    // Our side of that capture advertised send+receive too: both directions carry path ids.
    let ours = [
        Capability::FourOctetAs(64512),
        Capability::AddPath(vec![weft_bgp::AddPathFamily::new(Family::Ipv4Unicast, true, true)]),
    ];
    let n = SessionCaps::negotiate(&ours, &o.capabilities);
    assert_eq!(n.receive, caps_of("gobgp_update_add_path_1"));
    assert_eq!(n.send, n.receive);
}

#[test]
fn keepalive_and_notifications() {
    assert_eq!(decode("gobgp_keepalive", &SessionCaps::default()), Message::Keepalive);
    let Message::Notification(n) = decode("gobgp_notification_shutdown", &SessionCaps::default()) else {
        panic!()
    };
    assert_eq!((n.code, n.subcode), (code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN));
    assert_eq!(n.shutdown_communication(), Some("weft golden capture"));
    assert_eq!(
        n,
        Notification::with_shutdown_communication(cease::ADMINISTRATIVE_SHUTDOWN, "weft golden capture")
    );
    assert_eq!(
        decode("gobgp_notification_reset", &SessionCaps::default()),
        Message::Notification(Notification::new(code::CEASE, cease::ADMINISTRATIVE_RESET, []))
    );
}

#[test]
fn ipv4_with_communities() {
    let u = update("gobgp_update_ipv4_communities");
    assert_eq!(
        u,
        Update {
            withdrawn: vec![],
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(vec![64512])),
                next_hop: Some(v4("192.0.2.2")),
                med: Some(10),
                communities: vec![Community::new(64512, 10), Community::NO_EXPORT],
                large_communities: vec![
                    LargeCommunity {
                        global_admin: 64512,
                        local_data_1: 1,
                        local_data_2: 2
                    },
                    LargeCommunity {
                        global_admin: 4_200_000_001,
                        local_data_1: 3,
                        local_data_2: 4
                    },
                ],
                ..PathAttributes::default()
            },
            nlri: vec![Prefix::new(net("198.51.100.0/24"))],
        }
    );
}

#[test]
fn ipv4_with_as_path() {
    let u = update("gobgp_update_ipv4_as_path");
    assert_eq!(u.attributes.origin, Some(Origin::Incomplete));
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence(vec![64512, 65001, 65002])));
    assert_eq!(u.nlri, [Prefix::new(net("203.0.113.128/25"))]);
}

#[test]
fn ipv6_in_mp_reach() {
    let u = update("gobgp_update_ipv6");
    assert!(u.nlri.is_empty());
    assert_eq!(u.attributes.next_hop, None);
    assert_eq!(u.attributes.communities, [Community::new(64512, 20)]);
    assert_eq!(
        u.attributes.mp_reach,
        Some(MpReach {
            family: Family::Ipv6Unicast,
            next_hop: NextHop::new(ip("2001:db8::2")),
            nlri: vec![Nlri::Prefix(Prefix::new(net("2001:db8:100::/48")))],
        })
    );
}

#[test]
fn unicast_withdrawals() {
    let u = update("gobgp_withdraw_ipv4");
    assert_eq!(u.withdrawn, [Prefix::new(net("203.0.113.128/25"))]);
    assert_eq!(u.attributes, PathAttributes::default());
    let u = update("gobgp_withdraw_ipv6");
    assert_eq!(
        u.attributes.mp_unreach,
        Some(MpUnreach {
            family: Family::Ipv6Unicast,
            withdrawn: vec![Nlri::Prefix(Prefix::new(net("2001:db8:100::/48")))],
        })
    );
}

fn vpn(label: u32, rd: &str, prefix: &str) -> Nlri {
    Nlri::Vpn(VpnPrefix::new(
        Label::mpls(label, true).unwrap(),
        rd.parse().unwrap(),
        net(prefix),
    ))
}

#[test]
fn vpnv4_and_vpnv6() {
    let u = update("gobgp_update_vpnv4");
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence(vec![64512])));
    assert_eq!(
        u.attributes.mp_reach,
        Some(MpReach {
            family: Family::Vpnv4,
            next_hop: NextHop::new(ip("192.0.2.2")),
            nlri: vec![vpn(100, "64512:1", "198.51.100.0/24")],
        })
    );
    assert_eq!(u.attributes.extended_communities, [rt("64512:100")]);

    let u = update("gobgp_update_vpnv6");
    assert_eq!(
        u.attributes.mp_reach,
        Some(MpReach {
            family: Family::Vpnv6,
            next_hop: NextHop::new(ip("2001:db8::2")),
            nlri: vec![vpn(200, "64512:3", "2001:db8:200::/48")],
        })
    );
    assert_eq!(u.attributes.extended_communities, [rt("64512:300")]);

    // GoBGP withdraws with the route's own label, not 0x800000.
    let u = update("gobgp_withdraw_vpnv4");
    assert_eq!(
        u.attributes.mp_unreach,
        Some(MpUnreach {
            family: Family::Vpnv4,
            withdrawn: vec![vpn(100, "64512:1", "198.51.100.0/24")],
        })
    );
    let u = update("gobgp_withdraw_vpnv6");
    assert_eq!(
        u.attributes.mp_unreach.map(|m| m.withdrawn),
        Some(vec![vpn(200, "64512:3", "2001:db8:200::/48")])
    );
}

fn evpn5(rd: &str, prefix: &str, gateway: &str, vni: u32) -> Nlri {
    Nlri::Evpn(Evpn {
        path_id: None,
        route: EvpnRoute::IpPrefix(IpPrefixRoute {
            rd: rd.parse().unwrap(),
            esi: Esi::ZERO,
            ethernet_tag: 0,
            prefix: net(prefix),
            gateway: ip(gateway),
            label: Label::vni(vni).unwrap(),
        }),
    })
}

#[test]
fn evpn_type5() {
    let u = update("gobgp_update_evpn5_ipv4");
    assert_eq!(
        u.attributes.mp_reach,
        Some(MpReach {
            family: Family::L2vpnEvpn,
            next_hop: NextHop::new(ip("192.0.2.2")),
            nlri: vec![evpn5("64512:2", "198.51.100.0/24", "0.0.0.0", 10100)],
        })
    );
    assert_eq!(
        u.attributes.extended_communities,
        [
            rt("64512:200"),
            ExtendedCommunity::Encapsulation(tunnel_type::VXLAN),
            ExtendedCommunity::RouterMac([2, 0, 0, 0, 0, 2]),
        ]
    );
    let Some(Nlri::Evpn(e)) = u.attributes.mp_reach.as_ref().map(|m| &m.nlri[0]) else {
        panic!()
    };
    assert_eq!(e.route.to_string(), "64512:2 [5]:[0]:[24]:[198.51.100.0]");

    let u = update("gobgp_update_evpn5_ipv6");
    assert_eq!(
        u.attributes.mp_reach.map(|m| m.nlri),
        Some(vec![evpn5("64512:4", "2001:db8:300::/64", "::", 10200)])
    );
    assert_eq!(
        u.attributes.extended_communities,
        [
            rt("64512:400"),
            ExtendedCommunity::Encapsulation(tunnel_type::VXLAN),
            ExtendedCommunity::RouterMac([2, 0, 0, 0, 0, 4]),
        ]
    );

    let u = update("gobgp_withdraw_evpn5");
    assert_eq!(
        u.attributes.mp_unreach,
        Some(MpUnreach {
            family: Family::L2vpnEvpn,
            withdrawn: vec![evpn5("64512:2", "198.51.100.0/24", "0.0.0.0", 10100)],
        })
    );
}

#[test]
fn rt_constraint() {
    let u = update("gobgp_update_rtc");
    assert_eq!(u.attributes.origin, Some(Origin::Igp));
    assert_eq!(
        u.attributes.mp_reach,
        Some(MpReach {
            family: Family::RtConstraint,
            next_hop: NextHop::new(ip("192.0.2.2")),
            nlri: vec![Nlri::Rtc(Rtc::exact(64512, "64512:500".parse().unwrap()))],
        })
    );
}

#[test]
fn as4_path_towards_an_old_speaker() {
    let u = update("gobgp_update_as4_path");
    let a = &u.attributes;
    assert_eq!(a.as_path, Some(AsPath::sequence(vec![23456, 23456, 65010])));
    assert_eq!(
        a.as4_path,
        Some(AsPath::sequence(vec![4_200_000_002, 4_200_000_010, 65010]))
    );
    assert_eq!(
        a.aggregator,
        Some(Aggregator {
            asn: 23456,
            address: v4("192.0.2.2")
        })
    );
    assert_eq!(
        a.effective_as_path(),
        Some(AsPath::sequence(vec![4_200_000_002, 4_200_000_010, 65010]))
    );
    assert_eq!(
        a.effective_aggregator(),
        Some(Aggregator {
            asn: 4_200_000_002,
            address: v4("192.0.2.2")
        })
    );
    assert_eq!(u.nlri, [Prefix::new(net("192.0.2.128/25"))]);

    // Rebuilding the OLD-speaker form from the real path encodes to GoBGP's attributes again
    // (AS_TRANS is written for every AS above 65535).
    let mut rebuilt = PathAttributes {
        as_path: a.effective_as_path(),
        aggregator: a.effective_aggregator(),
        as4_path: None,
        as4_aggregator: None,
        ..a.clone()
    };
    rebuilt.prepare_for_two_octet_peer();
    let caps = caps_of("gobgp_update_as4_path");
    let rebuilt = Message::Update(Update {
        attributes: rebuilt,
        ..u.clone()
    });
    assert_eq!(rebuilt.encode(&caps), Message::Update(u.clone()).encode(&caps));
}

#[test]
fn add_path_identifiers() {
    let u = update("gobgp_update_add_path_1");
    assert_eq!(u.nlri, [Prefix::new(net("198.51.100.0/24")).with_path_id(1)]);
    assert_eq!(u.attributes.local_pref, Some(200));
    assert_eq!(u.attributes.as_path, Some(AsPath::default()));
    assert_eq!(u.attributes.next_hop, Some(v4("192.0.2.2")));
    let u = update("gobgp_update_add_path_2");
    assert_eq!(u.nlri, [Prefix::new(net("198.51.100.0/24")).with_path_id(2)]);
    assert_eq!(u.attributes.next_hop, Some(v4("192.0.2.3")));
    let u = update("gobgp_withdraw_add_path");
    assert_eq!(u.withdrawn, [Prefix::new(net("198.51.100.0/24")).with_path_id(1)]);
    // Without ADD-PATH negotiated the same octets are not valid NLRI: session reset.
    let e = decode_message(&golden("gobgp_update_add_path_1"), &SessionCaps::default()).unwrap_err();
    assert_eq!((e.notification.code, e.notification.subcode), (3, 10));
}
