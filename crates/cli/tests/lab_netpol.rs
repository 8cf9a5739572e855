//! NetworkPolicy in the lab (issue #7), on the real kernel, on the upstream model (the e2e netpol
//! tests and cyclonus): namespaces x, y, z labelled ns=NAME, pods a, b, c in each labelled
//! pod=NAME, serving TCP and UDP on 80 and 81 with the named ports serve-80-tcp, serve-81-tcp,
//! serve-80-udp, serve-81-udp, spread over two nodes. Each case applies policies through the
//! API, probes the whole 9x9 matrix from inside the pods and compares it with what
//! `weft_policy::evaluate` decides on the same objects (and, for a few cases, with a matrix
//! written by hand). The time from the API change to the matrix matching is printed
//! (`--nocapture`). Needs root.

mod lab_harness;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use lab_harness::{Lab, in_netns};
use weft_api::k8s_openapi::api::core::v1::{Namespace, Pod};
use weft_api::k8s_openapi::api::networking::v1::NetworkPolicy;
use weft_policy::{Connection, Endpoint, Input, Key, Traffic, evaluate};

const NAMESPACES: [&str; 3] = ["x", "y", "z"];
const PODS: [&str; 3] = ["a", "b", "c"];
const PORTS: &str = "serve-80-tcp=80,serve-81-tcp=81,serve-80-udp=80/UDP,serve-81-udp=81/UDP";
/// A denied TCP connection is dropped, not refused: this is how long a probe waits.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// How long a change may take to be enforced before the case fails.
const ENFORCEMENT_DEADLINE: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}

struct TestPod {
    namespace: String,
    name: String,
    node: String,
    netns: String,
    addresses: Vec<IpAddr>,
}

impl TestPod {
    fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    fn address(&self, v6: bool) -> IpAddr {
        *self
            .addresses
            .iter()
            .find(|a| a.is_ipv6() == v6)
            .expect("the pod has an address of each family")
    }
}

