//! proptest strategies for every typed value the codec encodes, in canonical form (what a decode
//! produces), so that encode then decode gives the value back.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::prelude::*;
use weft_bgp::{
    AddPathFamily, Afi, Aggregator, AsPath, AsSegment, Capability, Community, Esi, Evpn, EvpnRoute, ExtendedCommunity,
    Family, GracefulRestart, GracefulRestartFamily, IpPrefixRoute, Label, LargeCommunity, Message, MpReach, MpUnreach,
    NextHop, Nlri, Notification, Open, Origin, PathAttributes, Prefix, RefreshSubtype, RouteRefresh, RtMembership, Rtc,
    Safi, SegmentType, SessionCaps, UnknownAttribute, Update, VpnPrefix,
};
use weft_net::RouteDistinguisher;

pub fn caps() -> impl Strategy<Value = SessionCaps> {
    (any::<bool>(), any::<bool>(), vec(any::<bool>(), 6)).prop_map(|(four, ext, ap)| SessionCaps {
        four_octet_as: four,
        extended_message: ext,
        add_path: Family::ALL
            .into_iter()
            .zip(ap)
            .filter_map(|(f, on)| on.then_some(f))
            .collect(),
    })
}

pub fn family() -> impl Strategy<Value = Family> {
    prop::sample::select(Family::ALL.to_vec())
}

fn net4() -> impl Strategy<Value = IpNet> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc()))
}

fn net6() -> impl Strategy<Value = IpNet> {
    (any::<u128>(), 0u8..=128).prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc()))
}

fn addr4() -> impl Strategy<Value = IpAddr> {
    any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)))
}

fn addr6() -> impl Strategy<Value = IpAddr> {
    any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)))
}

fn rd() -> impl Strategy<Value = RouteDistinguisher> {
    (0u8..=2, any::<[u8; 6]>())
        .prop_map(|(t, v)| RouteDistinguisher::from_bytes([0, t, v[0], v[1], v[2], v[3], v[4], v[5]]).unwrap())
}

fn esi() -> impl Strategy<Value = Esi> {
    prop_oneof![Just(Esi::ZERO), any::<[u8; 10]>().prop_map(Esi)]
}

fn raw_label() -> impl Strategy<Value = Label> {
    (0u32..=0xff_ffff).prop_map(|v| Label::from_raw(v).unwrap())
}

fn path_id(on: bool) -> BoxedStrategy<Option<u32>> {
    if on {
        any::<u32>().prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    }
}

/// A label stack ending with the bottom-of-stack bit (RFC 8277 §2.2); in a withdrawal the last
/// label may instead be 0x800000 (RFC 8277 §2.4), which only ends a withdrawal's stack.
fn label_stack(withdrawn: bool) -> BoxedStrategy<Vec<Label>> {
    // In a withdrawal, label 0x80000 without BoS would read as the withdraw label and end the
    // stack.
    let upper = (1u32..=0xf_ffff)
        .prop_filter("not the withdraw label", move |v| !withdrawn || *v != 0x8_0000)
        .prop_map(|v| Label::mpls(v, false).unwrap());
    let bottom = (0u32..=0xf_ffff).prop_map(|v| Label::mpls(v, true).unwrap());
    let last = if withdrawn {
        prop_oneof![bottom, Just(Label::WITHDRAW)].boxed()
    } else {
        bottom.boxed()
    };
    (vec(upper, 0..2), last)
        .prop_map(|(mut v, l)| {
            v.push(l);
            v
        })
        .boxed()
}

