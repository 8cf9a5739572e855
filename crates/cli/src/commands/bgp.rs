//! `weft bgp peers` and `weft bgp routes`: the controller's speaker, in FRR's terms.

use anyhow::Result;
use weft_api::wire::BgpPeerInfo;

use super::{Target, routes};
use crate::args::{BgpCommand, OutputFormat};
use crate::exit::{self, Exit};
use crate::output::{self, Table};

pub async fn run(target: Target, command: BgpCommand) -> Result<u8> {
    let client = &target.client;
    match command {
        BgpCommand::Peers { output: format } => {
            let peers = client.bgp_peers().await.map_err(Exit::from)?;
            if !structured(format, &peers)? {
                let wide = format == OutputFormat::Wide;
                let mut headers = vec![
                    "NAME", "NEIGHBOR", "AS", "STATE", "UP/DOWN", "PFXRCD", "PFXACC", "PFXSNT",
                ];
                if wide {
                    headers.extend(["FAMILIES", "LAST-ERROR"]);
                }
                let mut t = Table::new(&headers);
                for p in &peers {
                    t.row(peer_row(p, wide));
                }
                print!("{}", t.render());
            }
        }
        BgpCommand::Routes {
            family,
            prefix,
            output: format,
        } => {
            let query = routes::Query {
                family: family.as_deref(),
                prefix: prefix.as_deref(),
                ..routes::Query::default()
            };
            let routes = routes::fetch(client, &query).await?;
            if !structured(format, &routes)? {
                print!(
                    "{}",
                    routes::table(&routes, false, format == OutputFormat::Wide).render()
                );
            }
        }
    }
    Ok(exit::OK)
}

fn peer_row(p: &BgpPeerInfo, wide: bool) -> Vec<String> {
    let sum = |f: fn(&weft_api::wire::BgpPrefixCounts) -> usize| p.families.values().map(f).sum::<usize>().to_string();
    let mut row = vec![
        if p.name.is_empty() { "-".into() } else { p.name.clone() },
        p.address.to_string(),
        p.asn.to_string(),
        p.state.clone(),
        p.uptime_seconds.map(uptime).unwrap_or_else(|| "never".into()),
        sum(|c| c.received),
        sum(|c| c.accepted),
        sum(|c| c.sent),
    ];
    if wide {
        row.push(dash_if_empty(p.families.keys().cloned().collect::<Vec<_>>().join(",")));
        row.push(p.last_error.clone().unwrap_or_default());
    }
    row
}

/// FRR's up/down column: 00:01:05, then 2d03h04m.
pub fn uptime(seconds: u64) -> String {
    let (d, h, m, s) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    if d > 0 {
        format!("{d}d{h:02}h{m:02}m")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

fn dash_if_empty(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}

/// Prints JSON or YAML and returns true; false when a table is wanted.
pub fn structured(format: OutputFormat, value: &impl serde::Serialize) -> Result<bool> {
    match format {
        OutputFormat::Json => output::print_json(value).map(|_| true),
        OutputFormat::Yaml => output::print_yaml(value).map(|_| true),
        OutputFormat::Name => Err(Exit::new(
            exit::USAGE,
            "-o name does not apply here; use table, wide, json or yaml",
        )
        .into()),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uptime_like_frr() {
        assert_eq!(super::uptime(65), "00:01:05");
        assert_eq!(super::uptime(3 * 86_400 + 4 * 3600 + 5 * 60), "3d04h05m");
    }
}
