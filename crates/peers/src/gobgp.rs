//! GoBGP (Debian `gobgpd`, 3.10): `gobgpd` as a foreground child in the namespace with a TOML
//! configuration in the peer's directory and its gRPC API on 127.0.0.1:50051 *inside* the
//! namespace; driven with the `gobgp` CLI through `ip netns exec` (the CLI talks to 127.0.0.1 of
//! the namespace it runs in), queried with `gobgp -j` (JSON).
//!
//! - `connect-retry = 5` (GoBGP otherwise waits longer between attempts). After the remote
//!   side resets a session GoBGP stays Idle for about 10 s before it reconnects; the TOML's
//!   `idle-hold-time-after-reset` does not change that (it is overridden by its default, 30, and
//!   only applies to `gobgp neighbor ADDR reset`), so allow ~15 s for a session to come back.
//! - VPNv4: `global rib -a vpnv4 add P label L rd RD rt RT nexthop NH`; EVPN type 5:
//!   `global rib -a evpn add prefix P gw 0.0.0.0 etag 0 label VNI rd RD rt RT encap vxlan
//!   router-mac MAC nexthop NH`.
//! - It advertises the extended next hop capability for EVPN, which FRR logs as "Unexpected
//!   afi/safi ... ignoring" (harmless).

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use serde_json::Value;

use crate::process::{Daemon, in_netns, run};
use crate::{
    AdminValue, Community, ENCAP_VXLAN, Error, ExtCommunity, Family, NeighborState, Peer, PeerKind, PeerSpec, Result,
    Route, SessionState, check_netns, temp_dir, write_file,
};

const API: &str = "127.0.0.1";
const API_PORT: u16 = 50051;
const CLI_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Gobgp {
    netns: String,
    spec: PeerSpec,
    gobgpd: Daemon,
    dir: tempfile::TempDir,
}

fn afi_safi_name(f: Family) -> &'static str {
    match f {
        Family::Ipv4Unicast => "ipv4-unicast",
        Family::Ipv6Unicast => "ipv6-unicast",
        Family::Vpnv4 => "l3vpn-ipv4-unicast",
        Family::Evpn => "l2vpn-evpn",
        Family::Vpnv6 => "l3vpn-ipv6-unicast",
        Family::Rtc => "rtc",
    }
}

fn cli_family(f: Family) -> &'static str {
    match f {
        Family::Ipv4Unicast => "ipv4",
        Family::Ipv6Unicast => "ipv6",
        Family::Vpnv4 => "vpnv4",
        Family::Evpn => "evpn",
        Family::Vpnv6 => "vpnv6",
        Family::Rtc => "rtc",
    }
}

/// gobgpd.toml for a spec.
pub fn config(spec: &PeerSpec) -> String {
    let mut locals: Vec<String> = vec![spec.local_address.to_string()];
    for n in &spec.neighbors {
        if let Some(l) = spec.local_address_for(n).map(|a| a.to_string())
            && !locals.contains(&l)
        {
            locals.push(l);
        }
    }
    let quoted: Vec<String> = locals.iter().map(|l| format!("{l:?}")).collect();
    let mut c = format!(
        "[global.config]\n  as = {}\n  router-id = \"{}\"\n  port = 179\n  local-address-list = [{}]\n",
        spec.local_as,
        spec.router_id,
        quoted.join(", ")
    );
    for n in &spec.neighbors {
        c += &format!(
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}\n",
            n.address, n.remote_as
        );
        if let Some(pw) = &n.password {
            c += &format!("    auth-password = \"{pw}\"\n");
        }
        c += "  [neighbors.transport.config]\n";
        if let Some(l) = spec.local_address_for(n) {
            c += &format!("    local-address = \"{l}\"\n");
        }
        if n.passive {
            c += "    passive-mode = true\n";
        }
        c += "  [neighbors.timers.config]\n    connect-retry = 5\n";
        if n.ttl_security {
            c += "  [neighbors.ttl-security.config]\n    enabled = true\n    ttl-min = 255\n";
        }
        if let Some(t) = n.graceful_restart {
            c += &format!("  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = {t}\n");
        }
        if n.route_reflector_client {
            c += &format!(
                "  [neighbors.route-reflector.config]\n    route-reflector-client = true\n    route-reflector-cluster-id = \"{}\"\n",
                spec.router_id
            );
        }
        for f in &n.families {
            c += &format!(
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{}\"\n",
                afi_safi_name(*f)
            );
            if n.graceful_restart.is_some() {
                c += "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n";
            }
            if let Some(ap) = n.add_path {
                c += &format!(
                    "    [neighbors.afi-safis.add-paths.config]\n      receive = {}\n      send-max = {}\n",
                    ap.receive, ap.send
                );
            }
        }
    }
    c
}

