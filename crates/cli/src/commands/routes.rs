//! The speaker's routes as `weft bgp routes` and `weft get routes` show them: filtered by
//! family, destination text and VirtualNetwork, printed as FRR's `show bgp` table or, per path,
//! as its detailed `show bgp PREFIX` view.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use anyhow::Result;
use weft_api::wire::BgpRouteInfo;
use weft_api::{Kind, Resource};
use weft_client::Client;
use weft_controller::federation::routing::vn_routing;

use crate::exit::{self, Exit};
use crate::output::Table;

/// Which routes to show.
#[derive(Debug, Default)]
pub struct Query<'a> {
    /// The BGPPeer spelling: `ipv4-unicast`, `l2vpn-evpn`, ...
    pub family: Option<&'a str>,
    /// Keep routes whose destination contains this text (a prefix, an RD, ...).
    pub prefix: Option<&'a str>,
    /// Keep the routes of this VirtualNetwork.
    pub vn: Option<&'a str>,
    /// Every path, not only the best one of each destination.
    pub all_paths: bool,
}

/// Fetches and filters; exit code 3 when a prefix or network was asked for and nothing matches.
pub async fn fetch(client: &Client, q: &Query<'_>) -> Result<Vec<BgpRouteInfo>> {
    let mut routes = if q.all_paths {
        client.bgp_paths(q.family).await
    } else {
        client.bgp_routes(q.family).await
    }
    .map_err(Exit::from)?;
    if let Some(name) = q.vn {
        let vn = VnFilter::load(client, name).await?;
        routes.retain(|r| vn.matches(r));
    }
    if let Some(p) = q.prefix {
        routes.retain(|r| r.prefix.contains(p));
    }
    if routes.is_empty() && (q.prefix.is_some() || q.vn.is_some()) {
        let what = match (q.prefix, q.vn) {
            (Some(p), Some(vn)) => format!("no route of VirtualNetwork {vn} matches {p:?}"),
            (Some(p), None) => format!("no route matches {p:?}"),
            (None, Some(vn)) => format!("no route of VirtualNetwork {vn}"),
            (None, None) => unreachable!("checked above"),
        };
        return Err(Exit::new(exit::NOT_FOUND, what).into());
    }
    Ok(routes)
}

/// A VirtualNetwork's routes: those with its route distinguisher (exported here) or one of its
/// route targets (to import, or exported).
struct VnFilter {
    rd: Option<String>,
    targets: Vec<String>,
}

impl VnFilter {
    async fn load(client: &Client, name: &str) -> Result<VnFilter> {
        let vn = match client.get(Kind::VirtualNetwork, None, name).await.map_err(Exit::from)? {
            Resource::VirtualNetwork(vn) => vn,
            other => return Err(Exit::new(exit::FAILURE, format!("{} is not a VirtualNetwork", other.key())).into()),
        };
        let (_, clusters) = client.list(Kind::Cluster, None).await.map_err(Exit::from)?;
        let cluster = clusters.iter().find_map(|r| match r {
            Resource::Cluster(c) => Some(c),
            _ => None,
        });
        let asn = cluster.map_or(0, |c| c.spec.asn);
        let router_id = cluster
            .and_then(|c| c.spec.router_id.as_deref())
            .and_then(|r| r.parse::<Ipv4Addr>().ok());
        // Without spec.routerId the default RD is the speaker's choice: match by targets only.
        let routing = vn_routing(&vn, asn, router_id.unwrap_or(Ipv4Addr::UNSPECIFIED), &[])
            .map_err(|e| Exit::new(exit::FAILURE, format!("VirtualNetwork {name}: {e}")))?;
        let rd = (router_id.is_some() || vn.spec.route_distinguisher.is_some()).then(|| routing.rd.to_string());
        let targets = routing
            .import
            .iter()
            .chain(&routing.export)
            .map(ToString::to_string)
            .collect();
        Ok(VnFilter { rd, targets })
    }

    fn matches(&self, r: &BgpRouteInfo) -> bool {
        (self.rd.is_some() && r.rd == self.rd) || r.route_targets.iter().any(|t| self.targets.contains(t))
    }
}

/// FRR's status codes: `*>` the best path, `*` another valid one.
fn status(r: &BgpRouteInfo) -> &'static str {
    if r.best { "*>" } else { "*" }
}

/// The AS path with the origin code last, as FRR's `Path` column: `64512 64513 i`.
fn path_column(r: &BgpRouteInfo) -> String {
    let mut path: Vec<String> = r.as_path.iter().map(ToString::to_string).collect();
    path.push(
        match r.origin.as_deref().map(str::to_ascii_uppercase).as_deref() {
            Some("IGP") => "i",
            Some("EGP") => "e",
            Some(_) => "?",
            None => "",
        }
        .into(),
    );
    path.join(" ").trim().to_string()
}

fn dash_if_empty(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}

