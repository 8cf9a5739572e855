//! The IP family of an address or subnet.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// IP family; allocation is asked per family so a dual-stack owner can hold
/// one address of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    #[serde(rename = "ipv4")]
    V4,
    #[serde(rename = "ipv6")]
    V6,
}

impl Family {
    /// The family an address belongs to.
    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_display_and_serde() {
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "fd00::1".parse().unwrap();
        assert_eq!(Family::of(&v4), Family::V4);
        assert_eq!(Family::of(&v6), Family::V6);
        assert_eq!(Family::V4.to_string(), "IPv4");
        assert_eq!(Family::V6.to_string(), "IPv6");
        assert_eq!(serde_json::to_string(&Family::V4).unwrap(), "\"ipv4\"");
        assert_eq!(serde_json::to_string(&Family::V6).unwrap(), "\"ipv6\"");
        let back: Family = serde_json::from_str("\"ipv6\"").unwrap();
        assert_eq!(back, Family::V6);
        assert!(serde_json::from_str::<Family>("\"IPv6\"").is_err());
    }
}
