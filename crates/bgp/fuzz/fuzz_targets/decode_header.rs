//! Any stream head, KEEPALIVE included: framing and decoding agree (`common::decode_header_target`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::decode_header_target(data));
