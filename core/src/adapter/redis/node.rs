//! node socket.io's Redis adapter format (`@socket.io/redis-adapter` 8.x, and
//! `@socket.io/redis-emitter` 5.x for what emitters publish).
//!
//! Facts taken from the adapter's source (`dist/index.js` of 8.3):
//! - Channels, with key `k` (default `socket.io`) and namespace `n`: broadcasts on
//!   `k#n#`, or on `k#n#room#` when they target exactly one room; requests on
//!   `k-request#n#`; responses on `k-response#n#` (or `k-response#n#uid#`). node
//!   servers `PSUBSCRIBE k#n#*`; this server `SUBSCRIBE`s the plain channels instead:
//!   `k#n#` and the channel of each room that has a local member (and of each local
//!   socket's id room), so Redis filters one-room broadcasts for it.
//! - A broadcast is msgpack `[uid, packet, opts]`: `packet` `{type: 2, data: [event,
//!   ...args], nsp}` with binary as msgpack `bin`, `opts` `{rooms, except, flags}`.
//! - Requests are JSON objects (msgpack when they carry a packet) with `uid`, `type`
//!   and `requestId`: 0 sockets, 1 all rooms, 2 remote join, 3 remote leave, 4 remote
//!   disconnect, 5 remote fetch, 6 server-side emit, 7 broadcast with acks. Responses
//!   carry `requestId` and `sockets`, `rooms`, or (types 8 and 9) `clientCount` and
//!   `packet` (the ack's arguments).
//! - The server count is the subscriber count of `k-request#n#`.

use std::sync::Arc;

use bytes::Bytes;
use std::fmt;

use rmpv::{Value, ValueRef};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::format::{AckRequest, Decoded, Incoming, Outgoing, Publish, RoomFilter, WireFormat};
use crate::adapter::{BroadcastFlags, BroadcastOptions, Room, SocketInfo};
use crate::protocol::Payload;

const SOCKETS: i64 = 0;
const ALL_ROOMS: i64 = 1;
const REMOTE_JOIN: i64 = 2;
const REMOTE_LEAVE: i64 = 3;
const REMOTE_DISCONNECT: i64 = 4;
const REMOTE_FETCH: i64 = 5;
const SERVER_SIDE_EMIT: i64 = 6;
const BROADCAST: i64 = 7;
const BROADCAST_CLIENT_COUNT: i64 = 8;
const BROADCAST_ACK: i64 = 9;

/// The Socket.IO EVENT packet type.
const EVENT: i64 = 2;

/// node socket.io's format with key prefix `key`.
#[derive(Debug, Clone)]
pub(crate) struct NodeSocketIo {
    /// `k#`, `k-request#`, `k-response#`: what a received channel name is matched
    /// against, made once rather than per message.
    broadcast_prefix: String,
    request_prefix: String,
    response_prefix: String,
}

impl NodeSocketIo {
    pub(crate) fn new(key: &str) -> Self {
        Self {
            broadcast_prefix: format!("{key}#"),
            request_prefix: format!("{key}-request#"),
            response_prefix: format!("{key}-response#"),
        }
    }

    fn broadcast_channel(&self, nsp: &str) -> String {
        format!("{}{nsp}#", self.broadcast_prefix)
    }

    fn request_channel(&self, nsp: &str) -> String {
        format!("{}{nsp}#", self.request_prefix)
    }

    fn response_channel(&self, nsp: &str) -> String {
        format!("{}{nsp}#", self.response_prefix)
    }
}

fn text(s: &str) -> Value {
    Value::String(s.into())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())
}

fn strings(items: &[Room]) -> Value {
    Value::Array(items.iter().map(|r| text(r)).collect())
}

fn opts_value(opts: &BroadcastOptions, with_flags: bool) -> Value {
    let mut entries = vec![
        ("rooms", strings(&opts.rooms)),
        ("except", strings(&opts.except)),
    ];
    if with_flags {
        let mut flags = Vec::new();
        if opts.flags.volatile {
            flags.push(("volatile", Value::Boolean(true)));
        }
        entries.push(("flags", map(flags)));
    }
    map(entries)
}

