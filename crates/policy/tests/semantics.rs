//! One test per subtlety of networking.k8s.io/v1, on the compiled form the agent will see and on
//! the evaluator.

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use common::np;
use serde_json::json;
use weft_api::k8s_openapi::api::core::v1::{Namespace, Pod};
use weft_policy::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn tcp(first: u16, last: u16) -> PortRange {
    PortRange {
        protocol: Protocol::Tcp,
        first,
        last,
    }
}

fn set(addresses: &[&str]) -> Peers {
    Peers::Set {
        addresses: Arc::new(addresses.iter().map(|a| ip(a)).collect()),
        blocks: vec![],
    }
}

/// Two namespaces (web: team=web; db: team=db), pods with an address each.
fn input(policies: &[serde_json::Value]) -> Input {
    let pods = vec![
        PodInfo::new("web", "front", [("app", "front")])
            .with_addresses([ip("10.0.0.1"), ip("fd00::1")])
            .with_ports([ContainerPort::named("http", Protocol::Tcp, 8080)]),
        PodInfo::new("web", "api", [("app", "api")])
            .with_addresses([ip("10.0.0.2")])
            .with_ports([ContainerPort::named("http", Protocol::Tcp, 9090)]),
        PodInfo::new("db", "pg", [("app", "db")])
            .with_addresses([ip("10.0.1.1")])
            .with_ports([ContainerPort::named("pg", Protocol::Tcp, 5432)]),
        PodInfo::new("db", "pending", [("app", "db")]),
    ];
    let namespaces = vec![
        NamespaceInfo::new("web", [("team", "web")]),
        NamespaceInfo::new("db", [("team", "db")]),
    ];
    let policies = policies
        .iter()
        .map(|p| {
            let (ns, name) = (p["ns"].as_str().unwrap(), p["name"].as_str().unwrap());
            Policy::parse(&np(ns, name, p["spec"].clone())).unwrap()
        })
        .collect();
    Input::new(namespaces, pods, policies)
}

fn policy(ns: &str, name: &str, spec: serde_json::Value) -> serde_json::Value {
    json!({"ns": ns, "name": name, "spec": spec})
}

fn endpoint<'a>(compiled: &'a Compiled, ns: &str, name: &str) -> &'a EndpointRules {
    &compiled.endpoints[&Key::new(ns, name)]
}

fn peers_and_ports(rules: &[Rule]) -> Vec<(Peers, Vec<PortRange>)> {
    rules.iter().map(|r| (r.peers.clone(), r.ports.clone())).collect()
}

fn conn(src: (&str, &str, &str), dst: (&str, &str, &str), traffic: Traffic) -> Connection {
    let end = |(ns, name, addr): (&str, &str, &str)| {
        if ns.is_empty() {
            Endpoint::outside(ip(addr))
        } else {
            Endpoint::pod(Key::new(ns, name), ip(addr))
        }
    };
    Connection {
        src: end(src),
        dst: end(dst),
        traffic,
    }
}

const FRONT: (&str, &str, &str) = ("web", "front", "10.0.0.1");
const API: (&str, &str, &str) = ("web", "api", "10.0.0.2");
const PG: (&str, &str, &str) = ("db", "pg", "10.0.1.1");

/// Both the evaluator and the compiled form decide `c` as `allowed`.
fn assert_decides(input: &Input, c: &Connection, allowed: bool) {
    assert_eq!(
        evaluate(input, c).allowed,
        allowed,
        "evaluate:\n{}",
        explain_connection(input, c)
    );
    assert_eq!(
        compile(input).allows(c),
        allowed,
        "compiled:\n{}",
        explain_connection(input, c)
    );
}

#[test]
fn policy_types_default_to_ingress_plus_egress_when_there_are_egress_rules() {
    // Egress rules and no policyTypes: Ingress is implied too, with no rules: nothing comes in.
    let i = input(&[policy("web", "p", json!({"podSelector": {}, "egress": [{}]}))]);
    let c = compile(&i);
    let front = endpoint(&c, "web", "front");
    assert_eq!(front.ingress.as_deref().map(<[Rule]>::len), Some(0));
    assert_eq!(
        peers_and_ports(front.egress.as_deref().unwrap()),
        [(Peers::Any, vec![])]
    );
    // Without egress rules (absent or empty), only Ingress.
    for spec in [json!({"podSelector": {}}), json!({"podSelector": {}, "egress": []})] {
        let i = input(&[policy("web", "p", spec)]);
        let c = compile(&i);
        assert!(endpoint(&c, "web", "front").egress.is_none());
        assert!(endpoint(&c, "web", "front").ingress.is_some());
    }
    // policyTypes: [] is the same as absent (the API server defaults an empty list).
    let i = input(&[policy("web", "p", json!({"podSelector": {}, "policyTypes": []}))]);
    assert!(endpoint(&compile(&i), "web", "front").ingress.is_some());
}

