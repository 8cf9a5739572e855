//! The speaker's Prometheus metrics, read from it at scrape time: per peer the session state,
//! uptime, transitions, messages and prefix counts; per family the Loc-RIB's routes and paths.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family as Labeled;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use weft_bgp::fsm::{State, Time};

use super::{BgpView, family_name};

type Labels = Vec<(String, String)>;

/// RFC 4271 §8.2.2's states as numbers, in the order of the BGP4-MIB (RFC 4273 bgpPeerState).
fn state_number(state: State) -> i64 {
    match state {
        State::Idle => 1,
        State::Connect => 2,
        State::Active => 3,
        State::OpenSent => 4,
        State::OpenConfirm => 5,
        State::Established => 6,
    }
}

impl BgpView {
    /// Adds the speaker's metrics to `registry`: only `bgp_speaker_running 0` when no speaker
    /// runs.
    pub async fn register_metrics(&self, registry: &mut Registry) {
        let running_gauge = Gauge::<i64>::default();
        registry.register(
            "bgp_speaker_running",
            "Whether the BGP speaker runs (--bgp and a Cluster with an AS and router id)",
            running_gauge.clone(),
        );
        let Some(running) = self.get() else {
            return;
        };
        let (Ok(peers), Ok(rib)) = (running.speaker.peer_status().await, running.speaker.rib_counts().await) else {
            return;
        };
        running_gauge.set(1);
        let now = Time::since(running.started, Instant::now());
        let state = Labeled::<Labels, Gauge>::default();
        let uptime = Labeled::<Labels, Gauge<f64, AtomicU64>>::default();
        let transitions = Labeled::<Labels, Counter>::default();
        let [updates_in, updates_out, messages_in, messages_out] =
            std::array::from_fn(|_| Labeled::<Labels, Counter>::default());
        let [received, accepted, sent] = std::array::from_fn(|_| Labeled::<Labels, Gauge>::default());
        for p in &peers {
            let name = running.names.get(&p.address).cloned().unwrap_or_default();
            let peer: Labels = vec![("peer".into(), name), ("address".into(), p.address.to_string())];
            let s = &p.session;
            state.get_or_create(&peer).set(state_number(s.state));
            uptime.get_or_create(&peer).set(
                s.established_since
                    .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64()),
            );
            transitions.get_or_create(&peer).inc_by(s.established_transitions);
            updates_in.get_or_create(&peer).inc_by(s.messages_in.update);
            updates_out.get_or_create(&peer).inc_by(s.messages_out.update);
            messages_in.get_or_create(&peer).inc_by(s.messages_in.total());
            messages_out.get_or_create(&peer).inc_by(s.messages_out.total());
            for (family, c) in &p.prefixes {
                let mut labels = peer.clone();
                labels.push(("family".into(), family_name(*family).into()));
                received.get_or_create(&labels).set(gauge(c.received));
                accepted.get_or_create(&labels).set(gauge(c.accepted));
                sent.get_or_create(&labels).set(gauge(c.sent));
            }
        }
        let routes = Labeled::<Labels, Gauge>::default();
        let paths = Labeled::<Labels, Gauge>::default();
        for (family, c) in &rib {
            let labels: Labels = vec![("family".into(), family_name(*family).into())];
            routes.get_or_create(&labels).set(gauge(c.routes));
            paths.get_or_create(&labels).set(gauge(c.paths));
        }
        registry.register(
            "bgp_session_state",
            "Session state per peer: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established",
            state,
        );
        registry.register_with_unit(
            "bgp_session_uptime",
            "Time since the session reached Established (0 when it is not)",
            Unit::Seconds,
            uptime,
        );
        registry.register(
            "bgp_session_established_transitions",
            "Times the session reached Established",
            transitions,
        );
        registry.register("bgp_updates_received", "UPDATE messages received", updates_in);
        registry.register("bgp_updates_sent", "UPDATE messages sent", updates_out);
        registry.register(
            "bgp_messages_received",
            "BGP messages received, every type",
            messages_in,
        );
        registry.register("bgp_messages_sent", "BGP messages sent, every type", messages_out);
        registry.register(
            "bgp_prefixes_received",
            "Prefixes the peer sent, before the import policy",
            received,
        );
        registry.register(
            "bgp_prefixes_accepted",
            "Prefixes of the peer the import policy accepted",
            accepted,
        );
        registry.register(
            "bgp_prefixes_sent",
            "Prefixes advertised to the peer, after the export policy",
            sent,
        );
        registry.register("bgp_rib_routes", "Destinations with a best path in the Loc-RIB", routes);
        registry.register(
            "bgp_rib_paths",
            "Paths in the Loc-RIB, from every peer and this speaker",
            paths,
        );
    }
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
