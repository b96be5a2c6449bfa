//! Socket.IO v5 packets, carried in Engine.IO message packets: the packet types and
//! errors here, the codec in submodules (decoding and binary assembly for what clients
//! send, encoding for what the server sends). Sans-IO like all of `protocol`: pure
//! functions over text and bytes; it must never do I/O or depend on tokio or hyper.
//!
//! Text form: the type digit, then `<n>-` (attachment count) for binary types, then
//! `/nsp,` for a namespace other than `/`, then the ack id digits, then JSON. Binary
//! packets are followed by `n` binary Engine.IO messages, gathered by a
//! [`BinaryAssembler`]. Encoders here return the full Engine.IO message text (with the
//! leading `4`), ready to be framed by a transport.

mod binary;
mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use binary::BinaryAssembler;
pub use decode::{decode, decode_connect_error};
pub(crate) use decode::{decode_borrowed, Borrowed};
pub use encode::{
    encode_ack, encode_connect, encode_connect_error, encode_connect_request, encode_disconnect,
    encode_disconnect_refused, encode_event, push_json_string,
};

use super::payload::Payload;

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

/// The canonical spelling of a namespace name as a host gives it: with its leading `/`
/// (`"chat"` is `"/chat"`, `""` is `"/"`). Every lookup and registration by name from a
/// host ([`Server::of`](crate::Server::of), [`Server::namespace`](crate::Server::namespace),
/// the embedding layer) goes through it, so `"chat"` and `"/chat"` always name the same
/// namespace. Names a client sends are taken as they come (the protocol spells them with
/// the `/`).
pub fn normalize_namespace(name: &str) -> std::borrow::Cow<'_, str> {
    if name.starts_with('/') {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(format!("/{name}"))
    }
}
