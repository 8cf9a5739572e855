//! The plugin configuration object on stdin (spec §1 "Plugin configuration objects" and §3
//! "Deriving request configuration"): the runtime injects `cniVersion` and `name` from the network
//! configuration and adds `runtimeConfig`, `prevResult` or `cni.dev/valid-attachments`.
//!
//! Stdin that is not a JSON object is a decode failure (code 6); a JSON object whose fields are
//! wrong is an invalid config (code 7) whose details name the field and the fix. Fields this plugin
//! does not know are accepted, since runtimes pass every field of the plugin object through.

use serde_json::{Map, Value};

use crate::env::is_cni_name;
use crate::error::CniError;
use crate::protocol::{AttachmentKey, DEFAULT_AGENT_SOCKET, codes};
use crate::version::CniVersion;

/// Smallest and largest `mtu` accepted: IPv4's minimum datagram size, and jumbo frames.
pub const MTU_RANGE: std::ops::RangeInclusive<u32> = 576..=9000;

/// A unix socket path must fit `sockaddr_un.sun_path` (108 bytes with the terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// GC's list of attachments still in use. libcni sends `cni.dev/valid-attachments`; the text of
/// the spec-v1.1.0 tag called it `cni.dev/attachments`, which is accepted too.
pub const VALID_ATTACHMENTS: &str = "cni.dev/valid-attachments";
pub const VALID_ATTACHMENTS_OLD: &str = "cni.dev/attachments";

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConf {
    pub cni_version: CniVersion,
    /// The network's name; the agent keys attachments by it.
    pub name: String,
    /// The plugin's `type` (the binary's name, normally "weft").
    pub plugin_type: String,
    /// Where the agent listens (`agentSocket`).
    pub agent_socket: String,
    /// `mtu` of the pod interface, overriding the agent's.
    pub mtu: Option<u32>,
    /// The result of the previous plugin (ADD in a chain) or of the ADD (CHECK, DEL).
    pub prev_result: Option<Map<String, Value>>,
    /// Capability arguments; accepted and not used yet.
    pub runtime_config: Option<Map<String, Value>>,
    /// `dns` (spec §1 "well-known"): passed through into the ADD result.
    pub dns: Option<Map<String, Value>>,
    /// `args` (CONVENTIONS.md `args.cni`); accepted and not used.
    pub args: Option<Map<String, Value>>,
    /// GC only.
    pub valid_attachments: Option<Vec<AttachmentKey>>,
}

/// Stdin as a JSON object, or code 6.
pub fn decode(stdin: &[u8]) -> Result<Map<String, Value>, CniError> {
    if stdin.iter().all(u8::is_ascii_whitespace) {
        return Err(CniError::decode(
            "stdin is empty: the runtime must pass the plugin configuration as JSON on stdin",
        ));
    }
    match serde_json::from_slice::<Value>(stdin) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(CniError::decode(format!(
            "stdin is JSON {}, not an object: pass the plugin configuration object",
            kind(&other)
        ))),
        Err(e) => Err(CniError::decode(format!("stdin is not valid JSON: {e}"))),
    }
}

/// The version to write into an error result: the config's if we speak it, else the newest.
pub fn version_hint(map: Option<&Map<String, Value>>) -> CniVersion {
    map.and_then(|m| m.get("cniVersion"))
        .and_then(Value::as_str)
        .and_then(CniVersion::parse)
        .unwrap_or(CniVersion::LATEST)
}

impl NetConf {
    /// Validates every field this plugin reads. `cniVersion` is checked first, since a config in a
    /// version we do not speak cannot be interpreted further.
    pub fn from_map(map: &Map<String, Value>) -> Result<NetConf, CniError> {
        let mut conf = Self::essentials(map)?;
        if let Some(ipam) = present(map, "ipam") {
            // Spec code 2 for a field the plugin cannot honour; silently ignoring it would leave
            // an operator believing their IPAM plugin is in use.
            return Err(CniError::new(
                codes::UNSUPPORTED_FIELD,
                "unsupported field in network config",
                format!(
                    "field \"ipam\": {ipam} is not supported: weft allocates addresses through \
                     its controller; remove the field"
                ),
            ));
        }
        conf.mtu = mtu(map)?;
        conf.prev_result = opt_object(map, "prevResult")?;
        conf.runtime_config = opt_object(map, "runtimeConfig")?;
        conf.dns = opt_object(map, "dns")?;
        conf.args = opt_object(map, "args")?;
        conf.valid_attachments = valid_attachments(map)?;
        Ok(conf)
    }

