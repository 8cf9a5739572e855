//! The kernel objects a node needs, computed from its state, and the difference between two sets
//! of them. Sans-IO: values in, values out; the netlink side lives in [`crate::kernel`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use weft_api::sync::NodeState;

use crate::marks::{self, VXLAN_DEVICE};

/// `ip rule [iif DEV] [tun_id ID] [fwmark MARK] lookup TABLE pref PRIORITY`, per address family.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    pub v6: bool,
    pub priority: u32,
    /// Empty: any interface.
    pub iif: String,
    pub tun_id: Option<u32>,
    /// With the full mask.
    pub fwmark: Option<u32>,
    pub table: u32,
}

/// Where a route sends packets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// `unreachable`: the end of every network's table, so nothing falls through to another.
    Unreachable,
    /// `dev DEV scope link`: a pod on this node.
    Device { dev: String },
    /// `via GATEWAY dev VXLAN onlink encap ip id VNI dst VTEP`: a pod on another node.
    Tunnel { gateway: IpAddr, vni: u32, vtep: Ipv4Addr },
    /// ECMP over tunnels (a Service's virtual IP towards the nodes hosting its endpoints), in
    /// VTEP order.
    Multipath(Vec<Hop>),
}

/// One next hop of a [`Target::Multipath`] route: like [`Target::Tunnel`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hop {
    pub gateway: IpAddr,
    pub vni: u32,
    pub vtep: Ipv4Addr,
}

/// A route's identity is its table and destination; its target may change.
pub type RouteKey = (u32, IpNet);
/// A neighbour's identity is its device and address; its MAC may change.
pub type NeighbourKey = (String, IpAddr);

/// The node-level kernel objects Weft owns (pod interfaces themselves are made by the CNI path).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub rules: BTreeSet<Rule>,
    pub routes: BTreeMap<RouteKey, Target>,
    /// Permanent neighbour entries.
    pub neighbours: BTreeMap<NeighbourKey, [u8; 6]>,
}

/// What to change to go from what is to what should be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub add_rules: Vec<Rule>,
    pub delete_rules: Vec<Rule>,
    /// Added, or replaced when the target differs.
    pub set_routes: Vec<(RouteKey, Target)>,
    pub delete_routes: Vec<RouteKey>,
    pub set_neighbours: Vec<(NeighbourKey, [u8; 6])>,
    pub delete_neighbours: Vec<NeighbourKey>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        *self == Diff::default()
    }

    pub fn len(&self) -> usize {
        self.add_rules.len()
            + self.delete_rules.len()
            + self.set_routes.len()
            + self.delete_routes.len()
            + self.set_neighbours.len()
            + self.delete_neighbours.len()
    }
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn mac(text: &str) -> Option<[u8; 6]> {
    weft_api::validate::check_mac(text).ok()
}

fn host_prefix(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}

