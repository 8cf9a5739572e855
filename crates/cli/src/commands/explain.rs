//! `weft explain NAMESPACE/POD [--to NS/POD|IP] [--port N] [--protocol tcp|udp|sctp] [-o json]`:
//! the NetworkPolicies selecting a pod and what they allow, and why a connection from it is
//! allowed or denied, as the controller decides it (`GET /api/v1/explain/...`) from the same
//! objects it compiles the nodes' sets from.

use anyhow::Result;

use super::Target;
use crate::args::{ExplainArgs, OutputFormat};
use crate::exit::{self, Exit};
use crate::output;

pub async fn run(target: Target, args: ExplainArgs) -> Result<u8> {
    let (namespace, pod) = match args.pod.split_once('/') {
        Some((ns, pod)) if !ns.is_empty() && !pod.is_empty() => (ns.to_string(), pod.to_string()),
        Some(_) => {
            return Err(Exit::new(exit::USAGE, format!("{:?}: write NAMESPACE/POD", args.pod)).into());
        }
        None => (target.namespace.clone(), args.pod.clone()),
    };
    let protocol = args.to.as_ref().map(|_| args.protocol.as_str());
    let explanation = target
        .client
        .explain(&namespace, &pod, args.to.as_deref(), args.port, protocol)
        .await
        .map_err(Exit::from)?;
    match args.output {
        Some(OutputFormat::Json) => output::print_json(&explanation)?,
        Some(OutputFormat::Yaml) => output::print_yaml(&explanation)?,
        _ => {
            print!("{}", explanation.text);
            if let Some(c) = &explanation.connection {
                println!();
                print!("{}", c.text);
            }
        }
    }
    // Like a probe: a denied connection is a non-zero exit, for scripts.
    Ok(match &explanation.connection {
        Some(c) if !c.allowed => exit::FAILURE,
        _ => exit::OK,
    })
}
