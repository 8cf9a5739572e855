//! Graceful restart (RFC 4724) against real daemons.
//!
//! Receiving speaker (§4.2): the daemon, with graceful restart, is killed (no NOTIFICATION, the
//! TCP connection just goes) and started again as a restarting speaker (Restart State bit); Weft
//! keeps its routes, marked stale, the whole time, takes the re-announced ones back and flushes
//! the stale ones the daemon did not announce again once its End-of-RIB arrives.
//!
//! Restarting speaker (§4.1): Weft crashes (its runtime dropped: no NOTIFICATION) and a new
//! speaker starts with `SpeakerConfig::restarting` (Restart State and Forwarding State bits);
//! the daemon, a graceful restart helper, keeps Weft's routes meanwhile; Weft defers its
//! advertisements until the daemon's End-of-RIB, then sends its routes and End-of-RIB, and the
//! daemon flushes only the route Weft no longer announces.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use weft_bgp::family::Family as BgpFamily;
use weft_bgp::fsm::{GracefulRestartConfig, State};
use weft_bgp::rib::RouteKey;
use weft_peers::{Bird, Family, Frr, Gobgp, Neighbor, Node, Peer, PeerNet, PeerSpec, Route};
use weft_speaker::PeerSettings;

const RESTART_TIME: u16 = 60;

fn gr_settings(me: &Node, peer: IpAddr) -> PeerSettings {
    let mut s = settings(me, peer, &[BgpFamily::Ipv4Unicast]);
    let mut gr = GracefulRestartConfig::new(&[BgpFamily::Ipv4Unicast]);
    gr.restart_time = RESTART_TIME;
    s.config.graceful_restart = Some(gr);
    s
}

fn gr_spec(node: &Node, weft: IpAddr) -> PeerSpec {
    PeerSpec::new(PEER_AS, node.ipv4)
        .neighbor(Neighbor::new(weft, WEFT_AS, &[Family::Ipv4Unicast]).graceful_restart(RESTART_TIME))
}

/// Weft's paths for `key`: (present, stale).
fn path_state(weft: &Weft, key: &RouteKey) -> Option<bool> {
    weft.routes(BgpFamily::Ipv4Unicast)
        .into_iter()
        .find(|r| &r.key == key)
        .map(|r| r.path.stale)
}

/// The daemon restarts; Weft is the receiving speaker.
fn daemon_restarts<P: Peer>(test: &str, start: impl Fn(&str, &PeerSpec) -> P, kill: impl Fn(&mut P)) {
    let pnet = PeerNet::pair(test);
    let (a, b) = (pnet.node(0), pnet.node(1));
    let mut daemon = start(&b.netns, &gr_spec(b, a.v4()));
    let weft = Weft::start(a);
    weft.add_peer(gr_settings(a, b.v4()));
    weft.wait_established(b.v4(), ESTABLISH);
    daemon
        .wait_established(a.v4(), ESTABLISH)
        .expect("the daemon's session is up");

    let kept = Route::unicast(net("203.0.113.0/25"));
    let dropped = Route::unicast(net("203.0.113.128/25"));
    let (kept_key, dropped_key) = (RouteKey::Prefix(kept.prefix), RouteKey::Prefix(dropped.prefix));
    daemon.announce(&kept).expect("announce");
    daemon.announce(&dropped).expect("announce");
    weft.wait_route(BgpFamily::Ipv4Unicast, &kept_key, true);
    weft.wait_route(BgpFamily::Ipv4Unicast, &dropped_key, true);
    let ours = net("198.51.100.0/24");
    weft.rt.block_on(weft.handle.announce_prefix(ours)).expect("announce");

    // Crash: Weft sees the connection go, keeps both routes as stale.
    kill(&mut daemon);
    drop(daemon);
    wait_for("Weft to see the session go down", CONVERGE, || {
        (weft.state(b.v4()) != State::Established).then_some(())
    });
    wait_for("both routes stale", CONVERGE, || {
        (path_state(&weft, &kept_key) == Some(true) && path_state(&weft, &dropped_key) == Some(true)).then_some(())
    });

    // Back as a restarting speaker, announcing only one of them.
    let daemon = start(&b.netns, &gr_spec(b, a.v4()).restarting());
    daemon.announce(&kept).expect("announce after the restart");
    let until = Instant::now() + ESTABLISH;
    loop {
        let k = path_state(&weft, &kept_key);
        assert!(k.is_some(), "{kept_key} left Weft's RIB during the restart");
        let d = path_state(&weft, &dropped_key);
        if k == Some(false) && d.is_none() {
            break;
        }
        assert!(
            Instant::now() < until,
            "kept={k:?} dropped={d:?} after the restart: {:?}\n{}",
            weft.peer(b.v4()),
            daemon.logs(30)
        );
        // Fine-grained: a flush and re-announcement (no Forwarding State bit) must not slip by.
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = weft.peer(b.v4());
    assert_eq!(status.session.state, State::Established, "{status:?}");
    assert_eq!(status.session.established_transitions, 2, "{status:?}");
    assert_eq!(status.prefixes[&BgpFamily::Ipv4Unicast].received, 1, "{status:?}");
    // The restarted daemon has Weft's route again (it selects routes once Weft's End-of-RIB came).
    daemon
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| {
            weft_peers::find_route(r, ours, None).is_some()
        })
        .expect("the restarted daemon gets Weft's route");
}

