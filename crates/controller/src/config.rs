use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How a controller runs.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Where the store lives (`weft.redb`).
    pub data_dir: PathBuf,
    /// The API's address.
    pub listen: SocketAddr,
    /// How often allocations whose owner is gone are looked for.
    pub gc_interval: Duration,
    /// How old an allocation must be before it may be collected: an address is allocated just
    /// before its pod object is written, and must not be taken back in between.
    pub gc_grace: Duration,
    /// Written with the API's URL once the controller serves, so that scripts and tests can
    /// wait for readiness and learn the port when `listen` asked for port 0.
    pub ready_file: Option<PathBuf>,
    /// More listeners, each inside a network namespace (path) — the API on an underlay the
    /// controller's own namespace cannot reach.
    pub listen_in: Vec<(PathBuf, SocketAddr)>,
    /// Run the BGP speaker (with the AS and router id of the Cluster object); `None`: off.
    pub bgp: Option<crate::bgp::BgpConfig>,
}

impl ControllerConfig {
    pub const DEFAULT_PORT: u16 = 7420;

    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> ControllerConfig {
        ControllerConfig {
            data_dir: data_dir.into(),
            listen,
            gc_interval: Duration::from_secs(60),
            gc_grace: Duration::from_secs(300),
            ready_file: None,
            listen_in: Vec::new(),
            bgp: None,
        }
    }
}
