//! Random namespaces, pods, labels, ports and policies (selectors with every operator, ipBlocks
//! with except in both families, numeric, named and ranged ports, TCP, UDP and SCTP), and every
//! connection between their addresses and some outside ones: the compiled rules decide exactly
//! as the API semantics ([`evaluate`]) do.

use std::collections::BTreeMap;
use std::net::IpAddr;

use proptest::prelude::*;
use weft_api::k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use weft_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, ObjectMeta};
use weft_api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use weft_policy::*;

/// w is never listed: it has only its name label. Listed twice to weigh the others more.
const NAMESPACES: [&str; 7] = ["x", "y", "x", "y", "z", "z", "w"];
const VALUES: [&str; 3] = ["a", "b", "c"];

/// Each key present most of the time, with one of three values.
fn labels(keys: &'static [&'static str]) -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::vec(
        proptest::option::weighted(0.8, proptest::sample::select(&VALUES[..])),
        keys.len(),
    )
    .prop_map(move |values| {
        keys.iter()
            .zip(values)
            .filter_map(|(k, v)| Some((k.to_string(), v?.to_string())))
            .collect()
    })
}

fn selector(keys: &'static [&'static str]) -> impl Strategy<Value = LabelSelector> {
    let expr = (
        proptest::sample::select(keys),
        0..4usize,
        proptest::collection::btree_set(proptest::sample::select(&VALUES[..]), 1..3),
    )
        .prop_map(|(key, op, values)| {
            let (operator, values) = match op {
                0 => ("In", Some(values)),
                1 => ("NotIn", Some(values)),
                2 => ("Exists", None),
                _ => ("DoesNotExist", None),
            };
            LabelSelectorRequirement {
                key: key.to_string(),
                operator: operator.to_string(),
                values: values.map(|v| v.into_iter().map(str::to_string).collect()),
            }
        });
    let one_label = (proptest::sample::select(keys), proptest::sample::select(&VALUES[..]));
    prop_oneof![
        2 => Just(LabelSelector::default()),
        3 => one_label.prop_map(|(k, v)| LabelSelector {
            match_labels: Some([(k.to_string(), v.to_string())].into()),
            ..Default::default()
        }),
        3 => proptest::collection::vec(expr.clone(), 1..2).prop_map(|e| LabelSelector {
            match_expressions: Some(e),
            ..Default::default()
        }),
        2 => (
            proptest::option::of(labels(keys)),
            proptest::option::of(proptest::collection::vec(expr, 0..3)),
        )
            .prop_map(|(match_labels, match_expressions)| LabelSelector {
                match_labels,
                match_expressions,
            }),
    ]
}

const CIDRS: [&str; 8] = [
    "10.0.0.0/24",
    "10.0.0.0/29",
    "10.0.0.4/30",
    "10.0.0.3/32",
    "0.0.0.0/0",
    "fd00::/120",
    "fd00::/126",
    "::/0",
];
const EXCEPTS: [&str; 9] = [
    "10.0.0.0/30",
    "10.0.0.2/31",
    "10.0.0.5/32",
    "10.0.0.0/25",
    "192.168.0.0/16",
    "fd00::/127",
    "fd00::4/126",
    "fd00::3/128",
    "2001:db8::/32",
];

fn ip_block() -> impl Strategy<Value = IPBlock> {
    (
        proptest::sample::select(&CIDRS[..]),
        proptest::collection::vec(proptest::sample::select(&EXCEPTS[..]), 0..3),
    )
        .prop_map(|(cidr, except)| {
            let net: IpNet = cidr.parse().unwrap();
            // Only excepts strictly inside the cidr are valid.
            let except: Vec<String> = except
                .into_iter()
                .filter(|e| {
                    let e: IpNet = e.parse().unwrap();
                    net.contains(&e) && e.prefix_len() > net.prefix_len()
                })
                .map(str::to_string)
                .collect();
            IPBlock {
                cidr: cidr.to_string(),
                except: if except.is_empty() { None } else { Some(except) },
            }
        })
}

