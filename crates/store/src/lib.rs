//! The controller's desired state on disk: every resource with its revision, and every IP
//! allocation, in one embedded redb database.
//!
//! A write is one redb transaction committed with immediate durability before it is acknowledged,
//! so a crash (even `kill -9` mid-write) loses nothing that was acknowledged and leaves nothing
//! half-written. Revisions work like etcd's: one counter for the whole store, bumped once per
//! transaction that changes something, stamped into `metadata.resourceVersion`, so that optimistic
//! concurrency and resuming watches work as in Kubernetes.

mod allocation;
mod error;
mod event;
mod stamp;
mod store;
mod tables;
mod txn;

pub use allocation::Allocation;
pub use error::StoreError;
pub use event::{Event, EventType};
pub use store::Store;
pub use txn::{Precondition, Txn};
pub use weft_api::wire::Outcome;
