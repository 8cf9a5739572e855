//! The Services benchmark (run by scripts/bench-services, see docs/benchmarks.md): two nodes in
//! network namespaces, a client pod on node 1, a server pod on node 2, a Service in front of the
//! server, and 10, 1,000 or 10,000 other Services installed. For each size: the time to install
//! the table, to change one Service's endpoints (incremental, and a whole rebuild for
//! comparison), to read the table back (drift check), then new TCP connections through the
//! Service and straight to the pod's address in the same run (rate, and the connect() time: the
//! first packet's round trip). Then iperf3 through the Service and straight to the pod.
//!
//! `bench_services [--sizes 10,1000,10000] [--seconds 3] [--iperf-seconds 5] [--runs 3]`; prints
//! one JSON document on stdout. Root; everything lives in namespaces it creates and removes.

#[path = "bench_common/mod.rs"]
mod bench_common;

use bench_common::{OneByteServer, SERVER, arg, connections, iperf, ms, percentile};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use weft_api::sync::{ServiceEndpoint, ServicePort, ServiceState, VipNextHop};
use weft_dataplane::marks;
use weft_dataplane::netns::NetNs;
use weft_dataplane::plan::{self, node_plan};
use weft_dataplane::services::{self, Nft, Ruleset};
use weft_testnet::Namespaces;

const VIP: &str = "10.96.0.10";

fn service(
    name: &str,
    vip: IpAddr,
    port: u16,
    endpoints: Vec<ServiceEndpoint>,
    vtep: Ipv4Addr,
    mac: &str,
) -> ServiceState {
    ServiceState {
        namespace: "bench".into(),
        name: name.into(),
        network: "default".into(),
        cluster_ips: vec![vip],
        ports: vec![ServicePort {
            name: "p".into(),
            protocol: "TCP".into(),
            port,
        }],
        endpoints,
        vip_nodes: vec![VipNextHop {
            node: "n2".into(),
            vtep,
            router_mac: mac.into(),
        }],
        ..Default::default()
    }
}

fn endpoint(address: &str, port: u16, target: u16) -> ServiceEndpoint {
    ServiceEndpoint {
        pod: format!("bench/{address}"),
        node: "n2".into(),
        addresses: vec![address.parse().unwrap()],
        target_ports: [(port, target)].into_iter().collect(),
    }
}

