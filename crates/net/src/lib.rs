//! Network identifiers that every Weft crate speaks: IP prefixes parsed strictly, AS numbers,
//! and the BGP/MPLS VPN route targets and route distinguishers of RFC 4360 and RFC 4364.
//!
//! They live in their own crate so that the BGP codec and the resource model share one definition
//! without the codec depending on Kubernetes types.

mod asn;
mod prefix;
mod rd;
mod route_target;
mod two_part;

pub use asn::{Asn, AsnError};
pub use prefix::{PrefixError, parse_prefix};
pub use rd::RouteDistinguisher;
pub use route_target::RouteTarget;
pub use two_part::{Administrator, NotationError, TwoPartError};
