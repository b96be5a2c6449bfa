//! Errors and disconnect reasons.

use std::fmt;

/// Why a socket left a namespace. [`DisconnectReason::as_str`] gives the text users of
/// the reference implementations know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client left the namespace (`41`) or disconnected on purpose.
    ClientNamespaceDisconnect,
    /// The server disconnected the socket.
    ServerNamespaceDisconnect,
    /// The client did not answer a ping in time.
    PingTimeout,
    /// The connection was closed (client gone, close packet, or its transport closed).
    TransportClose,
    /// The transport failed (I/O error, oversized message, protocol violation).
    TransportError,
    /// The client sent a packet that could not be parsed.
    ParseError,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client did not read fast enough and its outbound queue filled up.
    ClientTooSlow,
}

impl DisconnectReason {
    /// The reason as text, e.g. `"ping timeout"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::PingTimeout => "ping timeout",
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::ParseError => "parse error",
            Self::ServerShuttingDown => "server shutting down",
            Self::ClientTooSlow => "client too slow",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a packet could not be sent to a socket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The socket is disconnected.
    #[error("socket is disconnected")]
    Disconnected,
    /// The client's outbound queue is full; the client has been disconnected.
    #[error("client's outbound queue is full")]
    QueueFull,
}

/// Why a room operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    /// The room is named after another socket's id. Every socket is alone in its own id
    /// room, so that emitting to an id reaches that socket and excluding an id excludes
    /// it: a socket that could join another's id room would capture what is sent to it.
    /// (python-socketio refuses the same with `cannot enter a sid room`.)
    #[error("cannot enter a sid room: {0:?} is another socket's own room")]
    SidRoom(std::sync::Arc<str>),
    /// `close_room` was given a socket's own id room, which only disconnecting empties.
    #[error("cannot close a sid room: {0:?}")]
    CloseSidRoom(std::sync::Arc<str>),
}

/// Why an acknowledgement did not arrive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The client did not answer within the timeout.
    #[error("acknowledgement timed out")]
    Timeout,
    /// The socket disconnected before answering, or the emit could not be sent.
    #[error("socket disconnected before acknowledging")]
    Disconnected,
}

/// A connect handler's refusal: the client gets a CONNECT_ERROR with this message and
/// optional JSON data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRefused {
    /// The message the client sees (`err.message` in the JS client).
    pub message: String,
    /// Optional JSON text the client sees as `err.data`.
    pub data: Option<String>,
}

impl ConnectRefused {
    /// A refusal with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }

    /// Adds JSON data (serialized from `data`).
    pub fn with_data<T: serde::Serialize + ?Sized>(mut self, data: &T) -> Self {
        self.data = serde_json::to_string(data).ok();
        self
    }
}

/// Errors from starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding or accepting failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
