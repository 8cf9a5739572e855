//! Admission of WorkloadEndpoints: the pod's network from its namespace's placement, and its
//! addresses from that network's pool, reserved in the same transaction that stores the
//! endpoint. Both are immutable afterwards, as a pod's IP is in Kubernetes.

use std::net::IpAddr;

use weft_api::{Kind, Resource, ResourceKey, WorkloadEndpoint};
use weft_store::Txn;

use super::addressing::{self, Pools};
use crate::ControllerError;

pub(crate) fn admit(
    txn: &mut Txn,
    pools: &mut Pools,
    key: &ResourceKey,
    wep: &mut WorkloadEndpoint,
    old: Option<&Resource>,
) -> Result<(), ControllerError> {
    let object = key.to_string();
    if let Some(Resource::WorkloadEndpoint(old)) = old {
        if !wep.spec.addresses.is_empty() && wep.spec.addresses != old.spec.addresses {
            return Err(ControllerError::invalid(
                object,
                "spec.addresses",
                format!(
                    "is immutable: it is {}; delete the endpoint to give the pod new addresses",
                    old.spec.addresses.join(",")
                ),
            ));
        }
        wep.spec.addresses.clone_from(&old.spec.addresses);
        wep.spec.network.clone_from(&old.spec.network);
        return Ok(());
    }
    let namespace = key.namespace.as_deref().unwrap_or("default");
    let (network, pool) = addressing::pod_pool(txn, namespace)?;
    if let Some(asked) = &wep.spec.network
        && *asked != network
    {
        return Err(ControllerError::invalid(
            object,
            "spec.network",
            format!("Namespace/{namespace} is placed on network {network:?}, not {asked:?}; leave spec.network out"),
        ));
    }
    if txn
        .get(&ResourceKey::new(Kind::VirtualNetwork, None, &network))?
        .is_none()
    {
        return Err(ControllerError::NotFound(format!(
            "{object}: network {network:?} does not exist yet; apply the Cluster object (it creates the default network) or the VirtualNetwork"
        )));
    }
    let owner = object.clone();
    let addresses: Vec<IpAddr> = if wep.spec.addresses.is_empty() {
        addressing::allocate_all(txn, pools, &pool, &owner)?
    } else {
        // Given addresses (an agent re-creating an endpoint it already wired) are reserved.
        let p = pools.get_mut(&pool).ok_or_else(|| addressing::missing_pool(&pool))?;
        let mut out = Vec::new();
        for (i, text) in wep.spec.addresses.iter().enumerate() {
            let path = format!("spec.addresses[{i}]");
            let ip: IpAddr = text
                .parse()
                .map_err(|_| ControllerError::invalid(&object, &path, format!("{text:?} is not an IP address")))?;
            let before = p.owner_of(ip).map(str::to_string);
            p.allocate_specific(ip, &owner)
                .map_err(|e| ControllerError::ipam(&object, &path, e))?;
            if before.is_none() {
                addressing::persist(txn, &pool, ip, &owner)?;
            }
            out.push(ip);
        }
        out
    };
    wep.spec.network = Some(network);
    wep.spec.addresses = addresses.iter().map(IpAddr::to_string).collect();
    Ok(())
}
