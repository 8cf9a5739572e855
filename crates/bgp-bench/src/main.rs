//! `weft-bgp-bench`: one run of the BGP speaker benchmark (see the crate docs and
//! docs/benchmarks.md); prints progress on stderr and the outcome as one JSON line on stdout.
//! `scripts/bench-bgp` runs it for every size and target and prints the table.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use weft_bgp::family::Family;
use weft_bgp_bench::target::WeftLaunch;
use weft_bgp_bench::{INTERRUPTED, Scenario, TargetKind};

#[derive(Parser)]
#[command(about = "One run of the BGP speaker benchmark: N generator peers x P prefixes through a target to a monitor")]
struct Args {
    /// weft, frr, bird or gobgp.
    #[arg(long)]
    target: String,
    /// Generator peers.
    #[arg(long, default_value_t = 10)]
    peers: usize,
    /// Prefixes per generator peer.
    #[arg(long, default_value_t = 100_000)]
    prefixes: usize,
    /// ipv4 or vpnv4.
    #[arg(long, default_value = "ipv4")]
    family: String,
    /// After the load, withdraw everything and time that too.
    #[arg(long)]
    withdraw: bool,
    /// Seconds for the whole run; past it the outcome is "timeout".
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Seconds the monitor's table must stay unchanged to count as converged.
    #[arg(long, default_value_t = 1.0)]
    stable: f64,
    /// Prefix of the run's namespace names (unique per run).
    #[arg(long)]
    ns_prefix: Option<String>,
    /// The weft binary (for --target weft).
    #[arg(long, default_value = "target/release/weft")]
    weft: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let target = TargetKind::parse(&args.target).with_context(|| format!("unknown target {}", args.target))?;
    let family = match args.family.as_str() {
        "ipv4" => Family::Ipv4Unicast,
        "vpnv4" => Family::Vpnv4,
        other => bail!("unknown family {other} (ipv4 or vpnv4)"),
    };
    // Ctrl-C or SIGTERM: the run notices, stops its target and removes its namespaces.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::spawn(move || {
        rt.block_on(async {
            let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            INTERRUPTED.store(true, std::sync::atomic::Ordering::Relaxed);
        })
    });
    let scenario = Scenario {
        target,
        peers: args.peers,
        prefixes: args.prefixes,
        family,
        withdraw: args.withdraw,
        timeout: Duration::from_secs(args.timeout),
        stable: Duration::from_secs_f64(args.stable),
        ns_prefix: args.ns_prefix.unwrap_or_else(|| format!("bgpb{}", std::process::id())),
        weft: WeftLaunch::Binary(args.weft),
    };
    let name = target.name();
    let outcome = weft_bgp_bench::run(&scenario, &mut |msg| eprintln!("    [{name}] {msg}"))?;
    println!("{}", serde_json::to_string(&outcome)?);
    Ok(())
}
