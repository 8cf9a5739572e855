//! FRR (Debian `frr`, 8.4): zebra and bgpd as foreground children in the namespace, with their
//! configuration, vty sockets, zserv socket and PID files in the peer's directory; queried and
//! configured through `vtysh --vty_socket DIR` (JSON for queries).
//!
//! - The daemons drop privileges to user `frr` (group `frrvty` for the vty), so the directory is
//!   handed to `frr`; running them as root (`-u root -g root`) fails in `privs_init`.
//! - bgpd runs with `-n` (no kernel FIB install) and listens on all the namespace's addresses;
//!   the TCP vty is off (`-P 0`).
//! - Sessions use `timers connect 5` (the default retry is 120 s), `advertisement-interval 0`,
//!   `no bgp ebgp-requires-policy` (otherwise eBGP routes are dropped without a policy) and
//!   `no bgp network import-check` (so `network` statements need no IGP route).
//! - Originating: IPv4/IPv6 unicast with `network P route-map M`, VPNv4/VPNv6 without a VRF
//!   with `network P rd RD label L route-map M` under `address-family ipv4|ipv6 vpn`; the
//!   route-map sets communities, large communities, MED, local-pref and route targets.
//! - EVPN type 5 without a VRF: a static `network P rd RD ethtag 0 label L esi 0 gwip 0
//!   routermac MAC` under `address-family l2vpn evpn`. FRR 8.4 encodes L as an MPLS label
//!   (L << 4 | bottom of stack, its own `show` then says "VNI" of that raw value), sends no
//!   encapsulation extended community, uses its IPv6 address as next hop when it has one, and
//!   ignores a route-map there: the other attributes are set by an outbound route-map
//!   (`WEFT-EVPN-OUT`) matching every type-5 route, so all of them get the attributes of the
//!   last one announced.
//! - Never `write memory` from this vtysh: it would write /etc/frr.
//! - FRR creates /var/tmp/frr (an empty, shared crash-log directory) the first time it runs.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ipnet::IpNet;
use serde_json::Value;

use crate::process::{Daemon, in_netns, run};
use crate::{
    Error, ExtCommunity, Family, NeighborState, Peer, PeerKind, PeerSpec, Result, Route, SessionState, check_netns,
    temp_dir, write_file,
};

const FRR_LIB: &str = "/usr/lib/frr";
const VTYSH_TIMEOUT: Duration = Duration::from_secs(20);
/// The outbound route-map carrying the attributes of announced EVPN routes.
const EVPN_OUT: &str = "WEFT-EVPN-OUT";

pub struct Frr {
    netns: String,
    spec: PeerSpec,
    bgpd: Daemon,
    zebra: Daemon,
    dir: tempfile::TempDir,
}

fn afi_safi(f: Family) -> &'static str {
    match f {
        Family::Ipv4Unicast => "ipv4 unicast",
        Family::Ipv6Unicast => "ipv6 unicast",
        Family::Vpnv4 => "ipv4 vpn",
        Family::Evpn => "l2vpn evpn",
        Family::Vpnv6 => "ipv6 vpn",
        // Refused in Frr::start: FRR 8.4 has no RT constraint.
        Family::Rtc => "ipv4 rtc",
    }
}

/// uid and gid of a user, from /etc/passwd.
fn user_ids(user: &str) -> Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| Error::io("reading /etc/passwd", e))?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == user)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| Error::Config(format!("no user {user:?}: is the frr package installed?")))
}