fn json_to_msgpack(value: &serde_json::Value, binary: &[Bytes]) -> Value {
    match value {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => text(s),
        serde_json::Value::Array(items) => {
            Value::Array(items.iter().map(|v| json_to_msgpack(v, binary)).collect())
        }
        serde_json::Value::Object(object) => {
            if object.get("_placeholder") == Some(&serde_json::Value::Bool(true)) {
                if let Some(bytes) = object
                    .get("num")
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|n| binary.get(usize::try_from(n).ok()?))
                {
                    return Value::Binary(bytes.to_vec());
                }
            }
            Value::Map(
                object
                    .iter()
                    .map(|(k, v)| (text(k), json_to_msgpack(v, binary)))
                    .collect(),
            )
        }
    }
}

/// Reads JSON into a msgpack value in document order, a placeholder of `binary` becoming
/// the attachment's bytes as `bin`.
#[derive(Clone, Copy)]
struct ToMsgpack<'b> {
    binary: &'b [Bytes],
}

impl<'de> DeserializeSeed<'de> for ToMsgpack<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ToMsgpack<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::F64(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            entries.push((Value::from(key), value));
        }
        if let Some(bytes) = self.placeholder(&entries) {
            return Ok(Value::Binary(bytes.to_vec()));
        }
        Ok(Value::Map(entries))
    }
}

impl ToMsgpack<'_> {
    /// The attachment `entries` stands for, when it is exactly a placeholder.
    fn placeholder(&self, entries: &[(Value, Value)]) -> Option<&Bytes> {
        if self.binary.is_empty() || entries.len() != 2 {
            return None;
        }
        let mut is_placeholder = false;
        let mut num = None;
        for (key, value) in entries {
            match key.as_str() {
                Some("_placeholder") => is_placeholder = value.as_bool() == Some(true),
                Some("num") => num = value.as_u64(),
                _ => return None,
            }
        }
        let num = usize::try_from(num?).ok()?;
        is_placeholder.then(|| self.binary.get(num)).flatten()
    }
}

/// The packet's `data` array: `[event, ...args]` (or the ack's arguments alone), keys
/// in the order the arguments have them.
fn data_value(event: Option<&str>, args: &Payload) -> Option<Value> {
    use serde::de::DeserializeSeed as _;
    let mut deserializer = serde_json::Deserializer::from_str(args.json());
    let Value::Array(mut data) = (ToMsgpack {
        binary: args.binary(),
    })
    .deserialize(&mut deserializer)
    .ok()?
    else {
        return None;
    };
    if let Some(event) = event {
        data.insert(0, text(event));
    }
    Some(Value::Array(data))
}

fn encode_msgpack(value: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).ok()?;
    Some(out)
}

/// Builds JSON text (with binary placeholders) and attachments from msgpack values.
struct ToJson {
    json: String,
    binary: Vec<Bytes>,
}

impl ToJson {
    fn value(&mut self, value: &ValueRef<'_>) -> Result<(), String> {
        use std::fmt::Write as _;
        match value {
            ValueRef::Nil => self.json.push_str("null"),
            ValueRef::Boolean(b) => self.json.push_str(if *b { "true" } else { "false" }),
            ValueRef::Integer(i) => {
                let _ = write!(self.json, "{i}");
            }
            ValueRef::F32(f) => self.float(f64::from(*f)),
            ValueRef::F64(f) => self.float(*f),
            ValueRef::String(s) => {
                let s = s.as_str().ok_or("a string that is not UTF-8")?;
                self.json
                    .push_str(&serde_json::to_string(s).map_err(|e| e.to_string())?);
            }
            ValueRef::Binary(bytes) => {
                let _ = write!(
                    self.json,
                    r#"{{"_placeholder":true,"num":{}}}"#,
                    self.binary.len()
                );
                self.binary.push(Bytes::copy_from_slice(bytes));
            }
            ValueRef::Array(items) => {
                self.json.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.json.push(',');
                    }
                    self.value(item)?;
                }
                self.json.push(']');
            }
            ValueRef::Map(entries) => {
                self.json.push('{');
                for (i, (key, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.json.push(',');
                    }
                    let key = match key {
                        ValueRef::String(s) => {
                            s.as_str().ok_or("a key that is not UTF-8")?.to_owned()
                        }
                        ValueRef::Integer(n) => n.to_string(),
                        _ => return Err("a map key that is not a string".to_owned()),
                    };
                    self.json
                        .push_str(&serde_json::to_string(&key).map_err(|e| e.to_string())?);
                    self.json.push(':');
                    self.value(item)?;
                }
                self.json.push('}');
            }
            // Extension types (node's Date, say) have no JSON form.
            ValueRef::Ext(..) => self.json.push_str("null"),
        }
        Ok(())
    }

    fn float(&mut self, f: f64) {
        if f.is_finite() {
            self.json.push_str(
                &serde_json::Number::from_f64(f).map_or("null".to_owned(), |n| n.to_string()),
            );
        } else {
            self.json.push_str("null");
        }
    }
}

