//! The real CNI plugin binary, run exactly as a container runtime runs it (in the node's network
//! namespace, with the CNI_* environment and the network config on stdin), against a lab's
//! agents: ADD then DEL leaves the node and the controller as they were; broken configs get the
//! spec's error codes and allocate nothing; fifty concurrent ADDs get distinct addresses; CHECK
//! notices a deleted route; STATUS and GC behave as CNI 1.1 says.

mod lab_harness;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab_harness::{Lab, text};
use serde_json::{Value, json};
use weft_testnet::Namespaces;

/// The default network's table: `TABLE_BASE` + VNI 1.
const TABLE: &str = "1048577";
const CLUSTER: &str = "cloud-a";

/// A node of the lab as a runtime on it sees it: its namespace and its agent's socket.
struct Node {
    netns: String,
    socket: PathBuf,
}

fn node(lab: &Lab, name: &str) -> Node {
    Node {
        netns: lab.node_netns(CLUSTER, name),
        socket: lab.agent(CLUSTER, name).1,
    }
}

/// The plugin and the directory a runtime would pass as CNI_PATH.
struct Plugin {
    path: PathBuf,
    cni_path: String,
}

impl Plugin {
    fn of(lab: &Lab) -> Plugin {
        let path = lab.cni_plugin();
        let cni_path = path.parent().unwrap().display().to_string();
        Plugin { path, cni_path }
    }
}

/// One invocation's attachment parameters; `None` fields are left out of the environment.
#[derive(Clone, Copy)]
struct Attach<'a> {
    container_id: &'a str,
    pod_netns: Option<&'a str>,
    namespace: &'a str,
    pod: &'a str,
}

struct CniOut {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl CniOut {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }

    fn describe(&self) -> String {
        format!("exit {}, stdout {:?}, stderr {:?}", self.code, self.stdout, self.stderr)
    }

    #[track_caller]
    fn assert_ok_silent(&self, what: &str) {
        assert_eq!(self.code, 0, "{what}: {}", self.describe());
        assert!(
            self.stdout.trim().is_empty(),
            "{what}: success prints nothing: {}",
            self.describe()
        );
    }

    /// A CNI error: exit 1 and an error object on stdout; returns (code, msg + details).
    #[track_caller]
    fn error(&self, what: &str) -> (u64, String) {
        assert_eq!(self.code, 1, "{what}: an error exits 1: {}", self.describe());
        let v = self.json();
        let code = v["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("{what}: no numeric code: {}", self.describe()));
        assert!(v["msg"].is_string(), "{what}: no msg: {}", self.describe());
        (
            code,
            format!(
                "{} / {}",
                v["msg"].as_str().unwrap_or_default(),
                v["details"].as_str().unwrap_or_default()
            ),
        )
    }
}

/// Runs `ip netns exec NODE CNI_PATH/weft` with exactly a runtime's environment.
fn cni(plugin: &Plugin, node: &Node, command: &str, attach: Option<Attach>, stdin: &str) -> CniOut {
    let mut env: Vec<(String, String)> = vec![
        ("CNI_COMMAND".into(), command.into()),
        ("CNI_PATH".into(), plugin.cni_path.clone()),
        ("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into()),
    ];
    if let Some(a) = attach {
        env.push(("CNI_CONTAINERID".into(), a.container_id.into()));
        env.push(("CNI_IFNAME".into(), "eth0".into()));
        env.push((
            "CNI_ARGS".into(),
            format!(
                "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={}",
                a.namespace, a.pod
            ),
        ));
        if let Some(ns) = a.pod_netns {
            env.push(("CNI_NETNS".into(), Namespaces::path(ns)));
        }
    }
    let started = Instant::now();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &node.netns])
        .arg(&plugin.path)
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the CNI plugin");
    let mut pipe = child.stdin.take().unwrap();
    let _ = pipe.write_all(stdin.as_bytes());
    drop(pipe);
    let out = child.wait_with_output().expect("waiting for the CNI plugin");
    CniOut {
        code: out.status.code().unwrap_or(-1),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
        took: started.elapsed(),
    }
}

