//! The fuzz targets' bodies, as plain functions: `fuzz_targets/*.rs` only hand libFuzzer's
//! input to them, and `tests/replay.rs` runs the committed inputs through the same code.

mod engine_payload;
mod payload_json;
mod socket_packet;

pub use engine_payload::engine_payload;
pub use payload_json::payload_json;
pub use socket_packet::socket_packet;
