use serde::{Deserialize, Serialize};
use weft_api::Resource;

/// What happened to an object, as in a Kubernetes watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One change, with the store revision of the transaction that made it. A deleted object is sent
/// with its last state.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventType,
    pub revision: u64,
    pub object: Resource,
}
