//! The CNI spec versions this plugin speaks, and which commands each allows.
//!
//! A config names one version in `cniVersion`; the plugin must answer in that same version
//! (spec §5 "ADD Success": `cniVersion` is "the same version supplied on input") or fail with
//! code 1. Versions are matched as exact strings, as libcni's reconciler does, and ordered so that
//! CHECK (introduced in 0.4.0) and STATUS/GC (introduced in 1.1.0) can be gated.

use std::fmt;

use crate::error::CniError;

/// A CNI spec version this plugin supports. 0.1.0 and 0.2.0 are left out: their result type
/// (`ip4`/`ip6` objects) predates interfaces and Kubernetes runtimes no longer send them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CniVersion {
    V0_3_0,
    V0_3_1,
    V0_4_0,
    V1_0_0,
    V1_1_0,
}

impl CniVersion {
    /// Every supported version, oldest first: what VERSION reports in `supportedVersions`.
    pub const ALL: [CniVersion; 5] = [
        CniVersion::V0_3_0,
        CniVersion::V0_3_1,
        CniVersion::V0_4_0,
        CniVersion::V1_0_0,
        CniVersion::V1_1_0,
    ];

    /// The newest version: used when the input names none we can echo (VERSION, early errors).
    pub const LATEST: CniVersion = CniVersion::V1_1_0;

    pub fn as_str(self) -> &'static str {
        match self {
            CniVersion::V0_3_0 => "0.3.0",
            CniVersion::V0_3_1 => "0.3.1",
            CniVersion::V0_4_0 => "0.4.0",
            CniVersion::V1_0_0 => "1.0.0",
            CniVersion::V1_1_0 => "1.1.0",
        }
    }

    /// The supported version spelled exactly `s`, if any.
    pub fn parse(s: &str) -> Option<CniVersion> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The version a config asks for, or code 1 naming the supported ones.
    ///
    /// An absent `cniVersion` means 0.1.0 (libcni's `DecodeVersion`), which we do not support.
    pub fn negotiate(requested: Option<&str>) -> Result<CniVersion, CniError> {
        match requested {
            Some(s) => Self::parse(s).ok_or_else(|| {
                CniError::incompatible_version(format!(
                    "field \"cniVersion\": {s:?} is not supported: use one of {}",
                    supported_list()
                ))
            }),
            None => Err(CniError::incompatible_version(format!(
                "field \"cniVersion\" is missing, which means 0.1.0: set it to one of {}",
                supported_list()
            ))),
        }
    }

    /// Results before 1.0.0 carry `version` ("4"/"6") in each `ips` entry (spec 0.3.0-0.4.0).
    pub fn ips_carry_version(self) -> bool {
        self < CniVersion::V1_0_0
    }

    /// `mtu` on result interfaces is new in 1.1.0 (spec §5 "ADD Success").
    pub fn interfaces_carry_mtu(self) -> bool {
        self >= CniVersion::V1_1_0
    }

    /// CHECK exists since 0.4.0 (spec 0.4.0 introduced it; libcni's skel refuses it below).
    pub fn allows_check(self) -> bool {
        self >= CniVersion::V0_4_0
    }

    /// STATUS and GC exist since 1.1.0.
    pub fn allows_status_and_gc(self) -> bool {
        self >= CniVersion::V1_1_0
    }
}

impl fmt::Display for CniVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `0.3.0, 0.3.1, ...` for error details.
pub fn supported_list() -> String {
    CniVersion::ALL.map(CniVersion::as_str).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codes;

    #[test]
    fn parses_exactly_the_supported_strings() {
        for v in CniVersion::ALL {
            assert_eq!(CniVersion::parse(v.as_str()), Some(v));
        }
        for s in ["0.1.0", "0.2.0", "1.0", "1.1", "2.0.0", "v1.0.0", " 1.0.0", ""] {
            assert_eq!(CniVersion::parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn order_follows_the_spec_history() {
        assert!(CniVersion::V0_3_0 < CniVersion::V0_3_1);
        assert!(CniVersion::V0_3_1 < CniVersion::V0_4_0);
        assert!(CniVersion::V0_4_0 < CniVersion::V1_0_0);
        assert!(CniVersion::V1_0_0 < CniVersion::V1_1_0);
        assert_eq!(CniVersion::LATEST, *CniVersion::ALL.last().unwrap());
    }

    #[test]
    fn negotiation_refuses_unknown_and_missing_versions_with_code_1() {
        assert_eq!(CniVersion::negotiate(Some("1.0.0")), Ok(CniVersion::V1_0_0));
        let e = CniVersion::negotiate(Some("0.2.0")).unwrap_err();
        assert_eq!(e.code, codes::INCOMPATIBLE_VERSION);
        assert!(e.details.contains("\"0.2.0\""), "{e}");
        assert!(e.details.contains("1.1.0"), "{e}");
        let e = CniVersion::negotiate(None).unwrap_err();
        assert_eq!(e.code, codes::INCOMPATIBLE_VERSION);
        assert!(e.details.contains("missing"), "{e}");
    }

    #[test]
    fn command_gates() {
        assert!(!CniVersion::V0_3_1.allows_check());
        assert!(CniVersion::V0_4_0.allows_check());
        assert!(!CniVersion::V1_0_0.allows_status_and_gc());
        assert!(CniVersion::V1_1_0.allows_status_and_gc());
        assert!(CniVersion::V0_4_0.ips_carry_version());
        assert!(!CniVersion::V1_0_0.ips_carry_version());
        assert!(!CniVersion::V1_0_0.interfaces_carry_mtu());
        assert!(CniVersion::V1_1_0.interfaces_carry_mtu());
    }

    #[test]
    fn supported_list_names_all() {
        assert_eq!(supported_list(), "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
    }
}
