//! The controller's BGP speaker: started when BGP is enabled and a Cluster gives the AS and
//! router id (restarted when they change), its peers reconciled with the BGPPeer objects. A
//! changed BGPPeer restarts only its own session; the others are left alone.
//!
//! [`BgpView`] is what the API reads: the running speaker and which BGPPeer each address is.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use weft_api::wire::{BgpPeerInfo, BgpPrefixCounts, BgpRouteInfo};
use weft_api::{BGPPeerSpec, Kind, Resource};
use weft_bgp::family::Family;
use weft_bgp::fsm::{GracefulRestartConfig, PeerConfig, Time};
use weft_bgp::rib::{Policy, RouteKey};
use weft_net::Asn;
use weft_speaker::{PeerSettings, RouteEntry, SocketFactory, Speaker, SpeakerConfig, SpeakerHandle};

use crate::state::{Command, Handle};

mod metrics;
mod status;

/// How often a reconciliation that failed (speaker not startable, controller busy) is retried.
const RETRY: Duration = Duration::from_secs(5);

/// The BGP section of the controller's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpConfig {
    /// Where the speaker accepts connections; default `0.0.0.0:179`.
    pub listen: Vec<SocketAddr>,
    /// Make the speaker's sockets inside this network namespace (`/var/run/netns/NAME`).
    pub netns: Option<PathBuf>,
    /// This controller ran before (its store existed): its first speaker is a restarting one
    /// (RFC 4724 §4.1: Restart State bit, routes selected once peers sent End-of-RIB).
    pub restarting: bool,
}

/// How long a restarting speaker waits for its peers' End-of-RIB before it selects and sends
/// routes anyway (RFC 4724 §4.1 Selection_Deferral_Timer; shorter than the usual 360 s: a
/// controller's peers are few and a peer that stays away must not hold the others back long).
const SELECTION_DEFERRAL: Duration = Duration::from_secs(30);

impl Default for BgpConfig {
    fn default() -> Self {
        BgpConfig {
            listen: vec![SocketAddr::from((Ipv4Addr::UNSPECIFIED, 179))],
            netns: None,
            restarting: false,
        }
    }
}

/// The running speaker, shared with the API handlers.
#[derive(Clone, Default)]
pub struct BgpView {
    inner: Arc<Mutex<Option<Running>>>,
}

#[derive(Clone)]
struct Running {
    speaker: SpeakerHandle,
    /// Taken just before the speaker started: its clock's origin, near enough for uptimes.
    started: Instant,
    /// BGPPeer name by address.
    names: BTreeMap<IpAddr, String>,
}

impl BgpView {
    fn get(&self) -> Option<Running> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The running speaker, for the parts of the controller that originate and import routes.
    pub(crate) fn speaker(&self) -> Option<SpeakerHandle> {
        self.get().map(|r| r.speaker)
    }

    fn set(&self, running: Option<Running>) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = running;
    }

    fn set_names(&self, names: BTreeMap<IpAddr, String>) {
        if let Some(r) = self.inner.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            r.names = names;
        }
    }

    /// Every session; `None` when no speaker runs (BGP disabled or no Cluster yet).
    pub async fn peers(&self) -> Option<Vec<BgpPeerInfo>> {
        let running = self.get()?;
        let statuses = running.speaker.peer_status().await.ok()?;
        let now = Time::since(running.started, Instant::now());
        Some(
            statuses
                .into_iter()
                .map(|p| BgpPeerInfo {
                    name: running.names.get(&p.address).cloned().unwrap_or_default(),
                    address: p.address,
                    asn: p.remote_as,
                    state: p.session.state.to_string(),
                    uptime_seconds: p
                        .session
                        .established_since
                        .map(|since| now.saturating_duration_since(since).as_secs()),
                    last_error: p.session.last_error.clone(),
                    families: p
                        .prefixes
                        .iter()
                        .map(|(f, c)| {
                            (
                                f.to_string(),
                                BgpPrefixCounts {
                                    received: c.received,
                                    accepted: c.accepted,
                                    sent: c.sent,
                                },
                            )
                        })
                        .collect(),
                })
                .collect(),
        )
    }

    /// The best routes of `family` (all with `None`), or with `all_paths` every path (the best
    /// of each destination first); `None` when no speaker runs.
    pub async fn routes(&self, family: Option<Family>, all_paths: bool) -> Option<Vec<BgpRouteInfo>> {
        let running = self.get()?;
        let routes = if all_paths {
            running.speaker.all_paths(family).await.ok()?
        } else {
            running.speaker.routes(family).await.ok()?
        };
        Some(routes.iter().map(route_info).collect())
    }
}

