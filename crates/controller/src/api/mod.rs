//! The HTTP+JSON API: Kubernetes-shaped resources under `/api/v1/{plural}`, watches as
//! newline-delimited JSON events, address management under `/api/v1/ipam`. Handlers only
//! translate: every decision is made by the state owner.

mod bgp;
mod error;
mod explain;
mod ipam;
mod metrics;
mod resources;
mod services;
mod sync;
mod watch;

use axum::Router;
use axum::routing::{get, post};

pub use error::ApiError;

use crate::state::Handle;

/// The operator's view of the BGP speaker, under `/api/v1/bgp`.
pub fn bgp_router(view: crate::bgp::BgpView) -> Router {
    Router::new()
        .route("/api/v1/bgp/peers", get(bgp::peers))
        .route("/api/v1/bgp/routes", get(bgp::routes))
        .with_state(view)
}

/// `GET /metrics` for Prometheus: the store's objects and watches, the BGP speaker.
pub fn metrics_router(handle: Handle, view: crate::bgp::BgpView) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state((handle, view))
}

pub fn router(handle: Handle) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/version", get(resources::version))
        .route("/api/v1/apply", post(resources::apply))
        .route("/api/v1/ipam/pools", get(ipam::pools))
        .route("/api/v1/ipam/allocations", get(ipam::allocations))
        .route("/api/v1/ipam/pods/{namespace}/{name}", post(ipam::allocate_pod))
        .route("/api/v1/ipam/release", post(ipam::release))
        .route("/api/v1/ipam/gc", post(ipam::collect_garbage))
        .route("/api/v1/nodes/{node}/sync", get(sync::stream))
        .route("/api/v1/endpoints", get(services::endpoints))
        .route("/api/v1/explain/{namespace}/{pod}", get(explain::explain))
        .route("/api/v1/{plural}", get(resources::list_or_watch))
        .route(
            "/api/v1/{plural}/{name}",
            get(resources::get).put(resources::replace).delete(resources::delete),
        )
        .with_state(handle)
}
