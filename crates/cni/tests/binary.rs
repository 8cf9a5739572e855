//! The real `weft-cni` binary, run as a container runtime runs it: a cleared environment with
//! only CNI_* variables, the plugin config on stdin, the answer on stdout and the exit status.
//! The node agent is a fake on a unix socket in a temporary directory that records each request
//! and answers with canned responses.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_cni::protocol::{
    AgentError, AgentRequest, AgentResponse, AttachResult, Attachment, AttachmentKey, RouteEntry, codes,
};

/// A fake agent serving one connection per canned reply, then stopping.
struct FakeAgent {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    server: JoinHandle<Vec<AgentRequest>>,
}

impl FakeAgent {
    fn start(replies: Vec<AgentResponse>) -> FakeAgent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        let server = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut seen = Vec::new();
            for reply in replies {
                let stream = loop {
                    match listener.accept() {
                        Ok((s, _)) => break s,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            if Instant::now() > deadline {
                                return seen;
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => panic!("accept: {e}"),
                    }
                };
                stream.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                seen.push(serde_json::from_str(&line).expect("request is one JSON line"));
                let mut out = serde_json::to_vec(&reply).unwrap();
                out.push(b'\n');
                let mut w = stream;
                w.write_all(&out).unwrap();
            }
            seen
        });
        FakeAgent {
            _dir: dir,
            socket,
            server,
        }
    }

    fn socket(&self) -> &str {
        self.socket.to_str().unwrap()
    }

    /// The requests the agent received.
    fn requests(self) -> Vec<AgentRequest> {
        self.server.join().unwrap()
    }
}

struct Run {
    code: i32,
    stdout: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }

    /// Asserts the spec's error shape with `code`; returns the object.
    fn error(&self, code: u32) -> Value {
        assert_eq!(self.code, 1, "exit status; stdout: {}", self.stdout);
        let v = self.json();
        assert_eq!(v["code"], code, "{v}");
        assert!(v["msg"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert!(v["details"].is_string(), "{v}");
        assert!(v["cniVersion"].is_string(), "{v}");
        v
    }
}

fn plugin(env: &[(&str, &str)], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft-cni"))
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The plugin reads stdin in full before anything else, so this write never meets a closed
    // pipe, even when the plugin then fails on its environment.
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
    }
}

const NETNS: &str = "/var/run/netns/cni-1234";

fn attach_env(command: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("CNI_COMMAND", command),
        ("CNI_CONTAINERID", "f3a1c0ffee"),
        ("CNI_NETNS", NETNS),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/opt/cni/bin"),
        (
            "CNI_ARGS",
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart-7d9f;\
             K8S_POD_INFRA_CONTAINER_ID=f3a1c0ffee;K8S_POD_UID=0b6c-11ee",
        ),
    ]
}

fn config(version: &str, socket: &str, extra: Value) -> String {
    let mut v = json!({
        "cniVersion": version,
        "name": "weft",
        "type": "weft",
        "agentSocket": socket,
    });
    if let (Value::Object(m), Value::Object(x)) = (&mut v, extra) {
        m.extend(x);
    }
    v.to_string()
}

fn attach_result() -> AttachResult {
    AttachResult {
        host_interface: "weftf3a1c0ff".into(),
        host_mac: "ee:ee:ee:ee:ee:ee".into(),
        container_interface: "eth0".into(),
        container_mac: "02:42:0a:f4:01:07".into(),
        sandbox: NETNS.into(),
        addresses: vec!["10.244.1.7/32".into(), "fd00:10:244:1::7/128".into()],
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
        ],
        mtu: 1450,
    }
}

fn ok(result: Option<AttachResult>) -> AgentResponse {
    AgentResponse::Ok { result }
}

/// A socket path where nothing listens.
fn dead_socket() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock").to_str().unwrap().to_owned();
    (dir, path)
}

#[test]
fn version_reports_supported_versions() {
    let run = plugin(&[("CNI_COMMAND", "VERSION")], r#"{"cniVersion":"1.1.0"}"#);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.json(),
        json!({
            "cniVersion": "1.1.0",
            "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
        })
    );
}

