//! python-socketio's Redis pub/sub format (python-socketio >= 5.15.1, Flask-SocketIO 5.x):
//! one JSON object per message on one channel (`socketio` by default, `flask-socketio`
//! for Flask-SocketIO), every server subscribed to it.
//!
//! Facts taken from python-socketio 5.18's `pubsub_manager.py`:
//! - `{"method": "emit", "event", "data", "binary", "namespace", "room", "skip_sid",
//!   "callback", "host_id"}`. `data` is the arguments array; with `binary`, it is
//!   `[arguments with placeholders, base64 attachment, ...]`. `room` and `skip_sid` are
//!   a string, a list, or null. `callback` is `[room, namespace, id]` or null.
//! - `{"method": "callback", "host_id": <origin>, "sid", "namespace", "id", "args"}`:
//!   an acknowledgement, for the server whose `host_id` it names. `sid` repeats the
//!   `room` of the callback triple, under which the origin filed the callback.
//! - `disconnect` (`sid`, `namespace`), `enter_room` / `leave_room` (`sid`, `room`,
//!   `namespace`), `close_room` (`room`, `namespace`), each with `host_id`.
//! - A server ignores what carries its own `host_id` (callbacks aside).
//! - Before 5.14 messages were pickled; such a message (first byte 0x80) is reported as
//!   [`Decoded::Pickle`] and never unpickled (CVE-2025-61765).
//!
//! The format has no queries (fleet sockets, rooms) and no way to count an emit's
//! remote recipients; single-socket operations only for join / leave / disconnect.

use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::format::{AckRequest, Decoded, Incoming, Outgoing, Publish, RoomFilter, WireFormat};
use crate::adapter::{BroadcastOptions, Room};
use crate::protocol::Payload;

/// python-socketio's format on `channel`.
#[derive(Debug, Clone)]
pub(crate) struct PythonSocketIo {
    channel: String,
}

impl PythonSocketIo {
    pub(crate) fn new(channel: &str) -> Self {
        Self {
            channel: channel.to_owned(),
        }
    }
}

/// A string, a list of strings, or absent / null.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn of(rooms: &[Room]) -> Option<Self> {
        match rooms {
            [] => None,
            [one] => Some(Self::One(one.to_string())),
            many => Some(Self::Many(many.iter().map(|r| r.to_string()).collect())),
        }
    }

    fn into_rooms(self) -> Vec<Room> {
        match self {
            Self::One(one) => vec![Room::from(one)],
            Self::Many(many) => many.into_iter().map(Room::from).collect(),
        }
    }
}

#[derive(Serialize)]
struct EmitOut<'a> {
    method: &'static str,
    event: &'a str,
    data: &'a RawValue,
    binary: bool,
    namespace: &'a str,
    room: Option<OneOrMany>,
    skip_sid: Option<OneOrMany>,
    callback: Option<(Option<&'a str>, &'a str, serde_json::Value)>,
    host_id: &'a str,
}

#[derive(Serialize)]
struct CallbackOut<'a> {
    method: &'static str,
    host_id: &'a str,
    sid: &'a str,
    namespace: &'a str,
    id: serde_json::Value,
    args: &'a RawValue,
}

#[derive(Serialize)]
struct SidOut<'a> {
    method: &'static str,
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    namespace: &'a str,
    host_id: &'a str,
}

#[derive(Serialize)]
struct CloseRoomOut<'a> {
    method: &'static str,
    room: &'a str,
    namespace: &'a str,
    host_id: &'a str,
}

/// Every field any method has; the payload (`data`, `args`) stays raw until needed.
#[derive(Deserialize)]
struct In<'a> {
    method: String,
    #[serde(default)]
    host_id: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    binary: Option<bool>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    room: Option<OneOrMany>,
    #[serde(default)]
    skip_sid: Option<OneOrMany>,
    #[serde(default)]
    callback: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    sid: Option<serde_json::Value>,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default, borrow)]
    args: Option<&'a RawValue>,
}

fn raw(json: &str) -> Option<&RawValue> {
    serde_json::from_str::<&RawValue>(json).ok()
}

/// The `data` of an emit for `args`: the arguments array, or with attachments
/// `[arguments, base64, ...]`.
fn data_of(args: &Payload) -> (String, bool) {
    if args.binary().is_empty() {
        return (args.json().to_owned(), false);
    }
    let mut data = String::with_capacity(args.json().len() + 2);
    data.push('[');
    data.push_str(args.json());
    for attachment in args.binary() {
        data.push(',');
        let encoded = base64::engine::general_purpose::STANDARD.encode(attachment);
        // Base64 needs no JSON escaping.
        data.push('"');
        data.push_str(&encoded);
        data.push('"');
    }
    data.push(']');
    (data, true)
}

