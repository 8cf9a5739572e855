use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::two_part::TwoPart;
use crate::{Administrator, NotationError};

/// A route distinguisher (RFC 4364 §4.2): 2 octets of type, 6 of value, in the same
/// `ADMINISTRATOR:NUMBER` notation as route targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RouteDistinguisher(TwoPart);

impl RouteDistinguisher {
    pub fn administrator(self) -> Administrator {
        self.0.admin
    }

    pub fn assigned(self) -> u32 {
        self.0.assigned
    }

    pub fn to_bytes(self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[1] = self.0.admin.type_code();
        out[2..].copy_from_slice(&self.0.value_bytes());
        out
    }

    /// `None` for a type other than 0, 1 or 2.
    pub fn from_bytes(b: [u8; 8]) -> Option<RouteDistinguisher> {
        if b[0] != 0 {
            return None;
        }
        TwoPart::from_value_bytes(b[1], [b[2], b[3], b[4], b[5], b[6], b[7]]).map(RouteDistinguisher)
    }
}

impl FromStr for RouteDistinguisher {
    type Err = NotationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TwoPart::parse(s)
            .map(RouteDistinguisher)
            .map_err(|reason| NotationError {
                what: "route distinguisher",
                given: s.to_string(),
                reason,
            })
    }
}

impl TryFrom<String> for RouteDistinguisher {
    type Error = NotationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RouteDistinguisher> for String {
    fn from(rd: RouteDistinguisher) -> String {
        rd.to_string()
    }
}

impl fmt::Display for RouteDistinguisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