#[test]
fn add_prints_the_cni_result() {
    let agent = FakeAgent::start(vec![ok(Some(attach_result()))]);
    let run = plugin(
        &attach_env("ADD"),
        &config("1.1.0", agent.socket(), json!({"mtu": 1400})),
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.json(),
        json!({
            "cniVersion": "1.1.0",
            "interfaces": [
                {"name": "weftf3a1c0ff", "mac": "ee:ee:ee:ee:ee:ee", "mtu": 1450},
                {"name": "eth0", "mac": "02:42:0a:f4:01:07", "mtu": 1450, "sandbox": NETNS},
            ],
            "ips": [
                {"address": "10.244.1.7/32", "gateway": "169.254.1.1", "interface": 1},
                {"address": "fd00:10:244:1::7/128", "gateway": "fe80::1", "interface": 1},
            ],
            "routes": [
                {"dst": "0.0.0.0/0", "gw": "169.254.1.1"},
                {"dst": "::/0", "gw": "fe80::1"},
            ],
            "dns": {},
        })
    );
    assert_eq!(
        agent.requests(),
        vec![AgentRequest::Add(Attachment {
            container_id: "f3a1c0ffee".into(),
            netns: Some(NETNS.into()),
            ifname: "eth0".into(),
            network: "weft".into(),
            pod_namespace: Some("shop".into()),
            pod_name: Some("cart-7d9f".into()),
            pod_uid: Some("0b6c-11ee".into()),
            mtu: Some(1400),
        })]
    );
}

#[test]
fn add_answers_in_the_configs_version() {
    let agent = FakeAgent::start(vec![ok(Some(attach_result()))]);
    let run = plugin(&attach_env("ADD"), &config("0.3.1", agent.socket(), json!({})));
    assert_eq!(run.code, 0, "{}", run.stdout);
    let v = run.json();
    assert_eq!(v["cniVersion"], "0.3.1");
    assert_eq!(v["ips"][0]["version"], "4");
    assert_eq!(v["ips"][1]["version"], "6");
    assert_eq!(v["interfaces"][1].get("mtu"), None);
    agent.requests();
}

#[test]
fn add_passes_on_the_agents_error() {
    let agent = FakeAgent::start(vec![AgentResponse::Error(AgentError {
        code: codes::CONTROLLER_REFUSED,
        msg: "no addresses left".into(),
        details: "virtual network shop/default: pool 10.244.1.0/30 is exhausted".into(),
    })]);
    let run = plugin(&attach_env("ADD"), &config("1.0.0", agent.socket(), json!({})));
    let v = run.error(codes::CONTROLLER_REFUSED);
    assert_eq!(
        v,
        json!({
            "cniVersion": "1.0.0",
            "code": 101,
            "msg": "no addresses left",
            "details": "virtual network shop/default: pool 10.244.1.0/30 is exhausted",
        })
    );
    assert_eq!(agent.requests().len(), 1);
}

#[test]
fn add_with_unreachable_agent_is_try_again_later() {
    let (_dir, socket) = dead_socket();
    let run = plugin(&attach_env("ADD"), &config("1.1.0", &socket, json!({})));
    let v = run.error(codes::TRY_AGAIN_LATER);
    assert!(v["details"].as_str().unwrap().contains(&socket), "{v}");
}

#[test]
fn del_prints_nothing() {
    let agent = FakeAgent::start(vec![ok(None)]);
    let run = plugin(&attach_env("DEL"), &config("1.1.0", agent.socket(), json!({})));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "");
    let reqs = agent.requests();
    assert!(
        matches!(&reqs[..], [AgentRequest::Del(a)] if a.container_id == "f3a1c0ffee"),
        "{reqs:?}"
    );
}

#[test]
fn del_without_netns_works() {
    let agent = FakeAgent::start(vec![ok(None)]);
    let env: Vec<_> = attach_env("DEL")
        .into_iter()
        .filter(|(k, _)| *k != "CNI_NETNS")
        .collect();
    let run = plugin(&env, &config("1.1.0", agent.socket(), json!({})));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "");
    let reqs = agent.requests();
    assert!(
        matches!(&reqs[..], [AgentRequest::Del(a)] if a.netns.is_none() && a.ifname == "eth0"),
        "{reqs:?}"
    );
}

#[test]
fn del_of_an_unknown_container_succeeds() {
    let agent = FakeAgent::start(vec![AgentResponse::Error(AgentError {
        code: codes::UNKNOWN_CONTAINER,
        msg: "no such attachment".into(),
        details: String::new(),
    })]);
    let run = plugin(&attach_env("DEL"), &config("1.1.0", agent.socket(), json!({})));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "");
    agent.requests();
}

