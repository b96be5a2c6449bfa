//! Socket.IO packets: arbitrary text into `socket::decode`, attachments from the input.
//!
//! Input: optionally `0xFF` and a little-endian `u16`, the limit for the binary
//! assembler (`0xFF` never starts UTF-8 text, so inputs without it keep their meaning);
//! then bytes split on NUL: the first part is the packet text (skipped unless UTF-8), the
//! next parts (at most 16) are the binary attachments pushed to a partial packet.
//!
//! Properties:
//! - a decoded namespace starts with `/` and holds no `,`; connect auth is a JSON object
//!   that serde_json parses as an object;
//! - event and ack arguments are a JSON array that `values()` parses, `len()` counts,
//!   and whose placeholders (binary packets) all refer to an attachment;
//! - no map key in accepted arguments or auth is serde_json's reserved `RawValue` key;
//! - a complete event/ack re-encoded with `encode_event`/`encode_ack` (same nsp, name,
//!   args, ack id; minus the leading `4`) decodes to the same packet: same nsp, name and
//!   ack id, same attachments, equal JSON values; disconnects via `encode_disconnect`,
//!   connects via their wire form, likewise;
//! - decoded arguments can be sent on as the arguments of another event (an echo);
//! - a partial packet reports the `expected()` count its header announced and the
//!   `namespace()` the packet ends up with; it yields nothing until that many
//!   attachments have been pushed, then the packet or `BadPlaceholder`;
//! - a binary packet that announces no attachments completes at once when it has no
//!   placeholder, else is refused with `BadPlaceholder`;
//! - `BadPlaceholder` (from the last push, or from `decode` for a binary packet that
//!   announces no attachments) only when a plain `serde_json::Value` parse of the text's
//!   JSON has a placeholder that refers to none of the announced attachments;
//! - with a `limit`, `TooLarge` comes exactly when the text plus the attachments pushed
//!   so far exceed it (from `limit` itself when the text alone does); otherwise the
//!   outcome is the same as without a limit;
//! - once the packet is handed out or any error returned, every push is
//!   `UnexpectedBinary`.

use bytes::Bytes;
use ferrosocket::protocol::payload::Payload;
use ferrosocket::protocol::socket::{self, Decoded, Packet, SocketError};
use serde_json::Value;

use crate::{check, decode_with, has_reserved_key, placeholders_in_range};

const MAX_PUSHES: usize = 16;

/// The attachment count a binary packet's header announces (`5<n>-...`, `6<n>-...`).
fn announced(text: &str) -> Option<usize> {
    let rest = text.strip_prefix(['5', '6'])?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    rest[..digits].parse().ok()
}

/// Checks a payload of a decoded packet; returns its values when they parse.
fn check_args(args: &Payload, binary: &[Bytes], what: &str) -> Option<Vec<Value>> {
    assert_eq!(args.binary(), binary, "{what}: attachments");
    let json = args.json();
    let values = match args.values() {
        Ok(values) => values,
        Err(error) => {
            check("values-after-accept", false, || {
                format!("{what}: decoded arguments {json:?} do not parse: {error}")
            });
            return None;
        }
    };
    check(
        "reserved-key",
        has_reserved_key(json).ok() == Some(false),
        || format!("{what}: decoded arguments {json:?} use the reserved key"),
    );
    assert_eq!(args.len(), values.len(), "{what}: len() of {json:?}");
    check("is-empty", args.is_empty() == values.is_empty(), || {
        format!("{what}: is_empty() is {} for {json:?}", args.is_empty())
    });
    if !binary.is_empty() {
        assert!(
            placeholders_in_range(&values, binary.len()),
            "{what}: {json:?} has a placeholder past {} attachments",
            binary.len()
        );
    }
    Some(values)
}

