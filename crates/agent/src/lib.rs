//! The Weft node agent. It registers its node (underlay address, router MAC, MTU, all detected),
//! follows its slice of the desired state from the controller, keeps the kernel in line with it,
//! and does the work the CNI plugin asks for.
//!
//! Shape: one owner task holds the node's state and the kernel connection and does every
//! reconciliation ([`owner`]); the sync task ([`sync`]) and the CNI server ([`cni`]) only send it
//! messages. With the controller gone the kernel keeps its last state and pods keep forwarding.

pub mod cni;
mod config;
mod error;
pub mod owner;
mod registration;
pub mod sync;

pub use config::AgentConfig;
pub use error::AgentError;

use weft_client::Client;
use weft_dataplane::Kernel;

/// Runs the agent until `shutdown` completes.
pub async fn run(config: AgentConfig, shutdown: impl std::future::Future<Output = ()>) -> Result<(), AgentError> {
    let client = Client::new(&config.controller).map_err(|e| AgentError::Config(e.to_string()))?;
    let kernel = Kernel::connect()?;
    let node = registration::prepare(&config, &kernel).await?;
    tracing::info!(node = %config.node, vtep = %node.vtep, router_mac = %node.router_mac, mtu = node.mtu, underlay = %node.underlay, "node prepared");
    let (owner, handle) = owner::Owner::new(kernel.clone(), config.node.clone());
    let owner_task = tokio::spawn(owner.run());
    let registered = tokio::spawn(registration::register(client.clone(), config.clone(), node.clone()));
    let server = cni::Server::bind(
        &config.socket,
        cni::Context::new(client.clone(), kernel, handle.clone(), config.clone(), node.mtu),
    )?;
    let server_task = tokio::spawn(server.run());
    let sync_task = tokio::spawn(sync::follow(client, config.node.clone(), handle.clone(), registered));
    let ready = config.ready_file.clone();
    if let Some(path) = ready {
        let _ = std::fs::write(&path, format!("{}\n", config.socket.display()));
    }
    shutdown.await;
    tracing::info!("agent stopping; the kernel keeps its state");
    sync_task.abort();
    server_task.abort();
    owner_task.abort();
    let _ = std::fs::remove_file(&config.socket);
    Ok(())
}
