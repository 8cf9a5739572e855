//! What people and scripts see: kubectl-like tables, JSON, YAML and names.

pub mod columns;
mod table;

pub use table::Table;

use anyhow::Result;
use serde::Serialize;
use weft_api::{Kind, Resource};

/// `kind.group`, as kubectl names types in its output (`virtualnetwork.weft.io`, `pod`).
pub fn type_name(kind: Kind) -> String {
    let lower = kind.name().to_ascii_lowercase();
    match kind.api_version().rsplit_once('/') {
        Some((group, _)) => format!("{lower}.{group}"),
        None => lower,
    }
}

/// `virtualnetwork.weft.io/blue`.
pub fn object_name(resource: &Resource) -> String {
    format!("{}/{}", type_name(resource.kind()), resource.name())
}

/// One object as itself, several as a `List`, as kubectl prints them.
pub fn list_value(items: &[Resource], single: bool) -> serde_json::Value {
    match items {
        [one] if single => one.to_value(),
        _ => serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": items.iter().map(Resource::to_value).collect::<Vec<_>>(),
        }),
    }
}

pub fn print_json(value: &impl Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn print_yaml(value: &impl Serialize) -> Result<()> {
    print!("{}", serde_yaml_ng::to_string(value)?);
    Ok(())
}

/// Age like kubectl's: 45s, 12m, 5h, 3d.
pub fn age(resource: &Resource) -> String {
    let Some(created) = &resource.meta().creation_timestamp else {
        return "<unknown>".into();
    };
    let seconds = (jiff::Timestamp::now().as_second() - created.0.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
