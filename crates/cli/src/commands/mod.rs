//! One module per subcommand.

pub mod agent;
pub mod apply;
pub mod bgp;
pub mod config;
pub mod controller;
pub mod delete;
pub mod endpoints;
pub mod explain;
pub mod get;
pub mod ipam;
pub mod lab;
pub mod manifests;
pub mod routes;
pub mod version;

use anyhow::Result;
use weft_client::Client;

use crate::args::Cli;
use crate::config::{self as cfg, Config, DEFAULT_SERVER};
use crate::exit::{self, Exit};

/// Which controller and namespace a command works on, from flags, environment and context.
pub struct Target {
    pub client: Client,
    /// The namespace given with -n or by the context; `default` otherwise.
    pub namespace: String,
    /// Whether -n was given explicitly.
    pub namespace_given: bool,
}

impl Target {
    /// Precedence: --server (or $WEFT_SERVER), then --context, then the current context, then a
    /// controller on this machine.
    pub fn from_cli(cli: &Cli) -> Result<Target> {
        let config = Config::load(&cfg::path())?;
        let context = match &cli.context {
            Some(name) => Some(config.context(name).cloned().ok_or_else(|| {
                Exit::new(
                    exit::USAGE,
                    format!(
                        "no context {name:?} in {}; see `weft config get-contexts`",
                        cfg::path().display()
                    ),
                )
            })?),
            None => config
                .current_context
                .as_deref()
                .and_then(|n| config.context(n))
                .cloned(),
        };
        let server = cli
            .server
            .clone()
            .or_else(|| context.as_ref().map(|c| c.server.clone()))
            .unwrap_or_else(|| DEFAULT_SERVER.to_string());
        let client = Client::new(&server).map_err(Exit::from)?;
        let namespace_given = cli.namespace.is_some();
        let namespace = cli
            .namespace
            .clone()
            .or_else(|| context.and_then(|c| c.namespace))
            .unwrap_or_else(|| "default".into());
        Ok(Target {
            client,
            namespace,
            namespace_given,
        })
    }
}
