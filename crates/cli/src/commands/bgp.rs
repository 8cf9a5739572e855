//! `weft bgp peers` and `weft bgp routes`: the controller's speaker, in FRR's terms.

use anyhow::Result;
use weft_api::wire::BgpPeerInfo;

use super::Target;
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
            let mut routes = client.bgp_routes(family.as_deref()).await.map_err(Exit::from)?;
            if let Some(p) = &prefix {
                routes.retain(|r| r.prefix.contains(p.as_str()));
                if routes.is_empty() {
                    return Err(Exit::new(exit::NOT_FOUND, format!("no route matches {p:?}")).into());
                }
            }
            if !structured(format, &routes)? {
                let wide = format == OutputFormat::Wide;
                let mut headers = vec!["FAMILY", "NETWORK", "NEXT HOP", "FROM", "PATH", "EXT COMMUNITIES"];
                if wide {
                    headers.extend(["LOCPRF", "MED", "COMMUNITIES"]);
                }
                let mut t = Table::new(&headers);
                for r in routes {
                    let mut path: Vec<String> = r.as_path.iter().map(ToString::to_string).collect();
                    path.push(match r.origin.as_deref() {
                        Some("IGP") | Some("igp") => "i".into(),
                        Some("EGP") | Some("egp") => "e".into(),
                        Some(_) => "?".into(),
                        None => String::new(),
                    });
                    let mut row = vec![
                        r.family,
                        r.prefix,
                        r.next_hop.map(|h| h.to_string()).unwrap_or_else(|| "-".into()),
                        r.from.map(|h| h.to_string()).unwrap_or_else(|| "local".into()),
                        path.join(" ").trim().to_string(),
                        dash_if_empty(r.ext_communities.join(" ")),
                    ];
                    if wide {
                        row.push(r.local_pref.map(|v| v.to_string()).unwrap_or_default());
                        row.push(r.med.map(|v| v.to_string()).unwrap_or_default());
                        row.push(dash_if_empty(r.communities.join(" ")));
                    }
                    t.row(row);
                }
                print!("{}", t.render());
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
fn structured(format: OutputFormat, value: &impl serde::Serialize) -> Result<bool> {
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
