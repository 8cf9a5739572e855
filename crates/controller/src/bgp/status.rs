//! BGPPeer.status written back from the speaker, so that `weft get bgppeers -o yaml` and any
//! watcher see the sessions: at once when a session's state, start or last error changes, the
//! prefix counts at most every [`COUNTS_EVERY`]. Only the status is written (the generation
//! stays), and [`SpecChanges`] keeps those writes from reconfiguring the speaker.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use weft_api::{BGPPeer, BGPPeerPrefixes, BGPPeerSpec, BGPPeerStatus, Resource};
use weft_bgp::fsm::Time;
use weft_speaker::PeerStatus;
use weft_store::{Event, EventType};

use super::{BgpView, family_name};
use crate::state::{Command, Handle};

/// How often the speaker is asked.
const POLL: Duration = Duration::from_secs(1);
/// The shortest interval between two writes that change only the prefix counts.
const COUNTS_EVERY: Duration = Duration::from_secs(5);

/// Which BGPPeer and Cluster events mean a new desired state: not a BGPPeer's status written
/// back (same generation as last seen).
#[derive(Default)]
pub(super) struct SpecChanges {
    generations: BTreeMap<String, Option<i64>>,
}

impl SpecChanges {
    pub(super) fn changed(&mut self, event: &Event) -> bool {
        let Resource::BGPPeer(p) = &event.object else {
            return true;
        };
        let name = p.metadata.name.clone().unwrap_or_default();
        if event.kind == EventType::Deleted {
            self.generations.remove(&name);
            return true;
        }
        let generation = p.metadata.generation;
        let same = event.kind == EventType::Modified && self.generations.get(&name) == Some(&generation);
        self.generations.insert(name, generation);
        !same
    }
}

/// Writes the status of every BGPPeer the speaker has a session for, until the task is aborted.
pub(super) async fn status_loop(handle: Handle, view: BgpView) {
    let mut written: BTreeMap<String, (BGPPeerStatus, Instant)> = BTreeMap::new();
    let mut since = EstablishedSince::default();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = handle.closing() => return,
            _ = tick.tick() => {}
        }
        let Some(running) = view.get() else {
            written.clear();
            continue;
        };
        let Ok(peers) = running.speaker.peer_status().await else {
            continue;
        };
        let now = Time::since(running.started, Instant::now());
        for p in &peers {
            let Some(name) = running.names.get(&p.address) else {
                continue;
            };
            let status = status_of(p, since.text(name, p, now));
            let due = match written.get(name) {
                None => true,
                Some((old, at)) => {
                    (
                        old.state.as_ref(),
                        old.established_since.as_ref(),
                        old.last_error.as_ref(),
                    ) != (
                        status.state.as_ref(),
                        status.established_since.as_ref(),
                        status.last_error.as_ref(),
                    ) || (old.prefixes != status.prefixes && at.elapsed() >= COUNTS_EVERY)
                }
            };
            if !due {
                continue;
            }
            let mut object = BGPPeer::new(name, BGPPeerSpec::default());
            object.status = Some(status.clone());
            let resource = Box::new(Resource::BGPPeer(object));
            match handle.call(|reply| Command::WriteStatus { resource, reply }).await {
                Ok(_) => {
                    written.insert(name.clone(), (status, Instant::now()));
                }
                // Deleted meanwhile, most likely: the next pass no longer has it.
                Err(e) => tracing::debug!(peer = %name, error = %e, "BGP: status not written"),
            }
        }
        written.retain(|name, _| running.names.values().any(|n| n == name));
    }
}

fn status_of(p: &PeerStatus, established_since: Option<String>) -> BGPPeerStatus {
    BGPPeerStatus {
        state: Some(p.session.state.to_string()),
        established_since,
        last_error: p.session.last_error.clone(),
        prefixes: p
            .prefixes
            .iter()
            .map(|(family, c)| BGPPeerPrefixes {
                family: family_name(*family).to_string(),
                received: c.received as u64,
                accepted: c.accepted as u64,
                sent: c.sent as u64,
            })
            .collect(),
    }
}

/// The wall-clock time each session reached Established, computed once per session so that it
/// does not move by a second from one poll to the next.
#[derive(Default)]
struct EstablishedSince(BTreeMap<String, (Time, String)>);

impl EstablishedSince {
    fn text(&mut self, name: &str, p: &PeerStatus, now: Time) -> Option<String> {
        let Some(since) = p.session.established_since else {
            self.0.remove(name);
            return None;
        };
        if let Some((t, text)) = self.0.get(name)
            && *t == since
        {
            return Some(text.clone());
        }
        let ago = jiff::SignedDuration::try_from(now.saturating_duration_since(since)).ok()?;
        let at = jiff::Timestamp::now().checked_sub(ago).ok()?;
        let text = at.round(jiff::Unit::Second).ok()?.to_string();
        self.0.insert(name.to_string(), (since, text.clone()));
        Some(text)
    }
}
