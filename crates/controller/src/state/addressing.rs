//! The controller's address pools: which pools exist (derived from the Cluster and the
//! VirtualNetworks), which pool a pod draws from, and keeping the pools and the store in step.

use std::collections::BTreeMap;
use std::net::IpAddr;

use weft_api::tenancy::{self, Placement};
use weft_api::{Cluster, Kind, Resource, ResourceKey, VirtualNetwork};
use weft_ipam::{Family, IpNet, Pool};
use weft_store::{Allocation, Txn};

use crate::ControllerError;

/// Pool of the cluster's pod CIDRs: the default network and networks without subnets of their own.
pub const PODS_POOL: &str = "pods";
/// Pool of the cluster's service CIDRs.
pub const SERVICES_POOL: &str = "services";

/// The pool of a VirtualNetwork with its own subnets.
pub fn network_pool(network: &str) -> String {
    format!("vn/{network}")
}

/// Every pool, by name.
pub type Pools = BTreeMap<String, Pool>;

/// What each pool should be, from the Cluster and the VirtualNetworks, with the object and field
/// that define it (for errors).
struct Wanted {
    cidrs: Vec<IpNet>,
    source: String,
    field: &'static str,
}

fn parse_all(texts: &[String]) -> Vec<IpNet> {
    // Admission validated these; nothing unparsable was stored.
    texts.iter().filter_map(|t| weft_net::parse_prefix(t).ok()).collect()
}

fn wanted(txn: &Txn) -> Result<BTreeMap<String, Wanted>, ControllerError> {
    let mut out = BTreeMap::new();
    for r in txn.list(Kind::Cluster, None)? {
        if let Resource::Cluster(c) = r {
            let source = r_key(Kind::Cluster, &c.metadata.name);
            out.insert(
                PODS_POOL.to_string(),
                Wanted {
                    cidrs: parse_all(&c.spec.pod_cidrs),
                    source: source.clone(),
                    field: "spec.podCIDRs",
                },
            );
            out.insert(
                SERVICES_POOL.to_string(),
                Wanted {
                    cidrs: parse_all(&c.spec.service_cidrs),
                    source,
                    field: "spec.serviceCIDRs",
                },
            );
        }
    }
    for r in txn.list(Kind::VirtualNetwork, None)? {
        if let Resource::VirtualNetwork(vn) = r
            && !vn.spec.subnets.is_empty()
        {
            out.insert(
                network_pool(vn.metadata.name.as_deref().unwrap_or_default()),
                Wanted {
                    cidrs: parse_all(&vn.spec.subnets),
                    source: r_key(Kind::VirtualNetwork, &vn.metadata.name),
                    field: "spec.subnets",
                },
            );
        }
    }
    Ok(out)
}

fn r_key(kind: Kind, name: &Option<String>) -> String {
    ResourceKey::new(kind, None, name.as_deref().unwrap_or_default()).to_string()
}

/// Rebuilds the pools from what the transaction sees. Refuses a change that would strand an
/// allocated address (a subnet removed while pods still use it): nothing is lost silently.
pub(crate) fn rebuild(txn: &Txn) -> Result<Pools, ControllerError> {
    let wanted = wanted(txn)?;
    let mut by_pool: BTreeMap<String, Vec<(IpAddr, String)>> = BTreeMap::new();
    for a in txn.allocations()? {
        by_pool.entry(a.pool).or_default().push((a.address, a.owner));
    }
    let mut pools = Pools::new();
    for (name, w) in &wanted {
        let allocations = by_pool.remove(name).unwrap_or_default();
        let pool = Pool::restore(name.clone(), w.cidrs.clone(), allocations.clone()).map_err(|e| {
            let stranded: Vec<String> = allocations
                .iter()
                .filter(|(ip, _)| !w.cidrs.iter().any(|c| c.contains(ip)))
                .take(5)
                .map(|(ip, owner)| format!("{ip} ({owner})"))
                .collect();
            if stranded.is_empty() {
                ControllerError::invalid(&w.source, w.field, e.to_string())
            } else {
                ControllerError::invalid(
                    &w.source,
                    w.field,
                    format!(
                        "the change would strand allocated addresses: {}; delete their owners first or keep the subnet",
                        stranded.join(", ")
                    ),
                )
            }
        })?;
        pools.insert(name.clone(), pool);
    }
    if let Some((pool, allocations)) = by_pool.into_iter().next() {
        let owners: Vec<String> = allocations
            .iter()
            .take(5)
            .map(|(ip, o)| format!("{ip} ({o})"))
            .collect();
        return Err(ControllerError::Conflict(format!(
            "the change would remove pool {pool}, which still has {} allocated addresses: {}; delete their owners first",
            allocations.len(),
            owners.join(", ")
        )));
    }
    Ok(pools)
}

