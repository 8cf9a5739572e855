use std::collections::BTreeSet;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::labels;
use super::names::{dns1123_label, iana_svc_name};
use super::{Errors, check_port, check_protocol};

/// A Service of type ClusterIP, the type Weft serves (headless with clusterIP None too).
pub(super) fn validate(svc: &Service, errors: &mut Errors) {
    let Some(spec) = &svc.spec else {
        errors.push("spec", "required; a Service needs spec.ports");
        return;
    };
    if let Some(t) = spec.type_.as_deref()
        && t != "ClusterIP"
    {
        errors.push(
            "spec.type",
            format!("{t:?} is not supported yet; Weft serves type ClusterIP (remove spec.type or set it to ClusterIP)"),
        );
    }
    let ports = spec.ports.as_deref().unwrap_or_default();
    let headless = spec.cluster_ip.as_deref() == Some("None");
    if ports.is_empty() && !headless {
        errors.push(
            "spec.ports",
            "at least one port is required (only a headless Service, clusterIP: None, may have none)",
        );
    }
    let mut names = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        check_port(errors, &format!("{at}.port"), p.port);
        check_protocol(errors, &format!("{at}.protocol"), p.protocol.as_deref());
        match p.name.as_deref() {
            None | Some("") if ports.len() > 1 => {
                errors.push(format!("{at}.name"), "required when a Service has more than one port")
            }
            None | Some("") => {}
            Some(name) => {
                if let Err(e) = dns1123_label(name) {
                    errors.push(format!("{at}.name"), e);
                } else if !names.insert(name) {
                    errors.push(
                        format!("{at}.name"),
                        format!("{name:?} names another port of this Service"),
                    );
                }
            }
        }
        let protocol = p.protocol.as_deref().unwrap_or("TCP");
        if !seen.insert((p.port, protocol)) {
            errors.push(format!("{at}.port"), format!("{}/{protocol} is listed twice", p.port));
        }
        match &p.target_port {
            Some(IntOrString::Int(n)) => check_port(errors, &format!("{at}.targetPort"), *n),
            Some(IntOrString::String(name)) => {
                if let Err(e) = iana_svc_name(name) {
                    errors.push(format!("{at}.targetPort"), e);
                }
            }
            None => {}
        }
    }
    let cluster_ips: Vec<&str> = spec.cluster_ips.iter().flatten().map(String::as_str).collect();
    if let (Some(ip), Some(first)) = (spec.cluster_ip.as_deref(), cluster_ips.first())
        && !ip.is_empty()
        && ip != *first
    {
        errors.push("spec.clusterIPs[0]", format!("must equal spec.clusterIP ({ip})"));
    }
    if let Some(ip) = spec.cluster_ip.as_deref() {
        check_cluster_ip(errors, "spec.clusterIP", ip);
    }
    for (i, ip) in cluster_ips.iter().enumerate() {
        check_cluster_ip(errors, &format!("spec.clusterIPs[{i}]"), ip);
    }
    for (i, family) in spec.ip_families.iter().flatten().enumerate() {
        if !matches!(family.as_str(), "IPv4" | "IPv6") {
            errors.push(
                format!("spec.ipFamilies[{i}]"),
                format!("{family:?} is not an IP family; use IPv4 or IPv6"),
            );
        }
    }
    for (path, value, allowed) in [
        (
            "spec.ipFamilyPolicy",
            spec.ip_family_policy.as_deref(),
            &["SingleStack", "PreferDualStack", "RequireDualStack"][..],
        ),
        (
            "spec.sessionAffinity",
            spec.session_affinity.as_deref(),
            &["None", "ClientIP"][..],
        ),
        (
            "spec.internalTrafficPolicy",
            spec.internal_traffic_policy.as_deref(),
            &["Cluster", "Local"][..],
        ),
    ] {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            errors.push(path, format!("{v:?} is not allowed; use one of {}", allowed.join(", ")));
        }
    }
    labels(spec.selector.as_ref(), "spec.selector", errors);
}

fn check_cluster_ip(errors: &mut Errors, path: &str, ip: &str) {
    if !ip.is_empty() && ip != "None" && ip.parse::<IpAddr>().is_err() {
        errors.push(path, format!("{ip:?} is not an IP address; give an address from the service CIDR, \"None\" for a headless Service, or leave it out to have one allocated"));
    }
}
