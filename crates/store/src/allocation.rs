use std::net::IpAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One address handed out from one pool, and to whom. The owner is a resource key
/// (`Pod/ns/name`, `Service/ns/name`) so that garbage collection can tell whether it still exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    pub pool: String,
    pub address: IpAddr,
    pub owner: String,
    pub allocated_at: Timestamp,
}

impl Allocation {
    pub(crate) fn key(pool: &str, address: IpAddr) -> String {
        format!("{pool}|{address}")
    }
}
