//! RFC 7606 (revised error handling for UPDATE) and the RFC 4271 §6.3 cases it keeps, on
//! hand-built UPDATE bodies.

use weft_bgp::message::notification::update_error;
use weft_bgp::{
    Action, Afi, Community, DecodeError, DecodedUpdate, Family, Nlri, PathAttributes, Prefix, Reason, Safi,
    SessionCaps, Update,
};

const ORIGIN: &[u8] = &[0x40, 1, 1, 0];
/// AS_PATH 64512 with 4-octet ASes.
const AS_PATH: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xfc, 0];
const NEXT_HOP: &[u8] = &[0x40, 3, 4, 192, 0, 2, 2];
const NLRI: &[u8] = &[24, 198, 51, 100];

fn caps() -> SessionCaps {
    SessionCaps {
        four_octet_as: true,
        ..SessionCaps::default()
    }
}

fn body(withdrawn: &[u8], attrs: &[&[u8]], nlri: &[u8]) -> Vec<u8> {
    let attrs: Vec<u8> = attrs.concat();
    let mut b = Vec::new();
    b.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(&attrs);
    b.extend_from_slice(nlri);
    b
}

/// A well-formed route with `extra` attributes appended.
fn route(extra: &[&[u8]]) -> Vec<u8> {
    let mut attrs = vec![ORIGIN, AS_PATH, NEXT_HOP];
    attrs.extend_from_slice(extra);
    body(&[], &attrs, NLRI)
}

fn ok(b: &[u8]) -> DecodedUpdate {
    Update::decode(b, &caps()).unwrap_or_else(|e| panic!("unexpected reset: {e}"))
}

fn reset(b: &[u8]) -> DecodeError {
    let e = Update::decode(b, &caps()).unwrap_err();
    assert!(e.is_rfc_notification(), "{e:?}");
    assert_eq!(e.notification.code, 3);
    e
}

fn the_route() -> Vec<Nlri> {
    vec![Nlri::Prefix(Prefix::new("198.51.100.0/24".parse().unwrap()))]
}

fn assert_withdrawn(d: &DecodedUpdate) {
    assert!(d.treat_as_withdraw(), "{:?}", d.errors);
    assert_eq!(
        d.strongest_action(),
        Some(&Action::TreatAsWithdraw { nlri: the_route() })
    );
    assert!(d.announcements().is_empty());
    assert_eq!(d.withdrawals(), the_route());
}

fn assert_discarded(d: &DecodedUpdate, type_code: u8) {
    assert!(!d.treat_as_withdraw(), "{:?}", d.errors);
    assert_eq!(d.strongest_action(), Some(&Action::AttributeDiscard { type_code }));
    assert_eq!(d.announcements(), the_route());
}

#[test]
fn well_formed_route_has_no_errors() {
    let d = ok(&route(&[]));
    assert!(d.errors.is_empty());
    assert_eq!(d.announcements(), the_route());
}

#[test]
fn malformed_origin_next_hop_med_local_pref_are_treat_as_withdraw() {
    // §7.1 ORIGIN: length 2, undefined value 3.
    let d = ok(&body(&[], &[&[0x40, 1, 2, 0, 0], AS_PATH, NEXT_HOP], NLRI));
    assert_withdrawn(&d);
    assert_eq!(d.update.attributes.origin, None);
    let d = ok(&body(&[], &[&[0x40, 1, 1, 3], AS_PATH, NEXT_HOP], NLRI));
    assert_withdrawn(&d);
    assert_eq!(d.errors[0].reason, Reason::InvalidOrigin(3));
    // §7.3 NEXT_HOP of 5 octets.
    assert_withdrawn(&ok(&body(
        &[],
        &[ORIGIN, AS_PATH, &[0x40, 3, 5, 192, 0, 2, 2, 0]],
        NLRI,
    )));
    // §7.4 MED of 3 octets; §7.5 LOCAL_PREF of 2.
    assert_withdrawn(&ok(&route(&[&[0x80, 4, 3, 0, 0, 1]])));
    assert_withdrawn(&ok(&route(&[&[0x40, 5, 2, 0, 1]])));
}

#[test]
fn malformed_atomic_aggregate_and_aggregator_are_discarded() {
    // §7.6 ATOMIC_AGGREGATE with a value.
    let d = ok(&route(&[&[0x40, 6, 1, 0]]));
    assert_discarded(&d, 6);
    assert!(!d.update.attributes.atomic_aggregate);
    // §7.7 AGGREGATOR: 6 octets on a 4-octet session, 7 octets, AS 0 (RFC 7607).
    assert_discarded(&ok(&route(&[&[0xc0, 7, 6, 0xfc, 0, 192, 0, 2, 1]])), 7);
    assert_discarded(&ok(&route(&[&[0xc0, 7, 7, 0, 0, 0xfc, 0, 192, 0, 2]])), 7);
    assert_discarded(&ok(&route(&[&[0xc0, 7, 8, 0, 0, 0, 0, 192, 0, 2, 1]])), 7);
    // A good one stays.
    let d = ok(&route(&[&[0xc0, 7, 8, 0, 0, 0xfc, 0, 192, 0, 2, 1]]));
    assert!(d.errors.is_empty());
    assert_eq!(d.update.attributes.aggregator.map(|a| a.asn), Some(64512));
}