/// `count` Services besides the measured ones, two endpoints each (addresses nobody has).
fn fillers(count: usize, vtep: Ipv4Addr, mac: &str, generation: u8) -> Vec<ServiceState> {
    (0..count)
        .map(|i| {
            let vip = IpAddr::V4(Ipv4Addr::new(
                10,
                100 + (i / 62_500) as u8,
                ((i / 250) % 250) as u8,
                (i % 250) as u8 + 1,
            ));
            let eps = vec![
                endpoint(&format!("10.245.{}.{}", (i / 250) % 250, i % 250 + 1), 80, 8080),
                endpoint(&format!("10.246.{generation}.{}", i % 250 + 1), 80, 8080),
            ];
            service(&format!("filler-{i}"), vip, 80, eps, vtep, mac)
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = arg("--sizes", "10,1000,10000")
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let seconds: f64 = arg("--seconds", "3").parse().unwrap_or(3.0);
    let iperf_seconds = arg("--iperf-seconds", "5");
    let runs: usize = arg("--runs", "3").parse().unwrap_or(3);

    let mut ns = Namespaces::new("bench-svc");
    let (kernels, mut states, pod_ns, vteps, macs) = bench_common::two_nodes(&mut ns, true).await;
    let measured = [
        service(
            "echo",
            VIP.parse().unwrap(),
            80,
            vec![endpoint(SERVER, 80, 8080)],
            vteps[1],
            &macs[1],
        ),
        service(
            "iperf",
            "10.96.0.11".parse().unwrap(),
            5201,
            vec![endpoint(SERVER, 5201, 5201)],
            vteps[1],
            &macs[1],
        ),
    ];
    let client = NetNs::open(&Namespaces::path(&pod_ns[0])).unwrap();
    let server = NetNs::open(&Namespaces::path(&pod_ns[1])).unwrap();
    let one_byte = OneByteServer::start(&server);
    let nft = Nft::new(kernels[0].clone());
    let mut results = Vec::new();
    for &size in &sizes {
        for (state, kernel) in states.iter_mut().zip(&kernels) {
            state.services.clear();
            for s in measured.iter().cloned().chain(fillers(size, vteps[1], &macs[1], 0)) {
                let mut s = s;
                if state.node == "n2" {
                    s.vip_nodes.clear();
                }
                state.services.insert(s.key(), s);
            }
            let observed = kernel.observe().await.unwrap();
            let failures = kernel.apply(&plan::diff(&node_plan(state), &observed)).await.unwrap();
            assert!(failures.is_empty(), "{failures:?}");
        }
        Nft::new(kernels[1].clone()).reconcile(&states[1], true).unwrap();
        // Install from nothing, on node 1.
        let _ = nft.apply(&format!(
            "add table inet {0}\ndelete table inet {0}\n",
            marks::NFT_TABLE
        ));
        let desired = services::ruleset(&states[0]);
        let t = Instant::now();
        nft.sync(desired.as_ref(), Some(&None), true).unwrap();
        let install = t.elapsed();
        let t = Instant::now();
        let read = nft.observe().unwrap();
        let observe = t.elapsed();
        assert_eq!(
            services::script(desired.as_ref(), read.as_ref(), true),
            None,
            "table did not converge"
        );
        // One Service's endpoints change: the agent's path (from the table it remembers).
        let mut changed = states[0].clone();
        let first = changed
            .services
            .values_mut()
            .find(|s| s.name.starts_with("filler"))
            .unwrap();
        first.endpoints[1] = endpoint("10.247.0.1", 80, 8080);
        let after = services::ruleset(&changed);
        let script = services::script(after.as_ref(), desired.as_ref(), true).unwrap_or_default();
        let t = Instant::now();
        nft.sync(after.as_ref(), Some(&desired), true).unwrap();
        let update = t.elapsed();
        // The same change as a whole rebuild, for comparison.
        let rebuild = services::script(after.as_ref(), Some(&Ruleset::default()), true).unwrap_or_default();
        let t = Instant::now();
        nft.apply(&rebuild).unwrap();
        let rebuild_time = t.elapsed();
        let elements = desired.as_ref().map_or(0, Ruleset::elements);
        let chains = desired.as_ref().map_or(0, |r| r.chains.len());
        // Connections, interleaved: Service, pod, Service, pod.
        let mut vip = (Vec::new(), Vec::new(), 0);
        let mut direct = (Vec::new(), Vec::new(), 0);
        for round in 0..4 {
            // Alternate which goes first, so that neither always follows the other.
            let order = if round % 2 == 0 { [VIP, SERVER] } else { [SERVER, VIP] };
            for target in order {
                let into = if target == VIP { &mut vip } else { &mut direct };
                let port = if target == VIP { 80 } else { 8080 };
                let (rate, times, failed) =
                    connections(&client, SocketAddr::new(target.parse().unwrap(), port), seconds / 4.0);
                into.0.push(rate);
                into.1.extend(times);
                into.2 += failed;
            }
        }
        let summary = |(rates, mut times, failed): (Vec<f64>, Vec<f64>, usize)| {
            times.sort_by(|a, b| a.total_cmp(b));
            serde_json::json!({
                "conn_per_s": rates.iter().sum::<f64>() / rates.len() as f64,
                "connect_ms_p50": percentile(&times, 50.0),
                "connect_ms_p99": percentile(&times, 99.0),
                "connections": times.len(),
                "failed": failed,
            })
        };
        results.push(serde_json::json!({
            "services": size + measured.len(),
            "chains": chains,
            "map_elements": elements,
            "install_ms": ms(install),
            "observe_ms": ms(observe),
            "endpoint_update_ms": ms(update),
            "endpoint_update_commands": script.lines().count(),
            "rebuild_ms": ms(rebuild_time),
            "rebuild_commands": rebuild.lines().count(),
            "service": summary(vip),
            "direct": summary(direct),
        }));
        eprintln!("    {} Services: done", size + measured.len());
    }
    one_byte.stop(&client);
    // Throughput: iperf3 through the Service and straight to the pod, interleaved.
    let mut iperf_server = Command::new("ip")
        .args(["netns", "exec", &pod_ns[1], "iperf3", "-s"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting iperf3 -s");
    std::thread::sleep(Duration::from_millis(500));
    let (mut through, mut straight) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        through.push(iperf(&pod_ns[0], "10.96.0.11", &iperf_seconds) / 1e9);
        straight.push(iperf(&pod_ns[0], SERVER, &iperf_seconds) / 1e9);
    }
    let _ = iperf_server.kill();
    let _ = iperf_server.wait();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (t, s) = (median(&mut through.clone()), median(&mut straight.clone()));
    let doc = serde_json::json!({
        "sizes": results,
        "throughput": {
            "service_gbps": t, "direct_gbps": s, "ratio": if s > 0.0 { t / s } else { 0.0 },
            "service_runs_gbps": through, "direct_runs_gbps": straight,
        },
        "method": {
            "connections": format!("sequential connect(), read of one byte, close with a reset (no TIME_WAIT), {seconds}s per size and target in 4 slices, Service and pod address alternating (which goes first too); client pod on node 1, server pod on node 2 (across VXLAN)"),
            "install": "nft -f of the whole table, from none",
            "endpoint_update": "one Service's endpoint replaced: the agent's incremental script, from the table it remembers (one transaction)",
            "rebuild": "the same table replaced whole in one transaction (add, delete, add table)",
            "observe": "nft -j list table inet weft, parsed (the drift check)",
            "iperf3": format!("iperf3 -c ADDR -t {iperf_seconds} -J, one TCP stream, median of {runs}"),
        },
    });
    println!("{doc}");
    drop(kernels);
    drop(ns);
}
