//! One invocation of the plugin: CNI_COMMAND and the config in, the text for stdout and the exit
//! status out (spec §2). Everything is injected (environment, stdin, agent), so the whole
//! protocol is testable without a process or a socket.
//!
//! Order of checks, as libcni's skel: CNI_COMMAND, the command's variables (code 4), stdin as JSON
//! (code 6), the config and its version (codes 1, 2, 7), then the agent.

use std::io::Read;

use serde_json::{Value, json};

use crate::agent::Agent;
use crate::check;
use crate::config::{self, NetConf, VALID_ATTACHMENTS};
use crate::env::{AttachmentEnv, Command, RawEnv, attachment_env};
use crate::error::CniError;
use crate::protocol::{AgentRequest, AgentResponse, Attachment, codes};
use crate::result;
use crate::version::CniVersion;

/// Largest config accepted on stdin; real ones are a few kilobytes.
const MAX_STDIN: u64 = 4 << 20;

/// What the process prints on stdout and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// A result, a version report or an error object, newline-terminated; empty when the command
    /// succeeds with nothing to report (DEL, CHECK, STATUS, GC).
    pub stdout: String,
    /// 0 on success, 1 on error (spec §2 "Errors": non-zero).
    pub exit_code: u8,
}

impl Output {
    fn success(stdout: Option<Value>) -> Output {
        Output {
            stdout: stdout.map(|v| format!("{v}\n")).unwrap_or_default(),
            exit_code: 0,
        }
    }

    fn failure(e: &CniError, version: CniVersion) -> Output {
        Output {
            stdout: format!("{}\n", e.to_json(version.as_str())),
            exit_code: 1,
        }
    }
}

/// Runs one invocation. `connect` makes the agent client for the config's `agentSocket`; it is
/// called only for commands that talk to the agent, after the inputs are validated.
pub fn run<A: Agent>(env: &RawEnv, stdin: impl Read, connect: impl FnOnce(&str) -> A) -> Output {
    // Stdin is read in full first, even when the environment is already known to be wrong, so a
    // runtime writing the config never meets a closed pipe.
    let bytes = match read_stdin(stdin) {
        Ok(b) => b,
        Err(e) => return Output::failure(&e, CniVersion::LATEST),
    };
    let command = match env.command() {
        Ok(c) => c,
        Err(e) => {
            let hint = config::version_hint(config::decode(&bytes).ok().as_ref());
            return Output::failure(&e, hint);
        }
    };
    if command == Command::Version {
        return Output::success(Some(version_report(&bytes)));
    }
    let attachment = match attachment_env(env, command) {
        Ok(a) => a,
        Err(e) => {
            let hint = config::version_hint(config::decode(&bytes).ok().as_ref());
            return Output::failure(&e, hint);
        }
    };
    let map = match config::decode(&bytes) {
        Ok(m) => m,
        Err(e) => return Output::failure(&e, CniVersion::LATEST),
    };
    let hint = config::version_hint(Some(&map));
    let conf = if command == Command::Del {
        NetConf::for_del(&map)
    } else {
        NetConf::from_map(&map)
    };
    let outcome = conf.and_then(|conf| {
        allow(command, conf.cni_version)?;
        let agent = connect(&conf.agent_socket);
        match (command, attachment) {
            (Command::Add, Some(a)) => add(&agent, &conf, &a).map(Some),
            (Command::Del, Some(a)) => del(&agent, &conf, &a).map(|()| None),
            (Command::Check, Some(a)) => check(&agent, &conf, &a).map(|()| None),
            (Command::Status, _) => status(&agent, &conf).map(|()| None),
            (Command::Gc, _) => gc(&agent, &conf).map(|()| None),
            (Command::Version, _) => Ok(Some(version_report(&bytes))),
            // attachment_env returns Some for ADD, DEL and CHECK.
            (Command::Add | Command::Del | Command::Check, None) => {
                Err(CniError::invalid_env("CNI_CONTAINERID and CNI_IFNAME are not set"))
            }
        }
    });
    match outcome {
        Ok(v) => Output::success(v),
        Err(e) => Output::failure(&e, hint),
    }
}

fn read_stdin(stdin: impl Read) -> Result<Vec<u8>, CniError> {
    let mut bytes = Vec::new();
    stdin
        .take(MAX_STDIN + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CniError::io_failure(format!("cannot read the config from stdin: {e}")))?;
    if bytes.len() as u64 > MAX_STDIN {
        return Err(CniError::decode(format!(
            "stdin is larger than {MAX_STDIN} bytes: a plugin configuration is a few kilobytes"
        )));
    }
    Ok(bytes)
}

