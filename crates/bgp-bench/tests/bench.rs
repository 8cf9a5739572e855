//! The benchmark's machinery at a small size, for correctness, not speed (needs root, and FRR
//! for the second test): every prefix the generators announce reaches the monitor through the
//! target, and withdrawing them all empties the monitor. Weft runs inside this process.

use std::time::Duration;

use weft_bgp::family::Family;
use weft_bgp_bench::target::WeftLaunch;
use weft_bgp_bench::{Scenario, TargetKind};

fn scenario(target: TargetKind, family: Family, name: &str) -> Scenario {
    Scenario {
        target,
        peers: 2,
        prefixes: 2000,
        family,
        withdraw: true,
        timeout: Duration::from_secs(60),
        stable: Duration::from_millis(300),
        ns_prefix: format!("bbt{}-{name}", std::process::id()),
        weft: WeftLaunch::InProcess,
    }
}

fn check(s: &Scenario) {
    let o = weft_bgp_bench::run(s, &mut |m| eprintln!("[{}] {m}", s.target.name())).unwrap();
    assert_eq!(o.status, "ok", "{o:?}");
    assert!(o.load_s.is_some() && o.withdraw_s.is_some(), "{o:?}");
    assert_eq!(o.monitor_routes, 0, "withdraw-all must leave the monitor empty: {o:?}");
    // The generators' sessions export nothing: at most End-of-RIB and keepalives come back.
    assert!(o.generator_rx_bytes < 1000, "{o:?}");
    // Nothing of the run is left behind.
    let left = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    assert!(!left.contains(&s.ns_prefix), "namespaces left: {left}");
}

#[test]
fn weft_carries_every_prefix_and_withdraws_them_all() {
    check(&scenario(TargetKind::Weft, Family::Ipv4Unicast, "w4"));
    check(&scenario(TargetKind::Weft, Family::Vpnv4, "w6"));
}

#[test]
fn frr_carries_every_prefix_and_withdraws_them_all() {
    check(&scenario(TargetKind::Frr, Family::Ipv4Unicast, "f4"));
}

#[test]
fn updates_are_packed_and_unique() {
    // 2000 /24s of one peer: 4 octets each, about a thousand per 4096-octet UPDATE.
    let (bytes, counts) = weft_bgp_bench::generator::announcements(1, 2000, Family::Ipv4Unicast).unwrap();
    assert_eq!(counts.iter().sum::<usize>(), 2000);
    assert!(counts.len() <= 3, "{counts:?}");
    assert!(bytes.len() < 3 * 4096);
    let (_, vpn) = weft_bgp_bench::generator::announcements(1, 2000, Family::Vpnv4).unwrap();
    assert_eq!(vpn.iter().sum::<usize>(), 2000);
    assert!(vpn.len() <= 10, "{vpn:?}");
    assert_ne!(
        weft_bgp_bench::generator::prefix(0),
        weft_bgp_bench::generator::prefix(1)
    );
}
