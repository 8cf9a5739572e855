//! The `ADMINISTRATOR:ASSIGNED` notation shared by route targets (RFC 4360 §3, RFC 5668) and route
//! distinguishers (RFC 4364 §4.2): three encodings of six octets, chosen by what the administrator is.

use std::fmt;
use std::net::Ipv4Addr;

/// The administrator half, which decides the encoding's type and so the width of the assigned half.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Administrator {
    /// Type 0: 2-octet AS number, 4-octet assigned number.
    As2(u16),
    /// Type 1: IPv4 address, 2-octet assigned number.
    Ipv4(Ipv4Addr),
    /// Type 2: 4-octet AS number, 2-octet assigned number.
    As4(u32),
}

impl Administrator {
    /// The type code (0, 1 or 2) used in both the RD type field and the extended community type's
    /// low bits.
    pub const fn type_code(self) -> u8 {
        match self {
            Administrator::As2(_) => 0,
            Administrator::Ipv4(_) => 1,
            Administrator::As4(_) => 2,
        }
    }

    /// The largest assigned number this type of administrator leaves room for.
    pub const fn max_assigned(self) -> u32 {
        match self {
            Administrator::As2(_) => u32::MAX,
            _ => u16::MAX as u32,
        }
    }
}

impl fmt::Display for Administrator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Administrator::As2(a) => write!(f, "{a}"),
            Administrator::Ipv4(a) => write!(f, "{a}"),
            Administrator::As4(a) => write!(f, "{a}"),
        }
    }
}

/// A parsed `ADMINISTRATOR:ASSIGNED` pair, checked for range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TwoPart {
    pub admin: Administrator,
    pub assigned: u32,
}

/// Why a string is not a route target or route distinguisher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a valid {what}: {reason}")]
pub struct NotationError {
    pub what: &'static str,
    pub given: String,
    pub reason: TwoPartError,
}

/// Why the text is not `ADMINISTRATOR:ASSIGNED`; the caller adds what the value was for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwoPartError {
    #[error("expected ADMINISTRATOR:NUMBER, e.g. 64512:100, 4200000001:100 or 192.0.2.1:100")]
    Shape,
    #[error("the administrator {0:?} is neither an AS number (1-4294967295) nor an IPv4 address")]
    Administrator(String),
    #[error("the number {0:?} after the colon is not a decimal number")]
    Assigned(String),
    #[error("the number {assigned} is too large: with {admin_kind} {admin} it must be at most {max}")]
    AssignedRange {
        admin_kind: &'static str,
        admin: String,
        assigned: u64,
        max: u32,
    },
}

impl TwoPart {
    pub(crate) fn parse(s: &str) -> Result<TwoPart, TwoPartError> {
        let (admin, assigned) = s.rsplit_once(':').ok_or(TwoPartError::Shape)?;
        if admin.is_empty() || assigned.is_empty() {
            return Err(TwoPartError::Shape);
        }
        let admin = if admin.contains('.') {
            Administrator::Ipv4(
                admin
                    .parse()
                    .map_err(|_| TwoPartError::Administrator(admin.to_string()))?,
            )
        } else {
            let asn: u64 = decimal(admin).ok_or_else(|| TwoPartError::Administrator(admin.to_string()))?;
            match asn {
                0..=65535 => Administrator::As2(asn as u16),
                65536..=4294967295 => Administrator::As4(asn as u32),
                _ => return Err(TwoPartError::Administrator(admin.to_string())),
            }
        };
        let value = decimal(assigned).ok_or_else(|| TwoPartError::Assigned(assigned.to_string()))?;
        let max = admin.max_assigned();
        if value > u64::from(max) {
            let admin_kind = match admin {
                Administrator::As2(_) => "2-octet AS",
                Administrator::Ipv4(_) => "IPv4 administrator",
                Administrator::As4(_) => "4-octet AS",
            };
            return Err(TwoPartError::AssignedRange {
                admin_kind,
                admin: admin.to_string(),
                assigned: value,
                max,
            });
        }
        Ok(TwoPart {
            admin,
            assigned: value as u32,
        })
    }

    /// The six value octets shared by both encodings.
    pub(crate) fn value_bytes(self) -> [u8; 6] {
        let mut out = [0u8; 6];
        match self.admin {
            Administrator::As2(a) => {
                out[..2].copy_from_slice(&a.to_be_bytes());
                out[2..].copy_from_slice(&self.assigned.to_be_bytes());
            }
            Administrator::Ipv4(a) => {
                out[..4].copy_from_slice(&a.octets());
                out[4..].copy_from_slice(&(self.assigned as u16).to_be_bytes());
            }
            Administrator::As4(a) => {
                out[..4].copy_from_slice(&a.to_be_bytes());
                out[4..].copy_from_slice(&(self.assigned as u16).to_be_bytes());
            }
        }
        out
    }

    pub(crate) fn from_value_bytes(type_code: u8, v: [u8; 6]) -> Option<TwoPart> {
        let (admin, assigned) = match type_code {
            0 => (
                Administrator::As2(u16::from_be_bytes([v[0], v[1]])),
                u32::from_be_bytes([v[2], v[3], v[4], v[5]]),
            ),
            1 => (
                Administrator::Ipv4(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
                u32::from(u16::from_be_bytes([v[4], v[5]])),
            ),
            2 => (
                Administrator::As4(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
                u32::from(u16::from_be_bytes([v[4], v[5]])),
            ),
            _ => return None,
        };
        Some(TwoPart { admin, assigned })
    }
}

impl fmt::Display for TwoPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.admin, self.assigned)
    }
}

/// Plain decimal digits only: no sign, no spaces, at most 10 digits.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
