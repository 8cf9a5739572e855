//! Labeled VPN prefixes (RFC 4364 §4.3.4 for VPN-IPv4, RFC 4659 §3.2 for VPN-IPv6): one length
//! in bits covering a label stack (RFC 8277, 3 octets per label), an 8-octet route
//! distinguisher and the prefix.

use std::fmt;

use ipnet::IpNet;
use weft_net::RouteDistinguisher;

use crate::EncodeError;
use crate::nlri::prefix::{read_net, write_net_octets};
use crate::wire::{Reader, octets_for_bits};

/// One 3-octet label field as it is on the wire: a 20-bit label, 3 traffic class bits and the
/// bottom-of-stack bit (RFC 3032); for VXLAN in EVPN (RFC 8365 §5.1.3) all 24 bits are the VNI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(u32);

impl Label {
    /// The label field of a withdrawal (RFC 8277 §2.4; RFC 3107's 0x800000).
    pub const WITHDRAW: Label = Label(0x80_0000);

    /// The 24 bits as they are on the wire; `None` above 0xFFFFFF.
    pub const fn from_raw(raw: u32) -> Option<Label> {
        if raw > 0xff_ffff { None } else { Some(Label(raw)) }
    }

    /// An MPLS label (at most 0xFFFFF) with the bottom-of-stack bit.
    pub const fn mpls(label: u32, bottom_of_stack: bool) -> Option<Label> {
        if label > 0xf_ffff {
            None
        } else {
            Some(Label(label << 4 | bottom_of_stack as u32))
        }
    }

    /// A 24-bit VXLAN network identifier filling the whole field (RFC 8365).
    pub const fn vni(vni: u32) -> Option<Label> {
        Label::from_raw(vni)
    }

    pub const fn raw(self) -> u32 {
        self.0
    }

    /// The 20-bit MPLS label.
    pub const fn mpls_label(self) -> u32 {
        self.0 >> 4
    }

    pub const fn bottom_of_stack(self) -> bool {
        self.0 & 1 == 1
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Option<Label> {
        let [a, b, c] = r.array()?;
        Some(Label(u32::from_be_bytes([0, a, b, c])))
    }

    pub(crate) fn write(self, out: &mut Vec<u8>) {
        let [_, a, b, c] = self.0.to_be_bytes();
        out.extend_from_slice(&[a, b, c]);
    }
}

/// A VPN-IPv4 or VPN-IPv6 route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VpnPrefix {
    pub path_id: Option<u32>,
    /// At least one label; the last has the bottom-of-stack bit (or is [`Label::WITHDRAW`]).
    pub labels: Vec<Label>,
    pub rd: RouteDistinguisher,
    pub net: IpNet,
}

impl VpnPrefix {
    /// A route with a single MPLS label.
    pub fn new(label: Label, rd: RouteDistinguisher, net: IpNet) -> VpnPrefix {
        VpnPrefix {
            path_id: None,
            labels: vec![label],
            rd,
            net: net.trunc(),
        }
    }

    /// The label stack ends at the bottom-of-stack bit (RFC 3032 §2.1, RFC 8277 §2.2). In a
    /// withdrawal (`withdrawn`, MP_UNREACH_NLRI) it also ends at 0x800000 or 0x000000, the label
    /// fields senders put there (RFC 8277 §2.4, RFC 3107 §3); in an announcement those are
    /// ordinary labels (label 0x80000 is a valid MPLS label).
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        v6: bool,
        path_id: Option<u32>,
        withdrawn: bool,
    ) -> Result<VpnPrefix, &'static str> {
        let bits = usize::from(r.u8().ok_or("truncated length")?);
        let body = r.take(octets_for_bits(bits)).ok_or("prefix runs past the attribute")?;
        let mut body = Reader::new(body);
        let mut rest = bits;
        let mut labels = Vec::new();
        loop {
            if rest < 24 + 64 {
                return Err("too short for a label and a route distinguisher");
            }
            let label = Label::read(&mut body).ok_or("truncated label")?;
            rest -= 24;
            labels.push(label);
            if label.bottom_of_stack() || (withdrawn && (label == Label::WITHDRAW || label.raw() == 0)) {
                break;
            }
        }
        let rd = body.array().ok_or("truncated route distinguisher")?;
        let rd = RouteDistinguisher::from_bytes(rd).ok_or("route distinguisher of unknown type")?;
        rest -= 64;
        let prefix_bits = u8::try_from(rest).map_err(|_| "prefix too long")?;
        let net = read_net(&mut body, v6, prefix_bits)?;
        Ok(VpnPrefix {
            path_id,
            labels,
            rd,
            net,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.labels.is_empty() {
            return Err(EncodeError::Invalid("VPN prefix", "no label"));
        }
        let bits = self.labels.len() * 24 + 64 + usize::from(self.net.prefix_len());
        let bits = u8::try_from(bits).map_err(|_| EncodeError::Invalid("VPN prefix", "label stack too deep"))?;
        out.push(bits);
        for label in &self.labels {
            label.write(out);
        }
        out.extend_from_slice(&self.rd.to_bytes());
        write_net_octets(out, &self.net);
        Ok(())
    }
}

