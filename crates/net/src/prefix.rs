use std::net::IpAddr;

use ipnet::IpNet;

/// Why a string is not a usable prefix. The messages name what would be valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("{0} is not a valid IPv4 prefix (the length must be 0-32, e.g. 10.1.0.0/16)")]
    InvalidV4(String),
    #[error("{0} is not a valid IPv6 prefix (the length must be 0-128, e.g. fd00:1::/64)")]
    InvalidV6(String),
    #[error("{0} is not a prefix; write an address and a length, e.g. 10.1.0.0/16 or fd00:1::/64")]
    NotAPrefix(String),
    #[error("{given} has host bits set; did you mean {network}?")]
    HostBits { given: String, network: IpNet },
}

/// Parses a prefix strictly: an address, a slash and a length, with no host bits set.
///
/// Host bits are refused rather than masked because a typo such as `10.1.1.0/16` usually means the
/// author had a different subnet in mind, and silently widening it would hand out wrong addresses.
pub fn parse_prefix(s: &str) -> Result<IpNet, PrefixError> {
    let Some((addr, len)) = s.split_once('/') else {
        return Err(PrefixError::NotAPrefix(s.to_string()));
    };
    let addr: IpAddr = addr.parse().map_err(|_| PrefixError::NotAPrefix(s.to_string()))?;
    let invalid = || match addr {
        IpAddr::V4(_) => PrefixError::InvalidV4(s.to_string()),
        IpAddr::V6(_) => PrefixError::InvalidV6(s.to_string()),
    };
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
        return Err(invalid());
    }
    let len: u8 = len.parse().map_err(|_| invalid())?;
    let net = IpNet::new(addr, len).map_err(|_| invalid())?;
    if net.network() != addr {
        return Err(PrefixError::HostBits {
            given: s.to_string(),
            network: net.trunc(),
        });
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_networks() {
        assert_eq!(parse_prefix("10.1.0.0/16").unwrap().to_string(), "10.1.0.0/16");
        assert_eq!(parse_prefix("fd00:1::/64").unwrap().to_string(), "fd00:1::/64");
        assert_eq!(parse_prefix("0.0.0.0/0").unwrap().prefix_len(), 0);
    }

    #[test]
    fn explains_rejections() {
        let e = parse_prefix("10.1.0.0/33").unwrap_err();
        assert_eq!(
            e.to_string(),
            "10.1.0.0/33 is not a valid IPv4 prefix (the length must be 0-32, e.g. 10.1.0.0/16)"
        );
        assert!(matches!(parse_prefix("fd00::/129"), Err(PrefixError::InvalidV6(_))));
        assert!(matches!(parse_prefix("10.1.0.0"), Err(PrefixError::NotAPrefix(_))));
        assert!(matches!(parse_prefix("10.1.0.0/+8"), Err(PrefixError::InvalidV4(_))));
        let e = parse_prefix("10.1.1.0/16").unwrap_err();
        assert_eq!(
            e.to_string(),
            "10.1.1.0/16 has host bits set; did you mean 10.1.0.0/16?"
        );
    }
}
