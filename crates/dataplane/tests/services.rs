//! Services on real kernel state: three nodes (network namespaces on a bridge, VXLAN between
//! them), pods with servers that answer with their name, and NodeStates given directly (no
//! controller), reconciled exactly as the agent does it (netlink plan, then nftables).
//!
//! Each test builds its own cluster under unique names, removed on drop (also after a panic).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weft_api::sync::{
    LocalEndpoint, NetworkState, NodeState, RemoteRoute, ServiceEndpoint, ServicePort, ServiceState, VipNextHop,
};
use weft_dataplane::netns::NetNs;
use weft_dataplane::plan::{self, node_plan};
use weft_dataplane::pod::{self, PodSpec, format_mac};
use weft_dataplane::policy;
use weft_dataplane::services::{self, Nft};
use weft_dataplane::{Kernel, marks};
use weft_testnet::{Namespaces, ip as run_ip};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct Pod {
    name: String,
    node: usize,
    netns: String,
    addresses: Vec<IpAddr>,
}

struct Cluster {
    // Dropped last: the namespaces outlive the kernels' sockets in them.
    kernels: Vec<Kernel>,
    vteps: Vec<Ipv4Addr>,
    macs: Vec<[u8; 6]>,
    pods: Vec<Pod>,
    states: Vec<NodeState>,
    ns: Namespaces,
}