/// One row per path; `with_status` adds FRR's `*>` column (for lists with every path).
pub fn table(routes: &[BgpRouteInfo], with_status: bool, wide: bool) -> Table {
    let mut headers = Vec::new();
    if with_status {
        headers.push("S");
    }
    headers.extend(["FAMILY", "NETWORK", "NEXT HOP", "FROM", "PATH", "EXT COMMUNITIES"]);
    if wide {
        headers.extend(["LOCPRF", "MED", "COMMUNITIES"]);
    }
    let mut t = Table::new(&headers);
    for r in routes {
        let mut row = Vec::new();
        if with_status {
            row.push(status(r).to_string());
        }
        row.extend([
            r.family.clone(),
            r.prefix.clone(),
            r.next_hop.map(|h| h.to_string()).unwrap_or_else(|| "-".into()),
            r.from.map(|h| h.to_string()).unwrap_or_else(|| "local".into()),
            path_column(r),
            dash_if_empty(r.ext_communities.join(" ")),
        ]);
        if wide {
            row.push(r.local_pref.map(|v| v.to_string()).unwrap_or_default());
            row.push(r.med.map(|v| v.to_string()).unwrap_or_default());
            row.push(dash_if_empty(r.communities.join(" ")));
        }
        t.row(row);
    }
    t
}

/// Every destination with each of its paths on several lines, like FRR's `show bgp PREFIX`:
///
/// ```text
/// ipv4 unicast 198.51.100.0/24
///   Paths: 2 available, best #1
///   #1 best, from 192.0.2.1
///     AS path: 64512 (origin IGP)
///     Next hop: 192.0.2.1
///     Local preference: 100, MED: 0
///     Communities: 64512:1
///     Extended communities: RT:64512:100
/// ```
pub fn detail(routes: &[BgpRouteInfo]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(first) = routes.get(i) {
        let paths: Vec<&BgpRouteInfo> = routes
            .iter()
            .skip(i)
            .take_while(|r| r.family == first.family && r.prefix == first.prefix)
            .collect();
        i += paths.len();
        let _ = writeln!(out, "{} {}", first.family, first.prefix);
        if let Some(rd) = &first.rd {
            let _ = writeln!(out, "  Route distinguisher: {rd}");
        }
        let best = paths.iter().position(|p| p.best).map(|n| format!(", best #{}", n + 1));
        let _ = writeln!(out, "  Paths: {} available{}", paths.len(), best.unwrap_or_default());
        for (n, p) in paths.iter().enumerate() {
            let from = match p.from {
                Some(a) => format!("from {a}"),
                None => "originated here".into(),
            };
            let best = if p.best { " best," } else { "" };
            let _ = writeln!(out, "  #{}{best} {from}", n + 1);
            let as_path = if p.as_path.is_empty() {
                "(empty: local or iBGP)".to_string()
            } else {
                p.as_path.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
            };
            match &p.origin {
                Some(o) => {
                    let _ = writeln!(out, "    AS path: {as_path} (origin {o})");
                }
                None => {
                    let _ = writeln!(out, "    AS path: {as_path}");
                }
            }
            if let Some(h) = p.next_hop {
                let _ = writeln!(out, "    Next hop: {h}");
            }
            let mut metrics = Vec::new();
            if let Some(lp) = p.local_pref {
                metrics.push(format!("Local preference: {lp}"));
            }
            if let Some(med) = p.med {
                metrics.push(format!("MED: {med}"));
            }
            if !metrics.is_empty() {
                let _ = writeln!(out, "    {}", metrics.join(", "));
            }
            if !p.communities.is_empty() {
                let _ = writeln!(out, "    Communities: {}", p.communities.join(" "));
            }
            if !p.ext_communities.is_empty() {
                let _ = writeln!(out, "    Extended communities: {}", p.ext_communities.join(" "));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(prefix: &str, from: &str, best: bool) -> BgpRouteInfo {
        BgpRouteInfo {
            family: "ipv4 unicast".into(),
            prefix: prefix.into(),
            next_hop: Some(from.parse().unwrap()),
            as_path: vec![64512, 64513],
            origin: Some("IGP".into()),
            local_pref: Some(100),
            med: None,
            communities: vec!["64512:1".into()],
            ext_communities: Vec::new(),
            route_targets: Vec::new(),
            from: Some(from.parse().unwrap()),
            rd: None,
            best,
        }
    }

    #[test]
    fn detail_groups_paths_under_their_destination() {
        let text = detail(&[
            route("198.51.100.0/24", "192.0.2.1", true),
            route("198.51.100.0/24", "192.0.2.2", false),
            route("203.0.113.0/24", "192.0.2.2", true),
        ]);
        let expected = "\
ipv4 unicast 198.51.100.0/24
  Paths: 2 available, best #1
  #1 best, from 192.0.2.1
    AS path: 64512 64513 (origin IGP)
    Next hop: 192.0.2.1
    Local preference: 100
    Communities: 64512:1
  #2 from 192.0.2.2
    AS path: 64512 64513 (origin IGP)
    Next hop: 192.0.2.2
    Local preference: 100
    Communities: 64512:1

ipv4 unicast 203.0.113.0/24
  Paths: 1 available, best #1
  #1 best, from 192.0.2.2
    AS path: 64512 64513 (origin IGP)
    Next hop: 192.0.2.2
    Local preference: 100
    Communities: 64512:1

";
        assert_eq!(text, expected);
    }

    #[test]
    fn table_marks_the_best_path() {
        let t = table(
            &[
                route("198.51.100.0/24", "192.0.2.1", true),
                route("198.51.100.0/24", "192.0.2.2", false),
            ],
            true,
            false,
        )
        .render();
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("S "), "{t}");
        assert!(lines[1].starts_with("*> "), "{t}");
        assert!(lines[2].starts_with("*  "), "{t}");
        assert!(lines[1].ends_with("64512 64513 i   -"), "{t}");
    }
}
