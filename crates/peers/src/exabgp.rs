//! ExaBGP (Debian `exabgp`, 4.2, run by the system `/usr/bin/python3`): a scripted peer. It
//! runs as a foreground child in the namespace; its API process (a small Python helper written
//! into the peer's directory) passes lines appended to `DIR/commands` to ExaBGP and writes what
//! ExaBGP reports to `DIR/events.jsonl` (JSON: state changes, received UPDATEs,
//! NOTIFICATIONs) and `DIR/acks.log` (`done`/`error` for each command). Received routes are
//! the replay of those events.
//!
//! - Settings through the environment: `exabgp.daemon.user=root` (it otherwise drops to user
//!   `exabgp`), `exabgp.api.cli=false` (no FIFOs in /run/exabgp), `exabgp.api.ack=true`.
//! - The helper must exit at once on SIGTERM, or ExaBGP hangs in "performing shutdown".
//! - Announces: `announce route P [rd RD label L] next-hop NH|self community [..]
//!   extended-community [0x..] attribute [0xCODE 0xFLAGS 0xPAYLOAD]`; the raw attribute is
//!   sent verbatim, so malformed attributes can be built. No EVPN originations here.
//! - ExaBGP only connects out; for a passive neighbor it also listens (`exabgp.tcp.bind`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use ipnet::IpNet;
use serde_json::Value;

use crate::process::{Daemon, in_netns, poll};
use crate::{
    Community, Error, ExtCommunity, Family, NeighborState, Peer, PeerKind, PeerSpec, Result, Route, SessionState,
    check_netns, temp_dir, write_file,
};

const ACK_TIMEOUT: Duration = Duration::from_secs(15);

/// The API process. argv[1]: the peer's directory.
const HELPER: &str = r#"#!/usr/bin/python3
# ExaBGP API process of the weft-peers harness. argv[1]: the peer's directory.
# To ExaBGP (stdout): lines the harness appends to DIR/commands.
# From ExaBGP (stdin): JSON events -> DIR/events.jsonl, command acks -> DIR/acks.log.
import os, signal, sys, threading, time

d = sys.argv[1]
# ExaBGP waits for its helpers at shutdown: leave at once on SIGTERM.
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

def from_exabgp():
    with open(os.path.join(d, "events.jsonl"), "a") as events, open(os.path.join(d, "acks.log"), "a") as acks:
        for line in iter(sys.stdin.readline, ""):
            out = events if line.lstrip().startswith("{") else acks
            out.write(line if line.endswith("\n") else line + "\n")
            out.flush()
    os._exit(0)  # ExaBGP is gone

commands = open(os.path.join(d, "commands"))
commands.seek(0, os.SEEK_END)  # when respawned, do not replay old commands
threading.Thread(target=from_exabgp, daemon=True).start()
with open(os.path.join(d, "api.pid.tmp"), "w") as f:
    f.write(str(os.getpid()))
os.rename(os.path.join(d, "api.pid.tmp"), os.path.join(d, "api.pid"))
pending = ""
while True:
    chunk = commands.readline()
    if not chunk:
        time.sleep(0.02)
        continue
    pending += chunk
    if pending.endswith("\n"):
        sys.stdout.write(pending)
        sys.stdout.flush()
        pending = ""
"#;

pub struct Exabgp {
    netns: String,
    spec: PeerSpec,
    exabgp: Daemon,
    /// Serializes commands so each ack matches its command.
    send_lock: Mutex<()>,
    dir: tempfile::TempDir,
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::Ipv4Unicast => "ipv4 unicast",
        Family::Ipv6Unicast => "ipv6 unicast",
        Family::Vpnv4 => "ipv4 mpls-vpn",
        Family::Evpn => "l2vpn evpn",
        Family::Vpnv6 => "ipv6 mpls-vpn",
        Family::Rtc => "ipv4 rtc",
    }
}