/// The arguments of an emit's `data`.
fn args_of(data: &RawValue, binary: bool) -> Result<Payload, String> {
    if !binary {
        let text = data.get();
        return if text.trim_start().starts_with('[') {
            Payload::from_json(text, Vec::new()).map_err(|e| e.to_string())
        } else {
            // One bare value (an emitter in another language, say): one argument.
            Payload::from_json(format!("[{text}]"), Vec::new()).map_err(|e| e.to_string())
        };
    }
    let parts: Vec<&RawValue> = serde_json::from_str(data.get()).map_err(|e| e.to_string())?;
    let (args, attachments) = parts
        .split_first()
        .ok_or_else(|| "binary data without arguments".to_owned())?;
    let mut binary = Vec::with_capacity(attachments.len());
    for attachment in attachments {
        let text: String = serde_json::from_str(attachment.get()).map_err(|e| e.to_string())?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("attachment: {e}"))?;
        binary.push(bytes::Bytes::from(bytes));
    }
    Payload::from_json(args.get(), binary).map_err(|e| e.to_string())
}

/// A request id as python-socketio writes it: a number when it is one.
fn id_value(id: &str) -> serde_json::Value {
    match id.parse::<u64>() {
        Ok(n) => serde_json::Value::from(n),
        Err(_) => serde_json::Value::from(id),
    }
}

