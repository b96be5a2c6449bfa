//! `Payload::from_json`: arbitrary JSON text and an attachment count.
//!
//! Input: the first byte's low 4 bits are the attachment count (0..=15, attachment `i`
//! is the single byte `i`), the rest is the JSON text (skipped unless UTF-8).
//!
//! Properties, when `from_json` accepts:
//! - `json()` is the text without surrounding JSON whitespace (space, tab, LF, CR; not
//!   Unicode whitespace) and `binary()` the attachments given;
//! - no map key in the text is serde_json's reserved `RawValue` key;
//! - `values()` succeeds and equals a plain serde_json parse, `len()` is the number of
//!   values and `is_empty()` agrees;
//! - every placeholder refers to one of the attachments (as documented);
//! - the payload survives `encode_event` and `encode_ack` → `socket::decode` (+ the
//!   attachments): same values, same attachments.
//!
//! And when it refuses: the text really is not a JSON array, a placeholder is bad, or a
//! map key is the reserved one (serde_json parses such text, but not as what it says).

use bytes::Bytes;
use ferrosocket::protocol::payload::Payload;
use ferrosocket::protocol::socket::{self, Packet};
use serde_json::Value;

use crate::{check, decode_with, has_reserved_key, placeholders_in_range, trim_json_whitespace};

/// The `payload_json` target.
pub fn payload_json(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(json) = std::str::from_utf8(rest) else {
        return;
    };
    let count = usize::from(first & 0x0f);
    let binary: Vec<Bytes> = (0..count as u8).map(|i| Bytes::from(vec![i])).collect();

    // What a full parse says about the text.
    let parsed: Option<Vec<Value>> = serde_json::from_str(json).ok();
    let reserved = matches!(has_reserved_key(json), Ok(true));

    let payload = match Payload::from_json(json, binary.clone()) {
        Ok(payload) => payload,
        Err(error) => {
            let acceptable = !reserved
                && parsed
                    .as_deref()
                    .is_some_and(|values| count == 0 || placeholders_in_range(values, count));
            assert!(
                !acceptable,
                "rejected a valid array {json:?} ({count}): {error}"
            );
            return;
        }
    };
    // Surrounding JSON whitespace is dropped; the rest is kept verbatim.
    check(
        "json-whitespace",
        payload.json() == trim_json_whitespace(json),
        || format!("from_json({json:?}) kept {:?}", payload.json()),
    );
    assert_eq!(payload.binary(), &binary[..]);
    check("reserved-key", !reserved, || {
        format!("from_json accepted {json:?}, which uses the reserved key")
    });

    let values = match payload.values() {
        Ok(values) => values,
        Err(error) => {
            // Text accepted as an array must parse as one.
            check("values-after-accept", false, || {
                format!("from_json accepted {json:?} but values() fails: {error}")
            });
            return;
        }
    };
    assert_eq!(parsed.as_ref(), Some(&values));
    assert_eq!(payload.len(), values.len(), "len() of {json:?}");
    check("is-empty", payload.is_empty() == values.is_empty(), || {
        format!("is_empty() is {} for {json:?}", payload.is_empty())
    });
    check(
        "placeholder-without-binary",
        // Without attachments a placeholder-shaped object is plain data (it travels in
        // a text packet, which clients never reconstruct); with them, all must resolve.
        count == 0 || placeholders_in_range(&values, count),
        || format!("from_json accepted {json:?} with {count} attachments"),
    );

    // Encoded as event and ack arguments, the payload decodes back.
    let event = socket::encode_event("/fuzz", "ev", &payload, Some(3));
    let ack = socket::encode_ack("/", 9, &payload);
    for (encoded, is_event) in [(event, true), (ack, false)] {
        assert!(encoded.starts_with('4'), "{encoded:?}");
        let text = &encoded[1..];
        let decodes = serde_json::from_str::<Value>(&text[text.find('[').unwrap_or(0)..]).is_ok();
        if !check("encode-whitespace", decodes, || {
            format!("payload {json:?} encodes to invalid JSON {encoded:?}")
        }) {
            continue;
        }
        let args = match decode_with(text, &binary) {
            Packet::Event {
                nsp,
                name,
                args,
                ack,
            } if is_event => {
                assert_eq!((nsp.as_str(), name.as_str(), ack), ("/fuzz", "ev", Some(3)));
                args
            }
            Packet::Ack { nsp, id, args } if !is_event => {
                assert_eq!((nsp.as_str(), id), ("/", 9));
                args
            }
            other => panic!("{encoded:?} decoded as {other:?}"),
        };
        assert_eq!(args.binary(), &binary[..]);
        let back = args.values().expect("decoded arguments parse");
        check("encode-whitespace", back == values, || {
            format!("payload {json:?} encoded as {encoded:?} decodes to {back:?}")
        });
    }
}