/// exabgp.conf for a spec, with `helper` as the API process.
pub fn config(spec: &PeerSpec, dir: &Path) -> String {
    let d = dir.display();
    let mut c = format!("process weft-api {{\n    run /usr/bin/python3 {d}/api.py {d};\n    encoder json;\n}}\n");
    for n in &spec.neighbors {
        let _ = write!(c, "\nneighbor {} {{\n    router-id {};\n", n.address, spec.router_id);
        if let Some(l) = spec.local_address_for(n) {
            let _ = writeln!(c, "    local-address {l};");
        }
        let _ = writeln!(c, "    local-as {};\n    peer-as {};", spec.local_as, n.remote_as);
        if let Some(pw) = &n.password {
            let _ = writeln!(c, "    md5-password '{pw}';");
        }
        if n.passive {
            c += "    passive true;\n";
        }
        if n.ttl_security {
            c += "    outgoing-ttl 255;\n    incoming-ttl 255;\n";
        }
        c += "    family {\n";
        for f in &n.families {
            let _ = writeln!(c, "        {};", family_name(*f));
        }
        c += "    }\n    api {\n        processes [ weft-api ];\n        neighbor-changes;\n";
        c += "        receive { parsed; update; notification; }\n    }\n}\n";
    }
    c
}

impl Exabgp {
    pub fn start(netns: &str, spec: &PeerSpec) -> Result<Exabgp> {
        check_netns(netns)?;
        spec.validate()?;
        if let Some(n) = spec.neighbors.iter().find(|n| n.route_reflector_client) {
            return Err(Error::Unsupported {
                peer: "ExaBGP",
                what: format!("reflect routes (route-reflector-client {})", n.address),
            });
        }
        let dir = temp_dir("exabgp")?;
        let d = dir.path();
        for f in ["commands", "events.jsonl", "acks.log"] {
            write_file(&d.join(f), "")?;
        }
        write_file(&d.join("api.py"), HELPER)?;
        let conf = d.join("exabgp.conf");
        write_file(&conf, &config(spec, d))?;
        let mut cmd = in_netns(netns, "/usr/sbin/exabgp");
        cmd.arg(&conf);
        cmd.env("exabgp.daemon.user", "root")
            .env("exabgp.daemon.daemonize", "false")
            .env("exabgp.daemon.drop", "false")
            .env("exabgp.log.destination", "stdout")
            .env("exabgp.api.cli", "false")
            .env("exabgp.api.ack", "true")
            .env("exabgp.api.pipename", format!("weft-{}", std::process::id()));
        let passive: Vec<String> = spec
            .neighbors
            .iter()
            .filter(|n| n.passive)
            .filter_map(|n| spec.local_address_for(n).map(|a| a.to_string()))
            .collect();
        if !passive.is_empty() {
            cmd.env("exabgp.tcp.bind", passive.join(" "));
        }
        let mut exabgp = Daemon::spawn("exabgp", &mut cmd, &d.join("exabgp.log"))?;
        let pid_file = d.join("api.pid");
        exabgp.wait_ready("start its API process", Duration::from_secs(20), || pid_file.exists())?;
        Ok(Exabgp {
            netns: netns.to_string(),
            spec: spec.clone(),
            exabgp,
            send_lock: Mutex::new(()),
            dir,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn acks(&self) -> Vec<String> {
        complete_lines(&std::fs::read_to_string(self.path("acks.log")).unwrap_or_default())
            .map(|l| l.trim().to_string())
            .collect()
    }

    /// Sends one API command (e.g. `neighbor 192.0.2.1 teardown 2`) and waits for ExaBGP to
    /// acknowledge it.
    pub fn send(&self, command: &str) -> Result<()> {
        if command.contains('\n') {
            return Err(Error::Config("one API command per line".into()));
        }
        let _guard = self.send_lock.lock().unwrap_or_else(|p| p.into_inner());
        let before = self.acks().len();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path("commands"))
            .map_err(|e| Error::io("opening the ExaBGP command file", e))?;
        f.write_all(format!("{command}\n").as_bytes())
            .map_err(|e| Error::io("writing the ExaBGP command file", e))?;
        let ack = poll(ACK_TIMEOUT, Duration::from_millis(20), || {
            self.acks().get(before).cloned()
        });
        match ack.as_deref() {
            Some("done") => Ok(()),
            Some(other) => Err(Error::Rejected {
                peer: "ExaBGP",
                what: command.to_string(),
                output: format!("{other}\n{}", self.exabgp.log_tail(10)),
            }),
            None => Err(Error::Timeout {
                what: format!("ExaBGP to acknowledge {command:?}"),
                after: ACK_TIMEOUT,
                detail: self.exabgp.log_tail(20),
            }),
        }
    }

    /// Sends a NOTIFICATION Cease with this subcode to the neighbor and closes the session.
    pub fn teardown(&self, neighbor: IpAddr, subcode: u8) -> Result<()> {
        self.send(&format!("neighbor {neighbor} teardown {subcode}"))
    }

    /// The JSON events ExaBGP reported so far, in order.
    pub fn events(&self) -> Result<Vec<Value>> {
        let text = std::fs::read_to_string(self.path("events.jsonl"))
            .map_err(|e| Error::io("reading the ExaBGP events", e))?;
        complete_lines(&text)
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| Error::parse("an ExaBGP event", format!("{e}: {l}"))))
            .collect()
    }

