//! What the cluster advertises: every workload endpoint's addresses as EVPN type 5 routes of its
//! network (RFC 9136 §3), with the next hop and router's MAC of the node that hosts it, so that
//! traffic from other clusters goes straight to that node and never through a gateway.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use weft_api::{Node, WorkloadEndpoint};
use weft_bgp::fsm::Time;
use weft_bgp::nlri::{Evpn, EvpnRoute, Label, Nlri, VpnPrefix};
use weft_bgp::rib::{Path, RouteKey};

use super::routing::VnRouting;

/// Each node's VTEP and router MAC. A node without them has not registered fully: nothing can
/// reach it yet, so nothing is advertised through it.
fn tunnels(nodes: &[Node]) -> BTreeMap<&str, (Ipv4Addr, [u8; 6])> {
    nodes
        .iter()
        .filter_map(|n| {
            let vtep = n.spec.vtep.parse().ok()?;
            let mac = weft_api::validate::check_mac(&n.spec.router_mac).ok()?;
            Some((n.metadata.name.as_deref()?, (vtep, mac)))
        })
        .collect()
}

/// The routes to originate, by Loc-RIB key.
pub fn desired(
    asn: u32,
    router_id: Ipv4Addr,
    networks: &BTreeMap<String, VnRouting>,
    nodes: &[Node],
    endpoints: &[WorkloadEndpoint],
) -> BTreeMap<RouteKey, Path> {
    let tunnels = tunnels(nodes);
    let mut out = BTreeMap::new();
    for wep in endpoints {
        let Some(routing) = wep.spec.network.as_deref().and_then(|n| networks.get(n)) else {
            continue;
        };
        let Some(&(vtep, mac)) = tunnels.get(wep.spec.node.as_str()) else {
            continue;
        };
        let vrf = routing.vrf(mac);
        for address in wep.spec.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()) {
            let prefix = IpNet::from(address);
            let path = vrf.export_path(prefix, IpAddr::V4(vtep), asn, router_id, Time::ZERO);
            out.insert(vrf.export_key(prefix), path);
        }
    }
    out
}

/// Each Service's ClusterIPs, from every node that hosts one of its endpoints: the next hop is
/// that node, which translates to its local endpoints (the ClusterIP is an ordinary route of the
/// network). A VIP leaves from several nodes, so each node's routes get an RD of their own, the
/// node's VTEP and the network's VNI (RFC 7432 §7.9: one RD per EVPN instance per router), or
/// the routes of different nodes would be one route.
pub fn service_routes(
    asn: u32,
    router_id: Ipv4Addr,
    networks: &BTreeMap<String, VnRouting>,
    nodes: &[Node],
    services: &BTreeMap<String, weft_api::sync::ServiceState>,
) -> BTreeMap<RouteKey, Path> {
    let tunnels = tunnels(nodes);
    let mut out = BTreeMap::new();
    for svc in services.values() {
        let Some(routing) = networks.get(&svc.network) else {
            continue;
        };
        let hosting: std::collections::BTreeSet<&str> = svc.endpoints.iter().map(|e| e.node.as_str()).collect();
        for node in hosting {
            let Some(&(vtep, mac)) = tunnels.get(node) else {
                continue;
            };
            let Ok(rd) = format!("{vtep}:{}", routing.vni & 0xffff).parse() else {
                continue;
            };
            let mut per_node = routing.clone();
            per_node.rd = rd;
            let vrf = per_node.vrf(mac);
            for ip in &svc.cluster_ips {
                let prefix = IpNet::from(*ip);
                let path = vrf.export_path(prefix, IpAddr::V4(vtep), asn, router_id, Time::ZERO);
                out.insert(vrf.export_key(prefix), path);
            }
        }
    }
    out
}

/// The VPNv4/VPNv6 twin of an exported EVPN IP prefix route, for peers that speak L3VPN only
/// (RFC 4364 §4.3.2, RFC 4659): same RD, prefix, next hop and extended communities (route
/// targets, router's MAC, VXLAN encapsulation, RFC 9012 §4.1), the VNI as the MPLS label with
/// the bottom-of-stack bit (RFC 8277 §2: L3VPN parsers read labels up to that bit), so VNIs up
/// to 2^20 - 1 only.
pub fn vpn_twin(path: &Path) -> Option<(RouteKey, Path)> {
    let Nlri::Evpn(Evpn {
        route: EvpnRoute::IpPrefix(r),
        ..
    }) = &path.nlri
    else {
        return None;
    };
    let label = Label::mpls(r.label.raw(), true)?;
    let nlri = Nlri::Vpn(VpnPrefix::new(label, r.rd, r.prefix));
    let mut twin = path.clone();
    twin.nlri = nlri;
    Some((
        RouteKey::Vpn {
            rd: r.rd,
            net: r.prefix,
        },
        twin,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use weft_api::{NodeSpec, ObjectMeta, WorkloadEndpointSpec};
    use weft_bgp::attribute::ExtendedCommunity;
    use weft_bgp::nlri::{EvpnRoute, Nlri};

    fn routing() -> VnRouting {
        VnRouting {
            name: "blue".into(),
            vni: 100,
            rd: "192.0.2.10:100".parse().unwrap(),
            import: BTreeSet::from(["65000:1".parse().unwrap()]),
            export: BTreeSet::from(["65000:1".parse().unwrap()]),
            local_subnets: vec![],
        }
    }

    fn node(name: &str, vtep: &str, mac: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: NodeSpec {
                vtep: vtep.into(),
                router_mac: mac.into(),
                mtu: 1450,
            },
            status: None,
        }
    }

    fn wep(name: &str, node: &str, network: &str, addresses: &[&str]) -> WorkloadEndpoint {
        WorkloadEndpoint {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            spec: WorkloadEndpointSpec {
                node: node.into(),
                network: Some(network.into()),
                addresses: addresses.iter().map(|a| a.to_string()).collect(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn each_address_leaves_from_its_own_node() {
        let networks = BTreeMap::from([("blue".to_string(), routing())]);
        let nodes = [
            node("n1", "192.0.2.11", "02:00:00:00:00:11"),
            node("n2", "192.0.2.12", "02:00:00:00:00:12"),
        ];
        let weps = [
            wep("a", "n1", "blue", &["10.1.0.5", "fd00::5"]),
            wep("b", "n2", "blue", &["10.1.0.6"]),
            wep("c", "n2", "red", &["10.2.0.6"]),
            wep("d", "n9", "blue", &["10.1.0.9"]),
        ];
        let out = desired(64512, "192.0.2.10".parse().unwrap(), &networks, &nodes, &weps);
        assert_eq!(out.len(), 3, "{out:#?}");
        let b = out
            .values()
            .find(|p| p.nlri.to_string().contains("10.1.0.6"))
            .expect("b's route");
        assert_eq!(b.next_hop.map(|h| h.address.to_string()).as_deref(), Some("192.0.2.12"));
        assert!(
            b.attributes
                .extended_communities
                .contains(&ExtendedCommunity::RouterMac([2, 0, 0, 0, 0, 0x12]))
        );
        let Nlri::Evpn(e) = &b.nlri else { panic!("not EVPN") };
        let EvpnRoute::IpPrefix(r) = &e.route else {
            panic!("not type 5")
        };
        assert_eq!(r.label.raw(), 100);
        assert_eq!(r.rd.to_string(), "192.0.2.10:100");
    }
}