/// The node's objects for its state.
pub fn node_plan(state: &NodeState) -> Plan {
    let mut plan = Plan::default();
    for network in state.networks.values() {
        let table = marks::table(network.vni);
        for v6 in [false, true] {
            plan.rules.insert(Rule {
                v6,
                priority: marks::RULE_PRIORITY_DECAP,
                iif: VXLAN_DEVICE.to_string(),
                tun_id: Some(network.vni),
                fwmark: None,
                table,
            });
        }
        plan.routes
            .insert((table, "0.0.0.0/0".parse().unwrap_or_default()), Target::Unreachable);
        plan.routes
            .insert((table, "::/0".parse().unwrap_or_default()), Target::Unreachable);
    }
    for endpoint in state.endpoints.values() {
        let Some(network) = state.networks.get(&endpoint.network) else {
            continue;
        };
        let table = marks::table(network.vni);
        let dev = endpoint
            .host_interface
            .clone()
            .unwrap_or_else(|| marks::pod_interface(&endpoint.container_id, &endpoint.interface));
        for v6 in [false, true] {
            plan.rules.insert(Rule {
                v6,
                priority: marks::RULE_PRIORITY_POD,
                iif: dev.clone(),
                tun_id: None,
                fwmark: None,
                table,
            });
        }
        let pod_mac = endpoint.mac.as_deref().and_then(mac);
        for address in &endpoint.addresses {
            plan.routes
                .insert((table, host_prefix(*address)), Target::Device { dev: dev.clone() });
            if let Some(m) = pod_mac {
                plan.neighbours.insert((dev.clone(), *address), m);
            }
        }
    }
    for route in state.routes.values() {
        let Ok(prefix) = route.prefix.parse::<IpNet>() else {
            continue;
        };
        let Some(router_mac) = mac(&route.router_mac) else {
            continue;
        };
        // The table is the local network's; the VNI in the packet is the one the route
        // advertises, which a network joined with another cluster's may not share.
        let local_vni = state.networks.get(&route.network).map_or(route.vni, |n| n.vni);
        let table = marks::table(local_vni);
        let gateway = match prefix {
            IpNet::V4(_) => IpAddr::V4(route.vtep),
            IpNet::V6(_) => IpAddr::V6(marks::vtep_gateway_v6(route.vtep)),
        };
        plan.routes.insert(
            (table, prefix),
            Target::Tunnel {
                gateway,
                vni: route.vni,
                vtep: route.vtep,
            },
        );
        plan.neighbours.insert((VXLAN_DEVICE.to_string(), gateway), router_mac);
    }
    services_plan(state, &mut plan);
    plan
}

/// A Service's virtual IPs in its network's table: ECMP over VXLAN to the other nodes hosting
/// its endpoints (traffic that arrives without being translated here, e.g. from another cluster,
/// reaches a node that translates it), or, with no such node, into the VXLAN device without a
/// tunnel (a sink: the packet only needs a route to reach the forward hook, where nftables
/// refuses it, see [`crate::services`]). And, per network, the rule that routes the node's
/// refusals (marked with the table) back to the pods.
fn services_plan(state: &NodeState, plan: &mut Plan) {
    if state.services.is_empty() {
        return;
    }
    for network in state.networks.values() {
        let table = marks::table(network.vni);
        for v6 in [false, true] {
            plan.rules.insert(Rule {
                v6,
                priority: marks::RULE_PRIORITY_REFLECT,
                iif: String::new(),
                tun_id: None,
                fwmark: Some(table),
                table,
            });
        }
    }
    for service in state.services.values() {
        let Some(network) = state.networks.get(&service.network) else {
            continue;
        };
        let table = marks::table(network.vni);
        let mut hops: Vec<(Ipv4Addr, [u8; 6])> = service
            .vip_nodes
            .iter()
            .filter(|n| n.node != state.node)
            .filter_map(|n| Some((n.vtep, mac(&n.router_mac)?)))
            .collect();
        hops.sort();
        hops.dedup_by_key(|(vtep, _)| *vtep);
        for ip in &service.cluster_ips {
            let gateway = |vtep: Ipv4Addr| match ip {
                IpAddr::V4(_) => IpAddr::V4(vtep),
                IpAddr::V6(_) => IpAddr::V6(marks::vtep_gateway_v6(vtep)),
            };
            // One hop is an ordinary route (the kernel keeps a one-hop multipath route as one).
            let target = if hops.is_empty() {
                Target::Device {
                    dev: VXLAN_DEVICE.to_string(),
                }
            } else if let [(vtep, _)] = hops.as_slice() {
                Target::Tunnel {
                    gateway: gateway(*vtep),
                    vni: network.vni,
                    vtep: *vtep,
                }
            } else {
                Target::Multipath(
                    hops.iter()
                        .map(|(vtep, _)| Hop {
                            gateway: gateway(*vtep),
                            vni: network.vni,
                            vtep: *vtep,
                        })
                        .collect(),
                )
            };
            plan.routes.insert((table, host_prefix(*ip)), target);
            for (vtep, router_mac) in &hops {
                plan.neighbours
                    .insert((VXLAN_DEVICE.to_string(), gateway(*vtep)), *router_mac);
            }
        }
    }
}