fn evpn_route() -> impl Strategy<Value = EvpnRoute> {
    let ip = prop_oneof![addr4(), addr6()];
    prop_oneof![
        (rd(), esi(), any::<u32>(), raw_label()).prop_map(|(rd, esi, ethernet_tag, label)| {
            EvpnRoute::EthernetAutoDiscovery {
                rd,
                esi,
                ethernet_tag,
                label,
            }
        }),
        (
            rd(),
            esi(),
            any::<u32>(),
            any::<[u8; 6]>(),
            proptest::option::of(ip.clone()),
            raw_label(),
            proptest::option::of(raw_label())
        )
            .prop_map(|(rd, esi, ethernet_tag, mac, ip, label1, label2)| {
                EvpnRoute::MacIpAdvertisement {
                    rd,
                    esi,
                    ethernet_tag,
                    mac,
                    ip,
                    label1,
                    label2,
                }
            }),
        (rd(), any::<u32>(), ip.clone()).prop_map(|(rd, ethernet_tag, originator)| EvpnRoute::InclusiveMulticast {
            rd,
            ethernet_tag,
            originator
        }),
        (rd(), esi(), ip).prop_map(|(rd, esi, originator)| EvpnRoute::EthernetSegment { rd, esi, originator }),
        (
            rd(),
            esi(),
            any::<u32>(),
            prop_oneof![(net4(), addr4()), (net6(), addr6())],
            raw_label()
        )
            .prop_map(|(rd, esi, ethernet_tag, (prefix, gateway), label)| {
                EvpnRoute::IpPrefix(IpPrefixRoute {
                    rd,
                    esi,
                    ethernet_tag,
                    prefix,
                    gateway,
                    label,
                })
            }),
        (6u8..=255, vec(any::<u8>(), 0..40)).prop_map(|(route_type, value)| EvpnRoute::Other { route_type, value }),
    ]
}

fn rtc(pid: Option<u32>) -> impl Strategy<Value = Rtc> {
    prop_oneof![
        Just(None),
        (any::<u32>(), 0u8..=64, any::<[u8; 8]>()).prop_map(|(origin_as, bits, t)| {
            let mut target = [0u8; 8];
            for (i, b) in target.iter_mut().enumerate() {
                let start = i * 8;
                let bits = usize::from(bits);
                *b = if start >= bits {
                    0
                } else if bits - start >= 8 {
                    t[i]
                } else {
                    t[i] & (0xffu8 << (8 - (bits - start)))
                };
            }
            Some(RtMembership {
                origin_as,
                target_bits: bits,
                target,
            })
        })
    ]
    .prop_map(move |membership| Rtc {
        path_id: pid,
        membership,
    })
}

/// One announced NLRI of `family`, with a path id when `add_path`.
pub fn nlri(family: Family, add_path: bool) -> BoxedStrategy<Nlri> {
    any_nlri(family, add_path, false)
}

/// One withdrawn NLRI of `family` (VPN label fields as in a withdrawal), with a path id when
/// `add_path`.
pub fn withdrawn_nlri(family: Family, add_path: bool) -> BoxedStrategy<Nlri> {
    any_nlri(family, add_path, true)
}

fn any_nlri(family: Family, add_path: bool, withdrawn: bool) -> BoxedStrategy<Nlri> {
    path_id(add_path)
        .prop_flat_map(move |pid| -> BoxedStrategy<Nlri> {
            match family {
                Family::Ipv4Unicast => net4()
                    .prop_map(move |net| Nlri::Prefix(Prefix { path_id: pid, net }))
                    .boxed(),
                Family::Ipv6Unicast => net6()
                    .prop_map(move |net| Nlri::Prefix(Prefix { path_id: pid, net }))
                    .boxed(),
                Family::Vpnv4 | Family::Vpnv6 => {
                    let net = if family == Family::Vpnv4 {
                        net4().boxed()
                    } else {
                        net6().boxed()
                    };
                    (label_stack(withdrawn), rd(), net)
                        .prop_map(move |(labels, rd, net)| {
                            Nlri::Vpn(VpnPrefix {
                                path_id: pid,
                                labels,
                                rd,
                                net,
                            })
                        })
                        .boxed()
                }
                Family::L2vpnEvpn => evpn_route()
                    .prop_map(move |route| Nlri::Evpn(Evpn { path_id: pid, route }))
                    .boxed(),
                Family::RtConstraint => rtc(pid).prop_map(Nlri::Rtc).boxed(),
            }
        })
        .boxed()
}

