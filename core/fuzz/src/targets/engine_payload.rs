//! Engine.IO long-polling payloads: arbitrary bytes into `engine::decode_payload`.
//!
//! Properties:
//! - `decode_payload(body)` is exactly the per-segment decoding of `body` split on the
//!   record separator (same packets in the same order, or the first segment's error);
//!   text segments decode as `decode_text` decodes them.
//! - every binary packet re-encoded with `encode_binary_for_polling` decodes back to
//!   the same bytes, and the encoding has the base64 length.
//! - a payload that decodes re-encodes to the very same bytes (standard base64 with
//!   canonical padding is a bijection, and text packets are kept verbatim).

use ferrosocket::protocol::engine::{self, EnginePacket, RECORD_SEPARATOR};

fn encode(packet: &EnginePacket<'_>, out: &mut Vec<u8>) {
    let (kind, data) = match packet {
        EnginePacket::Open(s) => (b'0', *s),
        EnginePacket::Close => (b'1', ""),
        EnginePacket::Ping(s) => (b'2', *s),
        EnginePacket::Pong(s) => (b'3', *s),
        EnginePacket::Message(s) => (b'4', *s),
        EnginePacket::Upgrade => (b'5', ""),
        EnginePacket::Noop => (b'6', ""),
        EnginePacket::Binary(bytes) => return engine::encode_binary_for_polling(out, bytes),
    };
    out.push(kind);
    out.extend_from_slice(data.as_bytes());
}

/// The `engine_payload` target.
pub fn engine_payload(body: &[u8]) {
    let decoded = engine::decode_payload(body);

    // The same as decoding segment by segment.
    let segments: Vec<&[u8]> = body.split(|&b| b == RECORD_SEPARATOR).collect();
    let one_by_one: Result<Vec<EnginePacket<'_>>, _> = segments
        .iter()
        .map(|segment| {
            let mut packets = engine::decode_payload(segment)?;
            assert_eq!(packets.len(), 1, "one segment, one packet: {segment:?}");
            let packet = packets.pop().expect("one packet");
            if !segment.starts_with(b"b") {
                let text = std::str::from_utf8(segment).expect("decoded text is UTF-8");
                assert_eq!(engine::decode_text(text).as_ref(), Ok(&packet));
            }
            Ok(packet)
        })
        .collect();
    assert_eq!(decoded, one_by_one, "payload vs segments of {body:?}");

    let Ok(packets) = decoded else { return };
    assert_eq!(packets.len(), segments.len());

    // Binary packets survive encode -> decode on their own.
    for packet in &packets {
        if let EnginePacket::Binary(bytes) = packet {
            let mut out = Vec::new();
            engine::encode_binary_for_polling(&mut out, bytes);
            assert_eq!(
                out.len(),
                1 + bytes.len().div_ceil(3) * 4,
                "b + padded base64"
            );
            let again = engine::decode_payload(&out).expect("encoded binary decodes");
            assert_eq!(again, [EnginePacket::Binary(bytes.clone())]);
        }
    }

    // The whole payload re-encodes to the input.
    let mut out = Vec::with_capacity(body.len());
    for (i, packet) in packets.iter().enumerate() {
        if i > 0 {
            out.push(RECORD_SEPARATOR);
        }
        encode(packet, &mut out);
    }
    assert_eq!(out, body, "re-encoded payload differs");
    assert_eq!(engine::decode_payload(&out), Ok(packets));
}