/// The network config a runtime derives from the conflist: the one plugin with the list's
/// `cniVersion` and `name`.
fn config(socket: &Path) -> Value {
    json!({"cniVersion": "1.1.0", "name": "weft", "type": "weft", "agentSocket": socket})
}

fn with(mut config: Value, key: &str, value: Value) -> String {
    config[key] = value;
    config.to_string()
}

fn ip_out(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), text(&out.stderr));
    text(&out.stdout)
}

/// Every line of the node's rules, routes (all tables), neighbours and links.
fn kernel_lines(netns: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for (what, args) in [
        ("rule4", vec!["-4", "rule"]),
        ("rule6", vec!["-6", "rule"]),
        ("route4", vec!["-4", "route", "show", "table", "all"]),
        ("route6", vec!["-6", "route", "show", "table", "all"]),
        ("neigh", vec!["neigh", "show"]),
        ("link", vec!["-o", "link"]),
    ] {
        let mut full = vec!["-n", netns];
        full.extend(args);
        for line in ip_out(&full).lines() {
            lines.push(format!("{what}: {}", line.trim()));
        }
    }
    lines
}

/// Whether a line of `kernel_lines` is about the pod itself: one of its addresses, or a `wft`
/// interface.
fn about_pod(line: &str, addresses: &[IpAddr]) -> bool {
    line.split_whitespace().any(|token| {
        let token = token.trim_end_matches(':');
        let bare = token.split('/').next().unwrap_or(token);
        token.starts_with("wft") || addresses.iter().any(|a| bare.parse::<IpAddr>().ok() == Some(*a))
    })
}

/// The lines of `kernel_lines` that are Weft's or about the pod: `proto 87`, the rule priorities
/// 10000 and 10001, `wft` interfaces, the pod's addresses. Kernel-managed noise (a STALE
/// neighbour on the underlay, link-local routes) is left out.
fn weft_lines(lines: &[String], addresses: &[IpAddr]) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|line| {
            let body = line.split_once(": ").map(|(_, b)| b).unwrap_or(line);
            line.contains("proto 87")
                || body.starts_with("10000:")
                || body.starts_with("10001:")
                || about_pod(line, addresses)
        })
        .map(|line| line.replace('\\', " "))
        .collect()
}

/// The part of `weft_lines` about the pod itself (not its network's decap rules and table).
fn pod_lines(lines: &[String], addresses: &[IpAddr]) -> BTreeSet<String> {
    weft_lines(lines, addresses)
        .into_iter()
        .filter(|l| about_pod(l, addresses))
        .collect()
}

fn allocations(lab: &Lab) -> Value {
    serde_json::from_str(&lab.ok(&["ipam", "allocations", "-o", "json"])).expect("allocations JSON")
}

/// Every WorkloadEndpoint, as JSON objects.
fn endpoints(lab: &Lab) -> Vec<Value> {
    let v: Value = serde_json::from_str(&lab.ok(&["get", "wep", "-A", "-o", "json"])).expect("wep JSON");
    v["items"].as_array().cloned().unwrap_or_default()
}

fn endpoint_of(lab: &Lab, container_id: &str) -> Option<Value> {
    endpoints(lab)
        .into_iter()
        .find(|w| w["spec"]["containerID"] == container_id)
}

