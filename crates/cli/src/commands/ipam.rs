use anyhow::Result;

use super::Target;
use crate::args::{IpamCommand, OutputFormat};
use crate::exit::{self, Exit};
use crate::output::{self, Table};

pub async fn run(target: Target, command: IpamCommand) -> Result<u8> {
    let client = &target.client;
    match command {
        IpamCommand::Pools { output: format } => {
            let pools = client.pools().await.map_err(Exit::from)?;
            if !structured(format, &pools)? {
                let mut t = Table::new(&["POOL", "CIDRS", "USED", "CAPACITY", "PURPOSE"]);
                for p in pools {
                    let used = p
                        .used
                        .iter()
                        .map(|(f, n)| format!("{f}:{n}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let capacity = p
                        .capacity
                        .iter()
                        .map(|(f, n)| format!("{f}:{n}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    t.row(vec![p.name, p.cidrs.join(","), used, capacity, p.purpose]);
                }
                print!("{}", t.render());
            }
        }
        IpamCommand::Allocations { output: format } => {
            let allocations = client.allocations().await.map_err(Exit::from)?;
            if !structured(format, &allocations)? {
                let mut t = Table::new(&["POOL", "ADDRESS", "OWNER", "ALLOCATED"]);
                for a in allocations {
                    t.row(vec![a.pool, a.address.to_string(), a.owner, a.allocated_at]);
                }
                print!("{}", t.render());
            }
        }
        IpamCommand::Allocate { pod, output: format } => {
            let (namespace, name) = pod.split_once('/').unwrap_or((target.namespace.as_str(), pod.as_str()));
            let a = client.allocate_pod(namespace, name).await.map_err(Exit::from)?;
            if !structured(format, &a)? {
                let mut t = Table::new(&["POD", "NETWORK", "POOL", "ADDRESSES"]);
                let addresses = a
                    .addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                t.row(vec![
                    format!("{}/{}", a.namespace, a.name),
                    a.network,
                    a.pool,
                    addresses,
                ]);
                print!("{}", t.render());
            }
        }
        IpamCommand::Release { owner } => {
            let released = client.release(&owner).await.map_err(Exit::from)?;
            if released.released.is_empty() {
                return Err(Exit::new(exit::NOT_FOUND, format!("{owner} holds no addresses")).into());
            }
            for a in released.released {
                println!("{} released from {}", a.address, a.pool);
            }
        }
        IpamCommand::Gc => {
            let released = client.collect_garbage().await.map_err(Exit::from)?;
            for a in &released.released {
                println!("{} released from {} (owner {} is gone)", a.address, a.pool, a.owner);
            }
            println!("{} addresses released", released.released.len());
        }
    }
    Ok(exit::OK)
}

/// Prints JSON or YAML and returns true; false when a table is wanted.
fn structured(format: OutputFormat, value: &impl serde::Serialize) -> Result<bool> {
    match format {
        OutputFormat::Json => output::print_json(value).map(|_| true),
        OutputFormat::Yaml => output::print_yaml(value).map(|_| true),
        _ => Ok(false),
    }
}
