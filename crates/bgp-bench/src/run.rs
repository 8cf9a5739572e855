//! One run: network, generator, monitor, target; load, then optionally withdraw-all; the
//! target's time, memory and CPU.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use weft_bgp::family::Family;

use crate::generator::{self, Generators};
use crate::monitor::Monitor;
use crate::net::BenchNet;
use crate::target::{self, TargetKind, WeftLaunch};
use crate::{Error, Result, interrupted};

#[derive(Debug, Clone)]
pub struct Scenario {
    pub target: TargetKind,
    pub peers: usize,
    pub prefixes: usize,
    pub family: Family,
    /// After the load, withdraw everything and time that too.
    pub withdraw: bool,
    /// For the whole run, setup included.
    pub timeout: Duration,
    /// How long the monitor's table must stay unchanged to count as converged.
    pub stable: Duration,
    /// Names of the run's namespaces start with this (unique per run).
    pub ns_prefix: String,
    pub weft: WeftLaunch,
}

/// What a run measured. Times in seconds; `None` where the run did not get that far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub target: String,
    pub family: String,
    pub peers: usize,
    pub prefixes: usize,
    /// "ok", "timeout" or "error".
    pub status: String,
    pub error: Option<String>,
    /// From starting the target until every session was established.
    pub establish_s: Option<f64>,
    /// From the first prefix at the monitor until the last of the N x P arrived.
    pub load_s: Option<f64>,
    /// From the generators' first write until the last prefix arrived.
    pub load_from_send_s: Option<f64>,
    /// From the first withdrawal at the monitor until its table was empty.
    pub withdraw_s: Option<f64>,
    pub withdraw_from_send_s: Option<f64>,
    /// The target's CPU time (user + system) during the load and during the withdrawal.
    pub cpu_load_s: Option<f64>,
    pub cpu_withdraw_s: Option<f64>,
    /// Peak resident memory (VmHWM) of the target process, KiB, read while it runs.
    pub rss_peak_kib: Option<u64>,
    /// The monitor's routes when the run ended.
    pub monitor_routes: usize,
    pub monitor_updates: u64,
    /// Octets the generators received from the target (it should send them nothing).
    pub generator_rx_bytes: u64,
}

/// utime + stime of a process, in seconds (`/proc/PID/stat`, in USER_HZ = 100 ticks a second).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces: fields count from after its closing parenthesis.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// VmHWM of a process, KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn family_name(f: Family) -> &'static str {
    if f == Family::Vpnv4 { "vpnv4" } else { "ipv4" }
}

/// Runs one scenario. Setup failures are `Err`; a target that fails or is too slow gives an
/// `Outcome` with status "error" or "timeout".
pub fn run(s: &Scenario, progress: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let started = Instant::now();
    let deadline = started + s.timeout;
    let mut out = Outcome {
        target: s.target.name().into(),
        family: family_name(s.family).into(),
        peers: s.peers,
        prefixes: s.prefixes,
        status: "ok".into(),
        ..Outcome::default()
    };
    let net = BenchNet::new(&s.ns_prefix, s.peers)?;
    let gens = Generators::start(&net.generators, s.peers, s.family)?;
    let monitor = Monitor::start(&net.monitor, s.family)?;
    progress(&format!(
        "encoding {} x {} {} prefixes",
        s.peers, s.prefixes, out.family
    ));
    let (announce, withdraw) = encode_all(s)?;
    let updates: usize = announce.iter().map(|(_, n)| n).sum();
    let announce: Vec<Arc<Vec<u8>>> = announce.into_iter().map(|(b, _)| Arc::new(b)).collect();
    progress(&format!(
        "{} UPDATEs, {:.1} MB; starting {}",
        updates,
        announce.iter().map(|b| b.len()).sum::<usize>() as f64 / 1e6,
        s.target.name()
    ));
    let t0 = Instant::now();
    let mut target = target::start(s.target, &net, s.peers, s.family, &s.weft)?;
    let result = measure(
        s,
        &mut out,
        &gens,
        &monitor,
        &mut target,
        &announce,
        &withdraw,
        t0,
        deadline,
        progress,
    );
    if let Some(pid) = target.pid {
        out.rss_peak_kib = peak_rss_kib(pid);
    }
    if let Ok(t) = monitor.table.lock() {
        out.monitor_routes = t.len();
        out.monitor_updates = t.updates;
    }
    out.generator_rx_bytes = gens.received.load(std::sync::atomic::Ordering::Relaxed);
    match result {
        Ok(()) => {}
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(Error::Setup(e)) if e == "timeout" => {
            out.status = "timeout".into();
            out.error = Some(format!("no convergence within {:?}", s.timeout));
        }
        Err(e) => {
            out.status = "error".into();
            let mut msg = e.to_string();
            for extra in gens.errors().into_iter().take(3).chain(monitor.errors()) {
                msg += &format!("; {extra}");
            }
            msg += &format!("\n{}", target.log_tail());
            out.error = Some(msg);
        }
    }
    drop(target);
    drop(gens);
    drop(monitor);
    drop(net);
    Ok(out)
}

