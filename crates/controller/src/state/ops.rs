//! The owner's operations: one function per command, each one store transaction.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PodIP, PodStatus};
use weft_api::k8s_openapi;
use weft_api::wire::{AllocationInfo, Outcome, PodAddresses, PoolInfo};
use weft_api::{Kind, Resource, ResourceKey};
use weft_ipam::Family;
use weft_store::{Allocation, Event, EventType, Precondition};

use super::{Command, State, WatchStart, addressing, admission, networks};
use crate::ControllerError;

impl State {
    pub(super) fn execute(&mut self, command: Command) {
        // A reply that cannot be delivered means the caller went away; nothing to do.
        match command {
            Command::Apply {
                resource,
                precondition,
                reply,
            } => drop(reply.send(self.apply(*resource, precondition))),
            Command::Delete {
                key,
                resource_version,
                reply,
            } => drop(reply.send(self.delete(&key, resource_version.as_deref()))),
            Command::Get { key, reply } => drop(reply.send(self.get(&key))),
            Command::List { kind, namespace, reply } => drop(reply.send(self.list(kind, namespace.as_deref()))),
            Command::Watch {
                kind,
                namespace,
                since,
                reply,
            } => drop(reply.send(self.watch(kind, namespace.as_deref(), since))),
            Command::Revision { reply } => drop(reply.send(Ok(self.store.revision()))),
            Command::AllocatePod { namespace, name, reply } => drop(reply.send(self.allocate_pod(&namespace, &name))),
            Command::Release { owner, reply } => drop(reply.send(self.release(&owner))),
            Command::Pools { reply } => drop(reply.send(Ok(self.pool_infos()))),
            Command::Allocations { reply } => drop(reply.send(self.allocation_infos())),
            Command::CollectGarbage { reply } => drop(reply.send(self.collect_garbage())),
            Command::NodeState { node, reply } => drop(reply.send(self.node_state(&node))),
            Command::Services { reply } => {
                let all = self
                    .store
                    .list(Kind::WorkloadEndpoint, None)
                    .map_err(ControllerError::from)
                    .and_then(|weps| {
                        let (_, _, endpoints) = super::node_view::from_resources(weps);
                        self.service_states(&endpoints)
                    })
                    .map(|m| m.into_values().collect());
                drop(reply.send(all))
            }
            Command::Subscribe { reply } => drop(reply.send(Ok(self.events.subscribe()))),
            Command::WriteStatus { resource, reply } => drop(reply.send(self.write_status(*resource))),
        }
    }

    pub(crate) fn apply(
        &mut self,
        resource: Resource,
        precondition: Precondition,
    ) -> Result<(Outcome, Resource), ControllerError> {
        let kind = resource.kind();
        let mut pools = self.pools.clone();
        let (result, events) = self.store.write(|txn| {
            let admitted = admission::admit(txn, &mut pools, resource)?;
            let (outcome, stored) = txn.put(admitted, precondition)?;
            networks::after_write(txn, &stored)?;
            if matches!(kind, Kind::Cluster | Kind::VirtualNetwork) && outcome != Outcome::Unchanged {
                pools = addressing::rebuild(txn)?;
            }
            Ok::<_, ControllerError>((outcome, stored))
        })?;
        self.pools = pools;
        self.publish(events);
        Ok(result)
    }

    pub(crate) fn delete(
        &mut self,
        key: &ResourceKey,
        resource_version: Option<&str>,
    ) -> Result<Resource, ControllerError> {
        if key.kind == Kind::Namespace && key.name == "default" {
            return Err(ControllerError::BadRequest(
                "Namespace/default cannot be deleted".into(),
            ));
        }
        let mut pools = self.pools.clone();
        let (deleted, events) = self.store.write(|txn| {
            // Check the precondition before anything cascades.
            if txn.get(key)?.is_none() {
                return Err(ControllerError::Store(weft_store::StoreError::NotFound {
                    key: key.clone(),
                }));
            }
            admission::before_delete(txn, &mut pools, key)?;
            let deleted = txn.delete(key, resource_version)?;
            // Networks the object made for itself go with it (and are checked like any other).
            for network in networks::owned_by(txn, key)? {
                admission::before_delete(txn, &mut pools, &network)?;
                txn.delete(&network, None)?;
            }
            if matches!(key.kind, Kind::Cluster | Kind::VirtualNetwork | Kind::Namespace) {
                pools = addressing::rebuild(txn)?;
            }
            Ok(deleted)
        })?;
        self.pools = pools;
        self.publish(events);
        Ok(deleted)
    }

