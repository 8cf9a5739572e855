//! The NetworkPolicy benchmark's dataplane half (run by scripts/bench-netpol, see
//! docs/benchmarks.md): two nodes in network namespaces, a client pod on node 1, a server pod on
//! node 2, and the table that 0, 100 or 10,000 policies selecting other pods of these nodes
//! leave (up to 110 isolated pods per node, each with its chains and sets, and one peer per
//! policy in their sets; see [`with_isolated`]). For each size: the time to install the table, to add one peer to a
//! pod's set (the agent's incremental transaction: a pod joining a selected namespace), to read
//! the table back (drift check); new TCP connections from the client to the server (rate and
//! connect() time) and iperf3 throughput, sizes interleaved round by round. A last row isolates
//! the server itself (its ingress allows the client on the port) on top of the largest size.
//!
//! `bench_netpol [--sizes 0,100,10000] [--seconds 2] [--iperf-seconds 3] [--runs 3]`; prints one
//! JSON document on stdout. Root; everything lives in namespaces it creates and removes.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weft_api::sync::{
    EndpointPolicy, LocalEndpoint, NetworkState, NodeState, PolicyPort, PolicySets, RemoteRoute, ServicePort,
    ServiceState,
};
use weft_dataplane::netns::NetNs;
use weft_dataplane::plan::{self, node_plan};
use weft_dataplane::pod::{self, PodSpec, format_mac};
use weft_dataplane::services::{self, Nft, Ruleset};
use weft_dataplane::{Kernel, marks, policy};
use weft_testnet::{Namespaces, ip as run_ip};

const CLIENT: &str = "10.244.0.1";
const SERVER: &str = "10.244.0.2";

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Closes with a reset (SO_LINGER 0): no TIME_WAIT on either side, so that tens of thousands of
/// connections in a row measure the path, not port reuse against TIME_WAIT sockets.
fn reset_on_close(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket, a valid option of its size.
    unsafe {
        nix::libc::setsockopt(
            s.as_raw_fd(),
            nix::libc::SOL_SOCKET,
            nix::libc::SO_LINGER,
            (&linger as *const nix::libc::linger).cast(),
            std::mem::size_of::<nix::libc::linger>() as nix::libc::socklen_t,
        );
    }
}

/// New connections for `seconds`: each connect() timed, then the server's byte read, then a
/// reset (see [`reset_on_close`]).
fn connections(client: &NetNs, to: SocketAddr, seconds: f64) -> (f64, Vec<f64>, usize) {
    client
        .run(move || {
            let mut times = Vec::new();
            let mut failures = 0;
            let start = Instant::now();
            while start.elapsed().as_secs_f64() < seconds {
                let t = Instant::now();
                match TcpStream::connect_timeout(&to, Duration::from_secs(1)) {
                    Ok(mut s) => {
                        times.push(ms(t.elapsed()));
                        let mut buf = [0u8; 1];
                        s.set_read_timeout(Some(Duration::from_secs(1))).ok();
                        let _ = s.read(&mut buf);
                        reset_on_close(&s);
                    }
                    Err(_) => failures += 1,
                }
            }
            let rate = times.len() as f64 / start.elapsed().as_secs_f64();
            times.sort_by(|a, b| a.total_cmp(b));
            (rate, times, failures)
        })
        .unwrap()
}

fn iperf(client: &str, to: &str, seconds: &str) -> f64 {
    let out = Command::new("ip")
        .args(["netns", "exec", client, "iperf3", "-c", to, "-t", seconds, "-J"])
        .output()
        .expect("running iperf3");
    let text = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    doc["end"]["sum_received"]["bits_per_second"].as_f64().unwrap_or(0.0)
}

/// Pods a node runs at most (kubelet's default `--max-pods`).
const MAX_PODS: usize = 110;

