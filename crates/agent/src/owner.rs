//! The owner of the node's state: the controller's view of this node plus what the CNI path has
//! just done, and the only task that reconciles the kernel. Messages in, kernel changes out.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use weft_api::sync::{Change, LocalEndpoint, NodeState};
use weft_dataplane::plan::{self, Diff, Target, node_plan};
use weft_dataplane::services::{self, Nft, Ruleset};
use weft_dataplane::{Kernel, marks, policy};

/// How often the kernel is compared with the plan even when nothing changed: drift repair.
const DRIFT_REPAIR: Duration = Duration::from_secs(20);

pub enum Message {
    /// The controller's whole view; nothing is deleted until `InSync`.
    Snapshot(NodeState),
    /// The controller has sent everything: what the kernel has beyond the state may go.
    InSync,
    Delta(Vec<Change>),
    /// The CNI path made or removed a pod: apply it now, ahead of the controller's echo.
    Upsert(LocalEndpoint, oneshot::Sender<()>),
    Remove(String, oneshot::Sender<()>),
    /// An attachment in progress: its interface must survive a reconciliation.
    Pending {
        interface: String,
        active: bool,
    },
    /// The current state, for CHECK, STATUS and GC.
    Query(oneshot::Sender<NodeState>),
}

#[derive(Clone)]
pub struct OwnerHandle {
    tx: mpsc::Sender<Message>,
    connected: watch::Receiver<bool>,
    connected_tx: std::sync::Arc<watch::Sender<bool>>,
}

impl OwnerHandle {
    pub async fn send(&self, m: Message) {
        // The owner lives as long as the agent; a closed channel means the agent is stopping.
        let _ = self.tx.send(m).await;
    }

    pub async fn upsert(&self, endpoint: LocalEndpoint) {
        let (tx, rx) = oneshot::channel();
        self.send(Message::Upsert(endpoint, tx)).await;
        let _ = rx.await;
    }

    pub async fn remove(&self, key: String) {
        let (tx, rx) = oneshot::channel();
        self.send(Message::Remove(key, tx)).await;
        let _ = rx.await;
    }

    pub async fn state(&self) -> NodeState {
        let (tx, rx) = oneshot::channel();
        self.send(Message::Query(tx)).await;
        rx.await.unwrap_or_default()
    }

    /// Whether the sync stream from the controller is up.
    pub fn connected(&self) -> bool {
        *self.connected.borrow()
    }

    pub fn set_connected(&self, up: bool) {
        self.connected_tx.send_replace(up);
    }
}

pub struct Owner {
    kernel: Kernel,
    state: NodeState,
    /// Set once the controller has sent a complete state since the agent started; before that,
    /// nothing is deleted (an agent restarted while the controller is away keeps everything).
    in_sync: bool,
    pending: BTreeSet<String>,
    rx: mpsc::Receiver<Message>,
    /// What Weft's nftables table holds, when known (the last ruleset applied with removals):
    /// a change is then computed without reading a large table back. `None`: read it.
    nft_table: Option<Option<Ruleset>>,
}

impl Owner {
    pub fn new(kernel: Kernel, node: String) -> (Owner, OwnerHandle) {
        let (tx, rx) = mpsc::channel(256);
        let (connected_tx, connected) = watch::channel(false);
        let owner = Owner {
            kernel,
            state: NodeState {
                node,
                ..Default::default()
            },
            in_sync: false,
            pending: BTreeSet::new(),
            rx,
            nft_table: None,
        };
        (
            owner,
            OwnerHandle {
                tx,
                connected,
                connected_tx: std::sync::Arc::new(connected_tx),
            },
        )
    }

    pub async fn run(mut self) {
        let mut drift = tokio::time::interval(DRIFT_REPAIR);
        drift.tick().await;
        loop {
            tokio::select! {
                message = self.rx.recv() => match message {
                    Some(first) => {
                        // Take whatever else is queued: one reconciliation serves them all.
                        let mut batch = vec![first];
                        while batch.len() < 256 {
                            match self.rx.try_recv() {
                                Ok(m) => batch.push(m),
                                Err(_) => break,
                            }
                        }
                        self.process(batch).await;
                    }
                    None => return,
                },
                _ = drift.tick() => {
                    // Drift repair reads nftables back instead of trusting the last ruleset.
                    self.nft_table = None;
                    self.reconcile().await
                }
            }
        }
    }

