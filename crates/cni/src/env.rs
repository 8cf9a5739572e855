//! The CNI_* environment variables (spec §2 "Parameters"), and which of them each command needs.
//!
//! An empty variable counts as unset, as in libcni's skel. CNI_PATH is never required: this
//! plugin delegates to no other plugin, so it has no use for it (see [`required_for`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;

use crate::error::CniError;

pub const CNI_COMMAND: &str = "CNI_COMMAND";
pub const CNI_CONTAINERID: &str = "CNI_CONTAINERID";
pub const CNI_NETNS: &str = "CNI_NETNS";
pub const CNI_IFNAME: &str = "CNI_IFNAME";
pub const CNI_ARGS: &str = "CNI_ARGS";
pub const CNI_PATH: &str = "CNI_PATH";

/// The operation the runtime asks for (CNI_COMMAND, spec §2 "CNI operations").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Status,
    Gc,
    Version,
}

impl Command {
    pub const ALL: [Command; 6] = [
        Command::Add,
        Command::Del,
        Command::Check,
        Command::Status,
        Command::Gc,
        Command::Version,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Status => "STATUS",
            Command::Gc => "GC",
            Command::Version => "VERSION",
        }
    }

    /// Exact, upper-case names only, as runtimes send them.
    pub fn parse(s: &str) -> Option<Command> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The variables each command requires, per spec §2 (the "Required environment parameters" of
/// each operation), minus CNI_COMMAND (checked first) and CNI_PATH (unused here, so requiring it
/// would only turn a harmless runtime omission into a failure; the spec lists it for GC).
pub fn required_for(command: Command) -> &'static [&'static str] {
    match command {
        Command::Add | Command::Check => &[CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME],
        // DEL must work after the namespace is gone, so CNI_NETNS is optional.
        Command::Del => &[CNI_CONTAINERID, CNI_IFNAME],
        Command::Status | Command::Gc | Command::Version => &[],
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Text(String),
    /// Not UTF-8: none of ours may be, so it is reported as invalid when read.
    NotUtf8,
}

/// The CNI_* part of the process environment. Other variables are dropped: the plugin reads
/// nothing else, which keeps runs reproducible from the CNI inputs alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawEnv {
    vars: BTreeMap<String, Value>,
}

impl RawEnv {
    /// From `std::env::vars_os()`.
    pub fn from_os_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let vars = vars
            .into_iter()
            .filter_map(|(k, v)| {
                let k = k.into_string().ok()?;
                k.starts_with("CNI_").then(|| {
                    let v = v.into_string().map_or(Value::NotUtf8, Value::Text);
                    (k, v)
                })
            })
            .collect();
        RawEnv { vars }
    }

    /// From name/value pairs (tests, and callers that already hold strings).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        RawEnv::from_os_vars(pairs.into_iter().map(|(k, v)| (OsString::from(k), OsString::from(v))))
    }

    /// The variable's value; `None` when unset or empty.
    pub fn get(&self, name: &str) -> Result<Option<&str>, CniError> {
        match self.vars.get(name) {
            None => Ok(None),
            Some(Value::Text(s)) if s.is_empty() => Ok(None),
            Some(Value::Text(s)) => Ok(Some(s)),
            Some(Value::NotUtf8) => Err(CniError::invalid_env(format!("{name} is not valid UTF-8"))),
        }
    }

    /// CNI_COMMAND, which every invocation needs.
    pub fn command(&self) -> Result<Command, CniError> {
        let commands = Command::ALL.map(Command::as_str).join(", ");
        match self.get(CNI_COMMAND)? {
            None => Err(CniError::invalid_env(format!(
                "CNI_COMMAND is not set: set it to one of {commands}"
            ))),
            Some(s) => Command::parse(s).ok_or_else(|| {
                CniError::invalid_env(format!(
                    "CNI_COMMAND: {s:?} is not a CNI command: use one of {commands}"
                ))
            }),
        }
    }
}

/// What the runtime says about the pod in CNI_ARGS (spec §2; keys by Kubernetes convention).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniArgs {
    pub pod_namespace: Option<String>,
    pub pod_name: Option<String>,
    pub pod_uid: Option<String>,
    pub pod_infra_container_id: Option<String>,
}