/// bgpd.conf for a spec.
pub fn config(spec: &PeerSpec) -> String {
    let mut c = String::new();
    c += "frr defaults traditional\nhostname weft-frr\nlog stdout informational\n!\n";
    c += &format!("router bgp {}\n", spec.local_as);
    c += &format!(" bgp router-id {}\n", spec.router_id);
    c += " no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n no bgp network import-check\n";
    if let Some(t) = spec.neighbors.iter().find_map(|n| n.graceful_restart) {
        c += &format!(" bgp graceful-restart\n bgp graceful-restart restart-time {t}\n");
        c += " bgp graceful-restart preserve-fw-state\n";
    }
    for n in &spec.neighbors {
        let a = n.address;
        c += &format!(" neighbor {a} remote-as {}\n", n.remote_as);
        if let Some(local) = spec.local_address_for(n) {
            c += &format!(" neighbor {a} update-source {local}\n");
        }
        c += &format!(" neighbor {a} timers connect 5\n");
        c += &format!(" neighbor {a} advertisement-interval 0\n");
        if let Some(pw) = &n.password {
            c += &format!(" neighbor {a} password {pw}\n");
        }
        if n.passive {
            c += &format!(" neighbor {a} passive\n");
        }
        if n.ttl_security {
            c += &format!(" neighbor {a} ttl-security hops 1\n");
        }
    }
    for f in spec.families() {
        c += &format!(" !\n address-family {}\n", afi_safi(f));
        for n in spec.neighbors.iter().filter(|n| n.families.contains(&f)) {
            c += &format!("  neighbor {} activate\n", n.address);
            if n.route_reflector_client {
                c += &format!("  neighbor {} route-reflector-client\n", n.address);
            }
            if n.add_path.is_some_and(|a| a.send > 0) {
                c += &format!("  neighbor {} addpath-tx-all-paths\n", n.address);
            }
        }
        c += " exit-address-family\n";
    }
    c += "!\n";
    c
}

impl Frr {
    pub fn start(netns: &str, spec: &PeerSpec) -> Result<Frr> {
        check_netns(netns)?;
        spec.validate()?;
        if spec.families().contains(&Family::Rtc) {
            return Err(Error::Unsupported {
                peer: "FRR",
                what: "do RT constraint (FRR 8.4 has no SAFI 132)".into(),
            });
        }
        let dir = temp_dir("frr")?;
        let d = dir.path();
        let (uid, gid) = user_ids("frr")?;
        std::os::unix::fs::chown(d, Some(uid), Some(gid))
            .map_err(|e| Error::io(format!("chown frr {}", d.display()), e))?;
        write_file(&d.join("zebra.conf"), "hostname weft-frr\n")?;
        write_file(&d.join("bgpd.conf"), &config(spec))?;
        let ds = d.to_str().expect("UTF-8 temp path");
        let common = |daemon: &str| -> Command {
            let mut c = in_netns(netns, &format!("{FRR_LIB}/{daemon}"));
            c.args([
                "-f",
                &format!("{ds}/{daemon}.conf"),
                "-i",
                &format!("{ds}/{daemon}.pid"),
            ]);
            c.args([
                "-z",
                &format!("{ds}/zserv.api"),
                "--vty_socket",
                ds,
                "-P",
                "0",
                "--log",
                "stdout",
            ]);
            c
        };
        let mut zebra = Daemon::spawn("zebra", &mut common("zebra"), &d.join("zebra.log"))?;
        let zserv = d.join("zserv.api");
        zebra.wait_ready("open its zserv socket", Duration::from_secs(10), || zserv.exists())?;
        // FRR 8.4 has no restart flag: with `bgp graceful-restart` it sets the Restart State
        // bit by itself while its startup timer runs, so `spec.restarting` needs nothing here.
        let mut bgpd = Daemon::spawn("bgpd", common("bgpd").arg("-n"), &d.join("bgpd.log"))?;
        let vty = d.join("bgpd.vty");
        bgpd.wait_ready("open its vty socket", Duration::from_secs(10), || vty.exists())?;
        let frr = Frr {
            netns: netns.to_string(),
            spec: spec.clone(),
            bgpd,
            zebra,
            dir,
        };
        // The vty socket exists a moment before bgpd answers on it.
        let mut last = None;
        crate::process::poll(Duration::from_secs(10), Duration::from_millis(100), || {
            let r = frr.vtysh(&["show bgp summary json"]);
            let ok = r.is_ok();
            last = Some(r);
            ok.then_some(())
        })
        .ok_or_else(|| Error::Timeout {
            what: "bgpd to answer vtysh".into(),
            after: Duration::from_secs(10),
            detail: format!("{last:?}\n{}", frr.logs(30)),
        })?;
        Ok(frr)
    }

    /// Kills bgpd and zebra with SIGKILL: no NOTIFICATION, the sessions just break (a crash, for
    /// graceful restart tests). Idempotent; the directory goes on drop.
    pub fn kill(&mut self) -> Result<()> {
        let a = self.bgpd.kill();
        let b = self.zebra.kill();
        a.and(b)
    }