    /// For DEL: only what is needed to reach the agent and name the attachment (`cniVersion`,
    /// `name`, `type`, `agentSocket`); every other field is left unset and not validated. DEL is
    /// best-effort (spec §2 DEL) and the runtime retries it until it succeeds, so a config edited
    /// into an invalid state after ADD (a bad `mtu`, say) must not leave pods stuck in deletion.
    pub fn for_del(map: &Map<String, Value>) -> Result<NetConf, CniError> {
        Self::essentials(map)
    }

    fn essentials(map: &Map<String, Value>) -> Result<NetConf, CniError> {
        let cni_version = CniVersion::negotiate(opt_str(map, "cniVersion")?)?;

        let name = required_str(map, "name", "the network's name")?;
        if !is_cni_name(name) {
            return Err(CniError::invalid_config(format!(
                "field \"name\": {name:?} is invalid: it must start with a letter or digit, \
                 followed by letters, digits, '_', '.' or '-'"
            )));
        }
        let plugin_type = required_str(map, "type", "the plugin binary's name, \"weft\"")?;

        let agent_socket = opt_str(map, "agentSocket")?.unwrap_or(DEFAULT_AGENT_SOCKET);
        if !agent_socket.starts_with('/') {
            return Err(CniError::invalid_config(format!(
                "field \"agentSocket\": {agent_socket:?} is not an absolute path: use one such as \
                 {DEFAULT_AGENT_SOCKET}"
            )));
        }
        if agent_socket.len() > MAX_SOCKET_PATH {
            return Err(CniError::invalid_config(format!(
                "field \"agentSocket\": {agent_socket:?} is longer than {MAX_SOCKET_PATH} bytes, \
                 the limit for a unix socket path: use a shorter path"
            )));
        }

        Ok(NetConf {
            cni_version,
            name: name.to_owned(),
            plugin_type: plugin_type.to_owned(),
            agent_socket: agent_socket.to_owned(),
            mtu: None,
            prev_result: None,
            runtime_config: None,
            dns: None,
            args: None,
            valid_attachments: None,
        })
    }
}

/// A field that is present and not `null` (runtimes may write absent options as `null`).
fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(field: &str, expected: &str, got: &Value) -> CniError {
    CniError::invalid_config(format!(
        "field \"{field}\": expected {expected}, got {} {got}",
        kind(got)
    ))
}

fn opt_str<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, CniError> {
    match present(map, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(wrong_type(key, "a string", v)),
    }
}

fn required_str<'a>(map: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a str, CniError> {
    match opt_str(map, key)? {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(CniError::invalid_config(format!(
            "field \"{key}\" is empty: set it to {what}"
        ))),
        None => Err(CniError::invalid_config(format!(
            "field \"{key}\" is missing: set it to {what}"
        ))),
    }
}

fn opt_object(map: &Map<String, Value>, key: &str) -> Result<Option<Map<String, Value>>, CniError> {
    match present(map, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o.clone())),
        Some(v) => Err(wrong_type(key, "an object", v)),
    }
}

fn mtu(map: &Map<String, Value>) -> Result<Option<u32>, CniError> {
    let Some(v) = present(map, "mtu") else {
        return Ok(None);
    };
    let range = format!("{}-{}", MTU_RANGE.start(), MTU_RANGE.end());
    let Some(n) = v.as_i64().or_else(|| v.as_u64().map(|_| i64::MAX)) else {
        return Err(wrong_type("mtu", &format!("an integer {range}"), v));
    };
    match u32::try_from(n) {
        Ok(m) if MTU_RANGE.contains(&m) => Ok(Some(m)),
        _ => Err(CniError::invalid_config(format!(
            "field \"mtu\": {v} is out of range: must be {range}"
        ))),
    }
}

