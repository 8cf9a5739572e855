//! Networks the controller creates itself: the cluster's default pod network (from the Cluster
//! object) and one network per isolated namespace. They are ordinary VirtualNetwork objects, so
//! `weft get vn` shows every network, and they carry the object they belong to.

use std::collections::BTreeSet;

use weft_api::tenancy::{self, Placement};
use weft_api::{Kind, ObjectMeta, Resource, ResourceKey, VirtualNetwork, VirtualNetworkSpec};
use weft_store::{Precondition, Txn};

use crate::ControllerError;

/// Names the object a derived network belongs to; it is deleted with it.
pub const OWNED_BY: &str = "weft.io/owned-by";
/// VNIs given to isolated namespaces' networks are taken from here upwards, below what people
/// usually pick by hand.
const FIRST_AUTOMATIC_VNI: u32 = 4096;

fn owned_network(name: &str, vni: u32, owner: &ResourceKey) -> Resource {
    Resource::VirtualNetwork(VirtualNetwork {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            annotations: Some([(OWNED_BY.to_string(), owner.to_string())].into()),
            ..Default::default()
        },
        spec: VirtualNetworkSpec {
            vni,
            ..Default::default()
        },
        status: None,
    })
}

fn used_vnis(txn: &Txn) -> Result<BTreeSet<u32>, ControllerError> {
    Ok(txn
        .list(Kind::VirtualNetwork, None)?
        .into_iter()
        .filter_map(|r| match r {
            Resource::VirtualNetwork(vn) => Some(vn.spec.vni),
            _ => None,
        })
        .collect())
}

/// After a write: create the networks the written object implies.
pub(crate) fn after_write(txn: &mut Txn, written: &Resource) -> Result<(), ControllerError> {
    match written {
        Resource::Cluster(c) => {
            let key = ResourceKey::new(Kind::VirtualNetwork, None, tenancy::DEFAULT_NETWORK);
            if txn.get(&key)?.is_none() {
                let vni = c.spec.default_vni();
                if used_vnis(txn)?.contains(&vni) {
                    return Err(ControllerError::invalid(
                        written.key().to_string(),
                        "spec.defaultVni",
                        format!("VNI {vni} is used by another VirtualNetwork; choose a free one"),
                    ));
                }
                txn.put(
                    owned_network(tenancy::DEFAULT_NETWORK, vni, &written.key()),
                    Precondition::Absent,
                )?;
            }
        }
        Resource::Namespace(ns) => {
            if let Placement::Isolated { network } = tenancy::placement(written.name(), Some(ns)) {
                let key = ResourceKey::new(Kind::VirtualNetwork, None, &network);
                if txn.get(&key)?.is_none() {
                    let used = used_vnis(txn)?;
                    let vni = (FIRST_AUTOMATIC_VNI..)
                        .find(|v| !used.contains(v))
                        .unwrap_or(FIRST_AUTOMATIC_VNI);
                    txn.put(owned_network(&network, vni, &written.key()), Precondition::Absent)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The networks an object owns, to delete with it.
pub(crate) fn owned_by(txn: &Txn, owner: &ResourceKey) -> Result<Vec<ResourceKey>, ControllerError> {
    let owner = owner.to_string();
    Ok(txn
        .list(Kind::VirtualNetwork, None)?
        .into_iter()
        .filter(|r| r.meta().annotations.as_ref().and_then(|a| a.get(OWNED_BY)) == Some(&owner))
        .map(|r| r.key())
        .collect())
}