/// What a CNI 1.1.0 ADD result must hold, checked; returns (host interface, addresses).
#[track_caller]
fn check_add_result(out: &CniOut, pod_netns: &str) -> (String, Vec<IpAddr>) {
    assert_eq!(out.code, 0, "ADD: {}", out.describe());
    let r = out.json();
    assert_eq!(r["cniVersion"], "1.1.0", "{r}");
    let interfaces = r["interfaces"].as_array().expect("interfaces");
    let sandbox = Namespaces::path(pod_netns);
    let eth0 = interfaces
        .iter()
        .position(|i| i["name"] == "eth0" && i["sandbox"] == sandbox.as_str())
        .unwrap_or_else(|| panic!("no eth0 in sandbox {sandbox}: {r}"));
    let host = interfaces
        .iter()
        .find(|i| i.get("sandbox").is_none())
        .and_then(|i| i["name"].as_str())
        .unwrap_or_else(|| panic!("no host-side interface: {r}"))
        .to_string();
    assert!(host.starts_with("wft"), "host interface {host}");
    for i in interfaces {
        let mac = i["mac"].as_str().unwrap_or_default();
        assert_eq!(mac.len(), 17, "a MAC on every interface: {r}");
    }
    let ips = r["ips"].as_array().expect("ips");
    let mut addresses = Vec::new();
    for ip in ips {
        assert_eq!(ip["interface"], eth0, "ips point at eth0: {r}");
        let cidr = ip["address"].as_str().expect("address");
        let (addr, len) = cidr.split_once('/').expect("address/len");
        let addr: IpAddr = addr.parse().unwrap();
        assert!(ip["gateway"].is_string(), "gateway for {cidr}: {r}");
        match addr {
            IpAddr::V4(a) => {
                assert_eq!(len, "32", "{cidr}");
                assert_eq!(a.octets()[..2], [10, 244], "{cidr} is in 10.244.0.0/16");
            }
            IpAddr::V6(a) => {
                assert_eq!(len, "128", "{cidr}");
                let s = a.segments();
                assert!(
                    s[0] == 0xfd00 && s[1] == 0x0244 && s[2] & 0xff00 == 0,
                    "{cidr} is in fd00:244::/56"
                );
            }
        }
        addresses.push(addr);
    }
    assert!(addresses.iter().any(IpAddr::is_ipv4), "an IPv4 address: {r}");
    assert!(addresses.iter().any(IpAddr::is_ipv6), "an IPv6 address: {r}");
    let routes: Vec<&str> = r["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .filter_map(|x| x["dst"].as_str())
        .collect();
    assert!(
        routes.contains(&"0.0.0.0/0") && routes.contains(&"::/0"),
        "default routes: {r}"
    );
    (host, addresses)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn timing(label: &str, mut took: Vec<Duration>) -> String {
    took.sort();
    format!(
        "{label}: n={} p50={:?} p99={:?} max={:?}",
        took.len(),
        percentile(&took, 0.50),
        percentile(&took, 0.99),
        took[took.len() - 1]
    )
}

/// Retries a probe for a few seconds: the other node learns a new pod through the controller.
fn eventually(mut probe: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        if probe() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn add_then_del_leaves_nothing() {
    let lab = Lab::up(None);
    let plugin = Plugin::of(&lab);
    let n1 = node(&lab, "node-1");
    let mut nss = Namespaces::new("cni-adddel");
    let pod_ns = nss.add("pod");
    let conf = config(&n1.socket).to_string();
    let container = format!("{}-adddel", lab.name);
    let attach = Attach {
        container_id: &container,
        pod_netns: Some(&pod_ns),
        namespace: "default",
        pod: "add-del",
    };

    let kernel_before = kernel_lines(&n1.netns);
    let allocations_before = allocations(&lab);

    let out = cni(&plugin, &n1, "ADD", Some(attach), &conf);
    let (host, addresses) = check_add_result(&out, &pod_ns);

    // The node: the host end, rules and routes into the network's table, for both addresses.
    let links = ip_out(&["-n", &n1.netns, "-o", "link"]);
    assert!(links.contains(&format!("{host}@")), "{host} on the node: {links}");
    for a in &addresses {
        let family = if a.is_ipv4() { "-4" } else { "-6" };
        let routes = ip_out(&["-n", &n1.netns, family, "route", "show", "table", TABLE]);
        assert!(
            routes
                .lines()
                .any(|l| l.starts_with(&format!("{a} ")) && l.contains(&host) && l.contains("proto 87")),
            "route to {a} via {host} in table {TABLE}:\n{routes}"
        );
        let inside = ip_out(&["-n", &pod_ns, "-o", "addr", "show", "dev", "eth0"]);
        assert!(inside.contains(&a.to_string()), "{a} on the pod's eth0: {inside}");
    }
    let rules = ip_out(&["-n", &n1.netns, "rule"]);
    assert!(
        rules.contains(&format!("10000:\tfrom all iif {host} lookup {TABLE}")),
        "pod rule: {rules}"
    );
    let wep = endpoint_of(&lab, &container).expect("a WorkloadEndpoint for the container");
    assert_eq!(wep["spec"]["node"], "node-1", "{wep}");
    assert_eq!(wep["spec"]["hostInterface"], host.as_str(), "{wep}");
    let wep_addresses: BTreeSet<IpAddr> = wep["spec"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(wep_addresses, addresses.iter().copied().collect(), "{wep}");
    assert_ne!(allocations(&lab), allocations_before, "ADD allocated");

    // DEL: what was made for the pod (its interface, its routes, rules and neighbours) is gone
    // when DEL returns. Its network's own objects (decap rules, the table's unreachable
    // defaults) go when the controller tells the agent that no pod of the network is left on
    // the node, a moment later: wait a few seconds for those.
    cni(&plugin, &n1, "DEL", Some(attach), &conf).assert_ok_silent("DEL");
    let right_after = kernel_lines(&n1.netns);
    let pod_left: Vec<String> = pod_lines(&right_after, &addresses)
        .difference(&pod_lines(&kernel_before, &addresses))
        .cloned()
        .collect();
    assert!(
        pod_left.is_empty(),
        "the pod's kernel state is still on node-1 when DEL has returned: {pod_left:#?}"
    );
    let before = weft_lines(&kernel_before, &addresses);
    let first: Vec<String> = weft_lines(&right_after, &addresses)
        .difference(&before)
        .cloned()
        .collect();
    let mut after = weft_lines(&right_after, &addresses);
    let deadline = Instant::now() + Duration::from_secs(5);
    while after != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        after = weft_lines(&kernel_lines(&n1.netns), &addresses);
    }
    // (Compared at the end, so that the checks below run and report too.)
    let left: Vec<&String> = after.difference(&before).collect();
    let lost: Vec<&String> = before.difference(&after).collect();
    if !first.is_empty() {
        println!("Weft's node state right after DEL, beyond the snapshot: {first:#?}");
    }
    assert_eq!(allocations(&lab), allocations_before, "allocations after DEL");
    assert!(endpoint_of(&lab, &container).is_none(), "the WorkloadEndpoint is gone");
    let inside = ip_out(&["-n", &pod_ns, "-o", "link"]);
    assert!(!inside.contains("eth0"), "eth0 left in the pod: {inside}");

    // DEL again, and DEL without CNI_NETNS (a runtime whose sandbox is gone): nothing to do.
    cni(&plugin, &n1, "DEL", Some(attach), &conf).assert_ok_silent("second DEL");
    let no_netns = Attach {
        pod_netns: None,
        ..attach
    };
    cni(&plugin, &n1, "DEL", Some(no_netns), &conf).assert_ok_silent("DEL without CNI_NETNS");
    assert_eq!(
        allocations(&lab),
        allocations_before,
        "allocations after the repeated DELs"
    );

    // A live attachment deleted without CNI_NETNS (ctr, for one, sends it empty on DEL): the
    // agent still removes what it made.
    let other_ns = nss.add("pod2");
    let other = format!("{}-adddel2", lab.name);
    let attach2 = Attach {
        container_id: &other,
        pod_netns: Some(&other_ns),
        namespace: "default",
        pod: "add-del-2",
    };
    let (host2, addresses2) = check_add_result(&cni(&plugin, &n1, "ADD", Some(attach2), &conf), &other_ns);
    let no_netns = Attach {
        pod_netns: None,
        ..attach2
    };
    cni(&plugin, &n1, "DEL", Some(no_netns), &conf).assert_ok_silent("DEL of a live attachment without CNI_NETNS");
    assert!(endpoint_of(&lab, &other).is_none(), "its WorkloadEndpoint is gone");
    assert_eq!(allocations(&lab), allocations_before, "its addresses are released");
    let links = ip_out(&["-n", &n1.netns, "-o", "link"]);
    assert!(!links.contains(&host2), "{host2} removed: {links}");
    let routes = weft_lines(&kernel_lines(&n1.netns), &addresses2);
    assert!(
        !routes
            .iter()
            .any(|l| addresses2.iter().any(|a| l.contains(&format!("{a} ")))),
        "nothing left about {addresses2:?}: {routes:#?}"
    );

    assert_eq!(
        left,
        Vec::<&String>::new(),
        "Weft's kernel state left on node-1 5 s after DEL (before ADD there was: {before:#?}; \
         right after DEL there was also: {first:#?})"
    );
    assert_eq!(
        lost,
        Vec::<&String>::new(),
        "kernel state that was there before ADD is missing after DEL"
    );
}

#[test]
fn broken_config_gets_a_spec_error_naming_the_field() {
    let lab = Lab::up(None);
    let plugin = Plugin::of(&lab);
    let n1 = node(&lab, "node-1");
    let mut nss = Namespaces::new("cni-broken");
    let pod_ns = nss.add("pod");
    let container = format!("{}-broken", lab.name);
    let attach = Attach {
        container_id: &container,
        pod_netns: Some(&pod_ns),
        namespace: "default",
        pod: "broken",
    };
    let allocations_before = allocations(&lab);
    let links_before = ip_out(&["-n", &n1.netns, "-o", "link"]);

    let out = cni(
        &plugin,
        &n1,
        "ADD",
        Some(attach),
        &with(config(&n1.socket), "mtu", json!(70000)),
    );
    let (code, message) = out.error("mtu 70000");
    assert_eq!(code, 7, "invalid config: {message}");
    assert!(message.contains("mtu"), "the error names the field: {message}");
    assert!(message.contains("70000"), "and the value: {message}");

    let (code, message) = cni(&plugin, &n1, "ADD", Some(attach), "cniVersion: 1.1.0\n").error("YAML on stdin");
    assert_eq!(code, 6, "decode failure: {message}");

    let out = cni(
        &plugin,
        &n1,
        "ADD",
        Some(attach),
        &with(config(&n1.socket), "cniVersion", json!("9.9.9")),
    );
    let (code, message) = out.error("cniVersion 9.9.9");
    assert_eq!(code, 1, "incompatible version: {message}");
    assert!(message.contains("9.9.9"), "{message}");

    assert_eq!(allocations(&lab), allocations_before, "nothing was allocated");
    assert!(endpoints(&lab).is_empty(), "no WorkloadEndpoint was made");
    assert_eq!(
        ip_out(&["-n", &n1.netns, "-o", "link"])
            .lines()
            .filter(|l| l.contains("wft"))
            .count(),
        links_before.lines().filter(|l| l.contains("wft")).count(),
        "no interface was made"
    );
    let inside = ip_out(&["-n", &pod_ns, "-o", "link"]);
    assert!(!inside.contains("eth0"), "nothing in the pod: {inside}");

    // DEL validates only what it needs: a config broken after ADD must not leave the pod stuck
    // in deletion.
    let conf = config(&n1.socket).to_string();
    check_add_result(&cni(&plugin, &n1, "ADD", Some(attach), &conf), &pod_ns);
    cni(
        &plugin,
        &n1,
        "DEL",
        Some(attach),
        &with(config(&n1.socket), "mtu", json!(70000)),
    )
    .assert_ok_silent("DEL with a config whose mtu went bad after ADD");
    assert_eq!(allocations(&lab), allocations_before, "DEL released the addresses");
    assert!(endpoints(&lab).is_empty(), "DEL removed the WorkloadEndpoint");
}

#[test]
fn fifty_concurrent_adds_get_distinct_addresses() {
    const PODS: usize = 50;
    let lab = Lab::up(None);
    let plugin = Plugin::of(&lab);
    let nodes = [node(&lab, "node-1"), node(&lab, "node-2")];
    let mut nss = Namespaces::new("cni-fifty");
    let pod_nss: Vec<String> = (0..PODS).map(|i| nss.add(&format!("p{i}"))).collect();
    let containers: Vec<String> = (0..PODS).map(|i| format!("{}-c{i}", lab.name)).collect();
    let names: Vec<String> = (0..PODS).map(|i| format!("fifty-{i}")).collect();
    let attach = |i: usize| Attach {
        container_id: &containers[i],
        pod_netns: Some(&pod_nss[i]),
        namespace: "default",
        pod: &names[i],
    };
    let node_of = |i: usize| &nodes[i % 2];
    let confs: Vec<String> = nodes.iter().map(|n| config(&n.socket).to_string()).collect();
    let conf_of = |i: usize| &confs[i % 2];
    let allocations_before = allocations(&lab);
    let kernel_before: Vec<BTreeSet<String>> = nodes.iter().map(|n| weft_lines(&kernel_lines(&n.netns), &[])).collect();

    // 50 ADDs at once, alternating between the nodes.
    let started = Instant::now();
    let outs: Vec<CniOut> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..PODS)
            .map(|i| {
                let (plugin, node, conf) = (&plugin, node_of(i), conf_of(i));
                s.spawn(move || cni(plugin, node, "ADD", Some(attach(i)), conf))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    let mut v4 = BTreeSet::new();
    let mut v6 = BTreeSet::new();
    let mut addresses = Vec::new();
    for (i, out) in outs.iter().enumerate() {
        let (_, a) = check_add_result(out, &pod_nss[i]);
        for ip in &a {
            let fresh = if ip.is_ipv4() { v4.insert(*ip) } else { v6.insert(*ip) };
            assert!(fresh, "{ip} was given twice (pod {i})");
        }
        addresses.push(a);
    }
    assert_eq!((v4.len(), v6.len()), (PODS, PODS), "distinct addresses");
    let concurrent = timing("CNI ADD, 50 concurrent", outs.iter().map(|o| o.took).collect());
    println!("{concurrent}; wall {wall:?}");
    assert_eq!(endpoints(&lab).len(), PODS, "one WorkloadEndpoint per pod");

    // A few pairs across nodes (even indexes are on node-1, odd on node-2) reach each other.
    let seed = started.elapsed().subsec_nanos() as usize;
    for k in 0..2 {
        let a = 2 * ((seed + 13 * k) % (PODS / 2));
        let b = 2 * (((seed >> 7) + 17 * k) % (PODS / 2)) + 1;
        for (from, to) in [(a, b), (b, a)] {
            for target in &addresses[to] {
                assert!(
                    eventually(|| weft_testnet::ping(&pod_nss[from], *target)),
                    "pod {from} on {} pings pod {to} at {target}",
                    node_of(from).netns
                );
            }
        }
    }

    // 50 DELs at once.
    let dels: Vec<CniOut> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..PODS)
            .map(|i| {
                let (plugin, node, conf) = (&plugin, node_of(i), conf_of(i));
                s.spawn(move || cni(plugin, node, "DEL", Some(attach(i)), conf))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, out) in dels.iter().enumerate() {
        out.assert_ok_silent(&format!("DEL of pod {i}"));
    }
    assert_eq!(allocations(&lab), allocations_before, "allocations after 50 DELs");
    assert!(endpoints(&lab).is_empty(), "no WorkloadEndpoint left");
    for n in &nodes {
        let links = ip_out(&["-n", &n.netns, "-o", "link"]);
        assert!(!links.contains("wft"), "pod interfaces left on {}: {links}", n.netns);
    }
    // Weft's objects on both nodes (pod routes, rules and neighbours, network tables) are back
    // to the snapshot, within a few seconds for the network-level ones.
    for (n, before) in nodes.iter().zip(&kernel_before) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut now = weft_lines(&kernel_lines(&n.netns), &[]);
        while now != *before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            now = weft_lines(&kernel_lines(&n.netns), &[]);
        }
        let left: Vec<&String> = now.difference(before).collect();
        assert!(left.is_empty(), "left on {} after 50 DELs: {left:#?}", n.netns);
    }

    // The same, one after another: the latency of an ADD on a quiet node.
    let mut took = Vec::new();
    for (i, pod_ns) in pod_nss.iter().enumerate() {
        let out = cni(&plugin, node_of(i), "ADD", Some(attach(i)), conf_of(i));
        check_add_result(&out, pod_ns);
        took.push(out.took);
    }
    let sequential = timing("CNI ADD, sequential", took);
    println!("{sequential}");
    for i in 0..PODS {
        cni(&plugin, node_of(i), "DEL", Some(attach(i)), conf_of(i)).assert_ok_silent("sequential DEL");
    }
    assert_eq!(
        allocations(&lab),
        allocations_before,
        "allocations after sequential DELs"
    );
    println!("{concurrent}\n{sequential}");
}

#[test]
fn check_detects_a_deleted_route() {
    let lab = Lab::up(None);
    let plugin = Plugin::of(&lab);
    let n1 = node(&lab, "node-1");
    let mut nss = Namespaces::new("cni-check");
    let pod_ns = nss.add("pod");
    let container = format!("{}-check", lab.name);
    let attach = Attach {
        container_id: &container,
        pod_netns: Some(&pod_ns),
        namespace: "default",
        pod: "checked",
    };
    let conf = config(&n1.socket);
    let out = cni(&plugin, &n1, "ADD", Some(attach), &conf.to_string());
    let (_, addresses) = check_add_result(&out, &pod_ns);
    let v4 = addresses.iter().find(|a| a.is_ipv4()).copied().unwrap();
    // libcni's CHECK: the conflist's plugin config with the cached ADD result as prevResult.
    let check_conf = with(conf.clone(), "prevResult", out.json());
    cni(&plugin, &n1, "CHECK", Some(attach), &check_conf).assert_ok_silent("CHECK right after ADD");

    // Delete the pod's host route; CHECK must see it. The agent repairs drift (every 20 s, and
    // on any change from the controller), so if a repair slips in between, try again.
    let route = format!("{v4}/32");
    let mut seen = None;
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        ip_out(&["-n", &n1.netns, "route", "del", &route, "table", TABLE]);
        let out = cni(&plugin, &n1, "CHECK", Some(attach), &check_conf);
        if out.code != 0 {
            seen = Some(out);
            break;
        }
        let routes = ip_out(&["-n", &n1.netns, "-4", "route", "show", "table", TABLE]);
        assert!(
            routes.lines().any(|l| l.starts_with(&format!("{v4} "))),
            "CHECK passed with the route to {v4} missing:\n{routes}"
        );
    }
    let out = seen.expect("CHECK noticed the deleted route");
    let (code, message) = out.error("CHECK with the route deleted");
    assert_ne!(code, 0);
    assert!(
        message.contains(&route) || message.contains(&v4.to_string()),
        "the error names the missing route to {v4}: {message}"
    );
    assert!(message.contains("route"), "{message}");
    println!("CHECK with the route to {v4} deleted: code {code}: {message}");

    // An attachment the agent does not know: code 3, for a new container of the same pod and for
    // another pod.
    let stranger = format!("{}-stranger", lab.name);
    for pod in ["checked", "nobody"] {
        let unknown = Attach {
            container_id: &stranger,
            pod,
            ..attach
        };
        let (code, message) =
            cni(&plugin, &n1, "CHECK", Some(unknown), &check_conf).error("CHECK of an unknown container");
        assert_eq!(code, 3, "unknown container (pod {pod}): {message}");
    }
    cni(&plugin, &n1, "DEL", Some(attach), &conf.to_string()).assert_ok_silent("DEL");
}

#[test]
fn status_and_gc() {
    let lab = Lab::up(None);
    let plugin = Plugin::of(&lab);
    let n1 = node(&lab, "node-1");
    let conf = config(&n1.socket);
    cni(&plugin, &n1, "STATUS", None, &conf.to_string()).assert_ok_silent("STATUS");
    // No agent behind the socket: the plugin is not available (code 50).
    let nowhere = lab.dir.path().join("nowhere.sock");
    let (code, message) =
        cni(&plugin, &n1, "STATUS", None, &config(&nowhere).to_string()).error("STATUS without an agent");
    assert_eq!(code, 50, "plugin not available: {message}");

    let mut nss = Namespaces::new("cni-gc");
    let (ns_keep, ns_gone) = (nss.add("keep"), nss.add("gone"));
    let (keep, gone) = (format!("{}-keep", lab.name), format!("{}-gone", lab.name));
    let a_keep = Attach {
        container_id: &keep,
        pod_netns: Some(&ns_keep),
        namespace: "default",
        pod: "gc-keep",
    };
    let a_gone = Attach {
        container_id: &gone,
        pod_netns: Some(&ns_gone),
        namespace: "default",
        pod: "gc-gone",
    };
    let allocations_before = allocations(&lab);
    let (host_keep, addr_keep) = check_add_result(&cni(&plugin, &n1, "ADD", Some(a_keep), &conf.to_string()), &ns_keep);
    let (host_gone, addr_gone) = check_add_result(&cni(&plugin, &n1, "ADD", Some(a_gone), &conf.to_string()), &ns_gone);
    let allocations_both = allocations(&lab);

    // A GC without the list is refused rather than read as "nothing is valid".
    let (code, message) = cni(&plugin, &n1, "GC", None, &conf.to_string()).error("GC without valid attachments");
    assert_eq!(code, 7, "{message}");
    assert!(message.contains("cni.dev/valid-attachments"), "{message}");
    assert!(endpoint_of(&lab, &gone).is_some(), "the refused GC removed nothing");

    let gc_conf = with(
        conf.clone(),
        "cni.dev/valid-attachments",
        json!([{"containerID": keep, "ifname": "eth0"}]),
    );
    cni(&plugin, &n1, "GC", None, &gc_conf).assert_ok_silent("GC");

    let links = ip_out(&["-n", &n1.netns, "-o", "link"]);
    assert!(!links.contains(&host_gone), "{host_gone} removed by GC: {links}");
    assert!(links.contains(&host_keep), "{host_keep} kept: {links}");
    assert!(endpoint_of(&lab, &gone).is_none(), "the unlisted endpoint is gone");
    assert!(endpoint_of(&lab, &keep).is_some(), "the listed endpoint is kept");
    let owners: Vec<String> = allocations(&lab)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap().to_string())
        .collect();
    for a in &addr_gone {
        assert!(!owners.contains(&a.to_string()), "{a} of the collected pod released");
    }
    for a in &addr_keep {
        assert!(owners.contains(&a.to_string()), "{a} of the kept pod still allocated");
    }
    let routes = ip_out(&["-n", &n1.netns, "-4", "route", "show", "table", TABLE]);
    for a in addr_gone.iter().filter(|a| a.is_ipv4()) {
        assert!(!routes.contains(&format!("{a} ")), "route to {a} removed: {routes}");
    }
    for a in addr_keep.iter().filter(|a| a.is_ipv4()) {
        assert!(
            routes.contains(&format!("{a} dev {host_keep}")),
            "route to {a} kept: {routes}"
        );
    }
    let conf_s = conf.to_string();
    // ADD is idempotent for the same attachment: the kept pod keeps its addresses.
    let (_, again) = check_add_result(&cni(&plugin, &n1, "ADD", Some(a_keep), &conf_s), &ns_keep);
    assert_eq!(again, addr_keep, "a repeated ADD keeps the addresses");
    assert_ne!(
        allocations(&lab),
        allocations_both,
        "the collected pod's addresses are released"
    );
    cni(&plugin, &n1, "DEL", Some(a_keep), &conf_s).assert_ok_silent("DEL");
    cni(&plugin, &n1, "DEL", Some(a_gone), &conf_s).assert_ok_silent("DEL of the collected pod");
    assert_eq!(allocations(&lab), allocations_before);
}