/// The packet's own invariants, then its round trip through the encoders.
fn check_packet(packet: &Packet, binary: &[Bytes], input: &str) {
    let nsp = match packet {
        Packet::Connect { nsp, .. }
        | Packet::Disconnect { nsp }
        | Packet::Event { nsp, .. }
        | Packet::Ack { nsp, .. } => nsp,
    };
    assert!(
        nsp.starts_with('/') && !nsp.contains(','),
        "{input:?}: nsp {nsp:?}"
    );
    let what = format!("{input:?}");
    match packet {
        Packet::Connect { nsp, auth } => {
            let mut wire = String::from("0");
            if nsp != "/" {
                wire.push_str(nsp);
                wire.push(',');
            }
            if let Some(auth) = auth {
                assert!(
                    auth.starts_with('{') && auth.ends_with('}'),
                    "{what}: auth {auth:?}"
                );
                // Whatever parses the auth later (a handler, a binding) must get this
                // very object: it must parse, as an object, and not through the
                // reserved key (which would make `Value` something else).
                let parsed = serde_json::from_str::<Value>(auth);
                check("auth-validated", parsed.is_ok(), || {
                    format!("{what}: auth {auth:?} does not parse: {parsed:?}")
                });
                if let Ok(value) = parsed {
                    assert!(value.is_object(), "{what}: auth {auth:?} parses as {value}");
                }
                check(
                    "reserved-key",
                    has_reserved_key(auth).ok() != Some(true),
                    || format!("{what}: auth {auth:?} uses the reserved key"),
                );
                wire.push_str(auth);
            }
            assert_eq!(
                &decode_with(&wire, &[]),
                packet,
                "{what}: connect as {wire:?}"
            );
        }
        Packet::Disconnect { .. } => {
            let encoded = socket::encode_disconnect(nsp);
            assert!(encoded.starts_with('4'), "{encoded:?}");
            assert_eq!(
                &decode_with(&encoded[1..], &[]),
                packet,
                "{what}: as {encoded:?}"
            );
        }
        Packet::Event {
            nsp,
            name,
            args,
            ack,
        } => {
            let values = check_args(args, binary, &what);
            let encoded = socket::encode_event(nsp, name, args, *ack);
            assert!(encoded.starts_with('4'), "{encoded:?}");
            let Packet::Event {
                nsp: nsp2,
                name: name2,
                args: args2,
                ack: ack2,
            } = decode_with(&encoded[1..], binary)
            else {
                panic!("{what}: event re-encoded as {encoded:?} is not an event");
            };
            assert_eq!(
                (nsp, name, ack),
                (&nsp2, &name2, &ack2),
                "{what}: {encoded:?}"
            );
            assert_eq!(args2.binary(), binary);
            if let Some(values) = values {
                assert_eq!(args2.values().ok(), Some(values), "{what}: {encoded:?}");
            }
            echo(args, binary, &what);
        }
        Packet::Ack { nsp, id, args } => {
            let values = check_args(args, binary, &what);
            let encoded = socket::encode_ack(nsp, *id, args);
            assert!(encoded.starts_with('4'), "{encoded:?}");
            let Packet::Ack {
                nsp: nsp2,
                id: id2,
                args: args2,
            } = decode_with(&encoded[1..], binary)
            else {
                panic!("{what}: ack re-encoded as {encoded:?} is not an ack");
            };
            assert_eq!((nsp, id), (&nsp2, &id2), "{what}: {encoded:?}");
            assert_eq!(args2.binary(), binary);
            if let Some(values) = values {
                assert_eq!(args2.values().ok(), Some(values), "{what}: {encoded:?}");
            }
            echo(args, binary, &what);
        }
    }
    check_wire_data(packet, input);
}

