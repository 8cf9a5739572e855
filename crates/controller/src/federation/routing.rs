//! A VirtualNetwork's BGP identity: the route distinguisher and route targets its routes carry
//! (RFC 4364 §4.2-4.3, RFC 9136 §3), with the defaults the API documents.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::IpNet;
use weft_api::VirtualNetwork;
use weft_bgp::attribute::tunnel_type;
use weft_bgp::rib::{ExportEncoding, Vrf};
use weft_net::{RouteDistinguisher, RouteTarget};

/// What the speaker needs to export and import one network's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VnRouting {
    pub name: String,
    pub vni: u32,
    pub rd: RouteDistinguisher,
    pub import: BTreeSet<RouteTarget>,
    pub export: BTreeSet<RouteTarget>,
    /// The network's own prefixes here: imported routes inside them are refused.
    pub local_subnets: Vec<IpNet>,
}

fn targets(field: &str, given: &[String], default: &str) -> Result<BTreeSet<RouteTarget>, String> {
    let texts: Vec<&str> = if given.is_empty() {
        vec![default]
    } else {
        given.iter().map(String::as_str).collect()
    };
    texts
        .into_iter()
        .map(|t| {
            t.parse::<RouteTarget>().map_err(|e| {
                if given.is_empty() {
                    format!("the default {field} {t} is not a route target ({e}); set {field} explicitly")
                } else {
                    format!("{field} {t}: {e}")
                }
            })
        })
        .collect()
}

/// The routing of `vn` in a cluster of AS `asn` whose speaker has `router_id`. Defaults: RD
/// `ROUTER-ID:VNI`, route targets `ASN:VNI`; subnets: the VN's, else the cluster's pod CIDRs.
pub fn vn_routing(
    vn: &VirtualNetwork,
    asn: u32,
    router_id: Ipv4Addr,
    pod_cidrs: &[String],
) -> Result<VnRouting, String> {
    let name = vn.metadata.name.clone().unwrap_or_default();
    let vni = vn.spec.vni;
    let default_rd = format!("{router_id}:{vni}");
    let rd_text = vn.spec.route_distinguisher.as_deref().unwrap_or(&default_rd);
    let rd = rd_text.parse::<RouteDistinguisher>().map_err(|e| {
        if vn.spec.route_distinguisher.is_none() {
            format!("the default spec.routeDistinguisher {rd_text} is not usable ({e}); set spec.routeDistinguisher")
        } else {
            format!("spec.routeDistinguisher {rd_text}: {e}")
        }
    })?;
    let default_rt = format!("{asn}:{vni}");
    let import = targets("spec.importRouteTargets", &vn.spec.import_route_targets, &default_rt)?;
    let export = targets("spec.exportRouteTargets", &vn.spec.export_route_targets, &default_rt)?;
    let subnets = if vn.spec.subnets.is_empty() {
        pod_cidrs
    } else {
        &vn.spec.subnets
    };
    let local_subnets = subnets.iter().filter_map(|s| s.parse().ok()).collect();
    Ok(VnRouting {
        name,
        vni,
        rd,
        import,
        export,
        local_subnets,
    })
}

impl VnRouting {
    /// The network as a VRF of the speaker, exporting EVPN type 5 routes with VXLAN
    /// encapsulation (RFC 9136 §3, RFC 8365 §5.1.3) through `router_mac` (RFC 9135 §8.1).
    pub fn vrf(&self, router_mac: [u8; 6]) -> Vrf {
        Vrf::new(
            self.name.clone(),
            self.rd,
            self.import.iter().copied(),
            self.export.iter().copied(),
            ExportEncoding::Evpn {
                vni: self.vni,
                router_mac,
                encapsulation: tunnel_type::VXLAN,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::{ObjectMeta, VirtualNetworkSpec};

    fn vn(spec: VirtualNetworkSpec) -> VirtualNetwork {
        VirtualNetwork {
            metadata: ObjectMeta {
                name: Some("blue".into()),
                ..Default::default()
            },
            spec,
            status: None,
        }
    }

    #[test]
    fn defaults_follow_the_cluster() {
        let r = vn_routing(
            &vn(VirtualNetworkSpec {
                vni: 4096,
                ..Default::default()
            }),
            64512,
            Ipv4Addr::new(192, 0, 2, 10),
            &["10.244.0.0/16".into()],
        )
        .unwrap();
        assert_eq!(r.rd.to_string(), "192.0.2.10:4096");
        assert_eq!(
            r.import.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            ["64512:4096"]
        );
        assert_eq!(r.import, r.export);
        assert_eq!(r.local_subnets, vec!["10.244.0.0/16".parse::<IpNet>().unwrap()]);
    }

    #[test]
    fn given_values_win_and_bad_ones_are_named() {
        let r = vn_routing(
            &vn(VirtualNetworkSpec {
                vni: 100,
                subnets: vec!["10.1.0.0/24".into()],
                route_distinguisher: Some("64512:7".into()),
                import_route_targets: vec!["65000:1".into(), "65000:2".into()],
                export_route_targets: vec!["65000:1".into()],
            }),
            64512,
            Ipv4Addr::new(192, 0, 2, 10),
            &["10.244.0.0/16".into()],
        )
        .unwrap();
        assert_eq!(r.rd.to_string(), "64512:7");
        assert_eq!(r.import.len(), 2);
        assert_eq!(r.export.len(), 1);
        assert_eq!(r.local_subnets, vec!["10.1.0.0/24".parse::<IpNet>().unwrap()]);
        // A 4-octet AS leaves 2 octets for the VNI: a large VNI needs explicit targets.
        let e = vn_routing(
            &vn(VirtualNetworkSpec {
                vni: 100_000,
                route_distinguisher: Some("64512:7".into()),
                ..Default::default()
            }),
            4_200_000_000,
            Ipv4Addr::new(192, 0, 2, 10),
            &[],
        )
        .unwrap_err();
        assert!(e.contains("spec.importRouteTargets"), "{e}");
    }
}
