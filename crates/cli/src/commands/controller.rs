use anyhow::{Context, Result};
use tracing_subscriber::EnvFilter;
use weft_controller::ControllerConfig;

use crate::args::ControllerArgs;

/// Logs to stderr, coloured only on a terminal.
pub fn init_logging(level: &str) -> Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .with_context(|| format!("--log-level {level:?} is not a log filter; use e.g. info or debug"))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

/// Runs the controller in the foreground until SIGINT or SIGTERM.
pub async fn run(args: ControllerArgs) -> Result<u8> {
    init_logging(&args.log_level)?;
    let mut config = ControllerConfig::new(&args.data_dir, args.listen);
    config.gc_interval = args.gc_interval;
    config.gc_grace = args.gc_grace;
    config.ready_file = args.ready_file;
    config.listen_in = args.listen_in;
    if args.bgp || !args.bgp_listen.is_empty() || args.bgp_netns.is_some() {
        let mut bgp = weft_controller::bgp::BgpConfig::default();
        if !args.bgp_listen.is_empty() {
            bgp.listen = args.bgp_listen;
        }
        bgp.netns = args.bgp_netns;
        config.bgp = Some(bgp);
    }
    weft_controller::run(config, shutdown_signal())
        .await
        .context("controller failed")?;
    Ok(0)
}

pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
