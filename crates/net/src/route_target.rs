use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::two_part::TwoPart;
use crate::{Administrator, NotationError};

/// A route target extended community (RFC 4360 §4, RFC 5668 for the 4-octet AS form).
///
/// Written as `ADMINISTRATOR:NUMBER`; the administrator decides the type: an AS up to 65535 is
/// type 0x00 with a 4-octet number, an IPv4 address is type 0x01 and a larger AS is type 0x02,
/// both with a 2-octet number. This is the notation of FRR, BIRD and GoBGP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RouteTarget(TwoPart);

/// Extended community sub-type of a route target (RFC 4360 §4).
const SUBTYPE_ROUTE_TARGET: u8 = 0x02;

impl RouteTarget {
    pub fn administrator(self) -> Administrator {
        self.0.admin
    }

    pub fn assigned(self) -> u32 {
        self.0.assigned
    }

    /// The 8-octet extended community, transitive.
    pub fn to_extended_community(self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[0] = self.0.admin.type_code();
        out[1] = SUBTYPE_ROUTE_TARGET;
        out[2..].copy_from_slice(&self.0.value_bytes());
        out
    }

    /// Reads a route target from an extended community; `None` when it is another kind of
    /// community (the caller keeps those as they are).
    pub fn from_extended_community(c: [u8; 8]) -> Option<RouteTarget> {
        if c[1] != SUBTYPE_ROUTE_TARGET || c[0] > 2 {
            return None;
        }
        let value = [c[2], c[3], c[4], c[5], c[6], c[7]];
        TwoPart::from_value_bytes(c[0], value).map(RouteTarget)
    }
}

impl FromStr for RouteTarget {
    type Err = NotationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TwoPart::parse(s).map(RouteTarget).map_err(|reason| NotationError {
            what: "route target",
            given: s.to_string(),
            reason,
        })
    }
}

impl TryFrom<String> for RouteTarget {
    type Error = NotationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RouteTarget> for String {
    fn from(rt: RouteTarget) -> String {
        rt.to_string()
    }
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