fn route_info(r: &RouteEntry) -> BgpRouteInfo {
    let a = &r.path.attributes;
    let mut communities: Vec<String> = a.communities.iter().map(|c| c.to_string()).collect();
    communities.extend(a.large_communities.iter().map(|c| c.to_string()));
    let route_targets = a
        .extended_communities
        .iter()
        .filter_map(|c| match c {
            weft_bgp::attribute::ExtendedCommunity::RouteTarget(rt) => Some(rt.to_string()),
            _ => None,
        })
        .collect();
    BgpRouteInfo {
        family: r.key.family().to_string(),
        prefix: r.path.nlri.to_string(),
        next_hop: r.next_hop(),
        as_path: r.as_path(),
        origin: a.origin.map(|o| o.to_string()),
        local_pref: a.local_pref,
        med: a.med,
        communities,
        ext_communities: a.extended_communities.iter().map(|c| c.to_string()).collect(),
        route_targets,
        from: r.from,
        rd: match &r.key {
            RouteKey::Vpn { rd, .. } | RouteKey::EvpnIpPrefix { rd, .. } => Some(rd.to_string()),
            _ => None,
        },
        best: r.best,
    }
}

/// A family of the speaker in a BGPPeer's words (`l2vpn-evpn`, ...).
pub fn family_name(family: Family) -> &'static str {
    match family {
        Family::Ipv4Unicast => "ipv4-unicast",
        Family::Ipv6Unicast => "ipv6-unicast",
        Family::Vpnv4 => "ipv4-vpn",
        Family::Vpnv6 => "ipv6-vpn",
        Family::L2vpnEvpn => "l2vpn-evpn",
        Family::RtConstraint => "ipv4-rtc",
    }
}

/// A BGPPeer's route policy as the speaker's; an error names the field.
fn route_policy(policy: Option<&weft_api::bgp_peer::RoutePolicy>, field: &str) -> Result<Option<Policy>, String> {
    policy
        .map(|p| {
            Policy::parse(&p.route_targets, &p.deny_communities, &p.add_communities).map_err(|e| format!("{field}.{e}"))
        })
        .transpose()
}

/// Whether two settings of one peer differ in their policies at most: the speaker then
/// applies them in place, the session kept.
fn same_but_policies(a: &PeerSettings, b: &PeerSettings) -> bool {
    let mut a = a.clone();
    a.import_policy.clone_from(&b.import_policy);
    a.export_policy.clone_from(&b.export_policy);
    a == *b
}

/// A BGPPeer family name (`l2vpn-evpn`, ...) as a family of the speaker.
pub fn parse_family(name: &str) -> Option<Family> {
    Some(match name {
        "ipv4-unicast" => Family::Ipv4Unicast,
        "ipv6-unicast" => Family::Ipv6Unicast,
        "ipv4-vpn" => Family::Vpnv4,
        "ipv6-vpn" => Family::Vpnv6,
        "l2vpn-evpn" => Family::L2vpnEvpn,
        "ipv4-rtc" => Family::RtConstraint,
        _ => return None,
    })
}

/// The speaker's settings for a BGPPeer of a cluster with this AS and router id.
pub fn peer_settings(spec: &BGPPeerSpec, local_as: u32, router_id: Ipv4Addr) -> Result<PeerSettings, String> {
    let address: IpAddr = spec
        .address
        .parse()
        .map_err(|_| format!("spec.address {:?} is not an IP address", spec.address))?;
    let mut config = PeerConfig::new(
        address,
        Asn::new_unchecked(local_as),
        Asn::new_unchecked(spec.asn),
        router_id,
    );
    config.families = if spec.families.is_empty() {
        vec![Family::L2vpnEvpn]
    } else {
        spec.families
            .iter()
            .map(|f| parse_family(f).ok_or_else(|| format!("unknown family {f:?}")))
            .collect::<Result<_, _>>()?
    };
    if let Some(hold) = spec.hold_time {
        config.hold_time = u16::try_from(hold).map_err(|_| format!("hold time {hold} is above 65535"))?;
    }
    config.passive = spec.passive;
    // Graceful restart (RFC 4724) with forwarding state kept: a restarting controller's routes
    // stay at its peers. Without the N bit (RFC 8538), a hold timer expiry or a NOTIFICATION
    // still ends the session for good, so a cut link takes the routes away.
    config.graceful_restart = Some(GracefulRestartConfig {
        notification: false,
        ..GracefulRestartConfig::new(&config.families)
    });
    let mut settings = PeerSettings::new(config);
    settings.password = spec.password.clone();
    // The speaker's GTSM sends with TTL 255 and accepts TTL >= 254: neighbours 1 or 2 hops away.
    match spec.ttl_security_hops {
        None => {}
        Some(1 | 2) => settings.gtsm = true,
        Some(n) => {
            return Err(format!(
                "spec.ttlSecurityHops {n}: the speaker supports GTSM for 1 or 2 hops only"
            ));
        }
    }
    settings.rr_client = spec.route_reflector_client;
    for m in &spec.max_prefixes {
        let family =
            parse_family(&m.family).ok_or_else(|| format!("spec.maxPrefixes: unknown family {:?}", m.family))?;
        if m.limit == 0 {
            return Err(format!("spec.maxPrefixes {}: the limit must be at least 1", m.family));
        }
        settings = settings.max_prefixes(family, m.limit);
    }
    settings.import_policy = route_policy(spec.import_policy.as_ref(), "spec.importPolicy")?;
    settings.export_policy = route_policy(spec.export_policy.as_ref(), "spec.exportPolicy")?;
    if let Some(local) = &spec.local_address {
        settings.local_address = Some(
            local
                .parse()
                .map_err(|_| format!("spec.localAddress {local:?} is not an IP address"))?,
        );
    }
    Ok(settings)
}