#[test]
fn rules_of_a_direction_not_in_policy_types_are_ignored() {
    let i = input(&[policy(
        "web",
        "p",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{"from": [{"podSelector": {}}]}]}),
    )]);
    let c = compile(&i);
    assert!(
        endpoint(&c, "web", "front").ingress.is_none(),
        "not isolated for ingress"
    );
    assert_eq!(
        endpoint(&c, "web", "front").egress.as_deref().map(<[Rule]>::len),
        Some(0)
    );
    assert_decides(&i, &conn(PG, FRONT, Traffic::tcp(80)), true);
    assert_decides(&i, &conn(FRONT, PG, Traffic::tcp(80)), false);
}

#[test]
fn empty_absent_and_empty_object_rules() {
    let rules = |spec| {
        let i = input(&[policy("web", "p", spec)]);
        let c = compile(&i);
        peers_and_ports(endpoint(&c, "web", "front").ingress.as_deref().unwrap())
    };
    // ingress absent or []: isolated, nothing allowed.
    assert_eq!(rules(json!({"podSelector": {}})), []);
    assert_eq!(rules(json!({"podSelector": {}, "ingress": []})), []);
    // [{}], from absent, from []: every source, every port.
    assert_eq!(
        rules(json!({"podSelector": {}, "ingress": [{}]})),
        [(Peers::Any, vec![])]
    );
    assert_eq!(
        rules(json!({"podSelector": {}, "ingress": [{"from": []}]})),
        [(Peers::Any, vec![])]
    );
    assert_eq!(
        rules(json!({"podSelector": {}, "ingress": [{"from": [], "ports": []}]})),
        [(Peers::Any, vec![])]
    );
    // ports without from: every source on those ports.
    assert_eq!(
        rules(json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]})),
        [(Peers::Any, vec![tcp(80, 80)])]
    );
}

#[test]
fn pod_selector_alone_is_the_policy_namespace_namespace_selector_empty_is_all() {
    let own = input(&[policy(
        "db",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}),
    )]);
    let c = compile(&own);
    // The db namespace's pods with addresses; web's pods are not in it, the pending pod has none.
    assert_eq!(
        peers_and_ports(endpoint(&c, "db", "pg").ingress.as_deref().unwrap()),
        [(set(&["10.0.1.1"]), vec![])]
    );
    assert_decides(&own, &conn(FRONT, PG, Traffic::tcp(5432)), false);
    let all = input(&[policy(
        "db",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}),
    )]);
    let c = compile(&all);
    assert_eq!(
        peers_and_ports(endpoint(&c, "db", "pg").ingress.as_deref().unwrap()),
        [(set(&["10.0.0.1", "10.0.0.2", "10.0.1.1", "fd00::1"]), vec![])]
    );
    assert_decides(&all, &conn(FRONT, PG, Traffic::tcp(5432)), true);
    // But an outside address is not a pod of any namespace.
    assert_decides(&all, &conn(("", "", "192.0.2.1"), PG, Traffic::tcp(5432)), false);
}

#[test]
fn a_policy_selects_pods_of_its_own_namespace_only() {
    let i = input(&[policy(
        "web",
        "p",
        json!({"podSelector": {"matchLabels": {"app": "db"}}}),
    )]);
    let c = compile(&i);
    assert!(endpoint(&c, "db", "pg").ingress.is_none());
    assert!(endpoint(&c, "db", "pg").selected_by.is_empty());
}

