//! What the controller checks and fills in before a write, beyond one object's own validation:
//! the rules that need other objects (namespaces exist, one Cluster, ClusterIPs allocated and
//! unique, networks not deleted under their users), as the API server's admission does.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{PodStatus, Service};
use weft_api::k8s_openapi;
use weft_api::{Kind, Resource, ResourceKey, tenancy};
use weft_ipam::Family;
use weft_store::Txn;

use super::addressing::{self, Pools, SERVICES_POOL};
use super::endpoints;
use crate::ControllerError;

/// Admits an object for writing: checks it against the others and fills in what the server
/// owns (status kept from the stored object, ClusterIPs allocated).
pub(crate) fn admit(txn: &mut Txn, pools: &mut Pools, mut resource: Resource) -> Result<Resource, ControllerError> {
    let key = resource.key();
    let old = txn.get(&key)?;
    if let Some(ns) = &key.namespace
        && ns != "default"
        && txn.get(&ResourceKey::new(Kind::Namespace, None, ns))?.is_none()
    {
        return Err(ControllerError::NotFound(format!(
            "{key}: Namespace/{ns} does not exist; create it first (weft apply orders namespaces before the objects in them)"
        )));
    }
    keep_status(&mut resource, old.as_ref());
    match &mut resource {
        Resource::Cluster(c) => {
            if let Some(existing) = addressing::cluster_of(txn)?
                && existing.metadata.name != c.metadata.name
            {
                return Err(ControllerError::invalid(
                    key.to_string(),
                    "metadata.name",
                    format!(
                        "this controller serves Cluster/{}; one controller serves one cluster (edit that object instead)",
                        existing.metadata.name.unwrap_or_default()
                    ),
                ));
            }
        }
        Resource::Service(svc) => {
            let old = match &old {
                Some(Resource::Service(s)) => Some(s),
                _ => None,
            };
            cluster_ips(txn, pools, &key, svc, old)?;
        }
        Resource::WorkloadEndpoint(wep) => endpoints::admit(txn, pools, &key, wep, old.as_ref())?,
        _ => {}
    }
    Ok(resource)
}

/// Status is written by the controller and agents, never by `apply`: keep what is stored.
fn keep_status(resource: &mut Resource, old: Option<&Resource>) {
    match (resource, old) {
        (Resource::Pod(new), Some(Resource::Pod(old))) => new.status.clone_from(&old.status),
        (Resource::Pod(new), None) => new.status = None::<PodStatus>,
        (Resource::Service(new), Some(Resource::Service(old))) => new.status.clone_from(&old.status),
        (Resource::Service(new), None) => new.status = None,
        (Resource::Namespace(new), Some(Resource::Namespace(old))) => new.status.clone_from(&old.status),
        (Resource::Namespace(new), None) => new.status = None,
        (Resource::VirtualNetwork(new), Some(Resource::VirtualNetwork(old))) => new.status.clone_from(&old.status),
        (Resource::VirtualNetwork(new), None) => new.status = None,
        (Resource::BGPPeer(new), Some(Resource::BGPPeer(old))) => new.status.clone_from(&old.status),
        (Resource::BGPPeer(new), None) => new.status = None,
        _ => {}
    }
}

