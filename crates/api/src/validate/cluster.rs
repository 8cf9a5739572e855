use std::net::Ipv4Addr;

use weft_net::Asn;

use super::Errors;
use super::virtual_network::{check_vni, prefixes};
use crate::ClusterSpec;

pub(super) fn validate(spec: &ClusterSpec, errors: &mut Errors) {
    if let Err(e) = Asn::try_from(u64::from(spec.asn)) {
        errors.push("spec.asn", e.to_string());
    }
    if let Some(id) = &spec.router_id
        && id.parse::<Ipv4Addr>().is_err()
    {
        errors.push(
            "spec.routerId",
            format!("{id:?} is not an IPv4 address; a BGP router id is written like one, e.g. 192.0.2.1"),
        );
    }
    if spec.pod_cidrs.is_empty() {
        errors.push("spec.podCIDRs", "at least one prefix is required, e.g. 10.244.0.0/16");
    }
    if spec.service_cidrs.is_empty() {
        errors.push(
            "spec.serviceCIDRs",
            "at least one prefix is required, e.g. 10.96.0.0/16",
        );
    }
    let pods = prefixes(&spec.pod_cidrs, "spec.podCIDRs", errors);
    let services = prefixes(&spec.service_cidrs, "spec.serviceCIDRs", errors);
    for (i, s) in services.iter().enumerate() {
        if let Some(p) = pods.iter().find(|p| p.contains(s) || s.contains(*p)) {
            errors.push(
                format!("spec.serviceCIDRs[{i}]"),
                format!("{s} overlaps the pod CIDR {p}; pod and service addresses must be disjoint"),
            );
        }
    }
    if let Some(vni) = spec.default_vni {
        check_vni(errors, "spec.defaultVni", vni);
    }
}
