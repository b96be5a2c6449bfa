//! The node format ([`super::node::NodeSocketIo`]) against the bytes node socket.io 4.8.4 +
//! `@socket.io/redis-adapter` 8.3.0 and `@socket.io/redis-emitter` 5.1.0 really publish,
//! captured by `tests/redis/node/capture.mjs` into `tests/redis/fixtures/socket.io/`
//! (what each message is: that folder's README.md and its `channels.json` files). Only
//! the [`WireFormat`] interface is used. Test-only: `#[cfg(test)] mod node_fixtures;`.

use bytes::Bytes;
use rmpv::Value;

use super::format::{Decoded, Incoming, Outgoing, Publish, RoomFilter, WireFormat};
use super::node::NodeSocketIo;
use crate::adapter::{BroadcastFlags, BroadcastOptions, BroadcastPacket, Room};
use crate::protocol::Payload;

/// A decoding case: file, event, arguments (JSON), rooms, except.
type BroadcastCase<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a [&'a str]);
/// An encoding case: file, event, arguments (JSON), attachments, options.
type EncodeCase<'a> = (&'a str, &'a str, String, Vec<&'a [u8]>, BroadcastOptions);
/// An emitter case: a [`BroadcastCase`] and whether it is volatile.
type EmitterCase<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a [&'a str],
    &'a [&'a str],
    bool,
);

/// One captured message: its channel, bytes and decoded value (from channels.json).
struct Fixture {
    channel: String,
    bytes: Vec<u8>,
    decoded: serde_json::Value,
}

fn fixture(dir: &str, file: &str) -> Fixture {
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/redis/fixtures/socket.io"
    );
    let index = std::fs::read_to_string(format!("{root}/{dir}/channels.json"))
        .expect("channels.json is readable");
    let index: serde_json::Value = serde_json::from_str(&index).expect("channels.json is JSON");
    let entry = &index["files"][file];
    assert!(entry.is_object(), "{dir}/{file} is not in channels.json");
    Fixture {
        channel: entry["channel"].as_str().expect("a string").to_owned(),
        bytes: std::fs::read(format!("{root}/{dir}/{file}")).expect("the fixture is readable"),
        decoded: entry["decoded"].clone(),
    }
}

use super::format::tests::All;

/// No room has a local member (the namespace itself does).
struct NoRooms;
impl RoomFilter for NoRooms {
    fn may_reach(&self, _nsp: &str, rooms: &[Room]) -> bool {
        rooms.is_empty()
    }
}

fn node() -> NodeSocketIo {
    NodeSocketIo::new("socket.io")
}

fn decode(f: &Fixture, uid: &str, filter: &dyn RoomFilter) -> Decoded {
    node().decode(uid, f.channel.as_bytes(), &f.bytes, filter)
}

fn message(decoded: Decoded) -> (String, Incoming) {
    match decoded {
        Decoded::Message { from, message } => (from, message),
        other => panic!("not a message: {other:?}"),
    }
}

fn broadcast(decoded: Decoded) -> (String, BroadcastOptions, Payload, String) {
    match message(decoded) {
        (
            _,
            Incoming::Broadcast {
                nsp,
                event,
                args,
                opts,
                ..
            },
        ) => (nsp, opts, args, event),
        (_, other) => panic!("not a broadcast: {other:?}"),
    }
}

fn rooms(list: &[&str]) -> Vec<Room> {
    list.iter().map(|r| Room::from(*r)).collect()
}

fn payload(json: &str, binary: &[&[u8]]) -> Payload {
    Payload::from_json(
        json,
        binary.iter().map(|b| Bytes::copy_from_slice(b)).collect(),
    )
    .expect("valid arguments")
}

