use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use futures::StreamExt;
use tokio::sync::broadcast::error::RecvError;
use weft_api::wire::{Reason, Status, WatchEvent};
use weft_api::{Kind, Resource};
use weft_store::{Event, EventType};

use super::ApiError;
use crate::state::{Command, Handle};

/// Open watch streams, for the metrics.
static ACTIVE: AtomicI64 = AtomicI64::new(0);

pub(super) fn active() -> i64 {
    ACTIVE.load(Ordering::Relaxed)
}

/// Counts one open stream for as long as the stream lives.
struct Open;

impl Open {
    fn new() -> Open {
        ACTIVE.fetch_add(1, Ordering::Relaxed);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

fn line(event: &WatchEvent) -> Bytes {
    let mut bytes = serde_json::to_vec(event).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn to_wire(event: &Event) -> WatchEvent {
    let kind = match event.kind {
        EventType::Added => "ADDED",
        EventType::Modified => "MODIFIED",
        EventType::Deleted => "DELETED",
    };
    WatchEvent {
        kind: kind.into(),
        object: event.object.to_value(),
    }
}

fn matches(object: &Resource, kind: Kind, namespace: Option<&str>) -> bool {
    object.kind() == kind && namespace.is_none_or(|ns| object.meta().namespace.as_deref() == Some(ns))
}

/// Streams the watch's first events, then live changes, one JSON object per line, until the
/// client goes away. A watcher that falls too far behind gets an ERROR event (reason Expired)
/// and the end of the stream, and is expected to list again, as with Kubernetes.
pub(super) async fn stream(
    h: Handle,
    kind: Kind,
    namespace: Option<String>,
    since: Option<u64>,
) -> Result<Response, ApiError> {
    let ns = namespace.clone();
    let start = h
        .call(|reply| Command::Watch {
            kind,
            namespace: ns,
            since,
            reply,
        })
        .await?;
    let initial: Vec<Bytes> = start
        .initial
        .iter()
        .filter(|e| matches(&e.object, kind, namespace.as_deref()))
        .map(|e| line(&to_wire(e)))
        .collect();
    let open = Open::new();
    let live = futures::stream::unfold((start.live, false), move |(mut rx, done)| {
        let _open = &open;
        let namespace = namespace.clone();
        let closing = h.clone();
        async move {
            if done {
                return None;
            }
            loop {
                let received = tokio::select! {
                    r = rx.recv() => r,
                    _ = closing.closing() => return None,
                };
                match received {
                    Ok(event) => {
                        let event: Arc<Event> = event;
                        if matches(&event.object, kind, namespace.as_deref()) {
                            return Some((line(&to_wire(&event)), (rx, false)));
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        let status = Status::failure(
                            Reason::Expired,
                            format!(
                                "the watch fell {n} events behind; list again and watch from the list's resourceVersion"
                            ),
                        );
                        let event = WatchEvent {
                            kind: "ERROR".into(),
                            object: serde_json::to_value(status).unwrap_or_default(),
                        };
                        return Some((line(&event), (rx, true)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    let body = futures::stream::iter(initial)
        .chain(live)
        .map(Ok::<_, std::convert::Infallible>);
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(body))
        .map_err(|e| ApiError::new(Reason::InternalError, e.to_string()))
}