/// The lab and the objects the test put in its API, which the reference evaluation reads.
struct Model {
    lab: Lab,
    pods: Vec<TestPod>,
    namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    pod_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// By `namespace/name`: the manifest as applied.
    policies: BTreeMap<String, String>,
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Model {
    fn build() -> Model {
        let started = Instant::now();
        let lab = Lab::up(None);
        let mut model = Model {
            lab,
            pods: Vec::new(),
            namespace_labels: BTreeMap::new(),
            pod_labels: BTreeMap::new(),
            policies: BTreeMap::new(),
        };
        for ns in NAMESPACES {
            model.set_namespace_labels(ns, labels(&[("ns", ns)]));
        }
        let mut i = 0;
        for ns in NAMESPACES {
            for pod in PODS {
                let node = if i % 2 == 0 { "node-1" } else { "node-2" };
                i += 1;
                let id = format!("cloud-a/{ns}/{pod}");
                let label = format!("pod={pod}");
                model.lab.ok(&[
                    "lab", "pod", "add", &id, "--node", node, "--labels", &label, "--ports", PORTS,
                ]);
                model.pod_labels.insert(format!("{ns}/{pod}"), labels(&[("pod", pod)]));
                model.pods.push(TestPod {
                    namespace: ns.into(),
                    name: pod.into(),
                    node: node.into(),
                    netns: String::new(),
                    addresses: Vec::new(),
                });
            }
        }
        let status = model.lab.status();
        for p in &mut model.pods {
            let found = status["pods"]
                .as_array()
                .and_then(|pods| {
                    pods.iter()
                        .find(|s| s["namespace"] == p.namespace && s["name"] == p.name)
                })
                .expect("the pod is in the lab's status");
            p.netns = found["netns"].as_str().expect("netns").to_string();
            p.addresses = found["addresses"]
                .as_array()
                .expect("addresses")
                .iter()
                .filter_map(|a| a.as_str()?.split('/').next()?.parse().ok())
                .collect();
        }
        eprintln!(
            "model: 3 namespaces, 9 pods on 2 nodes, up in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        model
    }

    fn pod(&self, id: &str) -> &TestPod {
        self.pods.iter().find(|p| p.id() == id).expect("a pod of the model")
    }

    fn apply_text(&self, name: &str, text: &str) {
        let file = self.lab.dir.path().join(name);
        std::fs::write(&file, text).expect("writing the manifest");
        self.lab.ok(&["apply", "-f", file.to_str().unwrap_or_default()]);
    }

    fn set_namespace_labels(&mut self, ns: &str, labels: BTreeMap<String, String>) {
        let mut text = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n");
        for (k, v) in &labels {
            let _ = writeln!(text, "    {k}: \"{v}\"");
        }
        self.apply_text("namespace.yaml", &text);
        self.namespace_labels.insert(ns.to_string(), labels);
    }

    /// Changes a pod's labels through the API (the pod object as stored, labels replaced).
    fn set_pod_labels(&mut self, id: &str, labels: BTreeMap<String, String>) {
        let (ns, name) = id.split_once('/').expect("ns/name");
        let mut pod: serde_json::Value =
            serde_json::from_str(&self.lab.ok(&["get", "pod", name, "-n", ns, "-o", "json"])).expect("pod JSON");
        pod["metadata"]["labels"] = serde_json::to_value(&labels).expect("labels");
        if let Some(meta) = pod["metadata"].as_object_mut() {
            meta.remove("resourceVersion");
        }
        self.apply_text("pod.json", &pod.to_string());
        self.pod_labels.insert(id.to_string(), labels);
    }

    fn apply_policy(&mut self, yaml: &str) {
        let policy: NetworkPolicy = serde_yaml_ng::from_str(yaml).expect("a NetworkPolicy manifest");
        let key = format!(
            "{}/{}",
            policy.metadata.namespace.as_deref().unwrap_or("default"),
            policy.metadata.name.as_deref().unwrap_or_default()
        );
        self.apply_text("policy.yaml", yaml);
        self.policies.insert(key, yaml.to_string());
    }

    fn delete_policies(&mut self) {
        for (key, _) in std::mem::take(&mut self.policies) {
            let (ns, name) = key.split_once('/').unwrap_or_default();
            self.lab.ok(&["delete", "networkpolicy", name, "-n", ns]);
        }
    }

    /// The reference: the same namespaces, pods and policies, decided by `weft_policy::evaluate`.
    fn input(&self, policies: &BTreeMap<String, String>) -> Input {
        let namespaces: Vec<Namespace> = self
            .namespace_labels
            .iter()
            .map(|(name, labels)| {
                serde_json::from_value(serde_json::json!({"metadata": {"name": name, "labels": labels}}))
                    .expect("a Namespace")
            })
            .collect();
        let pods: Vec<Pod> = self
            .pods
            .iter()
            .map(|p| {
                let ports: Vec<serde_json::Value> = PORTS
                    .split(',')
                    .map(|spec| {
                        let (name, rest) = spec.split_once('=').unwrap_or_default();
                        let (port, protocol) = rest.split_once('/').unwrap_or((rest, "TCP"));
                        serde_json::json!({"name": name, "containerPort": port.parse::<i32>().unwrap_or(0), "protocol": protocol})
                    })
                    .collect();
                serde_json::from_value(serde_json::json!({
                    "metadata": {"name": p.name, "namespace": p.namespace, "labels": self.pod_labels[&p.id()]},
                    "spec": {"nodeName": p.node, "containers": [{"name": "app", "ports": ports}]},
                    "status": {"podIPs": p.addresses.iter().map(|a| serde_json::json!({"ip": a.to_string()})).collect::<Vec<_>>()},
                }))
                .expect("a Pod")
            })
            .collect();
        let policies: Vec<NetworkPolicy> = policies
            .values()
            .map(|y| serde_yaml_ng::from_str(y).expect("a NetworkPolicy"))
            .collect();
        Input::from_objects(&namespaces, &pods, &policies).expect("the model's objects are valid")
    }

    /// What the reference decides for every pair, for `port` over `proto`.
    fn expected(&self, proto: Proto, port: u16, v6: bool) -> Matrix {
        self.reference(&self.policies, proto, port, v6)
    }

    fn reference(&self, policies: &BTreeMap<String, String>, proto: Proto, port: u16, v6: bool) -> Matrix {
        let input = self.input(policies);
        let traffic = match proto {
            Proto::Tcp => Traffic::tcp(port),
            Proto::Udp => Traffic::udp(port),
        };
        let mut m = Matrix::default();
        for src in &self.pods {
            for dst in &self.pods {
                let connection = Connection {
                    src: Endpoint::pod(Key::new(&src.namespace, &src.name), src.address(v6)),
                    dst: Endpoint::pod(Key::new(&dst.namespace, &dst.name), dst.address(v6)),
                    traffic,
                };
                m.0.insert((src.id(), dst.id()), evaluate(&input, &connection).allowed);
            }
        }
        m
    }

    /// Probes every pair at once (a thread each, inside the source pod's namespace); a pair that
    /// `want` allows is tried once more when it fails.
    fn probe(&self, proto: Proto, port: u16, v6: bool, want: &Matrix) -> Matrix {
        let results: Vec<((String, String), bool)> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .pods
                .iter()
                .flat_map(|src| self.pods.iter().map(move |dst| (src, dst)))
                .map(|(src, dst)| {
                    let target = SocketAddr::new(dst.address(v6), port);
                    let netns = format!("/var/run/netns/{}", src.netns);
                    let key = (src.id(), dst.id());
                    let retry = want.0.get(&key).copied().unwrap_or(true);
                    scope.spawn(move || {
                        let ns = weft_netns::NetNs::open(&netns).expect("the pod's namespace");
                        ns.enter().expect("entering the pod's namespace");
                        let ok = connect(proto, target, PROBE_TIMEOUT)
                            || (retry && connect(proto, target, PROBE_TIMEOUT * 3));
                        (key, ok)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a probe thread")).collect()
        });
        Matrix(results.into_iter().collect())
    }

    /// Probes until the matrix is what the reference says, or fails; returns how long it took
    /// from `since` (the API change).
    fn enforced(&self, case: &str, since: Instant, checks: &[(Proto, u16, bool)]) -> Duration {
        let mut last = String::new();
        let mut rounds = 0;
        loop {
            rounds += 1;
            let mut ok = true;
            for &(proto, port, v6) in checks {
                let want = self.expected(proto, port, v6);
                let got = self.probe(proto, port, v6, &want);
                if got != want {
                    ok = false;
                    last = format!(
                        "{proto:?}/{port} {}:\nexpected\n{want}probed\n{got}",
                        if v6 { "IPv6" } else { "IPv4" }
                    );
                    break;
                }
            }
            let took = since.elapsed();
            if ok {
                eprintln!(
                    "{case}: enforced within {} ms ({rounds} probe round(s) of {} check(s))",
                    took.as_millis(),
                    checks.len()
                );
                return took;
            }
            assert!(
                took < ENFORCEMENT_DEADLINE,
                "{case}: the matrix does not match the reference after {took:?}\n{last}"
            );
        }
    }
}

/// One connection (TCP) or one datagram answered (UDP) within `timeout`.
fn connect(proto: Proto, target: SocketAddr, timeout: Duration) -> bool {
    let once = |t: Duration| match proto {
        Proto::Tcp => TcpStream::connect_timeout(&target, t).is_ok(),
        Proto::Udp => {
            let local: SocketAddr = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
                .parse()
                .expect("an address");
            let Ok(s) = UdpSocket::bind(local) else {
                return false;
            };
            let _ = s.set_read_timeout(Some(t));
            if s.send_to(b"hi", target).is_err() {
                return false;
            }
            let mut buf = [0u8; 256];
            s.recv(&mut buf).is_ok()
        }
    };
    once(timeout)
}

/// Allowed or not, by (source, destination).
#[derive(Default, PartialEq, Eq)]
struct Matrix(BTreeMap<(String, String), bool>);

impl std::fmt::Display for Matrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = NAMESPACES
            .iter()
            .flat_map(|ns| PODS.iter().map(move |p| format!("{ns}/{p}")))
            .collect();
        write!(f, "     ")?;
        for d in &ids {
            write!(f, " {d}")?;
        }
        writeln!(f)?;
        for s in &ids {
            write!(f, "{s}  ")?;
            for d in &ids {
                let c = match self.0.get(&(s.clone(), d.clone())) {
                    Some(true) => '.',
                    Some(false) => 'X',
                    None => '?',
                };
                write!(f, "   {c}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// A matrix written by hand: `allowed(src, dst)` for every pair.
fn by_hand(allowed: impl Fn(&str, &str) -> bool) -> Matrix {
    let mut m = Matrix::default();
    for s in NAMESPACES
        .iter()
        .flat_map(|ns| PODS.iter().map(move |p| format!("{ns}/{p}")))
    {
        for d in NAMESPACES
            .iter()
            .flat_map(|ns| PODS.iter().map(move |p| format!("{ns}/{p}")))
        {
            let ok = s == d || allowed(&s, &d);
            m.0.insert((s.clone(), d), ok);
        }
    }
    m
}

const TCP80: (Proto, u16, bool) = (Proto::Tcp, 80, false);

fn policy(name: &str, ns: &str, body: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{body}"
    )
}

/// Runs one case: policies applied, the matrix enforced; then deleted, everything allowed again.
fn case(m: &mut Model, name: &str, policies: &[String], checks: &[(Proto, u16, bool)]) -> Duration {
    let since = Instant::now();
    for p in policies {
        m.apply_policy(p);
    }
    let took = m.enforced(name, since, checks);
    m.delete_policies();
    took
}

/// The host interface of the pod at `address` on `node` (the device of its route).
fn host_interface(m: &Model, node: &str, address: IpAddr) -> String {
    let out = in_netns(
        &m.lab.node_netns("cloud-a", node),
        &["ip", "-o", "route", "show", "table", "all", "proto", "87"],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find(|l| l.starts_with(&format!("{address} ")) && l.contains(" dev wft"))
        .and_then(|l| l.split_whitespace().skip_while(|w| *w != "dev").nth(1))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no route to {address} on {node}:\n{text}"))
}

/// The node's table, to check what the kernel holds.
fn nft_table(m: &Model, node: &str) -> String {
    let out = in_netns(
        &m.lab.node_netns("cloud-a", node),
        &["nft", "list", "table", "inet", "weft"],
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn network_policy_on_the_upstream_model() {
    let started = Instant::now();
    let mut m = Model::build();
    let mut times: Vec<(String, Duration)> = Vec::new();

    // No policy: everything reaches everything, TCP and UDP, both families.
    let all = by_hand(|_, _| true);
    assert!(m.expected(Proto::Tcp, 80, false) == all);
    let t = m.enforced(
        "no policy",
        Instant::now(),
        &[TCP80, (Proto::Udp, 81, false), (Proto::Tcp, 81, true)],
    );
    times.push(("no policy (probe only)".into(), t));

    // Deny all ingress in x; checked against a matrix by hand too, and over IPv6.
    let deny_x = policy("deny-all", "x", "  podSelector: {}\n  policyTypes: [Ingress]\n");
    assert!(
        m.expected_with(&deny_x, Proto::Tcp, 80, false) == by_hand(|_, d| !d.starts_with("x/")),
        "the reference disagrees with the hand-written matrix for deny-all ingress"
    );
    let since = Instant::now();
    m.apply_policy(&deny_x);
    times.push((
        "deny all ingress in x".into(),
        m.enforced("deny all ingress in x", since, &[TCP80, (Proto::Tcp, 80, true)]),
    ));
    // Health checks: the node itself reaches its pods whatever the policy (local output, not
    // forwarded). Weft gives the node no route to its pods (they live in their network's
    // table), so the test adds one in the main table, as a kubelet's health checks would need.
    for p in m.pods.iter().filter(|p| p.namespace == "x") {
        let node_netns = m.lab.node_netns("cloud-a", &p.node);
        let host_if = host_interface(&m, &p.node, p.address(false));
        let route = format!("{}/32", p.address(false));
        let added = in_netns(&node_netns, &["ip", "route", "add", &route, "dev", &host_if]);
        assert!(
            added.status.success(),
            "ip route add {route} dev {host_if}: {}",
            lab_harness::text(&added.stderr)
        );
        let node_ns = weft_netns::NetNs::open(&format!("/var/run/netns/{node_netns}")).expect("the node's namespace");
        let target = SocketAddr::new(p.address(false), 80);
        let reached = node_ns
            .run(|| TcpStream::connect_timeout(&target, Duration::from_secs(2)).is_ok())
            .expect("inside the node");
        in_netns(&node_netns, &["ip", "route", "del", &route, "dev", &host_if]);
        assert!(
            reached,
            "node {} cannot reach its pod {} under deny-all ingress",
            p.node,
            p.id()
        );
    }
    eprintln!("health checks from the nodes to x's pods (through a route the test adds): allowed");
    // Nodes without an isolated pod have no chain for it; the isolated pods each have theirs.
    let table = nft_table(&m, "node-1");
    assert!(table.contains("chain ingress/wft"), "{table}");
    assert!(!table.contains("chain egress/wft"), "{table}");
    m.delete_policies();
    times.push((
        "policy deleted".into(),
        m.enforced("deny-all deleted", Instant::now(), &[TCP80]),
    ));

    // Allow from the same namespace.
    let t = case(
        &mut m,
        "allow from same namespace",
        &[policy(
            "same-ns",
            "x",
            "  podSelector: {}\n  ingress:\n  - from:\n    - podSelector: {}\n",
        )],
        &[TCP80],
    );
    times.push(("allow from same namespace".into(), t));

    // x/a from namespace y by label.
    let t = case(
        &mut m,
        "x/a from namespace ns=y",
        &[policy(
            "from-y",
            "x",
            "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {ns: y}\n",
        )],
        &[TCP80],
    );
    times.push(("from namespace by label".into(), t));

    // Pod AND namespace selector (one peer) vs OR (two peers).
    let t = case(
        &mut m,
        "x/a from pod=b AND ns in (y, z)",
        &[policy(
            "and",
            "x",
            "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchExpressions: [{key: ns, operator: In, values: [y, z]}]\n      podSelector:\n        matchLabels: {pod: b}\n",
        )],
        &[TCP80],
    );
    times.push(("pod AND namespace selector".into(), t));
    let t = case(
        &mut m,
        "x/a from pod=b OR ns=z",
        &[policy(
            "or",
            "x",
            "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {ns: z}\n    - podSelector:\n        matchLabels: {pod: b}\n",
        )],
        &[TCP80],
    );
    times.push(("pod OR namespace selector".into(), t));

    // Egress: deny all from x; hand-checked.
    let deny_egress = policy("deny-egress", "x", "  podSelector: {}\n  policyTypes: [Egress]\n");
    assert!(
        m.expected_with(&deny_egress, Proto::Tcp, 80, false) == by_hand(|s, _| !s.starts_with("x/")),
        "the reference disagrees with the hand-written matrix for deny-all egress"
    );
    let t = case(
        &mut m,
        "deny all egress from x",
        &[deny_egress],
        &[TCP80, (Proto::Udp, 80, false)],
    );
    times.push(("deny all egress".into(), t));

    // Egress to one pod only.
    let t = case(
        &mut m,
        "x/a egress to y/b only",
        &[policy(
            "to-yb",
            "x",
            "  podSelector:\n    matchLabels: {pod: a}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector:\n        matchLabels: {ns: y}\n      podSelector:\n        matchLabels: {pod: b}\n",
        )],
        &[TCP80],
    );
    times.push(("egress to one pod".into(), t));

    // Named port: only serve-81-tcp into x.
    let t = case(
        &mut m,
        "x ingress on named port serve-81-tcp",
        &[policy(
            "named",
            "x",
            "  podSelector: {}\n  ingress:\n  - ports:\n    - {port: serve-81-tcp, protocol: TCP}\n",
        )],
        &[TCP80, (Proto::Tcp, 81, false), (Proto::Udp, 81, false)],
    );
    times.push(("named port".into(), t));

    // UDP only: serve-80-udp by name, from y.
    let t = case(
        &mut m,
        "x ingress UDP 80 from y",
        &[policy(
            "udp",
            "x",
            "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {ns: y}\n    ports:\n    - {port: serve-80-udp, protocol: UDP}\n",
        )],
        &[(Proto::Udp, 80, false), (Proto::Udp, 81, false), TCP80],
    );
    times.push(("UDP named port".into(), t));

    // endPort: 81-90 allowed, 80 not.
    let t = case(
        &mut m,
        "x ingress TCP 81-90 (endPort)",
        &[policy(
            "range",
            "x",
            "  podSelector: {}\n  ingress:\n  - ports:\n    - {port: 81, endPort: 90, protocol: TCP}\n",
        )],
        &[TCP80, (Proto::Tcp, 81, false)],
    );
    times.push(("endPort range".into(), t));

    // ipBlock with except: all pods but y/b (IPv4 and IPv6 blocks).
    let yb = m.pod("y/b");
    let (yb4, yb6) = (yb.address(false), yb.address(true));
    let t = case(
        &mut m,
        "x/a from ipBlock 10.244.0.0/16 except y/b",
        &[policy(
            "block",
            "x",
            &format!(
                "  podSelector:\n    matchLabels: {{pod: a}}\n  ingress:\n  - from:\n    - ipBlock:\n        cidr: 10.244.0.0/16\n        except: [{yb4}/32]\n    - ipBlock:\n        cidr: fd00:244::/56\n        except: [{yb6}/128]\n"
            ),
        )],
        &[TCP80, (Proto::Tcp, 80, true)],
    );
    times.push(("ipBlock with except".into(), t));

    // Several policies: the union of what they allow.
    let t = case(
        &mut m,
        "union: deny-all + from y + from z/c",
        &[
            policy("deny-all", "x", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
            policy(
                "from-y",
                "x",
                "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {ns: y}\n",
            ),
            policy(
                "from-zc",
                "x",
                "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {ns: z}\n      podSelector:\n        matchLabels: {pod: c}\n",
            ),
        ],
        &[TCP80],
    );
    times.push(("multiple policies (union)".into(), t));

    // Ingress and egress on both ends: y denies egress except to x; x allows from y/a only.
    let t = case(
        &mut m,
        "egress y->x only, ingress x from y/a only",
        &[
            policy(
                "to-x",
                "y",
                "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector:\n        matchLabels: {ns: x}\n",
            ),
            policy(
                "from-ya",
                "x",
                "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {ns: y}\n      podSelector:\n        matchLabels: {pod: a}\n",
            ),
        ],
        &[TCP80],
    );
    times.push(("ingress and egress together".into(), t));

    // Label changes: a namespace gains a label, a pod changes its label; a policy is updated.
    let since = Instant::now();
    m.apply_policy(&policy(
        "team",
        "x",
        "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {team: blue}\n",
    ));
    times.push((
        "policy from team=blue".into(),
        m.enforced("from team=blue (nobody yet)", since, &[TCP80]),
    ));
    let since = Instant::now();
    m.set_namespace_labels("z", labels(&[("ns", "z"), ("team", "blue")]));
    times.push((
        "namespace label change".into(),
        m.enforced("z labelled team=blue", since, &[TCP80]),
    ));
    let since = Instant::now();
    m.apply_policy(&policy(
        "team",
        "x",
        "  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {team: blue}\n      podSelector:\n        matchLabels: {role: client}\n",
    ));
    times.push((
        "policy update".into(),
        m.enforced("team=blue AND role=client", since, &[TCP80]),
    ));
    let since = Instant::now();
    m.set_pod_labels("z/b", labels(&[("pod", "b"), ("role", "client")]));
    times.push((
        "pod label change".into(),
        m.enforced("z/b labelled role=client", since, &[TCP80]),
    ));
    let since = Instant::now();
    m.set_namespace_labels("z", labels(&[("ns", "z")]));
    times.push((
        "namespace label removed".into(),
        m.enforced("z loses team=blue", since, &[TCP80]),
    ));
    m.set_pod_labels("z/b", labels(&[("pod", "b")]));
    let since = Instant::now();
    m.delete_policies();
    times.push((
        "policy delete".into(),
        m.enforced("team policy deleted", since, &[TCP80]),
    ));

    // A Service in front of x/a: DNAT happens before the forward hook, so ingress sees the
    // pod's port (80), not the Service's (8080).
    m.apply_text(
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: x\nspec:\n  selector: {pod: a}\n  ports:\n  - {name: http, port: 8080, targetPort: 80, protocol: TCP}\n",
    );
    let svc: serde_json::Value =
        serde_json::from_str(&m.lab.ok(&["get", "svc", "web", "-n", "x", "-o", "json"])).expect("Service JSON");
    let vip: IpAddr = svc["spec"]["clusterIP"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a ClusterIP");
    let through_service = |m: &Model, from: &str| {
        let netns = format!("/var/run/netns/{}", m.pod(from).netns);
        let ns = weft_netns::NetNs::open(&netns).expect("the pod's namespace");
        ns.run(|| connect(Proto::Tcp, SocketAddr::new(vip, 8080), PROBE_TIMEOUT))
            .expect("inside the pod")
    };
    let wait_for = |m: &Model, from: &str, want: bool| {
        let since = Instant::now();
        while through_service(m, from) != want {
            assert!(
                since.elapsed() < ENFORCEMENT_DEADLINE,
                "{from} -> Service x/web (8080 -> x/a:80): expected {}",
                if want { "allowed" } else { "denied" }
            );
        }
    };
    wait_for(&m, "z/b", true);
    m.apply_policy(&policy(
        "port-80-from-y",
        "x",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {ns: y}\n    ports:\n    - {port: 80, protocol: TCP}\n",
    ));
    wait_for(&m, "z/b", false);
    wait_for(&m, "y/b", true);
    m.apply_policy(&policy(
        "port-80-from-y",
        "x",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {ns: y}\n    ports:\n    - {port: 8080, protocol: TCP}\n",
    ));
    wait_for(&m, "y/b", false);
    eprintln!("Service x/web:8080 -> x/a:80: ingress is checked on the pod's port 80, not 8080");
    m.delete_policies();
    m.lab.ok(&["delete", "svc", "web", "-n", "x"]);

    // SCTP: the rules compile and apply; the kernel here has no SCTP sockets to probe with.
    m.apply_policy(&policy(
        "sctp",
        "x",
        "  podSelector:\n    matchLabels: {pod: a}\n  ingress:\n  - ports:\n    - {port: 80, protocol: SCTP}\n    - {port: 81, protocol: TCP}\n",
    ));
    let node = m.pod("x/a").node.clone();
    let since = Instant::now();
    loop {
        let table = nft_table(&m, &node);
        if table.contains("0.0.0.0/0 . sctp . 80") && table.contains("::/0 . sctp . 80") {
            break;
        }
        assert!(
            since.elapsed() < ENFORCEMENT_DEADLINE,
            "no SCTP element on {node}:\n{table}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    m.enforced("SCTP 80 + TCP 81 into x/a", since, &[TCP80, (Proto::Tcp, 81, false)]);
    eprintln!(
        "SCTP: elements `0.0.0.0/0 . sctp . 80` and `::/0 . sctp . 80` applied on {node}; probing skipped (no SCTP sockets in this kernel)"
    );
    m.delete_policies();

    eprintln!("\ntime from the API change to enforcement (matrix matching the reference):");
    for (what, t) in &times {
        eprintln!("  {what:<32} {:>6} ms", t.as_millis());
    }
    eprintln!("whole test: {:.1}s", started.elapsed().as_secs_f64());
}

impl Model {
    /// What the reference decides with one more policy, without applying it.
    fn expected_with(&self, yaml: &str, proto: Proto, port: u16, v6: bool) -> Matrix {
        let mut policies = self.policies.clone();
        policies.insert("extra/extra".into(), yaml.to_string());
        self.reference(&policies, proto, port, v6)
    }
}
