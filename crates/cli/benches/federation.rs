//! Federation benchmark (issue #6), on the two-cloud lab (`weft lab up`):
//!   1. pod ADD in cloud-b -> first successful TCP connection (HTTP) from cloud-a's frontend
//!      pod: p50 / p99 / max over N pods (default 100), and the ADD itself;
//!   2. E WorkloadEndpoints (default 10,000) created in cloud-b through the API -> the time until
//!      cloud-a's node-1 has a kernel route to every one of them.
//!
//! Prints a table; `--json FILE` writes the numbers. Needs root. Run it with
//! `cargo bench -p weft-cli --bench federation -- [--pods N] [--endpoints E] [--json FILE]`
//! (or `scripts/bench-federation`).

#[path = "../tests/lab_harness/mod.rs"]
mod lab_harness;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use lab_harness::{Lab, in_netns, ipv4_of, text};
use serde_json::json;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn json_path() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// One HTTP GET from inside `ns` (a thread that entered it), true when the pod answered.
fn http(ns: &weft_netns::NetNs, address: IpAddr) -> bool {
    ns.run(|| {
        let timeout = Duration::from_millis(200);
        let Ok(mut s) = TcpStream::connect_timeout(&SocketAddr::new(address, 80), timeout) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = String::new();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").is_ok()
            && s.read_to_string(&mut reply).is_ok()
            && reply.contains("hello from")
    })
    .unwrap_or(false)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Kernel routes in cloud-a's node-1 (all tables) to addresses of `prefix` (e.g. "10.245.").
fn routes_at_a(lab: &Lab, prefix: &str) -> usize {
    let out = in_netns(
        &lab.node_netns("cloud-a", "node-1"),
        &["ip", "-4", "route", "show", "table", "all"],
    );
    text(&out.stdout).lines().filter(|l| l.starts_with(prefix)).count()
}

fn main() {
    let pods = arg("--pods", 100);
    let endpoints = arg("--endpoints", 10_000);
    eprintln!("building the two-cloud lab...");
    let lab = Lab::demo(&[]);
    eprintln!(
        "lab {} (if this is interrupted, remove it with: WEFT_LAB={} WEFT_LAB_ROOT={} weft lab down)",
        lab.name,
        lab.name,
        lab.root().display()
    );
    let web = lab.pod_record("cloud-a/frontend/web");
    let web_ns = weft_netns::NetNs::open(&format!("/var/run/netns/{}", web["netns"].as_str().unwrap_or_default()))
        .expect("the frontend pod's namespace");

    // 1. Pod ADD in B -> first connection from A.
    let mut adds = Vec::new();
    let mut firsts = Vec::new();
    for i in 0..pods {
        let name = format!("cloud-b/backend/b{i}");
        let node = if i % 2 == 0 { "node-1" } else { "node-2" };
        let started = Instant::now();
        lab.ok(&["lab", "pod", "add", &name, "--node", node]);
        let added = started.elapsed();
        let address = ipv4_of(&lab.pod_record(&name));
        let since_add = Instant::now();
        while !http(&web_ns, address) {
            assert!(since_add.elapsed() < Duration::from_secs(10), "{name} never answered");
            std::thread::sleep(Duration::from_millis(2));
        }
        adds.push(added);
        firsts.push(since_add.elapsed());
        if (i + 1) % 10 == 0 {
            eprintln!("  {} pods", i + 1);
        }
    }
    adds.sort();
    firsts.sort();

    // 2. E endpoints in B -> all routed at A's node.
    eprintln!("creating {endpoints} WorkloadEndpoints in cloud-b...");
    let url = lab.status()["clusters"][1]["url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let client = weft_client::Client::new(&url).expect("a client");
    let before = routes_at_a(&lab, "10.245.");
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in 0..8 {
            let client = client.clone();
            tasks.spawn(async move {
                for i in (chunk..endpoints).step_by(8) {
                    let node = if i % 2 == 0 { "node-1" } else { "node-2" };
                    let yaml = format!(
                        "apiVersion: weft.io/v1alpha1\nkind: WorkloadEndpoint\nmetadata: {{name: e{i}, namespace: backend}}\nspec: {{node: {node}, pod: e{i}, containerID: bench-{i}, interface: eth0}}\n"
                    );
                    let r = weft_api::manifest::parse(&yaml, "bench").expect("a manifest").remove(0);
                    client.apply(&r, false).await.expect("create an endpoint");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    });
    let created = started.elapsed();
    let want = before + endpoints;
    let mut seen = 0;
    while started.elapsed() < Duration::from_secs(600) {
        seen = routes_at_a(&lab, "10.245.");
        if seen >= want {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let all_at_a = started.elapsed();

    println!();
    println!("Federation benchmark (two-cloud lab, eBGP EVPN between the controllers)");
    println!("{:<58} {:>10} {:>10} {:>10}", "measure", "p50 ms", "p99 ms", "max ms");
    println!(
        "{:<58} {:>10.1} {:>10.1} {:>10.1}",
        format!("pod ADD in B (weft lab pod add, {pods} pods)"),
        ms(percentile(&adds, 0.5)),
        ms(percentile(&adds, 0.99)),
        ms(adds.last().copied().unwrap_or_default())
    );
    println!(
        "{:<58} {:>10.1} {:>10.1} {:>10.1}",
        "ADD returned -> first HTTP answer from A",
        ms(percentile(&firsts, 0.5)),
        ms(percentile(&firsts, 0.99)),
        ms(firsts.last().copied().unwrap_or_default())
    );
    println!(
        "{endpoints} endpoints created in B in {:.1} s; all routed at A's node after {:.1} s ({seen} of {want} routes)",
        created.as_secs_f64(),
        all_at_a.as_secs_f64()
    );
    if let Some(path) = json_path() {
        let v = json!({
            "pods": pods,
            "add_ms": {"p50": ms(percentile(&adds, 0.5)), "p99": ms(percentile(&adds, 0.99))},
            "first_connection_ms": {"p50": ms(percentile(&firsts, 0.5)), "p99": ms(percentile(&firsts, 0.99)), "max": ms(firsts.last().copied().unwrap_or_default())},
            "endpoints": endpoints,
            "endpoints_created_s": created.as_secs_f64(),
            "endpoints_all_at_a_s": all_at_a.as_secs_f64(),
            "routes_seen": seen,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap_or_default()).expect("writing the JSON");
    }
}
