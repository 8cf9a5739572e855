//! The controller's state and its one owner: a thread that holds the store and the address
//! pools and executes [`Command`]s in order. HTTP handlers reach it through a [`Handle`].

mod addressing;
mod admission;
mod command;
mod endpoints;
mod gc;
mod history;
pub mod networks;
pub mod node_view;
mod ops;
pub mod policy_view;
pub mod service_view;
mod status;
#[cfg(test)]
mod tests;

pub use addressing::{PODS_POOL, SERVICES_POOL, network_pool};
pub use command::{Command, Handle, Imported, WatchStart};
pub use gc::gc_loop;

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};
use weft_api::{Kind, ObjectMeta, Resource, ResourceKey};
use weft_store::{Event, Precondition, Store};

use crate::{ControllerConfig, ControllerError};
use addressing::Pools;
use history::History;

/// How many recent changes a watch can resume from.
const HISTORY: usize = 10_000;
/// How far a watcher may fall behind before it is told to list again.
const WATCH_BUFFER: usize = 4096;

/// Everything the owner holds.
pub(crate) struct State {
    store: Store,
    pools: Pools,
    history: History,
    events: broadcast::Sender<Arc<Event>>,
    gc_grace: std::time::Duration,
}

/// Opens the store, rebuilds the pools and starts the owner thread.
pub fn start(
    config: &ControllerConfig,
    closing: tokio::sync::watch::Receiver<bool>,
) -> Result<Handle, ControllerError> {
    let state = State::open(config)?;
    let (tx, rx) = mpsc::channel(1024);
    std::thread::Builder::new()
        .name("weft-state".into())
        .spawn(move || state.run(rx))
        .map_err(|e| ControllerError::Open {
            path: config.data_dir.clone(),
            reason: format!("cannot start the state thread: {e}"),
        })?;
    Ok(Handle::new(tx, closing))
}

impl State {
    /// Opens the store and rebuilds the pools from it.
    pub(crate) fn open(config: &ControllerConfig) -> Result<State, ControllerError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| ControllerError::Open {
            path: config.data_dir.clone(),
            reason: e.to_string(),
        })?;
        let store = Store::open(&config.data_dir).map_err(|e| ControllerError::Open {
            path: config.data_dir.clone(),
            reason: match e {
                weft_store::StoreError::Database(redb::Error::DatabaseAlreadyOpen) => {
                    "another controller is using this data directory; stop it or choose another --data-dir".into()
                }
                other => other.to_string(),
            },
        })?;
        let (events, _) = broadcast::channel(WATCH_BUFFER);
        let mut state = State {
            history: History::new(store.revision(), HISTORY),
            store,
            pools: Pools::new(),
            events,
            gc_grace: config.gc_grace,
        };
        state.pools = state.store.write(|txn| addressing::rebuild(txn)).map(|(p, _)| p)?;
        state.ensure_default_namespace()?;
        Ok(state)
    }

    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(command) = rx.blocking_recv() {
            self.execute(command);
        }
        tracing::info!("state owner stopped");
    }

    /// Every namespaced object may live in `default`, which always exists, as in Kubernetes.
    fn ensure_default_namespace(&mut self) -> Result<(), ControllerError> {
        let key = ResourceKey::new(Kind::Namespace, None, "default");
        if self.store.get(&key)?.is_none() {
            let ns = Resource::Namespace(k8s_openapi::api::core::v1::Namespace {
                metadata: ObjectMeta {
                    name: Some("default".into()),
                    ..Default::default()
                },
                ..Default::default()
            });
            let (_, events) = self.store.write(|t| t.put(ns, Precondition::Absent))?;
            self.publish(events);
        }
        Ok(())
    }

    /// Remembers and broadcasts committed changes.
    fn publish(&mut self, events: Vec<Event>) {
        for event in events {
            let event = Arc::new(event);
            self.history.push(event.clone());
            // No receivers is fine: nobody is watching.
            let _ = self.events.send(event);
        }
    }
}

use weft_api::k8s_openapi;
