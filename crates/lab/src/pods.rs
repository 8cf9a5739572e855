//! Pods in the lab: a network namespace each, wired by running the real CNI plugin with the
//! environment and standard input a container runtime gives it, in the node's namespace.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Namespace, Pod, PodSpec};
use weft_api::k8s_openapi;
use weft_api::{Kind, ObjectMeta, Resource};
use weft_client::Client;

use crate::LabError;
use crate::cmd::{self, netns_path};
use crate::state::{LabLock, LabState, PodState};
use crate::up::netns_name;

/// `CLUSTER/NAMESPACE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
}

impl FromStr for PodRef {
    type Err = LabError;
    fn from_str(s: &str) -> Result<PodRef, LabError> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [cluster, namespace, name] if !cluster.is_empty() && !namespace.is_empty() && !name.is_empty() => {
                Ok(PodRef {
                    cluster: cluster.to_string(),
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                })
            }
            _ => Err(LabError::Usage(format!(
                "{s:?}: name a pod as CLUSTER/NAMESPACE/NAME, e.g. cloud-a/default/web-1"
            ))),
        }
    }
}

impl std::fmt::Display for PodRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.cluster, self.namespace, self.name)
    }
}

/// A container port as `NAME=PORT[/PROTOCOL]` (protocol TCP, UDP or SCTP; default TCP).
pub fn parse_port(text: &str) -> Result<ContainerPort, LabError> {
    let bad = || {
        LabError::Usage(format!(
            "--ports {text:?}: write NAME=PORT or NAME=PORT/PROTOCOL, e.g. http=8080 or dns=53/UDP"
        ))
    };
    let (name, rest) = text.split_once('=').ok_or_else(bad)?;
    let (port, protocol) = rest.split_once('/').unwrap_or((rest, "TCP"));
    let port: u16 = port.parse().map_err(|_| bad())?;
    let protocol = protocol.to_ascii_uppercase();
    if name.is_empty() || port == 0 || !["TCP", "UDP", "SCTP"].contains(&protocol.as_str()) {
        return Err(bad());
    }
    Ok(ContainerPort {
        name: Some(name.to_string()),
        container_port: i32::from(port),
        protocol: Some(protocol),
        ..Default::default()
    })
}

/// The network config the lab's "runtime" hands the plugin: the conflist's one plugin, with
/// `cniVersion` and `name` from the list, as libcni does.
pub fn network_config(socket: &Path) -> String {
    serde_json::json!({
        "cniVersion": "1.1.0",
        "name": "weft",
        "type": "weft",
        "agentSocket": socket,
    })
    .to_string()
}

