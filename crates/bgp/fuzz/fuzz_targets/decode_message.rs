//! Any octets: decoding never panics, a failure carries an RFC NOTIFICATION, and a message that
//! decodes re-encodes to octets that decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_bgp::{Action, decode_message, frame_length};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (caps, frame) = common::caps_from(data);
    let _ = frame_length(frame, &caps);
    match decode_message(frame, &caps) {
        Err(e) => assert!(e.is_rfc_notification(), "{e:?}"),
        Ok(d) => {
            assert!(d.errors.iter().all(|e| !matches!(e.action, Action::SessionReset(_))));
            let again = d.message.encode(&caps).expect("a decoded message encodes");
            let d2 = decode_message(&again, &caps).expect("a re-encoded message decodes");
            assert_eq!(d2.message, d.message);
        }
    }
});