impl Gobgp {
    pub fn start(netns: &str, spec: &PeerSpec) -> Result<Gobgp> {
        check_netns(netns)?;
        spec.validate()?;
        let dir = temp_dir("gobgp")?;
        let conf = dir.path().join("gobgpd.toml");
        write_file(&conf, &config(spec))?;
        let mut cmd = in_netns(netns, "gobgpd");
        cmd.arg("-f").arg(&conf);
        cmd.args(["-t", "toml", "-p", "-l", "info", "--pprof-disable"]);
        cmd.arg(format!("--api-hosts={API}:{API_PORT}"));
        if spec.restarting {
            // Graceful restart: the R bit in its OPENs (and the F bit per family).
            cmd.arg("-r");
        }
        let mut gobgpd = Daemon::spawn("gobgpd", &mut cmd, &dir.path().join("gobgpd.log"))?;
        let netns_owned = netns.to_string();
        gobgpd.wait_ready("answer on its API", Duration::from_secs(15), || {
            cli_in(&netns_owned, &["global"]).is_ok()
        })?;
        Ok(Gobgp {
            netns: netns.to_string(),
            spec: spec.clone(),
            gobgpd,
            dir,
        })
    }

    /// Kills gobgpd with SIGKILL: no NOTIFICATION, the sessions just break (a crash, for
    /// graceful restart tests). Idempotent; the directory goes on drop.
    pub fn kill(&mut self) -> Result<()> {
        self.gobgpd.kill()
    }

    /// Runs `gobgp ARGS...` against this daemon; returns stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        cli_in(&self.netns, args)
    }

    fn cli_json(&self, args: &[&str]) -> Result<Value> {
        let mut a = args.to_vec();
        a.push("-j");
        let out = self.cli(&a)?;
        if out.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&out).map_err(|e| Error::parse(format!("gobgp {}", args.join(" ")), format!("{e}: {out}")))
    }

    /// The CLI arguments after `global rib -a FAMILY add|del` for a route.
    fn route_args(route: &Route, add: bool) -> Result<Vec<String>> {
        let unsupported = |what: String| Error::Unsupported { peer: "GoBGP", what };
        if !route.raw_attributes.is_empty() {
            return Err(unsupported("send raw attributes".into()));
        }
        let mut a = Vec::new();
        let need = |what: &str| Error::Config(format!("{} route {} needs {what}", route.family, route.key()));
        match route.family {
            Family::Ipv4Unicast | Family::Ipv6Unicast => a.push(route.prefix.to_string()),
            Family::Rtc => return Err(unsupported("announce RT membership from the CLI (use a VRF)".into())),
            Family::Vpnv4 | Family::Vpnv6 => {
                a.push(route.prefix.to_string());
                a.push("label".into());
                a.push(route.label.ok_or_else(|| need("a label"))?.to_string());
                a.push("rd".into());
                a.push(route.rd.ok_or_else(|| need("an RD"))?.to_string());
            }
            Family::Evpn => {
                let gw = if route.prefix.addr().is_ipv4() { "0.0.0.0" } else { "::" };
                a.extend(["prefix".into(), route.prefix.to_string(), "gw".into(), gw.into()]);
                a.extend(["etag".into(), "0".into(), "label".into()]);
                a.push(route.label.ok_or_else(|| need("a VNI"))?.to_string());
                a.push("rd".into());
                a.push(route.rd.ok_or_else(|| need("an RD"))?.to_string());
            }
        }
        if !add {
            return Ok(a);
        }
        let rts: Vec<String> = route.route_targets().iter().map(|rt| rt.to_string()).collect();
        if !rts.is_empty() {
            a.push("rt".into());
            a.extend(rts);
        }
        for c in &route.ext_communities {
            match c {
                ExtCommunity::RouteTarget(_) => {}
                ExtCommunity::Encapsulation(ENCAP_VXLAN) => a.extend(["encap".into(), "vxlan".into()]),
                ExtCommunity::RouterMac(mac) if route.family == Family::Evpn => {
                    a.extend(["router-mac".into(), mac.to_string()])
                }
                other => {
                    return Err(unsupported(format!(
                        "send the extended community {other} on {}",
                        route.key()
                    )));
                }
            }
        }
        if !route.communities.is_empty() {
            let cs: Vec<String> = route.communities.iter().map(|c| c.to_string()).collect();
            a.push("community".into());
            a.push(cs.join(","));
        }
        if !route.large_communities.is_empty() {
            let cs: Vec<String> = route.large_communities.iter().map(|c| c.to_string()).collect();
            a.push("large-community".into());
            a.push(cs.join(","));
        }
        if let Some(med) = route.med {
            a.extend(["med".into(), med.to_string()]);
        }
        if let Some(lp) = route.local_pref {
            a.extend(["local-pref".into(), lp.to_string()]);
        }
        if let Some(nh) = route.next_hop {
            a.extend(["nexthop".into(), nh.to_string()]);
        }
        Ok(a)
    }

    fn rib_change(&self, route: &Route, add: bool) -> Result<()> {
        let args = Gobgp::route_args(route, add)?;
        let mut all = vec![
            "global",
            "rib",
            "-a",
            cli_family(route.family),
            if add { "add" } else { "del" },
        ];
        all.extend(args.iter().map(String::as_str));
        self.cli(&all).map(|_| ())
    }
}