#[test]
fn community_lists_of_the_wrong_length_are_treat_as_withdraw() {
    // §7.8 COMMUNITIES, §7.14 EXTENDED COMMUNITIES, RFC 8092 §5 LARGE_COMMUNITY; empty too.
    assert_withdrawn(&ok(&route(&[&[0xc0, 8, 3, 0, 0, 1]])));
    assert_withdrawn(&ok(&route(&[&[0xc0, 8, 0]])));
    assert_withdrawn(&ok(&route(&[&[0xc0, 16, 12, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]])));
    assert_withdrawn(&ok(&route(&[&[0xc0, 16, 2, 0, 2]])));
    assert_withdrawn(&ok(&route(&[&[0xc0, 16, 0]])));
    assert_withdrawn(&ok(&route(&[&[0xc0, 32, 8, 0, 0, 0, 1, 0, 0, 0, 2]])));
    // §7.9 ORIGINATOR_ID, §7.10 CLUSTER_LIST.
    assert_withdrawn(&ok(&route(&[&[0x80, 9, 3, 1, 2, 3]])));
    assert_withdrawn(&ok(&route(&[&[0x80, 10, 6, 1, 2, 3, 4, 5, 6]])));
}

#[test]
fn malformed_as_path_is_treat_as_withdraw() {
    // §7.2: unknown segment type, zero-length segment, overrun, a lone trailing octet; AS 0.
    for bad in [
        &[0x40, 2, 6, 9, 1, 0, 0, 0xfc, 0][..],
        &[0x40, 2, 2, 2, 0],
        &[0x40, 2, 6, 2, 2, 0, 0, 0xfc, 0],
        &[0x40, 2, 7, 2, 1, 0, 0, 0xfc, 0, 2],
        &[0x40, 2, 6, 2, 1, 0, 0, 0, 0],
    ] {
        assert_withdrawn(&ok(&body(&[], &[ORIGIN, bad, NEXT_HOP], NLRI)));
    }
}

#[test]
fn malformed_mp_reach_resets_the_session() {
    // IPv6 unicast with a 5-octet next hop: Optional Attribute Error, data = the attribute.
    let bad_nh: &[u8] = &[0x80, 14, 11, 0, 2, 1, 5, 1, 2, 3, 4, 5, 0, 0];
    let e = reset(&route(&[bad_nh]));
    assert_eq!(e.notification.subcode, update_error::OPTIONAL_ATTRIBUTE_ERROR);
    assert_eq!(e.notification.data, bad_nh);
    // NLRI running past the attribute.
    let overrun: &[u8] = &[0x80, 14, 8, 0, 1, 1, 4, 192, 0, 2, 2, 0, 24, 10];
    let overrun = [&overrun[..12], &[24, 10]].concat();
    let mut overrun_attr = overrun.clone();
    overrun_attr[2] = (overrun.len() - 3) as u8;
    assert!(matches!(
        reset(&route(&[&overrun_attr])).reason,
        Reason::MalformedNlri {
            family: Family::Ipv4Unicast,
            ..
        }
    ));
    // Too short to hold AFI/SAFI/next hop length; MP_UNREACH too short.
    reset(&route(&[&[0x80, 14, 2, 0, 1]]));
    reset(&route(&[&[0x80, 15, 2, 0, 2]]));
    // Wrong flags on MP_REACH_NLRI: Attribute Flags Error.
    let e = reset(&route(&[&[0x40, 14, 5, 0, 1, 1, 0, 0]]));
    assert_eq!(e.notification.subcode, update_error::ATTRIBUTE_FLAGS_ERROR);
}

#[test]
fn unknown_afi_safi_in_mp_attributes_disables_the_family() {
    // RFC 4760 §7: AFI 1 SAFI 5 (MCAST-VPN) is not spoken: ignore it (AFI/SAFI disable) or reset.
    let d = ok(&route(&[&[0x80, 14, 11, 0, 1, 5, 4, 192, 0, 2, 2, 0, 0, 1]]));
    assert_eq!(d.disabled_families(), [(Afi(1), Safi(5))]);
    let Some(Action::AfiSafiDisable { notification, .. }) = d.strongest_action() else {
        panic!("{:?}", d.errors)
    };
    assert_eq!((notification.code, notification.subcode), (3, 9));
    assert_eq!(d.update.attributes.mp_reach, None);
    // The IPv4 route of the same UPDATE is still announced.
    assert_eq!(d.announcements(), the_route());
    let d = ok(&body(&[], &[&[0x80, 15, 3, 0x40, 4, 71]], &[]));
    assert_eq!(d.disabled_families(), [(Afi(16388), Safi(71))]);
}