/// The changes that turn `observed` into `desired`.
pub fn diff(desired: &Plan, observed: &Plan) -> Diff {
    Diff {
        add_rules: desired.rules.difference(&observed.rules).cloned().collect(),
        delete_rules: observed.rules.difference(&desired.rules).cloned().collect(),
        set_routes: desired
            .routes
            .iter()
            .filter(|(k, t)| observed.routes.get(*k) != Some(*t))
            .map(|(k, t)| (*k, t.clone()))
            .collect(),
        delete_routes: observed
            .routes
            .keys()
            .filter(|k| !desired.routes.contains_key(*k))
            .copied()
            .collect(),
        set_neighbours: desired
            .neighbours
            .iter()
            .filter(|(k, m)| observed.neighbours.get(*k) != Some(*m))
            .map(|(k, m)| (k.clone(), *m))
            .collect(),
        delete_neighbours: observed
            .neighbours
            .keys()
            .filter(|k| !desired.neighbours.contains_key(*k))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::sync::{LocalEndpoint, NetworkState, RemoteRoute};

    fn state() -> NodeState {
        let mut s = NodeState {
            node: "n1".into(),
            ..Default::default()
        };
        s.networks.insert(
            "default".into(),
            NetworkState {
                name: "default".into(),
                vni: 1,
            },
        );
        let e = LocalEndpoint {
            namespace: "default".into(),
            pod: "a".into(),
            container_id: "c1".into(),
            interface: "eth0".into(),
            host_interface: None,
            mac: Some("02:00:00:00:00:0a".into()),
            network: "default".into(),
            addresses: vec!["10.244.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
        };
        s.endpoints.insert(e.key(), e);
        for prefix in ["10.244.0.2/32", "fd00::2/128"] {
            let r = RemoteRoute {
                network: "default".into(),
                vni: 1,
                prefix: prefix.into(),
                node: "n2".into(),
                vtep: Ipv4Addr::new(192, 0, 2, 2),
                router_mac: "02:00:00:00:00:02".into(),
            };
            s.routes.insert(r.key(), r);
        }
        s
    }

    #[test]
    fn a_node_with_one_local_and_one_remote_pod() {
        let plan = node_plan(&state());
        let table = marks::table(1);
        // Pod rules and decap rules, for both families.
        assert_eq!(plan.rules.len(), 4);
        // Two unreachable defaults, two local /32 and /128, two remote.
        assert_eq!(plan.routes.len(), 6);
        let remote6 = &plan.routes[&(table, "fd00::2/128".parse().unwrap())];
        assert_eq!(
            remote6,
            &Target::Tunnel {
                gateway: "fe80::c000:202".parse().unwrap(),
                vni: 1,
                vtep: Ipv4Addr::new(192, 0, 2, 2)
            }
        );
        // Neighbours: the pod's two addresses on its host interface, the VTEP and its v6 gateway.
        assert_eq!(plan.neighbours.len(), 4);
        assert!(
            plan.neighbours
                .contains_key(&(VXLAN_DEVICE.to_string(), "192.0.2.2".parse().unwrap()))
        );
    }

    #[test]
    fn diff_adds_what_is_missing_and_removes_what_is_extra() {
        let desired = node_plan(&state());
        assert_eq!(diff(&desired, &desired), Diff::default());
        let from_nothing = diff(&desired, &Plan::default());
        assert_eq!(from_nothing.len(), 4 + 6 + 4);
        let mut moved = state();
        for r in moved.routes.values_mut() {
            r.vtep = Ipv4Addr::new(192, 0, 2, 3);
        }
        let d = diff(&node_plan(&moved), &desired);
        // Routes are replaced in place; the old VTEP's neighbours go, the new one's come.
        assert_eq!(d.set_routes.len(), 2);
        assert!(d.delete_routes.is_empty());
        assert_eq!(d.delete_neighbours.len(), 2);
        assert_eq!(d.set_neighbours.len(), 2);
    }
}