#[test]
fn and_in_one_peer_or_across_peers() {
    let and = input(&[policy(
        "db",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"team": "web"}}, "podSelector": {"matchLabels": {"app": "api"}}}
        ]}]}),
    )]);
    assert_eq!(
        peers_and_ports(endpoint(&compile(&and), "db", "pg").ingress.as_deref().unwrap()),
        [(set(&["10.0.0.2"]), vec![])]
    );
    let or = input(&[policy(
        "db",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"team": "web"}}}, {"podSelector": {"matchLabels": {"app": "api"}}}
        ]}]}),
    )]);
    // The second peer looks in db, where no pod is app=api.
    assert_eq!(
        peers_and_ports(endpoint(&compile(&or), "db", "pg").ingress.as_deref().unwrap()),
        [(set(&["10.0.0.1", "10.0.0.2", "fd00::1"]), vec![])]
    );
}

#[test]
fn ip_block_matches_pods_by_address_and_except_carves_v4_and_v6() {
    let i = input(&[policy(
        "db",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [
            {"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.2/32"]}},
            {"ipBlock": {"cidr": "fd00::/64", "except": ["fd00::/127"]}}
        ]}]}),
    )]);
    let c = compile(&i);
    let rules = endpoint(&c, "db", "pg").ingress.clone().unwrap();
    assert_eq!(
        rules[0].peers,
        Peers::Set {
            addresses: Default::default(),
            blocks: vec![
                IpBlock {
                    cidr: net("10.0.0.0/24"),
                    except: vec![net("10.0.0.2/32")]
                },
                IpBlock {
                    cidr: net("fd00::/64"),
                    except: vec![net("fd00::/127")]
                },
            ]
        }
    );
    // front at 10.0.0.1 is in the block (no selector needed); api at 10.0.0.2 is carved out.
    assert_decides(&i, &conn(FRONT, PG, Traffic::tcp(1)), true);
    assert_decides(&i, &conn(API, PG, Traffic::tcp(1)), false);
    // front's IPv6 address fd00::1 is in fd00::/127, carved out; fd00::2 (outside) is not.
    assert_decides(&i, &conn(("web", "front", "fd00::1"), PG, Traffic::tcp(1)), false);
    assert_decides(&i, &conn(("", "", "fd00::2"), PG, Traffic::tcp(1)), true);
    assert_decides(&i, &conn(("", "", "10.0.1.9"), PG, Traffic::tcp(1)), false);
}

#[test]
fn named_port_in_ingress_resolves_on_each_selected_pod() {
    let i = input(&[policy(
        "web",
        "p",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]}),
    )]);
    let c = compile(&i);
    assert_eq!(
        peers_and_ports(endpoint(&c, "web", "front").ingress.as_deref().unwrap()),
        [(Peers::Any, vec![tcp(8080, 8080)])]
    );
    assert_eq!(
        peers_and_ports(endpoint(&c, "web", "api").ingress.as_deref().unwrap()),
        [(Peers::Any, vec![tcp(9090, 9090)])]
    );
    assert_decides(&i, &conn(PG, FRONT, Traffic::tcp(8080)), true);
    assert_decides(&i, &conn(PG, FRONT, Traffic::tcp(9090)), false);
    assert_decides(&i, &conn(PG, API, Traffic::tcp(9090)), true);
}

#[test]
fn named_port_a_pod_lacks_matches_nothing_but_still_isolates() {
    let i = input(&[policy(
        "db",
        "p",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]}),
    )]);
    let c = compile(&i);
    assert_eq!(endpoint(&c, "db", "pg").ingress.as_deref().map(<[Rule]>::len), Some(0));
    assert_decides(&i, &conn(FRONT, PG, Traffic::tcp(8080)), false);
    assert_decides(&i, &conn(FRONT, PG, Traffic::tcp(5432)), false);
}

