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

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weft_api::sync::{
    LocalEndpoint, NetworkState, NodeState, RemoteRoute, ServiceEndpoint, ServicePort, ServiceState, VipNextHop,
};
use weft_dataplane::netns::NetNs;
use weft_dataplane::plan::{self, node_plan};
use weft_dataplane::pod::{self, PodSpec, format_mac};
use weft_dataplane::services::{self, Nft, Ruleset};
use weft_dataplane::{Kernel, marks};
use weft_testnet::{Namespaces, ip as run_ip};

const VIP: &str = "10.96.0.10";
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
        kernel.enable_services().unwrap();
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
    // The server: accepts, sends one byte, closes.
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
    stop.store(true, Ordering::SeqCst);
    let _ = client
        .run(|| TcpStream::connect_timeout(&SocketAddr::new(SERVER.parse().unwrap(), 8080), Duration::from_secs(1)));
    let _ = accepting.join();
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
