use anyhow::Result;
use serde_json::json;

use super::Target;
use crate::args::{OutputFormat, VersionArgs};
use crate::exit::Exit;
use crate::output;

/// The client's version always; the controller's unless `--client`.
pub async fn run(target: Result<Target>, args: VersionArgs) -> Result<u8> {
    let client_version = env!("CARGO_PKG_VERSION");
    let server = if args.client {
        None
    } else {
        let target = target?;
        Some((
            target.client.server().to_string(),
            target.client.version().await.map_err(Exit::from)?,
        ))
    };
    match args.output {
        Some(OutputFormat::Json | OutputFormat::Yaml) => {
            let mut value = json!({"clientVersion": client_version});
            if let Some((url, v)) = &server {
                value["server"] = json!(url);
                value["serverVersion"] = json!(v.version);
                value["serverRevision"] = json!(v.revision);
            }
            if args.output == Some(OutputFormat::Json) {
                output::print_json(&value)?;
            } else {
                output::print_yaml(&value)?;
            }
        }
        _ => {
            println!("Client Version: {client_version}");
            if let Some((url, v)) = server {
                println!(
                    "Server Version: {} (at {url}, store revision {})",
                    v.version, v.revision
                );
            }
        }
    }
    Ok(0)
}
