//! Services in the lab (issue #5), on the real kernel: a 3-node cluster, a Service with four
//! endpoints on two nodes. Connections from pods on every node reach every endpoint (TCP, UDP,
//! IPv4, IPv6); a deleted endpoint gets no new connection while established ones to the others
//! survive; a new endpoint gets traffic; hairpin; named target ports that differ per pod; a
//! Service without endpoints refuses at once; connections opened while a new Service is being
//! programmed are answered or fail to connect, never broken later. Needs root. Counts are
//! printed (`--nocapture`).

mod lab_harness;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use lab_harness::Lab;
use serde_json::Value;

const THREE_NODES: &str = include_str!("../../../examples/lab/three-nodes.yaml");
const CONNECTIONS: usize = 1000;

fn netns(name: &str) -> weft_netns::NetNs {
    weft_netns::NetNs::open(&format!("/var/run/netns/{name}")).expect("the pod's namespace")
}

/// Adds a pod serving HTTP and UDP on 80 (and its named ports); returns its namespace.
fn pod(lab: &Lab, id: &str, node: &str, labels: &str, ports: &str) -> String {
    let mut args = vec!["lab", "pod", "add", id, "--node", node, "--labels", labels];
    if !ports.is_empty() {
        args.extend(["--ports", ports]);
    }
    lab.ok(&args);
    lab.pod_netns(id)
}

fn service(lab: &Lab, yaml: &str) -> Value {
    let dir = lab.dir.path().join("svc.yaml");
    std::fs::write(&dir, yaml).expect("writing the manifest");
    lab.ok(&["apply", "-f", dir.to_str().unwrap_or_default()]);
    let name = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("name: "))
        .expect("a name")
        .to_string();
    serde_json::from_str(&lab.ok(&["get", "svc", &name, "-n", "shop", "-o", "json"])).expect("Service JSON")
}

