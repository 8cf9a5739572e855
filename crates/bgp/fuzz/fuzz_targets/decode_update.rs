//! Any UPDATE body (after a session-context octet): RFC 7606 outcomes only, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::decode_update_target(data));
