//! Encoding the Socket.IO packets the server sends, as the full Engine.IO message text,
//! each sized exactly. Pure functions into `String`; never does I/O and never depends
//! on tokio.

use std::fmt::Write as _;

use super::PacketKind;
use crate::protocol::payload::{trim_json_whitespace, Payload};

/// The number of decimal digits of `n`.
fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// The length of what [`write_header`] writes.
fn header_len(attachments: usize, nsp: &str, ack: Option<u64>) -> usize {
    let mut len = 2;
    if attachments > 0 {
        len += decimal_len(attachments as u64) + 1;
    }
    if nsp != "/" {
        len += nsp.len() + 1;
    }
    if let Some(id) = ack {
        len += decimal_len(id);
    }
    len
}

/// The length of `text` as a JSON string literal, quotes included, as serde_json
/// writes it (only `"`, `\` and control characters are escaped) and as
/// [`push_json_string`] writes it.
pub(super) fn json_string_len(text: &str) -> usize {
    text.bytes().fold(2, |len, b| {
        len + match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        }
    })
}

/// Appends `text` as a JSON string literal, escaped byte for byte as serde_json escapes
/// it: `"` and `\` with a backslash, `\b \f \n \r \t` short, the other control
/// characters as `\u00xx` (lowercase hex), everything else verbatim. Written out
/// rather than through `serde_json::to_writer`, which needs a `std::io::Write` sink.
/// Public for bindings that write JSON text themselves (the Python binding's converter),
/// so that every string the server sends is escaped one way.
pub fn push_json_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut plain = 0;
    for (i, b) in text.bytes().enumerate() {
        let short = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'\n' => 'n',
            b'\r' => 'r',
            b'\t' => 't',
            0x08 => 'b',
            0x0c => 'f',
            0..=0x1f => '\0',
            _ => continue,
        };
        // `b` is ASCII, so `i` and `i + 1` are character boundaries.
        out.push_str(&text[plain..i]);
        plain = i + 1;
        out.push('\\');
        if short == '\0' {
            out.push_str("u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        } else {
            out.push(short);
        }
    }
    out.push_str(&text[plain..]);
    out.push('"');
}

// Encoders size their output exactly: a transport turns the text into a frame payload
// without copying or allocating only when no capacity is left over.

fn write_header(
    out: &mut String,
    kind: PacketKind,
    attachments: usize,
    nsp: &str,
    ack: Option<u64>,
) {
    out.push('4');
    out.push((b'0' + kind as u8) as char);
    if attachments > 0 {
        let _ = write!(out, "{attachments}-");
    }
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = ack {
        let _ = write!(out, "{id}");
    }
}

/// Encodes an event: `4` + `2`/`5` header + `["name",...args]`.
pub fn encode_event(nsp: &str, name: &str, args: &Payload, ack: Option<u64>) -> String {
    let binary = !args.binary().is_empty();
    let kind = if binary {
        PacketKind::BinaryEvent
    } else {
        PacketKind::Event
    };
    let json = args.json();
    let inner = trim_json_whitespace(&json[1..json.len() - 1]);
    let len = header_len(args.binary().len(), nsp, ack)
        + json_string_len(name)
        + if inner.is_empty() { 2 } else { inner.len() + 3 };
    let mut out = String::with_capacity(len);
    write_header(&mut out, kind, args.binary().len(), nsp, ack);
    out.push('[');
    push_json_string(&mut out, name);
    if !inner.is_empty() {
        out.push(',');
        out.push_str(inner);
    }
    out.push(']');
    out
}

/// Encodes an acknowledgement: `4` + `3`/`6` header + the argument array.
pub fn encode_ack(nsp: &str, id: u64, args: &Payload) -> String {
    let kind = if args.binary().is_empty() {
        PacketKind::Ack
    } else {
        PacketKind::BinaryAck
    };
    let len = header_len(args.binary().len(), nsp, Some(id)) + args.json().len();
    let mut out = String::with_capacity(len);
    write_header(&mut out, kind, args.binary().len(), nsp, Some(id));
    out.push_str(args.json());
    out
}

/// Encodes a connect acknowledgement `40{"sid":"…"}`.
pub fn encode_connect(nsp: &str, sid: &str) -> String {
    let mut out = String::with_capacity(40 + nsp.len());
    write_header(&mut out, PacketKind::Connect, 0, nsp, None);
    let _ = write!(out, r#"{{"sid":"{sid}"}}"#);
    out
}

/// Encodes a refused connect `44{"message":…,"data":…}`; `data` is JSON text.
pub fn encode_connect_error(nsp: &str, message: &str, data: Option<&str>) -> String {
    encode_refusal(PacketKind::ConnectError, nsp, message, data)
}

/// Encodes a namespace disconnect that says why, `41{"message":…,"data":…}`: how
/// python-socketio's `always_connect` takes back a connection its connect handler
/// refused after the CONNECT was acknowledged. `data` is JSON text.
pub fn encode_disconnect_refused(nsp: &str, message: &str, data: Option<&str>) -> String {
    encode_refusal(PacketKind::Disconnect, nsp, message, data)
}

fn encode_refusal(kind: PacketKind, nsp: &str, message: &str, data: Option<&str>) -> String {
    let mut out = String::with_capacity(40 + nsp.len() + message.len());
    write_header(&mut out, kind, 0, nsp, None);
    out.push_str(r#"{"message":"#);
    push_json_string(&mut out, message);
    if let Some(data) = data {
        out.push_str(r#","data":"#);
        out.push_str(data);
    }
    out.push('}');
    out
}

/// Encodes a server-side namespace disconnect `41`.
pub fn encode_disconnect(nsp: &str) -> String {
    let mut out = String::with_capacity(4 + nsp.len());
    write_header(&mut out, PacketKind::Disconnect, 0, nsp, None);
    out
}

/// Encodes a client's namespace CONNECT `40[/nsp,][auth]`, as a client sends it (the
/// server's in-process test client does): `auth` is the JSON text of an object, or
/// `None` for none.
pub fn encode_connect_request(nsp: &str, auth: Option<&str>) -> String {
    let auth = auth.unwrap_or("");
    let mut out = String::with_capacity(header_len(0, nsp, None) + auth.len());
    write_header(&mut out, PacketKind::Connect, 0, nsp, None);
    out.push_str(auth);
    out
}
