//! Property tests over the model: generated VirtualNetworks survive a YAML round trip, and
//! generated invalid values are always reported at the right path.

use proptest::prelude::*;
use weft_api::{ObjectMeta, Resource, VirtualNetwork, VirtualNetworkSpec, manifest};

fn rt() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..=65535, any::<u32>()).prop_map(|(a, n)| format!("{a}:{n}")),
        (65536u64..=4294967295, any::<u16>()).prop_map(|(a, n)| format!("{a}:{n}")),
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(a, n)| format!("{}:{n}", std::net::Ipv4Addr::from(a))),
    ]
}

fn subnet(i: u8) -> impl Strategy<Value = String> {
    prop_oneof![
        (8u8..=30).prop_map(move |len| {
            let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(10, i, 0, 0), len.max(16))
                .unwrap()
                .trunc();
            net.to_string()
        }),
        (48u8..=120).prop_map(move |len| {
            let net = ipnet::Ipv6Net::new(format!("fd00:{i:x}::").parse().unwrap(), len)
                .unwrap()
                .trunc();
            net.to_string()
        }),
    ]
}

fn vn() -> impl Strategy<Value = VirtualNetwork> {
    (
        "[a-z][a-z0-9-]{0,20}[a-z0-9]",
        1u32..=16777215,
        prop::collection::vec(rt(), 0..4),
        prop::collection::vec(rt(), 0..4),
        prop::option::of(rt()),
        (subnet(1), subnet(2)),
    )
        .prop_map(|(name, vni, import, export, rd, (a, b))| VirtualNetwork {
            metadata: ObjectMeta {
                name: Some(name),
                ..Default::default()
            },
            spec: VirtualNetworkSpec {
                subnets: vec![a, b],
                vni,
                route_distinguisher: rd,
                import_route_targets: import,
                export_route_targets: export,
            },
            status: None,
        })
}

proptest! {
    #[test]
    fn virtual_networks_round_trip(vn in vn()) {
        let resource = Resource::VirtualNetwork(vn);
        let yaml = resource.to_yaml();
        let parsed = manifest::parse(&yaml, "-").map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&parsed[0], &resource);
    }

    #[test]
    fn bad_subnet_is_reported_at_its_index(vn in vn(), len in 33u8..=99, index in 0usize..3) {
        let mut vn = vn;
        let bad = format!("10.9.0.0/{len}");
        let at = index.min(vn.spec.subnets.len());
        vn.spec.subnets.insert(at, bad.clone());
        let name = vn.metadata.name.clone().unwrap();
        let err = manifest::parse(&Resource::VirtualNetwork(vn).to_yaml(), "-").unwrap_err().to_string();
        let want = format!("VirtualNetwork/{name}: spec.subnets[{at}]: {bad} is not a valid IPv4 prefix");
        prop_assert!(err.contains(&want), "{}", err);
    }
}
