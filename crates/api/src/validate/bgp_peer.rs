use std::net::IpAddr;

use weft_net::{Asn, RouteTarget};

use super::Errors;
use crate::bgp_peer::{BGPPeerSpec, FAMILIES, RoutePolicy};

pub(super) fn validate(spec: &BGPPeerSpec, errors: &mut Errors) {
    if spec.address.parse::<IpAddr>().is_err() {
        errors.push(
            "spec.address",
            format!(
                "{:?} is not an IP address; give the neighbour's address, e.g. 192.0.2.1 or 2001:db8::1",
                spec.address
            ),
        );
    }
    if let Err(e) = Asn::try_from(u64::from(spec.asn)) {
        errors.push("spec.asn", e.to_string());
    }
    let family = |errors: &mut Errors, path: String, f: &str| {
        if !FAMILIES.contains(&f) {
            errors.push(
                path,
                format!("{f:?} is not a family Weft speaks; use one of {}", FAMILIES.join(", ")),
            );
        }
    };
    for (i, f) in spec.families.iter().enumerate() {
        family(errors, format!("spec.families[{i}]"), f);
    }
    if let Some(a) = &spec.local_address
        && a.parse::<IpAddr>().is_err()
    {
        errors.push("spec.localAddress", format!("{a:?} is not an IP address"));
    }
    if let Some(p) = &spec.password
        && (p.is_empty() || p.len() > 80)
    {
        errors.push(
            "spec.password",
            "a TCP MD5 key must be 1-80 characters (RFC 2385 as Linux implements it)",
        );
    }
    if let Some(h) = spec.ttl_security_hops
        && h == 0
    {
        errors.push(
            "spec.ttlSecurityHops",
            "0 hops is not possible; 1 means directly connected",
        );
    }
    if let Some(h) = spec.hold_time
        && (h == 1 || h == 2 || h > 65535)
    {
        errors.push(
            "spec.holdTime",
            format!("{h} is not allowed; use 0 (no keepalives) or 3-65535 seconds (RFC 4271 §4.2)"),
        );
    }
    for (i, m) in spec.max_prefixes.iter().enumerate() {
        family(errors, format!("spec.maxPrefixes[{i}].family"), &m.family);
        if m.limit == 0 {
            errors.push(format!("spec.maxPrefixes[{i}].limit"), "must be at least 1");
        }
    }
    for (name, policy) in [
        ("spec.importPolicy", &spec.import_policy),
        ("spec.exportPolicy", &spec.export_policy),
    ] {
        if let Some(p) = policy {
            check_policy(errors, name, p);
        }
    }
}

fn check_policy(errors: &mut Errors, path: &str, p: &RoutePolicy) {
    for (i, rt) in p.route_targets.iter().enumerate() {
        if let Err(e) = rt.parse::<RouteTarget>() {
            errors.push(format!("{path}.routeTargets[{i}]"), e.to_string());
        }
    }
    for (field, list) in [
        ("denyCommunities", &p.deny_communities),
        ("addCommunities", &p.add_communities),
    ] {
        for (i, c) in list.iter().enumerate() {
            if !community(c) {
                errors.push(
                    format!("{path}.{field}[{i}]"),
                    format!("{c:?} is not a community; write ASN:VALUE (each 0-65535) or a large community ASN:A:B (each 0-4294967295)"),
                );
            }
        }
    }
}

fn community(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        [a, b] => a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok(),
        [a, b, c] => a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok() && c.parse::<u32>().is_ok(),
        _ => false,
    }
}