impl Cluster {
    /// `nodes` nodes on one bridge; pods as (name, node index, IPv4 host part).
    async fn new(test: &str, nodes: usize, pods: &[(&str, usize, u8)]) -> Cluster {
        let mut ns = Namespaces::new(test);
        let bridge = ns.add("br");
        run_ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"]);
        run_ip(&["-n", &bridge, "link", "set", "br0", "up"]);
        let mut kernels = Vec::new();
        let mut vteps = Vec::new();
        let mut macs = Vec::new();
        for i in 0..nodes {
            let node = ns.add(&format!("n{}", i + 1));
            let port = format!("p{i}");
            run_ip(&[
                "-n", &node, "link", "add", "u0", "type", "veth", "peer", "name", &port, "netns", &bridge,
            ]);
            run_ip(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"]);
            let vtep = Ipv4Addr::new(192, 0, 2, i as u8 + 1);
            run_ip(&["-n", &node, "addr", "add", &format!("{vtep}/24"), "dev", "u0"]);
            run_ip(&["-n", &node, "link", "set", "u0", "up"]);
            let kernel = Kernel::in_netns(NetNs::open(&Namespaces::path(&node)).unwrap()).unwrap();
            kernel.enable_forwarding().unwrap();
            kernel.enable_services().unwrap();
            let vx = kernel.ensure_vxlan(1450).await.unwrap();
            macs.push(vx.mac);
            vteps.push(vtep);
            kernels.push(kernel);
        }
        let mut states: Vec<NodeState> = (0..nodes)
            .map(|i| {
                let mut s = NodeState {
                    node: format!("n{}", i + 1),
                    ..Default::default()
                };
                s.networks.insert(
                    "default".into(),
                    NetworkState {
                        name: "default".into(),
                        vni: 1,
                    },
                );
                s
            })
            .collect();
        let mut made = Vec::new();
        for (name, node, host) in pods {
            let netns = ns.add(name);
            let addresses = vec![ip(&format!("10.244.0.{host}")), ip(&format!("fd00:244::{host}"))];
            let container_id = format!("container-{name}");
            let spec = PodSpec {
                container_id: container_id.clone(),
                ifname: "eth0".into(),
                netns: Namespaces::path(&netns),
                addresses: addresses.clone(),
                mtu: 1450,
                mac: Some(marks::pod_mac(&container_id, "eth0")),
            };
            let interfaces = pod::attach(&kernels[*node], &spec).await.unwrap();
            let local = LocalEndpoint {
                namespace: "default".into(),
                pod: name.to_string(),
                container_id,
                interface: "eth0".into(),
                host_interface: Some(interfaces.host_interface.clone()),
                mac: Some(format_mac(&interfaces.container_mac)),
                network: "default".into(),
                addresses: addresses.clone(),
            };
            states[*node].endpoints.insert(local.key(), local);
            for (other, state) in states.iter_mut().enumerate() {
                if other == *node {
                    continue;
                }
                for a in &addresses {
                    let r = RemoteRoute {
                        network: "default".into(),
                        vni: 1,
                        prefix: ipnet::IpNet::from(*a).to_string(),
                        node: format!("n{}", node + 1),
                        vtep: vteps[*node],
                        router_mac: format_mac(&macs[*node]),
                    };
                    state.routes.insert(r.key(), r);
                }
            }
            made.push(Pod {
                name: name.to_string(),
                node: *node,
                netns,
                addresses,
            });
        }
        Cluster {
            kernels,
            vteps,
            macs,
            pods: made,
            states,
            ns,
        }
    }

    fn pod(&self, name: &str) -> &Pod {
        self.pods.iter().find(|p| p.name == name).unwrap()
    }

    /// The Service as each node gets it: `vip_nodes` are the other nodes with endpoints.
    fn set_service(&mut self, service: &ServiceState) {
        for (i, state) in self.states.iter_mut().enumerate() {
            let mut s = service.clone();
            let mut hosting: Vec<usize> = service
                .endpoints
                .iter()
                .filter_map(|e| e.node.strip_prefix('n')?.parse::<usize>().ok())
                .map(|n| n - 1)
                .filter(|n| *n != i)
                .collect();
            hosting.sort();
            hosting.dedup();
            s.vip_nodes = hosting
                .into_iter()
                .map(|n| VipNextHop {
                    node: format!("n{}", n + 1),
                    vtep: self.vteps[n],
                    router_mac: format_mac(&self.macs[n]),
                })
                .collect();
            state.services.insert(s.key(), s);
        }
    }

    /// Reconciles every node as the agent does, and checks that it converged: the kernel reads
    /// back as the plan, and nftables as the ruleset (no script left to run).
    async fn reconcile(&self) {
        for i in 0..self.kernels.len() {
            self.reconcile_routes(i).await;
            self.reconcile_nft(i);
        }
    }

    /// The first half of a node's reconciliation (the agent's order): routes, rules, neighbours.
    async fn reconcile_routes(&self, i: usize) {
        let (kernel, state) = (&self.kernels[i], &self.states[i]);
        let desired = node_plan(state);
        let observed = kernel.observe().await.unwrap();
        let failures = kernel.apply(&plan::diff(&desired, &observed)).await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(kernel.observe().await.unwrap(), desired, "routes differ from the plan");
    }

    /// The second half: the node's nftables table (Services and NetworkPolicy, as the agent has
    /// it).
    fn reconcile_nft(&self, i: usize) {
        let (kernel, state) = (&self.kernels[i], &self.states[i]);
        let nft = Nft::new(kernel.clone());
        let desired = policy::table(state);
        nft.sync(desired.as_ref(), None, true).unwrap();
        let left = services::script(desired.as_ref(), nft.observe().unwrap().as_ref(), true);
        assert_eq!(left, None, "nftables did not converge on {}", state.node);
    }
}

fn endpoint(c: &Cluster, pod: &str, ports: &[(u16, u16)]) -> ServiceEndpoint {
    let p = c.pod(pod);
    ServiceEndpoint {
        pod: format!("default/{pod}"),
        node: format!("n{}", p.node + 1),
        addresses: p.addresses.clone(),
        target_ports: ports.iter().copied().collect(),
    }
}

fn service(name: &str, vip4: &str, vip6: &str, ports: &[(&str, u16)], endpoints: Vec<ServiceEndpoint>) -> ServiceState {
    ServiceState {
        namespace: "default".into(),
        name: name.into(),
        network: "default".into(),
        cluster_ips: vec![ip(vip4), ip(vip6)],
        ports: ports
            .iter()
            .map(|(proto, port)| ServicePort {
                name: format!("{}-{port}", proto.to_lowercase()),
                protocol: proto.to_string(),
                port: *port,
            })
            .collect(),
        endpoints,
        ..Default::default()
    }
}

/// Servers in a pod: on each TCP port, answer every connection with the pod's name and close;
/// on each UDP port, answer every datagram with it. Stopped on drop.
struct Servers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    netns: String,
    tcp: Vec<u16>,
}

