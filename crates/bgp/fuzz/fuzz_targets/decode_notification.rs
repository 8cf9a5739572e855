//! Any NOTIFICATION body behind a valid header: see `common::decode_notification_target`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::decode_notification_target(data));
