use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A 4-octet AS number (RFC 6793). AS 0 is reserved (RFC 7607) and rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u32")]
pub struct Asn(u32);

/// Why a number is not a usable AS number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsnError {
    #[error("AS 0 is reserved (RFC 7607); use a private AS such as 64512-65534 or 4200000000-4294967294")]
    Zero,
    #[error("{0} is larger than the largest AS number 4294967295")]
    TooLarge(u64),
    #[error("{0:?} is not an AS number; write a decimal such as 64512 or 4200000001")]
    NotANumber(String),
}

impl Asn {
    pub const fn new_unchecked(value: u32) -> Asn {
        Asn(value)
    }

    pub const fn get(self) -> u32 {
        self.0
    }

    /// AS numbers that do not fit the 2-octet field of an OPEN need AS_TRANS (RFC 6793 §4.2.2).
    pub const fn is_four_octet(self) -> bool {
        self.0 > u16::MAX as u32
    }
}

impl TryFrom<u64> for Asn {
    type Error = AsnError;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        match value {
            0 => Err(AsnError::Zero),
            v if v > u64::from(u32::MAX) => Err(AsnError::TooLarge(v)),
            v => Ok(Asn(v as u32)),
        }
    }
}

impl From<Asn> for u32 {
    fn from(asn: Asn) -> u32 {
        asn.0
    }
}

impl FromStr for Asn {
    type Err = AsnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix("AS").unwrap_or(s);
        let value: u64 = digits.parse().map_err(|_| AsnError::NotANumber(s.to_string()))?;
        Asn::try_from(value)
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