fn text_of(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl PythonSocketIo {
    fn publish(&self, body: &impl Serialize) -> Vec<Publish> {
        match serde_json::to_vec(body) {
            Ok(payload) => vec![Publish {
                channel: self.channel.clone(),
                payload,
            }],
            Err(error) => {
                tracing::warn!(%error, "a message could not be encoded for python-socketio");
                Vec::new()
            }
        }
    }

    /// One `method` message per (target sid, room): python-socketio's room operations
    /// name one socket. Targets are the options' rooms (socket ids); a whole-namespace
    /// or excluding selection cannot be carried.
    fn per_sid(
        &self,
        method: &'static str,
        uid: &str,
        nsp: &str,
        opts: &BroadcastOptions,
        rooms: &[Room],
    ) -> Vec<Publish> {
        if opts.rooms.is_empty() || !opts.except.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for sid in &opts.rooms {
            for room in rooms {
                out.extend(self.publish(&SidOut {
                    method,
                    sid: sid.as_ref(),
                    room: Some(room.as_ref()),
                    namespace: nsp,
                    host_id: uid,
                }));
            }
        }
        out
    }
}

impl WireFormat for PythonSocketIo {
    fn name(&self) -> &'static str {
        "python-socketio"
    }

    fn fleet_channels(&self, _uid: &str) -> Vec<String> {
        vec![self.channel.clone()]
    }

    fn namespace_channels(&self, _nsp: &str, _uid: &str) -> Vec<String> {
        Vec::new()
    }

    fn room_channel(&self, _nsp: &str, _room: &str) -> Option<String> {
        None
    }

    fn counts_acks(&self) -> bool {
        false
    }

    fn server_count_channel(&self, _nsp: &str) -> String {
        self.channel.clone()
    }

    fn encode(&self, uid: &str, message: &Outgoing<'_>) -> Vec<Publish> {
        match *message {
            Outgoing::Broadcast {
                nsp,
                packet,
                opts,
                ack,
            } => {
                let (data, binary) = data_of(packet.args);
                let Some(data) = raw(&data) else {
                    return Vec::new();
                };
                self.publish(&EmitOut {
                    method: "emit",
                    event: packet.event,
                    data,
                    binary,
                    namespace: nsp,
                    room: OneOrMany::of(&opts.rooms),
                    skip_sid: OneOrMany::of(&opts.except),
                    callback: ack
                        .map(|id| (opts.rooms.first().map(|r| r.as_ref()), nsp, id_value(id))),
                    host_id: uid,
                })
            }
            Outgoing::Ack {
                to,
                nsp,
                request,
                sid,
                reply_as,
                args,
            } => {
                if !args.binary().is_empty() {
                    // python-socketio sends acknowledgements as plain JSON: it cannot
                    // carry attachments either.
                    tracing::warn!("an acknowledgement with binary data cannot be carried to a python-socketio server");
                    return Vec::new();
                }
                let Some(args) = raw(args.json()) else {
                    return Vec::new();
                };
                self.publish(&CallbackOut {
                    method: "callback",
                    host_id: to,
                    sid: reply_as.unwrap_or(sid),
                    namespace: nsp,
                    id: id_value(request),
                    args,
                })
            }
            Outgoing::AddSockets { nsp, opts, rooms } => {
                self.per_sid("enter_room", uid, nsp, opts, rooms)
            }
            Outgoing::DelSockets { nsp, opts, rooms } => {
                self.per_sid("leave_room", uid, nsp, opts, rooms)
            }
            Outgoing::CloseRoom { nsp, room } => self.publish(&CloseRoomOut {
                method: "close_room",
                room,
                namespace: nsp,
                host_id: uid,
            }),
            Outgoing::Disconnect { nsp, opts, .. } => {
                if !opts.except.is_empty() {
                    return Vec::new();
                }
                opts.rooms
                    .iter()
                    .flat_map(|sid| {
                        self.publish(&SidOut {
                            method: "disconnect",
                            sid,
                            room: None,
                            namespace: nsp,
                            host_id: uid,
                        })
                    })
                    .collect()
            }
            Outgoing::AckCount { .. }
            | Outgoing::FetchSockets { .. }
            | Outgoing::Sockets { .. }
            | Outgoing::AllRooms { .. }
            | Outgoing::Rooms { .. } => Vec::new(),
        }
    }

    fn decode(
        &self,
        uid: &str,
        _channel: &[u8],
        payload: &[u8],
        filter: &dyn RoomFilter,
    ) -> Decoded {
        if payload.first() == Some(&0x80) {
            return Decoded::Pickle;
        }
        let message: In<'_> = match serde_json::from_slice(payload) {
            Ok(message) => message,
            Err(error) => {
                return Decoded::Invalid(format!("not a python-socketio message: {error}"))
            }
        };
        let from = message.host_id.clone().unwrap_or_default();
        let nsp = message.namespace.clone().unwrap_or_else(|| "/".to_owned());
        if message.method == "callback" {
            if message.host_id.as_deref() != Some(uid) {
                return Decoded::NotForUs;
            }
            let (Some(id), Some(args)) = (message.id.as_ref().and_then(text_of), message.args)
            else {
                return Decoded::Invalid("callback without id or args".to_owned());
            };
            let sid = message.sid.as_ref().and_then(text_of).unwrap_or_default();
            return match args_of(args, false) {
                Ok(args) => Decoded::Message {
                    from,
                    message: Incoming::Ack {
                        request: id,
                        sid: Arc::from(sid),
                        args,
                    },
                },
                Err(error) => Decoded::Invalid(format!("callback args: {error}")),
            };
        }
        if message.host_id.as_deref() == Some(uid) {
            return Decoded::NotForUs;
        }
        let sid = || message.sid.as_ref().and_then(text_of).map(Room::from);
        let incoming = match message.method.as_str() {
            "emit" => {
                let rooms = message.room.map(OneOrMany::into_rooms).unwrap_or_default();
                if !filter.may_reach(&nsp, &rooms) {
                    return Decoded::Filtered;
                }
                let Some(event) = message.event else {
                    return Decoded::Invalid("emit without an event".to_owned());
                };
                let Some(data) = message.data else {
                    return Decoded::Invalid("emit without data".to_owned());
                };
                let args = match args_of(data, message.binary.unwrap_or(false)) {
                    Ok(args) => args,
                    Err(error) => return Decoded::Invalid(format!("emit data: {error}")),
                };
                let ack = match message.callback.as_deref() {
                    Some([room, _nsp, id]) => text_of(id).map(|id| AckRequest {
                        id,
                        reply_as: text_of(room).map(Room::from),
                    }),
                    _ => None,
                };
                Incoming::Broadcast {
                    nsp,
                    event,
                    args,
                    opts: BroadcastOptions {
                        rooms,
                        except: message
                            .skip_sid
                            .map(OneOrMany::into_rooms)
                            .unwrap_or_default(),
                        ..BroadcastOptions::default()
                    },
                    ack,
                }
            }
            "disconnect" => match sid() {
                Some(sid) => Incoming::Disconnect {
                    nsp,
                    opts: BroadcastOptions::to(vec![sid]),
                    close: false,
                },
                None => return Decoded::Invalid("disconnect without a sid".to_owned()),
            },
            method @ ("enter_room" | "leave_room") => {
                let (Some(sid), Some(room)) = (sid(), message.room) else {
                    return Decoded::Invalid(format!("{method} without a sid or room"));
                };
                let opts = BroadcastOptions::to(vec![sid]);
                let rooms = room.into_rooms();
                if method == "enter_room" {
                    Incoming::AddSockets { nsp, opts, rooms }
                } else {
                    Incoming::DelSockets { nsp, opts, rooms }
                }
            }
            "close_room" => match message.room.map(OneOrMany::into_rooms).as_deref() {
                Some([room]) => Incoming::CloseRoom {
                    nsp,
                    room: Arc::clone(room),
                },
                _ => return Decoded::Invalid("close_room without one room".to_owned()),
            },
            _ => return Decoded::Ignored("unknown python-socketio method"),
        };
        Decoded::Message {
            from,
            message: incoming,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::adapter::BroadcastPacket;

    use crate::adapter::redis::format::tests::All;
    struct Only(&'static str);
    impl RoomFilter for Only {
        fn may_reach(&self, _nsp: &str, rooms: &[Room]) -> bool {
            rooms.is_empty() || rooms.iter().any(|r| &**r == self.0)
        }
    }

    fn one(publish: Vec<Publish>) -> serde_json::Value {
        assert_eq!(publish.len(), 1);
        assert_eq!(publish[0].channel, "flask-socketio");
        serde_json::from_slice(&publish[0].payload).unwrap()
    }

    #[test]
    fn an_emit_round_trips_with_binary_rooms_and_callback() {
        let format = PythonSocketIo::new("flask-socketio");
        let args = Payload::from_json(
            r#"[{"a":1},{"_placeholder":true,"num":0}]"#,
            vec![bytes::Bytes::from_static(b"\x00\x01\xff")],
        )
        .unwrap();
        let opts = BroadcastOptions {
            rooms: vec![Room::from("r1")],
            except: vec![Room::from("s1"), Room::from("s2")],
            ..BroadcastOptions::default()
        };
        let out = format.encode(
            "me",
            &Outgoing::Broadcast {
                nsp: "/chat",
                packet: BroadcastPacket {
                    event: "msg",
                    args: &args,
                },
                opts: &opts,
                ack: Some("7"),
            },
        );
        let json = one(out.clone());
        assert_eq!(json["method"], "emit");
        assert_eq!(json["binary"], true);
        assert_eq!(json["data"][1], "AAH/");
        assert_eq!(json["room"], "r1");
        assert_eq!(json["skip_sid"], serde_json::json!(["s1", "s2"]));
        assert_eq!(json["callback"], serde_json::json!(["r1", "/chat", 7]));
        // Our own message is not for us; another server decodes it back.
        assert_eq!(
            format.decode("me", b"flask-socketio", &out[0].payload, &All),
            Decoded::NotForUs
        );
        let Decoded::Message { from, message } =
            format.decode("other", b"flask-socketio", &out[0].payload, &All)
        else {
            panic!("not decoded");
        };
        assert_eq!(from, "me");
        assert_eq!(
            message,
            Incoming::Broadcast {
                nsp: "/chat".to_owned(),
                event: "msg".to_owned(),
                args,
                opts,
                ack: Some(AckRequest {
                    id: "7".to_owned(),
                    reply_as: Some(Room::from("r1"))
                }),
            }
        );
        assert_eq!(
            format.decode("other", b"flask-socketio", &out[0].payload, &Only("r2")),
            Decoded::Filtered
        );
    }

    #[test]
    fn pickle_and_garbage_are_refused() {
        let format = PythonSocketIo::new("socketio");
        // pickle.dumps({'method': 'emit'}) starts with the protocol opcode 0x80.
        assert_eq!(
            format.decode("me", b"socketio", b"\x80\x04\x95\x10\x00", &All),
            Decoded::Pickle
        );
        assert!(matches!(
            format.decode("me", b"socketio", b"{not json", &All),
            Decoded::Invalid(_)
        ));
        assert!(matches!(
            format.decode("me", b"socketio", br#"{"method":"emit","event":"x"}"#, &All),
            Decoded::Invalid(_)
        ));
        assert_eq!(
            format.decode("me", b"socketio", br#"{"method":"whatever"}"#, &All),
            Decoded::Ignored("unknown python-socketio method")
        );
    }

    #[test]
    fn callbacks_are_only_for_their_host() {
        let format = PythonSocketIo::new("socketio");
        let args = Payload::one(&"ok").unwrap();
        let out = format.encode(
            "them",
            &Outgoing::Ack {
                to: "origin",
                nsp: "/",
                request: "3",
                sid: "abc",
                reply_as: Some("room1"),
                args: &args,
            },
        );
        let json: serde_json::Value = serde_json::from_slice(&out[0].payload).unwrap();
        assert_eq!(json["sid"], "room1");
        assert_eq!(json["host_id"], "origin");
        assert_eq!(
            format.decode("someone", b"socketio", &out[0].payload, &All),
            Decoded::NotForUs
        );
        assert_eq!(
            format.decode("origin", b"socketio", &out[0].payload, &All),
            Decoded::Message {
                from: "origin".to_owned(),
                message: Incoming::Ack {
                    request: "3".to_owned(),
                    sid: Arc::from("room1"),
                    args
                }
            }
        );
    }
}
