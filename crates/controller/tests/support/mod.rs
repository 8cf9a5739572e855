//! A controller run inside the test process: its API on the host's loopback, its BGP speaker's
//! sockets in a network namespace of the test's; stopped (speaker included) on drop.

#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use weft_api::sync::{NodeState, SyncMessage};
use weft_api::wire::BgpPeerInfo;
use weft_api::{Resource, manifest};
use weft_client::Client;
use weft_controller::ControllerConfig;
use weft_controller::bgp::BgpConfig;

pub fn parse(yaml: &str) -> Resource {
    manifest::parse(yaml, "-").unwrap_or_else(|e| panic!("{e}")).remove(0)
}

/// How long a BGP session may take to come up.
pub const ESTABLISH: Duration = Duration::from_secs(60);

pub struct Controller {
    pub rt: tokio::runtime::Runtime,
    pub client: Client,
    /// The API's base URL.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Controller {
    /// A controller with BGP, its speaker's sockets in namespace `netns`.
    pub fn start(netns: &str) -> Controller {
        Controller::start_with(Some(netns))
    }

    /// With `bgp_netns`, a controller with BGP, its speaker's sockets in that namespace;
    /// without, one without BGP.
    pub fn start_with(bgp_netns: Option<&str>) -> Controller {
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
        config.bgp = bgp_netns.map(|netns| BgpConfig {
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
            url: url.trim().to_string(),
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

    /// The speaker's session with `address`, if configured.
    pub fn peer(&self, address: IpAddr) -> Option<BgpPeerInfo> {
        self.rt
            .block_on(self.client.bgp_peers())
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.address == address)
    }

    /// Polls `f` every 200 ms until it gives a value; panics with `what` after [`ESTABLISH`].
    pub fn wait<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let until = Instant::now() + ESTABLISH;
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(Instant::now() < until, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `GET path`: status, content type, body.
    pub fn get_text(&self, path: &str) -> (u16, Option<String>, String) {
        let url = format!("{}{path}", self.url);
        self.rt.block_on(async {
            let r = reqwest::get(&url).await.expect("a response");
            let status = r.status().as_u16();
            let content_type = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (status, content_type, r.text().await.expect("a body"))
        })
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

/// One sample of a scrape: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Parses the text exposition format (Prometheus / OpenMetrics): `# HELP`, `# TYPE`, `# UNIT`
/// and `# EOF` lines, samples `name{a="x",b="y"} value`. Panics on anything else.
pub fn parse_metrics(text: &str) -> (Vec<(String, String)>, Vec<Sample>) {
    let mut types = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE line {line:?}"));
            types.push((name.to_string(), t.to_string()));
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                let labels = inner
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p
                            .split_once("=\"")
                            .unwrap_or_else(|| panic!("bad label {p:?} in {line:?}"));
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect();
                (name.to_string(), labels)
            }
        };
        samples.push(Sample { name, labels, value });
    }
    (types, samples)
}

/// The value of the sample `name` whose labels include every one of `labels`.
pub fn sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
        })
        .map(|s| s.value)
}