/// Parses `K=V;K=V` as libcni's `LoadArgs` does: a key this plugin does not know is an error
/// unless `IgnoreUnknown` is true (Kubernetes runtimes always send `IgnoreUnknown=1`).
///
/// Two leniencies: empty segments (a trailing `;`) are skipped, and a value may contain `=`.
pub fn parse_cni_args(s: &str) -> Result<CniArgs, CniError> {
    let mut args = CniArgs::default();
    let mut ignore_unknown = false;
    let mut unknown = Vec::new();
    for pair in s.split(';').filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(CniError::invalid_env(format!(
                "CNI_ARGS: {pair:?} is not KEY=VALUE: separate pairs with ';'"
            )));
        };
        let value = (!value.is_empty()).then(|| value.to_owned());
        match key {
            "K8S_POD_NAMESPACE" => args.pod_namespace = value,
            "K8S_POD_NAME" => args.pod_name = value,
            "K8S_POD_UID" => args.pod_uid = value,
            "K8S_POD_INFRA_CONTAINER_ID" => args.pod_infra_container_id = value,
            "IgnoreUnknown" => {
                ignore_unknown = match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    Some("1" | "true") => true,
                    Some("0" | "false") => false,
                    _ => {
                        return Err(CniError::invalid_env(format!(
                            "CNI_ARGS: IgnoreUnknown={:?} is not a boolean: use 1, true, 0 or false",
                            value.unwrap_or_default()
                        )));
                    }
                }
            }
            _ => unknown.push(key),
        }
    }
    if !unknown.is_empty() && !ignore_unknown {
        return Err(CniError::invalid_env(format!(
            "CNI_ARGS: unknown keys {unknown:?}: add IgnoreUnknown=1 to pass keys this plugin does \
             not use"
        )));
    }
    Ok(args)
}

/// The attachment parameters (spec §3 "Attachment Parameters") of ADD, DEL and CHECK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentEnv {
    pub container_id: String,
    /// Required for ADD and CHECK; DEL may come without it.
    pub netns: Option<String>,
    pub ifname: String,
    pub args: CniArgs,
}

/// Reads and validates the variables `command` needs, reporting all missing ones at once.
///
/// Returns `None` for STATUS, GC and VERSION, which have no attachment (spec §3 "Garbage-collecting
/// a network": "there are no Attachment Parameters").
pub fn attachment_env(raw: &RawEnv, command: Command) -> Result<Option<AttachmentEnv>, CniError> {
    let required = required_for(command);
    let mut missing = Vec::new();
    for name in required {
        if raw.get(name)?.is_none() {
            missing.push(*name);
        }
    }
    if !missing.is_empty() {
        let (verb, them) = if missing.len() == 1 {
            ("is", "it")
        } else {
            ("are", "them")
        };
        return Err(CniError::invalid_env(format!(
            "{} {verb} not set: the runtime must set {them} for {command} (CNI spec section 2)",
            missing.join(", ")
        )));
    }
    if required.is_empty() {
        return Ok(None);
    }
    // All three are present here: `required` covers them for ADD, CHECK and DEL.
    let container_id = raw.get(CNI_CONTAINERID)?.unwrap_or_default().to_owned();
    validate_container_id(&container_id)?;
    let ifname = raw.get(CNI_IFNAME)?.unwrap_or_default().to_owned();
    validate_ifname(&ifname)?;
    let netns = raw.get(CNI_NETNS)?.map(str::to_owned);
    let args = parse_cni_args(raw.get(CNI_ARGS)?.unwrap_or_default())?;
    Ok(Some(AttachmentEnv {
        container_id,
        netns,
        ifname,
        args,
    }))
}

/// Spec §2: "Must start with an alphanumeric character, optionally followed by any combination of
/// one or more alphanumeric characters, underscore (), dot (.) or hyphen (-)."
pub fn validate_container_id(id: &str) -> Result<(), CniError> {
    if is_cni_name(id) {
        Ok(())
    } else {
        Err(CniError::invalid_env(format!(
            "CNI_CONTAINERID: {id:?} is invalid: it must start with a letter or digit, followed by \
             letters, digits, '_', '.' or '-'"
        )))
    }
}

