//! A Session in OpenConfirm/Established fed any octets in any chunks, with timer ticks, its
//! actions going through the RIB: see `common::session_stream_target`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::session_stream_target(data));
