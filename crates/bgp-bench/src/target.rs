//! The targets: Weft's controller with its speaker, FRR bgpd, BIRD 2 and gobgpd, each in the
//! target namespace with the generators and the monitor as eBGP neighbours. Every target gets
//! the same job: import everything, run its decision process, and advertise to the monitor
//! only (the generators' sessions export nothing), with no MRAI delay.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use weft_bgp::family::Family;
use weft_peers::process::{Daemon, in_netns};

use crate::monitor::MONITOR_AS;
use crate::net::{self, BenchNet};
use crate::{Error, Result, generator};

pub const TARGET_AS: u32 = 64512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetKind {
    Weft,
    Frr,
    Bird,
    Gobgp,
}

impl TargetKind {
    pub const ALL: [TargetKind; 4] = [TargetKind::Weft, TargetKind::Frr, TargetKind::Bird, TargetKind::Gobgp];

    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Weft => "weft",
            TargetKind::Frr => "frr",
            TargetKind::Bird => "bird",
            TargetKind::Gobgp => "gobgp",
        }
    }

    pub fn parse(s: &str) -> Option<TargetKind> {
        TargetKind::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// How Weft runs: the `weft` binary (`weft controller --bgp`, what the benchmark measures), or
/// the controller inside this process (the tests; no PID of its own to measure).
#[derive(Debug, Clone)]
pub enum WeftLaunch {
    Binary(PathBuf),
    InProcess,
}

/// A running target; dropping it stops it.
pub struct Target {
    pub kind: TargetKind,
    /// The process to measure (bgpd for FRR).
    pub pid: Option<u32>,
    daemons: Vec<Daemon>,
    weft: Option<InProcessWeft>,
    _dir: tempfile::TempDir,
}

impl Target {
    /// The end of the target's log, for error messages.
    pub fn log_tail(&self) -> String {
        self.daemons
            .iter()
            .map(|d| format!("--- {} ---\n{}", d.name(), d.log_tail(15)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn check_running(&mut self) -> Result<()> {
        let kind = self.kind.name();
        for d in &mut self.daemons {
            d.check_running()
                .map_err(|source| Error::Peer { target: kind, source })?;
        }
        Ok(())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // Daemons stop on drop (SIGTERM by PID, then SIGKILL); the in-process controller here.
        self.weft.take();
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

fn spawn(kind: TargetKind, name: &str, cmd: &mut Command, dir: &Path) -> Result<Daemon> {
    Daemon::spawn(name, cmd, &dir.join(format!("{name}.log"))).map_err(|source| Error::Peer {
        target: kind.name(),
        source,
    })
}

/// Starts `kind` in the target namespace for `peers` generators and the monitor.
pub fn start(kind: TargetKind, bench: &BenchNet, peers: usize, family: Family, weft: &WeftLaunch) -> Result<Target> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("weft-bgp-bench-{}-", kind.name()))
        .tempdir()
        .map_err(|e| Error::io("temporary directory", e))?;
    let d = dir.path().to_path_buf();
    let mut target = Target {
        kind,
        pid: None,
        daemons: Vec::new(),
        weft: None,
        _dir: dir,
    };
    match kind {
        TargetKind::Weft => start_weft(&mut target, &d, bench, peers, family, weft)?,
        TargetKind::Frr => start_frr(&mut target, &d, bench, peers, family)?,
        TargetKind::Bird => start_bird(&mut target, &d, bench, peers, family)?,
        TargetKind::Gobgp => start_gobgp(&mut target, &d, bench, peers, family)?,
    }
    Ok(target)
}

/// (address, AS, exports to it) of every neighbour: generators first, the monitor last.
fn neighbours(peers: usize) -> Vec<(std::net::Ipv4Addr, u32, bool)> {
    (0..peers)
        .map(|i| (net::generator(i), generator::peer_as(i), false))
        .chain(std::iter::once((net::MONITOR, MONITOR_AS, true)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// FRR 8.4: zebra and bgpd as foreground children, bgpd with -n (no FIB install), as weft-peers
// runs them; the generators get `route-map NONE out`.

fn start_frr(t: &mut Target, d: &Path, bench: &BenchNet, peers: usize, family: Family) -> Result<()> {
    let (uid, gid) = frr_ids()?;
    std::os::unix::fs::chown(d, Some(uid), Some(gid)).map_err(|e| Error::io("chown frr", e))?;
    let afi = if family == Family::Vpnv4 {
        "ipv4 vpn"
    } else {
        "ipv4 unicast"
    };
    let mut c = String::from("frr defaults traditional\nhostname bench\nlog stdout warnings\n!\n");
    let _ = writeln!(c, "router bgp {TARGET_AS}\n bgp router-id {}", net::TARGET_MON);
    c += " no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n no bgp network import-check\n";
    for (a, asn, _) in neighbours(peers) {
        let _ = writeln!(
            c,
            " neighbor {a} remote-as {asn}\n neighbor {a} timers connect 5\n neighbor {a} advertisement-interval 0"
        );
    }
    let _ = writeln!(c, " !\n address-family {afi}");
    for (a, _, export) in neighbours(peers) {
        let _ = writeln!(c, "  neighbor {a} activate");
        if !export {
            let _ = writeln!(c, "  neighbor {a} route-map NONE out");
        }
    }
    c += " exit-address-family\n!\nroute-map NONE deny 10\n!\n";
    write(&d.join("bgpd.conf"), &c)?;
    write(&d.join("zebra.conf"), "hostname bench\n")?;
    let ds = d.to_string_lossy().to_string();
    let common = |daemon: &str| -> Command {
        let mut c = in_netns(&bench.target, &format!("/usr/lib/frr/{daemon}"));
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
            &ds,
            "-P",
            "0",
            "--log",
            "stdout",
        ]);
        c
    };
    let mut zebra = spawn(t.kind, "zebra", &mut common("zebra"), d)?;
    let zserv = d.join("zserv.api");
    zebra
        .wait_ready("open its zserv socket", Duration::from_secs(10), || zserv.exists())
        .map_err(|source| Error::Peer { target: "frr", source })?;
    t.daemons.push(zebra);
    let bgpd = spawn(t.kind, "bgpd", common("bgpd").arg("-n"), d)?;
    t.pid = bgpd.pid();
    t.daemons.push(bgpd);
    Ok(())
}

fn frr_ids() -> Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| Error::io("reading /etc/passwd", e))?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == "frr")
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| Error::Setup("no user frr: is the frr package installed?".into()))
}

// ---------------------------------------------------------------------------------------------
// BIRD 2: one BGP protocol per neighbour, `export none` towards the generators.

fn start_bird(t: &mut Target, d: &Path, bench: &BenchNet, peers: usize, family: Family) -> Result<()> {
    let mut c = format!(
        "log stderr {{ warning, error, fatal }};\nrouter id {};\nprotocol device {{ scan time 10; }}\n",
        net::TARGET_MON
    );
    if family == Family::Vpnv4 {
        c += "vpn4 table vpntab4;\n";
    }
    for (n, (a, asn, export)) in neighbours(peers).into_iter().enumerate() {
        let local = if a == net::MONITOR {
            net::TARGET_MON
        } else {
            net::TARGET_GEN
        };
        let exp = if export { "all" } else { "none" };
        let channel = if family == Family::Vpnv4 {
            format!("vpn4 mpls {{ table vpntab4; import all; export {exp}; }};")
        } else {
            format!("ipv4 {{ import all; export {exp}; }};")
        };
        let _ = writeln!(
            c,
            "protocol bgp p{n} {{\n  local {local} as {TARGET_AS};\n  neighbor {a} as {asn};\n  connect retry time 5;\n  {channel}\n}}"
        );
    }
    let conf = d.join("bird.conf");
    write(&conf, &c)?;
    let ctl = d.join("bird.ctl");
    let mut cmd = in_netns(&bench.target, "bird");
    cmd.arg("-f").arg("-c").arg(&conf).arg("-s").arg(&ctl);
    let mut bird = spawn(t.kind, "bird", &mut cmd, d)?;
    bird.wait_ready("open its control socket", Duration::from_secs(10), || ctl.exists())
        .map_err(|source| Error::Peer { target: "bird", source })?;
    t.pid = bird.pid();
    t.daemons.push(bird);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// GoBGP: a global export policy rejecting every route towards the generators.

fn start_gobgp(t: &mut Target, d: &Path, bench: &BenchNet, peers: usize, family: Family) -> Result<()> {
    let afi = if family == Family::Vpnv4 {
        "l3vpn-ipv4-unicast"
    } else {
        "ipv4-unicast"
    };
    let mut c = format!(
        "[global.config]\n  as = {TARGET_AS}\n  router-id = \"{}\"\n  port = 179\n  local-address-list = [\"{}\", \"{}\"]\n",
        net::TARGET_MON,
        net::TARGET_GEN,
        net::TARGET_MON
    );
    // Outside route-server mode GoBGP applies only global policies; in an export policy the
    // neighbor set matches the peer a route is sent to.
    c += "[global.apply-policy.config]\n  export-policy-list = [\"no-generators\"]\n  default-export-policy = \"accept-route\"\n";
    c += "\n[[defined-sets.neighbor-sets]]\n  neighbor-set-name = \"generators\"\n  neighbor-info-list = [\"198.18.0.0/24\"]\n";
    c += "\n[[policy-definitions]]\n  name = \"no-generators\"\n  [[policy-definitions.statements]]\n    name = \"reject\"\n    [policy-definitions.statements.conditions.match-neighbor-set]\n      neighbor-set = \"generators\"\n    [policy-definitions.statements.actions]\n      route-disposition = \"reject-route\"\n";
    for (a, asn, _) in neighbours(peers) {
        let _ = write!(
            c,
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{a}\"\n    peer-as = {asn}\n  [neighbors.timers.config]\n    connect-retry = 5\n  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{afi}\"\n"
        );
    }
    let conf = d.join("gobgpd.toml");
    write(&conf, &c)?;
    let mut cmd = in_netns(&bench.target, "gobgpd");
    cmd.arg("-f").arg(&conf);
    cmd.args([
        "-t",
        "toml",
        "-p",
        "-l",
        "warn",
        "--pprof-disable",
        "--api-hosts=127.0.0.1:50051",
    ]);
    let gobgpd = spawn(t.kind, "gobgpd", &mut cmd, d)?;
    t.pid = gobgpd.pid();
    t.daemons.push(gobgpd);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Weft: the controller with --bgp, its speaker's sockets in the target namespace, configured
// through its API with a Cluster and one BGPPeer per neighbour.

fn weft_objects(peers: usize, family: Family) -> Vec<String> {
    let fam = if family == Family::Vpnv4 {
        "ipv4-vpn"
    } else {
        "ipv4-unicast"
    };
    let mut out = vec![format!(
        "apiVersion: weft.io/v1alpha1\nkind: Cluster\nmetadata: {{name: bench}}\nspec:\n  asn: {TARGET_AS}\n  routerId: {}\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [10.96.0.0/16]\n",
        net::TARGET_MON
    )];
    for (n, (a, asn, export)) in neighbours(peers).into_iter().enumerate() {
        // Towards the generators: only routes carrying a route target no route has, i.e. none.
        let policy = if export {
            String::new()
        } else {
            "  exportPolicy: {routeTargets: [\"65535:65535\"]}\n".to_string()
        };
        out.push(format!(
            "apiVersion: weft.io/v1alpha1\nkind: BGPPeer\nmetadata: {{name: p{n}}}\nspec:\n  address: {a}\n  asn: {asn}\n  families: [{fam}]\n  holdTime: 240\n{policy}"
        ));
    }
    out
}

struct InProcessWeft {
    rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for InProcessWeft {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), done).await });
        }
    }
}

