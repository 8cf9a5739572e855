//! `weft explain` against a real controller: the policies selecting a pod, and why a connection
//! is allowed or denied (exit 1 when denied), in words and as JSON. Pods get their addresses
//! from WorkloadEndpoints, as the nodes' sets do.

mod harness;

use harness::{Controller, assert_contains};

const OBJECTS: &str = "\
apiVersion: weft.io/v1alpha1
kind: Cluster
metadata: {name: cloud-a}
spec: {asn: 64512, podCIDRs: [10.244.0.0/16], serviceCIDRs: [10.96.0.0/16]}
---
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: y, labels: {ns: y}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {pod: a}}
spec: {nodeName: node-1, containers: [{name: app, ports: [{name: web, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: y, labels: {pod: b}}
spec: {nodeName: node-1, containers: [{name: app}]}
---
apiVersion: weft.io/v1alpha1
kind: WorkloadEndpoint
metadata: {name: a, namespace: x}
spec: {node: node-1, pod: a, containerID: c-a, interface: eth0, addresses: ['10.244.0.10']}
---
apiVersion: weft.io/v1alpha1
kind: WorkloadEndpoint
metadata: {name: b, namespace: y}
spec: {node: node-1, pod: b, containerID: c-b, interface: eth0, addresses: ['10.244.0.11']}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{port: web, protocol: TCP}]
";

#[test]
fn explain_names_the_policies_and_decides_connections() {
    let c = Controller::start();
    c.apply_text(OBJECTS);

    let pod = c.ok(&["explain", "x/a"]);
    assert_contains(&pod, "Selected by NetworkPolicy x/from-y");
    assert_contains(&pod, "Ingress: isolated by x/from-y");
    let b = c.ok(&["explain", "b", "-n", "y"]);
    assert_contains(&b, "Selected by no NetworkPolicy");

    // The named port resolves on the destination: 8080 is allowed from y, 80 is not.
    let allowed = c.ok(&["explain", "y/b", "--to", "x/a", "--port", "8080"]);
    assert_contains(&allowed, "allowed");
    let denied = c.fails(1, &["explain", "y/b", "--to", "x/a", "--port", "80"]);
    let _ = denied;
    let out = c.weft(&["explain", "y/b", "--to", "10.244.0.10", "--port", "80", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "a denied connection exits 1");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["connection"]["allowed"], false, "{json:#}");
    assert_eq!(json["connection"]["egressAllowed"], true, "{json:#}");
    assert_eq!(json["connection"]["ingressAllowed"], false, "{json:#}");
    assert_eq!(json["connection"]["traffic"], "TCP/80", "{json:#}");
    assert_contains(
        json["connection"]["text"].as_str().unwrap_or_default(),
        "no rule allows it",
    );

    let json = c.json(&["explain", "y/b", "--to", "x/a", "--port", "8080", "--protocol", "tcp"]);
    assert_eq!(json["connection"]["allowed"], true, "{json:#}");
    assert_eq!(
        json["connection"]["allowedBy"][0], "NetworkPolicy x/from-y ingress[0]",
        "{json:#}"
    );
    let json = c.json(&["explain", "x/a"]);
    assert_eq!(json["policies"][0], "x/from-y");
    assert_eq!(json["ingressIsolated"], true);
    assert_eq!(json["egressIsolated"], false);

    // UDP to the TCP port is denied; egress from a to an outside address is not isolated.
    c.fails(
        1,
        &["explain", "y/b", "--to", "x/a", "--port", "8080", "--protocol", "udp"],
    );
    c.ok(&["explain", "x/a", "--to", "192.0.2.1", "--port", "443"]);

    // Errors say what to do.
    assert_contains(&c.fails(3, &["explain", "x/nope"]), "no pod x/nope");
    assert_contains(
        &c.fails(
            2,
            &["explain", "y/b", "--to", "x/a", "--port", "80", "--protocol", "icmp"],
        ),
        "possible values: tcp, udp, sctp",
    );
}
