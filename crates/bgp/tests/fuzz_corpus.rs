//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the same checks
//! the fuzz targets run, on the stable toolchain, so that `cargo test` catches a regression on
//! any input the fuzzers once found interesting. See `fuzz/README.md`.

#[path = "../fuzz/fuzz_targets/common.rs"]
mod fuzz_common;

use std::path::PathBuf;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 7] = [
    ("decode_message", fuzz_common::decode_message_target),
    ("decode_update", fuzz_common::decode_update_target),
    ("decode_open", fuzz_common::decode_open_target),
    ("decode_notification", fuzz_common::decode_notification_target),
    ("decode_route_refresh", fuzz_common::decode_route_refresh_target),
    ("decode_header", fuzz_common::decode_header_target),
    ("session_stream", fuzz_common::session_stream_target),
];

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, data)
        })
        .collect()
}

fn replay(target: &str, check: Target) {
    let files = corpus(target);
    // An empty or missing corpus would make this test pass without checking anything.
    assert!(files.len() >= 3, "{target}: only {} corpus files", files.len());
    for (path, data) in files {
        if let Err(e) = std::panic::catch_unwind(|| check(&data)) {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{target}: {} fails: {why}", path.display());
        }
    }
}

#[test]
fn decode_message() {
    replay("decode_message", fuzz_common::decode_message_target);
}

#[test]
fn decode_update() {
    replay("decode_update", fuzz_common::decode_update_target);
}

#[test]
fn decode_open() {
    replay("decode_open", fuzz_common::decode_open_target);
}

#[test]
fn decode_notification() {
    replay("decode_notification", fuzz_common::decode_notification_target);
}

#[test]
fn decode_route_refresh() {
    replay("decode_route_refresh", fuzz_common::decode_route_refresh_target);
}

#[test]
fn decode_header() {
    replay("decode_header", fuzz_common::decode_header_target);
}

#[test]
fn session_stream() {
    replay("session_stream", fuzz_common::session_stream_target);
}

/// Every target has a corpus directory and every corpus directory a target.
#[test]
fn every_target_has_a_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut dirs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(dirs, names);
}
