//! IPv4 and IPv6 prefixes (RFC 4271 §4.3, RFC 4760 §5): a length in bits and as many octets as
//! it needs; with ADD-PATH (RFC 7911 §3) a 4-octet path identifier comes first.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::wire::{Reader, prefix_octets, read_prefix_bits};

/// A unicast prefix, with its path identifier when ADD-PATH is on for the family.
///
/// Decoding clears the bits past the prefix length, so `net` is always in canonical form; build
/// one with [`Prefix::new`] to get the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    pub path_id: Option<u32>,
    pub net: IpNet,
}

impl Prefix {
    pub fn new(net: IpNet) -> Prefix {
        Prefix {
            path_id: None,
            net: net.trunc(),
        }
    }

    pub fn with_path_id(self, path_id: u32) -> Prefix {
        Prefix {
            path_id: Some(path_id),
            ..self
        }
    }

    /// Reads the length octet and the prefix octets.
    pub(crate) fn decode(r: &mut Reader<'_>, v6: bool, path_id: Option<u32>) -> Result<Prefix, &'static str> {
        let bits = r.u8().ok_or("truncated prefix length")?;
        let net = read_net(r, v6, bits)?;
        Ok(Prefix { path_id, net })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        write_net(out, &self.net);
    }
}

/// Reads `bits` bits of an address (after the length octet was read).
pub(crate) fn read_net(r: &mut Reader<'_>, v6: bool, bits: u8) -> Result<IpNet, &'static str> {
    if v6 {
        let octets: [u8; 16] = read_prefix_bits(r, usize::from(bits)).ok_or("IPv6 prefix too long or truncated")?;
        Ipv6Net::new(Ipv6Addr::from(octets), bits)
            .map(IpNet::V6)
            .map_err(|_| "IPv6 prefix length over 128")
    } else {
        let octets: [u8; 4] = read_prefix_bits(r, usize::from(bits)).ok_or("IPv4 prefix too long or truncated")?;
        Ipv4Net::new(Ipv4Addr::from(octets), bits)
            .map(IpNet::V4)
            .map_err(|_| "IPv4 prefix length over 32")
    }
}

/// Writes the length octet and the significant octets of `net`.
pub(crate) fn write_net(out: &mut Vec<u8>, net: &IpNet) {
    out.push(net.prefix_len());
    write_net_octets(out, net);
}

pub(crate) fn write_net_octets(out: &mut Vec<u8>, net: &IpNet) {
    let bits = usize::from(net.prefix_len());
    match net.trunc().addr() {
        IpAddr::V4(a) => out.extend_from_slice(prefix_octets(&a.octets(), bits)),
        IpAddr::V6(a) => out.extend_from_slice(prefix_octets(&a.octets(), bits)),
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.net)?;
        if let Some(id) = self.path_id {
            write!(f, " path-id {id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], v6: bool) -> Result<Prefix, &'static str> {
        let mut r = Reader::new(bytes);
        let p = Prefix::decode(&mut r, v6, None)?;
        assert!(r.is_empty());
        Ok(p)
    }

    #[test]
    fn rfc4271_layout() {
        // 198.51.100.0/24 is 0x18 then three octets.
        let p = decode(&[24, 198, 51, 100], false).unwrap();
        assert_eq!(p.net, "198.51.100.0/24".parse::<IpNet>().unwrap());
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, [24, 198, 51, 100]);
        // /0 is the length octet alone; /25 needs four octets.
        assert_eq!(decode(&[0], false).unwrap().net.to_string(), "0.0.0.0/0");
        assert_eq!(
            decode(&[25, 203, 0, 113, 128], false).unwrap().net.to_string(),
            "203.0.113.128/25"
        );
        // 2001:db8:100::/48 is 0x30 then six octets.
        assert_eq!(
            decode(&[48, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00], true)
                .unwrap()
                .net
                .to_string(),
            "2001:db8:100::/48"
        );
    }

    #[test]
    fn trailing_bits_are_cleared() {
        assert_eq!(
            decode(&[20, 10, 1, 0xff], false).unwrap().net.to_string(),
            "10.1.240.0/20"
        );
    }

    #[test]
    fn malformed() {
        assert!(decode(&[33, 1, 2, 3, 4, 5], false).is_err());
        assert!(decode(&[129; 18], true).is_err());
        assert!(decode(&[24, 1, 2], false).is_err());
        assert!(decode(&[], false).is_err());
    }
}