/// Runs the plugin (`CNI_PATH/weft`) in `node_netns` with exactly a runtime's environment.
pub fn run_cni(
    state: &LabState,
    node_netns: &str,
    command: &str,
    container_id: &str,
    pod_netns: Option<&str>,
    pod: &PodRef,
    config: &str,
) -> Result<String, LabError> {
    let plugin = state.cni_path.join("weft");
    let mut env: Vec<(String, String)> = vec![
        ("CNI_COMMAND".into(), command.into()),
        ("CNI_CONTAINERID".into(), container_id.into()),
        ("CNI_IFNAME".into(), "eth0".into()),
        ("CNI_PATH".into(), state.cni_path.display().to_string()),
        (
            "CNI_ARGS".into(),
            format!(
                "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={container_id}",
                pod.namespace, pod.name
            ),
        ),
        ("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into()),
    ];
    if let Some(ns) = pod_netns {
        env.push(("CNI_NETNS".into(), netns_path(ns)));
    }
    let mut child = Command::new("ip")
        .args(["netns", "exec", node_netns])
        .arg(&plugin)
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(LabError::io(format!("running {}", plugin.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(config.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(LabError::io("waiting for the CNI plugin"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        let message = serde_json::from_str::<serde_json::Value>(&stdout)
            .map(|v| {
                format!(
                    "{} (code {}): {}",
                    v["msg"].as_str().unwrap_or_default(),
                    v["code"],
                    v["details"].as_str().unwrap_or_default()
                )
            })
            .unwrap_or_else(|_| format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)));
        Err(LabError::Cni {
            command: command.into(),
            pod: pod.to_string(),
            message,
        })
    }
}

fn client(url: &str, cluster: &str) -> Result<Client, LabError> {
    Client::new(url).map_err(|e| LabError::Controller {
        cluster: cluster.into(),
        reason: e.to_string(),
    })
}

fn controller_error(cluster: &str) -> impl Fn(weft_client::ClientError) -> LabError + '_ {
    move |e| LabError::Controller {
        cluster: cluster.to_string(),
        reason: e.to_string(),
    }
}

/// Creates a pod on `node`: its Pod object (so policies and services can select its labels),
/// its namespace, and its network through the CNI plugin.
pub async fn add(
    root: &Path,
    lab: &str,
    pod: &PodRef,
    node: &str,
    labels: &[(String, String)],
    ports: &[ContainerPort],
    serve: bool,
) -> Result<PodState, LabError> {
    let dir = root.join(lab);
    let state = {
        let _lock = LabLock::take(&dir)?;
        LabState::load(&dir)?.ok_or_else(|| LabError::Usage(format!("lab {lab} is not up; run `weft lab up`")))?
    };
    let cluster = state.cluster(&pod.cluster)?.clone();
    let node_state = cluster.nodes.iter().find(|n| n.name == node).cloned().ok_or_else(|| {
        LabError::Usage(format!(
            "no node {node:?} in cluster {}; nodes: {}",
            cluster.name,
            cluster
                .nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if state
        .pods
        .iter()
        .any(|p| p.cluster == pod.cluster && p.namespace == pod.namespace && p.name == pod.name)
    {
        return Err(LabError::Usage(format!("pod {pod} exists; delete it first")));
    }
    let c = client(&cluster.url, &cluster.name)?;
    let ns_key = Resource::Namespace(Namespace {
        metadata: ObjectMeta {
            name: Some(pod.namespace.clone()),
            ..Default::default()
        },
        ..Default::default()
    });
    if c.get(Kind::Namespace, None, &pod.namespace).await.is_err() {
        c.apply(&ns_key, true).await.map_err(controller_error(&cluster.name))?;
    }
    let labels_map: BTreeMap<String, String> = labels.iter().cloned().collect();
    let object = Resource::Pod(Pod {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            labels: (!labels_map.is_empty()).then_some(labels_map),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.to_string()),
            containers: vec![Container {
                name: "app".into(),
                image: Some("weft-lab".into()),
                // Named ports, for Services whose targetPort names one.
                ports: (!ports.is_empty()).then(|| ports.to_vec()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    });
    c.apply(&object, false).await.map_err(controller_error(&cluster.name))?;
    let netns = netns_name(lab, &pod.cluster, &format!("pod.{}.{}", pod.namespace, pod.name));
    cmd::ip(&["netns", "add", &netns])?;
    let container_id = format!("lab-{}", uuid::Uuid::new_v4().simple());
    let config = network_config(&node_state.socket);
    let result = match run_cni(
        &state,
        &node_state.netns,
        "ADD",
        &container_id,
        Some(&netns),
        pod,
        &config,
    ) {
        Ok(r) => r,
        Err(e) => {
            let _ = cmd::ip(&["netns", "del", &netns]);
            return Err(e);
        }
    };
    let parsed: serde_json::Value = serde_json::from_str(&result).map_err(|e| LabError::Cni {
        command: "ADD".into(),
        pod: pod.to_string(),
        message: format!("unreadable result: {e}"),
    })?;
    let addresses = parsed["ips"]
        .as_array()
        .map(|ips| {
            ips.iter()
                .filter_map(|ip| ip["address"].as_str())
                .map(|a| a.split('/').next().unwrap_or(a).to_string())
                .collect()
        })
        .unwrap_or_default();
    // The pod's application: the lab's HTTP and UDP echo server, run by the weft binary.
    let server_pid = if serve {
        let log = dir
            .join(&pod.cluster)
            .join(format!("pod.{}.{}.log", pod.namespace, pod.name));
        // Port 80, and every named container port (a Service's named targetPort reaches it).
        let mut served: Vec<u16> = vec![crate::probe::SERVER_PORT];
        served.extend(ports.iter().filter_map(|p| u16::try_from(p.container_port).ok()));
        served.sort_unstable();
        served.dedup();
        let mut args: Vec<String> = ["lab", "serve", "--name", &pod.to_string()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for p in served {
            args.extend(["--port".to_string(), p.to_string()]);
        }
        Some(crate::process::spawn(
            &cluster.controller.program,
            &args,
            Some(&netns),
            &log,
        )?)
    } else {
        None
    };
    let record = PodState {
        cluster: pod.cluster.clone(),
        namespace: pod.namespace.clone(),
        name: pod.name.clone(),
        node: node.to_string(),
        netns,
        container_id,
        addresses,
        labels: labels.to_vec(),
        server_pid,
    };
    let _lock = LabLock::take(&dir)?;
    let mut state = LabState::load(&dir)?.ok_or_else(|| LabError::Usage(format!("lab {lab} went down meanwhile")))?;
    state.pods.push(record.clone());
    state.save()?;
    Ok(record)
}

/// Deletes a pod: CNI DEL (which returns its addresses), its namespace, its Pod object.
pub async fn delete(root: &Path, lab: &str, pod: &PodRef) -> Result<(), LabError> {
    let dir = root.join(lab);
    let state = {
        let _lock = LabLock::take(&dir)?;
        LabState::load(&dir)?.ok_or_else(|| LabError::Usage(format!("lab {lab} is not up")))?
    };
    let record = find(&state, pod)?.clone();
    let cluster = state.cluster(&pod.cluster)?.clone();
    let node = cluster
        .nodes
        .iter()
        .find(|n| n.name == record.node)
        .cloned()
        .ok_or_else(|| LabError::Usage(format!("node {} is gone", record.node)))?;
    run_cni(
        &state,
        &node.netns,
        "DEL",
        &record.container_id,
        Some(&record.netns),
        pod,
        &network_config(&node.socket),
    )?;
    if let Some(pid) = record.server_pid {
        crate::process::stop(pid, std::time::Duration::from_secs(1));
    }
    let _ = cmd::ip(&["netns", "del", &record.netns]);
    let c = client(&cluster.url, &cluster.name)?;
    match c.delete(Kind::Pod, Some(&pod.namespace), &pod.name, None).await {
        Ok(_) => {}
        Err(e) if e.reason() == Some(weft_api::wire::Reason::NotFound) => {}
        Err(e) => return Err(controller_error(&cluster.name)(e)),
    }
    let _lock = LabLock::take(&dir)?;
    if let Some(mut state) = LabState::load(&dir)? {
        state
            .pods
            .retain(|p| !(p.cluster == pod.cluster && p.namespace == pod.namespace && p.name == pod.name));
        state.save()?;
    }
    Ok(())
}

pub fn find<'a>(state: &'a LabState, pod: &PodRef) -> Result<&'a PodState, LabError> {
    state
        .pods
        .iter()
        .find(|p| p.cluster == pod.cluster && p.namespace == pod.namespace && p.name == pod.name)
        .ok_or_else(|| LabError::Usage(format!("no pod {pod} in lab {}; see `weft lab status`", state.name)))
}