fn peer() -> impl Strategy<Value = NetworkPolicyPeer> {
    prop_oneof![
        selector(&["app", "tier"]).prop_map(|s| NetworkPolicyPeer {
            pod_selector: Some(s),
            ..Default::default()
        }),
        selector(&["team", "env", "kubernetes.io/metadata.name"]).prop_map(|s| NetworkPolicyPeer {
            namespace_selector: Some(s),
            ..Default::default()
        }),
        (selector(&["app", "tier"]), selector(&["team", "env"])).prop_map(|(p, n)| NetworkPolicyPeer {
            pod_selector: Some(p),
            namespace_selector: Some(n),
            ..Default::default()
        }),
        ip_block().prop_map(|b| NetworkPolicyPeer {
            ip_block: Some(b),
            ..Default::default()
        }),
    ]
}

const PORT_NAMES: [&str; 3] = ["http", "dns", "metrics"];
const PROTOCOLS: [Option<&str>; 4] = [None, Some("TCP"), Some("UDP"), Some("SCTP")];

fn port() -> impl Strategy<Value = NetworkPolicyPort> {
    let protocol = proptest::sample::select(&PROTOCOLS[..]).prop_map(|p| p.map(str::to_string));
    prop_oneof![
        protocol.clone().prop_map(|protocol| NetworkPolicyPort {
            protocol,
            ..Default::default()
        }),
        (
            protocol.clone(),
            proptest::sample::select(&[53, 79, 80, 81, 82][..]),
            proptest::option::of(0..3i32)
        )
            .prop_map(|(protocol, port, end)| {
                NetworkPolicyPort {
                    protocol,
                    port: Some(IntOrString::Int(port)),
                    end_port: end.map(|e| port + e),
                }
            }),
        (protocol, proptest::sample::select(&PORT_NAMES[..])).prop_map(|(protocol, name)| NetworkPolicyPort {
            protocol,
            port: Some(IntOrString::String(name.to_string())),
            end_port: None,
        }),
    ]
}

/// `None`, `[]` or some peers.
fn peers() -> impl Strategy<Value = Option<Vec<NetworkPolicyPeer>>> {
    prop_oneof![
        Just(None),
        Just(Some(vec![])),
        proptest::collection::vec(peer(), 1..3).prop_map(Some),
    ]
}

fn ports() -> impl Strategy<Value = Option<Vec<NetworkPolicyPort>>> {
    prop_oneof![
        Just(None),
        Just(Some(vec![])),
        proptest::collection::vec(port(), 1..3).prop_map(Some),
    ]
}

const TYPES: [&[&str]; 5] = [
    &[],
    &["Ingress"],
    &["Egress"],
    &["Ingress", "Egress"],
    &["Egress", "Ingress"],
];

fn policy(index: usize) -> impl Strategy<Value = NetworkPolicy> {
    let ingress = proptest::option::of(proptest::collection::vec(
        (peers(), ports()).prop_map(|(from, ports)| NetworkPolicyIngressRule { from, ports }),
        0..3,
    ));
    let egress = proptest::option::of(proptest::collection::vec(
        (peers(), ports()).prop_map(|(to, ports)| NetworkPolicyEgressRule { to, ports }),
        0..3,
    ));
    let types = proptest::option::of(proptest::sample::select(&TYPES[..]));
    (
        proptest::sample::select(&NAMESPACES[..]),
        proptest::option::weighted(0.9, selector(&["app", "tier"])),
        ingress,
        egress,
        types,
    )
        .prop_map(move |(ns, pod_selector, ingress, egress, types)| NetworkPolicy {
            metadata: ObjectMeta {
                namespace: Some(ns.to_string()),
                name: Some(format!("np{index}")),
                ..Default::default()
            },
            spec: Some(NetworkPolicySpec {
                pod_selector,
                ingress,
                egress,
                policy_types: types.map(|t| t.iter().map(|s| s.to_string()).collect()),
            }),
        })
}

fn container_ports() -> impl Strategy<Value = Vec<ContainerPort>> {
    let one = (
        proptest::option::of(proptest::sample::select(&PORT_NAMES[..])),
        proptest::sample::select(&Protocol::ALL[..]),
        proptest::sample::select(&[53u16, 80, 81, 8080][..]),
    )
        .prop_map(|(name, protocol, port)| ContainerPort {
            name: name.map(str::to_string),
            protocol,
            port,
        });
    proptest::collection::vec(one, 0..5).prop_map(|mut ports| {
        // A pod's port names are unique per protocol, as the API server requires.
        let mut seen = std::collections::BTreeSet::new();
        ports.retain(|p| p.name.is_none() || seen.insert((p.name.clone(), p.protocol)));
        ports
    })
}

