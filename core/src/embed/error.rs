//! Why a call on an [`Embedded`](super::Embedded) server failed, and why an
//! acknowledgement delivered on a dispatch lane carries no reply: typed, so each binding
//! maps them to its own (a C result code, a Python exception) with a `match`, never by
//! reading the text. Nothing here formats for one binding in particular.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why an [`Embedded`](super::Embedded) call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// [`stop`](super::Embedded::stop) has run: a stopped server does not start again.
    #[error("the server was stopped")]
    Stopped,
    /// The server's runtime has been shut down (only while it is being dropped).
    #[error("the server's runtime is gone")]
    RuntimeGone,
    /// The host name gave no address.
    #[error("cannot resolve {host}:{port}: {source}")]
    Resolve {
        /// The host as given.
        host: String,
        /// The port as given.
        port: u16,
        /// What the resolver said (`NotFound` when it returned no address).
        #[source]
        source: std::io::Error,
    },
    /// The address resolved but could not be bound or listened on (in use, not local,
    /// no permission).
    #[error("could not listen on {addr}: {source}")]
    Listen {
        /// The address tried.
        addr: SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// [`serve_dir`](super::Embedded::serve_dir) was given something that is not a
    /// directory (or does not exist).
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// No namespace of that name was created (normalized: with its leading `/`).
    #[error("no namespace {0}")]
    UnknownNamespace(String),
    /// [`instrument`](super::Embedded::instrument) refused its options (or the server
    /// is already instrumented).
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    /// No client of that id is connected to the namespace (or the id is malformed).
    #[error("no socket {sid:?} in namespace {namespace}")]
    UnknownSocket {
        /// The namespace, normalized.
        namespace: String,
        /// The id as given.
        sid: String,
    },
}

/// Why an acknowledgement asked for with
/// [`Embedded::emit_with_ack`](super::Embedded::emit_with_ack) brought no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AckFailure {
    /// The client did not answer within the timeout.
    #[error("the client did not answer in time")]
    Timeout,
    /// The client disconnected before answering (or the emit could not be sent).
    #[error("the client disconnected before answering")]
    Disconnected,
    /// The server was stopping when the wait ended: its shutdown disconnected the client
    /// or outlasted the timeout, so neither the client nor the clock is to blame.
    #[error("the server stopped before the client answered")]
    Cancelled,
}