fn wait_file(path: &Path, timeout: Duration, mut alive: impl FnMut() -> Result<()>) -> Result<String> {
    let until = Instant::now() + timeout;
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && !s.trim().is_empty()
        {
            return Ok(s.trim().to_string());
        }
        alive()?;
        crate::interrupted()?;
        if Instant::now() > until {
            return Err(Error::Setup(format!("{} did not appear", path.display())));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_weft(
    t: &mut Target,
    d: &Path,
    bench: &BenchNet,
    peers: usize,
    family: Family,
    launch: &WeftLaunch,
) -> Result<()> {
    let ready = d.join("ready");
    let netns = BenchNet::path(&bench.target);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    let url = match launch {
        WeftLaunch::Binary(bin) => {
            let mut cmd = Command::new(bin);
            cmd.arg("controller")
                .arg("--data-dir")
                .arg(d.join("data"))
                .args(["--listen", "127.0.0.1:0", "--bgp", "--bgp-netns", &netns])
                .arg("--ready-file")
                .arg(&ready);
            let mut daemon = spawn(t.kind, "weft", &mut cmd, d)?;
            let url = wait_file(&ready, Duration::from_secs(20), || {
                daemon
                    .check_running()
                    .map_err(|source| Error::Peer { target: "weft", source })
            })?;
            t.pid = daemon.pid();
            t.daemons.push(daemon);
            url
        }
        WeftLaunch::InProcess => {
            let mut config =
                weft_controller::ControllerConfig::new(d.join("data"), std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
            config.ready_file = Some(ready.clone());
            config.bgp = Some(weft_controller::bgp::BgpConfig {
                netns: Some(netns.into()),
                ..weft_controller::bgp::BgpConfig::default()
            });
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let done = rt.spawn(async move {
                let r = weft_controller::run(config, async move {
                    let _ = stopped.await;
                })
                .await;
                if let Err(e) = r {
                    eprintln!("weft controller: {e}");
                }
            });
            let url = wait_file(&ready, Duration::from_secs(20), || Ok(()))?;
            t.weft = Some(InProcessWeft {
                rt,
                stop: Some(stop),
                done: Some(done),
            });
            return apply_weft(t.weft.as_ref().map(|w| &w.rt), &url, peers, family);
        }
    };
    apply_weft(Some(&rt), &url, peers, family)
}

fn apply_weft(rt: Option<&tokio::runtime::Runtime>, url: &str, peers: usize, family: Family) -> Result<()> {
    let rt = rt.ok_or_else(|| Error::Setup("no runtime".into()))?;
    let client = weft_client::Client::new(url).map_err(|e| Error::Setup(format!("weft client: {e}")))?;
    for text in weft_objects(peers, family) {
        let resource = weft_api::manifest::parse(&text, "bench")
            .map_err(|e| Error::Setup(format!("manifest: {e}")))?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Setup("empty manifest".into()))?;
        rt.block_on(client.apply(&resource, false))
            .map_err(|e| Error::Setup(format!("weft apply: {e}")))?;
    }
    Ok(())
}
