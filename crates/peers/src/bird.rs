//! BIRD 2 (Debian `bird2`, 2.0.12): `bird -f` as a foreground child in the namespace, with its
//! configuration, control socket and PID file in the peer's directory; queried with
//! `birdc -s SOCKET show route ... all` (text, parsed here), routes originated by static
//! protocols in an included file that is rewritten, then `birdc configure`.
//!
//! - One BGP protocol per neighbor, named `n1`, `n2`, ...; `connect retry time 5` (the default
//!   is 120 s); a `device` protocol (BGP needs it to see which neighbors are on-link); no
//!   `kernel` protocol, so nothing reaches the namespace's FIB.
//! - VPNv4 routes live in their own table (`vpn4 table vpntab4`, channel `vpn4 mpls`).
//! - Labels: BIRD 2.0 keeps a VPN route's label only with a third-party next hop, i.e. a static
//!   `route RD P via NH mpls L` where NH is on-link and neither BIRD's address nor the
//!   neighbor's. With next-hop-self it sends label 3 (implicit null); `bgp_next_hop` set in a
//!   filter gives "Missing MPLS stack"; `via <neighbor>` gives "Invalid NEXT_HOP". So a VPNv4
//!   announce needs `next_hop` set to such an address.
//! - BIRD 2.0 has no EVPN.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use ipnet::IpNet;

use crate::process::{Daemon, in_netns, run, run_ok};
use crate::{
    Community, Error, ExtCommunity, Family, NeighborState, Peer, PeerKind, PeerSpec, Result, Route, SessionState,
    check_netns, temp_dir, write_file,
};

const BIRDC_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Bird {
    netns: String,
    spec: PeerSpec,
    bird: Daemon,
    announced: Mutex<Vec<Route>>,
    dir: tempfile::TempDir,
}

fn table(f: Family) -> Result<&'static str> {
    match f {
        Family::Ipv4Unicast => Ok("master4"),
        Family::Ipv6Unicast => Ok("master6"),
        Family::Vpnv4 => Ok("vpntab4"),
        Family::Vpnv6 => Ok("vpntab6"),
        Family::Evpn => Err(Error::Unsupported {
            peer: "BIRD",
            what: "do EVPN (BIRD 2.0 has none)".into(),
        }),
        Family::Rtc => Err(Error::Unsupported {
            peer: "BIRD",
            what: "do RT constraint (BIRD 2.0 has none)".into(),
        }),
    }
}

fn static_name(f: Family) -> &'static str {
    match f {
        Family::Ipv4Unicast => "weft_static4",
        Family::Ipv6Unicast => "weft_static6",
        Family::Vpnv4 => "weft_vpn4",
        Family::Vpnv6 => "weft_vpn6",
        Family::Evpn | Family::Rtc => "weft_unsupported",
    }
}

fn channel(f: Family) -> &'static str {
    match f {
        Family::Ipv4Unicast => "ipv4",
        Family::Ipv6Unicast => "ipv6",
        Family::Vpnv4 => "vpn4 { table vpntab4; }",
        Family::Vpnv6 => "vpn6 { table vpntab6; }",
        Family::Evpn | Family::Rtc => "",
    }
}