    /// The API command for a route.
    pub fn route_command(verb: &str, route: &Route) -> Result<String> {
        let mut c = format!("{verb} route {}", route.prefix);
        match route.family {
            Family::Ipv4Unicast | Family::Ipv6Unicast => {}
            Family::Vpnv4 | Family::Vpnv6 => {
                let (Some(rd), Some(label)) = (route.rd, route.label) else {
                    return Err(Error::Config(format!(
                        "VPN route {} needs an RD and a label",
                        route.key()
                    )));
                };
                let _ = write!(c, " rd {rd} label {label}");
            }
            Family::Evpn | Family::Rtc => {
                return Err(Error::Unsupported {
                    peer: "ExaBGP",
                    what: format!("originate {} routes through this harness", route.family),
                });
            }
        }
        match route.next_hop {
            Some(nh) => {
                let _ = write!(c, " next-hop {nh}");
            }
            None => c += " next-hop self",
        }
        if verb == "withdraw" {
            return Ok(c);
        }
        if !route.communities.is_empty() {
            let cs: Vec<String> = route.communities.iter().map(|x| x.to_string()).collect();
            let _ = write!(c, " community [ {} ]", cs.join(" "));
        }
        if !route.ext_communities.is_empty() {
            let cs: Vec<String> = route
                .ext_communities
                .iter()
                .map(|x| format!("0x{:016x}", x.to_u64()))
                .collect();
            let _ = write!(c, " extended-community [ {} ]", cs.join(" "));
        }
        for a in &route.raw_attributes {
            let payload: String = a.value.iter().map(|b| format!("{b:02x}")).collect();
            let _ = write!(c, " attribute [ {:#04x} {:#04x} 0x{payload} ]", a.code, a.flags);
        }
        Ok(c)
    }
}

/// The lines of a file another process appends to, without a last line still being written.
fn complete_lines(text: &str) -> impl Iterator<Item = &str> {
    let done = text.rfind('\n').map_or("", |i| &text[..i]);
    done.lines()
}

fn nlri_family(name: &str) -> Option<Family> {
    Family::ALL.into_iter().find(|f| family_name(*f) == name)
}

/// A route from one NLRI object of an ExaBGP update (attributes filled by the caller).
fn parse_nlri(family: Family, n: &Value) -> Result<Option<Route>> {
    let bad = |e: String| Error::parse(format!("ExaBGP {family} NLRI"), format!("{e}: {n}"));
    let mut r = match family {
        Family::Evpn => {
            if n["code"].as_u64() != Some(5) {
                return Ok(None);
            }
            let prefix: IpNet = format!("{}/{}", n["ip"].as_str().unwrap_or_default(), n["iplen"])
                .parse()
                .map_err(|e| bad(format!("{e}")))?;
            let mut r = Route::unicast(prefix);
            // "label": [[label, raw 24 bits]]: the VNI is the raw field.
            r.label = n["label"][0]
                .as_array()
                .and_then(|l| l.last())
                .and_then(Value::as_u64)
                .map(|v| v as u32);
            r
        }
        _ => {
            let s = n
                .as_str()
                .or(n["nlri"].as_str())
                .ok_or_else(|| bad("no prefix".into()))?;
            let mut r = Route::unicast(s.parse().map_err(|e| bad(format!("{e}")))?);
            r.label = n["label"][0][0].as_u64().map(|v| v as u32);
            r
        }
    };
    r.family = family;
    if let Some(rd) = n["rd"].as_str() {
        r.rd = Some(rd.parse().map_err(bad)?);
    }
    Ok(Some(r))
}