/// Spec §5 "VERSION Success": `cniVersion` is "the value of cniVersion specified on input" (the
/// newest when the input has none; libcni's skel always says its own), plus every version we
/// speak.
fn version_report(stdin: &[u8]) -> Value {
    let input = serde_json::from_slice::<Value>(stdin).ok();
    let echoed = input
        .as_ref()
        .and_then(|v| v.get("cniVersion"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(CniVersion::LATEST.as_str());
    json!({
        "cniVersion": echoed,
        "supportedVersions": CniVersion::ALL.map(CniVersion::as_str),
    })
}

/// CHECK came with 0.4.0, STATUS and GC with 1.1.0: a config in an older version cannot ask for
/// them (libcni's skel refuses likewise, code 1).
fn allow(command: Command, version: CniVersion) -> Result<(), CniError> {
    let (allowed, since) = match command {
        Command::Check => (version.allows_check(), CniVersion::V0_4_0),
        Command::Status | Command::Gc => (version.allows_status_and_gc(), CniVersion::V1_1_0),
        Command::Add | Command::Del | Command::Version => return Ok(()),
    };
    if allowed {
        Ok(())
    } else {
        Err(CniError::incompatible_version(format!(
            "{command} needs cniVersion {since} or later, and the config says {version}: raise \
             the network config's cniVersion"
        )))
    }
}

fn attachment(env: &AttachmentEnv, conf: &NetConf) -> Attachment {
    Attachment {
        container_id: env.container_id.clone(),
        netns: env.netns.clone(),
        ifname: env.ifname.clone(),
        network: conf.name.clone(),
        pod_namespace: env.args.pod_namespace.clone(),
        pod_name: env.args.pod_name.clone(),
        pod_uid: env.args.pod_uid.clone(),
        mtu: conf.mtu,
    }
}

/// ADD: the agent does the work; its result becomes the CNI result in the config's version,
/// appended to `prevResult` when another plugin ran first.
///
/// An unreachable agent is code 11 here too, not Weft's own `AGENT_UNREACHABLE` (100): the agent
/// restarting, or not yet up on a new node, is exactly the spec's "transient condition that should
/// clear up", and 11 is the one code a runtime can act on without knowing Weft; the msg and
/// details still say the agent is unreachable and at which socket.
fn add(agent: &impl Agent, conf: &NetConf, env: &AttachmentEnv) -> Result<Value, CniError> {
    let mut r = match agent.call(AgentRequest::Add(attachment(env, conf)))? {
        AgentResponse::Ok { result: Some(r) } => r,
        AgentResponse::Ok { result: None } => {
            return Err(CniError::bad_agent_response("ADD succeeded without a result"));
        }
        AgentResponse::Error(e) => return Err(e.into()),
    };
    // Spec §2 ADD: the plugin must use CNI_IFNAME or fail.
    if r.container_interface != env.ifname {
        return Err(CniError::bad_agent_response(format!(
            "the agent created interface {:?}, but CNI_IFNAME is {:?}",
            r.container_interface, env.ifname
        )));
    }
    if r.sandbox.is_empty() {
        r.sandbox = env.netns.clone().unwrap_or_default();
    }
    let ours = result::render(&r, conf.cni_version, conf.dns.as_ref())?;
    match &conf.prev_result {
        Some(prev) => result::merge_into_prev(prev, ours),
        None => Ok(ours),
    }
}

/// DEL: success when the agent undid the attachment or had nothing to undo (spec §2 DEL:
/// "return success if the interface in question, or any modifications added, are missing").
/// An unreachable agent is an error (code 11): reporting success would make the runtime forget an
/// attachment whose address and routes are still in place, and the runtime retries a failed DEL.
fn del(agent: &impl Agent, conf: &NetConf, env: &AttachmentEnv) -> Result<(), CniError> {
    match agent.call(AgentRequest::Del(attachment(env, conf)))? {
        AgentResponse::Ok { .. } => Ok(()),
        AgentResponse::Error(e) if e.code == codes::UNKNOWN_CONTAINER => Ok(()),
        AgentResponse::Error(e) => Err(e.into()),
    }
}

/// CHECK: `prevResult` must describe this attachment, and the agent must confirm it; an agent that
/// does not know the container answers code 3, passed on.
fn check(agent: &impl Agent, conf: &NetConf, env: &AttachmentEnv) -> Result<(), CniError> {
    let Some(prev) = &conf.prev_result else {
        return Err(CniError::invalid_config(
            "field \"prevResult\" is missing: CHECK needs the result of the ADD, which the \
             runtime must pass (CNI spec section 2, CHECK)",
        ));
    };
    check::compare(prev, env, None)?;
    match agent.call(AgentRequest::Check(attachment(env, conf)))? {
        AgentResponse::Ok { result } => check::compare(prev, env, result.as_ref()),
        AgentResponse::Error(e) => Err(e.into()),
    }
}

/// STATUS: ready when the agent says so. An agent that cannot be reached is code 50 "plugin not
/// available" rather than 11, because STATUS is how the runtime learns that (spec §2 STATUS: "if a
/// plugin relies on an external service or daemon, it should return an error ... if that service
/// is unavailable"); pods already attached keep their kernel state, so not 51.
fn status(agent: &impl Agent, conf: &NetConf) -> Result<(), CniError> {
    let request = AgentRequest::Status {
        network: conf.name.clone(),
    };
    match agent.call(request) {
        Ok(AgentResponse::Ok { .. }) => Ok(()),
        Ok(AgentResponse::Error(e)) => Err(e.into()),
        Err(e) if e.code == codes::TRY_AGAIN_LATER => Err(CniError::new(codes::PLUGIN_NOT_AVAILABLE, e.msg, e.details)),
        Err(e) => Err(e),
    }
}

/// GC: the agent removes what is not in the valid list. A GC without the list is refused rather
/// than read as "nothing is valid", which would tear down every pod of the network.
fn gc(agent: &impl Agent, conf: &NetConf) -> Result<(), CniError> {
    let Some(valid) = conf.valid_attachments.clone() else {
        return Err(CniError::invalid_config(format!(
            "field \"{VALID_ATTACHMENTS}\" is missing: GC needs the attachments still in use \
             (an empty list if there are none)"
        )));
    };
    let request = AgentRequest::Gc {
        network: conf.name.clone(),
        valid,
    };
    match agent.call(request)? {
        AgentResponse::Ok { .. } => Ok(()),
        AgentResponse::Error(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{CNI_ARGS, CNI_COMMAND, CNI_CONTAINERID, CNI_IFNAME, CNI_NETNS};
    use crate::protocol::{AgentError, AttachResult, AttachmentKey, RouteEntry};
    use std::cell::RefCell;

    /// Records requests; answers each with the next canned reply.
    struct Fake {
        seen: RefCell<Vec<AgentRequest>>,
        replies: RefCell<Vec<Result<AgentResponse, CniError>>>,
    }

    impl Fake {
        fn new(replies: Vec<Result<AgentResponse, CniError>>) -> Self {
            Fake {
                seen: RefCell::new(Vec::new()),
                replies: RefCell::new(replies),
            }
        }
    }

    impl Agent for &Fake {
        fn call(&self, req: AgentRequest) -> Result<AgentResponse, CniError> {
            self.seen.borrow_mut().push(req);
            let mut replies = self.replies.borrow_mut();
            if replies.is_empty() {
                panic!("unexpected agent call");
            }
            replies.remove(0)
        }
    }

    fn attach_result() -> AttachResult {
        AttachResult {
            host_interface: "weft0abc".into(),
            host_mac: "ee:ee:ee:ee:ee:ee".into(),
            container_interface: "eth0".into(),
            container_mac: "02:00:0a:f4:00:05".into(),
            sandbox: "/var/run/netns/p1".into(),
            addresses: vec!["10.244.0.5/32".into()],
            gateways: vec!["169.254.1.1".into()],
            routes: vec![RouteEntry {
                dst: "0.0.0.0/0".into(),
                gw: Some("169.254.1.1".into()),
            }],
            mtu: 1450,
        }
    }

    fn ok(result: Option<AttachResult>) -> Result<AgentResponse, CniError> {
        Ok(AgentResponse::Ok { result })
    }

    fn agent_err(code: u32) -> Result<AgentResponse, CniError> {
        Ok(AgentResponse::Error(AgentError {
            code,
            msg: "agent says no".into(),
            details: "because".into(),
        }))
    }

    fn env(cmd: &str) -> RawEnv {
        RawEnv::from_pairs([
            (CNI_COMMAND, cmd),
            (CNI_CONTAINERID, "c1"),
            (CNI_NETNS, "/var/run/netns/p1"),
            (CNI_IFNAME, "eth0"),
            (CNI_ARGS, "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod1"),
        ])
    }

    fn conf(version: &str, extra: Value) -> String {
        let mut v = json!({"cniVersion": version, "name": "weft", "type": "weft"});
        if let (Value::Object(m), Value::Object(x)) = (&mut v, extra) {
            m.extend(x);
        }
        v.to_string()
    }

    fn go(env: &RawEnv, stdin: &str, fake: &Fake) -> (Output, Option<Value>) {
        let out = run(env, stdin.as_bytes(), |_| fake);
        let parsed = serde_json::from_str(&out.stdout).ok();
        (out, parsed)
    }

    fn expect_error(out: &Output, v: &Option<Value>, code: u32) -> Value {
        assert_eq!(out.exit_code, 1, "{}", out.stdout);
        let v = v.clone().expect("error output is JSON");
        assert_eq!(v["code"], code, "{v}");
        v
    }

    #[test]
    fn add_sends_the_attachment_and_prints_the_result() {
        let fake = Fake::new(vec![ok(Some(attach_result()))]);
        let (out, v) = go(&env("ADD"), &conf("1.0.0", json!({"mtu": 1400})), &fake);
        assert_eq!(out.exit_code, 0, "{}", out.stdout);
        assert!(out.stdout.ends_with('\n'));
        let v = v.unwrap();
        assert_eq!(v["cniVersion"], "1.0.0");
        assert_eq!(v["ips"][0]["interface"], 1);
        assert_eq!(v["interfaces"][1]["sandbox"], "/var/run/netns/p1");
        assert_eq!(
            fake.seen.borrow()[0],
            AgentRequest::Add(Attachment {
                container_id: "c1".into(),
                netns: Some("/var/run/netns/p1".into()),
                ifname: "eth0".into(),
                network: "weft".into(),
                pod_namespace: Some("ns1".into()),
                pod_name: Some("pod1".into()),
                pod_uid: None,
                mtu: Some(1400),
            })
        );
    }

    #[test]
    fn add_passes_agent_errors_on() {
        let fake = Fake::new(vec![agent_err(codes::CONTROLLER_REFUSED)]);
        let (out, v) = go(&env("ADD"), &conf("1.1.0", json!({})), &fake);
        let v = expect_error(&out, &v, codes::CONTROLLER_REFUSED);
        assert_eq!(v["msg"], "agent says no");
        assert_eq!(v["details"], "because");
        assert_eq!(v["cniVersion"], "1.1.0");
    }

    #[test]
    fn add_without_result_or_with_another_ifname_is_a_bad_response() {
        let fake = Fake::new(vec![ok(None)]);
        let (out, v) = go(&env("ADD"), &conf("1.1.0", json!({})), &fake);
        expect_error(&out, &v, codes::BAD_AGENT_RESPONSE);
        let mut r = attach_result();
        r.container_interface = "eth9".into();
        let fake = Fake::new(vec![ok(Some(r))]);
        let (out, v) = go(&env("ADD"), &conf("1.1.0", json!({})), &fake);
        let v = expect_error(&out, &v, codes::BAD_AGENT_RESPONSE);
        assert!(v["details"].as_str().unwrap().contains("eth9"), "{v}");
    }

    #[test]
    fn add_in_a_chain_appends_to_prev_result() {
        let prev = json!({"prevResult": {
            "cniVersion": "1.1.0",
            "interfaces": [{"name": "x0"}],
            "ips": [],
            "routes": [],
        }});
        let fake = Fake::new(vec![ok(Some(attach_result()))]);
        let (out, v) = go(&env("ADD"), &conf("1.1.0", prev), &fake);
        assert_eq!(out.exit_code, 0, "{}", out.stdout);
        let v = v.unwrap();
        assert_eq!(v["interfaces"].as_array().unwrap().len(), 3);
        assert_eq!(v["ips"][0]["interface"], 2);
    }

    #[test]
    fn del_prints_nothing_and_tolerates_unknown_containers() {
        for reply in [ok(None), agent_err(codes::UNKNOWN_CONTAINER)] {
            let fake = Fake::new(vec![reply]);
            let (out, _) = go(&env("DEL"), &conf("1.1.0", json!({})), &fake);
            assert_eq!(
                out,
                Output {
                    stdout: String::new(),
                    exit_code: 0
                }
            );
        }
    }

    #[test]
    fn del_ignores_fields_it_does_not_need() {
        let fake = Fake::new(vec![ok(None)]);
        let (out, _) = go(&env("DEL"), &conf("1.1.0", json!({"mtu": 70000})), &fake);
        assert_eq!(
            out,
            Output {
                stdout: String::new(),
                exit_code: 0
            }
        );
        let AgentRequest::Del(a) = &fake.seen.borrow()[0] else {
            panic!("not a DEL");
        };
        assert_eq!(a.mtu, None);
    }

    #[test]
    fn del_with_unreachable_agent_fails_with_try_again_later() {
        let fake = Fake::new(vec![Err(CniError::try_again_later("unreachable", "x"))]);
        let (out, v) = go(&env("DEL"), &conf("1.1.0", json!({})), &fake);
        expect_error(&out, &v, codes::TRY_AGAIN_LATER);
    }

    #[test]
    fn del_without_netns() {
        let env = RawEnv::from_pairs([(CNI_COMMAND, "DEL"), (CNI_CONTAINERID, "c1"), (CNI_IFNAME, "eth0")]);
        let fake = Fake::new(vec![ok(None)]);
        let (out, _) = go(&env, &conf("0.3.1", json!({})), &fake);
        assert_eq!(out.exit_code, 0, "{}", out.stdout);
        let AgentRequest::Del(a) = &fake.seen.borrow()[0] else {
            panic!("not a DEL");
        };
        assert_eq!(a.netns, None);
    }

    #[test]
    fn check_needs_a_matching_prev_result() {
        let fake = Fake::new(vec![]);
        let (out, v) = go(&env("CHECK"), &conf("1.1.0", json!({})), &fake);
        let v = expect_error(&out, &v, codes::INVALID_CONFIG);
        assert!(v["details"].as_str().unwrap().contains("\"prevResult\""), "{v}");

        let prev = json!({"prevResult": {
            "interfaces": [{"name": "weft0abc"}, {"name": "eth0", "sandbox": "/var/run/netns/p1"}],
            "ips": [{"address": "10.244.0.5/32", "interface": 1}],
        }});
        let fake = Fake::new(vec![ok(Some(attach_result()))]);
        let (out, _) = go(&env("CHECK"), &conf("1.1.0", prev.clone()), &fake);
        assert_eq!(
            out,
            Output {
                stdout: String::new(),
                exit_code: 0
            }
        );
        assert!(matches!(fake.seen.borrow()[0], AgentRequest::Check(_)));

        let mut moved = attach_result();
        moved.addresses = vec!["10.244.0.99/32".into()];
        let fake = Fake::new(vec![ok(Some(moved))]);
        let (out, v) = go(&env("CHECK"), &conf("1.1.0", prev.clone()), &fake);
        expect_error(&out, &v, codes::CHECK_MISMATCH);

        let fake = Fake::new(vec![agent_err(codes::UNKNOWN_CONTAINER)]);
        let (out, v) = go(&env("CHECK"), &conf("0.4.0", prev), &fake);
        let v = expect_error(&out, &v, codes::UNKNOWN_CONTAINER);
        assert_eq!(v["cniVersion"], "0.4.0");
    }

    #[test]
    fn commands_newer_than_the_config_version_are_code_1() {
        let fake = Fake::new(vec![]);
        let (out, v) = go(&env("CHECK"), &conf("0.3.1", json!({"prevResult": {}})), &fake);
        let v = expect_error(&out, &v, codes::INCOMPATIBLE_VERSION);
        assert!(
            v["details"]
                .as_str()
                .unwrap()
                .starts_with("CHECK needs cniVersion 0.4.0"),
            "{v}"
        );
        for cmd in ["STATUS", "GC"] {
            let (out, v) = go(&env(cmd), &conf("1.0.0", json!({})), &fake);
            let v = expect_error(&out, &v, codes::INCOMPATIBLE_VERSION);
            assert_eq!(v["cniVersion"], "1.0.0");
        }
        assert!(fake.seen.borrow().is_empty());
    }

    #[test]
    fn status_maps_an_unreachable_agent_to_50() {
        let env = RawEnv::from_pairs([(CNI_COMMAND, "STATUS")]);
        let fake = Fake::new(vec![ok(None)]);
        let (out, _) = go(&env, &conf("1.1.0", json!({})), &fake);
        assert_eq!(
            out,
            Output {
                stdout: String::new(),
                exit_code: 0
            }
        );
        assert_eq!(fake.seen.borrow()[0], AgentRequest::Status { network: "weft".into() });

        let fake = Fake::new(vec![Err(CniError::try_again_later("weft agent unreachable", "x"))]);
        let (out, v) = go(&env, &conf("1.1.0", json!({})), &fake);
        let v = expect_error(&out, &v, codes::PLUGIN_NOT_AVAILABLE);
        assert_eq!(v["msg"], "weft agent unreachable");

        let fake = Fake::new(vec![agent_err(codes::LIMITED_CONNECTIVITY)]);
        let (out, v) = go(&env, &conf("1.1.0", json!({})), &fake);
        expect_error(&out, &v, codes::LIMITED_CONNECTIVITY);
    }

    #[test]
    fn gc_passes_the_valid_list_and_refuses_without_one() {
        let env = RawEnv::from_pairs([(CNI_COMMAND, "GC")]);
        let list = json!({VALID_ATTACHMENTS: [{"containerID": "c1", "ifname": "eth0"}]});
        let fake = Fake::new(vec![ok(None)]);
        let (out, _) = go(&env, &conf("1.1.0", list), &fake);
        assert_eq!(out.exit_code, 0, "{}", out.stdout);
        assert_eq!(
            fake.seen.borrow()[0],
            AgentRequest::Gc {
                network: "weft".into(),
                valid: vec![AttachmentKey {
                    container_id: "c1".into(),
                    ifname: "eth0".into()
                }],
            }
        );
        let fake = Fake::new(vec![]);
        let (out, v) = go(&env, &conf("1.1.0", json!({})), &fake);
        let v = expect_error(&out, &v, codes::INVALID_CONFIG);
        assert!(v["details"].as_str().unwrap().contains(VALID_ATTACHMENTS), "{v}");
    }

    #[test]
    fn version_echoes_the_input_version() {
        let env = RawEnv::from_pairs([(CNI_COMMAND, "VERSION")]);
        let fake = Fake::new(vec![]);
        let (out, v) = go(&env, r#"{"cniVersion":"1.0.0"}"#, &fake);
        assert_eq!(out.exit_code, 0);
        assert_eq!(
            v.unwrap(),
            json!({"cniVersion": "1.0.0",
                   "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]})
        );
        let (_, v) = go(&env, "", &fake);
        assert_eq!(v.unwrap()["cniVersion"], "1.1.0");
        let (_, v) = go(&env, "garbage", &fake);
        assert_eq!(v.unwrap()["cniVersion"], "1.1.0");
    }

    #[test]
    fn input_errors_come_before_the_agent() {
        let fake = Fake::new(vec![]);
        let (out, v) = go(&env("ADD"), "{not json", &fake);
        let v = expect_error(&out, &v, codes::DECODE_FAILURE);
        assert_eq!(v["cniVersion"], "1.1.0");

        let (out, v) = go(&env("ADD"), &conf("0.2.0", json!({})), &fake);
        expect_error(&out, &v, codes::INCOMPATIBLE_VERSION);

        let (out, v) = go(&env("ADD"), &conf("0.4.0", json!({"mtu": 70000})), &fake);
        let v = expect_error(&out, &v, codes::INVALID_CONFIG);
        assert_eq!(v["cniVersion"], "0.4.0");

        let no_ifname = RawEnv::from_pairs([
            (CNI_COMMAND, "ADD"),
            (CNI_CONTAINERID, "c1"),
            (CNI_NETNS, "/var/run/netns/p1"),
        ]);
        let (out, v) = go(&no_ifname, &conf("0.3.1", json!({})), &fake);
        let v = expect_error(&out, &v, codes::INVALID_ENV);
        assert_eq!(v["cniVersion"], "0.3.1");
        assert!(
            v["details"].as_str().unwrap().starts_with("CNI_IFNAME is not set"),
            "{v}"
        );

        let (out, v) = go(&RawEnv::default(), "", &fake);
        expect_error(&out, &v, codes::INVALID_ENV);
        assert!(fake.seen.borrow().is_empty());
    }

    #[test]
    fn oversized_stdin_is_refused() {
        let fake = Fake::new(vec![]);
        let big = " ".repeat(MAX_STDIN as usize + 1);
        let (out, v) = go(&env("ADD"), &big, &fake);
        expect_error(&out, &v, codes::DECODE_FAILURE);
    }

    #[test]
    fn unreadable_stdin_is_code_5() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("boom"))
            }
        }
        let fake = Fake::new(vec![]);
        let out = run(&env("ADD"), Broken, |_| &fake);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["code"], codes::IO_FAILURE);
        assert!(v["details"].as_str().unwrap().contains("boom"));
    }
}
