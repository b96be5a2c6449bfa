//! Socket.IO packets: arbitrary text into `socket::decode`, attachments from the input.
//!
//! Input: bytes split on NUL; the first part is the packet text (skipped unless UTF-8),
//! the next parts (at most 16) are the binary attachments pushed to a partial packet.
//!
//! Properties:
//! - a decoded namespace starts with `/` and holds no `,`; connect auth is a JSON object;
//! - event and ack arguments are a JSON array that `values()` parses, `len()` counts,
//!   and whose placeholders (binary packets) all refer to an attachment;
//! - a complete event/ack re-encoded with `encode_event`/`encode_ack` (same nsp, name,
//!   args, ack id; minus the leading `4`) decodes to the same packet: same nsp, name and
//!   ack id, same attachments, equal JSON values; disconnects via `encode_disconnect`,
//!   connects via their wire form, likewise;
//! - decoded arguments can be sent on as the arguments of another event (an echo);
//! - a partial packet yields nothing until the number of attachments its header
//!   announced has been pushed, then the packet or `BadPlaceholder`; pushing more after
//!   that does not panic.
#![no_main]

use bytes::Bytes;
use ferrosocket::protocol::payload::Payload;
use ferrosocket::protocol::socket::{self, Decoded, Packet, SocketError};
use ferrosocket_fuzz::{check, decode_with, placeholders_in_range};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

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
                if let Ok(value) = serde_json::from_str::<Value>(auth) {
                    assert!(value.is_object(), "{what}: auth {auth:?}");
                }
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

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let Some(Ok(text)) = parts.next().map(std::str::from_utf8) else {
        return;
    };
    let attachments: Vec<Bytes> = parts.take(MAX_PUSHES).map(Bytes::copy_from_slice).collect();

    match socket::decode(text) {
        Err(_) => {}
        Ok(Decoded::Complete(packet)) => {
            // Only a binary packet announcing 0 attachments completes at once.
            assert!(matches!(announced(text), None | Some(0)), "{text:?}");
            check_packet(&packet, &[], text);
        }
        Ok(Decoded::Partial(mut assembler)) => {
            let expected = announced(text).expect("partial packets are binary packets");
            assert!(expected > 0, "{text:?}");
            let mut done = false;
            for (i, data) in attachments.iter().enumerate() {
                let pushed = i + 1;
                let result = assembler.push(data.clone());
                if done {
                    // Misuse (the server drops the assembler): only must not panic.
                    continue;
                }
                match result {
                    Ok(None) => assert!(pushed < expected, "{text:?}: nothing after {pushed}"),
                    Ok(Some(packet)) => {
                        assert_eq!(pushed, expected, "{text:?}: packet after {pushed}");
                        assert!(
                            matches!(packet, Packet::Event { .. } | Packet::Ack { .. }),
                            "{text:?}: binary packet {packet:?}"
                        );
                        check_packet(&packet, &attachments[..expected], text);
                        done = true;
                    }
                    Err(error) => {
                        assert_eq!(pushed, expected, "{text:?}: {error} after {pushed}");
                        assert_eq!(error, SocketError::BadPlaceholder, "{text:?}");
                        done = true;
                    }
                }
            }
        }
    }
});
