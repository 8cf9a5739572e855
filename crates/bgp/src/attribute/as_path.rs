//! AS_PATH (RFC 4271 §5.1.2, type 2) and AS4_PATH (RFC 6793 §3, type 17): segments of AS numbers,
//! 2 octets each between OLD speakers and 4 between NEW ones (AS4_PATH is always 4), and the
//! reconstruction of the real path from AS_PATH and AS4_PATH (RFC 6793 §4.2.3).

use std::fmt;

use crate::error::Reason;
use crate::wire::Reader;
use crate::{AS_TRANS, EncodeError};

/// Segment types (RFC 4271 §4.3, RFC 5065 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SegmentType {
    Set = 1,
    Sequence = 2,
    ConfedSequence = 3,
    ConfedSet = 4,
}

impl SegmentType {
    fn from_u8(v: u8) -> Option<SegmentType> {
        match v {
            1 => Some(SegmentType::Set),
            2 => Some(SegmentType::Sequence),
            3 => Some(SegmentType::ConfedSequence),
            4 => Some(SegmentType::ConfedSet),
            _ => None,
        }
    }

    pub fn is_confed(self) -> bool {
        matches!(self, SegmentType::ConfedSequence | SegmentType::ConfedSet)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AsSegment {
    pub kind: SegmentType,
    /// 1 to 255 AS numbers.
    pub asns: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// One AS_SEQUENCE (empty for an empty path, as an iBGP originator sends).
    pub fn sequence(asns: impl Into<Vec<u32>>) -> AsPath {
        let asns = asns.into();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![AsSegment {
                kind: SegmentType::Sequence,
                asns,
            }],
        }
    }

    /// The path length of RFC 4271 §9.1.2.2 (a): an AS_SET counts 1, confederation segments 0.
    pub fn path_length(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentType::Sequence => s.asns.len(),
                SegmentType::Set => 1,
                _ => 0,
            })
            .sum()
    }

    /// Whether any AS needs 4 octets, so that an OLD peer must also get AS4_PATH.
    pub fn has_four_octet_as(&self) -> bool {
        self.segments
            .iter()
            .flat_map(|s| &s.asns)
            .any(|&a| a > u32::from(u16::MAX))
    }

    /// The first AS of the path (the neighbor AS), if the path starts with a sequence.
    pub fn first_as(&self) -> Option<u32> {
        let first = self.segments.first()?;
        (first.kind == SegmentType::Sequence)
            .then(|| first.asns.first().copied())
            .flatten()
    }

    /// RFC 7606 §7.2: an unknown segment type, a segment running past the attribute, a lone
    /// trailing octet or a segment of length 0 makes the path malformed; so does AS 0
    /// (RFC 7607 §2).
    pub(crate) fn decode(type_code: u8, value: &[u8], four_octet: bool) -> Result<AsPath, Reason> {
        let mut r = Reader::new(value);
        let mut segments = Vec::new();
        let width = if four_octet { 4 } else { 2 };
        while !r.is_empty() {
            let (Some(kind), Some(count)) = (r.u8(), r.u8()) else {
                return Err(Reason::MalformedAsPath("a single octet after the last segment"));
            };
            let kind = SegmentType::from_u8(kind).ok_or(Reason::MalformedAsPath("unknown segment type"))?;
            if count == 0 {
                return Err(Reason::MalformedAsPath("segment of length 0"));
            }
            let members = r
                .take(usize::from(count) * width)
                .ok_or(Reason::MalformedAsPath("segment runs past the attribute"))?;
            let asns: Vec<u32> = if four_octet {
                members
                    .chunks_exact(4)
                    .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                    .map(u32::from_be_bytes)
                    .collect()
            } else {
                members
                    .chunks_exact(2)
                    .filter_map(|c| <[u8; 2]>::try_from(c).ok())
                    .map(|c| u32::from(u16::from_be_bytes(c)))
                    .collect()
            };
            if asns.contains(&0) {
                return Err(Reason::ZeroAs(type_code));
            }
            segments.push(AsSegment { kind, asns });
        }
        Ok(AsPath { segments })
    }

    /// With `four_octet` false every AS above 65535 becomes AS_TRANS (RFC 6793 §4.2.2).
    pub(crate) fn encode(&self, four_octet: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        for s in &self.segments {
            let count = u8::try_from(s.asns.len())
                .ok()
                .filter(|&c| c > 0)
                .ok_or(EncodeError::Invalid("AS_PATH segment", "needs 1 to 255 AS numbers"))?;
            out.push(s.kind as u8);
            out.push(count);
            for &asn in &s.asns {
                if four_octet {
                    out.extend_from_slice(&asn.to_be_bytes());
                } else {
                    out.extend_from_slice(&u16::try_from(asn).unwrap_or(AS_TRANS).to_be_bytes());
                }
            }
        }
        Ok(())
    }

    /// RFC 6793 §4.2.3: the path an OLD speaker's AS_PATH (`self`) and AS4_PATH stand for. When
    /// AS4_PATH is longer than AS_PATH it is ignored; otherwise the leading ASes of AS_PATH that
    /// AS4_PATH does not cover are kept and AS4_PATH (without confederation segments, §6) follows.
    pub fn merge_as4_path(&self, as4_path: &AsPath) -> AsPath {
        let as4: Vec<&AsSegment> = as4_path.segments.iter().filter(|s| !s.kind.is_confed()).collect();
        let as4_len = AsPath {
            segments: as4.iter().map(|s| (*s).clone()).collect(),
        }
        .path_length();
        let len = self.path_length();
        if len < as4_len {
            return self.clone();
        }
        let keep = len - as4_len;
        let mut taken = 0;
        let mut out: Vec<AsSegment> = Vec::new();
        for s in &self.segments {
            match s.kind {
                SegmentType::ConfedSequence | SegmentType::ConfedSet => out.push(s.clone()),
                _ if taken >= keep => break,
                SegmentType::Set => {
                    out.push(s.clone());
                    taken += 1;
                }
                SegmentType::Sequence => {
                    let n = s.asns.len().min(keep - taken);
                    out.push(AsSegment {
                        kind: SegmentType::Sequence,
                        asns: s.asns.iter().take(n).copied().collect(),
                    });
                    taken += n;
                }
            }
        }
        for s in as4 {
            match out.last_mut() {
                Some(last)
                    if last.kind == SegmentType::Sequence
                        && s.kind == SegmentType::Sequence
                        && last.asns.len() + s.asns.len() <= 255 =>
                {
                    last.asns.extend_from_slice(&s.asns);
                }
                _ => out.push(s.clone()),
            }
        }
        AsPath { segments: out }
    }
}

