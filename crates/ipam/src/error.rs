//! Errors of the address pool.

use std::net::IpAddr;

use crate::Family;

/// Why a pool operation failed. Messages name the pool and the fix, since
/// they end up in `weft` output and resource status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// The subnet list is unusable (empty, overlapping, host bits set).
    #[error("pool {pool}: invalid spec.subnets: {reason}")]
    InvalidCidr { pool: String, reason: String },

    /// An address of a family was asked for but the pool has no such subnet.
    #[error("pool {pool} has no {family} subnet; add one to spec.subnets")]
    NoCidrForFamily { pool: String, family: Family },

    /// Every usable address of the family is taken.
    #[error(
        "pool {pool}: all {capacity} {family} addresses in {cidrs} are allocated; \
         add a subnet or release addresses"
    )]
    Exhausted {
        pool: String,
        family: Family,
        /// The family's subnets, comma separated.
        cidrs: String,
        capacity: u128,
    },

    /// The address is outside every subnet, or is a reserved network/broadcast address.
    #[error(
        "{ip} is not usable in pool {pool}: it is outside its subnets or a reserved \
         network/broadcast address; pick an address inside spec.subnets"
    )]
    NotInPool { pool: String, ip: IpAddr },

    /// The address already belongs to someone else.
    #[error("{ip} is already allocated to {owner}; release it there first or pick another address")]
    InUse { ip: IpAddr, owner: String },

    /// Persisted allocations name the same address twice (restore only).
    #[error("{ip} appears more than once in the saved allocations; the saved state is corrupt")]
    Duplicate { ip: IpAddr },
}
