//! `GET /metrics`: the controller's and its BGP speaker's metrics in the Prometheus (OpenMetrics)
//! text format, computed at scrape time from the store and the speaker, so nothing is kept
//! between scrapes.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::family::Family as Labeled;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use weft_api::Kind;

use super::watch;
use crate::bgp::BgpView;
use crate::state::{Command, Handle};

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub(super) async fn metrics(State((handle, view)): State<(Handle, BgpView)>) -> Response {
    let mut registry = Registry::with_prefix("weft");
    let objects = Labeled::<Vec<(String, String)>, Gauge>::default();
    for kind in Kind::ALL {
        if let Ok((_, items)) = handle
            .call(|reply| Command::List {
                kind,
                namespace: None,
                reply,
            })
            .await
        {
            let n = i64::try_from(items.len()).unwrap_or(i64::MAX);
            objects.get_or_create(&vec![("kind".into(), kind.to_string())]).set(n);
        }
    }
    registry.register("objects", "Stored objects per kind", objects);
    let revision = Gauge::<i64>::default();
    if let Ok(r) = handle.call(|reply| Command::Revision { reply }).await {
        revision.set(i64::try_from(r).unwrap_or(i64::MAX));
    }
    registry.register("store_revision", "The store's current revision", revision);
    let watches = Gauge::<i64>::default();
    watches.set(watch::active());
    registry.register("watches", "Open watch streams", watches);
    view.register_metrics(&mut registry).await;
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &registry) {
        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("encoding the metrics: {e}")).into_response(),
    }
}