fn cli_in(netns: &str, args: &[&str]) -> Result<String> {
    let mut cmd = in_netns(netns, "gobgp");
    cmd.args(["-u", API, "-p", &API_PORT.to_string()]);
    cmd.args(args);
    let out = run(&mut cmd, CLI_TIMEOUT)?;
    if !out.status.success() {
        return Err(Error::Rejected {
            peer: "GoBGP",
            what: format!("gobgp {}", args.join(" ")),
            output: format!("{}{}", out.stdout, out.stderr),
        });
    }
    Ok(out.stdout)
}

fn admin_value(v: &Value) -> Option<AdminValue> {
    let assigned = v["assigned"].as_u64()?;
    Some(match v["type"].as_u64()? {
        0 => AdminValue::As2 {
            asn: v["admin"].as_u64()?.try_into().ok()?,
            value: assigned.try_into().ok()?,
        },
        1 => AdminValue::Ipv4 {
            addr: v["admin"].as_str()?.parse().ok()?,
            value: assigned.try_into().ok()?,
        },
        2 => AdminValue::As4 {
            asn: v["admin"].as_u64()?.try_into().ok()?,
            value: assigned.try_into().ok()?,
        },
        _ => return None,
    })
}

fn ext_community(v: &Value) -> Option<ExtCommunity> {
    let (t, st) = (v["type"].as_u64()?, v["subtype"].as_u64()?);
    Some(match (t, st) {
        (0..=2, 2) => ExtCommunity::RouteTarget(v["value"].as_str()?.parse().ok()?),
        (3, 12) => ExtCommunity::Encapsulation(v["tunnel_type"].as_u64()?.try_into().ok()?),
        (6, 3) => ExtCommunity::RouterMac(v["mac"].as_str()?.parse().ok()?),
        _ => return None,
    })
}