/// `64512 65001 {65002 65003} (65010) [65011]`, as FRR prints paths.
impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let list = s.asns.iter().map(u32::to_string).collect::<Vec<_>>();
            match s.kind {
                SegmentType::Sequence => write!(f, "{}", list.join(" "))?,
                SegmentType::Set => write!(f, "{{{}}}", list.join(","))?,
                SegmentType::ConfedSequence => write!(f, "({})", list.join(" "))?,
                SegmentType::ConfedSet => write!(f, "[{}]", list.join(","))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(asns: &[u32]) -> AsSegment {
        AsSegment {
            kind: SegmentType::Sequence,
            asns: asns.to_vec(),
        }
    }

    #[test]
    fn two_and_four_octet_layouts() {
        // AS_SEQUENCE of 64512 65001, then AS_SET {65002}.
        let two = [2, 2, 0xfc, 0x00, 0xfd, 0xe9, 1, 1, 0xfd, 0xea];
        let p = AsPath::decode(2, &two, false).unwrap();
        assert_eq!(p.to_string(), "64512 65001 {65002}");
        assert_eq!(p.path_length(), 3);
        let mut out = Vec::new();
        p.encode(false, &mut out).unwrap();
        assert_eq!(out, two);
        out.clear();
        p.encode(true, &mut out).unwrap();
        assert_eq!(out, [2, 2, 0, 0, 0xfc, 0x00, 0, 0, 0xfd, 0xe9, 1, 1, 0, 0, 0xfd, 0xea]);
        assert_eq!(AsPath::decode(2, &out, true).unwrap(), p);
        // A 4-octet AS becomes AS_TRANS for an OLD speaker.
        out.clear();
        AsPath::sequence(vec![4_200_000_001]).encode(false, &mut out).unwrap();
        assert_eq!(out, [2, 1, 0x5b, 0xa0]);
    }

    #[test]
    fn rfc7606_malformed_cases() {
        assert!(AsPath::decode(2, &[5, 1, 0, 1], false).is_err());
        assert!(AsPath::decode(2, &[2, 0], false).is_err());
        assert!(AsPath::decode(2, &[2, 2, 0, 1], false).is_err());
        assert!(AsPath::decode(2, &[2, 1, 0, 1, 2], false).is_err());
        assert_eq!(AsPath::decode(2, &[2, 1, 0, 0], false), Err(Reason::ZeroAs(2)));
        assert_eq!(AsPath::decode(2, &[], false), Ok(AsPath::default()));
    }

    #[test]
    fn rfc6793_merge() {
        // AS_PATH 64512 23456 23456 65010, AS4_PATH 4200000002 4200000010 65010: 1 leading AS kept.
        let as_path = AsPath::sequence(vec![64512, 23456, 23456, 65010]);
        let as4 = AsPath::sequence(vec![4_200_000_002, 4_200_000_010, 65010]);
        assert_eq!(
            as_path.merge_as4_path(&as4),
            AsPath::sequence(vec![64512, 4_200_000_002, 4_200_000_010, 65010])
        );
        // A longer AS4_PATH is ignored.
        let short = AsPath::sequence(vec![23456]);
        assert_eq!(short.merge_as4_path(&as4), short);
        // Sets count as one; confederation segments of AS4_PATH are dropped.
        let with_set = AsPath {
            segments: vec![
                seq(&[64512]),
                AsSegment {
                    kind: SegmentType::Set,
                    asns: vec![1, 2],
                },
                seq(&[23456]),
            ],
        };
        let as4 = AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentType::ConfedSequence,
                    asns: vec![7],
                },
                seq(&[4_200_000_003]),
            ],
        };
        assert_eq!(with_set.merge_as4_path(&as4).to_string(), "64512 {1,2} 4200000003");
    }
}
