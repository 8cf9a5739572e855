//! The BGP speaker benchmark of issue #4, bgperf's method run natively in network namespaces.
//!
//! A generator brings up N eBGP peers, each announcing P unique prefixes (IPv4 unicast or
//! VPNv4) to the target; the target runs its decision process and advertises to a monitor, an
//! eBGP peer that only listens. Measured: the time from the first prefix seen at the monitor
//! until all N x P are there (and stay), then optionally the time to withdraw them all, and the
//! target's peak RSS and CPU time. Targets: Weft (`weft controller --bgp`, configured through its
//! API), FRR bgpd, BIRD 2 and gobgpd.
//!
//! Generator and monitor are written on `weft-bgp`'s codec: every UPDATE is encoded before the
//! clock starts, densely packed, and each peer only writes bytes, so the generator is not what
//! is measured. Everything runs in three namespaces made for the run (target, generators,
//! monitor) and removed afterwards.

pub mod generator;
pub mod monitor;
pub mod net;
pub mod run;
pub mod session;
pub mod target;

pub use run::{Outcome, Scenario, run};
pub use target::TargetKind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
    #[error("BGP: {0}")]
    Bgp(String),
    #[error("{target}: {source}")]
    Peer {
        target: &'static str,
        #[source]
        source: weft_peers::Error,
    },
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Set from a signal handler: every wait of a run checks it and gives up, so that the run's
/// processes and namespaces are removed on Ctrl-C.
pub static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(crate) fn interrupted() -> Result<()> {
    if INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed) {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}