/// The speaker as configured now.
struct Current {
    key: (u32, Ipv4Addr),
    speaker: SpeakerHandle,
    /// What each peer was added with.
    peers: BTreeMap<IpAddr, PeerSettings>,
}

/// Keeps the speaker in line with the Cluster and the BGPPeers until the controller closes.
pub async fn bgp_loop(handle: Handle, config: BgpConfig, view: BgpView) {
    let mut events = match handle.call(|reply| Command::Subscribe { reply }).await {
        Ok(rx) => rx,
        Err(e) => {
            tracing::error!(error = %e, "BGP: cannot subscribe to changes");
            return;
        }
    };
    let mut current: Option<Current> = None;
    let status_task = tokio::spawn(status::status_loop(handle.clone(), view.clone()));
    let mut specs = status::SpecChanges::default();
    loop {
        let ok = reconcile(&handle, &config, &view, &mut current).await;
        // Wait for a change of a Cluster or a BGPPeer (or retry after a failure).
        let retry = async {
            if ok {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(RETRY).await
            }
        };
        tokio::select! {
            _ = handle.closing() => break,
            _ = retry => {}
            _ = async {
                loop {
                    match events.recv().await {
                        // Not the status the controller writes back: that changes no session.
                        Ok(e) if matches!(e.object.kind(), Kind::Cluster | Kind::BGPPeer) && specs.changed(&e) => return,
                        Ok(_) => {}
                        Err(RecvError::Lagged(_)) => return,
                        Err(RecvError::Closed) => std::future::pending::<()>().await,
                    }
                }
            } => {}
        }
    }
    status_task.abort();
    if let Some(c) = current.take() {
        // The controller stops (or restarts): its sessions just close, without a NOTIFICATION,
        // so that peers keep its routes while it is away (graceful restart, RFC 4724 §4.2) and
        // traffic keeps flowing; the nodes forward on headless meanwhile.
        let _ = c.speaker.abandon().await;
    }
    view.set(None);
}

/// Every stored object of a kind; `None` (logged) when the state cannot answer.
pub(crate) async fn list(handle: &Handle, kind: Kind) -> Option<Vec<Resource>> {
    match handle
        .call(|reply| Command::List {
            kind,
            namespace: None,
            reply,
        })
        .await
    {
        Ok((_, items)) => Some(items),
        Err(e) => {
            tracing::warn!(error = %e, ?kind, "cannot list");
            None
        }
    }
}