fn cluster_ips(svc: &Value) -> Vec<IpAddr> {
    svc["spec"]["clusterIPs"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// `n` new TCP connections (an HTTP GET each) from inside `from`; answers by pod name, and the
/// number that failed.
fn tcp_spread(from: &str, vip: IpAddr, port: u16, n: usize) -> (BTreeMap<String, usize>, usize) {
    netns(from)
        .run(|| {
            let mut seen = BTreeMap::new();
            let mut failed = 0;
            for _ in 0..n {
                let answer = (|| {
                    let mut s = TcpStream::connect_timeout(&SocketAddr::new(vip, port), Duration::from_secs(2)).ok()?;
                    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
                    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
                    let mut reply = String::new();
                    s.read_to_string(&mut reply).ok()?;
                    reply
                        .lines()
                        .last()
                        .and_then(|l| l.strip_prefix("hello from "))
                        .map(str::to_string)
                })();
                match answer {
                    Some(name) => *seen.entry(name).or_insert(0) += 1,
                    None => failed += 1,
                }
            }
            (seen, failed)
        })
        .expect("inside the pod")
}

/// `n` datagrams, each from a new socket (a new flow).
fn udp_spread(from: &str, vip: IpAddr, port: u16, n: usize) -> (BTreeMap<String, usize>, usize) {
    netns(from)
        .run(|| {
            let mut seen = BTreeMap::new();
            let mut failed = 0;
            for _ in 0..n {
                let answer = (|| {
                    let local: SocketAddr = if vip.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().ok()?;
                    let s = UdpSocket::bind(local).ok()?;
                    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
                    s.send_to(b"hi", SocketAddr::new(vip, port)).ok()?;
                    let mut buf = [0u8; 256];
                    let n = s.recv(&mut buf).ok()?;
                    let text = String::from_utf8_lossy(buf.get(..n)?).to_string();
                    text.trim().strip_prefix("hello from ").map(str::to_string)
                })();
                match answer {
                    Some(name) => *seen.entry(name).or_insert(0) += 1,
                    None => failed += 1,
                }
            }
            (seen, failed)
        })
        .expect("inside the pod")
}

/// Waits until `from` gets an answer from the Service: the nodes program a new Service a moment
/// after the API accepts it, and the measurements start from then on.
fn wait_served(from: &str, vip: IpAddr) {
    let started = Instant::now();
    // Twenty in a row: every endpoint (and the hairpin path) programmed, not just the first.
    while tcp_spread(from, vip, 80, 20).1 != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{from} never reaches {vip}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_spread(what: &str, seen: &BTreeMap<String, usize>, failed: usize, expected: &[&str], n: usize) {
    eprintln!("{what}: {seen:?}, {failed} failed");
    assert_eq!(failed, 0, "{what}: {failed} of {n} failed ({seen:?})");
    for e in expected {
        let got = seen.get(*e).copied().unwrap_or(0);
        // Uniform would be n / len; "within reason": at least a third of that.
        assert!(got * expected.len() * 3 >= n, "{what}: {e} got {got} of {n}: {seen:?}");
    }
    assert_eq!(
        seen.len(),
        expected.len(),
        "{what}: answers from unexpected pods: {seen:?}"
    );
}

const API: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  ipFamilyPolicy: PreferDualStack\n  selector: {app: api}\n  ports:\n  - {name: http, port: 80, protocol: TCP}\n  - {name: echo, port: 80, protocol: UDP}\n  - {name: alt, port: 7000, targetPort: alt}\n";

#[test]
fn a_service_spreads_connections_from_every_node_over_its_endpoints() {
    let lab = Lab::up(Some(THREE_NODES));
    let endpoints = ["shop/api-1", "shop/api-2", "shop/api-3", "shop/api-4"];
    let mut ns = BTreeMap::new();
    for (i, e) in endpoints.iter().enumerate() {
        let node = if i < 2 { "node-1" } else { "node-2" };
        // Named target port "alt": a different number on each pod.
        let ports = format!("alt={}", 8081 + i);
        ns.insert(*e, pod(&lab, &format!("cloud-a/{e}"), node, "app=api", &ports));
    }
    let clients: Vec<String> = ["node-1", "node-2", "node-3"]
        .iter()
        .map(|node| pod(&lab, &format!("cloud-a/shop/client-{node}"), node, "app=client", ""))
        .collect();
    let svc = service(&lab, API);
    let vips = cluster_ips(&svc);
    assert!(
        vips.iter().any(|v| v.is_ipv4()) && vips.iter().any(|v| v.is_ipv6()),
        "{vips:?}"
    );
    for client in &clients {
        for vip in &vips {
            wait_served(client, *vip);
        }
    }
    let names: Vec<String> = endpoints.iter().map(|e| format!("cloud-a/{e}")).collect();
    let expected: Vec<&str> = names.iter().map(String::as_str).collect();
    for client in &clients {
        for vip in &vips {
            let started = Instant::now();
            let (seen, failed) = tcp_spread(client, *vip, 80, CONNECTIONS);
            assert_spread(
                &format!("TCP {client} -> {vip}:80 ({:?})", started.elapsed()),
                &seen,
                failed,
                &expected,
                CONNECTIONS,
            );
            let (seen, failed) = udp_spread(client, *vip, 80, CONNECTIONS / 4);
            assert_spread(
                &format!("UDP {client} -> {vip}:80"),
                &seen,
                failed,
                &expected,
                CONNECTIONS / 4,
            );
        }
        // The named target port: 7000 reaches 8081..8084, one number per pod.
        let v4 = vips.iter().find(|v| v.is_ipv4()).copied().expect("IPv4");
        let (seen, failed) = tcp_spread(client, v4, 7000, 200);
        assert_spread(
            &format!("TCP {client} -> {v4}:7000 (named targetPort)"),
            &seen,
            failed,
            &expected,
            200,
        );
    }
}

#[test]
fn endpoints_come_and_go_and_established_connections_stay() {
    let lab = Lab::up(Some(THREE_NODES));
    let mut ns = BTreeMap::new();
    for (i, e) in ["api-1", "api-2", "api-3"].iter().enumerate() {
        let node = ["node-1", "node-2", "node-2"][i];
        ns.insert(*e, pod(&lab, &format!("cloud-a/shop/{e}"), node, "app=api", ""));
    }
    let client = pod(&lab, "cloud-a/shop/client", "node-3", "app=client", "");
    let svc = service(&lab, API);
    let vip = cluster_ips(&svc).into_iter().find(|v| v.is_ipv4()).expect("IPv4");

    // An established connection through the Service on port 5001: listen in every endpoint,
    // connect, find which one took it.
    let listeners: Vec<(&str, TcpListener)> = ns
        .iter()
        .map(|(name, n)| {
            let l = netns(n)
                .run(|| TcpListener::bind("[::]:5001"))
                .expect("inside")
                .expect("listen on 5001");
            l.set_nonblocking(true).expect("nonblocking");
            (*name, l)
        })
        .collect();
    let svc5001 = "apiVersion: v1\nkind: Service\nmetadata:\n  name: long\n  namespace: shop\nspec:\n  selector: {app: api}\n  ports:\n  - {port: 5001}\n";
    let long_vip = cluster_ips(&service(&lab, svc5001))[0];
    // The nodes program the new Service a moment after the API accepts it: the measured
    // connection is opened once a probe connection gets through (and is dropped again).
    let programmed = Instant::now();
    while netns(&client)
        .run(|| TcpStream::connect_timeout(&SocketAddr::new(long_vip, 5001), Duration::from_millis(300)).is_err())
        .expect("inside")
    {
        assert!(
            programmed.elapsed() < Duration::from_secs(10),
            "the Service on 5001 never answers"
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    for (_, l) in &listeners {
        while l.accept().is_ok() {}
    }
    let mut client_side = netns(&client)
        .run(|| TcpStream::connect_timeout(&SocketAddr::new(long_vip, 5001), Duration::from_secs(2)))
        .expect("inside")
        .expect("connect through the Service");
    let (holder, mut server_side) = {
        let started = Instant::now();
        loop {
            if let Some(found) = listeners
                .iter()
                .find_map(|(name, l)| l.accept().ok().map(|(s, _)| (*name, s)))
            {
                break found;
            }
            assert!(started.elapsed() < Duration::from_secs(3), "no endpoint accepted");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    server_side.set_nonblocking(false).expect("blocking");
    server_side
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    client_side
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let exchange = |c: &mut TcpStream, s: &mut TcpStream| weft_testnet::exchange(c, s, b"still here");
    assert!(exchange(&mut client_side, &mut server_side));

    // Delete another endpoint: no new connection reaches it; the established one lives on.
    let gone = ["api-1", "api-2", "api-3"]
        .into_iter()
        .find(|e| *e != holder)
        .expect("another endpoint");
    let started = Instant::now();
    lab.ok(&["lab", "pod", "del", &format!("cloud-a/shop/{gone}")]);
    let (seen, failed) = tcp_spread(&client, vip, 80, 300);
    eprintln!(
        "after deleting {gone} ({:?} for the delete): {seen:?}, {failed} failed",
        started.elapsed()
    );
    assert_eq!(failed, 0, "{seen:?}");
    assert!(
        !seen.contains_key(&format!("cloud-a/shop/{gone}")),
        "{gone} still gets connections: {seen:?}"
    );
    assert!(
        exchange(&mut client_side, &mut server_side),
        "the established connection to {holder} broke"
    );

    // A new endpoint starts getting traffic.
    pod(&lab, "cloud-a/shop/api-4", "node-1", "app=api", "");
    let started = Instant::now();
    loop {
        let (seen, _) = tcp_spread(&client, vip, 80, 50);
        if seen.contains_key("cloud-a/shop/api-4") {
            eprintln!("the new endpoint got traffic {:?} after its ADD", started.elapsed());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "api-4 gets nothing: {seen:?}"
        );
    }
}

#[test]
fn hairpin_and_a_service_without_endpoints() {
    let lab = Lab::up(Some(THREE_NODES));
    let a1 = pod(&lab, "cloud-a/shop/api-1", "node-1", "app=api", "");
    pod(&lab, "cloud-a/shop/api-2", "node-2", "app=api", "");
    let svc = service(&lab, API);
    let vip = cluster_ips(&svc).into_iter().find(|v| v.is_ipv4()).expect("IPv4");
    // An endpoint reaching its own Service, sometimes itself.
    wait_served(&a1, vip);
    let (seen, failed) = tcp_spread(&a1, vip, 80, 200);
    eprintln!("hairpin from api-1: {seen:?}, {failed} failed");
    assert_eq!(failed, 0);
    assert!(seen.contains_key("cloud-a/shop/api-1"), "never itself: {seen:?}");
    assert!(seen.contains_key("cloud-a/shop/api-2"), "never the other: {seen:?}");

    // No endpoints: refused at once, over TCP (RST or unreachable), not a timeout.
    let empty = "apiVersion: v1\nkind: Service\nmetadata:\n  name: empty\n  namespace: shop\nspec:\n  selector: {app: nobody}\n  ports:\n  - {port: 80}\n";
    let vip = cluster_ips(&service(&lab, empty))[0];
    // First the node programs the new Service (until then its address is just unrouted); then
    // a connection is refused at once.
    let programmed = Instant::now();
    while netns(&a1)
        .run(|| {
            TcpStream::connect_timeout(&SocketAddr::new(vip, 80), Duration::from_millis(300))
                .err()
                .map(|e| e.kind())
        })
        .expect("inside")
        != Some(std::io::ErrorKind::ConnectionRefused)
    {
        assert!(
            programmed.elapsed() < Duration::from_secs(10),
            "the empty Service never refuses"
        );
    }
    let (took, error) = netns(&a1)
        .run(|| {
            let started = Instant::now();
            let r = TcpStream::connect_timeout(&SocketAddr::new(vip, 80), Duration::from_secs(3));
            (started.elapsed(), r.err().map(|e| e.kind()))
        })
        .expect("inside");
    eprintln!("a Service without endpoints: {error:?} after {took:?}");
    assert!(error.is_some(), "the connection succeeded");
    assert!(
        took < Duration::from_millis(500),
        "not refused at once: {took:?} ({error:?})"
    );
}

/// How the connections opened while a Service was being programmed ended.
#[derive(Debug, Default)]
struct Outcome {
    /// Failed to connect.
    refused: usize,
    answered: usize,
    /// Connected, then no answer: what went wrong.
    broken: Vec<String>,
}

/// Connections from `from` to `vip:80`, one after another, until twenty in a row are answered
/// (or 10 s pass).
fn while_programmed(from: &str, vip: IpAddr) -> Outcome {
    netns(from)
        .run(|| {
            let mut out = Outcome::default();
            let mut in_a_row = 0;
            let started = Instant::now();
            while in_a_row < 20 && started.elapsed() < Duration::from_secs(10) {
                let Ok(mut s) = TcpStream::connect_timeout(&SocketAddr::new(vip, 80), Duration::from_millis(500))
                else {
                    out.refused += 1;
                    in_a_row = 0;
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let reply = (|| {
                    s.set_read_timeout(Some(Duration::from_secs(2)))?;
                    s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
                    let mut reply = String::new();
                    s.read_to_string(&mut reply)?;
                    Ok::<_, std::io::Error>(reply)
                })();
                match reply {
                    Ok(r) if r.contains("hello from ") => {
                        out.answered += 1;
                        in_a_row += 1;
                    }
                    Ok(r) => out.broken.push(format!("answer {r:?}")),
                    Err(e) => out.broken.push(e.to_string()),
                }
            }
            out
        })
        .expect("inside the pod")
}

/// The nodes program a new Service a moment after the API accepts it, routes first, then the
/// table (docs/dataplane.md, "A Service being programmed"). A connection opened meanwhile may
/// fail to connect, but one that connects is answered: none stalls or is reset later.
#[test]
fn connections_opened_while_a_service_is_programmed_are_answered_or_refused() {
    let lab = Lab::up(Some(THREE_NODES));
    pod(&lab, "cloud-a/shop/api-1", "node-1", "app=api", "");
    pod(&lab, "cloud-a/shop/api-2", "node-2", "app=api", "");
    let clients: Vec<String> = ["node-1", "node-2", "node-3"]
        .iter()
        .map(|node| pod(&lab, &format!("cloud-a/shop/client-{node}"), node, "app=client", ""))
        .collect();
    let vips = cluster_ips(&service(&lab, API));
    let outcomes: Vec<(String, Outcome)> = std::thread::scope(|scope| {
        let runs: Vec<_> = clients
            .iter()
            .flat_map(|c| vips.iter().map(move |v| (c, *v)))
            .map(|(c, v)| scope.spawn(move || (format!("{c} -> {v}"), while_programmed(c, v))))
            .collect();
        runs.into_iter().filter_map(|r| r.join().ok()).collect()
    });
    assert_eq!(outcomes.len(), clients.len() * vips.len());
    for (what, o) in &outcomes {
        eprintln!(
            "{what}: {} did not connect, {} answered, {} broken",
            o.refused,
            o.answered,
            o.broken.len()
        );
        assert!(o.broken.is_empty(), "{what}: connected, then {:?}", o.broken);
        assert!(o.answered >= 20, "{what}: never served ({} did not connect)", o.refused);
    }
}