/// The name rule the spec uses for container ids and network names.
pub fn is_cni_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Linux interface names (the kernel's `dev_valid_name`, as libcni's `ValidateInterfaceName`):
/// 1-15 bytes, not `.` or `..`, no `/`, `:` or whitespace.
pub fn validate_ifname(name: &str) -> Result<(), CniError> {
    let problem = if name.len() > 15 {
        Some("is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("is . or ..")
    } else if name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) {
        Some("contains '/', ':' or whitespace")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(CniError::invalid_env(format!(
            "CNI_IFNAME: {name:?} {p}: use a Linux interface name such as eth0"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codes;

    fn full(command: &str) -> Vec<(&str, &str)> {
        vec![
            (CNI_COMMAND, command),
            (CNI_CONTAINERID, "abc123"),
            (CNI_NETNS, "/var/run/netns/pod1"),
            (CNI_IFNAME, "eth0"),
            (CNI_PATH, "/opt/cni/bin"),
            (
                CNI_ARGS,
                "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;\
                 K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=1234-5678",
            ),
        ]
    }

    fn without<'a>(mut pairs: Vec<(&'a str, &'a str)>, name: &str) -> Vec<(&'a str, &'a str)> {
        pairs.retain(|(k, _)| *k != name);
        pairs
    }

    #[test]
    fn parses_a_kubernetes_add() {
        let raw = RawEnv::from_pairs(full("ADD"));
        assert_eq!(raw.command(), Ok(Command::Add));
        let env = attachment_env(&raw, Command::Add).unwrap().unwrap();
        assert_eq!(
            env,
            AttachmentEnv {
                container_id: "abc123".into(),
                netns: Some("/var/run/netns/pod1".into()),
                ifname: "eth0".into(),
                args: CniArgs {
                    pod_namespace: Some("default".into()),
                    pod_name: Some("web-0".into()),
                    pod_uid: Some("1234-5678".into()),
                    pod_infra_container_id: Some("abc123".into()),
                },
            }
        );
    }

    #[test]
    fn ignores_variables_outside_cni() {
        let raw = RawEnv::from_pairs([("HOME", "/root"), ("CNI_COMMAND", "VERSION")]);
        assert_eq!(raw.get("HOME"), Ok(None));
        assert_eq!(raw.command(), Ok(Command::Version));
    }

    #[test]
    fn missing_command_and_unknown_command_are_code_4() {
        let e = RawEnv::default().command().unwrap_err();
        assert_eq!(e.code, codes::INVALID_ENV);
        assert!(e.details.starts_with("CNI_COMMAND is not set"), "{e}");
        let e = RawEnv::from_pairs([(CNI_COMMAND, "add")]).command().unwrap_err();
        assert_eq!(e.code, codes::INVALID_ENV);
        assert!(e.details.contains("\"add\""), "{e}");
        let e = RawEnv::from_pairs([(CNI_COMMAND, "")]).command().unwrap_err();
        assert!(e.details.starts_with("CNI_COMMAND is not set"), "{e}");
    }

    #[test]
    fn missing_ifname_is_named() {
        for cmd in ["ADD", "DEL", "CHECK"] {
            let raw = RawEnv::from_pairs(without(full(cmd), CNI_IFNAME));
            let e = attachment_env(&raw, raw.command().unwrap()).unwrap_err();
            assert_eq!(e.code, codes::INVALID_ENV);
            assert!(e.details.starts_with("CNI_IFNAME is not set"), "{cmd}: {e}");
        }
    }

    #[test]
    fn empty_counts_as_missing_and_all_missing_are_listed() {
        let raw = RawEnv::from_pairs([(CNI_COMMAND, "ADD"), (CNI_CONTAINERID, ""), (CNI_IFNAME, "eth0")]);
        let e = attachment_env(&raw, Command::Add).unwrap_err();
        assert!(e.details.starts_with("CNI_CONTAINERID, CNI_NETNS are not set"), "{e}");
        assert!(e.details.contains("for ADD"), "{e}");
    }

    #[test]
    fn netns_is_required_for_add_and_check_but_not_del() {
        for cmd in [Command::Add, Command::Check] {
            let raw = RawEnv::from_pairs(without(full(cmd.as_str()), CNI_NETNS));
            let e = attachment_env(&raw, cmd).unwrap_err();
            assert!(e.details.starts_with("CNI_NETNS is not set"), "{e}");
        }
        let raw = RawEnv::from_pairs(without(full("DEL"), CNI_NETNS));
        let env = attachment_env(&raw, Command::Del).unwrap().unwrap();
        assert_eq!(env.netns, None);
    }

    #[test]
    fn status_gc_and_version_need_no_attachment_nor_cni_path() {
        for cmd in [Command::Status, Command::Gc, Command::Version] {
            let raw = RawEnv::from_pairs([(CNI_COMMAND, cmd.as_str())]);
            assert_eq!(attachment_env(&raw, cmd), Ok(None), "{cmd}");
        }
    }

    #[test]
    fn cni_path_is_never_required() {
        let raw = RawEnv::from_pairs(without(full("ADD"), CNI_PATH));
        assert!(attachment_env(&raw, Command::Add).is_ok());
    }

    #[test]
    fn container_id_is_validated() {
        for bad in ["-abc", "a/b", "a b", "_x", "ab\u{e9}"] {
            let raw = RawEnv::from_pairs(
                without(full("ADD"), CNI_CONTAINERID)
                    .into_iter()
                    .chain([(CNI_CONTAINERID, bad)]),
            );
            let e = attachment_env(&raw, Command::Add).unwrap_err();
            assert_eq!(e.code, codes::INVALID_ENV);
            assert!(e.details.starts_with("CNI_CONTAINERID:"), "{bad}: {e}");
        }
        for good in ["a", "0abc", "a.b_c-d", "9f86d081884c7d659a2feaa0c55ad015"] {
            assert!(validate_container_id(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn ifname_is_validated() {
        for bad in ["0123456789abcdef", ".", "..", "et/h0", "eth:0", "eth 0", "eth\t0"] {
            let e = validate_ifname(bad).unwrap_err();
            assert_eq!(e.code, codes::INVALID_ENV);
            assert!(e.details.starts_with("CNI_IFNAME:"), "{bad}: {e}");
        }
        for good in ["eth0", "net1", "0123456789abcde", "a.b"] {
            assert!(validate_ifname(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn cni_args_unknown_keys_need_ignore_unknown() {
        let e = parse_cni_args("K8S_POD_NAME=a;FOO=bar").unwrap_err();
        assert_eq!(e.code, codes::INVALID_ENV);
        assert!(e.details.contains("\"FOO\""), "{e}");
        assert!(e.details.contains("IgnoreUnknown=1"), "{e}");

        for yes in ["1", "true", "True", "TRUE"] {
            let s = format!("FOO=bar;IgnoreUnknown={yes};K8S_POD_NAME=a");
            let args = parse_cni_args(&s).unwrap();
            assert_eq!(args.pod_name.as_deref(), Some("a"), "{yes}");
        }
        for no in ["0", "false"] {
            let s = format!("FOO=bar;IgnoreUnknown={no}");
            assert!(parse_cni_args(&s).is_err(), "{no}");
        }
        let e = parse_cni_args("IgnoreUnknown=yes").unwrap_err();
        assert!(e.details.contains("IgnoreUnknown=\"yes\""), "{e}");
    }

    #[test]
    fn cni_args_shapes() {
        assert_eq!(parse_cni_args(""), Ok(CniArgs::default()));
        let args = parse_cni_args("K8S_POD_NAMESPACE=ns;;K8S_POD_NAME=;").unwrap();
        assert_eq!(args.pod_namespace.as_deref(), Some("ns"));
        assert_eq!(args.pod_name, None);
        let args = parse_cni_args("K8S_POD_UID=a=b").unwrap();
        assert_eq!(args.pod_uid.as_deref(), Some("a=b"));
        let e = parse_cni_args("K8S_POD_NAME").unwrap_err();
        assert!(e.details.contains("is not KEY=VALUE"), "{e}");
    }

    #[test]
    fn malformed_cni_args_fail_the_attachment() {
        let raw = RawEnv::from_pairs(
            without(full("ADD"), CNI_ARGS)
                .into_iter()
                .chain([(CNI_ARGS, "nonsense")]),
        );
        let e = attachment_env(&raw, Command::Add).unwrap_err();
        assert!(e.details.starts_with("CNI_ARGS:"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_values_are_invalid() {
        use std::os::unix::ffi::OsStringExt;
        let raw = RawEnv::from_os_vars([
            (OsString::from(CNI_COMMAND), OsString::from("ADD")),
            (OsString::from(CNI_IFNAME), OsString::from_vec(vec![0xff, 0x65])),
        ]);
        let e = raw.get(CNI_IFNAME).unwrap_err();
        assert_eq!(e.details, "CNI_IFNAME is not valid UTF-8");
    }
}
