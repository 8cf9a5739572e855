//! Building a lab and tearing it down.

use std::path::{Path, PathBuf};
use std::time::Duration;

use weft_api::{Cluster, ClusterSpec, Kind, ObjectMeta, Resource};
use weft_client::Client;

use crate::cmd::{self, ip, netns_path};
use crate::state::{ClusterState, LabLock, LabState, NodeState, ProcessState};
use crate::topology::{ClusterTopology, Topology};
use crate::{LabError, process};

/// The programs a lab runs: `weft` (controller, agent) and the CNI plugin.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub weft: PathBuf,
    pub cni: PathBuf,
}

impl Binaries {
    /// `weft-cni` is looked for beside the running `weft`, where `cargo build` and packages put it.
    pub fn beside(weft: PathBuf) -> Result<Binaries, LabError> {
        let cni = weft.with_file_name("weft-cni");
        if !cni.exists() {
            return Err(LabError::Usage(format!(
                "the CNI plugin {} is missing; build it with `cargo build --bin weft-cni`",
                cni.display()
            )));
        }
        Ok(Binaries { weft, cni })
    }
}

/// The lab's namespaces are `NAME.CLUSTER.ROLE`: the dot never occurs in lab or cluster names,
/// so one lab's prefix never matches another's.
pub fn netns_name(lab: &str, cluster: &str, role: &str) -> String {
    format!("{lab}.{cluster}.{role}")
}

fn add_netns(name: &str) -> Result<(), LabError> {
    ip(&["netns", "add", name])?;
    ip(&["-n", name, "link", "set", "lo", "up"])?;
    Ok(())
}

/// A veth from `ns`'s `eth0` to the underlay bridge, with the address, up.
fn plug(underlay: &str, ns: &str, port: &str, address: &str, mtu: u32) -> Result<(), LabError> {
    let mtu = mtu.to_string();
    ip(&[
        "-n", ns, "link", "add", "eth0", "mtu", &mtu, "type", "veth", "peer", "name", port, "netns", underlay,
    ])?;
    ip(&["-n", underlay, "link", "set", port, "mtu", &mtu, "master", "br0", "up"])?;
    ip(&["-n", ns, "addr", "add", address, "dev", "eth0"])?;
    ip(&["-n", ns, "link", "set", "eth0", "up"])?;
    Ok(())
}

/// Builds every cluster of `topology`; `progress` is told each step. On failure what was built
/// stays recorded, so `down` removes it.
pub async fn up(
    name: &str,
    root: &Path,
    topology: Topology,
    bins: &Binaries,
    progress: &mut dyn FnMut(&str),
) -> Result<LabState, LabError> {
    if weft_api::validate::names::dns1123_label(name).is_err() || name.len() > 20 {
        return Err(LabError::Usage(format!(
            "lab name {name:?} must be a DNS label of at most 20 characters"
        )));
    }
    let dir = root.join(name);
    let _lock = LabLock::take(&dir)?;
    if LabState::load(&dir)?.is_some() || !cmd::namespaces_with_prefix(&format!("{name}.")).is_empty() {
        return Err(LabError::Usage(format!(
            "lab {name} is already up (or left over from a crash); run `weft lab down` first"
        )));
    }
    let cni_path = dir.join("cni-bin");
    std::fs::create_dir_all(&cni_path).map_err(LabError::io(format!("creating {}", cni_path.display())))?;
    // The runtime finds a plugin by its "type" in CNI_PATH.
    std::os::unix::fs::symlink(&bins.cni, cni_path.join("weft")).map_err(LabError::io("linking the CNI plugin"))?;
    let mut state = LabState {
        name: name.to_string(),
        dir: dir.clone(),
        topology: Some(topology.clone()),
        clusters: Vec::new(),
        pods: Vec::new(),
        cni_path,
        wan: None,
    };
    state.save()?;
    if topology.wan.is_some() {
        progress(&format!(
            "WAN router (namespace {}) between the clusters' underlays",
            netns_name(name, "wan", "router")
        ));
        crate::wan::build_router(&mut state)?;
    }
    for (index, cluster) in topology.clusters.iter().enumerate() {
        build_cluster(&mut state, index, cluster, topology.wan.is_some(), bins, progress).await?;
    }
    if let Some(wan) = &topology.wan {
        peer(&mut state, &topology, wan, progress).await?;
    }
    Ok(state)
}