    pub(crate) fn get(&self, key: &ResourceKey) -> Result<Resource, ControllerError> {
        self.store
            .get(key)?
            .ok_or_else(|| ControllerError::Store(weft_store::StoreError::NotFound { key: key.clone() }))
    }

    pub(crate) fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<(u64, Vec<Resource>), ControllerError> {
        Ok((self.store.revision(), self.store.list(kind, namespace)?))
    }

    pub(crate) fn watch(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        since: Option<u64>,
    ) -> Result<WatchStart, ControllerError> {
        let live = self.events.subscribe();
        let initial = match since {
            None => {
                let revision = self.store.revision();
                self.store
                    .list(kind, namespace)?
                    .into_iter()
                    .map(|object| {
                        Arc::new(Event {
                            kind: EventType::Added,
                            revision,
                            object,
                        })
                    })
                    .collect()
            }
            Some(asked) => self
                .history
                .since(asked)
                .map_err(|oldest| ControllerError::Expired { asked, oldest })?,
        };
        Ok(WatchStart { initial, live })
    }

    /// Gives a pod one address per family of its network's pool (the same ones again if it
    /// already has them) and records them in the Pod's status when the Pod object exists.
    pub(crate) fn allocate_pod(&mut self, namespace: &str, name: &str) -> Result<PodAddresses, ControllerError> {
        let owner = ResourceKey::new(Kind::Pod, Some(namespace), name);
        let mut pools = self.pools.clone();
        let (answer, events) = self.store.write(|txn| {
            let (network, pool) = addressing::pod_pool(txn, namespace)?;
            let addresses = addressing::allocate_all(txn, &mut pools, &pool, &owner.to_string())?;
            if let Some(Resource::Pod(mut pod)) = txn.get(&owner)? {
                let ips: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                let status = pod.status.get_or_insert_with(PodStatus::default);
                if status
                    .pod_ips
                    .as_ref()
                    .map(|v| v.iter().map(|p| p.ip.clone()).collect::<Vec<_>>())
                    != Some(ips.clone())
                {
                    status.pod_ip = ips.first().cloned();
                    status.pod_ips = Some(ips.into_iter().map(|ip| PodIP { ip }).collect());
                    txn.put(Resource::Pod(pod), Precondition::Present)?;
                }
            }
            Ok::<_, ControllerError>(PodAddresses {
                namespace: namespace.to_string(),
                name: name.to_string(),
                network,
                pool,
                addresses,
            })
        })?;
        self.pools = pools;
        self.publish(events);
        Ok(answer)
    }

    pub(crate) fn release(&mut self, owner: &str) -> Result<Vec<AllocationInfo>, ControllerError> {
        let mut pools = self.pools.clone();
        let before = self.store.allocations()?;
        let (released, events) = self.store.write(|txn| {
            let released = addressing::release_owner(txn, &mut pools, owner)?;
            // A pod whose addresses were taken back no longer shows them.
            if let Ok(key) = owner.parse::<ResourceKey>()
                && let Some(Resource::Pod(mut pod)) = txn.get(&key)?
                && let Some(status) = pod.status.as_mut()
                && status.pod_ip.is_some()
            {
                status.pod_ip = None;
                status.pod_ips = None;
                txn.put(Resource::Pod(pod), Precondition::Present)?;
            }
            Ok::<_, ControllerError>(released)
        })?;
        self.pools = pools;
        self.publish(events);
        Ok(before
            .into_iter()
            .filter(|a| released.contains(&(a.pool.clone(), a.address)))
            .map(info)
            .collect())
    }

