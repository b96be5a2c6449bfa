//! libFuzzer entry point: the properties are in the library, where `cargo test` (see
//! `tests/replay.rs`) replays the committed inputs through the same code.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrosocket_fuzz::targets::payload_json(data));
