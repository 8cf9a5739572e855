//! Property tests: route targets, route distinguishers and prefixes survive text and wire round
//! trips, and out-of-range input is refused rather than truncated.

use std::net::Ipv4Addr;

use proptest::prelude::*;
use weft_net::{Administrator, RouteDistinguisher, RouteTarget, parse_prefix};

fn any_rt_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..=65535, any::<u32>()).prop_map(|(a, n)| format!("{a}:{n}")),
        (65536u64..=4294967295, any::<u16>()).prop_map(|(a, n)| format!("{a}:{n}")),
        (any::<u32>(), any::<u16>()).prop_map(|(a, n)| format!("{}:{n}", Ipv4Addr::from(a))),
    ]
}

proptest! {
    #[test]
    fn route_target_text_and_wire_round_trip(text in any_rt_text()) {
        let rt: RouteTarget = text.parse().unwrap();
        prop_assert_eq!(rt.to_string(), text.clone());
        prop_assert_eq!(RouteTarget::from_extended_community(rt.to_extended_community()), Some(rt));
        let rd: RouteDistinguisher = text.parse().unwrap();
        prop_assert_eq!(rd.to_string(), text);
        prop_assert_eq!(RouteDistinguisher::from_bytes(rd.to_bytes()), Some(rd));
        // The RD type and the RT type agree on the administrator's encoding.
        prop_assert_eq!(rd.to_bytes()[1], rt.to_extended_community()[0]);
    }

    #[test]
    fn wide_numbers_are_refused_not_truncated(a in 65536u64..=4294967295, n in 65536u64..=4294967295) {
        let text = format!("{a}:{n}");
        let err = text.parse::<RouteTarget>().unwrap_err();
        prop_assert!(err.to_string().contains("must be at most 65535"), "{}", err);
        let text = format!("192.0.2.1:{n}");
        prop_assert!(text.parse::<RouteTarget>().is_err());
    }

    #[test]
    fn administrator_too_large_is_refused(a in 4294967296u64..=9999999999) {
        let text = format!("{a}:1");
        prop_assert!(text.parse::<RouteTarget>().is_err());
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,40}") {
        let _ = s.parse::<RouteTarget>();
        let _ = s.parse::<RouteDistinguisher>();
        let _ = parse_prefix(&s);
    }

    #[test]
    fn prefixes_round_trip(addr in any::<u32>(), len in 0u8..=32) {
        let net = ipnet::Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap().trunc();
        let text = net.to_string();
        prop_assert_eq!(parse_prefix(&text).unwrap().to_string(), text);
    }

    #[test]
    fn prefixes_with_host_bits_suggest_the_network(addr in any::<u32>(), len in 0u8..32) {
        let given = ipnet::Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap();
        prop_assume!(given.network() != given.addr());
        let err = parse_prefix(&given.to_string()).unwrap_err();
        let want = format!("did you mean {}?", given.trunc());
        prop_assert!(err.to_string().ends_with(&want));
    }

    #[test]
    fn v6_prefixes_round_trip(addr in any::<u128>(), len in 0u8..=128) {
        let net = ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(addr), len).unwrap().trunc();
        let text = net.to_string();
        prop_assert_eq!(parse_prefix(&text).unwrap().to_string(), text);
    }

    #[test]
    fn bad_lengths_are_refused(len in 33u32..1000) {
        let err = parse_prefix(&format!("10.0.0.0/{len}")).unwrap_err();
        prop_assert!(err.to_string().contains("is not a valid IPv4 prefix"));
    }
}

#[test]
fn types_follow_rfc_4360() {
    let rt: RouteTarget = "64512:100".parse().unwrap();
    assert_eq!(rt.to_extended_community(), [0x00, 0x02, 0xfc, 0x00, 0, 0, 0, 100]);
    let rt: RouteTarget = "192.0.2.1:7".parse().unwrap();
    assert_eq!(rt.to_extended_community(), [0x01, 0x02, 192, 0, 2, 1, 0, 7]);
    let rt: RouteTarget = "4200000001:7".parse().unwrap();
    assert_eq!(rt.administrator(), Administrator::As4(4200000001));
    assert_eq!(rt.to_extended_community()[..2], [0x02, 0x02]);
    // Not a route target: another sub-type.
    assert_eq!(
        RouteTarget::from_extended_community([0x00, 0x03, 0, 0, 0, 0, 0, 0]),
        None
    );
    let e = "blue".parse::<RouteTarget>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "\"blue\" is not a valid route target: expected ADMINISTRATOR:NUMBER, e.g. 64512:100, 4200000001:100 or 192.0.2.1:100"
    );
}

#[test]
fn serde_uses_the_text_form() {
    let rt: RouteTarget = serde_json::from_str("\"64512:1\"").unwrap();
    assert_eq!(serde_json::to_string(&rt).unwrap(), "\"64512:1\"");
    assert!(serde_json::from_str::<RouteTarget>("\"64512\"").is_err());
}
