//! The two-cloud demo that `weft lab up` builds by default: the manifests of
//! `examples/federation/` applied to each cloud, and pods running the lab's server.

use std::path::Path;

use weft_client::Client;

use crate::LabError;
use crate::pods::{self, PodRef};
use crate::state::LabState;

/// Each cloud's manifests, as in the repository's examples.
pub const MANIFESTS: [(&str, &str); 2] = [
    ("cloud-a", include_str!("../../../examples/federation/cloud-a.yaml")),
    ("cloud-b", include_str!("../../../examples/federation/cloud-b.yaml")),
];

/// The demo's pods: `CLUSTER/NAMESPACE/NAME`, node, and label `app` (what Services select).
pub const PODS: [(&str, &str, &str); 6] = [
    ("cloud-a/frontend/web", "node-1", "web"),
    ("cloud-a/other/db", "node-2", "db"),
    ("cloud-b/backend/api-1", "node-1", "api"),
    ("cloud-b/backend/api-2", "node-2", "api"),
    ("cloud-b/admin/console", "node-1", "console"),
    ("cloud-b/other/db", "node-2", "db"),
];

/// Applies the manifests and starts the pods; `progress` is told each step.
pub async fn populate(root: &Path, state: &LabState, progress: &mut dyn FnMut(&str)) -> Result<(), LabError> {
    for (cluster, text) in MANIFESTS {
        let c = state.cluster(cluster)?;
        let client = Client::new(&c.url).map_err(|e| LabError::Controller {
            cluster: cluster.into(),
            reason: e.to_string(),
        })?;
        let source = format!("examples/federation/{cluster}.yaml");
        let resources = weft_api::manifest::parse(text, &source).map_err(|e| LabError::Usage(e.to_string()))?;
        for r in resources {
            progress(&format!("{cluster}: apply {} (from {source})", r.key()));
            client.apply(&r, false).await.map_err(|e| LabError::Controller {
                cluster: cluster.into(),
                reason: e.to_string(),
            })?;
        }
    }
    for (pod, node, app) in PODS {
        let pod: PodRef = pod.parse()?;
        let made = pods::add(root, &state.name, &pod, node, &[("app".into(), app.into())], &[], true).await?;
        progress(&format!(
            "pod {pod} on {node}: {} (serving HTTP and UDP on port 80)",
            made.addresses.join(", ")
        ));
    }
    Ok(())
}

/// Waits until every controller's BGP sessions are up and each holds every demo pod's routes
/// (its own exports and the other cloud's), so that the first probe shows the steady state.
pub async fn wait_converged(root: &Path, lab: &str, progress: &mut dyn FnMut(&str)) -> Result<(), LabError> {
    let state = LabState::load(&root.join(lab))?.ok_or_else(|| LabError::Usage(format!("lab {lab} is not up")))?;
    let expected: usize = state.pods.iter().map(|p| p.addresses.len()).sum();
    let started = std::time::Instant::now();
    let timeout = std::time::Duration::from_secs(60);
    for c in &state.clusters {
        let client = Client::new(&c.url).map_err(|e| LabError::Controller {
            cluster: c.name.clone(),
            reason: e.to_string(),
        })?;
        loop {
            let peers = client.bgp_peers().await.unwrap_or_default();
            let up = !peers.is_empty() && peers.iter().all(|p| p.state == "Established");
            let routes = client
                .bgp_routes(Some("l2vpn-evpn"))
                .await
                .map(|r| r.len())
                .unwrap_or(0);
            if up && routes >= expected {
                progress(&format!(
                    "{}: BGP established with {}, {routes} EVPN routes",
                    c.name,
                    peers
                        .iter()
                        .map(|p| p.address.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                break;
            }
            if started.elapsed() > timeout {
                return Err(LabError::NotReady(format!(
                    "{}: BGP not converged after {timeout:?} (sessions: {}; {routes} of {expected} EVPN routes); see `weft lab logs {}/controller`",
                    c.name,
                    peers
                        .iter()
                        .map(|p| format!("{} {}", p.address, p.state))
                        .collect::<Vec<_>>()
                        .join(", "),
                    c.name
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    // Then the nodes: the joined pods answer each other across the clouds.
    let find = |id: &str| {
        state
            .pods
            .iter()
            .find(|p| format!("{}/{}/{}", p.cluster, p.namespace, p.name) == id)
            .cloned()
    };
    let pairs = [
        ("cloud-a/frontend/web", "cloud-b/backend/api-1"),
        ("cloud-a/frontend/web", "cloud-b/backend/api-2"),
        ("cloud-b/backend/api-1", "cloud-a/frontend/web"),
        ("cloud-b/backend/api-2", "cloud-a/frontend/web"),
    ];
    for (from, to) in pairs {
        let (Some(f), Some(t)) = (find(from), find(to)) else {
            continue;
        };
        loop {
            let (f2, t2) = (f.clone(), t.clone());
            let ok = tokio::task::spawn_blocking(move || crate::probe::http_reaches(&f2, &t2))
                .await
                .unwrap_or(false);
            if ok {
                break;
            }
            if started.elapsed() > timeout {
                return Err(LabError::NotReady(format!(
                    "{from} does not reach {to} after {timeout:?}; see `weft lab logs`"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    progress("the clouds reach each other: frontend <-> backend over HTTP");
    Ok(())
}
