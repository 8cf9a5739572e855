use std::path::PathBuf;

/// How an agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The node's name, as pods' WorkloadEndpoints name it.
    pub node: String,
    /// The controller's URL; the underlay is found from the route towards its address.
    pub controller: String,
    /// The unix socket the CNI plugin connects to.
    pub socket: PathBuf,
    /// The pods' MTU; default: the underlay's minus the VXLAN overhead.
    pub mtu: Option<u32>,
    /// Written with the socket path once the agent serves.
    pub ready_file: Option<PathBuf>,
}