/// Allocates a Service's ClusterIPs from the service CIDRs (or reserves the ones it names), one
/// per family its `ipFamilyPolicy` asks for; on update they may not change, as in Kubernetes.
fn cluster_ips(
    txn: &mut Txn,
    pools: &mut Pools,
    key: &ResourceKey,
    svc: &mut Service,
    old: Option<&Service>,
) -> Result<(), ControllerError> {
    let object = key.to_string();
    let owner = object.clone();
    let Some(spec) = svc.spec.as_mut() else {
        return Ok(());
    };
    let old_ips: Vec<String> = old
        .and_then(|o| o.spec.as_ref())
        .and_then(|s| {
            s.cluster_ips
                .clone()
                .or_else(|| s.cluster_ip.clone().map(|ip| vec![ip]))
        })
        .unwrap_or_default();
    let mut asked: Vec<String> = spec
        .cluster_ips
        .clone()
        .or_else(|| spec.cluster_ip.clone().map(|ip| vec![ip]))
        .unwrap_or_default()
        .into_iter()
        .filter(|ip| !ip.is_empty())
        .collect();
    if !old_ips.is_empty() {
        if asked.is_empty() {
            asked = old_ips.clone();
        } else if asked != old_ips {
            return Err(ControllerError::invalid(
                object,
                "spec.clusterIPs",
                format!(
                    "is immutable: it is {}; delete and re-create the Service to change it",
                    old_ips.join(",")
                ),
            ));
        }
    }
    if asked.first().map(String::as_str) == Some("None") {
        spec.cluster_ip = Some("None".into());
        spec.cluster_ips = Some(vec!["None".into()]);
        return Ok(());
    }
    let pool = pools
        .get_mut(SERVICES_POOL)
        .ok_or_else(|| addressing::missing_pool(SERVICES_POOL))?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for (i, text) in asked.iter().enumerate() {
        let path = format!("spec.clusterIPs[{i}]");
        let ip: IpAddr = text
            .parse()
            .map_err(|_| ControllerError::invalid(&object, &path, format!("{text:?} is not an IP address")))?;
        let before = pool.owner_of(ip).map(str::to_string);
        pool.allocate_specific(ip, &owner)
            .map_err(|e| ControllerError::ipam(&object, &path, e))?;
        if before.is_none() {
            addressing::persist(txn, SERVICES_POOL, ip, &owner)?;
        }
        ips.push(ip);
    }
    let available: Vec<Family> = [Family::V4, Family::V6]
        .into_iter()
        .filter(|f| pool.cidrs().iter().any(|c| Family::of(&c.addr()) == *f))
        .collect();
    let mut families: Vec<Family> = match &spec.ip_families {
        Some(list) if !list.is_empty() => list
            .iter()
            .map(|f| if f == "IPv6" { Family::V6 } else { Family::V4 })
            .collect(),
        _ if !ips.is_empty() => ips.iter().map(Family::of).collect(),
        _ => available.iter().take(1).copied().collect(),
    };
    let policy = spec.ip_family_policy.clone().unwrap_or_else(|| "SingleStack".into());
    if policy != "SingleStack" {
        for f in &available {
            if !families.contains(f) {
                families.push(*f);
            }
        }
        if policy == "RequireDualStack" && families.len() < 2 {
            return Err(ControllerError::invalid(
                object,
                "spec.ipFamilyPolicy",
                "RequireDualStack needs an IPv4 and an IPv6 service CIDR in the Cluster; add one or use PreferDualStack",
            ));
        }
    }
    for (i, family) in families.iter().enumerate() {
        if ips.iter().any(|ip| Family::of(ip) == *family) {
            continue;
        }
        let ip = pool
            .allocate(*family, &owner)
            .map_err(|e| ControllerError::ipam(&object, &format!("spec.ipFamilies[{i}]"), e))?;
        addressing::persist(txn, SERVICES_POOL, ip, &owner)?;
        ips.push(ip);
    }
    let texts: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
    spec.cluster_ip = texts.first().cloned();
    spec.cluster_ips = Some(texts);
    spec.ip_families = Some(ips.iter().map(|ip| Family::of(ip).to_string()).collect());
    spec.ip_family_policy = Some(policy);
    Ok(())
}

/// What a delete takes with it (a namespace's objects, owners' addresses), and what it may not
/// remove while something still uses it.
pub(crate) fn before_delete(txn: &mut Txn, pools: &mut Pools, key: &ResourceKey) -> Result<(), ControllerError> {
    match key.kind {
        Kind::Pod | Kind::Service | Kind::WorkloadEndpoint => {
            addressing::release_owner(txn, pools, &key.to_string())?;
        }
        Kind::Namespace => {
            for kind in Kind::ALL.into_iter().filter(|k| k.namespaced()) {
                for r in txn.list(kind, Some(&key.name))? {
                    let child = r.key();
                    addressing::release_owner(txn, pools, &child.to_string())?;
                    txn.delete(&child, None)?;
                }
            }
        }
        Kind::VirtualNetwork => {
            let users: Vec<String> = txn
                .list(Kind::Namespace, None)?
                .into_iter()
                .filter(|r| match r {
                    // Namespaces on the default network do not hold it: only endpoints do.
                    Resource::Namespace(ns) => {
                        let placement = tenancy::placement(r.name(), Some(ns));
                        placement != tenancy::Placement::Default && placement.network() == key.name
                    }
                    _ => false,
                })
                .map(|r| r.name().to_string())
                .collect();
            if !users.is_empty() {
                return Err(ControllerError::Conflict(format!(
                    "{key} is in use by Namespace {}; change their {} annotation first",
                    users.join(", "),
                    tenancy::NETWORK_ANNOTATION
                )));
            }
            let endpoints: Vec<String> = txn
                .list(Kind::WorkloadEndpoint, None)?
                .into_iter()
                .filter(|r| matches!(r, Resource::WorkloadEndpoint(w) if w.spec.network.as_deref() == Some(key.name.as_str())))
                .map(|r| r.key().to_string())
                .take(5)
                .collect();
            if !endpoints.is_empty() {
                return Err(ControllerError::Conflict(format!(
                    "{key} still has endpoints: {}; delete those pods first",
                    endpoints.join(", ")
                )));
            }
        }
        Kind::NetworkPolicy | Kind::Cluster | Kind::Node | Kind::BGPPeer => {}
    }
    Ok(())
}
