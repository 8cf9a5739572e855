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

#[path = "bench_common/mod.rs"]
mod bench_common;

use bench_common::{CLIENT, OneByteServer, SERVER, arg, connections, iperf, ms, percentile};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use weft_api::sync::{EndpointPolicy, LocalEndpoint, NodeState, PolicyPort, PolicySets, ServicePort, ServiceState};
use weft_dataplane::netns::NetNs;
use weft_dataplane::plan::{self, node_plan};
use weft_dataplane::services::{self, Nft, Ruleset};
use weft_dataplane::{marks, policy};
use weft_testnet::Namespaces;

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
    let (kernels, mut states, pod_ns, _vteps, _macs) = bench_common::two_nodes(&mut ns, false).await;
    for (state, kernel) in states.iter().zip(&kernels) {
        let observed = kernel.observe().await.unwrap();
        let failures = kernel.apply(&plan::diff(&node_plan(state), &observed)).await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
    }
    let client = NetNs::open(&Namespaces::path(&pod_ns[0])).unwrap();
    let server = NetNs::open(&Namespaces::path(&pod_ns[1])).unwrap();
    let one_byte = OneByteServer::start(&server);
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
    // For reference: no table at all (no conntrack either); the agent always has one on a node
    // with a network.
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
    one_byte.stop(&client);
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
