//! Socket.IO v5 packets, carried in Engine.IO message packets.
//!
//! Text form: the type digit, then `<n>-` (attachment count) for binary types, then
//! `/nsp,` for a namespace other than `/`, then the ack id digits, then JSON. Binary
//! packets are followed by `n` binary Engine.IO messages, gathered by a
//! [`BinaryAssembler`]. Encoders here return the full Engine.IO message text (with the
//! leading `4`), ready to be framed by a transport.

use std::fmt::Write as _;

use bytes::Bytes;

use super::payload::{
    check_placeholders, is_json_whitespace, trim_json_whitespace, validate, ArrayElement, Payload,
};

/// The most attachments one packet may announce. What the attachments may hold in all
/// is bounded separately ([`BinaryAssembler::limit`]); this bounds how many frames the
/// server waits for.
pub const MAX_ATTACHMENTS: usize = 1000;

/// The Socket.IO packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PacketKind {
    /// `0`: connect to a namespace (client) / connect accepted (server).
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event.
    Event = 2,
    /// `3`: an acknowledgement.
    Ack = 3,
    /// `4`: connect refused (server to client only).
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck = 6,
}

impl PacketKind {
    fn from_char(c: u8) -> Option<Self> {
        Some(match c {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// A malformed Socket.IO packet. Any of these closes the connection (reason `parse error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocketError {
    /// Empty packet.
    #[error("empty socket.io packet")]
    Empty,
    /// The first character is not a packet type.
    #[error("unknown socket.io packet type")]
    UnknownType,
    /// A client may not send this packet type.
    #[error("socket.io packet type {0:?} is not accepted from a client")]
    NotFromClient(PacketKind),
    /// The attachment count of a binary packet is missing or out of range.
    #[error("invalid attachment count")]
    BadAttachmentCount,
    /// A namespace that does not start with `/` or is not terminated correctly.
    #[error("invalid namespace")]
    BadNamespace,
    /// The ack id does not fit in 64 bits.
    #[error("invalid ack id")]
    BadAckId,
    /// The JSON data is invalid or of the wrong shape for the packet type.
    #[error("invalid data for {kind:?} packet: {reason}")]
    BadData {
        /// The packet type.
        kind: PacketKind,
        /// What is wrong.
        reason: &'static str,
    },
    /// A binary placeholder refers to a missing attachment.
    #[error("binary placeholder refers to a missing attachment")]
    BadPlaceholder,
    /// A binary frame arrived when no binary packet was waiting for one.
    #[error("unexpected binary frame")]
    UnexpectedBinary,
    /// A binary packet and its attachments together exceed the limit set with
    /// [`BinaryAssembler::limit`].
    #[error("binary packet with its attachments exceeds {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

/// A decoded packet from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Connect to `nsp`, with the auth payload (a JSON object's text) if any.
    Connect {
        /// Namespace.
        nsp: String,
        /// The auth object as JSON text.
        auth: Option<String>,
    },
    /// Leave `nsp`.
    Disconnect {
        /// Namespace.
        nsp: String,
    },
    /// An event, optionally asking for an acknowledgement.
    Event {
        /// Namespace.
        nsp: String,
        /// Event name.
        name: String,
        /// Arguments after the name.
        args: Payload,
        /// Ack id the client waits on.
        ack: Option<u64>,
    },
    /// The client's answer to a server emit that asked for an ack.
    Ack {
        /// Namespace.
        nsp: String,
        /// Ack id from the server's emit.
        id: u64,
        /// Arguments of the answer.
        args: Payload,
    },
}

/// The outcome of decoding one text message.
#[derive(Debug)]
pub enum Decoded {
    /// A whole packet.
    Complete(Packet),
    /// A binary packet waiting for its attachments.
    Partial(BinaryAssembler),
}

/// Gathers the binary frames that follow a binary packet.
///
/// Until the last attachment arrives, everything received is held here, so what one
/// packet may hold is bounded: [`limit`](Self::limit) caps the packet's text and its
/// attachments together (a server sets it to its max payload, as it bounds one message).
#[derive(Debug)]
pub struct BinaryAssembler {
    /// `None` once the packet has been handed out.
    packet: Option<Packet>,
    expected: usize,
    received: Vec<Bytes>,
    /// Bytes held for this packet so far: its text, then each attachment.
    buffered: usize,
    /// The most `buffered` may reach; no limit unless [`limit`](Self::limit) sets one.
    limit: usize,
}

impl BinaryAssembler {
    /// The namespace the packet is for.
    pub fn namespace(&self) -> &str {
        match &self.packet {
            Some(Packet::Event { nsp, .. } | Packet::Ack { nsp, .. }) => nsp,
            Some(Packet::Connect { nsp, .. } | Packet::Disconnect { nsp }) => nsp,
            None => "/",
        }
    }

    /// How many attachments the packet announced.
    pub fn expected(&self) -> usize {
        self.expected
    }

    /// Caps what the packet may hold in all, its text included, at `bytes`: a push that
    /// would go past it fails with [`SocketError::TooLarge`]. Fails at once when the text
    /// alone is over it.
    pub fn limit(&mut self, bytes: usize) -> Result<(), SocketError> {
        self.limit = bytes;
        if self.buffered > bytes {
            self.packet = None;
            self.received = Vec::new();
            return Err(SocketError::TooLarge { limit: bytes });
        }
        Ok(())
    }

    /// Adds one attachment; returns the packet once all have arrived. Pushing after
    /// that, or after an error, is an error.
    pub fn push(&mut self, data: Bytes) -> Result<Option<Packet>, SocketError> {
        if self.packet.is_none() {
            return Err(SocketError::UnexpectedBinary);
        }
        let buffered = self.buffered.saturating_add(data.len());
        if buffered > self.limit {
            // Give back what was held at once: the connection is about to close, and
            // the attachments must not outlive the error.
            self.packet = None;
            self.received = Vec::new();
            return Err(SocketError::TooLarge { limit: self.limit });
        }
        self.buffered = buffered;
        self.received.push(data);
        if self.received.len() < self.expected {
            return Ok(None);
        }
        let binary = std::mem::take(&mut self.received);
        match self.packet.take() {
            Some(packet) => attach(packet, binary).map(Some),
            None => Err(SocketError::UnexpectedBinary),
        }
    }
}

fn attach(packet: Packet, binary: Vec<Bytes>) -> Result<Packet, SocketError> {
    let fill = |args: Payload| -> Result<Payload, SocketError> {
        let (json, _) = args.into_parts();
        let value: serde_json::Value =
            serde_json::from_str(&json).map_err(|_| SocketError::BadPlaceholder)?;
        check_placeholders(&value, binary.len()).map_err(|_| SocketError::BadPlaceholder)?;
        Ok(Payload::from_parts_unchecked(json, binary.clone()))
    };
    Ok(match packet {
        Packet::Event {
            nsp,
            name,
            args,
            ack,
        } => Packet::Event {
            nsp,
            name,
            args: fill(args)?,
            ack,
        },
        Packet::Ack { nsp, id, args } => Packet::Ack {
            nsp,
            id,
            args: fill(args)?,
        },
        other => other,
    })
}

/// Decodes one Socket.IO packet from the text of an Engine.IO message.
pub fn decode(text: &str) -> Result<Decoded, SocketError> {
    Ok(match decode_borrowed(text)? {
        Borrowed::Event {
            nsp,
            name,
            args,
            ack,
        } => Decoded::Complete(Packet::Event {
            nsp: nsp.to_owned(),
            name,
            args,
            ack,
        }),
        Borrowed::Ack { nsp, id, args } => Decoded::Complete(Packet::Ack {
            nsp: nsp.to_owned(),
            id,
            args,
        }),
        Borrowed::Other(decoded) => decoded,
    })
}

/// What [`decode_borrowed`] returns: a complete text event or ack keeps borrowing its
/// namespace from the message (the server's per-event path), anything else is owned.
#[derive(Debug)]
pub(crate) enum Borrowed<'a> {
    Event {
        nsp: &'a str,
        name: String,
        args: Payload,
        ack: Option<u64>,
    },
    Ack {
        nsp: &'a str,
        id: u64,
        args: Payload,
    },
    Other(Decoded),
}

/// [`decode`], without copying the namespace of a text event or ack.
pub(crate) fn decode_borrowed(text: &str) -> Result<Borrowed<'_>, SocketError> {
    let bytes = text.as_bytes();
    let kind = PacketKind::from_char(*bytes.first().ok_or(SocketError::Empty)?)
        .ok_or(SocketError::UnknownType)?;
    let mut pos = 1;

    let mut attachments = 0usize;
    if kind.is_binary() {
        let digits = bytes[pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > 4 || bytes.get(pos + digits) != Some(&b'-') {
            return Err(SocketError::BadAttachmentCount);
        }
        attachments = text[pos..pos + digits]
            .parse()
            .map_err(|_| SocketError::BadAttachmentCount)?;
        if attachments > MAX_ATTACHMENTS {
            return Err(SocketError::BadAttachmentCount);
        }
        pos += digits + 1;
    }

    let mut nsp = "/";
    if bytes.get(pos) == Some(&b'/') {
        let end = text[pos..].find(',').map_or(text.len(), |i| pos + i);
        nsp = &text[pos..end];
        pos = (end + 1).min(text.len());
    }
    if !nsp.starts_with('/') {
        return Err(SocketError::BadNamespace);
    }

    let mut ack = None;
    if matches!(
        kind,
        PacketKind::Event | PacketKind::Ack | PacketKind::BinaryEvent | PacketKind::BinaryAck
    ) {
        let digits = bytes[pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits > 0 {
            ack = Some(
                text[pos..pos + digits]
                    .parse::<u64>()
                    .map_err(|_| SocketError::BadAckId)?,
            );
            pos += digits;
        }
    }

    // Surrounding whitespace is insignificant in JSON; dropping it here keeps the
    // argument text that is re-emitted verbatim a clean array.
    let data = trim_json_whitespace(&text[pos..]);
    let bad = |reason| SocketError::BadData { kind, reason };
    match kind {
        PacketKind::Event => {
            let (name, args) = split_event(data).ok_or_else(|| bad("expected [name, ...args]"))?;
            return Ok(Borrowed::Event {
                nsp,
                name,
                args,
                ack,
            });
        }
        PacketKind::Ack => {
            let id = ack.ok_or_else(|| bad("missing ack id"))?;
            if !data.starts_with('[') || validate(data).is_err() {
                return Err(bad("expected an array"));
            }
            let args = Payload::from_parts_unchecked(data.to_owned(), Vec::new());
            return Ok(Borrowed::Ack { nsp, id, args });
        }
        _ => {}
    }
    let nsp = nsp.to_owned();
    let packet = match kind {
        PacketKind::Connect => {
            let auth = if data.is_empty() {
                None
            } else {
                // Checked as fully as event arguments: every later parse of the auth
                // (the handler's, a binding's) must see the same object.
                if !data.starts_with('{') {
                    return Err(bad("auth must be an object"));
                }
                validate(data).map_err(|_| bad("invalid JSON"))?;
                Some(data.to_owned())
            };
            Packet::Connect { nsp, auth }
        }
        PacketKind::Disconnect => Packet::Disconnect { nsp },
        PacketKind::Event | PacketKind::BinaryEvent => {
            let (name, args) = split_event(data).ok_or_else(|| bad("expected [name, ...args]"))?;
            Packet::Event {
                nsp,
                name,
                args,
                ack,
            }
        }
        PacketKind::Ack | PacketKind::BinaryAck => {
            let id = ack.ok_or_else(|| bad("missing ack id"))?;
            if !data.starts_with('[') || validate(data).is_err() {
                return Err(bad("expected an array"));
            }
            Packet::Ack {
                nsp,
                id,
                args: Payload::from_parts_unchecked(data.to_owned(), Vec::new()),
            }
        }
        PacketKind::ConnectError => return Err(SocketError::NotFromClient(kind)),
    };

    if kind.is_binary() {
        if attachments == 0 {
            return attach(packet, Vec::new()).map(|p| Borrowed::Other(Decoded::Complete(p)));
        }
        return Ok(Borrowed::Other(Decoded::Partial(BinaryAssembler {
            packet: Some(packet),
            expected: attachments,
            // Grown as attachments arrive, not sized from the count the client announced.
            received: Vec::new(),
            buffered: text.len(),
            limit: usize::MAX,
        })));
    }
    Ok(Borrowed::Other(Decoded::Complete(packet)))
}

/// Splits `["name", a, b]` into the name and the JSON text `[a,b]`, in one pass that
/// checks every element as fully as [`validate`] would (so the arguments parse later)
/// and finds where the arguments start and end. Copies the argument text once and never
/// builds a JSON tree. `data` has no surrounding whitespace.
fn split_event(data: &str) -> Option<(String, Payload)> {
    let bytes = data.as_bytes();
    if bytes.first() != Some(&b'[') {
        return None;
    }
    let start = skip_whitespace(bytes, 1);
    if bytes.get(start) != Some(&b'"') {
        return None;
    }
    let (name, end) = next_value::<String>(data, start)?;
    let mut pos = skip_whitespace(bytes, end);
    let mut run: Option<(usize, usize)> = None;
    loop {
        match bytes.get(pos)? {
            b']' => break,
            b',' => {
                let start = skip_whitespace(bytes, pos + 1);
                let (ArrayElement, end) = next_value::<ArrayElement>(data, start)?;
                run = Some((run.map_or(start, |(first, _)| first), end));
                pos = skip_whitespace(bytes, end);
            }
            _ => return None,
        }
    }
    if pos + 1 != data.len() {
        return None;
    }
    let args = match run {
        Some((start, end)) => {
            let run = data.get(start..end)?;
            let mut json = String::with_capacity(run.len() + 2);
            json.push('[');
            json.push_str(run);
            json.push(']');
            json
        }
        None => "[]".to_owned(),
    };
    Some((name, Payload::from_parts_unchecked(args, Vec::new())))
}

/// The position of the first byte at or after `pos` that is not JSON whitespace.
fn skip_whitespace(bytes: &[u8], pos: usize) -> usize {
    pos + bytes
        .get(pos..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| is_json_whitespace(**b))
        .count()
}

/// Reads one JSON value starting at `start` (no leading whitespace) and returns it with
/// the position just after it. What follows it is left to the caller, except that a
/// number must not run into a character that could continue it.
fn next_value<'de, T: serde::Deserialize<'de>>(data: &'de str, start: usize) -> Option<(T, usize)> {
    let mut stream = serde_json::Deserializer::from_str(data.get(start..)?).into_iter::<T>();
    let value = stream.next()?.ok()?;
    Some((value, start + stream.byte_offset()))
}

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
/// writes it (only `"`, `\` and control characters are escaped).
fn json_string_len(text: &str) -> usize {
    text.bytes().fold(2, |len, b| {
        len + match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        }
    })
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
    // Writing a str to a String cannot fail.
    let _ = serde_json::to_writer(StringWriter(&mut out), name);
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
    let mut out = String::with_capacity(40 + nsp.len() + message.len());
    write_header(&mut out, PacketKind::ConnectError, 0, nsp, None);
    out.push_str(r#"{"message":"#);
    let _ = serde_json::to_writer(StringWriter(&mut out), message);
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

/// Lets serde_json write straight into a `String`.
struct StringWriter<'a>(&'a mut String);

impl std::io::Write for StringWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // serde_json only ever writes complete UTF-8 sequences of valid JSON.
        let text = std::str::from_utf8(buf)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        self.0.push_str(text);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn complete(text: &str) -> Packet {
        match decode(text).expect("valid") {
            Decoded::Complete(p) => p,
            Decoded::Partial(_) => panic!("expected complete packet"),
        }
    }

    fn event(nsp: &str, name: &str, json: &str, ack: Option<u64>) -> Packet {
        Packet::Event {
            nsp: nsp.into(),
            name: name.into(),
            args: Payload::from_parts_unchecked(json.into(), vec![]),
            ack,
        }
    }

    #[test]
    fn decodes_connect() {
        assert_eq!(
            complete("0"),
            Packet::Connect {
                nsp: "/".into(),
                auth: None
            }
        );
        assert_eq!(
            complete(r#"0{"token":"x"}"#),
            Packet::Connect {
                nsp: "/".into(),
                auth: Some(r#"{"token":"x"}"#.into())
            }
        );
        assert_eq!(
            complete("0/admin,"),
            Packet::Connect {
                nsp: "/admin".into(),
                auth: None
            }
        );
        // No trailing comma, as some clients send it.
        assert_eq!(
            complete("0/random"),
            Packet::Connect {
                nsp: "/random".into(),
                auth: None
            }
        );
        assert_eq!(
            complete(r#"0/a,{"k":1}"#),
            Packet::Connect {
                nsp: "/a".into(),
                auth: Some(r#"{"k":1}"#.into())
            }
        );
        assert!(decode("0[1]").is_err());
        assert!(decode("0{").is_err());
        // Auth the handler could not parse is refused, not turned into `null`.
        let deep = format!(r#"0{{"a":{}1{}}}"#, "[".repeat(130), "]".repeat(130));
        for bad in [
            r#"0{"n":1e400}"#,
            r#"0{"s":"\ud800"}"#,
            deep.as_str(),
            r#"0{"$serde_json::private::RawValue":"{\"admin\":true}"}"#,
            "0{}\u{b}",
        ] {
            assert!(decode(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn decodes_events_and_acks() {
        assert_eq!(complete(r#"2["hello"]"#), event("/", "hello", "[]", None));
        assert_eq!(
            complete(r#"2/chat,12["hi", 1, {"a": [2]} ]"#),
            event("/chat", "hi", r#"[1, {"a": [2]}]"#, Some(12))
        );
        assert_eq!(
            complete(r#"31["ok"]"#),
            Packet::Ack {
                nsp: "/".into(),
                id: 1,
                args: Payload::from_parts_unchecked(r#"["ok"]"#.into(), vec![])
            }
        );
        assert_eq!(
            complete("1/admin,"),
            Packet::Disconnect {
                nsp: "/admin".into()
            }
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "9",
            "x",
            "2{}",
            "2[]",
            "2[1]",
            r#"2["a""#,
            "2abc[\"a\"]",
            "3[1]",
            "4{}",
            r#"3x["a"]"#,
            "5[\"a\"]",
            "5-[\"a\"]",
            "51[\"a\"]",
            "599999-[\"a\"]",
            r#"299999999999999999999999["a"]"#,
            "2/a,",
            "2[\"a\"]\u{b}",
            "2\u{c}[\"a\"]",
            "2[\"a\"]\u{a0}",
            "31[1]\u{b}",
            r#"2["e",{"$serde_json::private::RawValue":"[\"admin\"]"}]"#,
            r#"31[{"$serde_json::private::RawValue":"1"}]"#,
        ] {
            assert!(decode(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn assembles_binary() {
        let Decoded::Partial(mut asm) =
            decode(r#"52-/b,7["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
                .expect("valid")
        else {
            panic!("expected partial");
        };
        assert_eq!(asm.push(Bytes::from_static(b"a")), Ok(None));
        let packet = asm
            .push(Bytes::from_static(b"b"))
            .expect("ok")
            .expect("done");
        let Packet::Event {
            nsp,
            name,
            args,
            ack,
        } = packet
        else {
            panic!("expected event")
        };
        assert_eq!((nsp.as_str(), name.as_str(), ack), ("/b", "up", Some(7)));
        assert_eq!(
            args.binary(),
            &[Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );

        let Decoded::Partial(mut asm) =
            decode(r#"51-["x",{"_placeholder":true,"num":3}]"#).expect("valid")
        else {
            panic!("expected partial");
        };
        assert_eq!(
            asm.push(Bytes::from_static(b"a")),
            Err(SocketError::BadPlaceholder)
        );
        assert_eq!(
            asm.push(Bytes::from_static(b"b")),
            Err(SocketError::UnexpectedBinary)
        );
    }

    #[test]
    fn binary_packet_is_bounded_in_total() {
        let text = r#"53-["x",{"_placeholder":true,"num":0}]"#;
        let Decoded::Partial(mut asm) = decode(text).expect("valid") else {
            panic!("expected partial");
        };
        assert_eq!((asm.namespace(), asm.expected()), ("/", 3));
        asm.limit(text.len() + 10).expect("text fits");
        assert_eq!(asm.push(Bytes::from(vec![0; 6])), Ok(None));
        assert_eq!(asm.push(Bytes::from(vec![0; 4])), Ok(None));
        assert_eq!(
            asm.push(Bytes::from(vec![0; 1])),
            Err(SocketError::TooLarge {
                limit: text.len() + 10
            })
        );
        assert_eq!(
            asm.push(Bytes::new()),
            Err(SocketError::UnexpectedBinary),
            "nothing is held after the error"
        );
        let Decoded::Partial(mut asm) = decode(r#"51-/n,["x"]"#).expect("valid") else {
            panic!("expected partial");
        };
        assert_eq!(asm.namespace(), "/n");
        assert!(asm.limit(4).is_err(), "the text alone is over the limit");

        // A limit set late, below what is already held, gives that back too.
        let Decoded::Partial(mut asm) =
            decode(r#"52-["x",{"_placeholder":true,"num":0}]"#).expect("valid")
        else {
            panic!("expected partial");
        };
        assert_eq!(asm.push(Bytes::from(vec![7; 1000])), Ok(None));
        assert!(asm.limit(10).is_err());
        assert!(asm.received.is_empty(), "nothing is held after the error");
        assert_eq!(asm.push(Bytes::new()), Err(SocketError::UnexpectedBinary));
    }

    #[test]
    fn whitespace_around_args_stays_valid_when_reemitted() {
        let Packet::Ack { args, .. } = complete("31 [1] \n") else {
            panic!("ack")
        };
        assert_eq!(encode_event("/", "e", &args, None), r#"42["e",1]"#);
        for bad in [r#"2["e",1e400]"#, r#"31[6e436]"#, r#"2["e","\ud800"]"#] {
            assert!(
                decode(bad).is_err(),
                "{bad} parses as JSON syntax but not as values"
            );
        }
    }

    #[test]
    fn encodes() {
        let args = Payload::many(&(1, "x")).expect("args");
        assert_eq!(encode_event("/", "ev", &args, None), r#"42["ev",1,"x"]"#);
        assert_eq!(
            encode_event("/n", "e\"v", &Payload::empty(), Some(3)),
            r#"42/n,3["e\"v"]"#
        );
        let bin = Payload::one(&Payload::placeholder(0))
            .expect("one")
            .with_binary(vec![Bytes::from_static(b"z")]);
        assert_eq!(
            encode_event("/", "b", &bin, None),
            r#"451-["b",{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(encode_ack("/", 5, &args), r#"435[1,"x"]"#);
        assert_eq!(
            encode_ack("/x", 0, &bin),
            r#"461-/x,0[{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(encode_connect("/", "abc"), r#"40{"sid":"abc"}"#);
        assert_eq!(
            encode_connect_error("/r", "Invalid namespace", None),
            r#"44/r,{"message":"Invalid namespace"}"#
        );
        assert_eq!(
            encode_connect_error("/", "no", Some(r#"{"code":1}"#)),
            r#"44{"message":"no","data":{"code":1}}"#
        );
        assert_eq!(encode_disconnect("/"), "41");
        assert_eq!(encode_disconnect("/a"), "41/a,");
    }

    /// The two-pass split that `split_event` replaced: raw elements, then a full check.
    fn split_event_two_pass(data: &str) -> Option<(String, Payload)> {
        let items: Vec<&RawValue> = serde_json::from_str(data).ok()?;
        validate(data).ok()?;
        let first = items.first()?;
        if !first.get().starts_with('"') {
            return None;
        }
        let name: String = serde_json::from_str(first.get()).ok()?;
        let args = match (items.get(1), items.last()) {
            (Some(second), Some(last)) => {
                let start = second.get().as_ptr() as usize - data.as_ptr() as usize;
                let end = last.get().as_ptr() as usize - data.as_ptr() as usize + last.get().len();
                format!("[{}]", &data[start..end])
            }
            _ => "[]".to_owned(),
        };
        Some((name, Payload::from_parts_unchecked(args, Vec::new())))
    }

    #[test]
    fn one_pass_split_agrees_with_two_passes() {
        let nest = |k: usize| format!("{}{}", "[".repeat(k), "]".repeat(k));
        let obj = |k: usize| format!("{}1{}", r#"{"a":"#.repeat(k), "}".repeat(k));
        let mut cases: Vec<String> = [
            r#"["e"]"#,
            r#"[ "e" ]"#,
            r#"["e",1]"#,
            r#"["e", 1 ,2 ]"#,
            r#"["e",]"#,
            r#"["e",,1]"#,
            r#"["e" 1]"#,
            r#"["e",1]]"#,
            r#"["e",1] x"#,
            r#"["e",1}"#,
            r#"[]"#,
            r#"[ ]"#,
            r#"[1]"#,
            r#"[null,1]"#,
            r#"["e""#,
            r#"["e","#,
            r#"["e",1"#,
            r#"[""]"#,
            r#"["\u00e9\n",true]"#,
            r#"["\ud800"]"#,
            r#"["e","\ud800"]"#,
            r#"["e","\ud83d\ude00"]"#,
            r#"["e",1e400]"#,
            r#"["e",-0.0,1e-400]"#,
            r#"["e",01]"#,
            r#"["e",1.]"#,
            r#"["e",-]"#,
            r#"["e",tru]"#,
            r#"["e",true,false,null]"#,
            r#"["e",nul]"#,
            r#"["e",{"a":[1,{"b":null}]}]"#,
            r#"["e",{"a" 1}]"#,
            r#"["e",{"a":1,}]"#,
            r#"["e",{1:1}]"#,
            "[\"e\",\t\n\r1]",
            "[\"e\",\u{a0}1]",
            "[\"e\",\"a\u{1}\"]",
            r#"["e",18446744073709551616]"#,
            r#"["e",-9223372036854775809]"#,
            r#"["e",[1,2],[3]]"#,
            r#"["é",1]"#,
            r#"["e",1true]"#,
            r#"["e",true1]"#,
            r#"["e","a""b"]"#,
            r#"["e",[1]2]"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for k in 120..132 {
            cases.push(format!(r#"["e",{}]"#, nest(k)));
            cases.push(format!(r#"["e",1,{}]"#, obj(k)));
            cases.push(format!(r#"[{}]"#, nest(k)));
        }
        for case in &cases {
            assert_eq!(
                split_event(case),
                split_event_two_pass(case),
                "split_event({case:?})"
            );
        }
        // Opt-in: the fuzz corpora (`SPLIT_CORPUS=core/fuzz/corpus/socket_packet`).
        if let Ok(dir) = std::env::var("SPLIT_CORPUS") {
            let mut n = 0;
            for entry in std::fs::read_dir(dir).expect("corpus dir").flatten() {
                let bytes = std::fs::read(entry.path()).expect("read");
                let text = String::from_utf8_lossy(&bytes);
                for part in text.split(['\0', '\u{1e}']) {
                    for start in [0, 1, 2] {
                        if let Some(data) = part.get(start..) {
                            let data = data.trim();
                            assert_eq!(split_event(data), split_event_two_pass(data), "{data:?}");
                            if let Some(rest) = data.strip_prefix('[') {
                                let data = format!("[\"e\",{rest}");
                                assert_eq!(split_event(&data), split_event_two_pass(&data));
                            }
                            n += 1;
                        }
                    }
                }
            }
            eprintln!("{n} corpus inputs agree");
        }
    }

    #[test]
    fn encoders_size_their_output_exactly() {
        let bin = Payload::one(&Payload::placeholder(0))
            .expect("one")
            .with_binary(vec![Bytes::from_static(b"z"); 12]);
        let names = [
            "",
            "ev",
            "e\"v\\",
            "\u{1}\u{8}\u{c}\n\r\t\u{1f}",
            "é€😀",
            "\u{7f}",
        ];
        let argss = [
            Payload::empty(),
            Payload::from_json("[ ]", vec![]).expect("empty"),
            Payload::many(&(1, "x")).expect("args"),
            bin,
        ];
        for name in names {
            for args in &argss {
                for nsp in ["/", "/chat"] {
                    for ack in [None, Some(0), Some(9), Some(10), Some(u64::MAX)] {
                        let out = encode_event(nsp, name, args, ack);
                        assert_eq!(out.len(), out.capacity(), "{out}");
                        if let Some(id) = ack {
                            let out = encode_ack(nsp, id, args);
                            assert_eq!(out.len(), out.capacity(), "{out}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn round_trips_event() {
        let args = Payload::many(&("α", [1, 2], serde_json::json!({"k": null}))).expect("args");
        let text = encode_event("/ns", "ev", &args, Some(9));
        let Packet::Event {
            nsp,
            name,
            args: back,
            ack,
        } = complete(&text[1..])
        else {
            panic!("event")
        };
        assert_eq!((nsp.as_str(), name.as_str(), ack), ("/ns", "ev", Some(9)));
        assert_eq!(back.values().expect("v"), args.values().expect("v"));
    }
}
