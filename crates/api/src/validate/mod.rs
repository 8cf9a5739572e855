//! Validation of every kind, collecting all problems at once with the path of each field, in the
//! spirit of the API server's field errors. Values are checked here; shape and types were checked
//! when the manifest was decoded.

mod bgp_peer;
mod cluster;
mod meta;
pub mod names;
pub use node::check_mac;
mod network_policy;
mod node;
mod pod;
mod selector;
mod service;
mod virtual_network;

use crate::{FieldError, Resource};

/// Every problem found in one object; empty when it is valid.
pub fn validate(resource: &Resource) -> Vec<FieldError> {
    let mut errors = Errors::default();
    meta::validate(resource, &mut errors);
    match resource {
        Resource::Namespace(ns) => meta::validate_namespace(ns, &mut errors),
        Resource::Pod(pod) => pod::validate(pod, &mut errors),
        Resource::Service(svc) => service::validate(svc, &mut errors),
        Resource::NetworkPolicy(np) => network_policy::validate(np, &mut errors),
        Resource::VirtualNetwork(vn) => virtual_network::validate(&vn.spec, &mut errors),
        Resource::Cluster(c) => cluster::validate(&c.spec, &mut errors),
        Resource::Node(n) => node::validate(&n.spec, &mut errors),
        Resource::WorkloadEndpoint(w) => node::validate_endpoint(&w.spec, &mut errors),
        Resource::BGPPeer(p) => bgp_peer::validate(&p.spec, &mut errors),
    }
    errors.0
}

/// Collects field errors.
#[derive(Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(path, message));
    }
}

/// Range check for a port number field.
pub(crate) fn check_port(errors: &mut Errors, path: &str, port: i32) {
    if !(1..=65535).contains(&port) {
        errors.push(path, format!("{port} is not a valid port number; it must be 1-65535"));
    }
}

/// The protocols Kubernetes allows in ports.
pub(crate) fn check_protocol(errors: &mut Errors, path: &str, protocol: Option<&str>) {
    if let Some(p) = protocol
        && !matches!(p, "TCP" | "UDP" | "SCTP")
    {
        errors.push(path, format!("{p:?} is not a supported protocol; use TCP, UDP or SCTP"));
    }
}