#[test]
fn gobgp_restarts_and_weft_keeps_its_routes_until_end_of_rib() {
    daemon_restarts(
        "wspgr-gobgp",
        |ns, spec| Gobgp::start(ns, spec).expect("GoBGP starts"),
        |g| g.kill().expect("kill GoBGP"),
    );
}

#[test]
fn frr_restarts_and_weft_keeps_its_routes_until_end_of_rib() {
    daemon_restarts(
        "wspgr-frr",
        |ns, spec| Frr::start(ns, spec).expect("FRR starts"),
        |f| f.kill().expect("kill FRR"),
    );
}

#[test]
fn bird_restarts_and_weft_keeps_its_routes_until_end_of_rib() {
    daemon_restarts(
        "wspgr-bird",
        |ns, spec| Bird::start(ns, spec).expect("BIRD starts"),
        |b| b.kill().expect("kill BIRD"),
    );
}

/// Weft restarts; the daemon is the receiving speaker (helper). `saw_restart` checks, in the
/// daemon's own view, that Weft's new OPEN had the Restart State and Forwarding State bits and
/// that Weft's End-of-RIB came.
fn weft_restarts<P: Peer>(test: &str, start: impl Fn(&str, &PeerSpec) -> P, saw_restart: impl Fn(&P, IpAddr)) {
    let pnet = PeerNet::pair(test);
    let (a, b) = (pnet.node(0), pnet.node(1));
    let daemon = start(&b.netns, &gr_spec(b, a.v4()));
    let weft = Weft::start(a);
    weft.add_peer(gr_settings(a, b.v4()));
    weft.wait_established(b.v4(), ESTABLISH);
    daemon
        .wait_established(a.v4(), ESTABLISH)
        .expect("the daemon's session is up");
    let kept = net("198.51.100.0/25");
    let dropped = net("198.51.100.128/25");
    for p in [kept, dropped] {
        weft.rt.block_on(weft.handle.announce_prefix(p)).expect("announce");
    }
    let has = |routes: &[Route], p| weft_peers::find_route(routes, p, None).is_some();
    daemon
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| has(r, kept) && has(r, dropped))
        .expect("the daemon has both routes");
    let theirs = Route::unicast(net("203.0.113.0/24"));
    daemon.announce(&theirs).expect("announce");
    weft.wait_route(BgpFamily::Ipv4Unicast, &RouteKey::Prefix(theirs.prefix), true);

    // Crash: the daemon sees the session go and keeps both routes.
    weft.crash();
    wait_for("the daemon to see the session go down", CONVERGE, || {
        let s = daemon.neighbor_state(a.v4()).ok()?;
        (s.state != weft_peers::SessionState::Established).then_some(())
    });
    let held = daemon
        .received_routes(Family::Ipv4Unicast)
        .expect("the daemon's routes");
    assert!(
        has(&held, kept) && has(&held, dropped),
        "the daemon dropped Weft's routes: {held:?}"
    );

    // A new speaker, restarting: it announces only `kept` again.
    let mut config = weft_speaker::SpeakerConfig::new(WEFT_AS, a.ipv4);
    config.restarting = true;
    config.selection_deferral = Duration::from_secs(60);
    let weft = Weft::start_with(a, config);
    weft.rt.block_on(weft.handle.announce_prefix(kept)).expect("announce");
    weft.add_peer(gr_settings(a, b.v4()));
    let started = Instant::now();
    let until = started + ESTABLISH;
    loop {
        let routes = daemon
            .received_routes(Family::Ipv4Unicast)
            .expect("the daemon's routes");
        assert!(
            has(&routes, kept),
            "the daemon lost {kept} during the restart: {routes:?}"
        );
        if !has(&routes, dropped) && weft.state(b.v4()) == State::Established {
            break;
        }
        assert!(
            Instant::now() < until,
            "{dropped} still at the daemon: {routes:?}\n{:?}\n{}",
            weft.peer(b.v4()),
            daemon.logs(30)
        );
        std::thread::sleep(POLL);
    }
    // The deferral ended on the daemon's End-of-RIB, long before its timer; the daemon's route
    // came over meanwhile.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    weft.wait_route(BgpFamily::Ipv4Unicast, &RouteKey::Prefix(theirs.prefix), true);
    let status = weft.peer(b.v4());
    // Our routes and End-of-RIB (an empty UPDATE) went out.
    assert!(status.session.messages_out.update >= 2, "{status:?}");
    assert_eq!(status.prefixes[&BgpFamily::Ipv4Unicast].sent, 1, "{status:?}");
    saw_restart(&daemon, a.v4());
}