/// Pod i has 10.0.0.(i+1) and/or fd00::(i+1), or no address yet.
fn pods() -> impl Strategy<Value = Vec<PodInfo>> {
    proptest::collection::vec(
        (
            proptest::sample::select(&NAMESPACES[..]),
            labels(&["app", "tier"]),
            prop_oneof![1 => Just(0u8), 3 => Just(1u8), 1 => Just(2u8), 3 => Just(3u8)],
            container_ports(),
        ),
        2..10,
    )
    .prop_map(|pods| {
        pods.into_iter()
            .enumerate()
            .map(|(i, (ns, labels, family, ports))| {
                let n = i as u8 + 1;
                let v4 = IpAddr::from([10, 0, 0, n]);
                let v6 = IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, u16::from(n)]);
                let addresses = match family {
                    0 => vec![],
                    1 => vec![v4],
                    2 => vec![v6],
                    _ => vec![v4, v6],
                };
                let mut pod = PodInfo::new(ns, &format!("p{i}"), [])
                    .with_addresses(addresses)
                    .with_ports(ports);
                pod.labels = labels;
                pod
            })
            .collect()
    })
}

fn namespaces() -> impl Strategy<Value = Vec<NamespaceInfo>> {
    proptest::collection::vec(labels(&["team", "env"]), 3).prop_map(|all| {
        all.into_iter()
            .zip(["x", "y", "z"])
            .map(|(labels, name)| NamespaceInfo {
                name: name.to_string(),
                labels,
            })
            .collect()
    })
}

fn policies() -> impl Strategy<Value = Vec<NetworkPolicy>> {
    (0..6usize).prop_flat_map(|n| (0..n).map(policy).collect::<Vec<_>>())
}

const OUTSIDE: [&str; 5] = ["10.0.0.200", "10.0.0.2", "192.168.1.1", "fd00::ff", "2001:db8::1"];
const TRAFFIC: [Traffic; 14] = [
    Traffic::Port {
        protocol: Protocol::Tcp,
        port: 53,
    },
    Traffic::Port {
        protocol: Protocol::Tcp,
        port: 54,
    },
    Traffic::Port {
        protocol: Protocol::Tcp,
        port: 79,
    },
    Traffic::Port {
        protocol: Protocol::Tcp,
        port: 80,
    },
    Traffic::Port {
        protocol: Protocol::Tcp,
        port: 81,
    },
    Traffic::Port {
        protocol: Protocol::Tcp,
        port: 83,
    },
    Traffic::Port {
        protocol: Protocol::Tcp,
        port: 85,
    },
    Traffic::Port {
        protocol: Protocol::Tcp,
        port: 8080,
    },
    Traffic::Port {
        protocol: Protocol::Udp,
        port: 53,
    },
    Traffic::Port {
        protocol: Protocol::Udp,
        port: 80,
    },
    Traffic::Port {
        protocol: Protocol::Udp,
        port: 0,
    },
    Traffic::Port {
        protocol: Protocol::Sctp,
        port: 80,
    },
    Traffic::Port {
        protocol: Protocol::Sctp,
        port: 81,
    },
    Traffic::Other { ip_protocol: 1 },
];

