use weft_bgp::{Family, SessionCaps};

/// The first input octet picks the session context: bit 0 4-octet AS, bit 1 extended messages,
/// bits 2-7 ADD-PATH for the families in `Family::ALL` order.
pub fn caps_from(data: &[u8]) -> (SessionCaps, &[u8]) {
    let Some((&b, rest)) = data.split_first() else {
        return (SessionCaps::default(), data);
    };
    let caps = SessionCaps {
        four_octet_as: b & 1 != 0,
        extended_message: b & 2 != 0,
        add_path: Family::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| b & (4 << i) != 0)
            .map(|(_, f)| f)
            .collect(),
    };
    (caps, rest)
}
