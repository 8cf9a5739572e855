//! Property tests over the model: generated VirtualNetworks survive a YAML round trip, and
//! generated invalid values are always reported at the right path.

use proptest::prelude::*;
use weft_api::{ObjectMeta, Resource, VirtualNetwork, VirtualNetworkSpec, manifest};

fn rt() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..=65535, any::<u32>()).prop_map(|(a, n)| format!("{a}:{n}")),
        (65536u64..=4294967295, any::<u16>()).prop_map(|(a, n)| format!("{a}:{n}")),
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, n)| format!("{}:{n}", std::net::Ipv4Addr::from(a))),
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

/// JSON trees shaped like manifests, with plausible keys and wrong types everywhere.
fn json_tree() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9./:-]{0,12}".prop_map(Value::String),
        Just(Value::String("10.1.0.0/33".into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("metadata"),
            Just("name"),
            Just("namespace"),
            Just("spec"),
            Just("subnets"),
            Just("vni"),
            Just("ports"),
            Just("port"),
            Just("podSelector"),
            Just("ingress"),
            Just("from"),
            Just("ipBlock"),
            Just("cidr"),
            Just("containers"),
            Just("labels"),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys.prop_map(str::to_string), inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Whatever a manifest holds, reading it gives a value or an error, never a panic.
    #[test]
    fn arbitrary_objects_never_panic(
        body in json_tree(),
        kind in prop::sample::select(vec![
            ("v1", "Pod"), ("v1", "Service"), ("v1", "Namespace"),
            ("networking.k8s.io/v1", "NetworkPolicy"),
            ("weft.io/v1alpha1", "VirtualNetwork"), ("weft.io/v1alpha1", "Cluster"),
        ]),
    ) {
        let mut value = serde_json::json!({"apiVersion": kind.0, "kind": kind.1});
        if let (Some(target), serde_json::Value::Object(fields)) = (value.as_object_mut(), body) {
            target.extend(fields);
        }
        let _ = manifest::from_value(value);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,200}") {
        let _ = manifest::parse(&text, "-");
    }
}