/// bird.conf for a spec; the static routes are in `static_conf`, included at the end.
pub fn config(spec: &PeerSpec, static_conf: &Path) -> Result<String> {
    let families = spec.families();
    for f in &families {
        table(*f)?;
    }
    let mut c = format!("log stderr all;\nrouter id {};\n\n", spec.router_id);
    c += "# BGP needs the device protocol to know which neighbors are on-link.\nprotocol device { scan time 10; }\n\n";
    if families.contains(&Family::Vpnv4) {
        c += "vpn4 table vpntab4;\n\n";
    }
    if families.contains(&Family::Vpnv6) {
        c += "vpn6 table vpntab6;\n\n";
    }
    for (i, n) in spec.neighbors.iter().enumerate() {
        c += &format!("protocol bgp n{} {{\n", i + 1);
        match spec.local_address_for(n) {
            Some(l) => c += &format!("  local {l} as {};\n", spec.local_as),
            None => c += &format!("  local as {};\n", spec.local_as),
        }
        c += &format!("  neighbor {} as {};\n", n.address, n.remote_as);
        c += "  connect retry time 5;\n";
        if let Some(pw) = &n.password {
            c += &format!("  password \"{pw}\";\n");
        }
        if n.passive {
            c += "  passive on;\n";
        }
        if n.ttl_security {
            c += "  ttl security on;\n";
        }
        if n.route_reflector_client {
            c += "  rr client;\n";
        }
        if let Some(t) = n.graceful_restart {
            c += &format!("  graceful restart on;\n  graceful restart time {t};\n");
        }
        let add_paths = match n.add_path {
            Some(a) if a.receive && a.send > 0 => " add paths on;",
            Some(a) if a.send > 0 => " add paths tx;",
            Some(a) if a.receive => " add paths rx;",
            _ => "",
        }
        .to_string();
        if n.remote_as == spec.local_as {
            // iBGP is multihop by default, resolving next hops through an IGP table this
            // harness does not have: the neighbor is on-link.
            c += "  direct;\n";
        }
        for f in &n.families {
            c += &match f {
                Family::Ipv4Unicast => format!("  ipv4 {{ import all; export all;{add_paths} }};\n"),
                Family::Ipv6Unicast => format!("  ipv6 {{ import all; export all;{add_paths} }};\n"),
                Family::Vpnv4 => {
                    format!("  vpn4 mpls {{ table vpntab4; import all; export all;{add_paths} }};\n")
                }
                Family::Vpnv6 => {
                    format!("  vpn6 mpls {{ table vpntab6; import all; export all;{add_paths} }};\n")
                }
                Family::Evpn | Family::Rtc => unreachable!("refused above"),
            };
        }
        c += "}\n\n";
    }
    c += &format!("include \"{}\";\n", static_conf.display());
    Ok(c)
}

/// The static protocols holding announced routes, one per family in use.
pub fn static_config(families: &[Family], routes: &[Route]) -> Result<String> {
    let mut c = String::from("# Routes announced by the test harness.\n");
    for &f in families {
        c += &format!("protocol static {} {{\n  {};\n", static_name(f), channel(f));
        for r in routes.iter().filter(|r| r.family == f) {
            c += &format!("  {}\n", static_route(r)?);
        }
        c += "}\n";
    }
    Ok(c)
}

fn static_route(r: &Route) -> Result<String> {
    let unsupported = |what: String| Error::Unsupported { peer: "BIRD", what };
    if !r.raw_attributes.is_empty() {
        return Err(unsupported("send raw attributes".into()));
    }
    let target = match (r.family, r.next_hop) {
        (Family::Vpnv4 | Family::Vpnv6, Some(nh)) => {
            let label = r
                .label
                .ok_or_else(|| Error::Config(format!("VPNv4 route {} needs a label", r.key())))?;
            format!("via {nh} mpls {label}")
        }
        (Family::Vpnv4 | Family::Vpnv6, None) => {
            return Err(unsupported(format!(
                "keep the label of {} with next-hop-self (BIRD 2.0 sends label 3): give it a third-party \
                 next hop on the segment, neither BIRD's address nor the neighbor's",
                r.key()
            )));
        }
        (_, Some(nh)) => format!("via {nh}"),
        (_, None) => "blackhole".to_string(),
    };
    let net = match (r.family, r.rd) {
        (Family::Vpnv4 | Family::Vpnv6, Some(rd)) => format!("{rd} {}", r.prefix),
        (Family::Vpnv4 | Family::Vpnv6, None) => {
            return Err(Error::Config(format!("VPN route {} needs an RD", r.key())));
        }
        _ => r.prefix.to_string(),
    };
    let mut attrs = String::new();
    for c in &r.communities {
        attrs += &format!(" bgp_community.add(({}, {}));", c.0, c.1);
    }
    for c in &r.large_communities {
        attrs += &format!(" bgp_large_community.add(({}, {}, {}));", c.0, c.1, c.2);
    }
    if let Some(med) = r.med {
        attrs += &format!(" bgp_med = {med};");
    }
    if let Some(lp) = r.local_pref {
        attrs += &format!(" bgp_local_pref = {lp};");
    }
    for c in &r.ext_communities {
        attrs += &match c {
            ExtCommunity::RouteTarget(rt) => {
                let s = rt.to_string();
                let (a, b) = s.rsplit_once(':').expect("RD/RT display has a colon");
                format!(" bgp_ext_community.add((rt, {a}, {b}));")
            }
            other => {
                let b = other.to_bytes();
                let hi = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let lo = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                format!(" bgp_ext_community.add((generic, {hi:#x}, {lo:#x}));")
            }
        };
    }
    Ok(format!("route {net} {target} {{{attrs} }};"))
}

