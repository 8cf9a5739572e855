//! Cases in the spirit of the Kubernetes e2e netpol tests, on their model (see common/mod.rs):
//! each checks the full 9x9 reachability matrix for TCP/80 (and other traffic where the case is
//! about ports), rows sources, columns destinations, x/a .. z/c, '.' allowed, 'X' denied.
//! A pod reaching itself is always allowed (loopback never meets the dataplane), as upstream.

mod common;

use common::*;
use serde_json::json;
use weft_policy::Traffic;

const TCP80: Traffic = Traffic::Port {
    protocol: weft_policy::Protocol::Tcp,
    port: 80,
};

#[test]
fn no_policy_everything_allowed() {
    check_matrix(&model(&[]), TCP80, ALL_ALLOWED);
}

#[test]
fn default_deny_ingress() {
    let input = model(&[np("x", "deny", json!({"podSelector": {}}))]);
    #[rustfmt::skip]
    let want = [
        ".XX ... ...", "X.X ... ...", "XX. ... ...",
        "XXX ... ...", "XXX ... ...", "XXX ... ...",
        "XXX ... ...", "XXX ... ...", "XXX ... ...",
    ];
    check_matrix(&input, TCP80, want);
    check_matrix(&input, Traffic::Other { ip_protocol: 1 }, want);
}

#[test]
fn allow_from_same_namespace() {
    let input = model(&[np(
        "x",
        "same-ns",
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}),
    )]);
    #[rustfmt::skip]
    let want = [
        "... ... ...", "... ... ...", "... ... ...",
        "XXX ... ...", "XXX ... ...", "XXX ... ...",
        "XXX ... ...", "XXX ... ...", "XXX ... ...",
    ];
    check_matrix(&input, TCP80, want);
}

#[test]
fn allow_to_x_a_from_namespace_y_only() {
    let input = model(&[np(
        "x",
        "from-y",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
    )]);
    #[rustfmt::skip]
    let want = [
        "... ... ...", "X.. ... ...", "X.. ... ...",
        "... ... ...", "... ... ...", "... ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
    ];
    check_matrix(&input, TCP80, want);
}

#[test]
fn pod_and_namespace_selector_in_one_peer_are_anded() {
    let input = model(&[np(
        "x",
        "and",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "In", "values": ["y"]}]},
                                      "podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    )]);
    #[rustfmt::skip]
    let want = [
        "... ... ...", "X.. ... ...", "X.. ... ...",
        "X.. ... ...", "... ... ...", "X.. ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
    ];
    check_matrix(&input, TCP80, want);
}

#[test]
fn two_peers_are_ored() {
    let input = model(&[np(
        "x",
        "or",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}},
                                     {"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    )]);
    #[rustfmt::skip]
    let want = [
        "... ... ...", "... ... ...", "X.. ... ...",
        "... ... ...", "... ... ...", "... ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
    ];
    check_matrix(&input, TCP80, want);
}

#[test]
fn all_namespaces_with_a_pod_selector() {
    let input = model(&[np(
        "x",
        "c-anywhere",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "c"}}}]}]}),
    )]);
    #[rustfmt::skip]
    let want = [
        "... ... ...", "X.. ... ...", "... ... ...",
        "X.. ... ...", "X.. ... ...", "... ... ...",
        "X.. ... ...", "X.. ... ...", "... ... ...",
    ];
    check_matrix(&input, TCP80, want);
}

#[test]
fn namespace_by_its_default_name_label_and_not_in() {
    let by_name = model(&[np(
        "x",
        "from-z",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}}}]}]}),
    )]);
    #[rustfmt::skip]
    let want = [
        "... ... ...", "X.. ... ...", "X.. ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
        "... ... ...", "... ... ...", "... ... ...",
    ];
    check_matrix(&by_name, TCP80, want);
    let not_y = model(&[np(
        "x",
        "not-y",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["y"]}]}}]}]}),
    )]);
    #[rustfmt::skip]
    let want = [
        "... ... ...", "... ... ...", "... ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
        "... ... ...", "... ... ...", "... ... ...",
    ];
    check_matrix(&not_y, TCP80, want);
}

#[test]
fn default_deny_egress() {
    let input = model(&[np(
        "x",
        "deny-egress",
        json!({"podSelector": {}, "policyTypes": ["Egress"]}),
    )]);
    #[rustfmt::skip]
    let want = [
        ".XX XXX XXX", "X.X XXX XXX", "XX. XXX XXX",
        "... ... ...", "... ... ...", "... ... ...",
        "... ... ...", "... ... ...", "... ... ...",
    ];
    check_matrix(&input, TCP80, want);
}

#[test]
fn ingress_and_egress_isolation_are_independent() {
    let input = model(&[np(
        "x",
        "only-in",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}]}),
    )]);
    #[rustfmt::skip]
    let want = [
        ".XX XXX XXX", "X.X XXX XXX", "XX. XXX XXX",
        "... ... ...", "... ... ...", "... ... ...",
        "... ... ...", "... ... ...", "... ... ...",
    ];
    check_matrix(&input, TCP80, want);
}

