use std::sync::Arc;

use std::collections::BTreeMap;
use tokio::sync::{broadcast, mpsc, oneshot};

use weft_api::sync::{NodeState, RemoteRoute};
use weft_api::wire::{AllocationInfo, Outcome, PodAddresses, PoolInfo};
use weft_api::{Kind, Resource, ResourceKey};
use weft_store::{Event, Precondition};

use crate::ControllerError;

type Reply<T> = oneshot::Sender<Result<T, ControllerError>>;

/// A request to the state owner, with where to send the answer.
pub enum Command {
    Apply {
        resource: Box<Resource>,
        precondition: Precondition,
        reply: Reply<(Outcome, Resource)>,
    },
    Delete {
        key: ResourceKey,
        resource_version: Option<String>,
        reply: Reply<Resource>,
    },
    Get {
        key: ResourceKey,
        reply: Reply<Resource>,
    },
    List {
        kind: Kind,
        namespace: Option<String>,
        reply: Reply<(u64, Vec<Resource>)>,
    },
    Watch {
        kind: Kind,
        namespace: Option<String>,
        since: Option<u64>,
        reply: Reply<WatchStart>,
    },
    Revision {
        reply: Reply<u64>,
    },
    AllocatePod {
        namespace: String,
        name: String,
        reply: Reply<PodAddresses>,
    },
    Release {
        owner: String,
        reply: Reply<Vec<AllocationInfo>>,
    },
    Pools {
        reply: Reply<Vec<PoolInfo>>,
    },
    Allocations {
        reply: Reply<Vec<AllocationInfo>>,
    },
    CollectGarbage {
        reply: Reply<Vec<AllocationInfo>>,
    },
    /// A node's slice of the state and the revision it reflects; NotFound for an unknown node.
    NodeState {
        node: String,
        reply: Reply<(u64, NodeState)>,
    },
    /// Every Service with its ready endpoints, cluster-wide (`weft get endpoints`).
    Services {
        reply: Reply<Vec<weft_api::sync::ServiceState>>,
    },
    /// Every committed change from now on (for streams that recompute on change).
    Subscribe {
        reply: Reply<broadcast::Receiver<Arc<Event>>>,
    },
    /// Replaces the status of a stored object with the one given (its spec and generation
    /// untouched); answers the stored object, or `None` when the status was already that.
    WriteStatus {
        resource: Box<Resource>,
        reply: Reply<Option<Resource>>,
    },
}

/// The start of a watch: the events to send first (the current objects, or the changes since the
/// asked revision), then everything the receiver gets. Subscribing happens in the owner, between
/// two commands, so that no change falls between the two.
pub struct WatchStart {
    pub initial: Vec<Arc<Event>>,
    pub live: broadcast::Receiver<Arc<Event>>,
}

/// A cheap, cloneable way to send commands to the owner and await the answer.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
    closing: tokio::sync::watch::Receiver<bool>,
    /// Routes learned over BGP for the virtual networks, by network: not stored (the peers
    /// send them again after a restart), merged into the nodes' states by their sync streams.
    imported: Arc<tokio::sync::watch::Sender<Arc<Imported>>>,
    /// Whether `imported` is complete enough to hand out: after a (re)start, BGP needs a moment
    /// to learn the routes again, and a node told "in sync" before would remove them.
    imports_settled: Arc<tokio::sync::watch::Sender<bool>>,
}

/// Imported routes by network name, then by [`RemoteRoute::key`].
pub type Imported = BTreeMap<String, BTreeMap<String, RemoteRoute>>;

impl Handle {
    pub(crate) fn new(tx: mpsc::Sender<Command>, closing: tokio::sync::watch::Receiver<bool>) -> Handle {
        Handle {
            tx,
            closing,
            imported: Arc::new(tokio::sync::watch::channel(Arc::new(Imported::new())).0),
            imports_settled: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Marks the imported routes complete (or BGP off): node syncs may say "in sync".
    pub fn set_imports_settled(&self) {
        self.imports_settled.send_replace(true);
    }

    /// Waits until the imported routes are complete, at most `limit`.
    pub async fn imports_settled(&self, limit: std::time::Duration) {
        let mut rx = self.imports_settled.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|s| *s)).await;
    }

    /// Replaces the routes imported over BGP; the nodes' streams hear of it only if they changed.
    pub fn set_imported(&self, imported: Imported) {
        self.imported.send_if_modified(|current| {
            if **current == imported {
                return false;
            }
            *current = Arc::new(imported);
            true
        });
    }

    /// The routes imported over BGP, and their changes.
    pub fn imported(&self) -> tokio::sync::watch::Receiver<Arc<Imported>> {
        self.imported.subscribe()
    }

    /// Completes when the controller begins to shut down: long-lived streams (watches, node
    /// syncs) end then, so that a graceful shutdown does not wait for clients that never leave.
    pub async fn closing(&self) {
        let mut closing = self.closing.clone();
        let _ = closing.wait_for(|c| *c).await;
    }

    /// Sends the command that `make` builds around a reply channel and waits for the answer.
    pub async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ControllerError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| ControllerError::Stopped)?;
        answer.await.map_err(|_| ControllerError::Stopped)?
    }
}