/// One pass; false when something should be retried.
async fn reconcile(handle: &Handle, config: &BgpConfig, view: &BgpView, current: &mut Option<Current>) -> bool {
    let Some(clusters) = list(handle, Kind::Cluster).await else {
        return false;
    };
    // Without spec.routerId: the first IPv4 address the speaker listens on.
    let fallback = config.listen.iter().find_map(|a| match a.ip() {
        IpAddr::V4(v4) if !v4.is_unspecified() => Some(v4),
        _ => None,
    });
    let wanted = clusters.iter().find_map(|r| match r {
        Resource::Cluster(c) => {
            let router_id = c
                .spec
                .router_id
                .as_deref()
                .and_then(|s| s.parse::<Ipv4Addr>().ok())
                .or(fallback);
            if router_id.is_none() {
                tracing::warn!(
                    "BGP: the Cluster has no spec.routerId and --bgp-listen names no IPv4 address; the speaker waits for one"
                );
            }
            router_id.map(|id| (c.spec.asn, id))
        }
        _ => None,
    });
    if current.as_ref().map(|c| c.key) != wanted {
        if let Some(old) = current.take() {
            tracing::info!(asn = old.key.0, router_id = %old.key.1, "BGP: stopping the speaker");
            let _ = old.speaker.shutdown().await;
            view.set(None);
        }
        let Some((asn, router_id)) = wanted else {
            return true;
        };
        let mut speaker_config = SpeakerConfig::new(asn, router_id);
        speaker_config.listen = config.listen.clone();
        speaker_config.cluster_id = Some(router_id);
        speaker_config.restarting = config.restarting;
        speaker_config.selection_deferral = SELECTION_DEFERRAL;
        let started = Instant::now();
        let speaker = match &config.netns {
            Some(path) => Speaker::start_in_netns(path, speaker_config).await,
            None => Speaker::start_with(SocketFactory::current(), speaker_config).await,
        };
        match speaker {
            Ok(speaker) => {
                tracing::info!(asn, %router_id, listen = ?config.listen, "BGP: speaker started");
                view.set(Some(Running {
                    speaker: speaker.clone(),
                    started,
                    names: BTreeMap::new(),
                }));
                *current = Some(Current {
                    key: (asn, router_id),
                    speaker,
                    peers: BTreeMap::new(),
                });
            }
            Err(e) => {
                tracing::error!(error = %e, "BGP: cannot start the speaker");
                return false;
            }
        }
    }
    let Some(cur) = current.as_mut() else {
        return true;
    };
    let Some(objects) = list(handle, Kind::BGPPeer).await else {
        return false;
    };
    let mut desired: BTreeMap<IpAddr, (String, PeerSettings)> = BTreeMap::new();
    for object in &objects {
        let Resource::BGPPeer(p) = object else { continue };
        let name = p.metadata.name.clone().unwrap_or_default();
        match peer_settings(&p.spec, cur.key.0, cur.key.1) {
            Ok(s) => {
                let address = s.config.remote_addr;
                if let Some((other, _)) = desired.get(&address) {
                    tracing::warn!(peer = %name, other = %other, %address, "BGP: two BGPPeers with one address; ignoring the second");
                    continue;
                }
                desired.insert(address, (name, s));
            }
            Err(e) => tracing::warn!(peer = %name, error = %e, "BGP: BGPPeer not usable"),
        }
    }
    let mut ok = true;
    // Only the policies changed: applied in place, the session stays up.
    for (address, (name, wanted)) in &desired {
        let Some(have) = cur.peers.get_mut(address) else {
            continue;
        };
        if have == wanted || !same_but_policies(have, wanted) {
            continue;
        }
        tracing::info!(%address, peer = %name, "BGP: applying new policies, session kept");
        match cur
            .speaker
            .set_policies(*address, wanted.import_policy.clone(), wanted.export_policy.clone())
            .await
        {
            Ok(()) => *have = wanted.clone(),
            Err(e) => {
                tracing::warn!(%address, peer = %name, error = %e, "BGP: cannot apply the policies");
                ok = false;
            }
        }
    }
    let stale: Vec<IpAddr> = cur
        .peers
        .iter()
        .filter(|(a, s)| desired.get(a).is_none_or(|(_, d)| d != *s))
        .map(|(a, _)| *a)
        .collect();
    for address in stale {
        tracing::info!(%address, "BGP: removing peer");
        if let Err(e) = cur.speaker.remove_peer(address).await {
            tracing::warn!(%address, error = %e, "BGP: cannot remove peer");
        }
        cur.peers.remove(&address);
    }
    for (address, (name, settings)) in &desired {
        if cur.peers.contains_key(address) {
            continue;
        }
        tracing::info!(%address, peer = %name, "BGP: adding peer");
        match cur.speaker.add_peer(settings.clone()).await {
            Ok(()) => {
                cur.peers.insert(*address, settings.clone());
            }
            Err(e) => {
                tracing::warn!(%address, peer = %name, error = %e, "BGP: cannot add peer");
                ok = false;
            }
        }
    }
    view.set_names(desired.into_iter().map(|(a, (n, _))| (a, n)).collect());
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> BGPPeerSpec {
        serde_json::from_value(fields(text)).unwrap()
    }

    /// `key: value` lines as a JSON object (enough for these tests).
    fn fields(text: &str) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (k, v) = line.split_once(':').unwrap();
            map.insert(k.trim().into(), serde_json::from_str(v.trim()).unwrap());
        }
        serde_json::Value::Object(map)
    }

    const RID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

    #[test]
    fn defaults_are_evpn_and_90_seconds() {
        let s = peer_settings(
            &spec(
                r#"address: "198.51.100.1"
            asn: 64513"#,
            ),
            64512,
            RID,
        )
        .unwrap();
        assert_eq!(s.config.families, vec![Family::L2vpnEvpn]);
        assert_eq!(s.config.hold_time, 90);
        assert_eq!(s.config.local_as.get(), 64512);
        assert_eq!(s.config.remote_as.get(), 64513);
        assert_eq!(s.config.router_id, RID);
        assert!(!s.config.passive && !s.gtsm && !s.rr_client);
        assert_eq!((s.password, s.local_address), (None, None));
        assert!(s.max_prefixes.is_empty());
    }

    #[test]
    fn every_field_maps() {
        let s = peer_settings(
            &spec(
                r#"address: "2001:db8::1"
                asn: 64512
                families: ["ipv4-vpn", "l2vpn-evpn", "ipv4-rtc", "ipv6-unicast"]
                localAddress: "2001:db8::10"
                passive: true
                password: "s3cret"
                ttlSecurityHops: 2
                holdTime: 30
                routeReflectorClient: true
                maxPrefixes: [{"family": "l2vpn-evpn", "limit": 10}, {"family": "ipv4-vpn", "limit": 2000}]"#,
            ),
            64512,
            RID,
        )
        .unwrap();
        assert_eq!(
            s.config.families,
            vec![
                Family::Vpnv4,
                Family::L2vpnEvpn,
                Family::RtConstraint,
                Family::Ipv6Unicast
            ]
        );
        assert_eq!(s.config.hold_time, 30);
        assert!(s.config.passive && s.gtsm && s.rr_client);
        assert_eq!(s.password.as_deref(), Some("s3cret"));
        assert_eq!(s.local_address, Some("2001:db8::10".parse().unwrap()));
        assert_eq!(
            s.max_prefixes,
            BTreeMap::from([(Family::L2vpnEvpn, 10), (Family::Vpnv4, 2000)])
        );
    }

    #[test]
    fn policies_map_and_a_change_of_policies_only_is_told_apart() {
        let plain = peer_settings(
            &spec(
                r#"address: "198.51.100.1"
            asn: 64513"#,
            ),
            64512,
            RID,
        )
        .unwrap();
        let with = peer_settings(
            &spec(
                r#"address: "198.51.100.1"
            asn: 64513
            importPolicy: {"denyCommunities": ["64513:666", "64513:1:2"]}
            exportPolicy: {"routeTargets": ["64512:100"], "addCommunities": ["64512:7"]}"#,
            ),
            64512,
            RID,
        )
        .unwrap();
        let import = with.import_policy.clone().unwrap();
        assert_eq!(import.deny.len(), 2);
        assert!(import.route_targets.is_empty() && import.add.is_empty());
        let export = with.export_policy.clone().unwrap();
        assert_eq!(export.route_targets.len(), 1);
        assert_eq!(export.add[0].to_string(), "64512:7");
        assert!(same_but_policies(&plain, &with));
        let mut other = with.clone();
        other.config.hold_time = 30;
        assert!(!same_but_policies(&plain, &other));
        let e = peer_settings(
            &spec(
                r#"address: "198.51.100.1"
            asn: 64513
            importPolicy: {"denyCommunities": ["64513"]}"#,
            ),
            64512,
            RID,
        )
        .unwrap_err();
        assert!(
            e.starts_with("spec.importPolicy.denyCommunities[0]: \"64513\" is not a community"),
            "{e}"
        );
    }

    #[test]
    fn refuses_what_the_speaker_cannot_do() {
        let e = peer_settings(
            &spec(
                r#"address: "198.51.100.1"
            asn: 1
            ttlSecurityHops: 5"#,
            ),
            2,
            RID,
        )
        .unwrap_err();
        assert!(e.contains("1 or 2 hops"), "{e}");
        let e = peer_settings(
            &spec(
                r#"address: "198.51.100.1"
            asn: 1
            families: ["ipv9"]"#,
            ),
            2,
            RID,
        )
        .unwrap_err();
        assert!(e.contains("ipv9"), "{e}");
        let e = peer_settings(
            &spec(
                r#"address: "198.51.100.1"
            asn: 1
            maxPrefixes: [{"family": "ipv4-multicast", "limit": 5}]"#,
            ),
            2,
            RID,
        )
        .unwrap_err();
        assert!(e.contains("maxPrefixes") && e.contains("ipv4-multicast"), "{e}");
    }
}
