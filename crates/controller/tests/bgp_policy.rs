//! BGPPeer import and export policies, status written back and metrics, against GoBGP (needs
//! root and gobgpd). The controller's speaker has its sockets in node 0 of a [`PeerNet`]; GoBGP
//! `a` (AS 64512) sends routes, GoBGP `b` (AS 64513) receives what the controller passes on.

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use support::{Controller, ESTABLISH, parse, parse_metrics, sample};
use weft_api::{Kind, Resource};
use weft_peers::{Community, Family, Gobgp, Neighbor, Peer, PeerNet, PeerSpec, Route, SessionState};

const WEFT_AS: u32 = 64511;
const A_AS: u32 = 64512;
const B_AS: u32 = 64513;

fn cluster(router_id: &str) -> Resource {
    parse(&format!(
        "apiVersion: weft.io/v1alpha1\nkind: Cluster\nmetadata: {{name: lab}}\nspec:\n  asn: {WEFT_AS}\n  routerId: {router_id}\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [10.96.0.0/16]\n"
    ))
}

/// A BGPPeer for IPv4 unicast with the policies given as YAML flow mappings (or none).
fn bgp_peer(name: &str, address: IpAddr, asn: u32, import: Option<&str>, export: Option<&str>) -> Resource {
    let mut yaml = format!(
        "apiVersion: weft.io/v1alpha1\nkind: BGPPeer\nmetadata: {{name: {name}}}\nspec:\n  address: {address}\n  asn: {asn}\n  families: [ipv4-unicast]\n"
    );
    if let Some(p) = import {
        yaml.push_str(&format!("  importPolicy: {p}\n"));
    }
    if let Some(p) = export {
        yaml.push_str(&format!("  exportPolicy: {p}\n"));
    }
    parse(&yaml)
}

fn counts(ctl: &Controller, address: IpAddr) -> Option<(usize, usize, usize)> {
    let p = ctl.peer(address)?;
    let c = p.families.get("ipv4 unicast")?;
    Some((c.received, c.accepted, c.sent))
}

fn prefixes(ctl: &Controller) -> Vec<String> {
    let mut v: Vec<String> = ctl
        .rt
        .block_on(ctl.client.bgp_routes(Some("ipv4-unicast")))
        .unwrap()
        .into_iter()
        .map(|r| r.prefix)
        .collect();
    v.sort();
    v
}

/// What GoBGP `b` holds from `from`: prefix and communities, both sorted.
fn seen_by(b: &Gobgp, from: IpAddr) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<(String, Vec<String>)> = b
        .received_routes(Family::Ipv4Unicast)
        .unwrap()
        .into_iter()
        .filter(|r| r.from == Some(from))
        .map(|r| {
            let mut cs: Vec<String> = r.communities.iter().map(|c| c.to_string()).collect();
            cs.sort();
            (r.prefix.to_string(), cs)
        })
        .collect();
    v.sort();
    v
}

fn bgp_peer_object(ctl: &Controller, name: &str) -> weft_api::BGPPeer {
    match ctl.rt.block_on(ctl.client.get(Kind::BGPPeer, None, name)).unwrap() {
        Resource::BGPPeer(p) => p,
        other => panic!("not a BGPPeer: {other:?}"),
    }
}

