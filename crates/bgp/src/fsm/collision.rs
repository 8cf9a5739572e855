//! Connection collision resolution (RFC 4271 §6.8, RFC 6286 §2.3).

use std::net::Ipv4Addr;

/// Which of two connections to the same peer survives, once the peer's BGP Identifier is known.
///
/// The connection initiated by the speaker with the higher BGP Identifier (compared as 32-bit
/// unsigned integers) survives. With equal identifiers (allowed between ASes by RFC 6286) the one
/// initiated by the speaker with the higher AS number does. Returns whether to keep the connection
/// we initiated.
pub fn keep_outgoing(local_id: Ipv4Addr, local_as: u32, remote_id: Ipv4Addr, remote_as: u32) -> bool {
    let (local, remote) = (u32::from(local_id), u32::from(remote_id));
    if local != remote {
        local > remote
    } else {
        local_as > remote_as
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_identifier_wins_then_higher_as() {
        let low = Ipv4Addr::new(10, 0, 0, 9);
        let high = Ipv4Addr::new(10, 0, 1, 0);
        assert!(keep_outgoing(high, 1, low, 2));
        assert!(!keep_outgoing(low, 2, high, 1));
        // Compared as unsigned: 192.x is above 10.x.
        assert!(keep_outgoing(Ipv4Addr::new(192, 0, 2, 1), 1, high, 1));
        assert!(keep_outgoing(low, 64513, low, 64512));
        assert!(!keep_outgoing(low, 64512, low, 64513));
    }
}