    pub(crate) fn node_state(&self, node: &str) -> Result<(u64, weft_api::sync::NodeState), ControllerError> {
        let key = ResourceKey::new(Kind::Node, None, node);
        if self.store.get(&key)?.is_none() {
            return Err(ControllerError::NotFound(format!(
                "{key} is not registered; the agent registers its node when it starts"
            )));
        }
        let mut objects = self.store.list(Kind::Node, None)?;
        objects.extend(self.store.list(Kind::VirtualNetwork, None)?);
        objects.extend(self.store.list(Kind::WorkloadEndpoint, None)?);
        let (nodes, networks, endpoints) = super::node_view::from_resources(objects);
        let mut state = super::node_view::node_state(node, &nodes, &networks, &endpoints);
        let all = self.service_states(&endpoints)?;
        if !all.is_empty() {
            let networks = state.networks.keys().cloned().collect();
            state.services = super::service_view::for_node(node, &networks, &all, &nodes.iter().collect::<Vec<_>>());
        }
        let policies = self.store.list(Kind::NetworkPolicy, None)?;
        if !policies.is_empty() && !state.endpoints.is_empty() {
            let pods = self.store.list(Kind::Pod, None)?;
            let namespaces = self.store.list(Kind::Namespace, None)?;
            let mut objects = super::policy_view::Objects {
                endpoints: endpoints.iter().collect(),
                ..Default::default()
            };
            for r in policies.iter().chain(&pods).chain(&namespaces) {
                match r {
                    Resource::NetworkPolicy(p) => objects.policies.push(p),
                    Resource::Pod(p) => objects.pods.push(p),
                    Resource::Namespace(n) => objects.namespaces.push(n),
                    _ => {}
                }
            }
            let local = state.endpoints.keys().cloned().collect();
            state.policies = super::policy_view::for_pods(&objects, &local);
        }
        Ok((self.store.revision(), state))
    }

    /// Every Service with a ClusterIP and its ready endpoints (no node-specific part).
    pub(crate) fn service_states(
        &self,
        endpoints: &[weft_api::WorkloadEndpoint],
    ) -> Result<std::collections::BTreeMap<String, weft_api::sync::ServiceState>, ControllerError> {
        let services = self.store.list(Kind::Service, None)?;
        if services.is_empty() {
            return Ok(Default::default());
        }
        let pods = self.store.list(Kind::Pod, None)?;
        let namespaces = self.store.list(Kind::Namespace, None)?;
        let mut objects = super::service_view::Objects {
            endpoints: endpoints.iter().collect(),
            ..Default::default()
        };
        objects.take(services.iter().chain(&pods).chain(&namespaces));
        Ok(super::service_view::services(&objects))
    }

    pub(crate) fn pool_infos(&self) -> Vec<PoolInfo> {
        self.pools
            .iter()
            .map(|(name, pool)| {
                let purpose = match name.as_str() {
                    addressing::PODS_POOL => {
                        "pod addresses: the default network and networks without subnets".to_string()
                    }
                    addressing::SERVICES_POOL => "Service ClusterIPs".to_string(),
                    other => format!("pod addresses of VirtualNetwork {}", other.trim_start_matches("vn/")),
                };
                let mut used = std::collections::BTreeMap::new();
                let mut capacity = std::collections::BTreeMap::new();
                for family in [Family::V4, Family::V6] {
                    if pool.capacity(family) > 0 {
                        used.insert(family.to_string(), pool.used(family) as u64);
                        capacity.insert(family.to_string(), pool.capacity(family).to_string());
                    }
                }
                PoolInfo {
                    name: name.clone(),
                    purpose,
                    cidrs: pool.cidrs().iter().map(ToString::to_string).collect(),
                    used,
                    capacity,
                }
            })
            .collect()
    }

    pub(crate) fn allocation_infos(&self) -> Result<Vec<AllocationInfo>, ControllerError> {
        Ok(self.store.allocations()?.into_iter().map(info).collect())
    }
}

pub(super) fn info(a: Allocation) -> AllocationInfo {
    AllocationInfo {
        pool: a.pool,
        address: a.address,
        owner: a.owner,
        allocated_at: a.allocated_at.to_string(),
    }
}
