//! The agent's [`AttachResult`] as a CNI ADD result (spec §5 "ADD Success") in the config's
//! version.
//!
//! Shape: `interfaces` lists the host-side veth (index 0, no `sandbox`: it is on the host) and the
//! container interface (index 1, `sandbox` = CNI_NETNS); every `ips` entry points at index 1.
//! Versions differ only in two places: 0.3.x/0.4.0 put `version` ("4"/"6") on each IP, and 1.1.0
//! adds `mtu` to interfaces.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::CniError;
use crate::protocol::AttachResult;
use crate::version::CniVersion;

/// Index of the container interface in `interfaces`.
pub const CONTAINER_INTERFACE_INDEX: usize = 1;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CniResult<'a> {
    cni_version: &'static str,
    interfaces: [Interface<'a>; 2],
    ips: Vec<IpConfig<'a>>,
    routes: Vec<Route<'a>>,
    dns: Value,
}

#[derive(Debug, Serialize)]
struct Interface<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    mac: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct IpConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'static str>,
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<&'a str>,
    interface: usize,
}

#[derive(Debug, Serialize)]
struct Route<'a> {
    dst: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    gw: Option<&'a str>,
}

/// The address part of `10.0.0.5/32`, checking the prefix length fits the family.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

/// Renders the ADD result. `dns` is the config's `dns` object, passed through (spec §1 lists it
/// as DNS information the plugin reports); `{}` when the config has none.
pub fn render(r: &AttachResult, version: CniVersion, dns: Option<&Map<String, Value>>) -> Result<Value, CniError> {
    let mtu = (version.interfaces_carry_mtu() && r.mtu > 0).then_some(r.mtu);
    let mut gateways = Vec::with_capacity(r.gateways.len());
    for g in &r.gateways {
        let ip: IpAddr = g
            .parse()
            .map_err(|_| CniError::bad_agent_response(format!("gateway {g:?} is not an IP address")))?;
        gateways.push((ip, g.as_str()));
    }
    let mut ips = Vec::with_capacity(r.addresses.len());
    for a in &r.addresses {
        let (ip, _) = parse_cidr(a).ok_or_else(|| {
            CniError::bad_agent_response(format!("address {a:?} is not an IP address with a prefix length"))
        })?;
        let gateway = gateways
            .iter()
            .find(|(g, _)| g.is_ipv4() == ip.is_ipv4())
            .map(|(_, s)| *s);
        ips.push(IpConfig {
            version: version
                .ips_carry_version()
                .then_some(if ip.is_ipv4() { "4" } else { "6" }),
            address: a,
            gateway,
            interface: CONTAINER_INTERFACE_INDEX,
        });
    }
    let result = CniResult {
        cni_version: version.as_str(),
        interfaces: [
            Interface {
                name: &r.host_interface,
                mac: &r.host_mac,
                mtu,
                sandbox: None,
            },
            Interface {
                name: &r.container_interface,
                mac: &r.container_mac,
                mtu,
                sandbox: Some(&r.sandbox),
            },
        ],
        ips,
        routes: r
            .routes
            .iter()
            .map(|rt| Route {
                dst: &rt.dst,
                gw: rt.gw.as_deref(),
            })
            .collect(),
        dns: Value::Object(dns.cloned().unwrap_or_default()),
    };
    serde_json::to_value(&result).map_err(|e| CniError::bad_agent_response(format!("cannot render the result: {e}")))
}