type Encoded = (Vec<(Vec<u8>, usize)>, Vec<Arc<Vec<u8>>>);
/// One peer's: index, announcements with their UPDATE count, withdrawals.
type PeerBlobs = (usize, (Vec<u8>, usize), Vec<u8>);

/// Every peer's announcements and withdrawals, encoded on all cores.
fn encode_all(s: &Scenario) -> Result<Encoded> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per = s.peers.div_ceil(threads);
    let results: Vec<Result<Vec<PeerBlobs>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t * per..((t + 1) * per).min(s.peers))
                        .map(|i| {
                            let (a, counts) = generator::announcements(i, s.prefixes, s.family)?;
                            let w = if s.withdraw {
                                generator::withdrawals(i, s.prefixes, s.family)?
                            } else {
                                Vec::new()
                            };
                            Ok((i, (a, counts.len()), w))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Setup("encoder panicked".into())))
            })
            .collect()
    });
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    all.sort_by_key(|(i, _, _)| *i);
    Ok(all.into_iter().map(|(_, a, w)| (a, Arc::new(w))).unzip())
}

fn check(gens: &Generators, monitor: &Monitor, target: &mut target::Target, deadline: Instant) -> Result<()> {
    interrupted()?;
    target.check_running()?;
    if let Some(e) = gens
        .errors()
        .into_iter()
        .next()
        .or_else(|| monitor.errors().into_iter().next())
    {
        return Err(Error::Bgp(e));
    }
    if Instant::now() > deadline {
        return Err(Error::Setup("timeout".into()));
    }
    Ok(())
}

/// Waits until the monitor holds `want` routes and nothing changed for `stable`; returns the
/// time of the last change.
fn converge(
    s: &Scenario,
    want: usize,
    gens: &Generators,
    monitor: &Monitor,
    target: &mut target::Target,
    deadline: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<Instant> {
    let mut last_report = Instant::now();
    loop {
        check(gens, monitor, target, deadline)?;
        let (len, last) = {
            let t = monitor.table.lock().map_err(|_| Error::Setup("poisoned".into()))?;
            (t.len(), t.last_change)
        };
        if len == want
            && let Some(last) = last
            && last.elapsed() >= s.stable
        {
            return Ok(last);
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            progress(&format!("monitor has {len} of {want} routes"));
            last_report = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[allow(clippy::too_many_arguments)]
fn measure(
    s: &Scenario,
    out: &mut Outcome,
    gens: &Generators,
    monitor: &Monitor,
    target: &mut target::Target,
    announce: &[Arc<Vec<u8>>],
    withdraw: &[Arc<Vec<u8>>],
    t0: Instant,
    deadline: Instant,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    // Every session up, then a moment for End-of-RIBs and the like.
    loop {
        check(gens, monitor, target, deadline)?;
        if gens.established() == s.peers && monitor.established() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    out.establish_s = Some(t0.elapsed().as_secs_f64());
    progress(&format!(
        "{} sessions established in {:.1}s",
        s.peers + 1,
        t0.elapsed().as_secs_f64()
    ));
    std::thread::sleep(Duration::from_secs(1));
    let cpu0 = target.pid.and_then(cpu_seconds);
    let go = Instant::now();
    gens.send(announce)?;
    let want = s.peers * s.prefixes;
    let last = converge(s, want, gens, monitor, target, deadline, progress)?;
    let first = monitor.table.lock().ok().and_then(|t| t.first_announce).unwrap_or(go);
    out.load_s = Some(last.duration_since(first).as_secs_f64());
    out.load_from_send_s = Some(last.duration_since(go).as_secs_f64());
    let cpu1 = target.pid.and_then(cpu_seconds);
    out.cpu_load_s = cpu0.zip(cpu1).map(|(a, b)| b - a);
    if let Some(pid) = target.pid {
        out.rss_peak_kib = peak_rss_kib(pid);
    }
    progress(&format!("loaded in {:.2}s", out.load_s.unwrap_or_default()));
    if !s.withdraw {
        return Ok(());
    }
    if let Ok(mut t) = monitor.table.lock() {
        t.first_withdraw = None;
    }
    let go = Instant::now();
    gens.send(withdraw)?;
    let last = converge(s, 0, gens, monitor, target, deadline, progress)?;
    let first = monitor.table.lock().ok().and_then(|t| t.first_withdraw).unwrap_or(go);
    out.withdraw_s = Some(last.duration_since(first).as_secs_f64());
    out.withdraw_from_send_s = Some(last.duration_since(go).as_secs_f64());
    let cpu2 = target.pid.and_then(cpu_seconds);
    out.cpu_withdraw_s = cpu1.zip(cpu2).map(|(a, b)| b - a);
    progress(&format!("withdrawn in {:.2}s", out.withdraw_s.unwrap_or_default()));
    Ok(())
}
