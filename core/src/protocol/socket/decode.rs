//! Decoding the text of a Socket.IO packet from a client: header, namespace, ack id,
//! and the JSON data checked as fully as any later parse of it. Pure functions over
//! `&str`; never does I/O and never depends on tokio.

use super::binary::{attach, BinaryAssembler, DocumentPlaceholders, Placeholders};
use super::{Decoded, Packet, PacketKind, SocketError, MAX_ATTACHMENTS};
use crate::protocol::payload::{
    is_json_whitespace, trim_json_whitespace, validate, ArrayElement, Payload,
};

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

/// Decodes a refused connect, `4[/nsp,]{...}` without the Engine.IO `4`, as a server
/// sends it (a client never does, so [`decode`] refuses the type): the namespace and the
/// JSON text of the error object (`{"message":...,"data":...}`), checked to be one.
/// For clients of the server (its in-process test client).
pub fn decode_connect_error(text: &str) -> Result<(String, String), SocketError> {
    let rest = text.strip_prefix('4').ok_or(SocketError::UnknownType)?;
    let (nsp, data) = match rest.strip_prefix('/') {
        Some(_) => rest.split_once(',').unwrap_or((rest, "")),
        None => ("/", rest),
    };
    let data = trim_json_whitespace(data);
    if !data.starts_with('{') || validate(data).is_err() {
        return Err(SocketError::BadData {
            kind: PacketKind::ConnectError,
            reason: "expected an object",
        });
    }
    Ok((nsp.to_owned(), data.to_owned()))
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
    // Each body is parsed once: checked as fully as any later parse of it and, in a
    // binary packet, searched for placeholders in the same pass.
    let (packet, highest) = match kind {
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
            let packet = Packet::Connect {
                nsp: nsp.to_owned(),
                auth,
            };
            return Ok(Borrowed::Other(Decoded::Complete(packet)));
        }
        PacketKind::Disconnect => {
            let packet = Packet::Disconnect {
                nsp: nsp.to_owned(),
            };
            return Ok(Borrowed::Other(Decoded::Complete(packet)));
        }
        PacketKind::ConnectError => return Err(SocketError::NotFromClient(kind)),
        PacketKind::BinaryEvent => {
            let mut highest = None;
            let (name, args) = split_event_with(data, |Placeholders(found)| {
                highest = highest.max(found);
            })
            .ok_or_else(|| bad("expected [name, ...args]"))?;
            let packet = Packet::Event {
                nsp: nsp.to_owned(),
                name,
                args,
                ack,
            };
            (packet, highest)
        }
        PacketKind::BinaryAck => {
            let id = ack.ok_or_else(|| bad("missing ack id"))?;
            let DocumentPlaceholders(highest) = data
                .starts_with('[')
                .then(|| serde_json::from_str(data).ok())
                .flatten()
                .ok_or_else(|| bad("expected an array"))?;
            let packet = Packet::Ack {
                nsp: nsp.to_owned(),
                id,
                args: Payload::from_parts_unchecked(data.to_owned(), Vec::new()),
            };
            (packet, highest)
        }
    };

    // A binary packet.
    if attachments == 0 {
        return attach(packet, highest, Vec::new()).map(|p| Borrowed::Other(Decoded::Complete(p)));
    }
    Ok(Borrowed::Other(Decoded::Partial(BinaryAssembler::new(
        packet,
        highest,
        attachments,
        text.len(),
    ))))
}

/// Splits `["name", a, b]` into the name and the JSON text `[a,b]`, in one pass that
/// checks every element as fully as [`validate`] would (so the arguments parse later)
/// and finds where the arguments start and end. Copies the argument text once and never
/// builds a JSON tree. `data` has no surrounding whitespace.
pub(super) fn split_event(data: &str) -> Option<(String, Payload)> {
    split_event_with(data, |ArrayElement| ())
}

/// [`split_event`], reading each argument as an `E` (which must check it as fully as
/// [`ArrayElement`] does) and handing it to `each`.
fn split_event_with<'de, E: serde::Deserialize<'de>>(
    data: &'de str,
    mut each: impl FnMut(E),
) -> Option<(String, Payload)> {
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
                let (element, end) = next_value::<E>(data, start)?;
                each(element);
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
