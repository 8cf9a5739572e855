//! The upstream conformance model (Kubernetes e2e netpol, cyclonus): namespaces x, y, z with
//! label ns=NAME; pods a, b, c in each with label pod=NAME, serving 80 and 81 over TCP and UDP
//! on ports named serve-80-tcp, serve-81-tcp, serve-80-udp, serve-81-udp.

#![allow(dead_code)]

use std::net::IpAddr;

use weft_api::k8s_openapi::api::networking::v1::NetworkPolicy;
use weft_policy::*;

pub const NAMESPACES: [&str; 3] = ["x", "y", "z"];
pub const PODS: [&str; 3] = ["a", "b", "c"];

/// x/a is 10.0.1.1, y/c is 10.0.2.3, and so on.
pub fn address(ns: &str, pod: &str) -> IpAddr {
    let n = NAMESPACES.iter().position(|x| *x == ns).unwrap() as u8 + 1;
    let p = PODS.iter().position(|x| *x == pod).unwrap() as u8 + 1;
    IpAddr::from([10, 0, n, p])
}

pub fn model_pods() -> Vec<PodInfo> {
    let mut pods = vec![];
    for ns in NAMESPACES {
        for pod in PODS {
            pods.push(
                PodInfo::new(ns, pod, [("pod", pod)])
                    .with_addresses([address(ns, pod)])
                    .with_ports([
                        ContainerPort::named("serve-80-tcp", Protocol::Tcp, 80),
                        ContainerPort::named("serve-81-tcp", Protocol::Tcp, 81),
                        ContainerPort::named("serve-80-udp", Protocol::Udp, 80),
                        ContainerPort::named("serve-81-udp", Protocol::Udp, 81),
                    ]),
            );
        }
    }
    pods
}

pub fn model(policies: &[NetworkPolicy]) -> Input {
    let namespaces = NAMESPACES
        .iter()
        .map(|ns| NamespaceInfo::new(ns, [("ns", *ns)]))
        .collect();
    let policies = policies.iter().map(|p| Policy::parse(p).unwrap()).collect();
    Input::new(namespaces, model_pods(), policies)
}

/// A NetworkPolicy from its spec in JSON, as a manifest would say it.
pub fn np(namespace: &str, name: &str, spec: serde_json::Value) -> NetworkPolicy {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"namespace": namespace, "name": name},
        "spec": spec,
    }))
    .unwrap()
}

pub fn pod(ns: &str, name: &str) -> Endpoint {
    Endpoint::pod(Key::new(ns, name), address(ns, name))
}

/// The 9x9 matrix for `traffic`, rows sources and columns destinations in the order x/a ..
/// z/c, '.' allowed and 'X' denied, a space between namespaces: "X.. ... ...". Checks the
/// evaluator and the compiled rules against it and against each other.
pub fn check_matrix(input: &Input, traffic: Traffic, expected: [&str; 9]) {
    let compiled = compile(input);
    let all: Vec<(&str, &str)> = NAMESPACES
        .iter()
        .flat_map(|ns| PODS.iter().map(move |p| (*ns, *p)))
        .collect();
    let mut got_eval = vec![];
    let mut got_compiled = vec![];
    for (sn, sp) in &all {
        let mut row_e = String::new();
        let mut row_c = String::new();
        for (j, (dn, dp)) in all.iter().enumerate() {
            if j > 0 && j % 3 == 0 {
                row_e.push(' ');
                row_c.push(' ');
            }
            let c = Connection {
                src: pod(sn, sp),
                dst: pod(dn, dp),
                traffic,
            };
            row_e.push(if evaluate(input, &c).allowed { '.' } else { 'X' });
            row_c.push(if compiled.allows(&c) { '.' } else { 'X' });
        }
        got_eval.push(row_e);
        got_compiled.push(row_c);
    }
    let render = |rows: &[String]| {
        let mut s = String::from("     x/a.. y/a.. z/a..\n");
        for ((ns, p), row) in all.iter().zip(rows) {
            s.push_str(&format!("{ns}/{p}  {row}\n"));
        }
        s
    };
    let want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        got_eval,
        want,
        "evaluate, {traffic}:\ngot\n{}want\n{}",
        render(&got_eval),
        render(&want)
    );
    assert_eq!(
        got_compiled,
        want,
        "compiled rules, {traffic}:\ngot\n{}want\n{}",
        render(&got_compiled),
        render(&want)
    );
}

pub const ALL_ALLOWED: [&str; 9] = [
    "... ... ...",
    "... ... ...",
    "... ... ...",
    "... ... ...",
    "... ... ...",
    "... ... ...",
    "... ... ...",
    "... ... ...",
    "... ... ...",
];