/// The network and pool a pod in `namespace` draws its addresses from.
pub(crate) fn pod_pool(txn: &Txn, namespace: &str) -> Result<(String, String), ControllerError> {
    let ns_key = ResourceKey::new(Kind::Namespace, None, namespace);
    let ns = match txn.get(&ns_key)? {
        Some(Resource::Namespace(ns)) => Some(ns),
        _ => None,
    };
    let placement = tenancy::placement(namespace, ns.as_ref());
    let network = placement.network().to_string();
    match placement {
        Placement::Default | Placement::Isolated { .. } => Ok((network, PODS_POOL.to_string())),
        Placement::Named { network } => {
            let key = ResourceKey::new(Kind::VirtualNetwork, None, &network);
            match txn.get(&key)? {
                Some(Resource::VirtualNetwork(VirtualNetwork { spec, .. })) if !spec.subnets.is_empty() => {
                    let pool = network_pool(&network);
                    Ok((network, pool))
                }
                Some(_) => Ok((network, PODS_POOL.to_string())),
                None => Err(ControllerError::NotFound(format!(
                    "Namespace/{namespace} is placed on VirtualNetwork/{network} (annotation {}), which does not exist; create it or fix the annotation",
                    tenancy::NETWORK_ANNOTATION
                ))),
            }
        }
    }
}

/// Allocates one address of each family the pool has for `owner`, persisting new ones.
pub(crate) fn allocate_all(
    txn: &mut Txn,
    pools: &mut Pools,
    pool: &str,
    owner: &str,
) -> Result<Vec<IpAddr>, ControllerError> {
    let p = pools.get_mut(pool).ok_or_else(|| missing_pool(pool))?;
    let families: Vec<Family> = [Family::V4, Family::V6]
        .into_iter()
        .filter(|f| p.cidrs().iter().any(|c| Family::of(&c.addr()) == *f))
        .collect();
    let mut out = Vec::new();
    for family in families {
        let before = p.addresses_of(owner);
        let ip = p
            .allocate(family, owner)
            .map_err(|e| ControllerError::Conflict(e.to_string()))?;
        if !before.contains(&ip) {
            persist(txn, pool, ip, owner)?;
        }
        out.push(ip);
    }
    Ok(out)
}

pub(crate) fn persist(txn: &mut Txn, pool: &str, address: IpAddr, owner: &str) -> Result<(), ControllerError> {
    txn.put_allocation(&Allocation {
        pool: pool.to_string(),
        address,
        owner: owner.to_string(),
        allocated_at: jiff::Timestamp::now(),
    })?;
    Ok(())
}

/// Releases everything `owner` holds in every pool; returns what was released.
pub(crate) fn release_owner(
    txn: &mut Txn,
    pools: &mut Pools,
    owner: &str,
) -> Result<Vec<(String, IpAddr)>, ControllerError> {
    let mut out = Vec::new();
    for (name, pool) in pools.iter_mut() {
        for ip in pool.release_owner(owner) {
            txn.remove_allocation(name, ip)?;
            out.push((name.clone(), ip));
        }
    }
    Ok(out)
}

pub(crate) fn missing_pool(pool: &str) -> ControllerError {
    match pool {
        PODS_POOL | SERVICES_POOL => ControllerError::NotFound(format!(
            "no Cluster object, so there is no {pool} pool: apply the cluster's settings first (see examples/cluster.yaml)"
        )),
        _ => ControllerError::NotFound(format!("there is no address pool {pool}")),
    }
}

/// The Cluster object, if there is one (a controller serves one cluster).
pub(crate) fn cluster_of(txn: &Txn) -> Result<Option<Cluster>, ControllerError> {
    Ok(txn.list(Kind::Cluster, None)?.into_iter().find_map(|r| match r {
        Resource::Cluster(c) => Some(c),
        _ => None,
    }))
}
