//! `weft lab probe`: who reaches whom. Every pod pings every other pod's addresses (IPv4 and
//! IPv6) from inside its namespace, in parallel; the result is a matrix a person reads at a
//! glance to see the segmentation.

use std::process::Command;

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

fn ping(netns: &str, address: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", netns, "ping", "-c", "1", "-W", "1", "-q", address])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Pings every address of every other pod, at most `parallel` at a time.
pub fn run(state: &LabState, parallel: usize) -> Vec<Probe> {
    let mut work = Vec::new();
    for from in &state.pods {
        for to in state.pods.iter().filter(|t| id(t) != id(from)) {
            for address in &to.addresses {
                work.push((from.clone(), to.clone(), address.clone()));
            }
        }
    }
    let mut results = Vec::new();
    for chunk in work.chunks(parallel.max(1)) {
        let done: Vec<Probe> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(from, to, address)| {
                    scope.spawn(move || Probe {
                        from: id(from),
                        to: id(to),
                        address: address.clone(),
                        protocol: if address.contains(':') { "icmpv6" } else { "icmp" }.into(),
                        reached: ping(&from.netns, address),
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        results.extend(done);
    }
    results
}
