//! `weft lab`: Weft clusters built on one Linux machine, entirely in network namespaces that the
//! lab creates and removes: per cluster an underlay (a bridge in a namespace of its own), a
//! controller, nodes running `weft agent`, and pods wired by running the real CNI plugin exactly
//! as a container runtime does. Nothing is added to the host's own namespace; the controller
//! serves the CLI on the host's loopback and the agents on the lab's underlay.

mod cmd;
pub mod demo;
mod error;
pub mod pods;
pub mod probe;
mod process;
pub mod serve;
mod state;
pub mod topology;
mod up;
pub mod wan;

pub use error::LabError;
pub use state::{ClusterState, LabState, NodeState, PodState, ProcessState, WanState};
pub use topology::Topology;
pub use up::{Action, Binaries, control, down, up};

/// Where labs keep their files (state, logs, data, sockets): `/run/weft/labs/NAME`.
pub fn default_root() -> std::path::PathBuf {
    std::path::PathBuf::from("/run/weft/labs")
}