impl Bird {
    pub fn start(netns: &str, spec: &PeerSpec) -> Result<Bird> {
        check_netns(netns)?;
        spec.validate()?;
        let dir = temp_dir("bird")?;
        let d = dir.path();
        let static_conf = d.join("static.conf");
        write_file(&static_conf, &static_config(&spec.families(), &[])?)?;
        let conf = d.join("bird.conf");
        write_file(&conf, &config(spec, &static_conf)?)?;
        // Parse only: a clear error for a bad configuration before anything runs.
        run_ok(Command::new("bird").arg("-p").arg("-c").arg(&conf), BIRDC_TIMEOUT)
            .map_err(|e| Error::Config(format!("BIRD rejects its configuration: {e}")))?;
        let ctl = d.join("bird.ctl");
        let mut cmd = in_netns(netns, "bird");
        if spec.restarting {
            // Graceful restart recovery: the R bit, routes held back until End-of-RIB.
            cmd.arg("-R");
        }
        cmd.arg("-f")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(&ctl)
            .arg("-P")
            .arg(d.join("bird.pid"));
        let mut bird = Daemon::spawn("bird", &mut cmd, &d.join("bird.log"))?;
        bird.wait_ready("open its control socket", Duration::from_secs(10), || ctl.exists())?;
        Ok(Bird {
            netns: netns.to_string(),
            spec: spec.clone(),
            bird,
            announced: Mutex::new(Vec::new()),
            dir,
        })
    }

    /// Kills bird with SIGKILL: no NOTIFICATION, the sessions just break (a crash, for graceful
    /// restart tests). Idempotent; the directory goes on drop.
    pub fn kill(&mut self) -> Result<()> {
        self.bird.kill()
    }

    /// Runs `birdc -s SOCKET ARGS...`; returns its output.
    pub fn birdc(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new("birdc");
        cmd.arg("-s").arg(self.dir.path().join("bird.ctl")).args(args);
        let out = run(&mut cmd, BIRDC_TIMEOUT)?;
        if !out.status.success() {
            return Err(Error::Rejected {
                peer: "BIRD",
                what: format!("birdc {}", args.join(" ")),
                output: format!("{}{}", out.stdout, out.stderr),
            });
        }
        Ok(out.stdout)
    }

    fn protocol_name(&self, neighbor: IpAddr) -> Result<String> {
        let i = self
            .spec
            .neighbors
            .iter()
            .position(|n| n.address == neighbor)
            .ok_or_else(|| Error::Config(format!("{neighbor} is not a configured neighbor")))?;
        Ok(format!("n{}", i + 1))
    }

    fn apply(&self, routes: &[Route]) -> Result<()> {
        let text = static_config(&self.spec.families(), routes)?;
        write_file(&self.dir.path().join("static.conf"), &text)?;
        let out = self.birdc(&["configure"])?;
        if !out.contains("Reconfigur") || out.to_ascii_lowercase().contains("error") {
            return Err(Error::Rejected {
                peer: "BIRD",
                what: "the new static routes".into(),
                output: out,
            });
        }
        Ok(())
    }

    fn change(&self, route: &Route, add: bool) -> Result<()> {
        table(route.family)?;
        if !self.spec.families().contains(&route.family) {
            return Err(Error::Config(format!(
                "{} is not configured on any neighbor",
                route.family
            )));
        }
        let mut announced = self.announced.lock().unwrap_or_else(|p| p.into_inner());
        let mut next: Vec<Route> = announced.iter().filter(|r| !r.same_nlri(route)).cloned().collect();
        if add {
            next.push(route.clone());
        }
        match self.apply(&next) {
            Ok(()) => {
                *announced = next;
                Ok(())
            }
            Err(e) => {
                // Put the file back as it was.
                let _ = self.apply(&announced);
                Err(e)
            }
        }
    }
}

