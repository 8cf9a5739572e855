//! `weft get endpoints`: each Service's ready endpoints and the nodes that host them, as the
//! controller hands them to the nodes (`GET /api/v1/endpoints`).

use std::collections::BTreeSet;

use anyhow::Result;
use weft_api::sync::ServiceState;

use super::Target;
use crate::args::{GetArgs, OutputFormat};
use crate::exit::{self, Exit};
use crate::output::{self, Table};

/// `ADDRESS:PORT` of every endpoint and port, like kubectl's ENDPOINTS column.
fn endpoint_list(s: &ServiceState) -> String {
    let mut out = Vec::new();
    for e in &s.endpoints {
        for a in &e.addresses {
            for target in e.target_ports.values().collect::<BTreeSet<_>>() {
                out.push(match a {
                    std::net::IpAddr::V4(_) => format!("{a}:{target}"),
                    std::net::IpAddr::V6(_) => format!("[{a}]:{target}"),
                });
            }
        }
    }
    if out.is_empty() { "<none>".into() } else { out.join(",") }
}

pub async fn get(target: &Target, args: &GetArgs) -> Result<u8> {
    if args.family.is_some() || args.vn.is_some() || args.selector.is_some() || args.watch {
        return Err(Exit::new(exit::USAGE, "`weft get endpoints` takes names, -n/-A and -o only").into());
    }
    let namespace = (!args.all_namespaces).then_some(target.namespace.as_str());
    let mut items = target.client.endpoints(namespace).await.map_err(Exit::from)?;
    if !args.names.is_empty() {
        items.retain(|s| args.names.contains(&s.name));
        if items.is_empty() {
            return Err(Exit::new(
                exit::NOT_FOUND,
                format!("no Service {} in namespace {}", args.names.join(", "), target.namespace),
            )
            .into());
        }
    }
    match args.output {
        OutputFormat::Json => output::print_json(&items)?,
        OutputFormat::Yaml => output::print_yaml(&items)?,
        OutputFormat::Name => items.iter().for_each(|s| println!("endpoints/{}", s.name)),
        OutputFormat::Table | OutputFormat::Wide => {
            let mut headers = Vec::new();
            if args.all_namespaces {
                headers.push("NAMESPACE");
            }
            headers.extend(["NAME", "ENDPOINTS", "NODES"]);
            if args.output == OutputFormat::Wide {
                headers.extend(["NETWORK", "CLUSTER-IPS", "PODS"]);
            }
            let mut t = Table::new(&headers);
            for s in &items {
                let mut row = Vec::new();
                if args.all_namespaces {
                    row.push(s.namespace.clone());
                }
                let nodes: BTreeSet<&str> = s.endpoints.iter().map(|e| e.node.as_str()).collect();
                row.push(s.name.clone());
                row.push(endpoint_list(s));
                row.push(if nodes.is_empty() {
                    "<none>".into()
                } else {
                    nodes.into_iter().collect::<Vec<_>>().join(",")
                });
                if args.output == OutputFormat::Wide {
                    row.push(s.network.clone());
                    row.push(
                        s.cluster_ips
                            .iter()
                            .map(|ip| ip.to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                    );
                    row.push(s.endpoints.iter().map(|e| e.pod.as_str()).collect::<Vec<_>>().join(","));
                }
                t.row(row);
            }
            if t.is_empty() {
                eprintln!("No resources found in {} namespace.", namespace.unwrap_or("any"));
            } else {
                print!("{}", t.render());
            }
        }
    }
    Ok(exit::OK)
}