/// FRR's `show bgp neighbors ADDR json`: the R bit and IPv4 unicast F bit of the neighbor's
/// OPEN, and its End-of-RIB received.
fn frr_saw_restart(frr: &Frr, weft: IpAddr) {
    let out = frr.vtysh(&[&format!("show bgp neighbors {weft} json")]).expect("vtysh");
    let v: serde_json::Value = serde_json::from_str(&out).expect("FRR's JSON");
    let gr = &v[weft.to_string()]["gracefulRestartInfo"];
    assert_eq!(gr["rBit"], true, "{gr}");
    assert_eq!(gr["ipv4Unicast"]["fBit"], true, "{gr}");
    assert_eq!(gr["endOfRibRecv"]["ipv4Unicast"], true, "{gr}");
}

/// Standard base64 (GoBGP's JSON carries capabilities as protobuf bytes).
fn base64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// GoBGP's `gobgp neighbor ADDR -j`: the neighbor's graceful restart capability (apipb
/// GracefulRestartCapability: field 1 the flags, R = 0x08; each tuple's field 2 its flags, F =
/// 0x80) and End-of-RIB received.
fn gobgp_saw_restart(gobgp: &Gobgp, weft: IpAddr) {
    let out = gobgp
        .cli(&["neighbor", &weft.to_string(), "-j"])
        .expect("gobgp neighbor");
    let v: serde_json::Value = serde_json::from_str(&out).expect("GoBGP's JSON");
    let cap = v["state"]["remote_cap"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| {
            c["type_url"]
                .as_str()
                .is_some_and(|t| t.ends_with("GracefulRestartCapability"))
        })
        .and_then(|c| c["value"].as_str())
        .map(base64)
        .expect("Weft's graceful restart capability");
    assert_eq!(cap.first(), Some(&0x08), "{cap:02x?}");
    assert_ne!(cap.get(1).copied().unwrap_or(0) & 0x08, 0, "no R bit: {cap:02x?}");
    assert!(cap.ends_with(&[0x10, 0x80, 0x01]), "no F bit: {cap:02x?}");
    let eor = &v["afi_safis"][0]["mp_graceful_restart"]["state"]["end_of_rib_received"];
    assert_eq!(eor, &serde_json::Value::Bool(true), "{v}");
}

#[test]
fn weft_restarts_and_gobgp_keeps_its_routes_until_end_of_rib() {
    weft_restarts(
        "wspwr-gobgp",
        |ns, spec| Gobgp::start(ns, spec).expect("GoBGP starts"),
        gobgp_saw_restart,
    );
}

#[test]
fn weft_restarts_and_frr_keeps_its_routes_until_end_of_rib() {
    weft_restarts(
        "wspwr-frr",
        |ns, spec| Frr::start(ns, spec).expect("FRR starts"),
        frr_saw_restart,
    );
}

#[test]
fn weft_restarts_and_bird_keeps_its_routes_until_end_of_rib() {
    // BIRD's `show protocols all` does not show the neighbor's restart flags.
    weft_restarts(
        "wspwr-bird",
        |ns, spec| Bird::start(ns, spec).expect("BIRD starts"),
        |_, _| {},
    );
}

/// A restarting Weft waits for every graceful peer: one that never comes back holds all
/// advertisements until the Selection_Deferral_Timer (RFC 4724 §4.1), then they go.
#[test]
fn a_peer_that_never_comes_back_holds_advertisements_until_the_deferral_timer() {
    let pnet = PeerNet::pair("wspdef-gobgp");
    let (a, b) = (pnet.node(0), pnet.node(1));
    let gobgp = Gobgp::start(&b.netns, &gr_spec(b, a.v4())).expect("GoBGP starts");
    let mut config = weft_speaker::SpeakerConfig::new(WEFT_AS, a.ipv4);
    config.restarting = true;
    let deferral = Duration::from_secs(5);
    config.selection_deferral = deferral;
    let weft = Weft::start_with(a, config);
    let started = Instant::now();
    let ours = net("198.51.100.0/24");
    weft.rt.block_on(weft.handle.announce_prefix(ours)).expect("announce");
    // Configured with graceful restart, never up (nobody at 192.0.2.50); added first, since the
    // deferral waits for the peers configured when it is checked.
    weft.add_peer(gr_settings(a, "192.0.2.50".parse().expect("an address")));
    weft.add_peer(gr_settings(a, b.v4()));
    weft.wait_established(b.v4(), ESTABLISH);
    gobgp
        .wait_established(a.v4(), ESTABLISH)
        .expect("GoBGP's session is up");
    // GoBGP's End-of-RIB came, the other peer's cannot: nothing goes out before the timer.
    while started.elapsed() + Duration::from_millis(500) < deferral {
        let routes = gobgp.received_routes(Family::Ipv4Unicast).expect("GoBGP's routes");
        assert!(
            routes.is_empty(),
            "advertised during the deferral, after {:?}: {routes:?}",
            started.elapsed()
        );
        std::thread::sleep(POLL);
    }
    gobgp
        .wait_for_routes(Family::Ipv4Unicast, CONVERGE, &|r| {
            weft_peers::find_route(r, ours, None).is_some()
        })
        .expect("GoBGP gets the route once the timer ran out");
    assert!(started.elapsed() >= deferral, "{:?}", started.elapsed());
}