#[test]
fn named_port_in_egress_becomes_one_rule_per_number() {
    let i = input(&[policy(
        "db",
        "p",
        json!({"podSelector": {}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"namespaceSelector": {}}, {"ipBlock": {"cidr": "0.0.0.0/0"}}],
                           "ports": [{"port": "http"}, {"port": 53, "protocol": "UDP"}]}]}),
    )]);
    let c = compile(&i);
    let rules = peers_and_ports(endpoint(&c, "db", "pg").egress.as_deref().unwrap());
    let everyone = Peers::Set {
        addresses: Arc::new(["10.0.0.1", "10.0.0.2", "10.0.1.1", "fd00::1"].map(ip).into()),
        blocks: vec![IpBlock {
            cidr: net("0.0.0.0/0"),
            except: vec![],
        }],
    };
    let udp53 = PortRange {
        protocol: Protocol::Udp,
        first: 53,
        last: 53,
    };
    assert_eq!(
        rules,
        [
            (everyone, vec![udp53]),
            (set(&["10.0.0.1", "fd00::1"]), vec![tcp(8080, 8080)]),
            (set(&["10.0.0.2"]), vec![tcp(9090, 9090)]),
        ]
    );
    let origins: Vec<String> = endpoint(&c, "db", "pg").egress.as_ref().unwrap()[0]
        .origins
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(origins, ["NetworkPolicy db/p egress[0]"]);
    assert_decides(&i, &conn(PG, FRONT, Traffic::tcp(8080)), true);
    assert_decides(&i, &conn(PG, FRONT, Traffic::tcp(9090)), false);
    assert_decides(&i, &conn(PG, API, Traffic::tcp(9090)), true);
    // An outside address has no named ports, whatever ipBlock says.
    assert_decides(&i, &conn(PG, ("", "", "192.0.2.1"), Traffic::tcp(8080)), false);
    assert_decides(&i, &conn(PG, ("", "", "192.0.2.1"), Traffic::udp(53)), true);
}

#[test]
fn protocol_defaults_to_tcp_and_portless_rules_allow_other_protocols() {
    let i = input(&[policy(
        "db",
        "p",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 5432}]}, {"from": [{"podSelector": {}}]}]}),
    )]);
    assert_decides(&i, &conn(FRONT, PG, Traffic::tcp(5432)), true);
    assert_decides(&i, &conn(FRONT, PG, Traffic::udp(5432)), false);
    assert_decides(&i, &conn(FRONT, PG, Traffic::Other { ip_protocol: 1 }), false);
    let i = input(&[policy(
        "db",
        "p",
        json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "SCTP"}]}]}),
    )]);
    let sctp = |port| Traffic::Port {
        protocol: Protocol::Sctp,
        port,
    };
    assert_decides(&i, &conn(FRONT, PG, sctp(1)), true);
    assert_decides(&i, &conn(FRONT, PG, sctp(65535)), true);
    assert_decides(&i, &conn(FRONT, PG, Traffic::tcp(1)), false);
}

#[test]
fn namespace_name_label_is_always_there() {
    // The namespace object claims another value; the API server would have overwritten it.
    let mut i = input(&[]);
    let pods = i.pods().to_vec();
    let wrong = NamespaceInfo::new("db", [("kubernetes.io/metadata.name", "web")]);
    let policies = vec![
        Policy::parse(&np(
            "db",
            "p",
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}}]}]}),
        ))
        .unwrap(),
        Policy::parse(&np(
            "db",
            "q",
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "db"}}}]}]}),
        ))
        .unwrap(),
    ];
    let other = PodInfo::new("other", "o", []).with_addresses([ip("10.9.0.1")]);
    let mut all = pods;
    all.push(other);
    i = Input::new(vec![wrong], all, policies);
    assert_eq!(i.namespace_labels("db")["kubernetes.io/metadata.name"], "db");
    // "other" was never listed as a namespace: it still has its name label.
    assert_decides(&i, &conn(("other", "o", "10.9.0.1"), PG, Traffic::tcp(1)), true);
    assert_decides(&i, &conn(FRONT, PG, Traffic::tcp(1)), false);
    let c = compile(&i);
    assert_eq!(
        peers_and_ports(endpoint(&c, "db", "pg").ingress.as_deref().unwrap()),
        [(set(&["10.0.1.1"]), vec![]), (set(&["10.9.0.1"]), vec![])]
    );
}

#[test]
fn pods_without_an_address_get_rules_but_are_nobody_s_peer() {
    let i = input(&[policy(
        "db",
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "db"}}}]}]}),
    )]);
    let c = compile(&i);
    let pending = endpoint(&c, "db", "pending");
    assert!(pending.addresses.is_empty());
    assert_eq!(
        peers_and_ports(pending.ingress.as_deref().unwrap()),
        [(set(&["10.0.1.1"]), vec![])]
    );
}

