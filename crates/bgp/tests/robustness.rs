//! Arbitrary and mutated input never panics; every failure is a NOTIFICATION RFC 4271 / 7313
//! defines, every survivable error an RFC 7606 action; and whatever decodes re-encodes to
//! something that decodes to the same message.

mod common;

use common::{golden, golden_files, strategy};
use proptest::prelude::*;
use weft_bgp::message::notification::{code, update_error};
use weft_bgp::{Action, SessionCaps, Update, decode_message, frame_length};

fn check(bytes: &[u8], caps: &SessionCaps) -> Result<(), TestCaseError> {
    let _ = frame_length(bytes, caps);
    match decode_message(bytes, caps) {
        Err(e) => {
            prop_assert!(e.is_rfc_notification(), "{:?}", e);
            prop_assert!(matches!(e.action(), Action::SessionReset(_)));
        }
        Ok(d) => {
            for e in &d.errors {
                match &e.action {
                    Action::TreatAsWithdraw { .. } | Action::AttributeDiscard { .. } => {}
                    Action::AfiSafiDisable { notification, .. } => {
                        prop_assert_eq!(
                            (notification.code, notification.subcode),
                            (code::UPDATE_MESSAGE_ERROR, update_error::OPTIONAL_ATTRIBUTE_ERROR)
                        );
                    }
                    Action::SessionReset(_) => prop_assert!(false, "a reset among the survivable errors"),
                }
            }
            // What decoded encodes again (the session may pass it on) and reads back the same.
            let again = d
                .message
                .encode(caps)
                .map_err(|e| TestCaseError::fail(format!("re-encode of {:?}: {e}", d.message)))?;
            let d2 = decode_message(&again, caps).map_err(|e| TestCaseError::fail(format!("re-decode: {e}")))?;
            prop_assert_eq!(d2.message, d.message);
        }
    }
    Ok(())
}

fn frame(message_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    v.push(message_type);
    v.extend_from_slice(body);
    v
}

/// An UPDATE body built from attribute-shaped pieces, so that the decoder gets past the length
/// fields and into the attribute and NLRI parsers.
fn update_body() -> impl Strategy<Value = Vec<u8>> {
    let code = prop_oneof![
        prop::sample::select(vec![1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32]),
        any::<u8>()
    ];
    let flags = prop_oneof![
        prop::sample::select(vec![0x40u8, 0x80, 0xc0, 0x50, 0x90, 0xd0, 0xe0]),
        any::<u8>()
    ];
    let mp_head = prop::sample::select(vec![
        vec![0u8, 1, 1],
        vec![0, 2, 1],
        vec![0, 1, 128],
        vec![0, 2, 128],
        vec![0, 25, 70],
        vec![0, 1, 132],
    ]);
    let value = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        (mp_head, proptest::collection::vec(any::<u8>(), 0..60)).prop_map(|(mut h, t)| {
            h.extend(t);
            h
        }),
    ];
    let attr = (flags, code, value).prop_map(|(f, c, v)| {
        let mut a = vec![f, c];
        if f & 0x10 != 0 {
            a.extend_from_slice(&(v.len() as u16).to_be_bytes());
        } else {
            a.push(v.len() as u8);
        }
        a.extend(v);
        a
    });
    (
        proptest::collection::vec(any::<u8>(), 0..12),
        proptest::collection::vec(attr, 0..6),
        proptest::collection::vec(any::<u8>(), 0..16),
        any::<bool>(),
    )
        .prop_map(|(withdrawn, attrs, nlri, truncate)| {
            let attrs: Vec<u8> = attrs.concat();
            let mut b = Vec::new();
            b.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
            b.extend(withdrawn);
            b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
            b.extend(attrs);
            b.extend(nlri);
            if truncate {
                b.pop();
            }
            b
        })
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match *m {
        Mutation::Set(i, b) => bytes[i % n] = b,
        Mutation::Flip(i, bit) => bytes[i % n] ^= 1 << bit,
        Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
        Mutation::Remove(i) => {
            bytes.remove(i % n);
        }
        Mutation::Truncate(i) => bytes.truncate(i % n),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200), caps in strategy::caps()) {
        check(&bytes, &caps)?;
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header(
        t in 1u8..=5,
        body in proptest::collection::vec(any::<u8>(), 0..200),
        caps in strategy::caps(),
    ) {
        check(&frame(t, &body), &caps)?;
    }

    #[test]
    fn attribute_shaped_updates(body in update_body(), caps in strategy::caps()) {
        check(&frame(2, &body), &caps)?;
        // The body decoder alone (the fuzz target's entry point) agrees with the framed one.
        let framed = decode_message(&frame(2, &body), &caps).map(|d| d.errors);
        let bare = Update::decode(&body, &caps).map(|d| d.errors);
        if body.len() >= 4 && body.len() + 19 <= caps.max_message_len() {
            prop_assert_eq!(framed, bare);
        }
    }

    #[test]
    fn mutated_golden_messages(
        index in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
        fix_length in any::<bool>(),
        caps in strategy::caps(),
    ) {
        let files = golden_files();
        let (name, golden_caps) = &files[index.index(files.len())];
        let mut bytes = golden(name);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if fix_length && bytes.len() >= 19 {
            let len = (bytes.len() as u16).to_be_bytes();
            bytes[16] = len[0];
            bytes[17] = len[1];
        }
        check(&bytes, golden_caps)?;
        check(&bytes, &caps)?;
    }
}
