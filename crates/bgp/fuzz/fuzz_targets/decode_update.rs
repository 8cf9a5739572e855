//! Any UPDATE body: RFC 7606 decoding never panics and only survivable actions come back
//! beside an UPDATE.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_bgp::{Action, Update};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let (caps, body) = common::caps_from(data);
    match Update::decode(body, &caps) {
        Err(e) => assert!(e.is_rfc_notification(), "{e:?}"),
        Ok(d) => {
            assert!(d.errors.iter().all(|e| !matches!(e.action, Action::SessionReset(_))));
            let _ = d.announcements();
            let _ = d.withdrawals();
        }
    }
});