#[test]
fn several_policies_union_and_merge_by_peers() {
    let i = input(&[
        policy(
            "db",
            "a",
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "web"}}}], "ports": [{"port": 5432}]}]}),
        ),
        policy(
            "db",
            "b",
            json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "web"}}}], "ports": [{"port": 5433, "endPort": 5440}]}]}),
        ),
    ]);
    let c = compile(&i);
    let pg = endpoint(&c, "db", "pg");
    assert_eq!(pg.selected_by, [Key::new("db", "a"), Key::new("db", "b")]);
    let rules = pg.ingress.as_deref().unwrap();
    assert_eq!(rules.len(), 1, "one peer set, one lookup");
    assert_eq!(rules[0].ports, [tcp(5432, 5440)]);
    assert_eq!(rules[0].origins.len(), 2);
    assert_decides(&i, &conn(FRONT, PG, Traffic::tcp(5440)), true);
    assert_decides(&i, &conn(FRONT, PG, Traffic::tcp(5441)), false);
}

#[test]
fn replies_are_not_new_connections() {
    // pg may not open anything, but what web opens to pg is allowed, replies included (the
    // agent accepts established traffic before the rules).
    let i = input(&[policy("db", "p", json!({"podSelector": {}, "policyTypes": ["Egress"]}))]);
    assert_decides(&i, &conn(FRONT, PG, Traffic::tcp(5432)), true);
    assert_decides(&i, &conn(PG, FRONT, Traffic::tcp(5432)), false);
}

#[test]
fn invalid_policies_are_refused_with_object_path_and_fix() {
    let bad = np(
        "x",
        "deny",
        json!({"podSelector": {}, "policyTypes": ["Ingres"], "ingress": [{"ports": [{"port": 80}, {"port": "http", "endPort": 90}],
               "from": [{}, {"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}),
    );
    let err = Policy::parse(&bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "NetworkPolicy/x/deny: spec.policyTypes[0]: \"Ingres\" is not a policy type; use Ingress or Egress\n\
         NetworkPolicy/x/deny: spec.ingress[0].from[0]: a peer needs podSelector, namespaceSelector or ipBlock (to allow everything, omit from/to)\n\
         NetworkPolicy/x/deny: spec.ingress[0].from[1].ipBlock.cidr: \"10.0.0.0/33\" is not a CIDR; write e.g. 10.0.0.0/8 or fd00::/64\n\
         NetworkPolicy/x/deny: spec.ingress[0].ports[1].endPort: needs a numeric port, not the named port \"http\"; remove endPort or use numbers"
    );
    let no_spec: weft_api::k8s_openapi::api::networking::v1::NetworkPolicy =
        serde_json::from_value(json!({"metadata": {"name": "n"}})).unwrap();
    assert_eq!(
        Policy::parse(&no_spec).unwrap_err().to_string(),
        "NetworkPolicy/default/n: spec: required; a NetworkPolicy needs at least spec.podSelector ({} selects every pod)"
    );
}

#[test]
fn objects_in_host_network_and_finished_pods_out_bad_addresses_refused() {
    let pod = |v: serde_json::Value| -> Pod { serde_json::from_value(v).unwrap() };
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "x", "labels": {"a": "b"}}})).unwrap();
    let ok = pod(
        json!({"metadata": {"namespace": "x", "name": "a", "labels": {"app": "a"}},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 53, "protocol": "UDP"}]}],
                 "initContainers": [{"name": "side", "restartPolicy": "Always", "ports": [{"containerPort": 9000, "name": "metrics"}]},
                                    {"name": "init", "ports": [{"containerPort": 9001, "name": "setup"}]}]},
        "status": {"podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}], "podIP": "10.0.0.1"}}),
    );
    let host = pod(
        json!({"metadata": {"namespace": "x", "name": "h"}, "spec": {"hostNetwork": true, "containers": []},
        "status": {"podIP": "192.168.0.1"}}),
    );
    let done = pod(
        json!({"metadata": {"namespace": "x", "name": "d"}, "spec": {"containers": []},
        "status": {"phase": "Succeeded", "podIP": "10.0.0.9"}}),
    );
    let input = Input::from_objects(&[ns], &[ok, host, done], &[]).unwrap();
    assert_eq!(input.pods().len(), 1);
    let a = &input.pods()[0];
    assert_eq!(a.addresses, [ip("10.0.0.1"), ip("fd00::1")]);
    assert_eq!(
        a.ports,
        [
            ContainerPort::named("http", Protocol::Tcp, 80),
            ContainerPort {
                name: None,
                protocol: Protocol::Udp,
                port: 53
            },
            ContainerPort::named("metrics", Protocol::Tcp, 9000),
        ]
    );
    assert_eq!(input.namespace_labels("x")["a"], "b");

    let bad = pod(json!({"metadata": {"namespace": "x", "name": "b"},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 0}, {"containerPort": 80, "protocol": "ICMP"}]}]},
        "status": {"podIPs": [{"ip": "10.0.0.300"}]}}));
    let bad_np = np(
        "x",
        "p",
        json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}),
    );
    let errors = Input::from_objects(&[], &[bad], &[bad_np]).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "Pod/x/b: status.podIPs[0].ip: \"10.0.0.300\" is not an IP address; write e.g. 10.0.0.5 or fd00::5\n\
             Pod/x/b: spec.containers[0].ports[0].containerPort: 0 is not a port number; use 1-65535\n\
             Pod/x/b: spec.containers[0].ports[1].protocol: \"ICMP\" is not a protocol; use TCP, UDP or SCTP",
            "NetworkPolicy/x/p: spec.podSelector.matchExpressions[0].values: operator In needs at least one value",
        ]
    );
}