#[test]
fn duplicate_attributes() {
    // §3 (g): MP_REACH_NLRI or MP_UNREACH_NLRI twice: Malformed Attribute List.
    let mp: &[u8] = &[0x80, 14, 5, 0, 2, 1, 16, 0];
    let mp = [mp, &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]].concat();
    let mut mp_attr = mp.clone();
    mp_attr[2] = (mp.len() - 3) as u8;
    let e = reset(&route(&[&mp_attr, &mp_attr]));
    assert_eq!(e.notification.subcode, update_error::MALFORMED_ATTRIBUTE_LIST);
    assert_eq!(e.reason, Reason::DuplicateAttribute(14));
    let e = reset(&body(&[], &[&[0x80, 15, 3, 0, 2, 1], &[0x80, 15, 3, 0, 2, 1]], &[]));
    assert_eq!(e.reason, Reason::DuplicateAttribute(15));
    // Any other: the first is kept, the rest discarded.
    let d = ok(&route(&[&[0xc0, 8, 4, 0, 0, 0, 1], &[0xc0, 8, 4, 0, 0, 0, 2]]));
    assert_discarded(&d, 8);
    assert_eq!(d.errors[0].reason, Reason::DuplicateAttribute(8));
    assert_eq!(d.update.attributes.communities, [Community(1)]);
    let d = ok(&body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, &[0x40, 1, 1, 2]], NLRI));
    assert_discarded(&d, 1);
    assert_eq!(d.update.attributes.origin, Some(weft_bgp::Origin::Igp));
}

#[test]
fn attribute_flags_in_conflict() {
    // §3 (c): treat-as-withdraw unless the attribute's own rule says otherwise.
    let d = ok(&body(&[], &[&[0xc0, 1, 1, 0], AS_PATH, NEXT_HOP], NLRI));
    assert_withdrawn(&d);
    assert!(matches!(
        d.errors[0].reason,
        Reason::AttributeFlags {
            type_code: 1,
            flags: 0xc0
        }
    ));
    assert_withdrawn(&ok(&route(&[&[0xc0, 4, 4, 0, 0, 0, 1]])));
    assert_withdrawn(&ok(&route(&[&[0x40, 8, 4, 0, 0, 0, 1]])));
    // AGGREGATOR and ATOMIC_AGGREGATE: attribute discard.
    assert_discarded(&ok(&route(&[&[0x40, 7, 8, 0, 0, 0xfc, 0, 192, 0, 2, 1]])), 7);
    assert_discarded(&ok(&route(&[&[0xc0, 6, 0]])), 6);
    // The Partial and Extended Length bits are not in conflict with anything.
    let d = ok(&route(&[&[0xf0, 8, 0, 4, 0, 0, 0, 1]]));
    assert!(d.errors.is_empty());
}

#[test]
fn nlri_and_withdrawn_routes_that_do_not_parse_reset() {
    // NLRI running past the message; prefix longer than 32.
    for nlri in [&[24, 198, 51][..], &[33, 1, 2, 3, 4, 5]] {
        let e = reset(&body(&[], &[ORIGIN, AS_PATH, NEXT_HOP], nlri));
        assert_eq!(e.notification.subcode, update_error::INVALID_NETWORK_FIELD);
    }
    let e = reset(&body(&[16, 10], &[], &[]));
    assert_eq!(e.notification.subcode, update_error::INVALID_NETWORK_FIELD);
    // Length fields past the message: Malformed Attribute List.
    let mut b = route(&[]);
    b[1] = 200;
    assert_eq!(reset(&b).notification.subcode, update_error::MALFORMED_ATTRIBUTE_LIST);
    let mut b = route(&[]);
    b[3] = 200;
    assert_eq!(reset(&b).notification.subcode, update_error::MALFORMED_ATTRIBUTE_LIST);
}

#[test]
fn attribute_running_past_the_attribute_list_is_treat_as_withdraw() {
    // §4: the last attribute says 9 octets but only 4 are left; the NLRI are still found.
    let mut b = body(&[], &[ORIGIN, AS_PATH, &[0x40, 3, 9, 192, 0, 2, 2]], NLRI);
    let d = ok(&b);
    assert_withdrawn(&d);
    // Fewer than 3 octets left for an attribute header.
    b = body(&[], &[ORIGIN, AS_PATH, NEXT_HOP, &[0xc0, 8]], NLRI);
    assert_withdrawn(&ok(&b));
}