/// ADD with a `prevResult` (this plugin is not first in its chain): the spec requires passing
/// the previous result on, modified. Ours is appended: interfaces, IPs (with `interface` indices
/// shifted past the previous interfaces) and routes; the previous `dns` wins if it says anything.
pub fn merge_into_prev(prev: &Map<String, Value>, ours: Value) -> Result<Value, CniError> {
    let Value::Object(mut ours) = ours else {
        return Err(CniError::bad_agent_response("rendered result is not an object"));
    };
    let mut merged = prev.clone();
    let prev_list = |key: &str| -> Result<Vec<Value>, CniError> {
        match prev.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(_) => Err(CniError::invalid_config(format!(
                "field \"prevResult.{key}\": expected an array"
            ))),
        }
    };
    let take = |ours: &mut Map<String, Value>, key: &str| match ours.remove(key) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };

    let mut interfaces = prev_list("interfaces")?;
    let offset = interfaces.len();
    interfaces.extend(take(&mut ours, "interfaces"));

    let mut ips = prev_list("ips")?;
    for mut ip in take(&mut ours, "ips") {
        if let Some(i) = ip.get("interface").and_then(Value::as_u64) {
            ip["interface"] = Value::from(i + offset as u64);
        }
        ips.push(ip);
    }

    let mut routes = prev_list("routes")?;
    routes.extend(take(&mut ours, "routes"));

    let prev_dns_empty = match prev.get("dns") {
        None | Some(Value::Null) => true,
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    };
    if prev_dns_empty {
        merged.insert("dns".into(), ours.remove("dns").unwrap_or_default());
    }
    if let Some(v) = ours.remove("cniVersion") {
        merged.insert("cniVersion".into(), v);
    }
    merged.insert("interfaces".into(), Value::Array(interfaces));
    merged.insert("ips".into(), Value::Array(ips));
    merged.insert("routes".into(), Value::Array(routes));
    Ok(Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{RouteEntry, codes};
    use serde_json::json;

    fn dual_stack() -> AttachResult {
        AttachResult {
            host_interface: "weft1a2b3c".into(),
            host_mac: "ee:ee:ee:ee:ee:ee".into(),
            container_interface: "eth0".into(),
            container_mac: "02:42:0a:f4:00:05".into(),
            sandbox: "/var/run/netns/pod1".into(),
            addresses: vec!["10.244.0.5/32".into(), "fd00:10:244::5/128".into()],
            gateways: vec!["169.254.1.1".into(), "fe80::1".into()],
            routes: vec![
                RouteEntry {
                    dst: "0.0.0.0/0".into(),
                    gw: Some("169.254.1.1".into()),
                },
                RouteEntry {
                    dst: "::/0".into(),
                    gw: Some("fe80::1".into()),
                },
                RouteEntry {
                    dst: "169.254.1.1/32".into(),
                    gw: None,
                },
            ],
            mtu: 1450,
        }
    }

    fn routes() -> Value {
        json!([
            {"dst": "0.0.0.0/0", "gw": "169.254.1.1"},
            {"dst": "::/0", "gw": "fe80::1"},
            {"dst": "169.254.1.1/32"},
        ])
    }

    #[test]
    fn renders_1_1_0_with_interface_mtu() {
        let v = render(&dual_stack(), CniVersion::V1_1_0, None).unwrap();
        assert_eq!(
            v,
            json!({
                "cniVersion": "1.1.0",
                "interfaces": [
                    {"name": "weft1a2b3c", "mac": "ee:ee:ee:ee:ee:ee", "mtu": 1450},
                    {"name": "eth0", "mac": "02:42:0a:f4:00:05", "mtu": 1450,
                     "sandbox": "/var/run/netns/pod1"},
                ],
                "ips": [
                    {"address": "10.244.0.5/32", "gateway": "169.254.1.1", "interface": 1},
                    {"address": "fd00:10:244::5/128", "gateway": "fe80::1", "interface": 1},
                ],
                "routes": routes(),
                "dns": {},
            })
        );
    }

    #[test]
    fn renders_1_0_0_without_interface_mtu() {
        let v = render(&dual_stack(), CniVersion::V1_0_0, None).unwrap();
        assert_eq!(
            v,
            json!({
                "cniVersion": "1.0.0",
                "interfaces": [
                    {"name": "weft1a2b3c", "mac": "ee:ee:ee:ee:ee:ee"},
                    {"name": "eth0", "mac": "02:42:0a:f4:00:05", "sandbox": "/var/run/netns/pod1"},
                ],
                "ips": [
                    {"address": "10.244.0.5/32", "gateway": "169.254.1.1", "interface": 1},
                    {"address": "fd00:10:244::5/128", "gateway": "fe80::1", "interface": 1},
                ],
                "routes": routes(),
                "dns": {},
            })
        );
    }

    #[test]
    fn renders_0_4_0_and_0_3_1_with_ip_versions() {
        for version in [CniVersion::V0_4_0, CniVersion::V0_3_1] {
            let v = render(&dual_stack(), version, None).unwrap();
            assert_eq!(
                v,
                json!({
                    "cniVersion": version.as_str(),
                    "interfaces": [
                        {"name": "weft1a2b3c", "mac": "ee:ee:ee:ee:ee:ee"},
                        {"name": "eth0", "mac": "02:42:0a:f4:00:05",
                         "sandbox": "/var/run/netns/pod1"},
                    ],
                    "ips": [
                        {"version": "4", "address": "10.244.0.5/32", "gateway": "169.254.1.1",
                         "interface": 1},
                        {"version": "6", "address": "fd00:10:244::5/128", "gateway": "fe80::1",
                         "interface": 1},
                    ],
                    "routes": routes(),
                    "dns": {},
                }),
                "{version}"
            );
        }
    }

    #[test]
    fn gateway_only_of_the_same_family_and_dns_passed_through() {
        let mut r = dual_stack();
        r.gateways = vec!["fe80::1".into()];
        r.mtu = 0;
        let dns = json!({"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]});
        let v = render(&r, CniVersion::V1_1_0, dns.as_object()).unwrap();
        assert_eq!(v["ips"][0], json!({"address": "10.244.0.5/32", "interface": 1}));
        assert_eq!(v["ips"][1]["gateway"], "fe80::1");
        assert_eq!(v["interfaces"][0].get("mtu"), None);
        assert_eq!(v["dns"], dns);
    }

    #[test]
    fn bad_agent_addresses_are_reported() {
        for bad in ["10.0.0.5", "10.0.0.5/33", "fd00::1/129", "x/24", "10.0.0.5/"] {
            let mut r = dual_stack();
            r.addresses = vec![bad.into()];
            let e = render(&r, CniVersion::V1_1_0, None).unwrap_err();
            assert_eq!(e.code, codes::BAD_AGENT_RESPONSE, "{bad}");
            assert!(e.details.contains(bad), "{e}");
        }
        let mut r = dual_stack();
        r.gateways = vec!["gw".into()];
        assert_eq!(
            render(&r, CniVersion::V1_1_0, None).unwrap_err().code,
            codes::BAD_AGENT_RESPONSE
        );
    }

    #[test]
    fn merges_into_a_previous_result() {
        let prev = json!({
            "cniVersion": "1.0.0",
            "interfaces": [{"name": "other0", "mac": "00:11:22:33:44:55"}],
            "ips": [{"address": "192.0.2.5/24", "interface": 0}],
            "routes": [{"dst": "192.0.2.0/24"}],
            "dns": {"nameservers": ["192.0.2.53"]},
        });
        let ours = render(&dual_stack(), CniVersion::V1_0_0, None).unwrap();
        let merged = merge_into_prev(prev.as_object().unwrap(), ours).unwrap();
        assert_eq!(merged["cniVersion"], "1.0.0");
        let names: Vec<_> = merged["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["other0", "weft1a2b3c", "eth0"]);
        let idx: Vec<_> = merged["ips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["interface"].as_u64().unwrap())
            .collect();
        assert_eq!(idx, [0, 2, 2]);
        assert_eq!(merged["routes"].as_array().unwrap().len(), 4);
        assert_eq!(merged["dns"], json!({"nameservers": ["192.0.2.53"]}));

        let bad = json!({"interfaces": "x"});
        let ours = render(&dual_stack(), CniVersion::V1_0_0, None).unwrap();
        let e = merge_into_prev(bad.as_object().unwrap(), ours).unwrap_err();
        assert_eq!(e.code, codes::INVALID_CONFIG);
        assert!(e.details.contains("prevResult.interfaces"), "{e}");
    }

    #[test]
    fn parse_cidr_checks_prefix_lengths() {
        assert_eq!(parse_cidr("10.0.0.1/32").map(|(_, l)| l), Some(32));
        assert_eq!(parse_cidr("::/0").map(|(_, l)| l), Some(0));
        assert_eq!(parse_cidr("10.0.0.1/33"), None);
        assert_eq!(parse_cidr("10.0.0.1"), None);
    }
}
