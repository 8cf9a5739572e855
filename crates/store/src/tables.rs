//! The database's tables. Keys are text so that a prefix scan lists one kind or one namespace.

use redb::TableDefinition;
use weft_api::{Kind, ResourceKey};

/// `Kind/namespace/name` or `Kind/name` -> the object's JSON.
pub(crate) const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
/// `pool|address` -> the allocation's JSON.
pub(crate) const ALLOCATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("allocations");
/// Store-wide counters.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub(crate) const REVISION: &str = "revision";

pub(crate) fn object_key(key: &ResourceKey) -> String {
    key.to_string()
}

/// The key prefix that lists a kind, or a kind in one namespace.
pub(crate) fn list_prefix(kind: Kind, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if kind.namespaced() => format!("{kind}/{ns}/"),
        _ => format!("{kind}/"),
    }
}