impl fmt::Display for VpnPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.rd, self.net)?;
        for (i, l) in self.labels.iter().enumerate() {
            write!(f, "{}{}", if i == 0 { " label " } else { "/" }, l.mpls_label())?;
        }
        if let Some(id) = self.path_id {
            write!(f, " path-id {id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], v6: bool) -> Result<VpnPrefix, &'static str> {
        decode_as(bytes, v6, false)
    }

    fn decode_as(bytes: &[u8], v6: bool, withdrawn: bool) -> Result<VpnPrefix, &'static str> {
        let mut r = Reader::new(bytes);
        let p = VpnPrefix::decode(&mut r, v6, None, withdrawn)?;
        assert!(r.is_empty());
        Ok(p)
    }

    #[test]
    fn rfc4364_layout() {
        // 112 bits = label 100 (0x00064|BoS) + RD 0:64512:1 + 198.51.100.0/24.
        let bytes = [112, 0x00, 0x06, 0x41, 0, 0, 0xfc, 0, 0, 0, 0, 1, 198, 51, 100];
        let p = decode(&bytes, false).unwrap();
        assert_eq!(p.labels, [Label::mpls(100, true).unwrap()]);
        assert_eq!(p.labels[0].mpls_label(), 100);
        assert_eq!(p.rd.to_string(), "64512:1");
        assert_eq!(p.net.to_string(), "198.51.100.0/24");
        assert_eq!(p.to_string(), "64512:1:198.51.100.0/24 label 100");
        let mut out = Vec::new();
        p.encode(&mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn label_stack_and_withdraw_label() {
        // Two labels: 16 without BoS, 17 with BoS; RD type 1 192.0.2.1:7; 10.0.0.0/8.
        let bytes = [24 + 24 + 64 + 8, 0, 1, 0, 0, 1, 0x11, 0, 1, 192, 0, 2, 1, 0, 7, 10];
        let p = decode(&bytes, false).unwrap();
        assert_eq!(p.labels.len(), 2);
        assert_eq!(p.rd.to_string(), "192.0.2.1:7");
        // A withdrawal with 0x800000 (or 0x000000) ends the stack although its BoS bit is clear.
        let bytes = [24 + 64 + 24, 0x80, 0, 0, 0, 0, 0xfc, 0, 0, 0, 0, 1, 198, 51, 100];
        assert_eq!(decode_as(&bytes, false, true).unwrap().labels, [Label::WITHDRAW]);
        let bytes = [24 + 64 + 24, 0, 0, 0, 0, 0, 0xfc, 0, 0, 0, 0, 1, 198, 51, 100];
        assert_eq!(
            decode_as(&bytes, false, true).unwrap().labels,
            [Label::from_raw(0).unwrap()]
        );
        // In an announcement it is label 0x80000 without BoS: the stack goes on (RFC 8277 §2.2).
        let bytes = [24 + 24 + 64 + 8, 0x80, 0, 0, 0, 1, 0x01, 0, 0, 0xfc, 0, 0, 0, 0, 1, 10];
        let p = decode(&bytes, false).unwrap();
        assert_eq!(p.labels, [Label::WITHDRAW, Label::mpls(16, true).unwrap()]);
        assert_eq!(p.rd.to_string(), "64512:1");
        // The same octets read as a withdrawal: one label, and the rest another route.
        assert_eq!(decode_as(&bytes, false, true).unwrap().labels, [Label::WITHDRAW]);
    }

    #[test]
    fn malformed() {
        // Length shorter than label + RD.
        assert!(decode(&[80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], false).is_err());
        // Prefix part longer than 32 bits.
        let mut long = vec![24 + 64 + 40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        long.extend_from_slice(&[1, 2, 3, 4, 5]);
        assert!(decode(&long, false).is_err());
        // Runs past the end.
        assert!(decode(&[112, 0, 0, 1, 0, 0], false).is_err());
        // RD type 3 is not defined.
        assert!(decode(&[88, 0, 0, 1, 0, 3, 0, 0, 0, 0, 0, 1], false).is_err());
    }
}
