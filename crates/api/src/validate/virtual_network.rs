use ipnet::IpNet;
use weft_net::{RouteDistinguisher, RouteTarget, parse_prefix};

use super::Errors;
use crate::VirtualNetworkSpec;

/// The largest VXLAN network identifier: 24 bits (RFC 7348 §5).
pub const MAX_VNI: u32 = (1 << 24) - 1;

pub(super) fn validate(spec: &VirtualNetworkSpec, errors: &mut Errors) {
    check_vni(errors, "spec.vni", spec.vni);
    prefixes(&spec.subnets, "spec.subnets", errors);
    if let Some(rd) = &spec.route_distinguisher
        && let Err(e) = rd.parse::<RouteDistinguisher>()
    {
        errors.push("spec.routeDistinguisher", e.to_string());
    }
    for (field, list) in [
        ("spec.importRouteTargets", &spec.import_route_targets),
        ("spec.exportRouteTargets", &spec.export_route_targets),
    ] {
        for (i, rt) in list.iter().enumerate() {
            if let Err(e) = rt.parse::<RouteTarget>() {
                errors.push(format!("{field}[{i}]"), e.to_string());
            }
        }
    }
}

pub(super) fn check_vni(errors: &mut Errors, path: &str, vni: u32) {
    if !(1..=MAX_VNI).contains(&vni) {
        errors.push(path, format!("{vni} is not a valid VNI; it must be 1-{MAX_VNI}"));
    }
}

/// Each entry a strict prefix, none overlapping another; returns the parsed ones.
pub(super) fn prefixes(list: &[String], path: &str, errors: &mut Errors) -> Vec<IpNet> {
    let mut parsed: Vec<(usize, IpNet)> = Vec::new();
    for (i, text) in list.iter().enumerate() {
        match parse_prefix(text) {
            Err(e) => errors.push(format!("{path}[{i}]"), e.to_string()),
            Ok(net) => {
                if let Some((j, other)) = parsed.iter().find(|(_, o)| o.contains(&net) || net.contains(o)) {
                    errors.push(
                        format!("{path}[{i}]"),
                        format!("{net} overlaps {path}[{j}] ({other}); subnets must be disjoint"),
                    );
                }
                parsed.push((i, net));
            }
        }
    }
    parsed.into_iter().map(|(_, n)| n).collect()
}