#[test]
fn policies_apply_in_place_and_status_and_metrics_follow() {
    let started = Instant::now();
    let pnet = PeerNet::new("ctl-pol", 3);
    let (w, a, b) = (pnet.node(0), pnet.node(1), pnet.node(2));
    let gobgp_a = Gobgp::start(
        &a.netns,
        &PeerSpec::new(A_AS, a.ipv4).neighbor(Neighbor::new(w.v4(), WEFT_AS, &[Family::Ipv4Unicast])),
    )
    .unwrap();
    let gobgp_b = Gobgp::start(
        &b.netns,
        &PeerSpec::new(B_AS, b.ipv4).neighbor(Neighbor::new(w.v4(), WEFT_AS, &[Family::Ipv4Unicast])),
    )
    .unwrap();
    let ctl = Controller::start(&w.netns);
    ctl.apply(&cluster(&w.ipv4.to_string()));
    ctl.apply(&bgp_peer(
        "a",
        a.v4(),
        A_AS,
        Some("{denyCommunities: [\"64512:666\", \"64512:9:9\"]}"),
        None,
    ));
    ctl.apply(&bgp_peer(
        "b",
        b.v4(),
        B_AS,
        None,
        Some("{addCommunities: [\"64511:7\"]}"),
    ));
    gobgp_a.wait_established(w.v4(), ESTABLISH).unwrap();
    gobgp_b.wait_established(w.v4(), ESTABLISH).unwrap();

    let denied = Route::unicast("203.0.113.0/24".parse().unwrap()).with_community(Community(64512, 666));
    let allowed = Route::unicast("198.51.100.0/24".parse().unwrap()).with_community(Community(64512, 1));
    gobgp_a.announce(&denied).unwrap();
    gobgp_a.announce(&allowed).unwrap();

    // The denied route is received, not accepted, not passed on.
    ctl.wait("a: 2 received, 1 accepted", || {
        (counts(&ctl, a.v4()) == Some((2, 1, 0))).then_some(())
    });
    assert_eq!(prefixes(&ctl), vec!["198.51.100.0/24".to_string()]);
    // b gets the accepted one with the export policy's community added.
    let got = ctl.wait("b holds 198.51.100.0/24 with 64511:7", || {
        let v = seen_by(&gobgp_b, w.v4());
        (v.len() == 1).then_some(v)
    });
    assert_eq!(got[0].0, "198.51.100.0/24");
    assert_eq!(got[0].1, vec!["64511:7".to_string(), "64512:1".to_string()]);

    // Status written back: state, since, counts; the generation untouched.
    let status = ctl.wait("a's status with its counts", || {
        let p = bgp_peer_object(&ctl, "a");
        let s = p.status.clone()?;
        let c = s.prefixes.iter().find(|c| c.family == "ipv4-unicast")?;
        (s.state.as_deref() == Some("Established") && (c.received, c.accepted) == (2, 1)).then_some(p)
    });
    assert_eq!(status.metadata.generation, Some(1));
    let since = status.status.as_ref().unwrap().established_since.clone().unwrap();
    assert!(since.parse::<jiff::Timestamp>().is_ok(), "{since}");
    // A watcher sees status changes.
    let revision: u64 = status.metadata.resource_version.clone().unwrap().parse().unwrap();
    let mut watch = Box::pin(
        ctl.rt
            .block_on(ctl.client.watch(Kind::BGPPeer, None, Some(revision)))
            .unwrap(),
    );

    // Let uptimes grow, so that a reset would show.
    std::thread::sleep(Duration::from_secs(2));
    let a_up = ctl.peer(a.v4()).unwrap().uptime_seconds.unwrap();
    let b_up = ctl.peer(b.v4()).unwrap().uptime_seconds.unwrap();
    assert!(a_up >= 1);
    let still_up = |what: &str| {
        for (addr, before) in [(a.v4(), a_up), (b.v4(), b_up)] {
            let p = ctl.peer(addr).unwrap();
            assert_eq!(p.state, "Established", "{what}: {addr} left Established: {p:?}");
            assert!(p.uptime_seconds.unwrap() >= before, "{what}: {addr} was reset: {p:?}");
        }
        for (gobgp, name) in [(&gobgp_a, "a"), (&gobgp_b, "b")] {
            let n = gobgp.neighbor_state(w.v4()).unwrap();
            assert_eq!(n.state, SessionState::Established, "{what}: GoBGP {name}: {n:?}");
        }
    };

    // A new import policy: the rejected route is accepted from what was kept, the other
    // rejected; the sessions stay up.
    ctl.apply(&bgp_peer(
        "a",
        a.v4(),
        A_AS,
        Some("{denyCommunities: [\"64512:1\"]}"),
        None,
    ));
    ctl.wait("203.0.113.0/24 accepted in place", || {
        (prefixes(&ctl) == vec!["203.0.113.0/24".to_string()]).then_some(())
    });
    still_up("after the import policy changed");
    assert_eq!(counts(&ctl, a.v4()).map(|c| (c.0, c.1)), Some((2, 1)));
    let got = ctl.wait("b holds 203.0.113.0/24 only", || {
        let v = seen_by(&gobgp_b, w.v4());
        (v.len() == 1 && v[0].0 == "203.0.113.0/24").then_some(v)
    });
    assert_eq!(got[0].1, vec!["64511:7".to_string(), "64512:666".to_string()]);

    // A new export policy: b loses what it now denies, keeps its session.
    ctl.apply(&bgp_peer(
        "b",
        b.v4(),
        B_AS,
        None,
        Some("{denyCommunities: [\"64512:666\"]}"),
    ));
    ctl.wait("b withdrawn", || seen_by(&gobgp_b, w.v4()).is_empty().then_some(()));
    still_up("after the export policy changed");
    assert_eq!(counts(&ctl, b.v4()).map(|c| c.2), Some(0));

    // The watcher saw a's status written (a MODIFIED event with a status).
    let saw_status = ctl.rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(Ok(e)) = watch.next().await {
                if e.kind == "MODIFIED" && e.object["status"]["state"] == "Established" {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false)
    });
    assert!(saw_status, "no MODIFIED event with a status");
    let a_now = bgp_peer_object(&ctl, "a");
    assert_eq!(
        a_now.metadata.generation,
        Some(2),
        "one spec change, status writes do not count"
    );

    // Metrics: parse the scrape and find the sessions, counts and RIB.
    let (code, content_type, text) = ctl.get_text("/metrics");
    assert_eq!(code, 200, "{text}");
    assert!(content_type.unwrap_or_default().contains("openmetrics-text"));
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    let (types, samples) = parse_metrics(&text);
    let type_of = |n: &str| types.iter().find(|(name, _)| name == n).map(|(_, t)| t.as_str());
    assert_eq!(type_of("weft_bgp_session_state"), Some("gauge"));
    assert_eq!(type_of("weft_bgp_updates_received"), Some("counter"));
    let a_addr = a.v4().to_string();
    let b_addr = b.v4().to_string();
    let peer_a = [("peer", "a"), ("address", a_addr.as_str())];
    assert_eq!(sample(&samples, "weft_bgp_session_state", &peer_a), Some(6.0));
    assert!(sample(&samples, "weft_bgp_session_uptime_seconds", &peer_a).unwrap() >= a_up as f64);
    assert_eq!(
        sample(&samples, "weft_bgp_session_established_transitions_total", &peer_a),
        Some(1.0)
    );
    assert!(sample(&samples, "weft_bgp_updates_received_total", &peer_a).unwrap() >= 2.0);
    assert!(sample(&samples, "weft_bgp_messages_sent_total", &peer_a).unwrap() >= 2.0);
    let fam = ("family", "ipv4-unicast");
    let a_fam = [peer_a[0], peer_a[1], fam];
    assert_eq!(sample(&samples, "weft_bgp_prefixes_received", &a_fam), Some(2.0));
    assert_eq!(sample(&samples, "weft_bgp_prefixes_accepted", &a_fam), Some(1.0));
    let b_fam = [("peer", "b"), ("address", b_addr.as_str()), fam];
    assert_eq!(sample(&samples, "weft_bgp_prefixes_sent", &b_fam), Some(0.0));
    assert_eq!(sample(&samples, "weft_bgp_rib_routes", &[fam]), Some(1.0));
    assert_eq!(sample(&samples, "weft_bgp_rib_paths", &[fam]), Some(1.0));
    assert_eq!(sample(&samples, "weft_bgp_speaker_running", &[]), Some(1.0));
    assert_eq!(sample(&samples, "weft_objects", &[("kind", "BGPPeer")]), Some(2.0));
    assert!(sample(&samples, "weft_watches", &[]).unwrap() >= 1.0);
    drop(watch);
    drop(ctl);
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn metrics_without_a_speaker() {
    let ctl = Controller::start_with(None);
    let (code, _, text) = ctl.get_text("/metrics");
    assert_eq!(code, 200, "{text}");
    let (_, samples) = parse_metrics(&text);
    assert_eq!(sample(&samples, "weft_bgp_speaker_running", &[]), Some(0.0));
    assert_eq!(sample(&samples, "weft_objects", &[("kind", "Namespace")]), Some(1.0));
    assert_eq!(sample(&samples, "weft_watches", &[]), Some(0.0));
    assert!(sample(&samples, "weft_store_revision", &[]).unwrap() >= 1.0);
}