/// Replays ExaBGP's events into the routes held now, per neighbor.
pub fn replay(events: &[Value], family: Family) -> Result<Vec<Route>> {
    let mut rib: Vec<Route> = Vec::new();
    for e in events {
        let neighbor = &e["neighbor"];
        let Some(peer) = neighbor["address"]["peer"]
            .as_str()
            .and_then(|s| s.parse::<IpAddr>().ok())
        else {
            continue;
        };
        match e["type"].as_str() {
            Some("state") if neighbor["state"].as_str() == Some("down") => rib.retain(|r| r.from != Some(peer)),
            Some("update") => {
                let update = &neighbor["message"]["update"];
                for (fam, items) in update["withdraw"].as_object().into_iter().flatten() {
                    if nlri_family(fam) != Some(family) {
                        continue;
                    }
                    for n in items.as_array().into_iter().flatten() {
                        if let Some(w) = parse_nlri(family, n)? {
                            rib.retain(|r| !(r.from == Some(peer) && r.same_nlri(&w)));
                        }
                    }
                }
                let attrs = &update["attribute"];
                for (fam, by_next_hop) in update["announce"].as_object().into_iter().flatten() {
                    if nlri_family(fam) != Some(family) {
                        continue;
                    }
                    for (nh, items) in by_next_hop.as_object().into_iter().flatten() {
                        for n in items.as_array().into_iter().flatten() {
                            let Some(mut r) = parse_nlri(family, n)? else { continue };
                            r.from = Some(peer);
                            r.next_hop = nh.parse().ok();
                            apply_attributes(&mut r, attrs);
                            rib.retain(|x| !(x.from == Some(peer) && x.same_nlri(&r)));
                            rib.push(r);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(rib)
}

fn apply_attributes(r: &mut Route, attrs: &Value) {
    fn flatten(v: &Value, out: &mut Vec<u32>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| flatten(x, out)),
            Value::Number(n) => out.extend(n.as_u64().map(|n| n as u32)),
            _ => {}
        }
    }
    flatten(&attrs["as-path"], &mut r.as_path);
    r.communities = attrs["community"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some(Community(c[0].as_u64()? as u16, c[1].as_u64()? as u16)))
        .collect();
    r.ext_communities = attrs["extended-community"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["value"].as_u64().map(ExtCommunity::from_u64))
        .collect();
}

impl Peer for Exabgp {
    fn kind(&self) -> PeerKind {
        PeerKind::Exabgp
    }

    fn netns(&self) -> &str {
        &self.netns
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn pids(&self) -> Vec<u32> {
        self.exabgp.pid().into_iter().collect()
    }

    fn spec(&self) -> &PeerSpec {
        &self.spec
    }

    fn neighbor_state(&self, neighbor: IpAddr) -> Result<NeighborState> {
        self.spec.neighbor_for(neighbor)?;
        let mut state = SessionState::Idle;
        let mut ups = 0;
        for e in self.events()? {
            let n = &e["neighbor"];
            if e["type"].as_str() != Some("state")
                || n["address"]["peer"].as_str().and_then(|s| s.parse::<IpAddr>().ok()) != Some(neighbor)
            {
                continue;
            }
            state = match n["state"].as_str() {
                Some("up") => {
                    ups += 1;
                    SessionState::Established
                }
                Some("connected") => SessionState::OpenSent,
                Some("down") => SessionState::Idle,
                Some(other) => SessionState::Other(other.to_string()),
                None => continue,
            };
        }
        Ok(NeighborState {
            state,
            established_count: Some(ups),
        })
    }

    fn received_routes(&self, family: Family) -> Result<Vec<Route>> {
        replay(&self.events()?, family)
    }

    fn announce(&self, route: &Route) -> Result<()> {
        self.send(&Exabgp::route_command("announce", route)?)
    }

    fn withdraw(&self, route: &Route) -> Result<()> {
        self.send(&Exabgp::route_command("withdraw", route)?)
    }

    fn logs(&self, lines: usize) -> String {
        format!("--- exabgp.log\n{}", self.exabgp.log_tail(lines))
    }

    fn stop(&mut self) -> Result<()> {
        let r = self.exabgp.stop();
        // ExaBGP stops its helper; should it have been killed instead, the helper leaves when
        // its stdin closes. Make sure, by its PID, if it is still ours (its command line names
        // our directory).
        if let Ok(pid) = std::fs::read_to_string(self.path("api.pid"))
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&*self.dir.path().to_string_lossy()))
                .unwrap_or(false);
            if ours {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
        r
    }
}

impl Drop for Exabgp {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AdminValue, RawAttribute};

    #[test]
    fn commands() {
        let r = Route::vpnv4(AdminValue::as2(64512, 1), "198.51.100.64/26".parse().unwrap(), 102)
            .with_route_target(AdminValue::as2(64512, 100))
            .with_raw_attribute(RawAttribute {
                flags: 0xc0,
                code: 0x10,
                value: vec![1, 2],
            });
        assert_eq!(
            Exabgp::route_command("announce", &r).unwrap(),
            "announce route 198.51.100.64/26 rd 64512:1 label 102 next-hop self \
             extended-community [ 0x0002fc0000000064 ] attribute [ 0x10 0xc0 0x0102 ]"
        );
        assert_eq!(
            Exabgp::route_command("withdraw", &r).unwrap(),
            "withdraw route 198.51.100.64/26 rd 64512:1 label 102 next-hop self"
        );
    }

    #[test]
    fn half_written_lines_wait() {
        assert_eq!(complete_lines("a\nb\nc").collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(complete_lines("a\n").collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(complete_lines("abc").count(), 0);
    }

    #[test]
    fn replays_updates() {
        let lines = [
            r#"{"type":"state","neighbor":{"address":{"local":"192.0.2.1","peer":"192.0.2.2"},"state":"up"}}"#,
            r#"{"type":"update","neighbor":{"address":{"local":"192.0.2.1","peer":"192.0.2.2"},"message":{"update":{"attribute":{"origin":"incomplete","as-path":[64512],"extended-community":[{"value":840026883621064,"string":"target:64512:200"},{"value":219550481834311688,"string":"encap:VXLAN"},{"value":433192188180955138,"string":""}]},"announce":{"l2vpn evpn":{"192.0.2.2":[{"code":5,"rd":"64512:2","ethernet-tag":0,"label":[[631,10100]],"ip":"203.0.113.0","iplen":24,"gateway":"0.0.0.0"}]}}}}}}"#,
            r#"{"type":"update","neighbor":{"address":{"local":"192.0.2.1","peer":"192.0.2.2"},"message":{"update":{"attribute":{"as-path":[64512],"community":[[64512,7]]},"announce":{"ipv4 mpls-vpn":{"192.0.2.2":[{"nlri":"198.51.100.0/24","label":[[100]],"rd":"64512:1"}]}}}}}}"#,
        ];
        let events: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let evpn = replay(&events, Family::Evpn).unwrap();
        assert_eq!(evpn.len(), 1);
        assert_eq!(evpn[0].label, Some(10100));
        assert_eq!(evpn[0].router_mac(), Some("02:00:00:00:00:02".parse().unwrap()));
        assert_eq!(evpn[0].encapsulation(), Some(8));
        let vpn = replay(&events, Family::Vpnv4).unwrap();
        assert_eq!(vpn[0].label, Some(100));
        assert_eq!(vpn[0].communities, vec![Community(64512, 7)]);
        let withdraw = r#"{"type":"update","neighbor":{"address":{"peer":"192.0.2.2"},"message":{"update":{"withdraw":{"ipv4 mpls-vpn":[{"nlri":"198.51.100.0/24","label":[[100]],"rd":"64512:1"}]}}}}}"#;
        let mut more = events.clone();
        more.push(serde_json::from_str(withdraw).unwrap());
        assert!(replay(&more, Family::Vpnv4).unwrap().is_empty());
        let down = r#"{"type":"state","neighbor":{"address":{"peer":"192.0.2.2"},"state":"down"}}"#;
        let mut gone = events;
        gone.push(serde_json::from_str(down).unwrap());
        assert!(replay(&gone, Family::Evpn).unwrap().is_empty());
    }
}
