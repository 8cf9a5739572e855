//! The CNI error result (spec §5 "Error"): a code, a short `msg` and a `details` that says what
//! was wrong and how to fix it. The plugin prints it on stdout and exits non-zero (spec §2
//! "Errors"; libcni reads the error from stdout).

use std::fmt;

use serde::Serialize;

use crate::protocol::{AgentError, codes};

/// A failure to report to the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniError {
    /// A well-known code (0-99, spec table) or Weft's own (100+, [`codes`]).
    pub code: u32,
    pub msg: String,
    pub details: String,
}

impl std::error::Error for CniError {}

impl fmt::Display for CniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.msg, self.code)?;
        if !self.details.is_empty() {
            write!(f, ": {}", self.details)?;
        }
        Ok(())
    }
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> Self {
        CniError {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }

    /// Code 1: the config's `cniVersion` is one we do not speak, or does not allow the command.
    pub fn incompatible_version(details: impl Into<String>) -> Self {
        Self::new(codes::INCOMPATIBLE_VERSION, "incompatible CNI version", details)
    }

    /// Code 4: a CNI_* variable is missing or malformed; `details` names it (the spec requires
    /// the names of the invalid variables).
    pub fn invalid_env(details: impl Into<String>) -> Self {
        Self::new(codes::INVALID_ENV, "invalid environment variables", details)
    }

    /// Code 5: stdin could not be read.
    pub fn io_failure(details: impl Into<String>) -> Self {
        Self::new(codes::IO_FAILURE, "I/O failure", details)
    }

    /// Code 6: stdin is not a JSON object.
    pub fn decode(details: impl Into<String>) -> Self {
        Self::new(codes::DECODE_FAILURE, "failed to decode network config", details)
    }

    /// Code 7: the config is JSON but a field is wrong; `details` names the field and the fix.
    pub fn invalid_config(details: impl Into<String>) -> Self {
        Self::new(codes::INVALID_CONFIG, "invalid network config", details)
    }

    /// Code 11: something transient (the agent is restarting); the runtime should retry.
    pub fn try_again_later(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(codes::TRY_AGAIN_LATER, msg, details)
    }

    /// The agent answered something this plugin cannot use (a version skew or a bug).
    pub fn bad_agent_response(details: impl Into<String>) -> Self {
        Self::new(
            codes::BAD_AGENT_RESPONSE,
            "unexpected answer from the weft agent",
            details,
        )
    }

    /// The error result JSON for `cni_version`, without a trailing newline.
    pub fn to_json(&self, cni_version: &str) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            cni_version: &'a str,
            code: u32,
            msg: &'a str,
            details: &'a str,
        }
        let wire = Wire {
            cni_version,
            code: self.code,
            msg: &self.msg,
            details: &self.details,
        };
        // Serializing strings and an integer into a String cannot fail; fall back to a fixed
        // text rather than panic if it ever did.
        serde_json::to_string(&wire).unwrap_or_else(|_| {
            format!(
                "{{\"cniVersion\":\"{cni_version}\",\"code\":{},\"msg\":\"error\",\"details\":\"\"}}",
                self.code
            )
        })
    }
}

impl From<AgentError> for CniError {
    /// The agent already chose a CNI code; pass it on unchanged.
    fn from(e: AgentError) -> Self {
        CniError::new(e.code, e.msg, e.details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_the_spec_error_shape() {
        let e = CniError::invalid_config("field \"mtu\": 70000 is out of range: must be 576-9000");
        let v: serde_json::Value = serde_json::from_str(&e.to_json("1.1.0")).unwrap();
        assert_eq!(
            v,
            json!({
                "cniVersion": "1.1.0",
                "code": 7,
                "msg": "invalid network config",
                "details": "field \"mtu\": 70000 is out of range: must be 576-9000",
            })
        );
    }

    #[test]
    fn escapes_quotes_and_control_characters() {
        let e = CniError::new(101, "a \"quoted\"\nmsg", "tab\there");
        let v: serde_json::Value = serde_json::from_str(&e.to_json("0.4.0")).unwrap();
        assert_eq!(v["msg"], "a \"quoted\"\nmsg");
        assert_eq!(v["details"], "tab\there");
        assert_eq!(v["cniVersion"], "0.4.0");
        assert_eq!(v["code"], 101);
    }

    #[test]
    fn display_includes_code_and_details() {
        let e = CniError::invalid_env("CNI_IFNAME is not set");
        assert_eq!(
            e.to_string(),
            "invalid environment variables (code 4): CNI_IFNAME is not set"
        );
        assert_eq!(CniError::new(3, "gone", "").to_string(), "gone (code 3)");
    }

    #[test]
    fn agent_errors_keep_their_code() {
        let e: CniError = AgentError {
            code: codes::CONTROLLER_REFUSED,
            msg: "no addresses left".into(),
            details: "pool 10.0.0.0/30 is full".into(),
        }
        .into();
        assert_eq!(e.code, 101);
        assert_eq!(e.msg, "no addresses left");
        assert_eq!(e.details, "pool 10.0.0.0/30 is full");
    }
}
