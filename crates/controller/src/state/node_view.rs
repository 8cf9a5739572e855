//! Each node's slice of the desired state, computed from the store: the networks its pods are on,
//! its pods, and routes to the other nodes' pods of those networks. Pure: objects in, NodeState out.

use std::collections::BTreeMap;
use std::net::IpAddr;

use weft_api::sync::{LocalEndpoint, NetworkState, NodeState, RemoteRoute};
use weft_api::{Node, Resource, VirtualNetwork, WorkloadEndpoint};

/// Computes `node`'s state from all Nodes, VirtualNetworks and WorkloadEndpoints.
pub fn node_state(
    node: &str,
    nodes: &[Node],
    networks: &[VirtualNetwork],
    endpoints: &[WorkloadEndpoint],
) -> NodeState {
    let vni: BTreeMap<&str, u32> = networks
        .iter()
        .map(|vn| (vn.metadata.name.as_deref().unwrap_or_default(), vn.spec.vni))
        .collect();
    let by_name: BTreeMap<&str, &Node> = nodes
        .iter()
        .map(|n| (n.metadata.name.as_deref().unwrap_or_default(), n))
        .collect();
    let mut state = NodeState {
        node: node.to_string(),
        ..Default::default()
    };
    for wep in endpoints.iter().filter(|w| w.spec.node == node) {
        let Some(network) = wep.spec.network.as_deref() else {
            continue;
        };
        let Some(&vni) = vni.get(network) else { continue };
        state.networks.insert(
            network.to_string(),
            NetworkState {
                name: network.to_string(),
                vni,
            },
        );
        let local = LocalEndpoint {
            namespace: wep.metadata.namespace.clone().unwrap_or_default(),
            pod: wep.metadata.name.clone().unwrap_or_default(),
            container_id: wep.spec.container_id.clone(),
            interface: wep.spec.interface.clone(),
            host_interface: wep.spec.host_interface.clone(),
            mac: wep.spec.mac.clone(),
            network: network.to_string(),
            addresses: wep.spec.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
        };
        state.endpoints.insert(local.key(), local);
    }
    for wep in endpoints.iter().filter(|w| w.spec.node != node) {
        let Some(network) = wep.spec.network.as_deref() else {
            continue;
        };
        let Some(net) = state.networks.get(network) else {
            continue;
        };
        // A node that has not registered (no VTEP yet) cannot be routed to.
        let Some(remote) = by_name.get(wep.spec.node.as_str()) else {
            continue;
        };
        let Ok(vtep) = remote.spec.vtep.parse() else { continue };
        for address in wep.spec.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()) {
            let prefix = match address {
                IpAddr::V4(_) => format!("{address}/32"),
                IpAddr::V6(_) => format!("{address}/128"),
            };
            let route = RemoteRoute {
                network: network.to_string(),
                vni: net.vni,
                prefix,
                node: wep.spec.node.clone(),
                vtep,
                router_mac: remote.spec.router_mac.clone(),
            };
            state.routes.insert(route.key(), route);
        }
    }
    state
}

/// Splits stored objects into the three kinds `node_state` reads.
pub fn from_resources(resources: Vec<Resource>) -> (Vec<Node>, Vec<VirtualNetwork>, Vec<WorkloadEndpoint>) {
    let (mut nodes, mut networks, mut endpoints) = (Vec::new(), Vec::new(), Vec::new());
    for r in resources {
        match r {
            Resource::Node(n) => nodes.push(n),
            Resource::VirtualNetwork(v) => networks.push(v),
            Resource::WorkloadEndpoint(w) => endpoints.push(w),
            _ => {}
        }
    }
    (nodes, networks, endpoints)
}
