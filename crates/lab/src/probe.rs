//! `weft lab probe`: who reaches whom. Every pod pings every other pod's addresses (IPv4 and
//! IPv6) from inside its namespace, and where the other pod runs the lab's server, opens an HTTP
//! connection (TCP) and sends a UDP datagram to it; and to every Service's ClusterIPs with a
//! port 80, HTTP and UDP too; in parallel. The result is a matrix a person reads at a glance to
//! see the segmentation.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use serde::Serialize;

use crate::state::{LabState, PodState};

/// One probe: from a pod to an address of another pod.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub from: String,
    pub to: String,
    pub address: String,
    pub protocol: String,
    pub reached: bool,
}

fn id(p: &PodState) -> String {
    format!("{}/{}/{}", p.cluster, p.namespace, p.name)
}

/// What a probe can be sent to: a pod, or a Service by its ClusterIPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `CLUSTER/NAMESPACE/NAME` of a pod, `CLUSTER/NAMESPACE/svc/NAME` of a Service.
    pub id: String,
    pub addresses: Vec<String>,
    /// What answers on port 80: `tcp` (HTTP) and/or `udp`.
    pub protocols: Vec<String>,
    /// A Service: any of its endpoints answers, and ICMP is not translated.
    pub service: bool,
}

impl Target {
    pub fn pod(p: &PodState) -> Target {
        Target {
            id: id(p),
            addresses: p.addresses.clone(),
            protocols: if p.server_pid.is_some() {
                vec!["tcp".into(), "udp".into()]
            } else {
                Vec::new()
            },
            service: false,
        }
    }
}

fn ping(netns: &str, address: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", netns, "ping", "-c", "1", "-W", "1", "-q", address])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The port of the lab pods' server (`weft lab serve`).
pub const SERVER_PORT: u16 = 80;
const TIMEOUT: Duration = Duration::from_secs(1);

/// Runs `f` on a thread inside the pod's namespace; false if it cannot get there.
fn inside(netns: &str, f: impl FnOnce() -> bool + Send) -> bool {
    weft_netns::NetNs::open(&crate::cmd::netns_path(netns))
        .and_then(|ns| ns.run(f))
        .unwrap_or(false)
}

/// An HTTP GET that gets the named pod's page.
fn tcp(netns: &str, address: IpAddr, expect: &str) -> bool {
    inside(netns, || {
        let Ok(mut s) = TcpStream::connect_timeout(&SocketAddr::new(address, SERVER_PORT), TIMEOUT) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(TIMEOUT));
        if s.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        reply.contains(expect)
    })
}

/// A datagram that comes back from the named pod.
fn udp(netns: &str, address: IpAddr, expect: &str) -> bool {
    inside(netns, || {
        let local: SocketAddr = match address {
            IpAddr::V4(_) => "0.0.0.0:0",
            IpAddr::V6(_) => "[::]:0",
        }
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let Ok(s) = UdpSocket::bind(local) else { return false };
        let _ = s.set_read_timeout(Some(TIMEOUT));
        if s.send_to(b"probe", SocketAddr::new(address, SERVER_PORT)).is_err() {
            return false;
        }
        let mut buf = [0u8; 512];
        s.recv(&mut buf)
            .map(|n| String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).contains(expect))
            .unwrap_or(false)
    })
}

fn check(from: &PodState, to: &Target, address: &str, protocol: &str) -> bool {
    // A Service's answer comes from whichever endpoint got the connection.
    let expect = if to.service {
        "hello from ".to_string()
    } else {
        crate::serve::greeting(&to.id)
    };
    match (protocol, address.parse::<IpAddr>()) {
        ("tcp", Ok(a)) => tcp(&from.netns, a, expect.trim_end()),
        ("udp", Ok(a)) => udp(&from.netns, a, expect.trim_end()),
        _ => ping(&from.netns, address),
    }
}

/// Whether `from` gets an HTTP answer from pod `to` on its first IPv4 address (for waiting
/// until a path is programmed).
pub fn http_reaches(from: &PodState, to: &PodState) -> bool {
    to.addresses
        .iter()
        .find(|a| !a.contains(':'))
        .is_some_and(|a| check(from, &Target::pod(to), a, "tcp"))
}

/// Probes every address of every other pod, and of `services`, at most `parallel` at a time.
pub fn run(state: &LabState, services: &[Target], parallel: usize) -> Vec<Probe> {
    let targets: Vec<Target> = state
        .pods
        .iter()
        .map(Target::pod)
        .chain(services.iter().cloned())
        .collect();
    let mut work = Vec::new();
    for from in &state.pods {
        for to in targets.iter().filter(|t| t.id != id(from)) {
            for address in &to.addresses {
                if !to.service {
                    let icmp = if address.contains(':') { "icmpv6" } else { "icmp" };
                    work.push((from.clone(), to.clone(), address.clone(), icmp));
                }
                for protocol in &to.protocols {
                    let protocol = if protocol == "udp" { "udp" } else { "tcp" };
                    work.push((from.clone(), to.clone(), address.clone(), protocol));
                }
            }
        }
    }
    let mut results = Vec::new();
    for chunk in work.chunks(parallel.max(1)) {
        let done: Vec<Probe> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(from, to, address, protocol)| {
                    scope.spawn(move || Probe {
                        from: id(from),
                        to: to.id.clone(),
                        address: address.clone(),
                        protocol: protocol.to_string(),
                        reached: check(from, to, address, protocol),
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        results.extend(done);
    }
    results
}