    /// Applies a batch of messages to the state, then reconciles once if the state changed (the
    /// controller's echo of what the CNI path just did changes nothing and costs nothing).
    async fn process(&mut self, batch: Vec<Message>) {
        let before = self.state.clone();
        let mut force = false;
        let mut sweep = false;
        let mut waiting = Vec::new();
        for message in batch {
            match message {
                Message::Snapshot(state) => {
                    self.state = state;
                    force = true;
                }
                Message::InSync => {
                    self.in_sync = true;
                    force = true;
                    sweep = true;
                }
                Message::Delta(changes) => self.state.apply(&changes),
                Message::Upsert(endpoint, done) => {
                    // The interface is up now: its routes may go in.
                    if let Some(interface) = &endpoint.host_interface {
                        self.pending.remove(interface);
                    }
                    self.state.endpoints.insert(endpoint.key(), endpoint);
                    force = true;
                    waiting.push(done);
                }
                Message::Remove(key, done) => {
                    self.state.endpoints.remove(&key);
                    waiting.push(done);
                }
                Message::Pending { interface, active } => {
                    if active {
                        self.pending.insert(interface);
                    } else {
                        self.pending.remove(&interface);
                    }
                }
                Message::Query(reply) => {
                    let _ = reply.send(self.state.clone());
                }
            }
        }
        if force || self.state != before {
            self.reconcile().await;
            self.forget_departed_flows(&before).await;
        }
        if sweep {
            self.remove_stale_interfaces().await;
        }
        for done in waiting {
            let _ = done.send(());
        }
    }

    /// Makes the kernel match the plan; before the first in-sync, only adds and replaces.
    async fn reconcile(&mut self) {
        self.reconcile_routes().await;
        self.reconcile_services().await;
    }

    /// Weft's nftables table (Services and NetworkPolicy, one transaction), after the routes it
    /// relies on. `nft` runs on a blocking thread: a large table takes a while.
    async fn reconcile_services(&mut self) {
        let desired = policy::table(&self.state);
        if self.nft_table.as_ref() == Some(&desired) {
            return;
        }
        let nft = Nft::new(self.kernel.clone());
        let known = self.nft_table.take();
        let removals = self.in_sync;
        let wanted = desired.clone();
        let result = tokio::task::spawn_blocking(move || nft.sync(wanted.as_ref(), known.as_ref(), removals)).await;
        match result {
            Ok(Ok(applied)) => {
                if applied.commands > 0 {
                    tracing::debug!(
                        commands = applied.commands,
                        rebuilt = applied.rebuilt,
                        "nftables updated"
                    );
                }
                // Without removals the table may hold more than asked: read it next time.
                self.nft_table = removals.then_some(desired);
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot program Services and NetworkPolicy (nftables); retried at the next reconciliation")
            }
            Err(e) => tracing::error!(error = %e, "the nftables task failed"),
        }
    }

    /// UDP and SCTP flows to endpoints that just left a Service would keep going to them (their
    /// conntrack entries live as long as they keep sending): forgotten, their next packet picks
    /// a live endpoint.
    async fn forget_departed_flows(&self, before: &NodeState) {
        let departed = services::conntrack::departed(before, &self.state);
        if departed.is_empty() {
            return;
        }
        let kernel = self.kernel.clone();
        match tokio::task::spawn_blocking(move || services::conntrack::forget(&kernel, &departed)).await {
            Ok(Ok(n)) if n > 0 => tracing::debug!(flows = n, "forgot flows to departed endpoints"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot forget flows to departed endpoints"),
            Err(e) => tracing::warn!(error = %e, "the conntrack task failed"),
        }
    }

    async fn reconcile_routes(&mut self) {
        let desired = node_plan(&self.state);
        let observed = match self.kernel.observe().await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the kernel's state");
                return;
            }
        };
        let mut diff = plan::diff(&desired, &observed);
        if !self.in_sync {
            diff = Diff {
                delete_rules: Vec::new(),
                delete_routes: Vec::new(),
                delete_neighbours: Vec::new(),
                ..diff
            };
        }
        // Routes, rules and neighbours through a pod interface still being made wait for it:
        // the ADD in progress programs them once the interface is up.
        if !self.pending.is_empty() {
            let pending = &self.pending;
            diff.set_routes
                .retain(|(_, t)| !matches!(t, Target::Device { dev } if pending.contains(dev)));
            diff.add_rules.retain(|r| !pending.contains(&r.iif));
            diff.set_neighbours.retain(|((dev, _), _)| !pending.contains(dev));
        }
        if diff.is_empty() {
            return;
        }
        tracing::debug!(changes = diff.len(), "reconciling");
        match self.kernel.apply(&diff).await {
            Ok(failures) => {
                for f in failures {
                    tracing::warn!(error = %f, "kernel change failed; retried at the next reconciliation");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot change the kernel"),
        }
    }

    /// Pod interfaces that no endpoint explains (a pod deleted while the agent was down).
    async fn remove_stale_interfaces(&mut self) {
        let Ok(names) = self.kernel.link_names().await else {
            return;
        };
        let expected: BTreeSet<String> = self
            .state
            .endpoints
            .values()
            .map(|e| {
                e.host_interface
                    .clone()
                    .unwrap_or_else(|| marks::pod_interface(&e.container_id, &e.interface))
            })
            .chain(self.pending.iter().cloned())
            .collect();
        for (index, name) in names {
            if name.starts_with(marks::POD_INTERFACE_PREFIX) && !expected.contains(&name) {
                tracing::info!(interface = %name, "removing a pod interface no endpoint explains");
                if let Err(e) = self.kernel.handle.link().del(index).execute().await {
                    tracing::warn!(interface = %name, error = %e, "cannot remove it");
                }
            }
        }
    }
}