    /// Runs vtysh commands (each a `-c`); returns the output. Output lines starting with `%` (FRR's
    /// error marker) make it an error.
    pub fn vtysh(&self, commands: &[&str]) -> Result<String> {
        let mut cmd = Command::new("vtysh");
        cmd.arg("--vty_socket").arg(self.dir.path());
        for c in commands {
            cmd.args(["-c", c]);
        }
        let out = run(&mut cmd, VTYSH_TIMEOUT)?;
        let text = format!("{}{}", out.stdout, out.stderr);
        if !out.status.success() || text.lines().any(|l| l.trim_start().starts_with('%')) {
            return Err(Error::Rejected {
                peer: "FRR",
                what: format!("vtysh -c {}", commands.join(" -c ")),
                output: text,
            });
        }
        Ok(out.stdout)
    }

    /// Applies configuration lines (from `configure terminal`).
    pub fn configure(&self, lines: &[String]) -> Result<()> {
        let mut cmds = vec!["configure terminal"];
        cmds.extend(lines.iter().map(String::as_str));
        cmds.push("end");
        self.vtysh(&cmds).map(|_| ())
    }

    fn show_json(&self, command: &str) -> Result<Value> {
        let out = self.vtysh(&[command])?;
        // FRR prints nothing at all for some empty tables (e.g. `show bgp ipv4 vpn json`).
        if out.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&out).map_err(|e| Error::parse(format!("FRR `{command}`"), format!("{e}: {out}")))
    }

    fn route_map_name(route: &Route) -> String {
        let key: String = route
            .key()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("WEFT-{key}")
    }

    fn network_line(route: &Route) -> Result<String> {
        match route.family {
            Family::Ipv4Unicast | Family::Ipv6Unicast => Ok(format!("network {}", route.prefix)),
            Family::Vpnv4 | Family::Vpnv6 => {
                let (Some(rd), Some(label)) = (route.rd, route.label) else {
                    return Err(Error::Config(format!(
                        "VPN route {} needs an RD and a label",
                        route.key()
                    )));
                };
                Ok(format!("network {} rd {rd} label {label}", route.prefix))
            }
            Family::Evpn => {
                let (Some(rd), Some(label)) = (route.rd, route.label) else {
                    return Err(Error::Config(format!(
                        "EVPN route {} needs an RD and a label",
                        route.key()
                    )));
                };
                let gw = if route.prefix.addr().is_ipv4() { "0.0.0.0" } else { "::" };
                let mac = route.router_mac().unwrap_or(crate::Mac([0; 6]));
                Ok(format!(
                    "network {} rd {rd} ethtag 0 label {label} esi 00:00:00:00:00:00:00:00:00:00 gwip {gw} routermac {mac}",
                    route.prefix
                ))
            }
            Family::Rtc => Err(Error::Unsupported {
                peer: "FRR",
                what: "do RT constraint".into(),
            }),
        }
    }

    /// The route-map `set` clauses for a route's attributes (the router MAC of an EVPN route
    /// goes in its network statement instead).
    fn set_lines(route: &Route) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        if !route.communities.is_empty() {
            let cs: Vec<String> = route.communities.iter().map(|c| c.to_string()).collect();
            lines.push(format!("set community {}", cs.join(" ")));
        }
        if !route.large_communities.is_empty() {
            let cs: Vec<String> = route.large_communities.iter().map(|c| c.to_string()).collect();
            lines.push(format!("set large-community {}", cs.join(" ")));
        }
        if let Some(med) = route.med {
            lines.push(format!("set metric {med}"));
        }
        if let Some(lp) = route.local_pref {
            lines.push(format!("set local-preference {lp}"));
        }
        let mut rts = Vec::new();
        for c in &route.ext_communities {
            match c {
                ExtCommunity::RouteTarget(rt) => rts.push(rt.to_string()),
                ExtCommunity::RouterMac(_) if route.family == Family::Evpn => {}
                other => {
                    return Err(Error::Unsupported {
                        peer: "FRR",
                        what: format!("set the extended community {other} on a network statement"),
                    });
                }
            }
        }
        if !rts.is_empty() {
            lines.push(format!("set extcommunity rt {}", rts.join(" ")));
        }
        match (route.next_hop, route.family) {
            (None, _) => {}
            (Some(IpAddr::V4(nh)), Family::Ipv4Unicast) => lines.push(format!("set ip next-hop {nh}")),
            (Some(IpAddr::V6(nh)), Family::Ipv6Unicast) => lines.push(format!("set ipv6 next-hop global {nh}")),
            (Some(nh), _) => {
                return Err(Error::Unsupported {
                    peer: "FRR",
                    what: format!("set next hop {nh} on {}", route.key()),
                });
            }
        }
        Ok(lines)
    }

    fn received_prefixes(&self, family: Family) -> Result<Vec<Route>> {
        let summary = self.show_json(&format!("show bgp {} json", afi_safi(family)))?;
        let routes = &summary["routes"];
        // Unicast: routes.{prefix: [paths]}; VPN: routes.routeDistinguishers.{rd: {prefix: [paths]}}.
        let mut prefixes = BTreeSet::new();
        let tables: Vec<&Value> = match family {
            Family::Vpnv4 | Family::Vpnv6 => routes["routeDistinguishers"]
                .as_object()
                .map(|m| m.values().collect())
                .unwrap_or_default(),
            _ => vec![routes],
        };
        for table in tables {
            for (prefix, paths) in table.as_object().into_iter().flatten() {
                let learned = paths
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["peerId"].as_str().and_then(|s| s.parse::<IpAddr>().ok()).is_some());
                if learned {
                    prefixes.insert(prefix.clone());
                }
            }
        }
        let mut out = Vec::new();
        for prefix in prefixes {
            let net: IpNet = prefix.parse().map_err(|e| Error::parse("FRR prefix", e))?;
            let detail = match self.show_json(&format!("show bgp {} {prefix} json", afi_safi(family))) {
                Ok(d) => d,
                // Gone since the summary.
                Err(Error::Rejected { .. }) => continue,
                Err(e) => return Err(e),
            };
            let per_rd: Vec<(Option<crate::Rd>, &Value)> = match family {
                Family::Vpnv4 | Family::Vpnv6 => detail
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(rd, v)| Some((Some(rd.parse().ok()?), v)))
                    .collect(),
                _ => vec![(None, &detail)],
            };
            for (rd, entry) in per_rd {
                for path in entry["paths"].as_array().into_iter().flatten() {
                    if let Some(mut r) = parse_path(family, net, path)? {
                        r.rd = rd;
                        out.push(r);
                    }
                }
            }
        }
        Ok(out)
    }

    fn received_evpn(&self) -> Result<Vec<Route>> {
        let all = self.show_json("show bgp l2vpn evpn route detail json")?;
        let mut out = Vec::new();
        for (rd, entries) in all.as_object().into_iter().flatten() {
            let Ok(rd) = rd.parse::<crate::Rd>() else { continue };
            for (key, entry) in entries.as_object().into_iter().flatten() {
                if !key.starts_with('[') || entry["routeType"].as_u64() != Some(5) {
                    continue;
                }
                let ip = entry["ip"].as_str().unwrap_or_default();
                let len = entry["ipLen"].as_u64().unwrap_or_default();
                let net: IpNet = format!("{ip}/{len}")
                    .parse()
                    .map_err(|e| Error::parse(format!("FRR EVPN route {key}"), e))?;
                // paths: [[path, ...], ...]
                let paths = entry["paths"].as_array().into_iter().flatten();
                for path in paths.flat_map(|p| p.as_array().into_iter().flatten()) {
                    if let Some(mut r) = parse_path(Family::Evpn, net, path)? {
                        r.rd = Some(rd);
                        r.label = path["vni"]
                            .as_str()
                            .or(path["VNI"].as_str())
                            .and_then(|s| s.parse().ok())
                            .or_else(|| path["vni"].as_u64().map(|v| v as u32));
                        out.push(r);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// One path of FRR's per-prefix JSON; None for local (originated) paths.
fn parse_path(family: Family, prefix: IpNet, p: &Value) -> Result<Option<Route>> {
    let Some(from) = p["peer"]["peerId"].as_str().and_then(|s| s.parse::<IpAddr>().ok()) else {
        return Ok(None);
    };
    let mut r = Route::unicast(prefix);
    r.family = family;
    r.from = Some(from);
    r.as_path = p["aspath"]["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["list"].as_array().into_iter().flatten())
        .filter_map(|a| a.as_u64().map(|a| a as u32))
        .collect();
    for c in p["community"]["list"].as_array().into_iter().flatten() {
        let s = c.as_str().unwrap_or_default();
        r.communities.push(match s {
            "noExport" | "no-export" => crate::Community(0xffff, 0xff01),
            "noAdvertise" | "no-advertise" => crate::Community(0xffff, 0xff02),
            "localAs" | "local-AS" => crate::Community(0xffff, 0xff03),
            "blackhole" => crate::Community(0xffff, 666),
            "gracefulShutdown" | "graceful-shutdown" => crate::Community(0xffff, 0),
            _ => s.parse().map_err(|e| Error::parse("FRR community", e))?,
        });
    }
    if let Some(s) = p["extendedCommunity"]["string"].as_str() {
        r.ext_communities = parse_ext_communities(s)?;
    }
    if let Some(s) = p["largeCommunity"]["string"].as_str() {
        for c in s.split_whitespace() {
            r.large_communities
                .push(c.parse().map_err(|e| Error::parse("FRR large community", e))?);
        }
    }
    r.med = p["metric"].as_u64().map(|m| m as u32);
    r.local_pref = p["locPrf"].as_u64().map(|m| m as u32);
    r.label = p["remoteLabel"].as_u64().map(|l| l as u32);
    let nexthops: Vec<&Value> = p["nexthops"].as_array().into_iter().flatten().collect();
    r.next_hop = nexthops
        .iter()
        .find(|n| n["scope"].as_str() != Some("link-local"))
        .or(nexthops.first())
        .and_then(|n| n["ip"].as_str())
        .and_then(|s| s.parse().ok());
    Ok(Some(r))
}

/// FRR's extended community string, e.g. `RT:64512:200 ET:8 Rmac:02:00:00:00:00:02`. Kinds the
/// harness does not model are skipped.
pub fn parse_ext_communities(s: &str) -> Result<Vec<ExtCommunity>> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if let Some(rt) = tok.strip_prefix("RT:") {
            out.push(ExtCommunity::RouteTarget(
                rt.parse().map_err(|e| Error::parse("FRR RT", e))?,
            ));
        } else if let Some(et) = tok.strip_prefix("ET:") {
            out.push(ExtCommunity::Encapsulation(
                et.parse().map_err(|e| Error::parse("FRR ET", e))?,
            ));
        } else if let Some(mac) = tok.strip_prefix("Rmac:") {
            out.push(ExtCommunity::RouterMac(
                mac.parse().map_err(|e| Error::parse("FRR Rmac", e))?,
            ));
        }
    }
    Ok(out)
}

impl Peer for Frr {
    fn kind(&self) -> PeerKind {
        PeerKind::Frr
    }

    fn netns(&self) -> &str {
        &self.netns
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn pids(&self) -> Vec<u32> {
        [self.bgpd.pid(), self.zebra.pid()].into_iter().flatten().collect()
    }

    fn spec(&self) -> &PeerSpec {
        &self.spec
    }

    fn neighbor_state(&self, neighbor: IpAddr) -> Result<NeighborState> {
        self.spec.neighbor_for(neighbor)?;
        let v = self.show_json(&format!("show bgp neighbors {neighbor} json"))?;
        let n = &v[neighbor.to_string()];
        let state = n["bgpState"]
            .as_str()
            .ok_or_else(|| Error::parse("FRR neighbor JSON", format!("no bgpState for {neighbor}: {v}")))?;
        Ok(NeighborState {
            state: SessionState::from_name(state),
            established_count: n["connectionsEstablished"].as_u64().map(|c| c as u32),
        })
    }

    fn received_routes(&self, family: Family) -> Result<Vec<Route>> {
        match family {
            Family::Evpn => self.received_evpn(),
            _ => self.received_prefixes(family),
        }
    }

    fn announce(&self, route: &Route) -> Result<()> {
        let network = Frr::network_line(route)?;
        if !route.raw_attributes.is_empty() {
            return Err(Error::Unsupported {
                peer: "FRR",
                what: "send raw attributes".into(),
            });
        }
        let sets = Frr::set_lines(route)?;
        if route.family == Family::Evpn {
            // FRR 8.4 ignores the route-map of a static EVPN network, and its route-maps match
            // no single type-5 route (prefix-lists and `match evpn vni` do not match them, `match
            // evpn rd` is refused by its YANG model): the attributes go on in an outbound
            // route-map of every EVPN neighbor matching all type-5 routes, replaced by each
            // announcement.
            let _ = self.configure(&[format!("no route-map {EVPN_OUT} permit 10")]);
            let mut lines = vec![
                format!("route-map {EVPN_OUT} permit 10"),
                "match evpn route-type prefix".to_string(),
            ];
            lines.extend(sets);
            lines.push("exit".into());
            lines.push(format!("route-map {EVPN_OUT} permit 65535"));
            lines.push("exit".into());
            lines.push(format!("router bgp {}", self.spec.local_as));
            lines.push("address-family l2vpn evpn".into());
            for n in self
                .spec
                .neighbors
                .iter()
                .filter(|n| n.families.contains(&Family::Evpn))
            {
                lines.push(format!("neighbor {} route-map {EVPN_OUT} out", n.address));
            }
            lines.push(network);
            return self.configure(&lines);
        }
        let name = Frr::route_map_name(route);
        let mut lines = vec![format!("route-map {name} permit 10")];
        lines.extend(sets);
        lines.push("exit".into());
        lines.push(format!("router bgp {}", self.spec.local_as));
        lines.push(format!("address-family {}", afi_safi(route.family)));
        lines.push(format!("{network} route-map {name}"));
        self.configure(&lines)
    }

    fn withdraw(&self, route: &Route) -> Result<()> {
        let network = Frr::network_line(route)?;
        if route.family == Family::Evpn {
            // The `no` form takes no router MAC.
            let network = network.split(" routermac ").next().unwrap_or(&network);
            return self.configure(&[
                format!("router bgp {}", self.spec.local_as),
                "address-family l2vpn evpn".into(),
                format!("no {network}"),
            ]);
        }
        self.configure(&[
            format!("router bgp {}", self.spec.local_as),
            format!("address-family {}", afi_safi(route.family)),
            format!("no {network}"),
            "exit-address-family".into(),
            "exit".into(),
            format!("no route-map {}", Frr::route_map_name(route)),
        ])
    }

    fn logs(&self, lines: usize) -> String {
        format!(
            "--- bgpd.log\n{}\n--- zebra.log\n{}",
            self.bgpd.log_tail(lines),
            self.zebra.log_tail(lines / 3)
        )
    }

    fn stop(&mut self) -> Result<()> {
        let a = self.bgpd.stop();
        let b = self.zebra.stop();
        a.and(b)
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AdminValue, Neighbor};

    #[test]
    fn config_has_what_the_notes_require() {
        let spec = PeerSpec::new(64511, "192.0.2.1".parse().unwrap()).neighbor(
            Neighbor::new("192.0.2.2".parse().unwrap(), 64512, &[Family::Vpnv4, Family::Evpn])
                .password("s3cret")
                .ttl_security(),
        );
        let c = config(&spec);
        for line in [
            "router bgp 64511",
            " no bgp ebgp-requires-policy",
            " neighbor 192.0.2.2 timers connect 5",
            " neighbor 192.0.2.2 password s3cret",
            " neighbor 192.0.2.2 ttl-security hops 1",
            " address-family ipv4 vpn",
            " address-family l2vpn evpn",
            "  neighbor 192.0.2.2 activate",
        ] {
            assert!(c.lines().any(|l| l == line), "{line:?} missing from\n{c}");
        }
        assert!(!c.contains("ipv4 unicast"));
    }

    #[test]
    fn ext_community_strings() {
        assert_eq!(
            parse_ext_communities("RT:64512:200 ET:8 Rmac:02:00:00:00:00:02").unwrap(),
            vec![
                ExtCommunity::RouteTarget(AdminValue::as2(64512, 200)),
                ExtCommunity::Encapsulation(8),
                ExtCommunity::RouterMac("02:00:00:00:00:02".parse().unwrap()),
            ]
        );
    }
}
