use anyhow::{Context, Result};
use weft_agent::AgentConfig;

use super::controller::{init_logging, shutdown_signal};
use crate::args::AgentArgs;

/// Runs a node's agent in the foreground until SIGINT or SIGTERM; the kernel keeps its state.
pub async fn run(args: AgentArgs) -> Result<u8> {
    init_logging(&args.log_level)?;
    let config = AgentConfig {
        node: args.node,
        controller: args.controller,
        socket: args.socket,
        mtu: args.mtu,
        ready_file: args.ready_file,
    };
    weft_agent::run(config, shutdown_signal())
        .await
        .context("agent failed")?;
    Ok(0)
}
