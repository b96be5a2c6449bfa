//! What crosses servers, independent of how it is spelled on the wire: [`Outgoing`]
//! messages this server publishes, [`Incoming`] ones it receives, and the [`WireFormat`]
//! trait each format (python-socketio's JSON, node socket.io's msgpack) implements.
//! Values and codecs only: never does I/O.

use std::sync::Arc;

use crate::adapter::{BroadcastOptions, BroadcastPacket, Room, SocketInfo};
use crate::protocol::Payload;

/// A received broadcast's request for acknowledgements, sent back to its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AckRequest {
    /// The id the origin files the replies under (numbers are written as decimal).
    pub(crate) id: String,
    /// What the reply names as its socket (python-socketio's callback names the room
    /// the emit targeted, and its origin files the callback under that name).
    pub(crate) reply_as: Option<Room>,
}

/// A message this server publishes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outgoing<'a> {
    /// Deliver `packet` to the sockets `opts` selects; with `ack`, each recipient's
    /// acknowledgement comes back as [`Outgoing::Ack`].
    Broadcast {
        nsp: &'a str,
        packet: BroadcastPacket<'a>,
        opts: &'a BroadcastOptions,
        ack: Option<&'a str>,
    },
    /// The selected sockets join `rooms`.
    AddSockets {
        nsp: &'a str,
        opts: &'a BroadcastOptions,
        rooms: &'a [Room],
    },
    /// The selected sockets leave `rooms`.
    DelSockets {
        nsp: &'a str,
        opts: &'a BroadcastOptions,
        rooms: &'a [Room],
    },
    /// Every socket leaves `room`.
    CloseRoom { nsp: &'a str, room: &'a Room },
    /// The selected sockets are disconnected (`close`: their whole connection).
    Disconnect {
        nsp: &'a str,
        opts: &'a BroadcastOptions,
        close: bool,
    },
    /// How many local sockets a broadcast with acks reached (to its origin `to`).
    AckCount {
        to: &'a str,
        nsp: &'a str,
        request: &'a str,
        count: usize,
    },
    /// One socket's acknowledgement of broadcast `request`, to its origin `to`.
    Ack {
        to: &'a str,
        nsp: &'a str,
        request: &'a str,
        sid: &'a str,
        reply_as: Option<&'a str>,
        args: &'a Payload,
    },
    /// Asks every server for the sockets `opts` selects.
    FetchSockets {
        nsp: &'a str,
        request: &'a str,
        opts: &'a BroadcastOptions,
    },
    /// This server's answer to a `FetchSockets`.
    Sockets {
        to: &'a str,
        nsp: &'a str,
        request: &'a str,
        sockets: &'a [SocketInfo],
    },
    /// Asks every server for its rooms.
    AllRooms { nsp: &'a str, request: &'a str },
    /// This server's answer to an `AllRooms`.
    Rooms {
        to: &'a str,
        nsp: &'a str,
        request: &'a str,
        rooms: &'a [Room],
    },
}

/// A message another server (or an emitter) published, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    Broadcast {
        nsp: String,
        event: String,
        args: Payload,
        opts: BroadcastOptions,
        ack: Option<AckRequest>,
    },
    AddSockets {
        nsp: String,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    },
    DelSockets {
        nsp: String,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    },
    CloseRoom {
        nsp: String,
        room: Room,
    },
    Disconnect {
        nsp: String,
        opts: BroadcastOptions,
        close: bool,
    },
    AckCount {
        request: String,
        count: usize,
    },
    Ack {
        request: String,
        sid: Arc<str>,
        args: Payload,
    },
    FetchSockets {
        nsp: String,
        request: String,
        opts: BroadcastOptions,
    },
    Sockets {
        request: String,
        sockets: Vec<SocketInfo>,
    },
    AllRooms {
        nsp: String,
        request: String,
    },
    Rooms {
        request: String,
        rooms: Vec<Room>,
    },
}

/// A received message: decoded, or why not.
#[derive(Debug, PartialEq)]
pub(crate) enum Decoded {
    /// A message for this server, from server `from` (a host id or uid).
    Message { from: String, message: Incoming },
    /// Published by this server itself, or addressed to another one.
    NotForUs,
    /// A broadcast none of this server's sockets can be in (its rooms are not here):
    /// skipped before its payload was decoded.
    Filtered,
    /// A pickled message (python-socketio < 5.14): never unpickled.
    Pickle,
    /// A message of a kind this server does not act on (node's `serverSideEmit`, say).
    Ignored(&'static str),
    /// Not a message of this format.
    Invalid(String),
}

/// Whether any local socket may be in one of a broadcast's target rooms: asked before a
/// broadcast's payload is decoded, so room broadcasts for rooms with no local member
/// cost only the decoding of their options.
pub(crate) trait RoomFilter {
    /// True when `nsp` exists here and, if `rooms` is not empty, one of them has a local
    /// member (or names a socket that may be local).
    fn may_reach(&self, nsp: &str, rooms: &[Room]) -> bool;
}

/// Where a message is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Publish {
    pub(crate) channel: String,
    pub(crate) payload: Vec<u8>,
}

/// One wire format. `uid` is this server's id on the wire.
pub(crate) trait WireFormat: Send + Sync + std::fmt::Debug + 'static {
    /// The format's name in logs and errors.
    fn name(&self) -> &'static str;
    /// The plain channels this server subscribes to for the whole fleet (never a
    /// pattern).
    fn fleet_channels(&self, uid: &str) -> Vec<String>;
    /// The plain channels this server subscribes to for namespace `nsp`.
    fn namespace_channels(&self, nsp: &str, uid: &str) -> Vec<String>;
    /// The channel of one room, when the format publishes one-room broadcasts there
    /// (subscribed while the room has a local member).
    fn room_channel(&self, nsp: &str, room: &str) -> Option<String>;
    /// Whether servers answer a broadcast with acks with the count of clients it
    /// reached, so the origin knows when every answer is in.
    fn counts_acks(&self) -> bool;
    /// The channel whose subscriber count is the number of servers.
    fn server_count_channel(&self, nsp: &str) -> String;
    /// Encodes `message` from this server: the messages to publish, none when the
    /// format cannot carry it (the operation then stays local).
    fn encode(&self, uid: &str, message: &Outgoing<'_>) -> Vec<Publish>;
    /// Decodes what arrived on `channel`.
    fn decode(&self, uid: &str, channel: &[u8], payload: &[u8], filter: &dyn RoomFilter)
        -> Decoded;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::RoomFilter;
    use crate::adapter::Room;

    /// For the codecs' tests: every room may have a local member.
    pub(crate) struct All;

    impl RoomFilter for All {
        fn may_reach(&self, _nsp: &str, _rooms: &[Room]) -> bool {
            true
        }
    }
}
