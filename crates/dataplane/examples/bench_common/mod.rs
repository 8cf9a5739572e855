//! What the dataplane benchmarks (`bench_services`, `bench_netpol`) share: command-line
//! options, percentiles, the connection-rate and iperf3 probes, and the test bed: two nodes on a
//! bridge with VXLAN between them, a client pod on the first and a server pod on the second, the
//! routes between them programmed.

#![allow(dead_code)]

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weft_api::sync::{LocalEndpoint, NetworkState, NodeState, RemoteRoute};
use weft_dataplane::netns::NetNs;
use weft_dataplane::pod::{self, PodSpec, format_mac};
use weft_dataplane::{Kernel, marks};
use weft_testnet::{Namespaces, ip as run_ip};

pub const CLIENT: &str = "10.244.0.1";
pub const SERVER: &str = "10.244.0.2";

/// The benchmarks' TCP server on `SERVER`:8080 in the server pod: accepts, sends one byte,
/// closes.
pub struct OneByteServer {
    stop: Arc<AtomicBool>,
    accepting: std::thread::JoinHandle<()>,
}

impl OneByteServer {
    pub fn start(server: &NetNs) -> OneByteServer {
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
        OneByteServer { stop, accepting }
    }

    /// Stops it: one last connection from `client` wakes the accepting thread.
    pub fn stop(self, client: &NetNs) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = client.run(|| {
            TcpStream::connect_timeout(&SocketAddr::new(SERVER.parse().unwrap(), 8080), Duration::from_secs(1))
        });
        let _ = self.accepting.join();
    }
}

pub fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Closes with a reset (SO_LINGER 0): no TIME_WAIT on either side, so that tens of thousands of
/// connections in a row measure the path, not port reuse against TIME_WAIT sockets.
pub fn reset_on_close(s: &TcpStream) {
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
pub fn connections(client: &NetNs, to: SocketAddr, seconds: f64) -> (f64, Vec<f64>, usize) {
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

pub fn iperf(client: &str, to: &str, seconds: &str) -> f64 {
    let out = Command::new("ip")
        .args(["netns", "exec", client, "iperf3", "-c", to, "-t", seconds, "-J"])
        .output()
        .expect("running iperf3");
    let text = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    doc["end"]["sum_received"]["bits_per_second"].as_f64().unwrap_or(0.0)
}

/// Two nodes on a bridge, VXLAN between them (with the Services sysctls when `services`), a
/// client pod on node 1 and a server pod on node 2 with routes to each other in their states:
/// (kernels, states, pod namespaces, VTEPs, router MACs). Nothing is programmed yet.
pub async fn two_nodes(
    ns: &mut Namespaces,
    services: bool,
) -> (Vec<Kernel>, Vec<NodeState>, Vec<String>, [Ipv4Addr; 2], Vec<String>) {
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
        if services {
            kernel.enable_services().unwrap();
        }
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
    (kernels, states, pod_ns, vteps, macs)
}