fn next_hop(family: Family) -> BoxedStrategy<NextHop> {
    let v6 = (addr6(), proptest::option::of(any::<u128>().prop_map(Ipv6Addr::from)))
        .prop_map(|(address, link_local)| NextHop { address, link_local });
    match family {
        Family::Ipv6Unicast | Family::Vpnv6 => v6.boxed(),
        _ => prop_oneof![addr4().prop_map(NextHop::new), v6].boxed(),
    }
}

fn nlri_list(family: Family, caps: &SessionCaps, max: usize) -> BoxedStrategy<Vec<Nlri>> {
    vec(nlri(family, caps.add_path(family)), 0..max).boxed()
}

fn withdrawn_list(family: Family, caps: &SessionCaps, max: usize) -> BoxedStrategy<Vec<Nlri>> {
    vec(withdrawn_nlri(family, caps.add_path(family)), 0..max).boxed()
}

fn ipv4_list(caps: &SessionCaps) -> BoxedStrategy<Vec<Prefix>> {
    nlri_list(Family::Ipv4Unicast, caps, 4)
        .prop_map(|l| {
            l.into_iter()
                .filter_map(|n| match n {
                    Nlri::Prefix(p) => Some(p),
                    _ => None,
                })
                .collect()
        })
        .boxed()
}

fn asn(four: bool) -> BoxedStrategy<u32> {
    if four { (1u32..).boxed() } else { (1u32..=65535).boxed() }
}

fn as_path(four: bool) -> impl Strategy<Value = AsPath> {
    let kind = prop::sample::select(vec![
        SegmentType::Set,
        SegmentType::Sequence,
        SegmentType::ConfedSequence,
        SegmentType::ConfedSet,
    ]);
    vec(
        (kind, vec(asn(four), 1..6)).prop_map(|(kind, asns)| AsSegment { kind, asns }),
        0..4,
    )
    .prop_map(|segments| AsPath { segments })
}

fn aggregator(four: bool) -> impl Strategy<Value = Aggregator> {
    (asn(four), any::<u32>()).prop_map(|(asn, a)| Aggregator {
        asn,
        address: Ipv4Addr::from(a),
    })
}

fn unknown_attributes() -> impl Strategy<Value = Vec<UnknownAttribute>> {
    let code = prop::sample::select(vec![0u8, 11, 12, 19, 20, 21, 22, 25, 29, 40, 128, 200, 255]);
    let flags =
        (any::<bool>(), any::<bool>()).prop_map(|(p, e)| 0xc0 | if p { 0x20 } else { 0 } | if e { 0x10 } else { 0 });
    prop::collection::btree_map(code, (flags, vec(any::<u8>(), 0..20)), 0..3).prop_map(|m: BTreeMap<_, _>| {
        m.into_iter()
            .map(|(type_code, (flags, value))| UnknownAttribute {
                flags,
                type_code,
                value,
            })
            .collect()
    })
}