#[test]
fn missing_mandatory_attributes_are_treat_as_withdraw() {
    for (attrs, missing) in [
        (vec![AS_PATH, NEXT_HOP], 1u8),
        (vec![ORIGIN, NEXT_HOP], 2),
        (vec![ORIGIN, AS_PATH], 3),
    ] {
        let d = ok(&body(&[], &attrs, NLRI));
        assert_withdrawn(&d);
        assert_eq!(d.errors[0].reason, Reason::MissingWellKnown(missing));
    }
    // MP_REACH_NLRI routes need ORIGIN and AS_PATH but not NEXT_HOP.
    let mp: &[u8] = &[
        0x80, 14, 26, 0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 32, 0x20, 1, 0xd, 0xb8,
    ];
    let d = ok(&body(&[], &[ORIGIN, AS_PATH, mp], &[]));
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let d = ok(&body(&[], &[ORIGIN, mp], &[]));
    let v6 = vec![Nlri::Prefix(Prefix::new("2001:db8::/32".parse().unwrap()))];
    assert_eq!(
        d.strongest_action(),
        Some(&Action::TreatAsWithdraw { nlri: v6.clone() })
    );
    assert_eq!(d.withdrawals(), v6);
    // Withdrawals alone need nothing.
    let d = ok(&body(&[24, 198, 51, 100], &[], &[]));
    assert!(d.errors.is_empty());
    assert_eq!(d.withdrawals(), the_route());
}

#[test]
fn unknown_attributes() {
    // Unrecognized well-known: reset with Unrecognized Well-known Attribute and the attribute.
    let e = reset(&route(&[&[0x40, 0x99, 1, 7]]));
    assert_eq!(e.notification.subcode, update_error::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE);
    assert_eq!(e.notification.data, [0x40, 0x99, 1, 7]);
    // Optional transitive: kept byte for byte; passed on with the Partial bit.
    let b = route(&[&[0xc0, 0x99, 2, 7, 8]]);
    let d = ok(&b);
    assert!(d.errors.is_empty());
    assert_eq!(d.update.attributes.unknown[0].value, [7, 8]);
    let mut out = weft_bgp::Message::Update(d.update.clone()).encode(&caps()).unwrap();
    assert_eq!(&out[19..], &b[..]);
    let passed = Update {
        attributes: d.update.attributes.for_propagation(),
        ..d.update.clone()
    };
    out = weft_bgp::Message::Update(passed).encode(&caps()).unwrap();
    assert!(out.windows(3).any(|w| w == [0xe0, 0x99, 2]));
    // Optional non-transitive: dropped quietly.
    let d = ok(&route(&[&[0x80, 0x99, 2, 7, 8]]));
    assert!(d.errors.is_empty());
    assert_eq!(d.update.attributes, ok(&route(&[])).update.attributes);
}

#[test]
fn as4_attributes() {
    // RFC 6793 §3: AS4_PATH / AS4_AGGREGATOR from a NEW speaker are discarded.
    let as4_path: &[u8] = &[0xc0, 17, 6, 2, 1, 0xfa, 0x56, 0xea, 1];
    let d = ok(&route(&[as4_path]));
    assert_discarded(&d, 17);
    assert_eq!(d.errors[0].reason, Reason::As4FromNewSpeaker(17));
    // Between OLD and NEW a malformed AS4_PATH or AS4_AGGREGATOR is discarded too (§6).
    let old = SessionCaps::default();
    let b = body(
        &[],
        &[
            ORIGIN,
            &[0x40, 2, 4, 2, 1, 0x5b, 0xa0],
            NEXT_HOP,
            &[0xc0, 17, 3, 2, 1, 0],
        ],
        NLRI,
    );
    let d = Update::decode(&b, &old).unwrap();
    assert_discarded(&d, 17);
    let b = body(
        &[],
        &[
            ORIGIN,
            &[0x40, 2, 4, 2, 1, 0x5b, 0xa0],
            NEXT_HOP,
            &[0xc0, 18, 6, 0, 1, 192, 0, 2, 1],
        ],
        NLRI,
    );
    assert_discarded(&Update::decode(&b, &old).unwrap(), 18);
}

#[test]
fn the_strongest_action_wins() {
    // ATOMIC_AGGREGATE malformed (discard) and MED malformed (treat-as-withdraw).
    let d = ok(&route(&[&[0x40, 6, 1, 0], &[0x80, 4, 1, 0]]));
    assert_eq!(d.errors.len(), 2);
    assert_withdrawn(&d);
}

#[test]
fn decoded_update_keeps_the_good_attributes() {
    let d = ok(&route(&[&[0x80, 4, 3, 0, 0, 1], &[0xc0, 8, 4, 0, 0, 0, 9]]));
    assert_eq!(
        d.update.attributes,
        PathAttributes {
            communities: vec![Community(9)],
            ..ok(&route(&[])).update.attributes
        }
    );
}
