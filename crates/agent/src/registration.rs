//! What the node is, found rather than configured: the underlay interface and address from the
//! node's route towards the controller, the MTU from that interface, the router MAC from the
//! VXLAN device. Then the Node object, so that other nodes can route here.

use std::net::Ipv4Addr;
use std::time::Duration;

use weft_api::{Node, NodeSpec, NodeStatus, ObjectMeta, Resource};
use weft_client::Client;
use weft_dataplane::pod::format_mac;
use weft_dataplane::{Kernel, marks, underlay};

use crate::{AgentConfig, AgentError};

/// The node as detected.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    pub vtep: Ipv4Addr,
    pub underlay: String,
    pub router_mac: String,
    pub mtu: u32,
}

fn controller_address(url: &str) -> Option<Ipv4Addr> {
    let host = url.strip_prefix("http://")?.split('/').next()?;
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    underlay::host_address(host)
}

/// Finds the underlay, turns on forwarding, makes the VXLAN device.
pub async fn prepare(config: &AgentConfig, kernel: &Kernel) -> Result<NodeFacts, AgentError> {
    let toward = controller_address(&config.controller).ok_or_else(|| {
        AgentError::Config(format!(
            "--controller {}: give the controller by IPv4 address (http://192.0.2.10:7420): the underlay is found from the route towards it",
            config.controller
        ))
    })?;
    let found = underlay::detect(&kernel.handle, toward).await?;
    let mtu = match config.mtu {
        Some(m) => m,
        None => found.mtu.saturating_sub(marks::VXLAN_OVERHEAD),
    };
    kernel.enable_forwarding()?;
    kernel.enable_services()?;
    let vxlan = kernel.ensure_vxlan(mtu).await?;
    Ok(NodeFacts {
        vtep: found.address,
        underlay: found.interface,
        router_mac: format_mac(&vxlan.mac),
        mtu,
    })
}

/// Writes the Node object, retrying until the controller answers.
pub async fn register(client: Client, config: AgentConfig, facts: NodeFacts) -> bool {
    let node = Resource::Node(Node {
        metadata: ObjectMeta {
            name: Some(config.node.clone()),
            ..Default::default()
        },
        spec: NodeSpec {
            vtep: facts.vtep.to_string(),
            router_mac: facts.router_mac.clone(),
            mtu: facts.mtu,
        },
        status: Some(NodeStatus {
            underlay_interface: Some(facts.underlay.clone()),
            agent_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
    });
    let mut delay = Duration::from_millis(100);
    loop {
        match client.apply(&node, false).await {
            Ok(_) => {
                tracing::info!(node = %config.node, "node registered");
                return true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot register the node yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