#[test]
fn explain_says_who_selects_and_why() {
    let i = input(&[
        policy("db", "deny", json!({"podSelector": {}})),
        policy(
            "db",
            "from-api",
            json!({"podSelector": {"matchLabels": {"app": "db"}},
                   "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "web"}}, "podSelector": {"matchLabels": {"app": "api"}}}],
                                "ports": [{"port": "pg"}]}]}),
        ),
    ]);
    let pod = explain_pod(&i, &Key::new("db", "pg"));
    assert!(pod.contains("Selected by NetworkPolicy db/deny"), "{pod}");
    assert!(pod.contains("Ingress: isolated by db/deny, db/from-api"), "{pod}");
    assert!(
        pod.contains("NetworkPolicy db/from-api ingress[0]: from pods app=api in namespaces team=web, on TCP/pg (named) = TCP/5432"),
        "{pod}"
    );
    assert!(pod.contains("Egress: not isolated"), "{pod}");

    let denied = explain_connection(&i, &conn(FRONT, PG, Traffic::tcp(5432)));
    assert!(
        denied.starts_with("web/front (10.0.0.1) -> db/pg (10.0.1.1) TCP/5432: denied"),
        "{denied}"
    );
    assert!(
        denied.contains(
            "NetworkPolicy db/from-api ingress[0]: source not selected (it allows from pods app=api in namespaces team=web, on TCP/pg (named) = TCP/5432)"
        ),
        "{denied}"
    );
    let allowed = explain_connection(&i, &conn(API, PG, Traffic::tcp(5432)));
    assert!(allowed.contains(": allowed"), "{allowed}");
    assert!(
        allowed.contains("ingress of db/pg: allowed by NetworkPolicy db/from-api ingress[0]"),
        "{allowed}"
    );
    let wrong_port = explain_connection(&i, &conn(API, PG, Traffic::tcp(5433)));
    assert!(wrong_port.contains("TCP/5433 not in its ports"), "{wrong_port}");
}

#[test]
fn endpoints_with_the_same_rules_share_a_group() {
    let i = input(&[
        policy(
            "web",
            "all",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}),
        ),
        policy(
            "db",
            "all",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}),
        ),
    ]);
    let c = compile(&i);
    let mut groups: Vec<Vec<String>> = c
        .groups(Direction::Ingress)
        .into_iter()
        .map(|(_, keys)| keys.iter().map(ToString::to_string).collect())
        .collect();
    groups.sort();
    assert_eq!(groups, [vec!["db/pending", "db/pg"], vec!["web/api", "web/front"]]);
    assert!(c.groups(Direction::Egress).is_empty());
    // The address set is one copy for the whole group.
    let (a, b) = (endpoint(&c, "web", "api"), endpoint(&c, "web", "front"));
    match (
        &a.ingress.as_ref().unwrap()[0].peers,
        &b.ingress.as_ref().unwrap()[0].peers,
    ) {
        (Peers::Set { addresses: x, .. }, Peers::Set { addresses: y, .. }) => assert!(Arc::ptr_eq(x, y)),
        other => panic!("{other:?}"),
    }
    // compile_for keeps a node's pods only, with the same rules.
    let node = compile_for(&i, |p| p.key.namespace == "web");
    assert_eq!(node.endpoints.len(), 2);
    assert_eq!(node.endpoints[&Key::new("web", "api")], *a);
}