/// The JSON part of a packet's text (auth or arguments), found without core's decoder:
/// what follows the type, the attachment count and its `-`, the namespace and its `,`,
/// and (events and acks) the ack id.
fn wire_data(text: &str) -> &str {
    let kind = text.as_bytes()[0];
    let mut rest = &text[1..];
    if matches!(kind, b'5' | b'6') {
        rest = rest.split_once('-').map_or("", |(_, data)| data);
    }
    if rest.starts_with('/') {
        rest = rest.split_once(',').map_or("", |(_, data)| data);
    }
    if matches!(kind, b'2' | b'3' | b'5' | b'6') {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    rest
}

/// The JSON a client sent for an accepted packet is one JSON value as it stands: only
/// JSON's own whitespace may surround it (`\x0b`, `\x0c` or U+00A0 around it make it not
/// JSON, and trimming them away would accept what no JSON parser does).
fn check_wire_data(packet: &Packet, input: &str) {
    if matches!(
        packet,
        Packet::Disconnect { .. } | Packet::Connect { auth: None, .. }
    ) {
        return;
    }
    let data = wire_data(input);
    let parsed = serde_json::from_str::<Value>(data);
    check("json-whitespace", parsed.is_ok(), || {
        format!("{input:?} accepted, but its data {data:?} is not JSON: {parsed:?}")
    });
}

/// Arguments received in one packet, emitted as the arguments of an event, arrive intact.
fn echo(args: &Payload, binary: &[Bytes], what: &str) {
    let Ok(values) = args.values() else { return };
    let encoded = socket::encode_event("/", "echo", args, None);
    let data = &encoded[encoded.find('[').unwrap_or(0)..];
    if !check(
        "encode-whitespace",
        serde_json::from_str::<Value>(data).is_ok(),
        || {
            format!(
                "{what}: arguments {:?} echo as invalid JSON {encoded:?}",
                args.json()
            )
        },
    ) {
        return;
    }
    let Packet::Event { args: back, .. } = decode_with(&encoded[1..], binary) else {
        panic!("{what}: echo {encoded:?} is not an event");
    };
    let back = back.values().expect("echoed arguments parse");
    check("encode-whitespace", back == values, || {
        format!("{what}: arguments {:?} echo as {encoded:?}", args.json())
    });
}

/// `text`, refused with `BadPlaceholder` when given `count` attachments, really has a
/// placeholder that refers to none of them, as a plain `serde_json::Value` parse of its
/// JSON (found without core's decoder) shows: what a client reconstructs from.
fn assert_placeholder_is_bad(text: &str, count: usize) {
    let data = wire_data(text);
    let values: Vec<Value> = match serde_json::from_str(data) {
        Ok(values) => values,
        Err(error) => panic!("{text:?}: BadPlaceholder, but {data:?} is not an array: {error}"),
    };
    assert!(
        !placeholders_in_range(&values, count),
        "{text:?}: BadPlaceholder, but every placeholder refers to one of {count} attachments"
    );
}

/// How pushing the attachments into a partial packet ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Fewer attachments than announced were pushed.
    Waiting,
    Packet(Packet),
    Error(SocketError),
}