/// BGP between the clusters: BGPPeer objects in every cluster, and FRR on the WAN router when
/// it carries the routes.
async fn peer(
    state: &mut LabState,
    topology: &Topology,
    wan: &crate::topology::Wan,
    progress: &mut dyn FnMut(&str),
) -> Result<(), LabError> {
    use crate::topology::Peering;
    if wan.peering == Peering::RouteServer {
        progress(&format!(
            "WAN router: FRR bgpd (AS {}) as route server for the controllers, EVPN next hops unchanged",
            wan.asn
        ));
        crate::wan::start_route_server(state, topology, wan)?;
    }
    for (i, c) in topology.clusters.iter().enumerate() {
        let url = state.clusters.get(i).map(|s| s.url.clone()).unwrap_or_default();
        let client = Client::new(&url).map_err(|e| LabError::Controller {
            cluster: c.name.clone(),
            reason: e.to_string(),
        })?;
        let peers: Vec<(String, String, u32)> = match wan.peering {
            Peering::Direct => topology
                .clusters
                .iter()
                .filter(|d| d.name != c.name)
                .map(|d| (d.name.clone(), d.controller_address().to_string(), d.asn))
                .collect(),
            Peering::RouteServer => vec![("wan-router".into(), c.gateway_address().to_string(), wan.asn)],
        };
        for (name, address, asn) in peers {
            progress(&format!(
                "{}: BGPPeer {name} ({address}, AS {asn}, l2vpn-evpn, hold time {}s)",
                c.name, wan.hold_time
            ));
            let yaml = format!(
                "apiVersion: weft.io/v1alpha1\nkind: BGPPeer\nmetadata: {{name: {name}}}\nspec:\n  address: {address}\n  asn: {asn}\n  families: [l2vpn-evpn]\n  holdTime: {}\n",
                wan.hold_time
            );
            let resource = weft_api::manifest::parse(&yaml, "lab")
                .map_err(|e| LabError::Usage(e.to_string()))?
                .remove(0);
            client.apply(&resource, false).await.map_err(|e| LabError::Controller {
                cluster: c.name.clone(),
                reason: e.to_string(),
            })?;
        }
    }
    Ok(())
}