#[test]
fn egress_to_namespace_y_on_port_80() {
    let input = model(&[np(
        "x",
        "to-y-80",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}], "ports": [{"port": 80}]}]}),
    )]);
    let mut want = ALL_ALLOWED;
    want[0] = ".XX ... XXX";
    check_matrix(&input, TCP80, want);
    want[0] = ".XX XXX XXX";
    check_matrix(&input, Traffic::tcp(81), want);
    check_matrix(&input, Traffic::udp(80), want);
}

#[test]
fn ingress_on_one_named_port() {
    let input = model(&[np(
        "x",
        "named",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"port": "serve-81-tcp"}]}]}),
    )]);
    #[rustfmt::skip]
    let denied = [
        "... ... ...", "X.. ... ...", "X.. ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
    ];
    check_matrix(&input, TCP80, denied);
    check_matrix(&input, Traffic::tcp(81), ALL_ALLOWED);
    // serve-81-tcp is TCP: UDP/81 is not it, even though the number is the same.
    check_matrix(&input, Traffic::udp(81), denied);
}

#[test]
fn egress_on_a_named_port_resolved_on_each_destination() {
    let input = model(&[np(
        "x",
        "named-egress",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"port": "serve-81-udp", "protocol": "UDP"}]}]}),
    )]);
    let mut want = ALL_ALLOWED;
    want[0] = ".XX XXX XXX";
    check_matrix(&input, TCP80, want);
    check_matrix(&input, Traffic::udp(80), want);
    check_matrix(&input, Traffic::udp(81), ALL_ALLOWED);
}

#[test]
fn port_range_with_end_port() {
    let input = model(&[np(
        "x",
        "range",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"port": 81, "endPort": 85}]}]}),
    )]);
    #[rustfmt::skip]
    let denied = [
        "... ... ...", "X.. ... ...", "X.. ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
    ];
    check_matrix(&input, TCP80, denied);
    check_matrix(&input, Traffic::tcp(81), ALL_ALLOWED);
    check_matrix(&input, Traffic::tcp(85), ALL_ALLOWED);
    check_matrix(&input, Traffic::tcp(86), denied);
    check_matrix(&input, Traffic::udp(81), denied);
}

#[test]
fn ip_block_with_except() {
    let input = model(&[np(
        "x",
        "block",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.2.0/24"]}}]}]}),
    )]);
    #[rustfmt::skip]
    let want = [
        "... ... ...", "... ... ...", "... ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
        "... ... ...", "... ... ...", "... ... ...",
    ];
    check_matrix(&input, TCP80, want);
    // One pod's address carved out of its namespace's block.
    let input = model(&[np(
        "x",
        "block",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.2.0/24", "except": ["10.0.2.2/32"]}}]}]}),
    )]);
    #[rustfmt::skip]
    let want = [
        "... ... ...", "X.. ... ...", "X.. ... ...",
        "... ... ...", "X.. ... ...", "... ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
    ];
    check_matrix(&input, TCP80, want);
}

#[test]
fn several_policies_are_a_union() {
    let input = model(&[
        np(
            "x",
            "from-b",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
        ),
        np(
            "x",
            "from-z",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "z"}}}]}]}),
        ),
    ]);
    #[rustfmt::skip]
    let want = [
        "... ... ...", "... ... ...", "X.. ... ...",
        "X.. ... ...", "X.. ... ...", "X.. ... ...",
        "... ... ...", "... ... ...", "... ... ...",
    ];
    check_matrix(&input, TCP80, want);
}

#[test]
fn deny_all_and_allow_all_together_allow_all() {
    let input = model(&[
        np("x", "deny", json!({"podSelector": {}, "ingress": []})),
        np("x", "allow", json!({"podSelector": {}, "ingress": [{}]})),
    ]);
    check_matrix(&input, TCP80, ALL_ALLOWED);
}

#[test]
fn egress_to_a_cidr_with_an_except() {
    // x/a may reach 10.0.0.0/16 but not y/b (10.0.2.2); DNS-like UDP elsewhere is not in it.
    let input = model(&[np(
        "x",
        "to-cidr",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.2.2/32"]}}]}]}),
    )]);
    let mut want = ALL_ALLOWED;
    want[0] = "... .X. ...";
    check_matrix(&input, TCP80, want);
    check_matrix(&input, Traffic::udp(81), want);
}

#[test]
fn egress_and_ingress_policies_must_both_allow() {
    // x/a may only send to y; y/b accepts only from z. So x/a reaches y/a and y/c, not y/b.
    let input = model(&[
        np(
            "x",
            "a-to-y",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                   "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
        ),
        np(
            "y",
            "b-from-z",
            json!({"podSelector": {"matchLabels": {"pod": "b"}},
                   "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "z"}}}]}]}),
        ),
    ]);
    #[rustfmt::skip]
    let want = [
        ".XX .X. XXX", "... .X. ...", "... .X. ...",
        "... .X. ...", "... ... ...", "... .X. ...",
        "... ... ...", "... ... ...", "... ... ...",
    ];
    check_matrix(&input, TCP80, want);
}