fn placeholder(num: usize) -> String {
    format!(r#"{{"_placeholder":true,"num":{num}}}"#)
}

/// A message as node reads it (JSON when it starts with `{`, else msgpack), as JSON with
/// binary as `{"$bin": hex}` (the form of channels.json).
fn as_node_reads_it(payload: &[u8]) -> serde_json::Value {
    fn convert(value: &Value) -> serde_json::Value {
        match value {
            Value::Nil => serde_json::Value::Null,
            Value::Boolean(b) => (*b).into(),
            Value::Integer(i) => i
                .as_i64()
                .map(Into::into)
                .or_else(|| i.as_u64().map(Into::into))
                .expect("an integer fits i64 or u64"),
            Value::F32(f) => f64::from(*f).into(),
            Value::F64(f) => (*f).into(),
            Value::String(s) => s.as_str().expect("a string").into(),
            Value::Binary(b) => {
                serde_json::json!({ "$bin": b.iter().map(|x| format!("{x:02x}")).collect::<String>() })
            }
            Value::Array(items) => items.iter().map(convert).collect(),
            Value::Map(entries) => entries
                .iter()
                .map(|(k, v)| (k.as_str().expect("a string").to_owned(), convert(v)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            Value::Ext(..) => serde_json::Value::Null,
        }
    }
    if payload.first() == Some(&b'{') {
        serde_json::from_slice(payload).expect("JSON")
    } else {
        let mut rd = payload;
        convert(&rmpv::decode::read_value(&mut rd).expect("msgpack"))
    }
}

fn only(publish: Vec<Publish>) -> Publish {
    assert_eq!(publish.len(), 1, "{publish:?}");
    publish.into_iter().next().expect("one message")
}

#[test]
fn node_broadcasts_decode() {
    let cases: [BroadcastCase<'_>; 5] = [
        (
            "broadcast-all.1.bin",
            "to-all",
            r#"["hello",42,{"nested":[true,null,1.5]}]"#,
            &[],
            &[],
        ),
        (
            "broadcast-room.1.bin",
            "to-room1",
            r#"["r1"]"#,
            &["room1"],
            &[],
        ),
        (
            "broadcast-rooms.1.bin",
            "to-rooms",
            r#"["r12"]"#,
            &["room1", "room2"],
            &[],
        ),
        (
            "broadcast-except.1.bin",
            "except-room2",
            r#"["x"]"#,
            &[],
            &["room2"],
        ),
        (
            "broadcast-room-except.1.bin",
            "room1-except-room2",
            r#"["y"]"#,
            &["room1"],
            &["room2"],
        ),
    ];
    for (file, event, args, to, except) in cases {
        let f = fixture("adapter", file);
        let (from, got) = message(decode(&f, "me", &All));
        assert_eq!(from, f.decoded[0].as_str().expect("a string"), "{file}");
        assert_eq!(
            got,
            Incoming::Broadcast {
                nsp: "/".to_owned(),
                event: event.to_owned(),
                args: payload(args, &[]),
                opts: BroadcastOptions {
                    rooms: rooms(to),
                    except: rooms(except),
                    flags: BroadcastFlags::default(),
                },
                ack: None,
            },
            "{file}"
        );
    }
}

#[test]
fn flags_namespaces_socket_ids_and_the_sender_decode() {
    let (_, opts, _, _) = broadcast(decode(
        &fixture("adapter", "broadcast-volatile.1.bin"),
        "me",
        &All,
    ));
    assert!(opts.flags.volatile);
    assert!(!opts.flags.local);

    let (nsp, _, _, event) = broadcast(decode(
        &fixture("adapter", "broadcast-namespace.1.bin"),
        "me",
        &All,
    ));
    assert_eq!((nsp.as_str(), event.as_str()), ("/admin", "admin-all"));

    let f = fixture("adapter", "broadcast-sid.1.bin");
    let sid = f.decoded[2]["rooms"][0]
        .as_str()
        .expect("a string")
        .to_owned();
    assert_eq!(
        f.channel,
        format!("socket.io#/#{sid}#"),
        "io.to(sid) uses the sid's room channel"
    );
    assert_eq!(node().room_channel("/", &sid), Some(f.channel.clone()));
    let (_, opts, _, _) = broadcast(decode(&f, "me", &All));
    assert_eq!(opts.rooms, rooms(&[&sid]));

    let f = fixture("adapter", "broadcast-sender-excluded.1.bin");
    let sender = f.decoded[2]["except"][0]
        .as_str()
        .expect("a string")
        .to_owned();
    let (_, opts, _, _) = broadcast(decode(&f, "me", &All));
    assert_eq!(opts.except, rooms(&[&sender]));
}

#[test]
fn node_binary_becomes_placeholders_and_attachments() {
    let (_, _, args, event) = broadcast(decode(
        &fixture("adapter", "broadcast-binary.1.bin"),
        "me",
        &All,
    ));
    assert_eq!(event, "binary");
    assert_eq!(
        args.json(),
        format!(
            r#"[{},{{"file":{},"list":[{}]}}]"#,
            placeholder(0),
            placeholder(1),
            placeholder(2)
        )
    );
    assert_eq!(
        args.binary(),
        [
            Bytes::from_static(&[0, 1, 2, 255]),
            Bytes::from_static("héllo".as_bytes()),
            Bytes::new()
        ]
    );
}

#[test]
fn a_room_channel_is_filtered_before_its_payload_is_decoded() {
    // The room is in the channel name: with no local member, the payload is never read.
    let mut f = fixture("adapter", "broadcast-room.1.bin");
    f.bytes = b"\xc1 not msgpack".to_vec();
    assert_eq!(decode(&f, "me", &NoRooms), Decoded::Filtered);
    let f = fixture("adapter", "broadcast-rooms.1.bin");
    assert_eq!(decode(&f, "me", &NoRooms), Decoded::Filtered);
    let f = fixture("adapter", "broadcast-all.1.bin");
    assert!(matches!(
        decode(&f, "me", &NoRooms),
        Decoded::Message { .. }
    ));
}

#[test]
fn own_broadcasts_and_garbage_are_not_delivered() {
    let f = fixture("adapter", "broadcast-all.1.bin");
    let own = f.decoded[0].as_str().expect("a string").to_owned();
    assert_eq!(decode(&f, &own, &All), Decoded::NotForUs);
    for garbage in [&b""[..], b"\x93", b"\x80", b"\xc1", b"{not json"] {
        let decoded = node().decode("me", b"socket.io#/#", garbage, &All);
        assert!(
            matches!(decoded, Decoded::Invalid(_)),
            "{garbage:?}: {decoded:?}"
        );
        let decoded = node().decode("me", b"socket.io-request#/#", garbage, &All);
        assert!(
            matches!(decoded, Decoded::Invalid(_)),
            "request {garbage:?}: {decoded:?}"
        );
    }
}

#[test]
fn our_broadcasts_are_byte_for_byte_what_node_sends() {
    let cases: [EncodeCase<'_>; 3] = [
        (
            "broadcast-all.1.bin",
            "to-all",
            r#"["hello",42,{"nested":[true,null,1.5]}]"#.to_owned(),
            vec![],
            BroadcastOptions::default(),
        ),
        (
            "broadcast-binary.1.bin",
            "binary",
            format!(
                r#"[{},{{"file":{},"list":[{}]}}]"#,
                placeholder(0),
                placeholder(1),
                placeholder(2)
            ),
            vec![&[0, 1, 2, 255], "héllo".as_bytes(), &[]],
            BroadcastOptions::default(),
        ),
        (
            "broadcast-room.1.bin",
            "to-room1",
            r#"["r1"]"#.to_owned(),
            vec![],
            BroadcastOptions::to(rooms(&["room1"])),
        ),
    ];
    for (file, event, json, binary, opts) in cases {
        let f = fixture("adapter", file);
        let uid = f.decoded[0].as_str().expect("a string");
        let args = payload(&json, &binary);
        let out = only(node().encode(
            uid,
            &Outgoing::Broadcast {
                nsp: "/",
                packet: BroadcastPacket { event, args: &args },
                opts: &opts,
                ack: None,
            },
        ));
        assert_eq!(out.channel, f.channel, "{file}");
        assert_eq!(
            out.payload,
            f.bytes,
            "{file}: {:?}",
            as_node_reads_it(&out.payload)
        );
    }
}

#[test]
fn argument_key_order_reaches_node_as_it_was_given() {
    // node hands clients the object as msgpack gave it: the order must be the sender's.
    let args = payload(r#"[{"zeta":1,"alpha":{"y":true,"b":null}}]"#, &[]);
    let out = only(node().encode(
        "me",
        &Outgoing::Broadcast {
            nsp: "/",
            packet: BroadcastPacket {
                event: "ordered",
                args: &args,
            },
            opts: &BroadcastOptions::default(),
            ack: None,
        },
    ));
    let mut rd = out.payload.as_slice();
    let value = rmpv::decode::read_value(&mut rd).expect("msgpack");
    let data = &value[1]["data"][1];
    let keys: Vec<&str> = data
        .as_map()
        .expect("a map")
        .iter()
        .map(|(k, _)| k.as_str().expect("a string"))
        .collect();
    assert_eq!(keys, ["zeta", "alpha"]);
    let inner: Vec<&str> = data["alpha"]
        .as_map()
        .expect("a map")
        .iter()
        .map(|(k, _)| k.as_str().expect("a string"))
        .collect();
    assert_eq!(inner, ["y", "b"]);
}

#[test]
fn node_broadcast_with_acks_decodes_and_our_answers_read_as_node_s_own() {
    let f = fixture("adapter", "broadcast-ack.1.bin");
    let node_uid = f.decoded["uid"].as_str().expect("a string");
    let node_request = f.decoded["requestId"].as_str().expect("a string");
    let (from, got) = message(decode(&f, "me", &All));
    assert_eq!(from, node_uid);
    let Incoming::Broadcast {
        event,
        args,
        ack: Some(ack),
        ..
    } = got
    else {
        panic!("not a broadcast with acks: {got:?}");
    };
    assert_eq!((event.as_str(), args.json()), ("ask", r#"["question?"]"#));
    assert_eq!(ack.id, node_request);

    let count = only(node().encode(
        "me",
        &Outgoing::AckCount {
            to: node_uid,
            nsp: "/",
            request: &ack.id,
            count: 3,
        },
    ));
    assert_eq!(count.channel, format!("socket.io-response#/#{node_uid}#"));
    assert_eq!(
        as_node_reads_it(&count.payload),
        fixture("adapter", "broadcast-ack.2.bin").decoded
    );

    // node keeps one value per client acknowledgement: the first argument.
    let reply = payload(r#"[{"from":"b1","got":["question?"]},"dropped"]"#, &[]);
    let acked = only(node().encode(
        "me",
        &Outgoing::Ack {
            to: node_uid,
            nsp: "/",
            request: &ack.id,
            sid: "sid",
            reply_as: None,
            args: &reply,
        },
    ));
    assert_eq!(
        as_node_reads_it(&acked.payload),
        fixture("adapter", "broadcast-ack.3.bin").decoded
    );

    // No local socket can be a recipient: still a message, node waits for this count.
    let f = fixture("adapter", "broadcast-ack-room-binary.1.bin");
    assert!(matches!(
        decode(&f, "me", &NoRooms),
        Decoded::Message {
            message: Incoming::Broadcast { ack: Some(_), .. },
            ..
        }
    ));
}

#[test]
fn node_s_answers_decode() {
    let f = fixture("adapter", "broadcast-ack-room-binary.2.bin");
    let (_, got) = message(decode(&f, "me", &All));
    assert_eq!(
        got,
        Incoming::AckCount {
            request: f.decoded["requestId"]
                .as_str()
                .expect("a string")
                .to_owned(),
            count: 1
        }
    );

    let f = fixture("adapter", "broadcast-ack-room-binary.3.bin");
    let (_, got) = message(decode(&f, "me", &All));
    let Incoming::Ack { request, args, .. } = got else {
        panic!("not an ack: {got:?}")
    };
    assert_eq!(request, f.decoded["requestId"].as_str().expect("a string"));
    assert_eq!(
        args,
        payload(
            &format!(r#"[{{"from":"b2","got":[{}]}}]"#, placeholder(0)),
            &[&[7, 7]]
        )
    );

    // A client that acknowledged with an array: node carries that one value.
    let one_array = rmpv_map(vec![
        ("type", Value::from(9)),
        ("requestId", Value::from("abc123")),
        ("packet", Value::Array(vec![Value::from(1), Value::from(2)])),
    ]);
    let (_, got) = message(node().decode("me", b"socket.io-response#/#me#", &one_array, &All));
    let Incoming::Ack { args, .. } = got else {
        panic!("not an ack: {got:?}")
    };
    assert_eq!(args.json(), "[[1,2]]");

    let f = fixture("adapter", "fetch-sockets.2.bin");
    let (_, got) = message(decode(&f, "me", &All));
    let Incoming::Sockets { request, sockets } = got else {
        panic!("not sockets: {got:?}")
    };
    assert_eq!(request, f.decoded["requestId"].as_str().expect("a string"));
    let want: Vec<Room> = f.decoded["sockets"][0]["rooms"]
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| Room::from(r.as_str().expect("a string")))
        .collect();
    assert_eq!(sockets.len(), 1);
    assert_eq!(
        &*sockets[0].id,
        f.decoded["sockets"][0]["id"].as_str().expect("a string")
    );
    assert_eq!(sockets[0].rooms, want);
    assert!(!sockets[0].local);

    let f = fixture("adapter", "all-rooms.2.bin");
    let (_, got) = message(decode(&f, "me", &All));
    let Incoming::Rooms { rooms: got, .. } = got else {
        panic!("not rooms: {got:?}")
    };
    let want: Vec<Room> = f.decoded["rooms"]
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| Room::from(r.as_str().expect("a string")))
        .collect();
    assert_eq!(got, want);
}

fn rmpv_map(entries: Vec<(&str, Value)>) -> Vec<u8> {
    let value = Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    );
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &value).expect("msgpack into a Vec");
    out
}

#[test]
fn node_and_emitter_requests_decode() {
    let in_room1 = BroadcastOptions::to(rooms(&["room1"]));
    let (from, got) = message(decode(
        &fixture("adapter", "sockets-join.1.bin"),
        "me",
        &All,
    ));
    assert!(!from.is_empty());
    assert_eq!(
        got,
        Incoming::AddSockets {
            nsp: "/".into(),
            opts: in_room1.clone(),
            rooms: rooms(&["room3", "room4"])
        }
    );
    let (_, got) = message(decode(
        &fixture("adapter", "sockets-leave.1.bin"),
        "me",
        &All,
    ));
    assert_eq!(
        got,
        Incoming::DelSockets {
            nsp: "/".into(),
            opts: in_room1.clone(),
            rooms: rooms(&["room3"])
        }
    );
    let (_, got) = message(decode(
        &fixture("adapter", "disconnect-sockets.1.bin"),
        "me",
        &All,
    ));
    assert_eq!(
        got,
        Incoming::Disconnect {
            nsp: "/".into(),
            opts: BroadcastOptions::to(rooms(&["doomed"])),
            close: true
        }
    );

    let f = fixture("adapter", "fetch-sockets.1.bin");
    let (_, got) = message(decode(&f, "me", &All));
    assert_eq!(
        got,
        Incoming::FetchSockets {
            nsp: "/".into(),
            request: f.decoded["requestId"]
                .as_str()
                .expect("a string")
                .to_owned(),
            opts: in_room1.clone(),
        }
    );
    let f = fixture("adapter", "all-rooms.1.bin");
    let (_, got) = message(decode(&f, "me", &All));
    assert_eq!(
        got,
        Incoming::AllRooms {
            nsp: "/".into(),
            request: f.decoded["requestId"]
                .as_str()
                .expect("a string")
                .to_owned()
        }
    );

    // Requests this server ignores are still recognised (not "invalid").
    for file in ["server-side-emit.1.bin", "server-side-emit-ack.1.bin"] {
        assert!(
            matches!(
                decode(&fixture("adapter", file), "me", &All),
                Decoded::Ignored(_)
            ),
            "{file}"
        );
    }

    // A server's own request comes back to it on the request channel.
    let f = fixture("adapter", "sockets-join.1.bin");
    assert_eq!(
        decode(&f, f.decoded["uid"].as_str().expect("a string"), &All),
        Decoded::NotForUs
    );

    // The emitter's requests carry no uid.
    let (_, got) = message(decode(
        &fixture("emitter", "sockets-join.1.bin"),
        "me",
        &All,
    ));
    assert_eq!(
        got,
        Incoming::AddSockets {
            nsp: "/".into(),
            opts: in_room1.clone(),
            rooms: rooms(&["room9"])
        }
    );
    let (_, got) = message(decode(
        &fixture("emitter", "sockets-leave.1.bin"),
        "me",
        &All,
    ));
    assert_eq!(
        got,
        Incoming::DelSockets {
            nsp: "/".into(),
            opts: in_room1,
            rooms: rooms(&["room9"])
        }
    );
    let (_, got) = message(decode(
        &fixture("emitter", "disconnect-sockets.1.bin"),
        "me",
        &All,
    ));
    assert_eq!(
        got,
        Incoming::Disconnect {
            nsp: "/".into(),
            opts: BroadcastOptions::to(rooms(&["doomed"])),
            close: true
        }
    );
    assert!(matches!(
        decode(&fixture("emitter", "server-side-emit.1.bin"), "me", &All),
        Decoded::Ignored(_)
    ));
}

#[test]
fn emitter_broadcasts_decode() {
    let cases: [EmitterCase<'_>; 5] = [
        ("emit-all.1.bin", "e-all", r#"["hello",1]"#, &[], &[], false),
        (
            "emit-room.1.bin",
            "e-room",
            r#"["r"]"#,
            &["room1"],
            &[],
            false,
        ),
        (
            "emit-rooms.1.bin",
            "e-rooms",
            r#"["rr"]"#,
            &["room1", "room2"],
            &[],
            false,
        ),
        (
            "emit-except.1.bin",
            "e-except",
            r#"["x"]"#,
            &[],
            &["room1"],
            false,
        ),
        (
            "emit-volatile.1.bin",
            "e-volatile",
            r#"["v"]"#,
            &[],
            &[],
            true,
        ),
    ];
    for (file, event, args, to, except, volatile) in cases {
        let (from, got) = message(decode(&fixture("emitter", file), "me", &All));
        assert_eq!(from, "emitter", "{file}");
        assert_eq!(
            got,
            Incoming::Broadcast {
                nsp: "/".into(),
                event: event.into(),
                args: payload(args, &[]),
                opts: BroadcastOptions {
                    rooms: rooms(to),
                    except: rooms(except),
                    flags: BroadcastFlags {
                        local: false,
                        volatile
                    },
                },
                ack: None,
            },
            "{file}"
        );
    }
    let (_, _, args, _) = broadcast(decode(&fixture("emitter", "emit-binary.1.bin"), "me", &All));
    assert_eq!(
        args.binary(),
        [Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[4])]
    );
    let (nsp, _, _, _) = broadcast(decode(
        &fixture("emitter", "emit-namespace.1.bin"),
        "me",
        &All,
    ));
    assert_eq!(nsp, "/admin");
}

#[test]
fn our_requests_read_as_node_s_own() {
    let opts = BroadcastOptions::to(rooms(&["room1"]));
    let replace = |mut v: serde_json::Value, fields: &[(&str, &str)]| {
        for (k, x) in fields {
            v[*k] = (*x).into();
        }
        v
    };

    let out = only(node().encode(
        "me",
        &Outgoing::AddSockets {
            nsp: "/",
            opts: &opts,
            rooms: &rooms(&["room3", "room4"]),
        },
    ));
    assert_eq!(out.channel, "socket.io-request#/#");
    let want = replace(
        fixture("adapter", "sockets-join.1.bin").decoded,
        &[("uid", "me")],
    );
    assert_eq!(as_node_reads_it(&out.payload), want);

    let out = only(node().encode(
        "me",
        &Outgoing::DelSockets {
            nsp: "/",
            opts: &opts,
            rooms: &rooms(&["room3"]),
        },
    ));
    let want = replace(
        fixture("adapter", "sockets-leave.1.bin").decoded,
        &[("uid", "me")],
    );
    assert_eq!(as_node_reads_it(&out.payload), want);

    let doomed = BroadcastOptions::to(rooms(&["doomed"]));
    let out = only(node().encode(
        "me",
        &Outgoing::Disconnect {
            nsp: "/",
            opts: &doomed,
            close: true,
        },
    ));
    let want = replace(
        fixture("adapter", "disconnect-sockets.1.bin").decoded,
        &[("uid", "me")],
    );
    assert_eq!(as_node_reads_it(&out.payload), want);

    let out = only(node().encode(
        "me",
        &Outgoing::FetchSockets {
            nsp: "/",
            request: "rq1",
            opts: &opts,
        },
    ));
    let want = replace(
        fixture("adapter", "fetch-sockets.1.bin").decoded,
        &[("uid", "me"), ("requestId", "rq1")],
    );
    assert_eq!(as_node_reads_it(&out.payload), want);

    let out = only(node().encode(
        "me",
        &Outgoing::AllRooms {
            nsp: "/",
            request: "rq2",
        },
    ));
    let want = replace(
        fixture("adapter", "all-rooms.1.bin").decoded,
        &[("uid", "me"), ("requestId", "rq2")],
    );
    assert_eq!(as_node_reads_it(&out.payload), want);

    // An answer to node's rooms query, on the requester's own response channel.
    let out = only(node().encode(
        "me",
        &Outgoing::Rooms {
            to: "XWTneB",
            nsp: "/",
            request: "IWbkqI",
            rooms: &rooms(&["a"]),
        },
    ));
    assert_eq!(out.channel, "socket.io-response#/#XWTneB#");
    assert_eq!(
        as_node_reads_it(&out.payload),
        serde_json::json!({"requestId": "IWbkqI", "rooms": ["a"]})
    );
}
