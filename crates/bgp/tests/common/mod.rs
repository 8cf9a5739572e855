//! Shared by the integration tests: loading the golden vectors.
#![allow(dead_code)]

pub mod strategy;

use std::path::PathBuf;

use weft_bgp::{Family, SessionCaps};

/// Every golden vector and the receive context of the session it was captured on.
pub fn golden_files() -> Vec<(&'static str, SessionCaps)> {
    let four = SessionCaps {
        four_octet_as: true,
        ..SessionCaps::default()
    };
    let two = SessionCaps::default();
    let add_path = SessionCaps {
        four_octet_as: true,
        add_path: [Family::Ipv4Unicast].into_iter().collect(),
        ..SessionCaps::default()
    };
    let mut out = Vec::new();
    for name in [
        "gobgp_open_unicast",
        "gobgp_keepalive",
        "gobgp_update_ipv4_communities",
        "gobgp_update_ipv4_as_path",
        "gobgp_update_ipv6",
        "gobgp_withdraw_ipv4",
        "gobgp_withdraw_ipv6",
        "gobgp_notification_shutdown",
        "gobgp_open_vpn",
        "gobgp_update_vpnv4",
        "gobgp_update_vpnv6",
        "gobgp_update_evpn5_ipv4",
        "gobgp_update_evpn5_ipv6",
        "gobgp_update_rtc",
        "gobgp_withdraw_vpnv4",
        "gobgp_withdraw_vpnv6",
        "gobgp_withdraw_evpn5",
        "gobgp_notification_reset",
    ] {
        out.push((name, four.clone()));
    }
    out.push(("gobgp_open_as4_graceful_restart", two.clone()));
    out.push(("gobgp_update_as4_path", two));
    for name in [
        "gobgp_open_add_path",
        "gobgp_update_add_path_1",
        "gobgp_update_add_path_2",
        "gobgp_withdraw_add_path",
    ] {
        out.push((name, add_path.clone()));
    }
    out
}

/// The octets of `tests/golden/NAME.hex`: lines starting with `#` are comments, whitespace is
/// ignored.
pub fn golden(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.hex"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hex: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(hex.len().is_multiple_of(2), "{name}: odd number of hex digits");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}
