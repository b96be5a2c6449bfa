//! Unit tests of the Socket.IO codec: decoding, binary assembly, encoding, and the
//! one-pass parsers checked against plain multi-pass versions.

use bytes::Bytes;
use serde_json::value::RawValue;

use super::decode::split_event;
use super::*;
use crate::protocol::payload::{check_placeholders, trim_json_whitespace, validate};

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
    assert_eq!(asm.held(), 0, "nothing is held after the error");
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
    assert_eq!(
        encode_disconnect_refused("/a", "no", Some("[1]")),
        r#"41/a,{"message":"no","data":[1]}"#
    );
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

/// How binary packets were decoded before their body was parsed once: the two-pass
/// split (or `validate`), then, with the attachments, a `serde_json::Value` tree of the
/// arguments searched by `check_placeholders`.
fn decode_binary_two_pass(text: &str, binary: &[Bytes]) -> Result<Packet, SocketError> {
    let (kind, rest) = match text.as_bytes().first() {
        Some(b'5') => (PacketKind::BinaryEvent, &text[1..]),
        Some(b'6') => (PacketKind::BinaryAck, &text[1..]),
        _ => panic!("{text:?} is not a binary packet"),
    };
    let (count, rest) = rest.split_once('-').expect("attachment count");
    assert_eq!(count.parse::<usize>().ok(), Some(binary.len()), "{text:?}");
    let bad = |reason| SocketError::BadData { kind, reason };
    let packet = if kind == PacketKind::BinaryEvent {
        let (name, args) = split_event_two_pass(trim_json_whitespace(rest))
            .ok_or_else(|| bad("expected [name, ...args]"))?;
        Packet::Event {
            nsp: "/".into(),
            name,
            args,
            ack: None,
        }
    } else {
        let data = trim_json_whitespace(rest.strip_prefix('1').expect("ack id 1"));
        if !data.starts_with('[') || validate(data).is_err() {
            return Err(bad("expected an array"));
        }
        Packet::Ack {
            nsp: "/".into(),
            id: 1,
            args: Payload::from_parts_unchecked(data.into(), vec![]),
        }
    };
    let fill = |args: Payload| {
        let value: serde_json::Value =
            serde_json::from_str(args.json()).map_err(|_| SocketError::BadPlaceholder)?;
        check_placeholders(&value, binary.len()).map_err(|_| SocketError::BadPlaceholder)?;
        Ok(Payload::from_parts_unchecked(
            args.json().into(),
            binary.to_vec(),
        ))
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

/// [`decode`] of a binary packet, then `binary` pushed into it.
fn decode_binary(text: &str, binary: &[Bytes]) -> Result<Packet, SocketError> {
    match decode(text)? {
        Decoded::Complete(packet) => {
            assert!(
                binary.is_empty(),
                "{text:?} complete before its attachments"
            );
            Ok(packet)
        }
        Decoded::Partial(mut asm) => {
            let (last, first) = binary.split_last().expect("announced attachments");
            for data in first {
                assert_eq!(asm.push(data.clone()), Ok(None), "{text:?}");
            }
            let packet = asm.push(last.clone())?.expect("complete");
            Ok(packet)
        }
    }
}

#[test]
fn one_pass_binary_decode_agrees_with_two_passes() {
    // Arguments, as JSON text (no brackets), that test where placeholders are found.
    let mut args: Vec<String> = [
        "",
        "1",
        r#"{"_placeholder":true,"num":0}"#,
        r#"{"_placeholder":true,"num":1}"#,
        r#"{"_placeholder":true,"num":3}"#,
        r#"{"_placeholder":true}"#,
        r#"{"_placeholder":true,"num":-1}"#,
        r#"{"_placeholder":true,"num":-0}"#,
        r#"{"_placeholder":true,"num":0.0}"#,
        r#"{"_placeholder":true,"num":1e0}"#,
        r#"{"_placeholder":true,"num":"0"}"#,
        r#"{"_placeholder":true,"num":18446744073709551615}"#,
        r#"{"_placeholder":true,"num":18446744073709551616}"#,
        r#"{"_placeholder":1,"num":9}"#,
        r#"{"_placeholder":"true","num":9}"#,
        r#"{"_placeholder":false,"num":9}"#,
        r#"{"num":0,"_placeholder":true}"#,
        r#"{"\u005fplaceholder":true,"n\u0075m":2}"#,
        r#"{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":9}}"#,
        r#"{"_placeholder":false,"x":{"_placeholder":true,"num":9}}"#,
        r#"{"_placeholder":{"_placeholder":true,"num":9}}"#,
        r#"{"num":{"_placeholder":true,"num":9}}"#,
        r#"{"_placeholder":true,"_placeholder":false,"num":0}"#,
        r#"{"_placeholder":false,"_placeholder":true,"num":9}"#,
        r#"{"_placeholder":true,"num":9,"num":0}"#,
        r#"{"_placeholder":true,"num":0,"num":9}"#,
        r#"{"a":{"_placeholder":true,"num":9},"a":1}"#,
        r#"{"a":1,"a":{"_placeholder":true,"num":9}}"#,
        r#"{"a":{"_placeholder":true,"num":9},"b":1,"a":2}"#,
        r#"{"\u0061":{"_placeholder":true,"num":9},"a":2}"#,
        r#"[[{"_placeholder":true,"num":1}],{"k":[{"_placeholder":true,"num":0}]}]"#,
        r#"{"_placeholder":true,"num":0},{"_placeholder":true,"num":2}"#,
        r#"{"$serde_json::private::RawValue":"1"}"#,
        r#"{"_placeholder":true,"num":0"#,
        r#"{"_placeholder":true,"num":01}"#,
        r#""\ud800""#,
        "1e400",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Placeholders at and past the nesting limit.
    for k in 123..130 {
        let (open, close) = ("[".repeat(k), "]".repeat(k));
        args.push(format!(r#"{open}{{"_placeholder":true,"num":0}}{close}"#));
        args.push(format!(r#"{open}{{"_placeholder":true,"num":5}}{close}"#));
    }
    // Every object of up to three members drawn from these, repeated keys included.
    let keys = ["_placeholder", "num", "a"];
    let values = [
        "true",
        "false",
        "0",
        "1",
        "-1",
        "\"0\"",
        r#"{"_placeholder":true,"num":1}"#,
    ];
    let members: Vec<String> = keys
        .iter()
        .flat_map(|k| values.iter().map(move |v| format!(r#""{k}":{v}"#)))
        .collect();
    for a in &members {
        args.push(format!("{{{a}}}"));
        for b in &members {
            args.push(format!("{{{a},{b}}}"));
            for c in &members {
                args.push(format!("{{{a},{b},{c}}}"));
            }
        }
    }

    let mut fits = [0; 3];
    for arg in &args {
        let sep = if arg.is_empty() { "" } else { "," };
        for (count, fits) in fits.iter_mut().enumerate() {
            let binary: Vec<Bytes> = (0..count).map(|i| Bytes::from(vec![i as u8])).collect();
            for text in [
                format!(r#"5{count}-["e"{sep}{arg}]"#),
                format!(r#"6{count}-1[{arg}]"#),
            ] {
                let two_pass = decode_binary_two_pass(&text, &binary);
                assert_eq!(decode_binary(&text, &binary), two_pass, "{text:?}");
                if two_pass.is_ok() {
                    *fits += 1;
                }
            }
        }
    }
    // The cases are not all refused (nor all accepted) for any count.
    for (count, fit) in fits.iter().enumerate() {
        assert!(
            0 < *fit && *fit < 2 * args.len(),
            "{fit} of {} fit {count} attachments",
            2 * args.len()
        );
    }
}

#[test]
fn json_strings_are_escaped_as_serde_json_escapes_them() {
    let mut texts: Vec<String> = (0..=0x7fu8).map(|b| char::from(b).to_string()).collect();
    texts.extend(
        [
            "",
            "plain",
            "a\"b\\c",
            "é€😀\u{7f}\u{80}\u{2028}",
            "\u{1}x\u{1f}\n\u{0}",
        ]
        .map(String::from),
    );
    texts.push((0..=0x7fu8).map(char::from).collect());
    for text in &texts {
        let mut out = String::from("~");
        super::encode::push_json_string(&mut out, text);
        let expected = serde_json::to_string(text).expect("a str serializes");
        assert_eq!(out[1..], expected, "{text:?}");
        assert_eq!(
            out.len() - 1,
            super::encode::json_string_len(text),
            "{text:?}"
        );
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

/// What the in-process test client sends and reads back: a client CONNECT decodes as the
/// server decodes a network client's, and a refusal decodes to its namespace and object.
#[test]
fn client_side_connect_codec_round_trips() {
    assert_eq!(encode_connect_request("/", None), "40");
    assert_eq!(encode_connect_request("/a", None), "40/a,");
    let text = encode_connect_request("/a", Some(r#"{"token":"t"}"#));
    assert_eq!(text, r#"40/a,{"token":"t"}"#);
    assert_eq!(
        complete(&text[1..]),
        Packet::Connect {
            nsp: "/a".into(),
            auth: Some(r#"{"token":"t"}"#.into())
        }
    );
    assert_eq!(
        complete(&encode_connect_request("/", Some("{}"))[1..]),
        Packet::Connect {
            nsp: "/".into(),
            auth: Some("{}".into())
        }
    );

    let refused = encode_connect_error("/r", "no", Some(r#"{"code":1}"#));
    assert_eq!(
        decode_connect_error(&refused[1..]),
        Ok(("/r".into(), r#"{"message":"no","data":{"code":1}}"#.into()))
    );
    let refused = encode_connect_error("/", "Invalid namespace", None);
    assert_eq!(
        decode_connect_error(&refused[1..]),
        Ok(("/".into(), r#"{"message":"Invalid namespace"}"#.into()))
    );
    assert!(decode_connect_error("4/r,[1]").is_err());
    assert!(decode_connect_error("4{").is_err());
    assert!(decode_connect_error(r#"2["e"]"#).is_err());
}