/// What nftables needs of an interval set: no element overlapping another.
fn check_disjoint(flat: &FlatRules) -> Result<(), TestCaseError> {
    let overlap = |a: &IpNet, b: &IpNet| a.contains(b) || b.contains(a);
    for (i, a) in flat.any.iter().enumerate() {
        for b in &flat.any[i + 1..] {
            prop_assert!(!overlap(a, b), "any: {} and {} overlap", a, b);
        }
    }
    for (i, (a, ra)) in flat.ports.iter().enumerate() {
        prop_assert!(!flat.any.iter().any(|n| n.contains(a)), "{} is already in any", a);
        for (b, rb) in &flat.ports[i + 1..] {
            let ports_overlap = ra.protocol == rb.protocol && ra.first <= rb.last && rb.first <= ra.last;
            prop_assert!(
                !(overlap(a, b) && ports_overlap),
                "{} {} and {} {} overlap",
                a,
                ra,
                b,
                rb
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn compiled_rules_agree_with_the_api_semantics(
        namespaces in namespaces(),
        pods in pods(),
        policies in policies(),
    ) {
        let parsed: Vec<Policy> = policies.iter().map(|p| Policy::parse(p).expect("generated policies are valid")).collect();
        let input = Input::new(namespaces, pods, parsed);
        let compiled = compile(&input);
        let mut ends: Vec<Endpoint> = input
            .pods()
            .iter()
            .flat_map(|p| p.addresses.iter().map(|a| Endpoint::pod(p.key.clone(), *a)))
            .collect();
        // An outside address that is not a pod's (10.0.0.2 may be one: then it stays a pod's).
        for a in OUTSIDE {
            let a: IpAddr = a.parse().unwrap();
            if input.pod_at(a).is_none() {
                ends.push(Endpoint::outside(a));
            }
        }
        let flats: BTreeMap<Key, [Option<FlatRules>; 2]> = compiled
            .endpoints
            .iter()
            .map(|(k, e)| (k.clone(), [e.flat(Direction::Egress), e.flat(Direction::Ingress)]))
            .collect();
        for flat in flats.values().flatten().flatten() {
            check_disjoint(flat)?;
        }
        let flat_allows = |c: &Connection| {
            if c.src.pod.is_some() && c.src.pod == c.dst.pod {
                return true;
            }
            let side = |pod: &Option<Key>, i: usize, peer| {
                pod.as_ref()
                    .and_then(|k| flats.get(k))
                    .and_then(|f| f[i].as_ref())
                    .is_none_or(|f| f.allows(peer, c.traffic))
            };
            side(&c.src.pod, 0, c.dst.address) && side(&c.dst.pod, 1, c.src.address)
        };
        for src in &ends {
            for dst in &ends {
                for traffic in TRAFFIC {
                    let c = Connection { src: src.clone(), dst: dst.clone(), traffic };
                    let verdict = evaluate(&input, &c);
                    prop_assert_eq!(flat_allows(&c), verdict.allowed, "flat sets: {}", explain_connection(&input, &c));
                    prop_assert_eq!(
                        compiled.allows(&c),
                        verdict.allowed,
                        "{}\n{:?}\n{}",
                        explain_connection(&input, &c),
                        c.dst.pod.as_ref().and_then(|k| compiled.endpoints.get(k)),
                        c.src.pod.as_ref().map(|k| explain_pod(&input, k)).unwrap_or_default(),
                    );
                }
            }
        }
        // Every pod has an endpoint, isolated exactly when a policy of that direction selects it.
        for pod in input.pods() {
            let e = &compiled.endpoints[&pod.key];
            for d in [Direction::Ingress, Direction::Egress] {
                let isolated = input.selecting(pod).any(|p| p.rules(d).is_some());
                prop_assert_eq!(e.rules(d).is_some(), isolated);
            }
        }
    }

    /// Whatever the objects hold, reading them never panics: a policy is either read or refused
    /// with problems that name fields.
    #[test]
    fn parsing_never_panics(
        port in proptest::option::of(prop_oneof![any::<i32>().prop_map(IntOrString::Int), "[a-z0-9-]{0,17}".prop_map(IntOrString::String)]),
        end_port in proptest::option::of(any::<i32>()),
        protocol in proptest::option::of("TCP|UDP|SCTP|ICMP|tcp"),
        cidr in "[0-9a-f:./]{0,20}",
        except in proptest::collection::vec("[0-9a-f:./]{0,20}", 0..2),
        operator in "In|NotIn|Exists|DoesNotExist|Equals",
        values in proptest::option::of(proptest::collection::vec("[a-c]", 0..2)),
        types in proptest::option::of(proptest::collection::vec("Ingress|Egress|Both", 0..3)),
    ) {
        let np = NetworkPolicy {
            metadata: ObjectMeta { namespace: Some("x".into()), name: Some("fuzz".into()), ..Default::default() },
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector {
                    match_expressions: Some(vec![LabelSelectorRequirement { key: "app".into(), operator, values }]),
                    ..Default::default()
                }),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(vec![NetworkPolicyPeer { ip_block: Some(IPBlock { cidr, except: Some(except) }), ..Default::default() }]),
                    ports: Some(vec![NetworkPolicyPort { port, end_port, protocol }]),
                }]),
                egress: None,
                policy_types: types,
            }),
        };
        match Policy::parse(&np) {
            Ok(_) => {}
            Err(e) => {
                prop_assert!(!e.problems.is_empty());
                prop_assert!(e.to_string().starts_with("NetworkPolicy/x/fuzz: spec."), "{}", e);
            }
        }
    }
}
