use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;

use super::Errors;
use super::names::{dns1035_label, dns1123_label, dns1123_subdomain, label_value, qualified_name};
use crate::{Kind, Resource, tenancy};

/// `metadata`: name, namespace, labels and annotation keys.
pub(super) fn validate(resource: &Resource, errors: &mut Errors) {
    let meta = resource.meta();
    let kind = resource.kind();
    match meta.name.as_deref() {
        None | Some("") => errors.push("metadata.name", "required"),
        Some(name) => {
            let check = match kind {
                Kind::Namespace => dns1123_label,
                Kind::Service => dns1035_label,
                _ => dns1123_subdomain,
            };
            if let Err(e) = check(name) {
                errors.push("metadata.name", e);
            }
        }
    }
    match (&meta.namespace, kind.namespaced()) {
        (Some(ns), true) => {
            if let Err(e) = dns1123_label(ns) {
                errors.push("metadata.namespace", e);
            }
        }
        (Some(_), false) => errors.push(
            "metadata.namespace",
            format!("{kind} is cluster-scoped; remove metadata.namespace"),
        ),
        (None, _) => {}
    }
    labels(meta.labels.as_ref(), "metadata.labels", errors);
    if let Some(annotations) = &meta.annotations {
        for key in annotations.keys() {
            if let Err(e) = qualified_name(key) {
                errors.push(format!("metadata.annotations[{key}]"), e);
            }
        }
    }
}

pub(super) fn labels(labels: Option<&BTreeMap<String, String>>, path: &str, errors: &mut Errors) {
    for (key, value) in labels.into_iter().flatten() {
        if let Err(e) = qualified_name(key) {
            errors.push(format!("{path}[{key}]"), e);
        }
        if let Err(e) = label_value(value) {
            errors.push(format!("{path}[{key}]"), e);
        }
    }
}

/// A namespace's Weft annotations: isolation and the name of a virtual network, not both.
pub(super) fn validate_namespace(ns: &Namespace, errors: &mut Errors) {
    let Some(annotations) = &ns.metadata.annotations else {
        return;
    };
    let isolated = annotations.get(tenancy::ISOLATED_ANNOTATION);
    let network = annotations.get(tenancy::NETWORK_ANNOTATION);
    if let Some(value) = isolated
        && !matches!(value.as_str(), "true" | "false")
    {
        errors.push(
            format!("metadata.annotations[{}]", tenancy::ISOLATED_ANNOTATION),
            format!("{value:?} is not a boolean; use \"true\" or \"false\""),
        );
    }
    if let Some(name) = network {
        if let Err(e) = dns1123_subdomain(name) {
            errors.push(format!("metadata.annotations[{}]", tenancy::NETWORK_ANNOTATION), e);
        }
        if isolated.map(String::as_str) == Some("true") {
            errors.push(
                format!("metadata.annotations[{}]", tenancy::ISOLATED_ANNOTATION),
                format!(
                    "a namespace is either isolated on its own network or on the network {name:?}; remove one of the two annotations"
                ),
            );
        }
    }
}
