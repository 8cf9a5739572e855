use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;

use super::names::{dns1123_label, dns1123_subdomain, iana_svc_name};
use super::{Errors, check_port, check_protocol};

/// What Weft reads of a Pod: containers and their ports (named ports are resolved from them),
/// and the node it runs on.
pub(super) fn validate(pod: &Pod, errors: &mut Errors) {
    let Some(spec) = &pod.spec else {
        errors.push("spec", "required; a Pod needs spec.containers");
        return;
    };
    if spec.containers.is_empty() {
        errors.push("spec.containers", "at least one container is required");
    }
    let mut names = BTreeSet::new();
    let mut port_names = BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let at = format!("spec.containers[{i}]");
        if let Err(e) = dns1123_label(&c.name) {
            errors.push(format!("{at}.name"), e);
        } else if !names.insert(c.name.as_str()) {
            errors.push(
                format!("{at}.name"),
                format!("{:?} is used by another container", c.name),
            );
        }
        for (j, p) in c.ports.iter().flatten().enumerate() {
            let at = format!("{at}.ports[{j}]");
            check_port(errors, &format!("{at}.containerPort"), p.container_port);
            check_protocol(errors, &format!("{at}.protocol"), p.protocol.as_deref());
            if let Some(name) = &p.name {
                if let Err(e) = iana_svc_name(name) {
                    errors.push(format!("{at}.name"), e);
                } else if !port_names.insert(name.as_str()) {
                    errors.push(
                        format!("{at}.name"),
                        format!("{name:?} names another port of this pod; port names are unique per pod"),
                    );
                }
            }
        }
    }
    if let Some(node) = &spec.node_name
        && let Err(e) = dns1123_subdomain(node)
    {
        errors.push("spec.nodeName", e);
    }
}