/// One path of `gobgp global rib -j`; None for locally originated paths.
pub fn parse_path(family: Family, p: &Value) -> Result<Option<Route>> {
    let Some(from) = p["neighbor-ip"].as_str().and_then(|s| s.parse::<IpAddr>().ok()) else {
        return Ok(None);
    };
    let bad = |what: &str| Error::parse(format!("GoBGP {family} path ({what})"), p);
    let nlri = &p["nlri"];
    let (prefix, rd, label) = match family {
        Family::Evpn => {
            if nlri["type"].as_u64() != Some(5) {
                return Ok(None);
            }
            let v = &nlri["value"];
            let prefix: IpNet = v["prefix"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("prefix"))?;
            (prefix, admin_value(&v["rd"]), v["label"].as_u64().map(|l| l as u32))
        }
        _ => {
            let prefix: IpNet = nlri["prefix"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("prefix"))?;
            let label = nlri["labels"]
                .as_array()
                .and_then(|l| l.first())
                .and_then(Value::as_u64);
            (prefix, admin_value(&nlri["rd"]), label.map(|l| l as u32))
        }
    };
    let mut r = Route::unicast(prefix);
    r.family = family;
    r.rd = rd;
    r.label = label;
    r.from = Some(from);
    for a in p["attrs"].as_array().into_iter().flatten() {
        match a["type"].as_u64() {
            Some(2) => {
                r.as_path = a["as_paths"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|s| s["asns"].as_array().into_iter().flatten())
                    .filter_map(|n| n.as_u64().map(|n| n as u32))
                    .collect()
            }
            Some(4) => r.med = a["metric"].as_u64().map(|m| m as u32),
            Some(5) => r.local_pref = a["value"].as_u64().map(|m| m as u32),
            Some(32) => {
                r.large_communities = a["value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| {
                        let n = |k: &str| c[k].as_u64().and_then(|v| u32::try_from(v).ok());
                        Some(crate::LargeCommunity(n("ASN")?, n("LocalData1")?, n("LocalData2")?))
                    })
                    .collect()
            }
            Some(3) | Some(14) => {
                if let Some(nh) = a["nexthop"].as_str().and_then(|s| s.parse().ok()) {
                    r.next_hop = Some(nh);
                }
            }
            Some(8) => {
                r.communities = a["communities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_u64().map(|c| Community::from_u32(c as u32)))
                    .collect()
            }
            Some(16) => {
                r.ext_communities = a["value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(ext_community)
                    .collect()
            }
            _ => {}
        }
    }
    Ok(Some(r))
}

/// GoBGP's session_state enum (numbers in its JSON).
fn session_state(v: &Value) -> SessionState {
    match v.as_u64() {
        Some(1) => SessionState::Idle,
        Some(2) => SessionState::Connect,
        Some(3) => SessionState::Active,
        Some(4) => SessionState::OpenSent,
        Some(5) => SessionState::OpenConfirm,
        Some(6) => SessionState::Established,
        _ => match v.as_str() {
            Some(s) => SessionState::from_name(s.trim_start_matches("SESSION_STATE_")),
            None => SessionState::Other(v.to_string()),
        },
    }
}

impl Peer for Gobgp {
    fn kind(&self) -> PeerKind {
        PeerKind::Gobgp
    }

    fn netns(&self) -> &str {
        &self.netns
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn pids(&self) -> Vec<u32> {
        self.gobgpd.pid().into_iter().collect()
    }

    fn spec(&self) -> &PeerSpec {
        &self.spec
    }

    fn neighbor_state(&self, neighbor: IpAddr) -> Result<NeighborState> {
        self.spec.neighbor_for(neighbor)?;
        let v = self.cli_json(&["neighbor", &neighbor.to_string()])?;
        Ok(NeighborState {
            state: session_state(&v["state"]["session_state"]),
            established_count: None,
        })
    }

    fn received_routes(&self, family: Family) -> Result<Vec<Route>> {
        let v = self.cli_json(&["global", "rib", "-a", cli_family(family)])?;
        let mut out = Vec::new();
        for paths in v.as_object().into_iter().flat_map(|m| m.values()) {
            for p in paths.as_array().into_iter().flatten() {
                if let Some(r) = parse_path(family, p)? {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    fn announce(&self, route: &Route) -> Result<()> {
        self.rib_change(route, true)
    }

    fn withdraw(&self, route: &Route) -> Result<()> {
        self.rib_change(route, false)
    }

    fn logs(&self, lines: usize) -> String {
        format!("--- gobgpd.log\n{}", self.gobgpd.log_tail(lines))
    }

    fn stop(&mut self) -> Result<()> {
        self.gobgpd.stop()
    }
}

impl Drop for Gobgp {
    fn drop(&mut self) {
        let _ = self.gobgpd.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_evpn_type5_path() {
        let p: Value = serde_json::from_str(
            r#"{"nlri":{"type":5,"value":{"rd":{"type":0,"admin":64512,"assigned":2},"esi":"single-homed","etag":0,
            "prefix":"203.0.113.0/24","gateway":"0.0.0.0","label":10100}},"best":true,
            "attrs":[{"type":1,"value":2},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[64511]}]},
            {"type":16,"value":[{"type":0,"subtype":2,"value":"64512:200"},{"type":3,"subtype":12,"tunnel_type":8},
            {"type":6,"subtype":3,"mac":"02:00:00:00:00:02"}]},
            {"type":14,"nexthop":"192.0.2.1","afi":25,"safi":70,"value":[]}],"neighbor-ip":"192.0.2.1"}"#,
        )
        .unwrap();
        let r = parse_path(Family::Evpn, &p).unwrap().unwrap();
        assert_eq!(r.prefix, "203.0.113.0/24".parse::<IpNet>().unwrap());
        assert_eq!(r.rd, Some(AdminValue::as2(64512, 2)));
        assert_eq!(r.label, Some(10100));
        assert_eq!(r.as_path, vec![64511]);
        assert_eq!(r.next_hop, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(r.route_targets(), vec![AdminValue::as2(64512, 200)]);
        assert_eq!(r.encapsulation(), Some(8));
        assert_eq!(r.router_mac(), Some("02:00:00:00:00:02".parse().unwrap()));
        // Locally originated: no neighbor-ip.
        let mut local = p.clone();
        local.as_object_mut().unwrap().remove("neighbor-ip");
        assert_eq!(parse_path(Family::Evpn, &local).unwrap(), None);
    }
}