/// `state` with `policies` NetworkPolicies selecting other pods of the node: they isolate
/// min(policies, 110) local pods both ways (interfaces no benchmark packet uses), and each
/// policy allows one more peer address on TCP 80 to the pod it selects, so the sets hold as many
/// peers as there are policies. Policies selecting pods of other nodes put nothing here.
fn with_isolated(state: &NodeState, policies: usize, server_isolated: bool) -> NodeState {
    let mut s = state.clone();
    let pods = policies.min(MAX_PODS);
    for i in 0..pods {
        let e = LocalEndpoint {
            namespace: "others".into(),
            pod: format!("p{i}"),
            container_id: format!("c{i}"),
            interface: "eth0".into(),
            host_interface: Some(format!("wftf{i:010x}")),
            mac: None,
            network: "default".into(),
            addresses: vec![Ipv4Addr::new(10, 250, 0, i as u8 + 1).into()],
        };
        s.policies.insert(
            e.key(),
            EndpointPolicy {
                pod: e.key(),
                ingress: Some(PolicySets::default()),
                egress: Some(PolicySets::default()),
            },
        );
        s.endpoints.insert(e.key(), e);
    }
    for i in 0..policies {
        let key = format!("others/p{}", i % pods.max(1));
        let Some(p) = s.policies.get_mut(&key) else {
            continue;
        };
        let peer = PolicyPort {
            peer: format!("10.251.{}.{}/32", i / 250, i % 250 + 1),
            protocol: "TCP".into(),
            first: 80,
            last: 80,
        };
        for sets in [p.ingress.as_mut(), p.egress.as_mut()].into_iter().flatten() {
            sets.ports.push(peer.clone());
        }
    }
    if server_isolated && let Some(server) = s.endpoints.values().find(|e| e.pod == "server").cloned() {
        s.policies.insert(
            server.key(),
            EndpointPolicy {
                pod: server.key(),
                ingress: Some(PolicySets {
                    any: vec![],
                    ports: ["8080", "5201"]
                        .iter()
                        .map(|p| PolicyPort {
                            peer: format!("{CLIENT}/32"),
                            protocol: "TCP".into(),
                            first: p.parse().unwrap_or(0),
                            last: p.parse().unwrap_or(0),
                        })
                        .collect(),
                }),
                egress: None,
            },
        );
    }
    s
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = arg("--sizes", "0,100,10000")
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let seconds: f64 = arg("--seconds", "2").parse().unwrap_or(2.0);
    let iperf_seconds = arg("--iperf-seconds", "3");
    let runs: usize = arg("--runs", "3").parse().unwrap_or(3);

    let mut ns = Namespaces::new("bench-np");
    let bridge = ns.add("br");
    run_ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"]);
    run_ip(&["-n", &bridge, "link", "set", "br0", "up"]);
    let mut kernels = Vec::new();
    let mut macs = Vec::new();
    let vteps = [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)];
    for (i, vtep) in vteps.iter().enumerate() {
        let node = ns.add(&format!("n{}", i + 1));
        let port = format!("p{i}");
        run_ip(&[
            "-n", &node, "link", "add", "u0", "type", "veth", "peer", "name", &port, "netns", &bridge,
        ]);
        run_ip(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"]);
        run_ip(&["-n", &node, "addr", "add", &format!("{vtep}/24"), "dev", "u0"]);
        run_ip(&["-n", &node, "link", "set", "u0", "up"]);
        let kernel = Kernel::in_netns(NetNs::open(&Namespaces::path(&node)).unwrap()).unwrap();
        kernel.enable_forwarding().unwrap();
        macs.push(format_mac(&kernel.ensure_vxlan(1450).await.unwrap().mac));
        kernels.push(kernel);
    }
    let mut states: Vec<NodeState> = (0..2)
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
    let mut pod_ns = Vec::new();
    for (i, (name, address)) in [("client", CLIENT), ("server", SERVER)].iter().enumerate() {
        let netns = ns.add(name);
        let id = format!("bench-{name}");
        let spec = PodSpec {
            container_id: id.clone(),
            ifname: "eth0".into(),
            netns: Namespaces::path(&netns),
            addresses: vec![address.parse().unwrap()],
            mtu: 1450,
            mac: Some(marks::pod_mac(&id, "eth0")),
        };
        let made = pod::attach(&kernels[i], &spec).await.unwrap();
        let local = LocalEndpoint {
            namespace: "bench".into(),
            pod: name.to_string(),
            container_id: id,
            interface: "eth0".into(),
            host_interface: Some(made.host_interface),
            mac: Some(format_mac(&made.container_mac)),
            network: "default".into(),
            addresses: spec.addresses.clone(),
        };
        states[i].endpoints.insert(local.key(), local);
        let r = RemoteRoute {
            network: "default".into(),
            vni: 1,
            prefix: format!("{address}/32"),
            node: format!("n{}", i + 1),
            vtep: vteps[i],
            router_mac: macs[i].clone(),
        };
        states[1 - i].routes.insert(r.key(), r);
        pod_ns.push(netns);
    }
    for (state, kernel) in states.iter().zip(&kernels) {
        let observed = kernel.observe().await.unwrap();
        let failures = kernel.apply(&plan::diff(&node_plan(state), &observed)).await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
    }
    let client = NetNs::open(&Namespaces::path(&pod_ns[0])).unwrap();
    let server = NetNs::open(&Namespaces::path(&pod_ns[1])).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let listener = server.run(|| TcpListener::bind(("0.0.0.0", 8080))).unwrap().unwrap();
    let stopping = stop.clone();
    let accepting = std::thread::spawn(move || {
        for s in listener.incoming() {
            if stopping.load(Ordering::SeqCst) {
                return;
            }
            if let Ok(mut s) = s {
                use std::io::Write;
                let _ = s.write_all(b"x");
            }
        }
    });
    let mut iperf_server = Command::new("ip")
        .args(["netns", "exec", &pod_ns[1], "iperf3", "-s"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting iperf3 -s");
    std::thread::sleep(Duration::from_millis(500));

    // Every cluster has Services (the API server's own), so the nodes have the table and
    // conntrack whatever the policies: one Service without endpoints here stands for them.
    for state in &mut states {
        let svc = ServiceState {
            namespace: "default".into(),
            name: "kubernetes".into(),
            network: "default".into(),
            cluster_ips: vec!["10.96.0.1".parse().unwrap()],
            ports: vec![ServicePort {
                name: "https".into(),
                protocol: "TCP".into(),
                port: 443,
            }],
            ..Default::default()
        };
        state.services.insert(svc.key(), svc);
    }
    // The cases: each size with other pods isolated, and the largest with the server isolated.
    let mut cases: Vec<(usize, bool)> = sizes.iter().map(|&s| (s, false)).collect();
    if let Some(&largest) = sizes.iter().max() {
        cases.push((largest, true));
    }
    let nfts = [Nft::new(kernels[0].clone()), Nft::new(kernels[1].clone())];
    let mut tables: Vec<[Option<Ruleset>; 2]> = cases
        .iter()
        .map(|&(size, isolated)| {
            [
                policy::table(&with_isolated(&states[0], size, isolated)),
                policy::table(&with_isolated(&states[1], size, isolated)),
            ]
        })
        .collect();
    // For reference: no table at all (no conntrack either), as in a cluster without Services.
    cases.insert(0, (usize::MAX, false));
    tables.insert(0, [None, None]);
    let install = |i: usize| -> Duration {
        let t = Instant::now();
        for (nft, table) in nfts.iter().zip(&tables[i]) {
            let _ = nft.apply(&format!(
                "add table inet {0}\ndelete table inet {0}\n",
                marks::NFT_TABLE
            ));
            nft.sync(table.as_ref(), Some(&None), true).unwrap();
        }
        t.elapsed() / 2
    };
    let mut results: Vec<serde_json::Value> = Vec::new();
    let mut rates: Vec<(Vec<f64>, Vec<f64>, usize)> = cases.iter().map(|_| (Vec::new(), Vec::new(), 0)).collect();
    let mut gbps: Vec<Vec<f64>> = cases.iter().map(|_| Vec::new()).collect();
    // The table's own costs, once per case, on node 2 (the server's).
    for (i, &(size, isolated)) in cases.iter().enumerate() {
        if size == usize::MAX {
            results.push(serde_json::json!({"policies": "no table", "isolated_pods": 0, "server_isolated": false}));
            continue;
        }
        let installed = install(i);
        let desired = tables[i][1].clone();
        let t = Instant::now();
        let read = nfts[1].observe().unwrap();
        let observe = t.elapsed();
        assert_eq!(
            services::script(desired.as_ref(), read.as_ref(), true),
            None,
            "table did not converge"
        );
        // A pod joins a namespace that a policy allows: one more peer in one pod's set.
        let mut joined = with_isolated(&states[1], size, isolated);
        if let Some(p) = joined.policies.values_mut().next()
            && let Some(ingress) = p.ingress.as_mut()
        {
            ingress.any.push("10.252.0.7/32".into());
        }
        let after = policy::table(&joined);
        let script = services::script(after.as_ref(), desired.as_ref(), true).unwrap_or_default();
        let t = Instant::now();
        nfts[1].sync(after.as_ref(), Some(&desired), true).unwrap();
        let update = t.elapsed();
        let chains = desired.as_ref().map_or(0, |r| r.chains.len());
        let sets = desired.as_ref().map_or(0, |r| r.sets.len());
        let elements = desired.as_ref().map_or(0, Ruleset::elements);
        results.push(serde_json::json!({
            "policies": size, "isolated_pods": size.min(MAX_PODS), "server_isolated": isolated, "chains": chains, "sets": sets,
            "elements": elements, "install_ms": ms(installed), "observe_ms": ms(observe),
            "peer_added_ms": ms(update), "peer_added_commands": script.lines().count(),
        }));
        eprintln!(
            "    {size} policies{}: table {chains} chains, {sets} sets, installed in {:.0} ms",
            if isolated { " + the server" } else { "" },
            ms(installed)
        );
    }
    // Traffic, rounds over the cases so that drift in the machine's load touches all alike.
    for round in 0..runs {
        for (i, _) in cases.iter().enumerate() {
            install(i);
            let (rate, times, failed) = connections(&client, SocketAddr::new(SERVER.parse().unwrap(), 8080), seconds);
            rates[i].0.push(rate);
            rates[i].1.extend(times);
            rates[i].2 += failed;
            gbps[i].push(iperf(&pod_ns[0], SERVER, &iperf_seconds) / 1e9);
        }
        eprintln!("    round {} of {runs}: done", round + 1);
    }
    stop.store(true, Ordering::SeqCst);
    let _ = client
        .run(|| TcpStream::connect_timeout(&SocketAddr::new(SERVER.parse().unwrap(), 8080), Duration::from_secs(1)));
    let _ = accepting.join();
    let _ = iperf_server.kill();
    let _ = iperf_server.wait();
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    for (i, r) in results.iter_mut().enumerate() {
        let (rs, mut times, failed) = rates[i].clone();
        times.sort_by(|a, b| a.total_cmp(b));
        r["conn_per_s"] = serde_json::json!(median(&rs));
        r["conn_runs"] = serde_json::json!(rs);
        r["connect_ms_p50"] = serde_json::json!(percentile(&times, 50.0));
        r["connect_ms_p99"] = serde_json::json!(percentile(&times, 99.0));
        r["failed"] = serde_json::json!(failed);
        r["gbps"] = serde_json::json!(median(&gbps[i]));
        r["gbps_runs"] = serde_json::json!(gbps[i]);
    }
    let doc = serde_json::json!({
        "cases": results,
        "method": {
            "policies": "N policies selecting other pods of the node: min(N, 110) local pods (kubelet's max pods) isolated both ways, with their own chains and 8 sets each, on interfaces no benchmark packet uses; each policy adds one peer /32 on TCP 80 to its pod's ingress and egress sets",
            "connections": format!("sequential connect(), read of one byte, close with a reset (no TIME_WAIT), {seconds}s per case and round, median of {runs} rounds; client on node 1, server on node 2 (across VXLAN): egress checked on node 1, ingress on node 2"),
            "iperf3": format!("iperf3 -c ADDR -t {iperf_seconds} -J, one TCP stream, median of {runs} rounds"),
            "install": "nft -f of the whole table from none, mean of the two nodes",
            "peer_added": "one peer added to one pod's set: the agent's incremental script from the table it remembers (one transaction)",
            "observe": "nft -j list table inet weft, parsed (the drift check)",
        },
    });
    println!("{doc}");
    drop(kernels);
    drop(ns);
}
