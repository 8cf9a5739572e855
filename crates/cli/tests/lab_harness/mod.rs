//! A lab of the test's own: `weft lab up` with a unique lab name, a temporary state root and CLI
//! config, and `weft lab down` when the guard drops, also after a panic. Helpers run the CLI
//! against it, add pods, and find the namespaces of nodes and pods.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const ONE_CLUSTER: &str = include_str!("../../../../examples/lab/one-cluster.yaml");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct Lab {
    pub name: String,
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// Builds one cluster (cloud-a, nodes node-1 and node-2), or `topology`.
    pub fn up(topology: Option<&str>) -> Lab {
        Lab::start(Some(topology.unwrap_or(ONE_CLUSTER)), &[])
    }

    /// Builds the two-cloud demo (`weft lab up` without a topology) with `extra` arguments.
    pub fn demo(extra: &[&str]) -> Lab {
        Lab::start(None, extra)
    }

    fn start(topology: Option<&str>, extra: &[&str]) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}x{n}", std::process::id() % 100_000);
        let dir = tempfile::Builder::new()
            .prefix("weft-lab-test-")
            .tempdir()
            .expect("tempdir");
        let lab = Lab { name, dir };
        let mut args = vec!["lab", "up"];
        let file;
        if let Some(t) = topology {
            file = lab.dir.path().join("topology.yaml");
            std::fs::write(&file, t).expect("writing the topology");
            args.push("--topology");
            args.push(file.to_str().unwrap_or_default());
        }
        args.extend_from_slice(extra);
        let out = lab.weft(&args);
        assert!(
            out.status.success(),
            "lab up failed:\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        lab
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("labs")
    }

    /// The `weft` binary with this lab's name, root and CLI config.
    pub fn command(&self) -> Command {
        let mut c = Command::new(WEFT);
        c.env("WEFT_LAB", &self.name)
            .env("WEFT_LAB_ROOT", self.root())
            .env("WEFT_CONFIG", self.dir.path().join("config"))
            .env("HOME", self.dir.path())
            .env_remove("WEFT_SERVER");
        c
    }

    pub fn weft(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("running weft")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.weft(args);
        assert!(
            out.status.success(),
            "weft {} failed:\n{}\n{}",
            args.join(" "),
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["lab", "status", "-o", "json"])).expect("lab status JSON")
    }

    /// Adds a pod; returns its addresses.
    pub fn pod(&self, pod: &str, node: &str) -> Vec<String> {
        self.ok(&["lab", "pod", "add", pod, "--node", node, "--no-server"]);
        let status = self.status();
        let (cluster, rest) = pod.split_once('/').unwrap_or_default();
        let (namespace, name) = rest.split_once('/').unwrap_or_default();
        status["pods"]
            .as_array()
            .and_then(|pods| {
                pods.iter()
                    .find(|p| p["cluster"] == cluster && p["namespace"] == namespace && p["name"] == name)
            })
            .map(|p| {
                p["addresses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect()
            })
            .expect("the pod is in the lab's status")
    }

    /// A pod's record in the lab's status (`CLUSTER/NS/NAME`): node, netns, addresses...
    pub fn pod_record(&self, pod: &str) -> serde_json::Value {
        let parts: Vec<&str> = pod.split('/').collect();
        self.status()["pods"]
            .as_array()
            .and_then(|ps| {
                ps.iter()
                    .find(|p| p["cluster"] == parts[0] && p["namespace"] == parts[1] && p["name"] == parts[2])
                    .cloned()
            })
            .unwrap_or_else(|| panic!("no pod {pod} in the lab"))
    }

    /// The network namespace of a pod (`CLUSTER/NS/NAME`).
    pub fn pod_netns(&self, pod: &str) -> String {
        let status = self.status();
        let parts: Vec<&str> = pod.split('/').collect();
        status["pods"]
            .as_array()
            .and_then(|pods| {
                pods.iter()
                    .find(|p| p["cluster"] == parts[0] && p["namespace"] == parts[1] && p["name"] == parts[2])
            })
            .and_then(|p| p["netns"].as_str())
            .expect("pod netns")
            .to_string()
    }

    /// The network namespace of a node (`CLUSTER/NODE`).
    pub fn node_netns(&self, cluster: &str, node: &str) -> String {
        format!("{}.{cluster}.{node}", self.name)
    }

    /// The node's agent, from the lab's status: (pid, socket path).
    pub fn agent(&self, cluster: &str, node: &str) -> (u32, PathBuf) {
        let status = self.status();
        let n = status["clusters"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == cluster))
            .and_then(|c| c["nodes"].as_array())
            .and_then(|ns| ns.iter().find(|n| n["name"] == node))
            .expect("node in status")
            .clone();
        (
            n["agent"]["pid"].as_u64().unwrap() as u32,
            PathBuf::from(n["socket"].as_str().unwrap()),
        )
    }

    /// The CNI plugin directory and the plugin the lab uses.
    pub fn cni_plugin(&self) -> PathBuf {
        PathBuf::from(self.status()["cniPath"].as_str().unwrap()).join("weft")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let out = self.weft(&["lab", "down"]);
        if !out.status.success() {
            eprintln!("lab down failed: {}", text(&out.stderr));
        }
    }
}

/// The first IPv4 address of a pod record ([`Lab::pod_record`]).
pub fn ipv4_of(record: &serde_json::Value) -> std::net::IpAddr {
    record["addresses"]
        .as_array()
        .and_then(|a| a.iter().filter_map(|a| a.as_str()).find(|a| !a.contains(':')))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no IPv4 address in {record}"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `ip netns exec NS ARGS...`.
pub fn in_netns(ns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("ip netns exec")
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
