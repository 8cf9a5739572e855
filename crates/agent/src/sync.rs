//! Following the controller: the node's sync stream, reconnecting with backoff. While it is
//! down the kernel keeps its last state (headless forwarding); a reconnect starts with a fresh
//! snapshot.

use std::time::Duration;

use futures::StreamExt;
use tokio::task::JoinHandle;
use weft_api::sync::SyncMessage;
use weft_client::Client;

use crate::owner::{Message, OwnerHandle};

/// Silence longer than this means the connection is dead (the controller sends heartbeats).
const SILENCE: Duration = Duration::from_secs(15);

pub async fn follow(client: Client, node: String, owner: OwnerHandle, registered: JoinHandle<bool>) {
    let _ = registered.await;
    let mut delay = Duration::from_millis(100);
    loop {
        match client.sync(&node).await {
            Ok(stream) => {
                let mut stream = Box::pin(stream);
                loop {
                    let next = tokio::time::timeout(SILENCE, stream.next()).await;
                    let message = match next {
                        Ok(Some(Ok(m))) => m,
                        Ok(Some(Err(e))) => {
                            tracing::warn!(error = %e, "sync stream broke");
                            break;
                        }
                        Ok(None) => {
                            tracing::warn!("the controller ended the sync stream");
                            break;
                        }
                        Err(_) => {
                            tracing::warn!("no word from the controller for {SILENCE:?}; reconnecting");
                            break;
                        }
                    };
                    delay = Duration::from_millis(100);
                    match message {
                        SyncMessage::Snapshot { revision, state } => {
                            tracing::info!(
                                revision,
                                endpoints = state.endpoints.len(),
                                routes = state.routes.len(),
                                "snapshot"
                            );
                            owner.set_connected(true);
                            owner.send(Message::Snapshot(state)).await;
                        }
                        SyncMessage::InSync { .. } => owner.send(Message::InSync).await,
                        SyncMessage::Delta { revision, changes } => {
                            tracing::debug!(revision, changes = changes.len(), "delta");
                            owner.send(Message::Delta(changes)).await;
                        }
                        SyncMessage::Heartbeat { .. } => {}
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot follow the controller; keeping the last state"),
        }
        owner.set_connected(false);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
