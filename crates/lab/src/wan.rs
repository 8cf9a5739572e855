//! The WAN between the lab's clusters: a router namespace with a leg on every cluster's underlay
//! (the clouds' site-to-site VPN or direct connect), and, for the route-server topology, FRR's
//! bgpd on it passing EVPN routes between the clusters' controllers with next hops unchanged.

use std::path::Path;
use std::time::Duration;

use crate::cmd::{self, ip};
use crate::state::{LabState, ProcessState, WanState};
use crate::topology::{ClusterTopology, Topology, Wan};
use crate::up::netns_name;
use crate::{LabError, process};

const FRR_LIB: &str = "/usr/lib/frr";

/// The router's interface towards cluster `index`.
pub fn router_port(index: usize) -> String {
    format!("to-{index}")
}

/// Makes the router namespace, forwarding on.
pub fn build_router(state: &mut LabState) -> Result<(), LabError> {
    let ns = netns_name(&state.name, "wan", "router");
    ip(&["netns", "add", &ns])?;
    state.wan = Some(WanState {
        netns: ns.clone(),
        daemons: Vec::new(),
        vty_dir: None,
    });
    state.save()?;
    ip(&["-n", &ns, "link", "set", "lo", "up"])?;
    cmd::run(
        "ip",
        &[
            "netns",
            "exec",
            &ns,
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.conf.all.forwarding=1",
        ],
    )?;
    Ok(())
}

/// Plugs the router into a cluster's underlay bridge with the cluster's gateway address.
pub fn plug_router(router: &str, underlay: &str, index: usize, c: &ClusterTopology) -> Result<(), LabError> {
    let port = router_port(index);
    let mtu = c.mtu.to_string();
    ip(&[
        "-n", router, "link", "add", &port, "mtu", &mtu, "type", "veth", "peer", "name", "wan", "netns", underlay,
    ])?;
    ip(&["-n", underlay, "link", "set", "wan", "mtu", &mtu, "master", "br0", "up"])?;
    let address = format!("{}/{}", c.gateway_address(), c.underlay.prefix_len());
    ip(&["-n", router, "addr", "add", &address, "dev", &port])?;
    ip(&["-n", router, "link", "set", &port, "up"])?;
    Ok(())
}

/// Cuts (or restores) the WAN link of one cluster, as a failed VPN tunnel would.
pub fn set_link(state: &LabState, cluster: &str, up: bool) -> Result<(), LabError> {
    let wan = state
        .wan
        .as_ref()
        .ok_or_else(|| LabError::Usage(format!("lab {} has no WAN (one cluster)", state.name)))?;
    let index = state
        .clusters
        .iter()
        .position(|c| c.name == cluster)
        .ok_or_else(|| LabError::Usage(format!("no cluster {cluster:?}")))?;
    let port = router_port(index);
    ip(&["-n", &wan.netns, "link", "set", &port, if up { "up" } else { "down" }])?;
    Ok(())
}

/// uid and gid of a user, from /etc/passwd.
fn user_ids(user: &str) -> Result<(u32, u32), LabError> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(LabError::io("reading /etc/passwd"))?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == user)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| {
            LabError::Usage(format!(
                "no user {user:?}: install the frr package (apt-get install frr)"
            ))
        })
}

/// bgpd's configuration for the route server: eBGP with every controller, EVPN, next hops and
/// route targets passed on unchanged (RFC 7947 §2.2: a route server is not on the data path).
pub fn route_server_config(topology: &Topology, wan: &Wan) -> String {
    let router_id = topology
        .clusters
        .first()
        .map(|c| c.gateway_address().to_string())
        .unwrap_or_default();
    let mut c = String::new();
    c += "frr defaults traditional\nhostname wan-router\nlog stdout informational\n!\n";
    c += &format!("router bgp {}\n bgp router-id {router_id}\n", wan.asn);
    c += " no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n no bgp network import-check\n";
    let keepalive = (wan.hold_time / 3).max(1);
    for cl in &topology.clusters {
        let a = cl.controller_address();
        c += &format!(" neighbor {a} remote-as {}\n", cl.asn);
        c += &format!(" neighbor {a} description {}\n", cl.name);
        c += &format!(" neighbor {a} timers {keepalive} {}\n", wan.hold_time);
        c += &format!(" neighbor {a} timers connect 2\n");
        c += &format!(" neighbor {a} advertisement-interval 0\n");
    }
    c += " !\n address-family l2vpn evpn\n";
    for cl in &topology.clusters {
        let a = cl.controller_address();
        c += &format!("  neighbor {a} activate\n  neighbor {a} attribute-unchanged next-hop\n");
    }
    c += " exit-address-family\n!\n";
    c
}