#[test]
fn del_with_unreachable_agent_is_try_again_later() {
    let (_dir, socket) = dead_socket();
    let run = plugin(&attach_env("DEL"), &config("1.1.0", &socket, json!({})));
    let v = run.error(codes::TRY_AGAIN_LATER);
    assert_eq!(v["cniVersion"], "1.1.0");
}

#[test]
fn broken_json_is_code_6() {
    let run = plugin(&attach_env("ADD"), r#"{"cniVersion": "1.1.0", "name": "#);
    run.error(codes::DECODE_FAILURE);
}

#[test]
fn unsupported_version_is_code_1() {
    let (_dir, socket) = dead_socket();
    let run = plugin(&attach_env("ADD"), &config("0.2.0", &socket, json!({})));
    let v = run.error(codes::INCOMPATIBLE_VERSION);
    assert!(v["details"].as_str().unwrap().contains("\"0.2.0\""), "{v}");
}

#[test]
fn invalid_mtu_names_the_field() {
    let (_dir, socket) = dead_socket();
    let run = plugin(&attach_env("ADD"), &config("1.1.0", &socket, json!({"mtu": 70000})));
    let v = run.error(codes::INVALID_CONFIG);
    assert_eq!(v["msg"], "invalid network config");
    assert_eq!(v["details"], "field \"mtu\": 70000 is out of range: must be 576-9000");
}

#[test]
fn missing_ifname_is_code_4_naming_it() {
    let (_dir, socket) = dead_socket();
    let env: Vec<_> = attach_env("ADD")
        .into_iter()
        .filter(|(k, _)| *k != "CNI_IFNAME")
        .collect();
    let run = plugin(&env, &config("1.1.0", &socket, json!({})));
    let v = run.error(codes::INVALID_ENV);
    assert!(
        v["details"].as_str().unwrap().starts_with("CNI_IFNAME is not set"),
        "{v}"
    );
}

#[test]
fn missing_command_is_code_4() {
    let run = plugin(&[], "{}");
    let v = run.error(codes::INVALID_ENV);
    assert!(v["details"].as_str().unwrap().contains("CNI_COMMAND"), "{v}");
}

#[test]
fn check_compares_with_prev_result() {
    let agent = FakeAgent::start(vec![ok(Some(attach_result()))]);
    let prev = json!({"prevResult": {
        "cniVersion": "1.1.0",
        "interfaces": [
            {"name": "weftf3a1c0ff", "mac": "ee:ee:ee:ee:ee:ee"},
            {"name": "eth0", "mac": "02:42:0a:f4:01:07", "sandbox": NETNS},
        ],
        "ips": [
            {"address": "10.244.1.7/32", "gateway": "169.254.1.1", "interface": 1},
            {"address": "fd00:10:244:1::7/128", "gateway": "fe80::1", "interface": 1},
        ],
    }});
    let run = plugin(&attach_env("CHECK"), &config("1.1.0", agent.socket(), prev));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "");
    assert!(matches!(&agent.requests()[..], [AgentRequest::Check(_)]));
}

#[test]
fn status_asks_the_agent() {
    let agent = FakeAgent::start(vec![ok(None)]);
    let run = plugin(
        &[("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/opt/cni/bin")],
        &config("1.1.0", agent.socket(), json!({})),
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "");
    assert_eq!(agent.requests(), vec![AgentRequest::Status { network: "weft".into() }]);
}

#[test]
fn status_with_unreachable_agent_is_not_available() {
    let (_dir, socket) = dead_socket();
    let run = plugin(&[("CNI_COMMAND", "STATUS")], &config("1.1.0", &socket, json!({})));
    run.error(codes::PLUGIN_NOT_AVAILABLE);
}

#[test]
fn gc_passes_the_valid_attachments() {
    let agent = FakeAgent::start(vec![ok(None)]);
    let valid = json!({"cni.dev/valid-attachments": [
        {"containerID": "f3a1c0ffee", "ifname": "eth0"},
        {"containerID": "0badcafe", "ifname": "eth0"},
    ]});
    let run = plugin(
        &[("CNI_COMMAND", "GC"), ("CNI_PATH", "/opt/cni/bin")],
        &config("1.1.0", agent.socket(), valid),
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "");
    assert_eq!(
        agent.requests(),
        vec![AgentRequest::Gc {
            network: "weft".into(),
            valid: vec![
                AttachmentKey {
                    container_id: "f3a1c0ffee".into(),
                    ifname: "eth0".into()
                },
                AttachmentKey {
                    container_id: "0badcafe".into(),
                    ifname: "eth0".into()
                },
            ],
        }]
    );
}
