use std::net::IpAddr;

use redb::{ReadableTable, WriteTransaction};
use weft_api::wire::Outcome;
use weft_api::{Kind, Resource, ResourceKey, manifest};

use crate::error::db;
use crate::tables::{ALLOCATIONS, META, OBJECTS, REVISION, list_prefix, object_key};
use crate::{Allocation, Event, EventType, StoreError, stamp};

/// What a write may require of the object's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Create or replace (`apply`).
    Any,
    /// Create only (`create`); fails with AlreadyExists.
    Absent,
    /// Replace only; fails with NotFound.
    Present,
}

/// One atomic write: everything done through it is committed together or not at all.
pub struct Txn {
    pub(crate) tx: WriteTransaction,
    pub(crate) base_revision: u64,
    pub(crate) events: Vec<Event>,
}

impl Txn {
    /// The revision this transaction's changes get.
    fn next_revision(&self) -> u64 {
        self.base_revision + 1
    }

    pub fn get(&self, key: &ResourceKey) -> Result<Option<Resource>, StoreError> {
        let table = self.tx.open_table(OBJECTS).map_err(db)?;
        let k = object_key(key);
        let found = table.get(k.as_str()).map_err(db)?;
        found.map(|v| decode(&k, v.value())).transpose()
    }

    pub fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<Vec<Resource>, StoreError> {
        let table = self.tx.open_table(OBJECTS).map_err(db)?;
        scan(&table, &list_prefix(kind, namespace))
    }

    /// Writes an object. A `resourceVersion` in the object is a precondition: the stored object
    /// must be at exactly that version (optimistic concurrency, as in Kubernetes).
    pub fn put(&mut self, mut resource: Resource, pre: Precondition) -> Result<(Outcome, Resource), StoreError> {
        let key = resource.key();
        if key.namespace.is_some() && resource.meta().namespace.is_none() {
            resource.meta_mut().namespace = key.namespace.clone();
        }
        let old = self.get(&key)?;
        let sent = resource
            .resource_version()
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let revision = self.next_revision();
        let (outcome, event) = match (&old, pre) {
            (Some(_), Precondition::Absent) => return Err(StoreError::AlreadyExists { key }),
            (None, Precondition::Present) => return Err(StoreError::NotFound { key }),
            (None, _) if sent.is_some() => return Err(StoreError::NotFound { key }),
            (None, _) => {
                stamp::created(&mut resource, revision);
                (Outcome::Created, EventType::Added)
            }
            (Some(old), _) => {
                let current = old.resource_version().unwrap_or_default().to_string();
                if let Some(sent) = sent
                    && sent != current
                {
                    return Err(StoreError::Conflict { key, sent, current });
                }
                if stamp::unchanged(&resource, old) {
                    return Ok((Outcome::Unchanged, old.clone()));
                }
                stamp::updated(&mut resource, old, revision);
                (Outcome::Configured, EventType::Modified)
            }
        };
        let bytes = serde_json::to_vec(&resource).map_err(|e| StoreError::Corrupt {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        {
            let mut table = self.tx.open_table(OBJECTS).map_err(db)?;
            table.insert(object_key(&key).as_str(), bytes.as_slice()).map_err(db)?;
        }
        self.record(event, resource.clone())?;
        Ok((outcome, resource))
    }

    /// Deletes an object; with `resource_version`, only if it is still at that version.
    pub fn delete(&mut self, key: &ResourceKey, resource_version: Option<&str>) -> Result<Resource, StoreError> {
        let Some(mut old) = self.get(key)? else {
            return Err(StoreError::NotFound { key: key.clone() });
        };
        let current = old.resource_version().unwrap_or_default();
        if let Some(sent) = resource_version.filter(|v| !v.is_empty())
            && sent != current
        {
            return Err(StoreError::Conflict {
                key: key.clone(),
                sent: sent.to_string(),
                current: current.to_string(),
            });
        }
        {
            let mut table = self.tx.open_table(OBJECTS).map_err(db)?;
            table.remove(object_key(key).as_str()).map_err(db)?;
        }
        // The DELETED event carries the revision of the deletion, as a Kubernetes watch does.
        old.meta_mut().resource_version = Some(self.next_revision().to_string());
        self.record(EventType::Deleted, old.clone())?;
        Ok(old)
    }

    pub fn allocations(&self) -> Result<Vec<Allocation>, StoreError> {
        let table = self.tx.open_table(ALLOCATIONS).map_err(db)?;
        read_allocations(&table)
    }

    pub fn put_allocation(&mut self, allocation: &Allocation) -> Result<(), StoreError> {
        let key = Allocation::key(&allocation.pool, allocation.address);
        let bytes = serde_json::to_vec(allocation).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        let mut table = self.tx.open_table(ALLOCATIONS).map_err(db)?;
        table.insert(key.as_str(), bytes.as_slice()).map_err(db)?;
        Ok(())
    }

    /// Returns whether the address was allocated.
    pub fn remove_allocation(&mut self, pool: &str, address: IpAddr) -> Result<bool, StoreError> {
        let mut table = self.tx.open_table(ALLOCATIONS).map_err(db)?;
        let removed = table.remove(Allocation::key(pool, address).as_str()).map_err(db)?;
        Ok(removed.is_some())
    }

    fn record(&mut self, kind: EventType, object: Resource) -> Result<(), StoreError> {
        let revision = self.next_revision();
        if self.events.is_empty() {
            let mut meta = self.tx.open_table(META).map_err(db)?;
            meta.insert(REVISION, revision).map_err(db)?;
        }
        self.events.push(Event { kind, revision, object });
        Ok(())
    }
}

pub(crate) fn decode(key: &str, bytes: &[u8]) -> Result<Resource, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: key.to_string(),
        reason,
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    manifest::decode(value).map_err(|e| corrupt(e.to_string()))
}

pub(crate) fn scan(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    prefix: &str,
) -> Result<Vec<Resource>, StoreError> {
    let mut out = Vec::new();
    for entry in table.range(prefix..).map_err(db)? {
        let (k, v) = entry.map_err(db)?;
        if !k.value().starts_with(prefix) {
            break;
        }
        out.push(decode(k.value(), v.value())?);
    }
    Ok(out)
}

pub(crate) fn read_allocations(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<Allocation>, StoreError> {
    let mut out = Vec::new();
    for entry in table.iter().map_err(db)? {
        let (k, v) = entry.map_err(db)?;
        let allocation = serde_json::from_slice(v.value()).map_err(|e| StoreError::Corrupt {
            key: k.value().to_string(),
            reason: e.to_string(),
        })?;
        out.push(allocation);
    }
    Ok(out)
}
