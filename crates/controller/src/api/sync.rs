//! `GET /api/v1/nodes/{node}/sync`: a node's state as a snapshot, an in-sync marker, then deltas
//! whenever a change in the store alters it, and heartbeats in between.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;
use weft_api::Kind;
use weft_api::sync::{NodeState, SyncMessage};
use weft_api::wire::Reason;

use super::ApiError;
use crate::state::{Command, Handle, Imported};

/// How often an idle stream says it is alive; agents treat a longer silence as a dead connection.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// Changes queued behind the one being handled which mean a stream of writes: recompute less
/// often.
const BUSY: usize = 8;

/// The longest a node's sync waits for BGP's imported routes after a controller (re)start.
const IMPORTS_SETTLE_LIMIT: Duration = Duration::from_secs(20);

/// The kinds whose changes can alter a node's state.
fn relevant(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Node
            | Kind::VirtualNetwork
            | Kind::WorkloadEndpoint
            | Kind::Service
            | Kind::Pod
            | Kind::Namespace
            | Kind::NetworkPolicy
    )
}

fn line(message: &SyncMessage) -> Bytes {
    let mut bytes = serde_json::to_vec(message).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// A node's stored state plus the imported routes of the networks it has. A route of this
/// cluster wins over an imported one with the same key (the import side reports the overlap).
fn with_imported(mut state: NodeState, imported: &Imported) -> NodeState {
    for network in state.networks.keys() {
        for (key, route) in imported.get(network).into_iter().flatten() {
            state.routes.entry(key.clone()).or_insert_with(|| route.clone());
        }
    }
    state
}

pub(super) async fn stream(State(h): State<Handle>, Path(node): Path<String>) -> Result<Response, ApiError> {
    // Subscribe before computing the snapshot: a change in between is then seen as an event.
    let mut events = h.call(|reply| Command::Subscribe { reply }).await?;
    let name = node.clone();
    // After a restart, wait (briefly) for BGP to learn the other clusters' routes again: the
    // node would otherwise remove them at "in sync" and add them back a moment later.
    h.imports_settled(IMPORTS_SETTLE_LIMIT).await;
    let mut imported = h.imported();
    let (revision, stored) = h.call(|reply| Command::NodeState { node: name, reply }).await?;
    let state = with_imported(stored.clone(), &imported.borrow_and_update());
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let first = [
        line(&SyncMessage::Snapshot {
            revision,
            state: state.clone(),
        }),
        line(&SyncMessage::InSync { revision }),
    ];
    tokio::spawn(async move {
        for l in first {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        let mut sent: NodeState = state;
        let mut last_cost = Duration::ZERO;
        let mut last_done = std::time::Instant::now();
        let mut stored = stored;
        let mut revision = revision;
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        loop {
            let changed = tokio::select! {
                _ = h.closing() => return,
                // Routes learned over BGP changed: merge them into the last stored state.
                r = imported.changed() => {
                    if r.is_err() {
                        return;
                    }
                    let state = with_imported(stored.clone(), &imported.borrow_and_update());
                    let changes = sent.diff(&state);
                    if !changes.is_empty() {
                        sent = state;
                        if tx.send(line(&SyncMessage::Delta { revision, changes })).await.is_err() {
                            return;
                        }
                    }
                    continue;
                }
                event = events.recv() => match event {
                    Ok(e) => relevant(e.object.kind()),
                    // Fell behind: recompute from the store, which is always right.
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return,
                },
                _ = heartbeat.tick() => {
                    if tx.send(line(&SyncMessage::Heartbeat { revision })).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            if !changed {
                continue;
            }
            // Coalesce a burst of changes into one recomputation. Each recomputation reads the
            // store on the owner thread, so under a stream of writes (many changes queued) a node
            // recomputes at most once per twice its last cost, a third of the owner's time. A
            // lone change is recomputed at once: a pod's ADD on this node waits for it (the
            // network's table comes with it).
            let mut queued = 0usize;
            while events.try_recv().is_ok() {
                queued += 1;
            }
            if queued >= BUSY {
                tokio::time::sleep((last_cost * 2).saturating_sub(last_done.elapsed())).await;
                while events.try_recv().is_ok() {}
            }
            let name = node.clone();
            let computing = std::time::Instant::now();
            let result = h.call(|reply| Command::NodeState { node: name, reply }).await;
            last_cost = computing.elapsed();
            last_done = std::time::Instant::now();
            let (now, fresh) = match result {
                Ok(v) => v,
                Err(e) => {
                    tracing::info!(node = %node, error = %e, "ending a node's sync stream");
                    return;
                }
            };
            revision = now;
            stored = fresh;
            let state = with_imported(stored.clone(), &imported.borrow_and_update());
            let changes = sent.diff(&state);
            if changes.is_empty() {
                continue;
            }
            sent = state;
            if tx.send(line(&SyncMessage::Delta { revision, changes })).await.is_err() {
                return;
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(body))
        .map_err(|e| ApiError::new(Reason::InternalError, e.to_string()))
}