pub fn path_attributes(caps: SessionCaps) -> BoxedStrategy<PathAttributes> {
    let four = caps.four_octet_as;
    let origin = proptest::option::of(prop::sample::select(vec![Origin::Igp, Origin::Egp, Origin::Incomplete]));
    let base = (
        origin,
        proptest::option::of(as_path(four)),
        proptest::option::of(any::<u32>().prop_map(Ipv4Addr::from)),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        any::<bool>(),
        proptest::option::of(aggregator(four)),
        vec(any::<u32>().prop_map(Community), 0..4),
    );
    let more = (
        proptest::option::of(any::<u32>().prop_map(Ipv4Addr::from)),
        vec(any::<u32>().prop_map(Ipv4Addr::from), 0..3),
        vec(any::<[u8; 8]>().prop_map(ExtendedCommunity::from_bytes), 0..4),
        vec(
            any::<[u32; 3]>().prop_map(|[a, b, c]| LargeCommunity {
                global_admin: a,
                local_data_1: b,
                local_data_2: c,
            }),
            0..3,
        ),
        unknown_attributes(),
        if four {
            Just((None, None)).boxed()
        } else {
            (
                proptest::option::of(as_path(true)),
                proptest::option::of(aggregator(true)),
            )
                .boxed()
        },
    );
    let c1 = caps.clone();
    let c2 = caps.clone();
    let mp_reach = proptest::option::of(family().prop_flat_map(move |f| (Just(f), next_hop(f), nlri_list(f, &c1, 4))))
        .prop_map(|m| m.map(|(family, next_hop, nlri)| MpReach { family, next_hop, nlri }));
    let mp_unreach = proptest::option::of(family().prop_flat_map(move |f| (Just(f), withdrawn_list(f, &c2, 4))))
        .prop_map(|m| m.map(|(family, withdrawn)| MpUnreach { family, withdrawn }));
    (base, more, mp_reach, mp_unreach)
        .prop_map(
            |(
                (origin, as_path, next_hop, med, local_pref, atomic_aggregate, aggregator, communities),
                (
                    originator_id,
                    cluster_list,
                    extended_communities,
                    large_communities,
                    unknown,
                    (as4_path, as4_aggregator),
                ),
                mp_reach,
                mp_unreach,
            )| PathAttributes {
                origin,
                as_path,
                next_hop,
                med,
                local_pref,
                atomic_aggregate,
                aggregator,
                communities,
                originator_id,
                cluster_list,
                mp_reach,
                mp_unreach,
                extended_communities,
                as4_path,
                as4_aggregator,
                large_communities,
                unknown,
            },
        )
        .boxed()
}

pub fn update(caps: SessionCaps) -> BoxedStrategy<Update> {
    (ipv4_list(&caps), path_attributes(caps.clone()), ipv4_list(&caps))
        .prop_map(|(withdrawn, attributes, nlri)| Update {
            withdrawn,
            attributes,
            nlri,
        })
        .boxed()
}

fn capability() -> impl Strategy<Value = Capability> {
    let afi = any::<u16>().prop_map(Afi);
    let safi = any::<u8>().prop_map(Safi);
    prop_oneof![
        (afi.clone(), safi.clone()).prop_map(|(afi, safi)| Capability::Multiprotocol { afi, safi }),
        Just(Capability::RouteRefresh),
        Just(Capability::EnhancedRouteRefresh),
        Just(Capability::ExtendedMessage),
        (1u32..).prop_map(Capability::FourOctetAs),
        (
            0u8..16,
            0u16..=0x0fff,
            vec((afi.clone(), safi.clone(), any::<u8>()), 0..3)
        )
            .prop_map(|(f, restart_time, fams)| Capability::GracefulRestart(GracefulRestart {
                flags: f << 4,
                restart_time,
                families: fams
                    .into_iter()
                    .map(|(afi, safi, flags)| GracefulRestartFamily { afi, safi, flags })
                    .collect(),
            })),
        vec((afi, safi, any::<u8>()), 0..3).prop_map(|e| Capability::AddPath(
            e.into_iter()
                .map(|(afi, safi, send_receive)| AddPathFamily {
                    afi,
                    safi,
                    send_receive
                })
                .collect()
        )),
        (
            any::<u8>().prop_filter("unknown code", |c| ![1, 2, 6, 64, 65, 69, 70].contains(c)),
            vec(any::<u8>(), 0..10)
        )
            .prop_map(|(code, value)| Capability::Unknown { code, value }),
    ]
}

pub fn open() -> impl Strategy<Value = Open> {
    (
        1u16..,
        prop_oneof![Just(0u16), 3u16..],
        1u32..,
        vec(capability(), 0..100),
    )
        .prop_map(|(my_as, hold_time, id, capabilities)| Open {
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(id),
            capabilities,
        })
}

pub fn message(caps: SessionCaps) -> BoxedStrategy<Message> {
    prop_oneof![
        open().prop_map(Message::Open),
        update(caps).prop_map(Message::Update),
        (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..64))
            .prop_map(|(c, s, d)| Message::Notification(Notification::new(c, s, d))),
        Just(Message::Keepalive),
        (any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(afi, st, safi)| Message::RouteRefresh(RouteRefresh {
            afi: Afi(afi),
            safi: Safi(safi),
            subtype: RefreshSubtype::from_u8(st),
        })),
    ]
    .boxed()
}
