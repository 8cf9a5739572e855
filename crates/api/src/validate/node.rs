use std::net::{IpAddr, Ipv4Addr};

use super::Errors;
use super::names::{dns1123_label, dns1123_subdomain};
use crate::{NodeSpec, WorkloadEndpointSpec};

/// The smallest MTU that still carries IPv6 (RFC 8200 §5) and the usual jumbo-frame ceiling.
const MTU_RANGE: std::ops::RangeInclusive<u32> = 1280..=9000;

pub(super) fn validate(spec: &NodeSpec, errors: &mut Errors) {
    if spec.vtep.parse::<Ipv4Addr>().is_err() {
        errors.push(
            "spec.vtep",
            format!(
                "{:?} is not an IPv4 address; the VTEP is the node's underlay address, e.g. 192.0.2.11",
                spec.vtep
            ),
        );
    }
    if let Err(e) = check_mac(&spec.router_mac) {
        errors.push("spec.routerMac", e);
    }
    if !MTU_RANGE.contains(&spec.mtu) {
        errors.push(
            "spec.mtu",
            format!(
                "{} is out of range: the pod MTU must be {}-{}",
                spec.mtu,
                MTU_RANGE.start(),
                MTU_RANGE.end()
            ),
        );
    }
}

pub(super) fn validate_endpoint(spec: &WorkloadEndpointSpec, errors: &mut Errors) {
    if let Err(e) = dns1123_subdomain(&spec.node) {
        errors.push("spec.node", e);
    }
    if let Err(e) = dns1123_subdomain(&spec.pod) {
        errors.push("spec.pod", e);
    }
    if spec.container_id.is_empty() {
        errors.push("spec.containerID", "required: the runtime's container id");
    }
    for (path, name) in [
        ("spec.interface", Some(&spec.interface)),
        ("spec.hostInterface", spec.host_interface.as_ref()),
    ] {
        if let Some(name) = name
            && (name.is_empty() || name.len() > 15 || name.contains('/') || name.contains(char::is_whitespace))
        {
            errors.push(
                path,
                format!("{name:?} is not a Linux interface name: 1-15 characters, no '/' or spaces"),
            );
        }
    }
    if let Some(mac) = &spec.mac
        && let Err(e) = check_mac(mac)
    {
        errors.push("spec.mac", e);
    }
    if let Some(network) = &spec.network
        && let Err(e) = dns1123_label(network)
    {
        errors.push("spec.network", e);
    }
    for (i, a) in spec.addresses.iter().enumerate() {
        if a.parse::<IpAddr>().is_err() {
            errors.push(format!("spec.addresses[{i}]"), format!("{a:?} is not an IP address"));
        }
    }
}

/// A unicast MAC in the usual colon notation.
pub fn check_mac(text: &str) -> Result<[u8; 6], String> {
    let bad = || format!("{text:?} is not a MAC address; write six hex octets, e.g. 02:00:00:00:00:01");
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (o, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return Err(bad());
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 || mac == [0; 6] {
        return Err(format!(
            "{text} is a multicast or zero MAC; a router MAC must be unicast"
        ));
    }
    Ok(mac)
}
