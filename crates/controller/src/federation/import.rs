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
            route.prefix, network.name, route.source
        ));
    }
    None
}

/// The route for the nodes of `network`, or why it has none.
pub fn remote_route(network: &VnRouting, route: &VrfRoute) -> Result<RemoteRoute, String> {
    if let Some(reason) = refusal(network, route) {
        return Err(reason);
    }
    // An L3VPN route with the VXLAN encapsulation carries the VNI as its MPLS label.
    let vpn_vni = route
        .label
        .filter(|_| route.encapsulation == Some(weft_bgp::attribute::tunnel_type::VXLAN))
        .map(|l| l.mpls_label());
    let Some(vni) = route.vni.or(vpn_vni) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::net::Ipv4Addr;
    use weft_bgp::rib::ExportEncoding;

    fn routing(subnets: &[&str]) -> VnRouting {
        VnRouting {
            name: "shared".into(),
            vni: 100,
            rd: "192.0.2.10:100".parse().unwrap(),
            import: BTreeSet::from(["65000:1".parse().unwrap()]),
            export: BTreeSet::from(["65000:1".parse().unwrap()]),
            local_subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    /// A route as another cluster exports it (its own VRF's export path, imported here).
    fn remote(prefix: &str, encoding: ExportEncoding) -> VrfRoute {
        let mut theirs = routing(&[]);
        theirs.rd = "198.51.100.10:200".parse().unwrap();
        let vrf = weft_bgp::rib::Vrf::new("x", theirs.rd, theirs.import, theirs.export, encoding);
        let path = vrf.export_path(
            prefix.parse().unwrap(),
            "198.51.100.11".parse().unwrap(),
            64502,
            Ipv4Addr::new(198, 51, 100, 10),
            weft_bgp::fsm::Time::ZERO,
        );
        let mut table = routing(&[]).vrf([0; 6]);
        let key = vrf.export_key(prefix.parse().unwrap());
        let mut path = path;
        path.peer = weft_bgp::rib::PeerId(7);
        let change = weft_bgp::rib::BestChange::new(key, None, Some(path));
        let out = table.apply(&[change], &weft_bgp::rib::DecisionConfig::new(64501));
        out.into_iter().next().and_then(|c| c.new).expect("imported")
    }

    const EVPN: ExportEncoding = ExportEncoding::Evpn {
        vni: 200,
        router_mac: [2, 0, 0, 0, 0, 0x0b],
        encapsulation: weft_bgp::attribute::tunnel_type::VXLAN,
    };

    #[test]
    fn a_remote_endpoint_becomes_a_tunnel_route() {
        let r = remote_route(&routing(&["10.244.0.0/16"]), &remote("10.245.0.7/32", EVPN)).unwrap();
        assert_eq!(
            (r.prefix.as_str(), r.vni, r.vtep.to_string()),
            ("10.245.0.7/32", 200, "198.51.100.11".into())
        );
        assert_eq!(r.router_mac, "02:00:00:00:00:0b");
        assert_eq!(r.network, "shared");
    }

    #[test]
    fn overlaps_and_unusable_routes_are_refused_with_the_reason() {
        let e = remote_route(&routing(&["10.244.0.0/16"]), &remote("10.244.3.3/32", EVPN)).unwrap_err();
        assert!(
            e.contains("overlaps 10.244.0.0/16") && e.contains("network shared"),
            "{e}"
        );
        let vpn = ExportEncoding::Vpn {
            label: weft_bgp::nlri::Label::mpls(16, true).unwrap(),
        };
        let e = remote_route(&routing(&[]), &remote("10.245.0.7/32", vpn)).unwrap_err();
        assert!(e.contains("no VNI"), "{e}");
    }
}
