//! Any octets as one message (after a session-context octet): see `common::check_message`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::decode_message_target(data));