/// `[event, ...args]` into the event name and its arguments.
fn event_of(data: &ValueRef<'_>) -> Result<(String, Payload), String> {
    let ValueRef::Array(items) = data else {
        return Err("packet data is not an array".to_owned());
    };
    let Some((ValueRef::String(event), args)) = items.split_first() else {
        return Err("packet data does not start with an event name".to_owned());
    };
    let event = event
        .as_str()
        .ok_or("an event name that is not UTF-8")?
        .to_owned();
    Ok((event, args_of(args)?))
}

fn args_of(args: &[ValueRef<'_>]) -> Result<Payload, String> {
    let mut out = ToJson {
        json: String::from("["),
        binary: Vec::new(),
    };
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.json.push(',');
        }
        out.value(arg)?;
    }
    out.json.push(']');
    Payload::from_json(out.json, out.binary).map_err(|e| e.to_string())
}

fn get<'v, 'a>(entries: &'v [(ValueRef<'a>, ValueRef<'a>)], key: &str) -> Option<&'v ValueRef<'a>> {
    entries
        .iter()
        .find(|(k, _)| matches!(k, ValueRef::String(s) if s.as_str() == Some(key)))
        .map(|(_, v)| v)
}

fn str_of(value: Option<&ValueRef<'_>>) -> Option<String> {
    match value? {
        ValueRef::String(s) => s.as_str().map(str::to_owned),
        ValueRef::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

fn rooms_of(value: Option<&ValueRef<'_>>) -> Vec<Room> {
    match value {
        Some(ValueRef::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                ValueRef::String(s) => s.as_str().map(Room::from),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn options_of(value: Option<&ValueRef<'_>>) -> BroadcastOptions {
    let Some(ValueRef::Map(entries)) = value else {
        return BroadcastOptions::default();
    };
    let volatile = match get(entries, "flags") {
        Some(ValueRef::Map(flags)) => {
            matches!(get(flags, "volatile"), Some(ValueRef::Boolean(true)))
        }
        _ => false,
    };
    BroadcastOptions {
        rooms: rooms_of(get(entries, "rooms")),
        except: rooms_of(get(entries, "except")),
        flags: BroadcastFlags {
            local: false,
            volatile,
        },
    }
}

/// A request or response, JSON or msgpack, as a msgpack value.
fn object_of(payload: &[u8]) -> Result<Value, String> {
    if payload.first() == Some(&b'{') {
        let json: serde_json::Value =
            serde_json::from_slice(payload).map_err(|e| format!("invalid JSON: {e}"))?;
        Ok(json_to_msgpack(&json, &[]))
    } else {
        let mut rd = payload;
        rmpv::decode::read_value(&mut rd).map_err(|e| format!("invalid msgpack: {e}"))
    }
}

impl NodeSocketIo {
    fn request(&self, nsp: &str, entries: Vec<(&str, Value)>) -> Vec<Publish> {
        self.publish(self.request_channel(nsp), &map(entries))
    }

    fn response(&self, nsp: &str, to: &str, entries: Vec<(&str, Value)>) -> Vec<Publish> {
        // The origin's own response channel: only it receives the answer.
        self.publish(
            format!("{}{to}#", self.response_channel(nsp)),
            &map(entries),
        )
    }

    fn publish(&self, channel: String, value: &Value) -> Vec<Publish> {
        encode_msgpack(value)
            .map(|payload| Publish { channel, payload })
            .into_iter()
            .collect()
    }

    fn decode_broadcast(&self, uid: &str, payload: &[u8], filter: &dyn RoomFilter) -> Decoded {
        let mut rd = payload;
        let value = match rmpv::decode::read_value_ref(&mut rd) {
            Ok(value) => value,
            Err(error) => return Decoded::Invalid(format!("invalid msgpack: {error}")),
        };
        let ValueRef::Array(items) = value else {
            return Decoded::Invalid("a broadcast that is not [uid, packet, opts]".to_owned());
        };
        let [from, packet, opts, ..] = items.as_slice() else {
            return Decoded::Invalid("a broadcast that is not [uid, packet, opts]".to_owned());
        };
        let from = str_of(Some(from)).unwrap_or_default();
        if from == uid {
            return Decoded::NotForUs;
        }
        let ValueRef::Map(packet) = packet else {
            return Decoded::Invalid("a broadcast packet that is not a map".to_owned());
        };
        let nsp = str_of(get(packet, "nsp")).unwrap_or_else(|| "/".to_owned());
        let opts = options_of(Some(opts));
        // The options are read; only now the packet's payload is converted.
        if !filter.may_reach(&nsp, &opts.rooms) {
            return Decoded::Filtered;
        }
        match get(packet, "type") {
            Some(ValueRef::Integer(t)) if matches!(t.as_i64(), Some(2 | 5)) => {}
            _ => return Decoded::Ignored("a broadcast packet that is not an event"),
        }
        let Some(data) = get(packet, "data") else {
            return Decoded::Invalid("a broadcast packet without data".to_owned());
        };
        match event_of(data) {
            Ok((event, args)) => Decoded::Message {
                from,
                message: Incoming::Broadcast {
                    nsp,
                    event,
                    args,
                    opts,
                    ack: None,
                },
            },
            Err(error) => Decoded::Invalid(error),
        }
    }

    fn decode_request(&self, uid: &str, nsp: &str, payload: &[u8]) -> Decoded {
        let value = match object_of(payload) {
            Ok(value) => value,
            Err(error) => return Decoded::Invalid(error),
        };
        let as_ref = value.as_ref();
        let ValueRef::Map(entries) = &as_ref else {
            return Decoded::Invalid("a request that is not an object".to_owned());
        };
        let from = str_of(get(entries, "uid")).unwrap_or_default();
        if from == uid {
            return Decoded::NotForUs;
        }
        let nsp = nsp.to_owned();
        let request = str_of(get(entries, "requestId")).unwrap_or_default();
        let opts = options_of(get(entries, "opts"));
        let kind = match get(entries, "type") {
            Some(ValueRef::Integer(t)) => t.as_i64().unwrap_or(-1),
            _ => return Decoded::Invalid("a request without a type".to_owned()),
        };
        let message = match kind {
            ALL_ROOMS => Incoming::AllRooms { nsp, request },
            REMOTE_JOIN => Incoming::AddSockets {
                nsp,
                opts,
                rooms: rooms_of(get(entries, "rooms")),
            },
            REMOTE_LEAVE => Incoming::DelSockets {
                nsp,
                opts,
                rooms: rooms_of(get(entries, "rooms")),
            },
            REMOTE_DISCONNECT => Incoming::Disconnect {
                nsp,
                opts,
                close: matches!(get(entries, "close"), Some(ValueRef::Boolean(true))),
            },
            REMOTE_FETCH => Incoming::FetchSockets { nsp, request, opts },
            BROADCAST => {
                let Some(ValueRef::Map(packet)) = get(entries, "packet") else {
                    return Decoded::Invalid("a broadcast request without a packet".to_owned());
                };
                let nsp = str_of(get(packet, "nsp")).unwrap_or(nsp);
                // Not filtered: the origin waits for every server's count, 0 included.
                let Some(data) = get(packet, "data") else {
                    return Decoded::Invalid("a broadcast request without data".to_owned());
                };
                match event_of(data) {
                    Ok((event, args)) => Incoming::Broadcast {
                        nsp,
                        event,
                        args,
                        opts,
                        ack: Some(AckRequest {
                            id: request,
                            reply_as: None,
                        }),
                    },
                    Err(error) => return Decoded::Invalid(error),
                }
            }
            SOCKETS => return Decoded::Ignored("allSockets (socket.io 2 API) request"),
            SERVER_SIDE_EMIT => return Decoded::Ignored("serverSideEmit"),
            _ => return Decoded::Ignored("unknown socket.io request type"),
        };
        Decoded::Message { from, message }
    }

    fn decode_response(&self, payload: &[u8]) -> Decoded {
        let value = match object_of(payload) {
            Ok(value) => value,
            Err(error) => return Decoded::Invalid(error),
        };
        let as_ref = value.as_ref();
        let ValueRef::Map(entries) = &as_ref else {
            return Decoded::Invalid("a response that is not an object".to_owned());
        };
        let Some(request) = str_of(get(entries, "requestId")) else {
            return Decoded::Invalid("a response without a requestId".to_owned());
        };
        let kind = match get(entries, "type") {
            Some(ValueRef::Integer(t)) => t.as_i64(),
            _ => None,
        };
        let message = if let Some(ValueRef::Integer(count)) = get(entries, "clientCount") {
            let _ = kind == Some(BROADCAST_CLIENT_COUNT);
            Incoming::AckCount {
                request,
                count: count
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(0),
            }
        } else if kind == Some(BROADCAST_ACK) {
            let args = match get(entries, "packet") {
                Some(other) => args_of(std::slice::from_ref(other)),
                None => Ok(Payload::empty()),
            };
            match args {
                Ok(args) => Incoming::Ack {
                    request,
                    sid: Arc::from(""),
                    args,
                },
                Err(error) => return Decoded::Invalid(error),
            }
        } else if let Some(ValueRef::Array(sockets)) = get(entries, "sockets") {
            let sockets = sockets
                .iter()
                .filter_map(|socket| match socket {
                    ValueRef::Map(fields) => Some(SocketInfo {
                        id: Arc::from(str_of(get(fields, "id"))?),
                        rooms: rooms_of(get(fields, "rooms")),
                        local: false,
                    }),
                    // allSockets answers with bare ids.
                    ValueRef::String(id) => Some(SocketInfo {
                        id: Arc::from(id.as_str()?),
                        rooms: Vec::new(),
                        local: false,
                    }),
                    _ => None,
                })
                .collect();
            Incoming::Sockets { request, sockets }
        } else if let Some(rooms) = get(entries, "rooms") {
            Incoming::Rooms {
                request,
                rooms: rooms_of(Some(rooms)),
            }
        } else {
            return Decoded::Ignored("a response this server did not ask for");
        };
        Decoded::Message {
            from: String::new(),
            message,
        }
    }
}

impl WireFormat for NodeSocketIo {
    fn name(&self) -> &'static str {
        "socket.io"
    }

    fn fleet_channels(&self, _uid: &str) -> Vec<String> {
        Vec::new()
    }

    fn namespace_channels(&self, nsp: &str, uid: &str) -> Vec<String> {
        vec![
            self.broadcast_channel(nsp),
            self.request_channel(nsp),
            self.response_channel(nsp),
            format!("{}{uid}#", self.response_channel(nsp)),
        ]
    }

    fn room_channel(&self, nsp: &str, room: &str) -> Option<String> {
        Some(format!("{}{nsp}#{room}#", self.broadcast_prefix))
    }

    fn counts_acks(&self) -> bool {
        true
    }

    fn server_count_channel(&self, nsp: &str) -> String {
        self.request_channel(nsp)
    }

    fn encode(&self, uid: &str, message: &Outgoing<'_>) -> Vec<Publish> {
        match *message {
            Outgoing::Broadcast {
                nsp,
                packet,
                opts,
                ack,
            } => {
                let Some(data) = data_value(Some(packet.event), packet.args) else {
                    return Vec::new();
                };
                let packet = map(vec![
                    ("type", Value::from(EVENT)),
                    ("data", data),
                    ("nsp", text(nsp)),
                ]);
                match ack {
                    None => {
                        let channel = match opts.rooms.as_slice() {
                            [room] => format!("{}{room}#", self.broadcast_channel(nsp)),
                            _ => self.broadcast_channel(nsp),
                        };
                        let value = Value::Array(vec![text(uid), packet, opts_value(opts, true)]);
                        self.publish(channel, &value)
                    }
                    Some(id) => self.request(
                        nsp,
                        vec![
                            ("uid", text(uid)),
                            ("requestId", text(id)),
                            ("type", Value::from(BROADCAST)),
                            ("packet", packet),
                            ("opts", opts_value(opts, true)),
                        ],
                    ),
                }
            }
            Outgoing::AddSockets { nsp, opts, rooms }
            | Outgoing::DelSockets { nsp, opts, rooms } => {
                let kind = if matches!(message, Outgoing::AddSockets { .. }) {
                    REMOTE_JOIN
                } else {
                    REMOTE_LEAVE
                };
                self.request(
                    nsp,
                    vec![
                        ("uid", text(uid)),
                        ("type", Value::from(kind)),
                        ("opts", opts_value(opts, false)),
                        ("rooms", strings(rooms)),
                    ],
                )
            }
            Outgoing::CloseRoom { nsp, room } => {
                let rooms = [Arc::clone(room)];
                self.request(
                    nsp,
                    vec![
                        ("uid", text(uid)),
                        ("type", Value::from(REMOTE_LEAVE)),
                        (
                            "opts",
                            opts_value(&BroadcastOptions::to(rooms.to_vec()), false),
                        ),
                        ("rooms", strings(&rooms)),
                    ],
                )
            }
            Outgoing::Disconnect { nsp, opts, close } => self.request(
                nsp,
                vec![
                    ("uid", text(uid)),
                    ("type", Value::from(REMOTE_DISCONNECT)),
                    ("opts", opts_value(opts, false)),
                    ("close", Value::Boolean(close)),
                ],
            ),
            Outgoing::AckCount {
                to,
                nsp,
                request,
                count,
            } => self.response(
                nsp,
                to,
                vec![
                    ("type", Value::from(BROADCAST_CLIENT_COUNT)),
                    ("requestId", text(request)),
                    ("clientCount", Value::from(count as u64)),
                ],
            ),
            Outgoing::Ack {
                to,
                nsp,
                request,
                args,
                ..
            } => {
                // node carries one value per acknowledgement: its first argument.
                let Some(Value::Array(data)) = data_value(None, args) else {
                    return Vec::new();
                };
                let mut entries = vec![
                    ("type", Value::from(BROADCAST_ACK)),
                    ("requestId", text(request)),
                ];
                if let Some(first) = data.into_iter().next() {
                    entries.push(("packet", first));
                }
                self.response(nsp, to, entries)
            }
            Outgoing::FetchSockets { nsp, request, opts } => self.request(
                nsp,
                vec![
                    ("uid", text(uid)),
                    ("requestId", text(request)),
                    ("type", Value::from(REMOTE_FETCH)),
                    ("opts", opts_value(opts, false)),
                ],
            ),
            Outgoing::Sockets {
                to,
                nsp,
                request,
                sockets,
            } => {
                let sockets = sockets
                    .iter()
                    .map(|socket| {
                        map(vec![
                            ("id", text(&socket.id)),
                            // What node's RemoteSocket reads; the handshake itself
                            // stays on the server that holds the socket.
                            (
                                "handshake",
                                map(vec![
                                    ("headers", map(vec![])),
                                    ("query", map(vec![])),
                                    ("auth", map(vec![])),
                                ]),
                            ),
                            ("rooms", strings(&socket.rooms)),
                            ("data", map(vec![])),
                        ])
                    })
                    .collect();
                self.response(
                    nsp,
                    to,
                    vec![
                        ("requestId", text(request)),
                        ("sockets", Value::Array(sockets)),
                    ],
                )
            }
            Outgoing::AllRooms { nsp, request } => self.request(
                nsp,
                vec![
                    ("uid", text(uid)),
                    ("requestId", text(request)),
                    ("type", Value::from(ALL_ROOMS)),
                ],
            ),
            Outgoing::Rooms {
                to,
                nsp,
                request,
                rooms,
            } => self.response(
                nsp,
                to,
                vec![("requestId", text(request)), ("rooms", strings(rooms))],
            ),
        }
    }

    fn decode(
        &self,
        uid: &str,
        channel: &[u8],
        payload: &[u8],
        filter: &dyn RoomFilter,
    ) -> Decoded {
        let Ok(channel) = std::str::from_utf8(channel) else {
            return Decoded::Invalid("a channel name that is not UTF-8".to_owned());
        };
        if let Some(rest) = channel.strip_prefix(&self.request_prefix) {
            let nsp = rest.strip_suffix('#').unwrap_or(rest);
            return self.decode_request(uid, nsp, payload);
        }
        if channel.starts_with(&self.response_prefix) {
            return self.decode_response(payload);
        }
        if let Some(rest) = channel.strip_prefix(&self.broadcast_prefix) {
            // A room channel names its room: filtered before the payload is read.
            if let Some((nsp, tail)) = rest.split_once('#') {
                if let Some(room) = tail.strip_suffix('#').filter(|r| !r.is_empty()) {
                    if !filter.may_reach(nsp, &[Room::from(room)]) {
                        return Decoded::Filtered;
                    }
                }
            }
            return self.decode_broadcast(uid, payload, filter);
        }
        Decoded::Ignored("a channel of another key")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::adapter::BroadcastPacket;

    use crate::adapter::redis::format::tests::All;

    #[test]
    fn a_broadcast_round_trips_with_binary_on_the_room_channel() {
        let format = NodeSocketIo::new("socket.io");
        let args = Payload::from_json(
            r#"[{"a":[1,2.5,null,"x"]},{"_placeholder":true,"num":0}]"#,
            vec![Bytes::from_static(b"\x01\x02")],
        )
        .unwrap();
        let opts = BroadcastOptions {
            rooms: vec![Room::from("r")],
            except: vec![Room::from("s")],
            flags: BroadcastFlags {
                local: false,
                volatile: true,
            },
        };
        let out = format.encode(
            "me",
            &Outgoing::Broadcast {
                nsp: "/",
                packet: BroadcastPacket {
                    event: "ev",
                    args: &args,
                },
                opts: &opts,
                ack: None,
            },
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].channel, "socket.io#/#r#");
        assert_eq!(
            format.decode("me", out[0].channel.as_bytes(), &out[0].payload, &All),
            Decoded::NotForUs
        );
        assert_eq!(
            format.decode("other", out[0].channel.as_bytes(), &out[0].payload, &All),
            Decoded::Message {
                from: "me".to_owned(),
                message: Incoming::Broadcast {
                    nsp: "/".to_owned(),
                    event: "ev".to_owned(),
                    args,
                    opts,
                    ack: None,
                }
            }
        );
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let format = NodeSocketIo::new("socket.io");
        let opts = BroadcastOptions::to(vec![Room::from("r")]);
        let rooms = [Room::from("x")];
        let join = format.encode(
            "me",
            &Outgoing::AddSockets {
                nsp: "/",
                opts: &opts,
                rooms: &rooms,
            },
        );
        assert_eq!(join[0].channel, "socket.io-request#/#");
        assert_eq!(
            format.decode("other", join[0].channel.as_bytes(), &join[0].payload, &All),
            Decoded::Message {
                from: "me".to_owned(),
                message: Incoming::AddSockets {
                    nsp: "/".to_owned(),
                    opts: opts.clone(),
                    rooms: rooms.to_vec()
                }
            }
        );
        // node sends its simple requests as JSON.
        let json = br#"{"uid":"n1","type":4,"opts":{"rooms":["r"],"except":[]},"close":true}"#;
        assert_eq!(
            format.decode("me", b"socket.io-request#/#", json, &All),
            Decoded::Message {
                from: "n1".to_owned(),
                message: Incoming::Disconnect {
                    nsp: "/".to_owned(),
                    opts: opts.clone(),
                    close: true
                }
            }
        );
        let args = Payload::one(&"ok").unwrap();
        let ack = format.encode(
            "me",
            &Outgoing::Ack {
                to: "n1",
                nsp: "/",
                request: "abc",
                sid: "s",
                reply_as: None,
                args: &args,
            },
        );
        assert_eq!(ack[0].channel, "socket.io-response#/#n1#");
        assert_eq!(
            format.decode("n1", ack[0].channel.as_bytes(), &ack[0].payload, &All),
            Decoded::Message {
                from: String::new(),
                message: Incoming::Ack {
                    request: "abc".to_owned(),
                    sid: Arc::from(""),
                    args
                }
            }
        );
        assert!(matches!(
            format.decode("me", b"socket.io#/#", b"\xc1", &All),
            Decoded::Invalid(_)
        ));
    }
}
