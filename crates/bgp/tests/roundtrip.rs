//! Typed value -> encode -> decode gives the value back, for every message type and NLRI family.

mod common;

use common::strategy;
use proptest::prelude::*;
use weft_bgp::{
    Family, Message, MpReach, MpUnreach, NextHop, PathAttributes, Reason, SessionCaps, Update, decode_message,
};

fn round_trip(message: &Message, caps: &SessionCaps) -> Result<(), TestCaseError> {
    let bytes = message
        .encode(caps)
        .map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
    let decoded = decode_message(&bytes, caps).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    prop_assert_eq!(&decoded.message, message);
    // The only complaint allowed is a missing mandatory attribute (the strategy does not insist
    // on ORIGIN/AS_PATH/NEXT_HOP when there are routes).
    for e in &decoded.errors {
        prop_assert!(matches!(e.reason, Reason::MissingWellKnown(_)), "{:?}", e);
    }
    // And the octets are canonical: decoding and encoding again changes nothing.
    prop_assert_eq!(decoded.message.encode(caps).ok(), Some(bytes));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_message_type((caps, message) in strategy::caps().prop_flat_map(|c| (Just(c.clone()), strategy::message(c)))) {
        round_trip(&message, &caps)?;
    }

    #[test]
    fn every_update((caps, update) in strategy::caps().prop_flat_map(|c| (Just(c.clone()), strategy::update(c)))) {
        round_trip(&Message::Update(update), &caps)?;
    }

    #[test]
    fn every_open(open in strategy::open()) {
        round_trip(&Message::Open(open), &SessionCaps::default())?;
    }

    /// Each family in MP_REACH_NLRI and MP_UNREACH_NLRI, with and without ADD-PATH.
    #[test]
    fn every_nlri_family(
        (caps, family, reach, unreach, next_hop) in (strategy::caps(), strategy::family()).prop_flat_map(|(c, f)| {
            let ap = c.add_path(f);
            (
                Just(c),
                Just(f),
                proptest::collection::vec(strategy::nlri(f, ap), 1..6),
                proptest::collection::vec(strategy::withdrawn_nlri(f, ap), 0..6),
                Just(match f {
                    Family::Ipv6Unicast | Family::Vpnv6 => NextHop::new("2001:db8::1".parse().unwrap()),
                    _ => NextHop::new("192.0.2.1".parse().unwrap()),
                }),
            )
        })
    ) {
        let update = Update {
            attributes: PathAttributes {
                origin: Some(weft_bgp::Origin::Igp),
                as_path: Some(weft_bgp::AsPath::default()),
                mp_reach: Some(MpReach { family, next_hop, nlri: reach }),
                mp_unreach: Some(MpUnreach { family, withdrawn: unreach }),
                ..PathAttributes::default()
            },
            ..Update::default()
        };
        let message = Message::Update(update);
        round_trip(&message, &caps)?;
        let bytes = message.encode(&caps).unwrap();
        prop_assert!(decode_message(&bytes, &caps).unwrap().errors.is_empty());
    }
}
