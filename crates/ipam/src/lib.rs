//! Weft's IP address management: a Sans-IO address pool.
//!
//! A [`Pool`] hands out addresses from one or more subnets (IPv4 and IPv6
//! may be mixed) and remembers who owns each one. It does no I/O, has no
//! clock and no async, so the controller decides when to persist it
//! ([`Pool::allocations`]) and how to rebuild it after a restart
//! ([`Pool::restore`]); that keeps it fully testable in isolation.

mod error;
mod family;
mod pool;

pub use error::IpamError;
pub use family::Family;
pub use pool::Pool;

/// Re-exported so callers name subnets with the same type the pool uses.
pub use ipnet::IpNet;