/// Decodes `text` (a partial packet), sets `limit` if given, pushes `attachments` and
/// checks every step; `check_complete` runs [`check_packet`] on the packet it yields.
fn assemble(
    text: &str,
    attachments: &[Bytes],
    limit: Option<usize>,
    check_complete: bool,
) -> Outcome {
    let Ok(Decoded::Partial(mut assembler)) = socket::decode(text) else {
        panic!("{text:?} no longer decodes as a partial packet");
    };
    let expected = announced(text).expect("partial packets are binary packets");
    assert!(expected > 0, "{text:?}");
    assert_eq!(assembler.expected(), expected, "{text:?}: expected()");
    let nsp = assembler.namespace().to_owned();
    assert!(
        nsp.starts_with('/') && !nsp.contains(','),
        "{text:?}: namespace() {nsp:?}"
    );

    // What the assembler holds for the packet: the text, then each attachment.
    let mut held = text.len();
    let over = |held: usize| limit.is_some_and(|limit| held > limit);
    let mut outcome = Outcome::Waiting;
    if let Some(limit) = limit {
        let result = assembler.limit(limit);
        if over(held) {
            assert_eq!(result, Err(SocketError::TooLarge { limit }), "{text:?}");
            outcome = Outcome::Error(SocketError::TooLarge { limit });
        } else {
            assert_eq!(result, Ok(()), "{text:?}: limit({limit}) with {held} held");
        }
    }
    for (i, data) in attachments.iter().enumerate() {
        let pushed = i + 1;
        let result = assembler.push(data.clone());
        if outcome != Outcome::Waiting {
            // Handed out or refused: the assembler holds nothing and takes nothing.
            assert_eq!(
                result,
                Err(SocketError::UnexpectedBinary),
                "{text:?}: push {pushed} after {outcome:?}"
            );
            continue;
        }
        held += data.len();
        outcome = match result {
            Err(SocketError::TooLarge { limit: reported }) => {
                assert!(over(held), "{text:?}: TooLarge at {held} bytes, {limit:?}");
                assert_eq!(Some(reported), limit, "{text:?}: limit in TooLarge");
                Outcome::Error(SocketError::TooLarge { limit: reported })
            }
            other if over(held) => {
                panic!("{text:?}: {held} bytes past limit {limit:?}, push {pushed}: {other:?}")
            }
            Ok(None) => {
                assert!(pushed < expected, "{text:?}: nothing after {pushed}");
                Outcome::Waiting
            }
            Ok(Some(packet)) => {
                assert_eq!(pushed, expected, "{text:?}: packet after {pushed}");
                let (Packet::Event { nsp: got, .. } | Packet::Ack { nsp: got, .. }) = &packet
                else {
                    panic!("{text:?}: binary packet {packet:?}");
                };
                assert_eq!(got, &nsp, "{text:?}: namespace() before the packet");
                if check_complete {
                    check_packet(&packet, &attachments[..expected], text);
                }
                Outcome::Packet(packet)
            }
            Err(error) => {
                assert_eq!(pushed, expected, "{text:?}: {error} after {pushed}");
                assert_eq!(error, SocketError::BadPlaceholder, "{text:?}");
                assert_placeholder_is_bad(text, expected);
                Outcome::Error(error)
            }
        };
    }
    outcome
}

/// The `socket_packet` target.
pub fn socket_packet(data: &[u8]) {
    let (limit, data) = match data {
        [0xff, lo, hi, rest @ ..] => (Some(usize::from(u16::from_le_bytes([*lo, *hi]))), rest),
        [0xff, ..] => return,
        _ => (None, data),
    };
    let mut parts = data.split(|&b| b == 0);
    let Some(Ok(text)) = parts.next().map(std::str::from_utf8) else {
        return;
    };
    let attachments: Vec<Bytes> = parts.take(MAX_PUSHES).map(Bytes::copy_from_slice).collect();

    match socket::decode(text) {
        Err(SocketError::BadPlaceholder) => {
            assert_eq!(
                announced(text),
                Some(0),
                "{text:?}: BadPlaceholder from decode"
            );
            assert_placeholder_is_bad(text, 0);
        }
        Err(_) => {}
        Ok(Decoded::Complete(packet)) => {
            // Only a binary packet announcing 0 attachments completes at once.
            assert!(matches!(announced(text), None | Some(0)), "{text:?}");
            if announced(text) == Some(0) {
                // ... and only when no placeholder in it refers to an attachment.
                let values: Vec<Value> =
                    serde_json::from_str(wire_data(text)).expect("accepted JSON parses");
                assert!(
                    placeholders_in_range(&values, 0),
                    "{text:?}: complete with a placeholder and no attachments"
                );
            }
            check_packet(&packet, &[], text);
        }
        Ok(Decoded::Partial(_)) => {
            let unlimited = assemble(text, &attachments, None, true);
            // The input's limit; without one, the two limits around what this input
            // makes the assembler hold: just enough, and one byte short.
            let expected = announced(text).unwrap_or(0).min(attachments.len());
            let total = text.len()
                + attachments[..expected]
                    .iter()
                    .map(Bytes::len)
                    .sum::<usize>();
            let limits = match limit {
                Some(limit) => vec![limit],
                None => vec![total, total - 1],
            };
            for limit in limits {
                match assemble(text, &attachments, Some(limit), false) {
                    Outcome::Error(SocketError::TooLarge { .. }) => {
                        assert!(total > limit, "{text:?}: TooLarge under {limit}")
                    }
                    limited => assert_eq!(limited, unlimited, "{text:?}: limit {limit}"),
                }
            }
        }
    }
}