/// Parses `birdc show route table T all`, keeping the routes of protocols in `protocols`
/// (name, neighbor address).
pub fn parse_routes(family: Family, text: &str, protocols: &[(String, IpAddr)]) -> Result<Vec<Route>> {
    let mut out: Vec<Route> = Vec::new();
    let mut net: Option<(Option<crate::Rd>, IpNet)> = None;
    let mut current: Option<Route> = None;
    let flush = |current: &mut Option<Route>, out: &mut Vec<Route>| {
        if let Some(r) = current.take() {
            out.push(r);
        }
    };
    for line in text.lines() {
        if line.starts_with("BIRD ") || line.starts_with("Table ") || line.trim().is_empty() {
            continue;
        }
        let indented = line.starts_with(char::is_whitespace);
        let trimmed = line.trim();
        // A route header: "[RD] PREFIX  TYPE [PROTO TIME] * (PREF) ..." or, for the next route of the
        // same net, the same without the net.
        let before_bracket = trimmed.split('[').next().unwrap_or_default();
        let next_route_of_net = trimmed.contains(" [")
            && !trimmed.starts_with("via ")
            && !trimmed.starts_with("dev ")
            && !before_bracket.contains(':');
        if !indented || next_route_of_net {
            flush(&mut current, &mut out);
            let tokens: Vec<&str> = trimmed.split_whitespace().collect();
            if !indented {
                net = Some(match tokens.get(1).and_then(|t| t.parse::<IpNet>().ok()) {
                    Some(p) => (Some(tokens[0].parse().map_err(|e| Error::parse("BIRD RD", e))?), p),
                    None => (
                        None,
                        tokens
                            .first()
                            .and_then(|t| t.parse().ok())
                            .ok_or_else(|| Error::parse("BIRD route line", line))?,
                    ),
                });
            }
            let proto = trimmed
                .split_once('[')
                .map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default())
                .unwrap_or_default();
            if let (Some((rd, prefix)), Some((_, from))) = (net, protocols.iter().find(|(n, _)| n == proto)) {
                let mut r = Route::unicast(prefix);
                r.family = family;
                r.rd = rd;
                r.from = Some(*from);
                current = Some(r);
            }
            continue;
        }
        let Some(r) = current.as_mut() else { continue };
        let Some((key, value)) = trimmed.split_once(": ") else {
            continue;
        };
        match key {
            "BGP.as_path" => {
                r.as_path = value
                    .split(|c: char| c.is_whitespace() || c == '{' || c == '}' || c == ',')
                    .filter_map(|t| t.parse().ok())
                    .collect()
            }
            "BGP.med" => r.med = value.trim().parse().ok(),
            "BGP.local_pref" => r.local_pref = value.trim().parse().ok(),
            "BGP.large_community" => {
                for t in tuples(value) {
                    if let [a, b, c] = t.as_slice() {
                        let n = |s: &String| s.parse::<u32>().map_err(|e| Error::parse("BIRD large community", e));
                        r.large_communities.push(crate::LargeCommunity(n(a)?, n(b)?, n(c)?));
                    }
                }
            }
            "BGP.next_hop" => r.next_hop = value.split_whitespace().next().and_then(|t| t.parse().ok()),
            "BGP.mpls_label_stack" => r.label = value.split(['/', ' ']).next().and_then(|t| t.parse().ok()),
            "BGP.community" => {
                for t in tuples(value) {
                    if let [a, b] = t.as_slice() {
                        r.communities.push(Community(
                            a.parse().map_err(|e| Error::parse("BIRD community", e))?,
                            b.parse().map_err(|e| Error::parse("BIRD community", e))?,
                        ));
                    }
                }
            }
            "BGP.ext_community" => {
                for t in tuples(value) {
                    match t.as_slice() {
                        [kind, a, b] if kind == "rt" => r.ext_communities.push(ExtCommunity::RouteTarget(
                            format!("{a}:{b}").parse().map_err(|e| Error::parse("BIRD RT", e))?,
                        )),
                        [kind, hi, lo] if kind == "generic" => {
                            let hex = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16);
                            let (hi, lo) = (
                                hex(hi).map_err(|e| Error::parse("BIRD ext community", e))?,
                                hex(lo).map_err(|e| Error::parse("BIRD ext community", e))?,
                            );
                            r.ext_communities
                                .push(ExtCommunity::from_u64((u64::from(hi) << 32) | u64::from(lo)));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    flush(&mut current, &mut out);
    Ok(out)
}

/// `(a, b) (c, d)` -> [[a, b], [c, d]].
fn tuples(s: &str) -> Vec<Vec<String>> {
    s.split(')')
        .filter_map(|t| t.split_once('(').map(|(_, inner)| inner))
        .map(|inner| inner.split(',').map(|x| x.trim().to_string()).collect())
        .collect()
}

impl Peer for Bird {
    fn kind(&self) -> PeerKind {
        PeerKind::Bird
    }

    fn netns(&self) -> &str {
        &self.netns
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn pids(&self) -> Vec<u32> {
        self.bird.pid().into_iter().collect()
    }

    fn spec(&self) -> &PeerSpec {
        &self.spec
    }

    fn neighbor_state(&self, neighbor: IpAddr) -> Result<NeighborState> {
        let name = self.protocol_name(neighbor)?;
        let out = self.birdc(&["show", "protocols", "all", &name])?;
        let state = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("BGP state:"))
            .map(|s| SessionState::from_name(s.trim()))
            .ok_or_else(|| Error::parse("birdc show protocols", &out))?;
        Ok(NeighborState {
            state,
            established_count: None,
        })
    }

    fn received_routes(&self, family: Family) -> Result<Vec<Route>> {
        let t = table(family)?;
        let protocols: Vec<(String, IpAddr)> = self
            .spec
            .neighbors
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("n{}", i + 1), n.address))
            .collect();
        if !self.spec.families().contains(&family) {
            return Ok(Vec::new());
        }
        let out = self.birdc(&["show", "route", "table", t, "all"])?;
        parse_routes(family, &out, &protocols)
    }

    fn announce(&self, route: &Route) -> Result<()> {
        self.change(route, true)
    }

    fn withdraw(&self, route: &Route) -> Result<()> {
        self.change(route, false)
    }

    fn logs(&self, lines: usize) -> String {
        format!("--- bird.log\n{}", self.bird.log_tail(lines))
    }

    fn stop(&mut self) -> Result<()> {
        self.bird.stop()
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        let _ = self.bird.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AdminValue;

    const SHOW: &str = "BIRD 2.0.12 ready.
Table vpntab4:
64511:1 203.0.113.0/24 unicast [weft_vpn4 16:24:49.465] * (200)
\tvia 192.0.2.3 on eth0 mpls 200
\tType: static univ
\tBGP.ext_community: (rt, 64511, 100)
64512:1 198.51.100.0/24 unicast [n1 16:24:49.236] * (100) [AS64512?]
\tvia 192.0.2.2 on eth0 mpls 100
\tType: BGP univ
\tBGP.origin: Incomplete
\tBGP.as_path: 64512 64500
\tBGP.next_hop: 192.0.2.2
\tBGP.local_pref: 100
\tBGP.community: (64512,7) (64512,8)
\tBGP.ext_community: (rt, 64512, 100) (generic, 0x6030200, 0x2)
\tBGP.mpls_label_stack: 100
                     unicast [n2 16:24:50.000] (100) [AS64513?]
\tvia 192.0.2.4 on eth0 mpls 300
\tType: BGP univ
\tBGP.as_path: 64513
\tBGP.next_hop: 192.0.2.4
\tBGP.mpls_label_stack: 300
";

    #[test]
    fn parses_show_route_all() {
        let protos = vec![
            ("n1".to_string(), "192.0.2.2".parse().unwrap()),
            ("n2".to_string(), "192.0.2.4".parse().unwrap()),
        ];
        let routes = parse_routes(Family::Vpnv4, SHOW, &protos).unwrap();
        assert_eq!(routes.len(), 2, "{routes:#?}");
        let r = &routes[0];
        assert_eq!(r.rd, Some(AdminValue::as2(64512, 1)));
        assert_eq!(r.prefix, "198.51.100.0/24".parse::<IpNet>().unwrap());
        assert_eq!(r.label, Some(100));
        assert_eq!(r.as_path, vec![64512, 64500]);
        assert_eq!(r.next_hop, Some("192.0.2.2".parse().unwrap()));
        assert_eq!(r.communities, vec![Community(64512, 7), Community(64512, 8)]);
        assert_eq!(r.route_targets(), vec![AdminValue::as2(64512, 100)]);
        assert_eq!(r.router_mac(), Some("02:00:00:00:00:02".parse().unwrap()));
        assert_eq!(routes[1].from, Some("192.0.2.4".parse().unwrap()));
        assert_eq!(routes[1].label, Some(300));
        assert_eq!(routes[1].rd, Some(AdminValue::as2(64512, 1)));
    }

    #[test]
    fn static_routes() {
        let r = Route::vpnv4(AdminValue::as2(64511, 1), "203.0.113.0/24".parse().unwrap(), 200)
            .with_next_hop("192.0.2.100".parse().unwrap())
            .with_route_target(AdminValue::as2(64511, 100))
            .with_encapsulation(8);
        assert_eq!(
            static_route(&r).unwrap(),
            "route 64511:1 203.0.113.0/24 via 192.0.2.100 mpls 200 { bgp_ext_community.add((rt, 64511, 100)); \
             bgp_ext_community.add((generic, 0x30c0000, 0x8)); };"
        );
        let no_nh = Route::vpnv4(AdminValue::as2(64511, 1), "203.0.113.0/24".parse().unwrap(), 200);
        assert!(matches!(static_route(&no_nh), Err(Error::Unsupported { .. })));
    }
}
