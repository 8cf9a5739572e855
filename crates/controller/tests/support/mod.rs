//! A controller run inside the test process: its API on the host's loopback, its BGP speaker's
//! sockets in a network namespace of the test's; stopped (speaker included) on drop.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use weft_api::sync::{NodeState, SyncMessage};
use weft_api::{Resource, manifest};
use weft_client::Client;
use weft_controller::ControllerConfig;
use weft_controller::bgp::BgpConfig;

pub fn parse(yaml: &str) -> Resource {
    manifest::parse(yaml, "-").unwrap_or_else(|e| panic!("{e}")).remove(0)
}

pub struct Controller {
    pub rt: tokio::runtime::Runtime,
    pub client: Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Controller {
    /// A controller with BGP, its speaker's sockets in namespace `netns`.
    pub fn start(netns: &str) -> Controller {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ready = dir.path().join("ready");
        let listen = "127.0.0.1:0".parse().expect("an address");
        let mut config = ControllerConfig::new(dir.path().join("data"), listen);
        config.ready_file = Some(ready.clone());
        config.bgp = Some(BgpConfig {
            netns: Some(format!("/var/run/netns/{netns}").into()),
            ..BgpConfig::default()
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = rt.spawn(async move {
            weft_controller::run(config, async move {
                let _ = stopped.await;
            })
            .await
            .expect("the controller runs");
        });
        let until = Instant::now() + Duration::from_secs(10);
        let url = loop {
            if let Ok(url) = std::fs::read_to_string(&ready) {
                break url;
            }
            assert!(Instant::now() < until, "the controller did not become ready");
            std::thread::sleep(Duration::from_millis(25));
        };
        Controller {
            client: Client::new(url.trim()).expect("a client"),
            rt,
            stop: Some(stop),
            done: Some(done),
            _dir: dir,
        }
    }

    pub fn apply(&self, r: &Resource) -> Resource {
        let result = self
            .rt
            .block_on(self.client.apply(r, false))
            .unwrap_or_else(|e| panic!("apply {}: {e}", r.key()));
        weft_client::decode(result.object).expect("the stored object")
    }

    pub fn apply_yaml(&self, yaml: &str) -> Resource {
        self.apply(&parse(yaml))
    }

    /// Follows a node's sync stream in the background; the latest state is in the receiver.
    pub fn follow(&self, node: &str) -> tokio::sync::watch::Receiver<NodeState> {
        let (tx, rx) = tokio::sync::watch::channel(NodeState::default());
        let client = self.client.clone();
        let node = node.to_string();
        self.rt.spawn(async move {
            use futures::StreamExt;
            let Ok(stream) = client.sync(&node).await else { return };
            let mut stream = Box::pin(stream);
            let mut state = NodeState::default();
            while let Some(Ok(m)) = stream.next().await {
                match m {
                    SyncMessage::Snapshot { state: s, .. } => state = s,
                    SyncMessage::Delta { changes, .. } => state.apply(&changes),
                    _ => continue,
                }
                if tx.send(state.clone()).is_err() {
                    return;
                }
            }
        });
        rx
    }
}

/// Polls `check` on the latest state until it holds; how long that took.
pub fn wait_for(
    what: &str,
    state: &tokio::sync::watch::Receiver<NodeState>,
    timeout: Duration,
    check: impl Fn(&NodeState) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        if check(&state.borrow()) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < timeout,
            "{what}: not within {timeout:?}; last state: {:#?}",
            state.borrow()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Controller {
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
