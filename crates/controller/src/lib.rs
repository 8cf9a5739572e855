//! The Weft controller: keeps the desired state (resources and IP allocations) in its store,
//! admits changes with Kubernetes-like checks, hands out addresses, and serves it all over an
//! HTTP+JSON API with Kubernetes-style watches.
//!
//! Shape: one owner thread holds the store and the address pools and applies commands one at a
//! time ([`state`]); the HTTP tasks ([`api`]) only translate requests into commands and stream
//! events out. Nothing else touches the state, so there are no locks to get wrong.

pub mod api;
pub mod bgp;
mod config;
mod error;
pub mod federation;
mod listeners;
pub mod state;

pub use config::ControllerConfig;
pub use error::ControllerError;

use bgp::BgpConfig;

use std::future::Future;

use tokio::net::TcpListener;

/// Opens the store, starts the owner thread and serves the API until `shutdown` completes.
pub async fn run(
    config: ControllerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ControllerError> {
    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    let closing_rx = closing.clone();
    // A data directory with something in it: this controller ran before, so this is a restart.
    let ran_before = std::fs::read_dir(&config.data_dir).is_ok_and(|mut d| d.next().is_some());
    let handle = state::start(&config, closing)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| ControllerError::Listen(config.listen, e))?;
    let local = listener
        .local_addr()
        .map_err(|e| ControllerError::Listen(config.listen, e))?;
    if let Some(path) = &config.ready_file {
        // Write then rename: a reader never sees half a URL.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("http://{local}\n"))
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| ControllerError::Open {
                path: path.clone(),
                reason: format!("cannot write the ready file: {e}"),
            })?;
    }
    tracing::info!(address = %local, data_dir = %config.data_dir.display(), "controller serving");
    let gc = tokio::spawn(state::gc_loop(handle.clone(), config.gc_interval));
    let bgp_view = bgp::BgpView::default();
    let bgp_task = config
        .bgp
        .clone()
        .map(|c| BgpConfig {
            restarting: ran_before,
            ..c
        })
        .map(|c| tokio::spawn(bgp::bgp_loop(handle.clone(), c, bgp_view.clone())));
    if config.bgp.is_none() {
        handle.set_imports_settled(); // nothing is ever imported
    }
    let federation_task = config
        .bgp
        .is_some()
        .then(|| tokio::spawn(federation::federation_loop(handle.clone(), bgp_view.clone())));
    let app = api::router(handle.clone())
        .merge(api::bgp_router(bgp_view.clone()))
        .merge(api::metrics_router(handle, bgp_view));
    let mut extra = Vec::new();
    for (netns, address) in &config.listen_in {
        let listener = listeners::bind_in(netns, *address)
            .and_then(TcpListener::from_std)
            .map_err(|e| ControllerError::Listen(*address, e))?;
        tracing::info!(address = %address, netns = %netns.display(), "controller serving in a namespace");
        let app = app.clone();
        let mut closing = closing_rx.clone();
        extra.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = closing.wait_for(|c| *c).await;
                })
                .await;
        }));
    }
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // End watches and syncs so that the graceful shutdown does not wait for them.
            let _ = closing_tx.send(true);
        })
        .await;
    gc.abort();
    if let Some(task) = federation_task {
        task.abort();
    }
    if let Some(task) = bgp_task {
        // The loop stops its speaker (Cease to every peer) once the controller is closing.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
    }
    for task in extra {
        let _ = task.await;
    }
    served.map_err(|e| ControllerError::Listen(local, e))
}