/// Starts zebra and bgpd in the router namespace (foreground, detached, logs in `dir`), and
/// waits until bgpd answers on its vty.
pub fn start_route_server(state: &mut LabState, topology: &Topology, wan: &Wan) -> Result<(), LabError> {
    let ns = state
        .wan
        .as_ref()
        .map(|w| w.netns.clone())
        .ok_or_else(|| LabError::Usage("the WAN router is not built".into()))?;
    let dir = state.dir.join("wan");
    std::fs::create_dir_all(&dir).map_err(LabError::io(format!("creating {}", dir.display())))?;
    // The daemons drop privileges to user frr, which must own their directory.
    let (uid, gid) = user_ids("frr")?;
    std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
        .map_err(LabError::io(format!("chown frr {}", dir.display())))?;
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(LabError::io(format!("writing {}", path.display())))
    };
    write("zebra.conf", "hostname wan-router\n")?;
    write("bgpd.conf", &route_server_config(topology, wan))?;
    let d = dir.display().to_string();
    let args = |daemon: &str| -> Vec<String> {
        [
            "-f",
            &format!("{d}/{daemon}.conf"),
            "-i",
            &format!("{d}/{daemon}.pid"),
            "-z",
            &format!("{d}/zserv.api"),
            "--vty_socket",
            &d,
            "-P",
            "0",
            "--log",
            "stdout",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    for daemon in ["zebra", "bgpd"] {
        let program = Path::new(FRR_LIB).join(daemon);
        if !program.exists() {
            return Err(LabError::Usage(format!(
                "{} is missing: install FRR (apt-get install frr)",
                program.display()
            )));
        }
        let mut a = args(daemon);
        if daemon == "bgpd" {
            a.push("-n".into()); // no kernel routes: the router forwards by its connected routes
        }
        let log = dir.join(format!("{daemon}.log"));
        let pid = process::spawn(&program, &a, Some(&ns), &log)?;
        if let Some(w) = state.wan.as_mut() {
            w.daemons.push(ProcessState {
                pid,
                netns: ns.clone(),
                log: log.clone(),
                program: program.clone(),
                args: a.clone(),
                exec_netns: Some(ns.clone()),
                ready_file: dir.join(format!("{daemon}.vty")),
            });
            w.vty_dir = Some(dir.clone());
        }
        state.save()?;
        let ready = dir.join(format!("{daemon}.vty"));
        process::wait_for_path(&ready, pid, Duration::from_secs(20), &log)?;
    }
    // The vty socket exists a moment before bgpd answers on it.
    for _ in 0..100 {
        if vtysh(state, "show bgp summary json").is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(LabError::NotReady(format!(
        "bgpd on the WAN router does not answer vtysh; see {}",
        dir.join("bgpd.log").display()
    )))
}

/// Runs one vtysh command against the WAN router's FRR.
pub fn vtysh(state: &LabState, command: &str) -> Result<String, LabError> {
    let dir = state
        .wan
        .as_ref()
        .and_then(|w| w.vty_dir.clone())
        .ok_or_else(|| LabError::Usage(format!("lab {} has no FRR on its WAN router", state.name)))?;
    let d = dir.display().to_string();
    cmd::run("vtysh", &["--vty_socket", &d, "-c", command])
}
