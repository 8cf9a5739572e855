//! CHECK's comparison of `prevResult` (the ADD's result, cached by the runtime) with what the
//! agent reports (spec §2 "CHECK": "The plugin must consult the prevResult to determine the
//! expected interfaces and addresses").
//!
//! Later plugins in a chain may change things (the spec's example has `tuning` change the MAC), so
//! only what this plugin owns is compared: the container interface's name and sandbox, and that
//! every address the agent holds for the attachment is listed in `prevResult` on that interface.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::env::AttachmentEnv;
use crate::error::CniError;
use crate::protocol::{AttachResult, codes};
use crate::result::parse_cidr;

fn mismatch(details: String) -> CniError {
    CniError::new(codes::CHECK_MISMATCH, "attachment differs from prevResult", details)
}

/// Ok when `prev` describes the attachment in `env` and agrees with the agent's `current` state
/// (when the agent reports one).
pub fn compare(prev: &Map<String, Value>, env: &AttachmentEnv, current: Option<&AttachResult>) -> Result<(), CniError> {
    let Some(Value::Array(interfaces)) = prev.get("interfaces") else {
        return Err(CniError::invalid_config(
            "field \"prevResult.interfaces\" is missing or not an array: CHECK needs the ADD's \
             result",
        ));
    };
    let netns = env.netns.as_deref().unwrap_or_default();
    let named: Vec<(usize, &Map<String, Value>)> = interfaces
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.as_object().map(|o| (i, o)))
        .filter(|(_, o)| o.get("name").and_then(Value::as_str) == Some(&env.ifname))
        .collect();
    let Some(&(index, _)) = named
        .iter()
        .find(|(_, o)| o.get("sandbox").and_then(Value::as_str) == Some(netns))
    else {
        let found = named
            .first()
            .and_then(|(_, o)| o.get("sandbox"))
            .and_then(Value::as_str);
        return Err(mismatch(match found {
            Some(s) => format!(
                "prevResult puts {} in sandbox {s:?}, but CNI_NETNS is {netns:?}",
                env.ifname
            ),
            None => format!(
                "prevResult lists no interface {:?} in sandbox {netns:?} (CNI_IFNAME, CNI_NETNS)",
                env.ifname
            ),
        }));
    };

    let Some(current) = current else {
        return Ok(());
    };
    if current.container_interface != env.ifname {
        return Err(mismatch(format!(
            "the agent's attachment uses interface {:?}, but CNI_IFNAME is {:?}",
            current.container_interface, env.ifname
        )));
    }
    let listed: Vec<(IpAddr, u8)> = match prev.get("ips") {
        Some(Value::Array(ips)) => ips
            .iter()
            .filter(|ip| ip.get("interface").and_then(Value::as_u64) == Some(index as u64))
            .filter_map(|ip| ip.get("address").and_then(Value::as_str))
            .filter_map(parse_cidr)
            .collect(),
        _ => Vec::new(),
    };
    for a in &current.addresses {
        let parsed = parse_cidr(a).ok_or_else(|| {
            CniError::bad_agent_response(format!("address {a:?} is not an IP address with a prefix length"))
        })?;
        if !listed.contains(&parsed) {
            return Err(mismatch(format!(
                "the agent holds {a} for {} but prevResult does not list it on that interface",
                env.ifname
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::CniArgs;
    use serde_json::json;

    fn env() -> AttachmentEnv {
        AttachmentEnv {
            container_id: "c1".into(),
            netns: Some("/var/run/netns/p".into()),
            ifname: "eth0".into(),
            args: CniArgs::default(),
        }
    }

    fn prev() -> Map<String, Value> {
        json!({
            "cniVersion": "1.1.0",
            "interfaces": [
                {"name": "weftab", "mac": "ee:ee:ee:ee:ee:ee"},
                {"name": "eth0", "mac": "00:11:22:33:44:66", "sandbox": "/var/run/netns/p"},
            ],
            "ips": [
                {"address": "10.244.0.5/32", "gateway": "169.254.1.1", "interface": 1},
                {"address": "fd00::0005/128", "interface": 1},
            ],
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn current(addresses: &[&str]) -> AttachResult {
        AttachResult {
            host_interface: "weftab".into(),
            host_mac: "ee:ee:ee:ee:ee:ee".into(),
            container_interface: "eth0".into(),
            // Different from prevResult's: a later plugin may have changed it.
            container_mac: "02:00:00:00:00:01".into(),
            sandbox: "/var/run/netns/p".into(),
            addresses: addresses.iter().map(|s| s.to_string()).collect(),
            gateways: vec![],
            routes: vec![],
            mtu: 1450,
        }
    }

    #[test]
    fn matching_prev_result_passes() {
        assert_eq!(compare(&prev(), &env(), None), Ok(()));
        let cur = current(&["10.244.0.5/32", "fd00::5/128"]);
        assert_eq!(compare(&prev(), &env(), Some(&cur)), Ok(()));
    }

    #[test]
    fn an_address_the_prev_result_lacks_is_a_mismatch() {
        let cur = current(&["10.244.0.6/32"]);
        let e = compare(&prev(), &env(), Some(&cur)).unwrap_err();
        assert_eq!(e.code, codes::CHECK_MISMATCH);
        assert!(e.details.contains("10.244.0.6/32"), "{e}");
    }

    #[test]
    fn wrong_sandbox_or_missing_interface_is_a_mismatch() {
        let mut e = env();
        e.netns = Some("/var/run/netns/other".into());
        let err = compare(&prev(), &e, None).unwrap_err();
        assert_eq!(err.code, codes::CHECK_MISMATCH);
        assert!(err.details.contains("/var/run/netns/other"), "{err}");
        let mut e = env();
        e.ifname = "net1".into();
        let err = compare(&prev(), &e, None).unwrap_err();
        assert!(err.details.contains("no interface \"net1\""), "{err}");
    }

    #[test]
    fn prev_result_without_interfaces_is_invalid_config() {
        let p = json!({"ips": []}).as_object().cloned().unwrap();
        let e = compare(&p, &env(), None).unwrap_err();
        assert_eq!(e.code, codes::INVALID_CONFIG);
        assert!(e.details.contains("prevResult.interfaces"), "{e}");
    }
}