fn serve(netns: &str, name: &str, tcp: &[u16], udp: &[u16]) -> Servers {
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let ns = NetNs::open(&Namespaces::path(netns)).unwrap();
    for &port in tcp {
        // [::] takes IPv4 too (bindv6only is 0).
        let listener = ns.run(move || TcpListener::bind(("::", port))).unwrap().unwrap();
        let (stop, name) = (stop.clone(), name.to_string());
        threads.push(std::thread::spawn(move || {
            for s in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(mut s) = s {
                    let _ = s.write_all(name.as_bytes());
                }
            }
        }));
    }
    for &port in udp {
        let socket = ns.run(move || UdpSocket::bind(("::", port))).unwrap().unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let (stop, name) = (stop.clone(), name.to_string());
        threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while !stop.load(Ordering::SeqCst) {
                if let Ok((_, from)) = socket.recv_from(&mut buf) {
                    let _ = socket.send_to(name.as_bytes(), from);
                }
            }
        }));
    }
    Servers {
        stop,
        threads,
        netns: netns.to_string(),
        tcp: tcp.to_vec(),
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let ports = self.tcp.clone();
        if let Ok(ns) = NetNs::open(&Namespaces::path(&self.netns)) {
            let _ = ns.run(move || {
                for port in ports {
                    let _ =
                        TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(1));
                }
            });
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// `count` new TCP connections from `from` to `to`: who answered each (or the error).
fn tcp_answers(from: &str, to: SocketAddr, count: usize) -> BTreeMap<String, usize> {
    let ns = NetNs::open(&Namespaces::path(from)).unwrap();
    ns.run(move || {
        let mut out = BTreeMap::new();
        for _ in 0..count {
            let answer = match TcpStream::connect_timeout(&to, Duration::from_secs(2)) {
                Ok(mut s) => {
                    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
                    let mut text = String::new();
                    match s.read_to_string(&mut text) {
                        Ok(_) => text,
                        Err(e) => format!("read: {e}"),
                    }
                }
                Err(e) => format!("connect: {e}"),
            };
            *out.entry(answer).or_insert(0) += 1;
        }
        out
    })
    .unwrap()
}

/// `count` UDP exchanges, each from a new socket (a new flow).
fn udp_answers(from: &str, to: SocketAddr, count: usize) -> BTreeMap<String, usize> {
    let ns = NetNs::open(&Namespaces::path(from)).unwrap();
    ns.run(move || {
        let mut out = BTreeMap::new();
        for _ in 0..count {
            let local: SocketAddr = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().unwrap();
            let s = UdpSocket::bind(local).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
            let mut answer = "no answer".to_string();
            for _ in 0..3 {
                let _ = s.send_to(b"who", to);
                let mut buf = [0u8; 64];
                if let Ok((n, _)) = s.recv_from(&mut buf) {
                    answer = String::from_utf8_lossy(&buf[..n]).to_string();
                    break;
                }
            }
            *out.entry(answer).or_insert(0) += 1;
        }
        out
    })
    .unwrap()
}

fn assert_spread(answers: &BTreeMap<String, usize>, expected: &[&str], total: usize, what: &str) {
    let got: usize = expected.iter().map(|e| answers.get(*e).copied().unwrap_or(0)).sum();
    assert_eq!(
        got, total,
        "{what}: not every connection reached an endpoint: {answers:?}"
    );
    for e in expected {
        // Random choice over n endpoints: each gets well over a fifth of its share.
        let share = answers.get(*e).copied().unwrap_or(0);
        assert!(
            share * expected.len() * 5 >= total,
            "{what}: {e} got {share} of {total}: {answers:?}"
        );
    }
}

fn sa(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(self::ip(ip), port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_spread_over_endpoints_on_two_nodes() {
    let mut c = Cluster::new("svc-spread", 3, &[("e1", 0, 11), ("e2", 1, 12), ("client", 2, 13)]).await;
    // Port 80's targetPort is a name that resolves to 8080 on e1 and 9090 on e2.
    let web = service(
        "web",
        "10.96.0.10",
        "fd96::10",
        &[("TCP", 80), ("UDP", 53), ("SCTP", 9)],
        vec![
            endpoint(&c, "e1", &[(80, 8080), (53, 5353), (9, 9999)]),
            endpoint(&c, "e2", &[(80, 9090), (53, 5353), (9, 9999)]),
        ],
    );
    c.set_service(&web);
    c.reconcile().await;
    let _s1 = serve(&c.pod("e1").netns, "e1", &[8080], &[5353]);
    let _s2 = serve(&c.pod("e2").netns, "e2", &[9090], &[5353]);
    let client = c.pod("client").netns.clone();
    let tcp4 = tcp_answers(&client, sa("10.96.0.10", 80), 1000);
    assert_spread(&tcp4, &["e1", "e2"], 1000, "TCP over IPv4");
    let tcp6 = tcp_answers(&client, sa("fd96::10", 80), 300);
    assert_spread(&tcp6, &["e1", "e2"], 300, "TCP over IPv6");
    let udp4 = udp_answers(&client, sa("10.96.0.10", 53), 200);
    assert_spread(&udp4, &["e1", "e2"], 200, "UDP over IPv4");
    let udp6 = udp_answers(&client, sa("fd96::10", 53), 200);
    assert_spread(&udp6, &["e1", "e2"], 200, "UDP over IPv6");
    // A port the Service does not have is refused at once.
    let other = tcp_answers(&client, sa("10.96.0.10", 81), 1);
    assert!(other.keys().all(|k| k.contains("refused")), "{other:?}");
    // Drift: elements deleted behind the agent's back comes back at the next reconciliation.
    let nft = Nft::new(c.kernels[2].clone());
    nft.apply(
        "delete element inet weft services_1_v4 { 10.96.0.10 . tcp . 80 }\n\
         delete element inet weft endpoints_v4 { 10.96.0.10 . tcp . 80 . 0 }\n",
    )
    .unwrap();
    assert!(
        tcp_answers(&client, sa("10.96.0.10", 80), 1)
            .keys()
            .all(|k| k.contains("refused"))
    );
    c.reconcile().await;
    assert_spread(
        &tcp_answers(&client, sa("10.96.0.10", 80), 50),
        &["e1", "e2"],
        50,
        "after repair",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_endpoint_gets_no_new_connections_and_others_keep_theirs() {
    let mut c = Cluster::new("svc-remove", 2, &[("e1", 0, 21), ("e2", 1, 22), ("client", 0, 23)]).await;
    let mut web = service(
        "web",
        "10.96.0.20",
        "fd96::20",
        &[("TCP", 80)],
        vec![endpoint(&c, "e1", &[(80, 8080)]), endpoint(&c, "e2", &[(80, 8080)])],
    );
    c.set_service(&web);
    c.reconcile().await;
    // A long-lived connection that lands on e2 (tried until one does).
    let ns = NetNs::open(&Namespaces::path(&c.pod("e2").netns)).unwrap();
    let listener = ns.run(|| TcpListener::bind(("::", 8080))).unwrap().unwrap();
    let _e1 = serve(&c.pod("e1").netns, "e1", &[8080], &[]);
    let client = NetNs::open(&Namespaces::path(&c.pod("client").netns)).unwrap();
    let (mut kept, mut server_side) = loop {
        let attempt = client
            .run(|| TcpStream::connect_timeout(&sa("10.96.0.20", 80), Duration::from_secs(2)))
            .unwrap()
            .unwrap();
        attempt.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        listener.set_nonblocking(true).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        if let Ok((s, _)) = listener.accept() {
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            attempt.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            break (attempt, s);
        }
        // It went to e1, which answered and closed.
    };
    assert!(weft_testnet::exchange(&mut kept, &mut server_side, b"before"));
    // e1 leaves: every new connection goes to e2 at once.
    web.endpoints.retain(|e| e.pod != "default/e1");
    c.set_service(&web);
    c.reconcile().await;
    drop(listener);
    let _e2 = serve(&c.pod("e2").netns, "e2", &[9090], &[]);
    web.endpoints[0].target_ports.insert(80, 9090);
    c.set_service(&web);
    c.reconcile().await;
    let after = tcp_answers(&c.pod("client").netns, sa("10.96.0.20", 80), 200);
    assert_eq!(after.get("e2"), Some(&200), "{after:?}");
    // The established connection to e2 (target port 8080, changed since) carries on.
    assert!(
        weft_testnet::exchange(&mut kept, &mut server_side, b"after"),
        "the established connection broke"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_reaches_its_own_service_and_sometimes_itself() {
    let mut c = Cluster::new("svc-hairpin", 2, &[("e1", 0, 31), ("e2", 1, 32)]).await;
    let web = service(
        "web",
        "10.96.0.30",
        "fd96::30",
        &[("TCP", 80), ("UDP", 53)],
        vec![
            endpoint(&c, "e1", &[(80, 8080), (53, 5353)]),
            endpoint(&c, "e2", &[(80, 8080), (53, 5353)]),
        ],
    );
    c.set_service(&web);
    c.reconcile().await;
    let _s1 = serve(&c.pod("e1").netns, "e1", &[8080], &[5353]);
    let _s2 = serve(&c.pod("e2").netns, "e2", &[8080], &[5353]);
    let e1 = c.pod("e1").netns.clone();
    assert_spread(
        &tcp_answers(&e1, sa("10.96.0.30", 80), 200),
        &["e1", "e2"],
        200,
        "hairpin IPv4",
    );
    assert_spread(
        &tcp_answers(&e1, sa("fd96::30", 80), 200),
        &["e1", "e2"],
        200,
        "hairpin IPv6",
    );
    assert_spread(
        &udp_answers(&e1, sa("10.96.0.30", 53), 100),
        &["e1", "e2"],
        100,
        "hairpin UDP",
    );
}

/// Connect and send from `from`; the error and how long it took.
fn refused_within(from: &str, to: SocketAddr, udp: bool) -> (String, Duration) {
    let ns = NetNs::open(&Namespaces::path(from)).unwrap();
    ns.run(move || {
        let start = Instant::now();
        let outcome = if udp {
            let local: SocketAddr = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().unwrap();
            let s = UdpSocket::bind(local).unwrap();
            s.connect(to).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            let _ = s.send(b"x");
            let mut buf = [0u8; 8];
            match s.recv(&mut buf) {
                Ok(_) => "answered".to_string(),
                Err(e) => format!("{:?}", e.kind()),
            }
        } else {
            match TcpStream::connect_timeout(&to, Duration::from_secs(1)) {
                Ok(_) => "connected".to_string(),
                Err(e) => format!("{:?}", e.kind()),
            }
        };
        (outcome, start.elapsed())
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_endpoints_refuses_at_once() {
    let mut c = Cluster::new("svc-refuse", 2, &[("e1", 1, 41), ("client", 0, 42)]).await;
    c.set_service(&service(
        "empty",
        "10.96.0.40",
        "fd96::40",
        &[("TCP", 80), ("UDP", 53)],
        vec![],
    ));
    // Local traffic policy, and the only endpoint on another node: refused here too.
    let mut local = service(
        "local",
        "10.96.0.41",
        "fd96::41",
        &[("TCP", 80)],
        vec![endpoint(&c, "e1", &[(80, 8080)])],
    );
    local.internal_local = true;
    c.set_service(&local);
    c.reconcile().await;
    let client = c.pod("client").netns.clone();
    for (to, udp) in [
        (sa("10.96.0.40", 80), false),
        (sa("fd96::40", 80), false),
        (sa("10.96.0.40", 53), true),
        (sa("fd96::40", 53), true),
        (sa("10.96.0.41", 80), false),
        (sa("fd96::41", 80), false),
    ] {
        // TCP resets are not rate limited; ICMP errors (UDP) are, per client, by the kernel
        // (net.ipv4.icmp_ratelimit: a burst of 6, then one a second), so fewer of those.
        for _ in 0..if udp { 3 } else { 20 } {
            let (outcome, took) = refused_within(&client, to, udp);
            assert_eq!(outcome, "ConnectionRefused", "{to} (udp: {udp})");
            assert!(took < Duration::from_millis(100), "{to}: refused after {took:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_routed_to_a_virtual_ip_reaches_the_hosting_nodes() {
    let mut c = Cluster::new("svc-vip", 3, &[("e1", 0, 51), ("e2", 1, 52)]).await;
    let web = service(
        "web",
        "10.96.0.50",
        "fd96::50",
        &[("TCP", 80)],
        vec![endpoint(&c, "e1", &[(80, 8080)]), endpoint(&c, "e2", &[(80, 8080)])],
    );
    c.set_service(&web);
    // Something outside the cluster behind node 3 (another cluster, a router): its traffic enters
    // the network's table on node 3 without being translated there.
    let outside = c.ns.add("outside");
    let n3 = c.ns_name(2);
    run_ip(&[
        "-n", &n3, "link", "add", "gw0", "type", "veth", "peer", "name", "eth0", "netns", &outside,
    ]);
    run_ip(&["-n", &n3, "link", "set", "gw0", "up"]);
    run_ip(&["-n", &outside, "link", "set", "eth0", "up"]);
    let (gw_mac, outside_mac) = (mac_of(&n3, "gw0"), mac_of(&outside, "eth0"));
    let table = marks::table(1).to_string();
    for command in [
        format!("-n {outside} addr add 10.200.0.1/32 dev eth0"),
        format!("-n {outside} addr add fd00:200::1/128 dev eth0 nodad"),
        format!("-n {outside} route add 169.254.1.1 dev eth0"),
        format!("-n {outside} route add default via 169.254.1.1"),
        format!("-n {outside} neigh add 169.254.1.1 lladdr {gw_mac} dev eth0 nud permanent"),
        format!("-n {outside} -6 route add default via fe80::1 dev eth0"),
        format!("-n {outside} -6 neigh add fe80::1 lladdr {gw_mac} dev eth0 nud permanent"),
        format!("-n {n3} neigh add 10.200.0.1 lladdr {outside_mac} dev gw0 nud permanent"),
        format!("-n {n3} -6 neigh add fd00:200::1 lladdr {outside_mac} dev gw0 nud permanent"),
        format!("-n {n3} route add 10.200.0.1/32 dev gw0 table {table}"),
        format!("-n {n3} -6 route add fd00:200::1/128 dev gw0 table {table}"),
        format!("-n {n3} rule add iif gw0 lookup {table} pref 9000"),
        format!("-n {n3} -6 rule add iif gw0 lookup {table} pref 9000"),
        format!("netns exec {n3} sysctl -qw net.ipv4.conf.gw0.rp_filter=0"),
    ] {
        run_ip(&command.split(' ').collect::<Vec<_>>());
    }
    // The way back from the hosting nodes: a route to it via node 3, as for a pod there.
    for i in 0..2 {
        for prefix in ["10.200.0.1/32", "fd00:200::1/128"] {
            let r = RemoteRoute {
                network: "default".into(),
                vni: 1,
                prefix: prefix.into(),
                node: "n3".into(),
                vtep: c.vteps[2],
                router_mac: format_mac(&c.macs[2]),
            };
            c.states[i].routes.insert(r.key(), r);
        }
    }
    c.reconcile().await;
    let _s1 = serve(&c.pod("e1").netns, "e1", &[8080], &[]);
    let _s2 = serve(&c.pod("e2").netns, "e2", &[8080], &[]);
    // ECMP with L4 hashing: connections from one client spread over both hosting nodes.
    let answers = tcp_answers(&outside, sa("10.96.0.50", 80), 200);
    assert_spread(&answers, &["e1", "e2"], 200, "routed to the virtual IP");
    let answers = tcp_answers(&outside, sa("fd96::50", 80), 200);
    assert_spread(&answers, &["e1", "e2"], 200, "routed to the IPv6 virtual IP");
    // One hosting node left: the route has one next hop, and everything reaches it.
    let mut one = web.clone();
    one.endpoints.retain(|e| e.pod == "default/e2");
    c.set_service(&one);
    c.reconcile().await;
    let answers = tcp_answers(&outside, sa("10.96.0.50", 80), 50);
    assert_eq!(answers.get("e2"), Some(&50), "{answers:?}");
    let answers = tcp_answers(&outside, sa("fd96::50", 80), 50);
    assert_eq!(answers.get("e2"), Some(&50), "{answers:?}");
}

fn mac_of(netns: &str, dev: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["-n", netns, "-o", "link", "show", dev])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC for {dev} in {netns}: {text}"))
        .to_string()
}

impl Cluster {
    fn ns_name(&self, node: usize) -> String {
        // Namespaces are named <prefix>-<role>; node namespaces have the role n<i>.
        let pod = &self.pods[0].netns;
        let prefix = pod.rsplit_once('-').map(|(p, _)| p).unwrap_or(pod);
        format!("{prefix}-n{}", node + 1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_flow_to_a_removed_endpoint_moves_to_a_live_one() {
    let mut c = Cluster::new("svc-udpflow", 2, &[("e1", 0, 61), ("e2", 1, 62), ("client", 0, 63)]).await;
    let mut dns = service(
        "dns",
        "10.96.0.60",
        "fd96::60",
        &[("UDP", 53)],
        vec![endpoint(&c, "e1", &[(53, 5353)]), endpoint(&c, "e2", &[(53, 5353)])],
    );
    c.set_service(&dns);
    c.reconcile().await;
    // The endpoints keep serving: only their removal from the Service can move the flow.
    let _s1 = serve(&c.pod("e1").netns, "e1", &[], &[5353]);
    let _s2 = serve(&c.pod("e2").netns, "e2", &[], &[5353]);
    let client = NetNs::open(&Namespaces::path(&c.pod("client").netns)).unwrap();
    let socket = client.run(|| UdpSocket::bind("0.0.0.0:0")).unwrap().unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    socket.connect(sa("10.96.0.60", 53)).unwrap();
    let ask = |s: &UdpSocket| -> String {
        let _ = s.send(b"who");
        let mut buf = [0u8; 16];
        s.recv(&mut buf)
            .map(|n| String::from_utf8_lossy(&buf[..n]).to_string())
            .unwrap_or_default()
    };
    let first = ask(&socket);
    assert!(first == "e1" || first == "e2", "{first:?}");
    // One flow, one endpoint.
    for _ in 0..5 {
        assert_eq!(ask(&socket), first);
    }
    let before = c.states[0].clone();
    dns.endpoints.retain(|e| e.pod != format!("default/{first}"));
    c.set_service(&dns);
    c.reconcile().await;
    let departed = services::conntrack::departed(&before, &c.states[0]);
    let forgotten = services::conntrack::forget(&c.kernels[0], &departed).unwrap();
    assert_eq!(forgotten, 1, "the flow's conntrack entry");
    let other = if first == "e1" { "e2" } else { "e1" };
    for _ in 0..5 {
        assert_eq!(ask(&socket), other, "the flow did not move");
    }
}

/// A server that answers every octet it reads with the pod's name, on one connection after
/// another, until stopped (a long-lived connection, where [`serve`] closes after one answer).
fn serve_chatty(netns: &str, name: &str, port: u16) -> Servers {
    let stop = Arc::new(AtomicBool::new(false));
    let ns = NetNs::open(&Namespaces::path(netns)).unwrap();
    let listener = ns.run(move || TcpListener::bind(("::", port))).unwrap().unwrap();
    let (flag, name) = (stop.clone(), name.to_string());
    let thread = std::thread::spawn(move || {
        for s in listener.incoming() {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            let Ok(mut s) = s else { continue };
            let name = name.clone();
            std::thread::spawn(move || {
                let mut byte = [0u8; 1];
                while matches!(s.read(&mut byte), Ok(1)) {
                    if s.write_all(name.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Servers {
        stop,
        threads: vec![thread],
        netns: netns.to_string(),
        tcp: vec![port],
    }
}

/// One exchange on an open connection: an octet out, the answer back.
fn ask(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    if let Err(e) = s.write_all(b"?") {
        return format!("write: {e}");
    }
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => "closed".into(),
        Ok(n) => String::from_utf8_lossy(&buf[..n]).to_string(),
        Err(e) => format!("read: {e}"),
    }
}

/// The agent programs a node's routes before its nftables table. A connection opened in
/// between goes to the virtual IP untranslated, along the Service's route to a hosting node,
/// which translates it on arrival. When the table comes a moment later, that connection must go
/// on: only new connections that nothing translated are refused (seen in the lab as a
/// connection to a just-created Service that stalled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_opened_before_the_table_outlives_it() {
    let mut c = Cluster::new("svc-early", 2, &[("e1", 1, 11), ("client", 0, 13)]).await;
    c.reconcile().await;
    let _server = serve_chatty(&c.pod("e1").netns, "e1", 8080);
    let web = service(
        "web",
        "10.96.0.60",
        "fd96::60",
        &[("TCP", 80)],
        vec![endpoint(&c, "e1", &[(80, 8080)])],
    );
    c.set_service(&web);
    // The hosting node is done; the client's node has the routes, not yet the table.
    c.reconcile_routes(1).await;
    c.reconcile_nft(1);
    c.reconcile_routes(0).await;
    let ns = NetNs::open(&Namespaces::path(&c.pod("client").netns)).unwrap();
    let mut early: Vec<TcpStream> = ns
        .run(|| {
            ["10.96.0.60", "fd96::60"]
                .iter()
                .map(|vip| TcpStream::connect_timeout(&sa(vip, 80), Duration::from_secs(2)).unwrap())
                .collect()
        })
        .unwrap();
    for s in &mut early {
        assert_eq!(ask(s), "e1", "through the hosting node's translation");
    }
    c.reconcile_nft(0);
    for s in &mut early {
        assert_eq!(
            ask(s),
            "e1",
            "the same connection, after the client's node got its table"
        );
    }
    // New connections are translated on the client's node now, and answered.
    let fresh = ns
        .run(|| {
            let mut s = TcpStream::connect_timeout(&sa("10.96.0.60", 80), Duration::from_secs(2)).unwrap();
            ask(&mut s)
        })
        .unwrap();
    assert_eq!(fresh, "e1");
    // A port the Service does not have is still refused at once.
    let other = tcp_answers(&c.pod("client").netns, sa("10.96.0.60", 81), 1);
    assert!(other.keys().all(|k| k.contains("refused")), "{other:?}");
}
