//! What the cluster learns: a VRF route from another cluster (EVPN type 5 with VXLAN, RFC 9136
//! §3 and RFC 8365 §5.1.3) as a route the nodes install, or the reason it cannot be one.

use std::net::IpAddr;

use weft_api::sync::RemoteRoute;
use weft_bgp::rib::VrfRoute;

use super::routing::VnRouting;

/// Why an imported route is not installed; shown to the operator as is.
pub fn refusal(network: &VnRouting, route: &VrfRoute) -> Option<String> {
    if let Some(local) = network
        .local_subnets
        .iter()
        .find(|s| s.contains(&route.prefix) || route.prefix.contains(*s))
    {
        return Some(format!(
            "{} overlaps {local}, a subnet of network {} here; give the clusters distinct pod CIDRs or subnets, or stop importing {}",
            route.prefix,
            network.name,
            route.source
        ));
    }
    None
}

/// The route for the nodes of `network`, or why it has none.
pub fn remote_route(network: &VnRouting, route: &VrfRoute) -> Result<RemoteRoute, String> {
    if let Some(reason) = refusal(network, route) {
        return Err(reason);
    }
    let Some(vni) = route.vni else {
        return Err(format!(
            "{} from {}: not an EVPN route with VXLAN encapsulation (no VNI); Weft's nodes forward over VXLAN only",
            route.prefix, route.source
        ));
    };
    let Some(mac) = route.router_mac else {
        return Err(format!(
            "{} from {}: no router's MAC extended community (RFC 9135 §8.1); the node cannot address the remote VTEP",
            route.prefix, route.source
        ));
    };
    let vtep = match route.next_hop.map(|h| h.address) {
        Some(IpAddr::V4(v4)) if !v4.is_unspecified() => v4,
        other => {
            return Err(format!(
                "{} from {}: next hop {other:?} is not an IPv4 VTEP address",
                route.prefix, route.source
            ));
        }
    };
    Ok(RemoteRoute {
        network: network.name.clone(),
        vni,
        prefix: route.prefix.to_string(),
        node: format!("vtep {vtep}"),
        vtep,
        router_mac: mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
    })
}
