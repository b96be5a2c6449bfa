//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! The targets assert properties of `ferrosocket::protocol`. A property that is known to
//! be broken in core (see README.md, "Known findings") is asserted through [`check`] under
//! a short name, so that it still fails by default but can be tolerated while the fix is
//! pending: `FUZZ_TOLERATE=name1,name2 cargo fuzz run ...` (or `FUZZ_TOLERATE=all`).

use std::sync::OnceLock;

use bytes::Bytes;
use ferrosocket::protocol::socket::{self, Decoded, Packet};
use serde_json::Value;

/// Whether the known finding `name` is to be tolerated in this run (`FUZZ_TOLERATE`).
pub fn tolerated(name: &str) -> bool {
    static ALLOWED: OnceLock<Vec<String>> = OnceLock::new();
    ALLOWED
        .get_or_init(|| {
            std::env::var("FUZZ_TOLERATE")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .iter()
        .any(|allowed| allowed == name || allowed == "all")
}

/// Asserts `ok` for the known finding `name`; returns `ok` so the caller can skip the
/// checks that depend on it when the finding is tolerated.
#[track_caller]
pub fn check(name: &str, ok: bool, detail: impl FnOnce() -> String) -> bool {
    if !ok && !tolerated(name) {
        panic!("[{name}] {}", detail());
    }
    ok
}

/// Every `{"_placeholder": true, ...}` object in `value`, as its `num` (None when `num`
/// is missing or not an unsigned integer).
pub fn placeholders(value: &Value, out: &mut Vec<Option<u64>>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| placeholders(item, out)),
        Value::Object(map) => {
            if map.get("_placeholder") == Some(&Value::Bool(true)) {
                out.push(map.get("num").and_then(Value::as_u64));
            } else {
                map.values().for_each(|item| placeholders(item, out));
            }
        }
        _ => {}
    }
}

/// Whether every placeholder in `values` refers to one of `count` attachments.
pub fn placeholders_in_range(values: &[Value], count: usize) -> bool {
    let mut found = Vec::new();
    values.iter().for_each(|v| placeholders(v, &mut found));
    found
        .iter()
        .all(|num| matches!(num, Some(n) if *n < count as u64))
}

/// Decodes one Socket.IO packet (text without the Engine.IO `4`) and feeds it exactly
/// `binary` as attachments; panics unless that yields one complete packet.
pub fn decode_with(text: &str, binary: &[Bytes]) -> Packet {
    match socket::decode(text) {
        Ok(Decoded::Complete(packet)) => {
            assert!(
                binary.is_empty(),
                "{text:?}: complete, {} attachments expected",
                binary.len()
            );
            packet
        }
        Ok(Decoded::Partial(mut assembler)) => {
            assert!(
                !binary.is_empty(),
                "{text:?}: partial packet without attachments"
            );
            for (i, data) in binary.iter().enumerate() {
                let last = i + 1 == binary.len();
                match assembler.push(data.clone()) {
                    Ok(None) if !last => {}
                    Ok(Some(packet)) if last => return packet,
                    other => panic!("{text:?}: attachment {i} of {}: {other:?}", binary.len()),
                }
            }
            unreachable!("loop returns on the last attachment")
        }
        Err(error) => panic!("{text:?} (encoder output) does not decode: {error}"),
    }
}
