//! Engine.IO v4 packets: the framing under Socket.IO, decoded and encoded as pure
//! functions over bytes; never does I/O and never depends on tokio (the transports in
//! `engine/` do that).
//!
//! Over WebSocket every packet is one frame: a text frame starts with the packet type
//! digit, a binary frame is a binary message with no prefix. Over HTTP long-polling
//! several packets are joined with the record separator `\x1e`, and binary messages
//! travel as `b` followed by standard base64.

use base64::Engine as _;
use bytes::Bytes;

/// The record separator that joins packets in a long-polling payload.
pub const RECORD_SEPARATOR: u8 = 0x1e;

/// One decoded Engine.IO packet. Text data borrows from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnginePacket<'a> {
    /// `0` + JSON handshake data (server to client only).
    Open(&'a str),
    /// `1`: close the session.
    Close,
    /// `2` + optional data (`2probe` during an upgrade).
    Ping(&'a str),
    /// `3` + optional data (`3probe` during an upgrade).
    Pong(&'a str),
    /// `4` + text message (a Socket.IO packet).
    Message(&'a str),
    /// A binary message (a Socket.IO attachment).
    Binary(Bytes),
    /// `5`: the client switches to the probed WebSocket.
    Upgrade,
    /// `6`: no operation (used to release a pending poll).
    Noop,
}

/// A malformed Engine.IO packet or payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The packet was empty.
    #[error("empty engine.io packet")]
    Empty,
    /// The first character is not a packet type.
    #[error("unknown engine.io packet type {0:?}")]
    UnknownType(char),
    /// A packet type that takes no data carried some.
    #[error("unexpected data after engine.io packet type {0}")]
    UnexpectedData(char),
    /// A `b`-prefixed polling segment was not valid base64.
    #[error("invalid base64 in binary polling packet")]
    InvalidBase64,
    /// A polling segment was not valid UTF-8.
    #[error("polling payload is not valid UTF-8")]
    InvalidUtf8,
}

/// Decodes one text packet (a WebSocket text frame, or one polling segment that is not
/// `b`-prefixed).
pub fn decode_text(text: &str) -> Result<EnginePacket<'_>, EngineError> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or(EngineError::Empty)?;
    let rest = &text[kind.len_utf8()..];
    let no_data = |packet| {
        if rest.is_empty() {
            Ok(packet)
        } else {
            Err(EngineError::UnexpectedData(kind))
        }
    };
    match kind {
        '0' => Ok(EnginePacket::Open(rest)),
        '1' => no_data(EnginePacket::Close),
        '2' => Ok(EnginePacket::Ping(rest)),
        '3' => Ok(EnginePacket::Pong(rest)),
        '4' => Ok(EnginePacket::Message(rest)),
        '5' => no_data(EnginePacket::Upgrade),
        '6' => no_data(EnginePacket::Noop),
        other => Err(EngineError::UnknownType(other)),
    }
}

/// Decodes a long-polling request body into its packets.
///
/// Returns an error for an empty body, an empty segment, invalid UTF-8 or base64, or an
/// unknown packet type: any of them closes the session.
pub fn decode_payload(body: &[u8]) -> Result<Vec<EnginePacket<'_>>, EngineError> {
    if body.is_empty() {
        return Err(EngineError::Empty);
    }
    body.split(|&b| b == RECORD_SEPARATOR)
        .map(|segment| {
            if let Some(encoded) = segment.strip_prefix(b"b") {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map(|bytes| EnginePacket::Binary(Bytes::from(bytes)))
                    .map_err(|_| EngineError::InvalidBase64)
            } else {
                let text = std::str::from_utf8(segment).map_err(|_| EngineError::InvalidUtf8)?;
                decode_text(text)
            }
        })
        .collect()
}

/// Appends one binary message to a polling payload being built (`b` + base64).
pub fn encode_binary_for_polling(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'b');
    let start = out.len();
    let encoded_len = base64::encoded_len(data.len(), true).unwrap_or(0);
    out.resize(start + encoded_len, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(data, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
}

/// The JSON of an open packet, with exactly the fields v4 clients expect.
pub fn open_packet(
    sid: &str,
    websocket_upgrade: bool,
    ping_interval_ms: u64,
    ping_timeout_ms: u64,
    max_payload: u64,
) -> String {
    let upgrades = if websocket_upgrade {
        r#"["websocket"]"#
    } else {
        "[]"
    };
    format!(
        r#"0{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{ping_interval_ms},"pingTimeout":{ping_timeout_ms},"maxPayload":{max_payload}}}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_text_type() {
        assert_eq!(decode_text("0{}"), Ok(EnginePacket::Open("{}")));
        assert_eq!(decode_text("1"), Ok(EnginePacket::Close));
        assert_eq!(decode_text("2"), Ok(EnginePacket::Ping("")));
        assert_eq!(decode_text("2probe"), Ok(EnginePacket::Ping("probe")));
        assert_eq!(decode_text("3probe"), Ok(EnginePacket::Pong("probe")));
        assert_eq!(decode_text("4hello"), Ok(EnginePacket::Message("hello")));
        assert_eq!(decode_text("5"), Ok(EnginePacket::Upgrade));
        assert_eq!(decode_text("6"), Ok(EnginePacket::Noop));
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(decode_text(""), Err(EngineError::Empty));
        assert_eq!(decode_text("7"), Err(EngineError::UnknownType('7')));
        assert_eq!(decode_text("x4"), Err(EngineError::UnknownType('x')));
        assert_eq!(decode_text("1x"), Err(EngineError::UnexpectedData('1')));
        assert_eq!(decode_text("é"), Err(EngineError::UnknownType('é')));
    }

    #[test]
    fn decodes_polling_payload_with_binary() {
        let body = b"4hello\x1e2\x1ebAQID\x1e40";
        let packets = decode_payload(body).expect("valid payload");
        assert_eq!(
            packets,
            vec![
                EnginePacket::Message("hello"),
                EnginePacket::Ping(""),
                EnginePacket::Binary(Bytes::from_static(&[1, 2, 3])),
                EnginePacket::Message("0"),
            ]
        );
    }

    #[test]
    fn rejects_bad_polling_payloads() {
        assert_eq!(decode_payload(b""), Err(EngineError::Empty));
        assert_eq!(decode_payload(b"4a\x1e"), Err(EngineError::Empty));
        assert_eq!(decode_payload(b"b!!!"), Err(EngineError::InvalidBase64));
        assert_eq!(decode_payload(b"4\xff"), Err(EngineError::InvalidUtf8));
    }

    #[test]
    fn encodes_binary_as_base64() {
        let mut out = b"4x\x1e".to_vec();
        encode_binary_for_polling(&mut out, &[1, 2, 3, 4]);
        assert_eq!(out, b"4x\x1ebAQIDBA==");
        assert_eq!(
            decode_payload(&out).expect("round trip")[1],
            EnginePacket::Binary(Bytes::from_static(&[1, 2, 3, 4]))
        );
    }

    #[test]
    fn open_packet_has_exact_fields() {
        let open = open_packet("abc", true, 25000, 20000, 1_000_000);
        let json: serde_json::Value = serde_json::from_str(&open[1..]).expect("json");
        let obj = json.as_object().expect("object");
        let mut keys: Vec<_> = obj.keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "maxPayload",
                "pingInterval",
                "pingTimeout",
                "sid",
                "upgrades"
            ]
        );
        assert_eq!(obj["upgrades"], serde_json::json!(["websocket"]));
        let ws = open_packet("abc", false, 1, 2, 3);
        assert!(ws.contains(r#""upgrades":[]"#));
    }
}
