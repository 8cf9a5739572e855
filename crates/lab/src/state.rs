//! What a lab holds, written to `lab.json` after every step so that `weft lab down` can undo it
//! all, even after a crash halfway through `up`. Changes go under an exclusive lock.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::topology::Topology;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabState {
    pub name: String,
    pub dir: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<Topology>,
    pub clusters: Vec<ClusterState>,
    pub pods: Vec<PodState>,
    /// The CNI plugin directory (CNI_PATH) and the network config the lab's "runtime" uses.
    #[serde(default)]
    pub cni_path: PathBuf,
    /// The router between the clusters' underlays, when there is more than a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wan: Option<WanState>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WanState {
    pub netns: String,
    /// FRR's daemons on the router (route-server topology).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub daemons: Vec<ProcessState>,
    /// FRR's vty sockets, for `weft lab vtysh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vty_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterState {
    pub name: String,
    pub underlay_netns: String,
    pub controller: ProcessState,
    /// The controller's API on the host's loopback, for the CLI.
    pub url: String,
    /// The controller's API on the underlay, for the agents.
    pub underlay_url: String,
    pub nodes: Vec<NodeState>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeState {
    pub name: String,
    pub netns: String,
    pub address: String,
    pub agent: ProcessState,
    pub socket: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessState {
    pub pid: u32,
    pub netns: String,
    pub log: PathBuf,
    /// How it was started, to start it again (`weft lab restart`).
    #[serde(default)]
    pub program: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    /// Run inside this namespace (`ip netns exec`), or in the host's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_netns: Option<String>,
    /// The file it writes once ready.
    #[serde(default)]
    pub ready_file: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodState {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub node: String,
    pub netns: String,
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
    /// The pod's application, `weft lab serve` (HTTP and UDP echo on port 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_pid: Option<u32>,
}

impl LabState {
    pub fn file(dir: &Path) -> PathBuf {
        dir.join("lab.json")
    }

    /// The lab in `dir`, or `None` if there is none.
    pub fn load(dir: &Path) -> Result<Option<LabState>, LabError> {
        match std::fs::read_to_string(Self::file(dir)) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                LabError::Usage(format!(
                    "{} is damaged ({e}); run `weft lab down` to clean up",
                    Self::file(dir).display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LabError::io(format!("reading {}", Self::file(dir).display()))(e)),
        }
    }

    /// Writes atomically (temporary file and rename).
    pub fn save(&self) -> Result<(), LabError> {
        let path = Self::file(&self.dir);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| LabError::Usage(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(LabError::io(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(LabError::io(format!("writing {}", path.display())))
    }

    pub fn cluster(&self, name: &str) -> Result<&ClusterState, LabError> {
        self.clusters.iter().find(|c| c.name == name).ok_or_else(|| {
            LabError::Usage(format!(
                "no cluster {name:?} in lab {}; clusters: {}",
                self.name,
                self.clusters
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

/// An exclusive lock on a lab's directory, held while its state changes.
pub struct LabLock {
    _lock: Flock<File>,
}

impl LabLock {
    pub fn take(dir: &Path) -> Result<LabLock, LabError> {
        std::fs::create_dir_all(dir).map_err(LabError::io(format!("creating {}", dir.display())))?;
        let path = dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(LabError::io(format!("opening {}", path.display())))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| LabError::io(format!("locking {}", path.display()))(std::io::Error::from(e)))?;
        Ok(LabLock { _lock: lock })
    }
}
