//! The fuzz targets ([`targets`]) and the helpers they share.
//!
//! The targets assert properties of `ferrosocket::protocol`. A property that is known to
//! be broken in core (see README.md, "Known findings") is asserted through [`check`] under
//! a short name, so that it still fails by default but can be tolerated while the fix is
//! pending: `FUZZ_TOLERATE=name1,name2 cargo fuzz run ...` (or `FUZZ_TOLERATE=all`).

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use ferrosocket::protocol::socket::{self, Decoded, Packet};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

pub mod targets;

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

/// `text` without leading and trailing JSON whitespace (RFC 8259: space, tab, line feed,
/// carriage return). `str::trim` would also drop Unicode whitespace (`\x0b`, `\x0c`,
/// U+00A0, ...), which is not JSON's and must make the text be refused, not trimmed.
pub fn trim_json_whitespace(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\n', '\r'])
}

/// The map key serde_json reserves for `RawValue`. With its `raw_value` feature (which
/// core enables, so every crate here gets it), `serde_json::Value` parses a map whose
/// first key is this one as the JSON held in the string value, not as the map: such
/// text means something else than it says, and core refuses it.
pub const RESERVED_KEY: &str = "$serde_json::private::RawValue";

/// Whether a map key anywhere in the JSON value `json` is [`RESERVED_KEY`] (compared
/// after unescaping, so `"\u0024serde_json..."` counts). Errs when serde_json does not
/// parse `json` as one value. Written against serde's data model, not `Value`, because
/// `Value` is exactly what the reserved key fools.
pub fn has_reserved_key(json: &str) -> Result<bool, serde_json::Error> {
    serde_json::from_str::<ReservedKey>(json).map(|ReservedKey(found)| found)
}

/// A JSON value, reduced to whether it uses [`RESERVED_KEY`] as a map key.
struct ReservedKey(bool);

impl<'de> Deserialize<'de> for ReservedKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReservedKeyVisitor)
    }
}

struct ReservedKeyVisitor;

impl<'de> Visitor<'de> for ReservedKeyVisitor {
    type Value = ReservedKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<ReservedKey, E> {
        Ok(ReservedKey(false))
    }
    fn visit_bool<E>(self, _: bool) -> Result<ReservedKey, E> {
        Ok(ReservedKey(false))
    }
    fn visit_i64<E>(self, _: i64) -> Result<ReservedKey, E> {
        Ok(ReservedKey(false))
    }
    fn visit_u64<E>(self, _: u64) -> Result<ReservedKey, E> {
        Ok(ReservedKey(false))
    }
    fn visit_f64<E>(self, _: f64) -> Result<ReservedKey, E> {
        Ok(ReservedKey(false))
    }
    fn visit_str<E>(self, _: &str) -> Result<ReservedKey, E> {
        Ok(ReservedKey(false))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ReservedKey, A::Error> {
        // The whole value is read (not stopped at the first hit) so that text serde_json
        // refuses further on still errs, as it would for any other parse.
        let mut found = false;
        while let Some(ReservedKey(inner)) = seq.next_element()? {
            found |= inner;
        }
        Ok(ReservedKey(found))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ReservedKey, A::Error> {
        let mut found = false;
        // `String` keys: serde_json hands them over unescaped.
        while let Some(key) = map.next_key::<String>()? {
            let ReservedKey(inner) = map.next_value()?;
            found |= inner || key == RESERVED_KEY;
        }
        Ok(ReservedKey(found))
    }
}