fn valid_attachments(map: &Map<String, Value>) -> Result<Option<Vec<AttachmentKey>>, CniError> {
    let (key, list) = match (present(map, VALID_ATTACHMENTS), present(map, VALID_ATTACHMENTS_OLD)) {
        (Some(v), _) => (VALID_ATTACHMENTS, v),
        (None, Some(v)) => (VALID_ATTACHMENTS_OLD, v),
        (None, None) => return Ok(None),
    };
    let Value::Array(items) = list else {
        return Err(wrong_type(key, "an array", list));
    };
    let mut keys = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(o) = item else {
            return Err(wrong_type(
                &format!("{key}[{i}]"),
                "an object with containerID and ifname",
                item,
            ));
        };
        let field = |name: &str| -> Result<String, CniError> {
            match o.get(name) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(Value::String(_)) | None | Some(Value::Null) => Err(CniError::invalid_config(format!(
                    "field \"{key}[{i}].{name}\" is missing or empty: each valid attachment \
                         needs containerID and ifname"
                ))),
                Some(v) => Err(wrong_type(&format!("{key}[{i}].{name}"), "a string", v)),
            }
        };
        keys.push(AttachmentKey {
            container_id: field("containerID")?,
            ifname: field("ifname")?,
        });
    }
    Ok(Some(keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"cniVersion": "1.1.0", "name": "weft", "type": "weft"})
    }

    fn with(field: &str, value: Value) -> Map<String, Value> {
        let mut v = base();
        v[field] = value;
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn parse(v: Value) -> Result<NetConf, CniError> {
        let bytes = serde_json::to_vec(&v).unwrap();
        NetConf::from_map(&decode(&bytes)?)
    }

    fn config_err(map: Map<String, Value>) -> CniError {
        NetConf::from_map(&map).unwrap_err()
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(base()).unwrap();
        assert_eq!(c.cni_version, CniVersion::V1_1_0);
        assert_eq!(c.name, "weft");
        assert_eq!(c.plugin_type, "weft");
        assert_eq!(c.agent_socket, DEFAULT_AGENT_SOCKET);
        assert_eq!(c.mtu, None);
        assert_eq!(c.prev_result, None);
        assert_eq!(c.valid_attachments, None);
    }

    #[test]
    fn full_config() {
        let c = parse(json!({
            "cniVersion": "0.4.0",
            "name": "pods",
            "type": "weft",
            "agentSocket": "/tmp/x/agent.sock",
            "mtu": 1450,
            "runtimeConfig": {"portMappings": []},
            "prevResult": {"interfaces": []},
            "dns": {"nameservers": ["10.96.0.10"]},
            "args": {"cni": {}},
            "capabilities": {"portMappings": true},
            "somethingElse": [1, 2],
        }))
        .unwrap();
        assert_eq!(c.cni_version, CniVersion::V0_4_0);
        assert_eq!(c.agent_socket, "/tmp/x/agent.sock");
        assert_eq!(c.mtu, Some(1450));
        assert!(c.prev_result.is_some());
        assert!(c.runtime_config.is_some());
        assert_eq!(c.dns.unwrap()["nameservers"], json!(["10.96.0.10"]));
    }

    #[test]
    fn null_means_absent() {
        let c = parse(json!({
            "cniVersion": "1.0.0", "name": "n", "type": "weft",
            "mtu": null, "prevResult": null, "agentSocket": null,
        }))
        .unwrap();
        assert_eq!(c.mtu, None);
        assert_eq!(c.prev_result, None);
        assert_eq!(c.agent_socket, DEFAULT_AGENT_SOCKET);
    }

    #[test]
    fn stdin_that_is_not_a_json_object_is_code_6() {
        for bad in [&b""[..], b"  \n", b"{", b"not json", b"[1,2]", b"\"x\"", b"null"] {
            let e = decode(bad).unwrap_err();
            assert_eq!(e.code, codes::DECODE_FAILURE, "{:?}", String::from_utf8_lossy(bad));
            assert!(e.details.starts_with("stdin is"), "{e}");
        }
        let e = decode(b"{\"name\": }").unwrap_err();
        assert!(e.details.contains("line 1 column"), "{e}");
    }

    #[test]
    fn mtu_out_of_range_names_the_field_and_range() {
        let e = config_err(with("mtu", json!(70000)));
        assert_eq!(e.code, codes::INVALID_CONFIG);
        assert_eq!(e.msg, "invalid network config");
        assert_eq!(e.details, "field \"mtu\": 70000 is out of range: must be 576-9000");
        for bad in [json!(575), json!(0), json!(-1), json!(9001), json!(u64::MAX)] {
            let e = config_err(with("mtu", bad.clone()));
            assert!(e.details.contains("is out of range"), "{bad}: {e}");
        }
        assert_eq!(parse(Value::Object(with("mtu", json!(576)))).unwrap().mtu, Some(576));
        assert_eq!(parse(Value::Object(with("mtu", json!(9000)))).unwrap().mtu, Some(9000));
    }

    #[test]
    fn mtu_of_the_wrong_type() {
        let e = config_err(with("mtu", json!("1500")));
        assert_eq!(e.code, codes::INVALID_CONFIG);
        assert_eq!(
            e.details,
            "field \"mtu\": expected an integer 576-9000, got a string \"1500\""
        );
        let e = config_err(with("mtu", json!(1500.5)));
        assert!(e.details.starts_with("field \"mtu\": expected an integer"), "{e}");
    }

    #[test]
    fn name_and_type_are_required() {
        let mut m = with("name", json!(""));
        let e = config_err(m.clone());
        assert_eq!(e.code, codes::INVALID_CONFIG);
        assert!(e.details.starts_with("field \"name\" is empty"), "{e}");
        m.remove("name");
        let e = config_err(m);
        assert!(e.details.starts_with("field \"name\" is missing"), "{e}");
        let e = config_err(with("name", json!("-bad")));
        assert!(e.details.starts_with("field \"name\": \"-bad\" is invalid"), "{e}");
        let e = config_err(with("name", json!(3)));
        assert_eq!(e.details, "field \"name\": expected a string, got a number 3");
        let mut m = with("type", json!("weft"));
        m.remove("type");
        let e = config_err(m);
        assert!(e.details.starts_with("field \"type\" is missing"), "{e}");
    }

    #[test]
    fn version_problems_are_code_1_and_come_first() {
        let mut m = with("cniVersion", json!("0.2.0"));
        m.insert("mtu".into(), json!(1));
        let e = config_err(m.clone());
        assert_eq!(e.code, codes::INCOMPATIBLE_VERSION);
        m.remove("cniVersion");
        let e = config_err(m);
        assert_eq!(e.code, codes::INCOMPATIBLE_VERSION);
        let e = config_err(with("cniVersion", json!(1.0)));
        assert_eq!(e.code, codes::INVALID_CONFIG);
        assert!(e.details.starts_with("field \"cniVersion\": expected a string"), "{e}");
    }

    #[test]
    fn agent_socket_must_be_absolute_and_short() {
        let e = config_err(with("agentSocket", json!("agent.sock")));
        assert!(
            e.details
                .starts_with("field \"agentSocket\": \"agent.sock\" is not an absolute path"),
            "{e}"
        );
        let long = format!("/{}", "a".repeat(120));
        let e = config_err(with("agentSocket", json!(long)));
        assert!(e.details.contains("is longer than 107 bytes"), "{e}");
        let e = config_err(with("agentSocket", json!(["x"])));
        assert_eq!(
            e.details,
            "field \"agentSocket\": expected a string, got an array [\"x\"]"
        );
    }

    #[test]
    fn objects_must_be_objects() {
        for field in ["prevResult", "runtimeConfig", "dns", "args"] {
            let e = config_err(with(field, json!("x")));
            assert_eq!(e.code, codes::INVALID_CONFIG);
            assert_eq!(
                e.details,
                format!("field \"{field}\": expected an object, got a string \"x\"")
            );
        }
    }

    #[test]
    fn ipam_is_an_unsupported_field() {
        let e = config_err(with("ipam", json!({"type": "host-local"})));
        assert_eq!(e.code, codes::UNSUPPORTED_FIELD);
        assert!(e.details.contains("\"ipam\": {\"type\":\"host-local\"}"), "{e}");
    }

    #[test]
    fn valid_attachments() {
        let m = with(
            VALID_ATTACHMENTS,
            json!([{"containerID": "c1", "ifname": "eth0"}, {"containerID": "c2", "ifname": "net1"}]),
        );
        let c = NetConf::from_map(&m).unwrap();
        assert_eq!(
            c.valid_attachments.unwrap(),
            vec![
                AttachmentKey {
                    container_id: "c1".into(),
                    ifname: "eth0".into()
                },
                AttachmentKey {
                    container_id: "c2".into(),
                    ifname: "net1".into()
                },
            ]
        );
        let m = with(VALID_ATTACHMENTS_OLD, json!([{"containerID": "c1", "ifname": "eth0"}]));
        assert_eq!(NetConf::from_map(&m).unwrap().valid_attachments.unwrap().len(), 1);
        let m = with(VALID_ATTACHMENTS, json!([]));
        assert_eq!(NetConf::from_map(&m).unwrap().valid_attachments, Some(vec![]));

        let e = config_err(with(
            VALID_ATTACHMENTS,
            json!([{"containerID": "c1", "ifname": "eth0"}, {"ifname": "eth0"}]),
        ));
        assert_eq!(e.code, codes::INVALID_CONFIG);
        assert!(
            e.details
                .starts_with("field \"cni.dev/valid-attachments[1].containerID\" is missing"),
            "{e}"
        );
        let e = config_err(with(VALID_ATTACHMENTS, json!({"containerID": "c1"})));
        assert!(
            e.details
                .starts_with("field \"cni.dev/valid-attachments\": expected an array"),
            "{e}"
        );
        let e = config_err(with(VALID_ATTACHMENTS, json!(["c1"])));
        assert!(
            e.details
                .starts_with("field \"cni.dev/valid-attachments[0]\": expected an object"),
            "{e}"
        );
        let e = config_err(with(VALID_ATTACHMENTS, json!([{"containerID": "c1", "ifname": 0}])));
        assert!(
            e.details
                .starts_with("field \"cni.dev/valid-attachments[0].ifname\": expected a string"),
            "{e}"
        );
    }

    #[test]
    fn del_validates_only_what_it_needs() {
        let mut m = with("mtu", json!(70000));
        m.insert("prevResult".into(), json!("garbage"));
        m.insert("ipam".into(), json!({"type": "host-local"}));
        assert!(NetConf::from_map(&m).is_err());
        let c = NetConf::for_del(&m).unwrap();
        assert_eq!((c.mtu, c.prev_result), (None, None));
        m.insert("agentSocket".into(), json!("relative.sock"));
        assert_eq!(NetConf::for_del(&m).unwrap_err().code, codes::INVALID_CONFIG);
        m.insert("cniVersion".into(), json!("0.2.0"));
        assert_eq!(NetConf::for_del(&m).unwrap_err().code, codes::INCOMPATIBLE_VERSION);
    }

    #[test]
    fn version_hint_falls_back_to_latest() {
        let m = with("cniVersion", json!("0.3.1"));
        assert_eq!(version_hint(Some(&m)), CniVersion::V0_3_1);
        let m = with("cniVersion", json!("9.9.9"));
        assert_eq!(version_hint(Some(&m)), CniVersion::LATEST);
        assert_eq!(version_hint(None), CniVersion::LATEST);
    }
}