async fn build_cluster(
    state: &mut LabState,
    index: usize,
    c: &ClusterTopology,
    wan: bool,
    bins: &Binaries,
    progress: &mut dyn FnMut(&str),
) -> Result<(), LabError> {
    let lab = state.name.clone();
    let dir = state.dir.join(&c.name);
    std::fs::create_dir_all(&dir).map_err(LabError::io(format!("creating {}", dir.display())))?;
    let prefix = c.underlay.prefix_len();
    progress(&format!(
        "{}: underlay {} (a bridge in namespace {})",
        c.name,
        c.underlay,
        netns_name(&lab, &c.name, "underlay")
    ));
    let underlay = netns_name(&lab, &c.name, "underlay");
    add_netns(&underlay)?;
    ip(&["-n", &underlay, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", &underlay, "link", "set", "br0", "up"])?;
    let gateway = c.gateway_address().to_string();
    if let Some(router) = state.wan.as_ref().map(|w| w.netns.clone()) {
        crate::wan::plug_router(&router, &underlay, index, c)?;
    }
    // Hosts of a cluster reach the other clouds through the WAN router.
    let route_out = |ns: &str| -> Result<(), LabError> {
        if wan {
            ip(&["-n", ns, "route", "add", "default", "via", &gateway])?;
        }
        Ok(())
    };
    let ctl_ns = netns_name(&lab, &c.name, "controller");
    add_netns(&ctl_ns)?;
    let ctl_ip = c.controller_address();
    plug(&underlay, &ctl_ns, "c0", &format!("{ctl_ip}/{prefix}"), c.mtu)?;
    route_out(&ctl_ns)?;
    let underlay_url = format!("http://{ctl_ip}:7420");
    progress(&format!("{}: controller at {underlay_url}", c.name));
    let ready = dir.join("controller.url");
    let log = dir.join("controller.log");
    let args: Vec<String> = [
        "controller",
        "--data-dir",
        &dir.join("controller").display().to_string(),
        "--listen",
        "127.0.0.1:0",
        "--listen-in",
        &format!("{}={ctl_ip}:7420", netns_path(&ctl_ns)),
        "--ready-file",
        &ready.display().to_string(),
        "--gc-grace",
        "120s",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(
        // The speaker's sockets in the controller's namespace, on the underlay.
        wan.then(|| ["--bgp-netns".to_string(), netns_path(&ctl_ns)])
            .into_iter()
            .flatten(),
    )
    .collect();
    let pid = process::spawn(&bins.weft, &args, None, &log)?;
    state.clusters.push(ClusterState {
        name: c.name.clone(),
        underlay_netns: underlay.clone(),
        controller: ProcessState {
            pid,
            netns: ctl_ns.clone(),
            log: log.clone(),
            program: bins.weft.clone(),
            args: args.clone(),
            exec_netns: None,
            ready_file: ready.clone(),
        },
        url: String::new(),
        underlay_url: underlay_url.clone(),
        nodes: Vec::new(),
    });
    state.save()?;
    let url = process::wait_for_file(&ready, pid, Duration::from_secs(20), &log)?;
    let index = state.clusters.len() - 1;
    state.clusters[index].url = url.clone();
    state.save()?;
    let client = Client::new(&url).map_err(|e| LabError::Controller {
        cluster: c.name.clone(),
        reason: e.to_string(),
    })?;
    let cluster = Resource::Cluster(Cluster {
        metadata: ObjectMeta {
            name: Some(c.name.clone()),
            ..Default::default()
        },
        spec: ClusterSpec {
            asn: c.asn,
            router_id: Some(ctl_ip.to_string()),
            pod_cidrs: c.pod_cidrs.clone(),
            service_cidrs: c.service_cidrs.clone(),
            default_vni: None,
        },
    });
    client.apply(&cluster, false).await.map_err(|e| LabError::Controller {
        cluster: c.name.clone(),
        reason: e.to_string(),
    })?;
    for (i, node) in c.nodes.iter().enumerate() {
        let ns = netns_name(&lab, &c.name, node);
        let address = c.node_address(i);
        progress(&format!("{}: node {node} at {address}, agent starting", c.name));
        add_netns(&ns)?;
        plug(&underlay, &ns, &format!("n{i}"), &format!("{address}/{prefix}"), c.mtu)?;
        route_out(&ns)?;
        let node_dir = dir.join(node);
        std::fs::create_dir_all(&node_dir).map_err(LabError::io(format!("creating {}", node_dir.display())))?;
        let socket = node_dir.join("agent.sock");
        let ready = node_dir.join("agent.ready");
        let log = node_dir.join("agent.log");
        let args: Vec<String> = [
            "agent",
            "--node",
            node,
            "--controller",
            &underlay_url,
            "--socket",
            &socket.display().to_string(),
            "--ready-file",
            &ready.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let pid = process::spawn(&bins.weft, &args, Some(&ns), &log)?;
        state.clusters[index].nodes.push(NodeState {
            name: node.clone(),
            netns: ns.clone(),
            address: address.to_string(),
            agent: ProcessState {
                pid,
                netns: ns.clone(),
                log: log.clone(),
                program: bins.weft.clone(),
                args: args.clone(),
                exec_netns: Some(ns),
                ready_file: ready.clone(),
            },
            socket,
        });
        state.save()?;
        process::wait_for_file(&ready, pid, Duration::from_secs(20), &log)?;
        wait_registered(&client, node, &c.name).await?;
    }
    Ok(())
}

async fn wait_registered(client: &Client, node: &str, cluster: &str) -> Result<(), LabError> {
    for _ in 0..200 {
        if client.get(Kind::Node, None, node).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(LabError::NotReady(format!(
        "{cluster}: node {node} did not register within 10 s; see its agent.log"
    )))
}

/// Removes everything lab `name` made: its processes (by PID), every namespace with its prefix
/// (and anything still running in one), its files. Works from a damaged or missing state too.
pub fn down(name: &str, root: &Path, progress: &mut dyn FnMut(&str)) -> Result<bool, LabError> {
    let dir = root.join(name);
    let state = if dir.exists() {
        let _lock = LabLock::take(&dir)?;
        LabState::load(&dir).unwrap_or(None)
    } else {
        None
    };
    let namespaces = cmd::namespaces_with_prefix(&format!("{name}."));
    if state.is_none() && namespaces.is_empty() && !dir.exists() {
        return Ok(false);
    }
    if let Some(state) = &state {
        for cluster in &state.clusters {
            for node in &cluster.nodes {
                progress(&format!(
                    "stopping agent {}/{} (pid {})",
                    cluster.name, node.name, node.agent.pid
                ));
                process::stop(node.agent.pid, Duration::from_secs(3));
            }
            progress(&format!(
                "stopping controller {} (pid {})",
                cluster.name, cluster.controller.pid
            ));
            process::stop(cluster.controller.pid, Duration::from_secs(3));
        }
        for daemon in state.wan.iter().flat_map(|w| &w.daemons) {
            progress(&format!(
                "stopping {} on the WAN router (pid {})",
                daemon.program.display(),
                daemon.pid
            ));
            process::stop(daemon.pid, Duration::from_secs(3));
        }
    }
    for ns in &namespaces {
        // Whatever still runs inside a lab namespace was started by the lab (e.g. `lab exec`).
        for pid in cmd::ip(&["netns", "pids", ns]).unwrap_or_default().split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
    if !namespaces.is_empty() {
        progress(&format!("removing {} network namespaces", namespaces.len()));
    }
    for ns in namespaces.iter().rev() {
        let _ = cmd::ip(&["netns", "del", ns]);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(LabError::io(format!("removing {}", dir.display())))?;
    }
    Ok(true)
}

/// Stops, starts or restarts one of the lab's processes: `CLUSTER/controller` or `CLUSTER/NODE`
/// (a node's agent). A restart keeps everything else running, as on a real node.
pub fn control(root: &Path, lab: &str, component: &str, action: Action) -> Result<u32, LabError> {
    let dir = root.join(lab);
    let _lock = LabLock::take(&dir)?;
    let mut state = LabState::load(&dir)?.ok_or_else(|| LabError::Usage(format!("lab {lab} is not up")))?;
    let (cluster, part) = component.split_once('/').ok_or_else(|| {
        LabError::Usage(format!(
            "{component:?}: name a component as CLUSTER/controller or CLUSTER/NODE"
        ))
    })?;
    let c = state
        .clusters
        .iter_mut()
        .find(|c| c.name == cluster)
        .ok_or_else(|| LabError::Usage(format!("no cluster {cluster:?}")))?;
    let process = if part == "controller" {
        &mut c.controller
    } else {
        &mut c
            .nodes
            .iter_mut()
            .find(|n| n.name == part)
            .ok_or_else(|| LabError::Usage(format!("no node {part:?} in {cluster}")))?
            .agent
    };
    if matches!(action, Action::Stop | Action::Restart) {
        process::stop(process.pid, Duration::from_secs(3));
        process.pid = 0;
    }
    if matches!(action, Action::Start | Action::Restart) {
        if process.pid != 0 && process::is_ours(process.pid) {
            return Err(LabError::Usage(format!("{component} is running (pid {})", process.pid)));
        }
        let _ = std::fs::remove_file(&process.ready_file);
        // The earlier log is kept: the new run appends to it.
        let pid = process::spawn_appending(
            &process.program,
            &process.args,
            process.exec_netns.as_deref(),
            &process.log,
        )?;
        process.pid = pid;
        let (ready, log) = (process.ready_file.clone(), process.log.clone());
        state.save()?;
        let written = process::wait_for_file(&ready, pid, Duration::from_secs(20), &log)?;
        if part == "controller" {
            // A new port on the host's loopback: the CLI's context follows (see the caller).
            if let Some(c) = state.clusters.iter_mut().find(|c| c.name == cluster) {
                c.url = written;
            }
            state.save()?;
        }
        return Ok(pid);
    }
    state.save()?;
    Ok(0)
}

/// What `control` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Stop,
    Start,
    Restart,
}
