//! Bounds-checked reading and big-endian writing. Every read returns `None` past the end, so no
//! decoder can index out of range.

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// What has not been read yet, without consuming it.
    pub(crate) fn peek_rest(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.buf.split_at_checked(n)?;
        self.buf = tail;
        Some(head)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&first, tail) = self.buf.split_first()?;
        self.buf = tail;
        Some(first)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Writes a 2-octet length at `at` (reserved earlier with `put_u16(out, 0)`) covering everything
/// written after it; fails when it does not fit.
pub(crate) fn patch_len16(out: &mut [u8], at: usize, what: &'static str) -> Result<(), crate::EncodeError> {
    let len = out.len().saturating_sub(at.saturating_add(2));
    let v = u16::try_from(len).map_err(|_| crate::EncodeError::TooLong { what, len, max: 65535 })?;
    if let Some(slot) = out.get_mut(at..at.saturating_add(2)) {
        slot.copy_from_slice(&v.to_be_bytes());
    }
    Ok(())
}

/// Octets needed for a prefix of `bits` bits.
pub(crate) fn octets_for_bits(bits: usize) -> usize {
    bits.div_ceil(8)
}

/// Reads `bits` bits of an address of `N` octets, the trailing bits of the last octet cleared
/// (RFC 4271 §4.3: they are irrelevant).
pub(crate) fn read_prefix_bits<const N: usize>(r: &mut Reader<'_>, bits: usize) -> Option<[u8; N]> {
    if bits > N * 8 {
        return None;
    }
    let used = r.take(octets_for_bits(bits))?;
    let mut out = [0u8; N];
    for (dst, src) in out.iter_mut().zip(used) {
        *dst = *src;
    }
    mask_bits(&mut out, bits);
    Some(out)
}

/// Clears every bit past the first `bits`.
pub(crate) fn mask_bits(octets: &mut [u8], bits: usize) {
    for (i, octet) in octets.iter_mut().enumerate() {
        let start = i * 8;
        if start >= bits {
            *octet = 0;
        } else if bits - start < 8 {
            *octet &= 0xffu8 << (8 - (bits - start));
        }
    }
}

/// The octets of `addr` that a prefix of `bits` bits occupies on the wire.
pub(crate) fn prefix_octets(addr: &[u8], bits: usize) -> &[u8] {
    addr.get(..octets_for_bits(bits)).unwrap_or(addr)
}
