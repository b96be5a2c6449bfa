//! Rooms and broadcasts, behind the [`Adapter`] trait.
//!
//! Owns: what an emit to many sockets means across one process or a fleet of them. An
//! adapter receives every broadcast already resolved to a [`BroadcastPacket`] (event and
//! arguments) and its [`BroadcastOptions`] (rooms, except, flags), and every fleet-wide
//! operation (join / leave / disconnect of sockets matching options, broadcasts with
//! acknowledgements, the rooms and sockets of the whole fleet, the server count). It does
//! the local part through the namespace's [`LocalNamespace`] and, for a fleet, tells the
//! other servers. Never: touches a socket directly or holds one of its locks while calling
//! back into the server.
//!
//! [`LocalAdapter`], the default, does only the local part: one process, rooms in memory.
//! The `redis` feature adds [`redis`], which also publishes to a Redis-backed fleet of
//! ferrosocket, python-socketio / Flask-SocketIO and node socket.io servers.
//!
//! Every socket is also in a room named after its own id. That room is virtual: it is
//! not stored, so a socket that never joins a room costs the room table one set entry.
//! It belongs to its socket alone: the namespace refuses to let another socket join it
//! ([`crate::RoomError::SidRoom`]), and a room that names a connected socket resolves to
//! that socket only, whatever else was stored under the name.

pub(crate) mod rooms;

#[cfg(feature = "redis")]
pub mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::AckError;
use crate::protocol::Payload;
use crate::sid::Sid;

/// A room name.
pub type Room = Arc<str>;

/// A boxed, sendable future, as adapters return them.
pub type AdapterFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The replies to a broadcast with acknowledgements, as they arrive; it ends once every
/// target answered or the timeout passed (a target that did not answer in time ends
/// as an [`AckError::Timeout`] reply when the adapter knows it was one).
pub type AckStream = Pin<Box<dyn futures_util::Stream<Item = AckReply> + Send + 'static>>;

/// How a broadcast travels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastFlags {
    /// To this server's sockets only: never published to the fleet.
    pub local: bool,
    /// May be dropped rather than queued. Carried to the fleet for the peers that honour
    /// it; this server delivers it like any other packet (its queues are bounded anyway).
    pub volatile: bool,
}

/// Who an emit reaches: the union of `rooms` (the whole namespace when empty), minus
/// every socket in `except` (rooms or socket ids).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Target rooms; empty means every socket of the namespace.
    pub rooms: Vec<Room>,
    /// Rooms (or socket ids) whose sockets are left out.
    pub except: Vec<Room>,
    /// Local / volatile.
    pub flags: BroadcastFlags,
}

impl BroadcastOptions {
    /// Options that target `rooms`.
    pub fn to(rooms: Vec<Room>) -> Self {
        Self {
            rooms,
            ..Self::default()
        }
    }
}

/// The event a broadcast carries, encoded by each receiver for its own namespace and
/// transport (borrowed: a broadcast copies nothing until a wire format encodes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastPacket<'a> {
    /// The event name.
    pub event: &'a str,
    /// Its arguments (attachments included).
    pub args: &'a Payload,
}

/// A socket as the fleet knows it: on this server or another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketInfo {
    /// The socket id (another server's ids need not be ferrosocket [`crate::Sid`]s:
    /// python-socketio's are 16 characters).
    pub id: Arc<str>,
    /// Its rooms, its own id room included.
    pub rooms: Vec<Room>,
    /// Whether it is on this server.
    pub local: bool,
}

/// One socket's answer to a broadcast with acknowledgements.
#[derive(Debug, Clone)]
pub struct AckReply {
    /// The socket that answered (or failed to).
    pub sid: Arc<str>,
    /// Its acknowledgement's arguments, or why there is none.
    pub result: Result<Payload, AckError>,
}

/// What a fleet-wide query could not do.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AdapterError {
    /// The fleet did not answer in time (the answers that came are lost).
    #[error("the fleet did not answer within the timeout")]
    Timeout,
    /// The wire format cannot carry this request (python-socketio's has no queries).
    #[error("{0} is not supported by this adapter's wire format")]
    Unsupported(&'static str),
    /// The connection to the fleet is down.
    #[error("the fleet is unreachable: {0}")]
    Unavailable(String),
}

/// The local part of one namespace, as the server gives it to its adapter: every
/// operation on this process's sockets only. Implemented by the server.
pub trait LocalNamespace: Send + Sync {
    /// The namespace name, with its `/`.
    fn name(&self) -> &str;
    /// Sends `packet` to the local sockets `opts` selects; returns how many.
    fn broadcast(&self, packet: &BroadcastPacket<'_>, opts: &BroadcastOptions) -> usize;
    /// Sends `packet` asking each selected local socket for an acknowledgement; one
    /// future per socket, resolving with its reply or error within `timeout`.
    fn broadcast_with_ack(
        &self,
        packet: &BroadcastPacket<'_>,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> Vec<AdapterFuture<AckReply>>;
    /// Makes the selected local sockets join `rooms` (another socket's own id room is
    /// skipped).
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Makes the selected local sockets leave `rooms`.
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Disconnects the selected local sockets from the namespace (`close`: their whole
    /// connection).
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);
    /// The selected local sockets.
    fn fetch_sockets(&self, opts: &BroadcastOptions) -> Vec<SocketInfo>;
    /// The local rooms with members (socket id rooms excluded).
    fn rooms(&self) -> Vec<Room>;
    /// Whether `sid` names a socket of this namespace on this server.
    fn has_socket(&self, sid: &str) -> bool;
}

/// The server as an adapter sees it, to apply what other servers ask: its namespaces by
/// name. Holds the server weakly: once the server is gone every lookup finds nothing.
pub trait LocalServer: Send + Sync {
    /// The namespace `name` (with its `/`) if it exists here.
    fn namespace(&self, name: &str) -> Option<Arc<dyn LocalNamespace>>;
}

/// Rooms and broadcasts for a server: the in-memory [`LocalAdapter`], or one that also
/// shares them with other servers. One value serves every namespace of one server; each
/// call names the namespace by its [`LocalNamespace`].
///
/// Every method has a default that does the local part only, so an adapter overrides
/// what its fleet needs. Implementations must be cheap to call from any thread (an I/O
/// thread or a handler), must never block (publishing goes through a bounded queue), and
/// must never call back into the server while holding their own locks.
pub trait Adapter: Send + Sync + std::fmt::Debug + 'static {
    /// Called once, when the server is built, with the handle through which the
    /// adapter applies what other servers publish.
    fn init(&self, server: Arc<dyn LocalServer>) {
        let _ = server;
    }

    /// The server is shutting down: stop listening to the fleet.
    fn close(&self) {}

    /// Whether a broadcast may reach sockets of other servers (a fleet adapter); the
    /// local adapter's reach only this server's, so an emit to a namespace with no local
    /// socket can be skipped before it is built.
    fn reaches_other_servers(&self) -> bool {
        false
    }

    /// Appends the adapter's own metric families to a scrape (`/metrics`); the local
    /// adapter has none.
    fn write_metrics(&self, out: &mut crate::metrics::Exposition) {
        let _ = out;
    }

    /// A namespace was created on this server.
    fn namespace_created(&self, nsp: &str) {
        let _ = nsp;
    }

    /// A namespace was removed from this server.
    fn namespace_removed(&self, nsp: &str) {
        let _ = nsp;
    }

    /// `room` of `nsp` got its first local member. Called under the namespace's room
    /// lock, so the notices about one room arrive in the order of its changes: it must
    /// not call into the server.
    fn room_created(&self, nsp: &str, room: &Room) {
        let _ = (nsp, room);
    }

    /// `room` of `nsp` lost its last local member (under the room lock, as
    /// [`room_created`](Self::room_created)).
    fn room_removed(&self, nsp: &str, room: &Room) {
        let _ = (nsp, room);
    }

    /// Socket `sid` joined namespace `nsp` on this server (it is alone in its own id
    /// room).
    fn socket_added(&self, nsp: &str, sid: Sid) {
        let _ = (nsp, sid);
    }

    /// Socket `sid` left namespace `nsp` on this server.
    fn socket_removed(&self, nsp: &str, sid: Sid) {
        let _ = (nsp, sid);
    }

    /// Broadcasts `packet`; returns how many local sockets it was queued for.
    fn broadcast(
        &self,
        ns: &dyn LocalNamespace,
        packet: &BroadcastPacket<'_>,
        opts: &BroadcastOptions,
    ) -> usize {
        ns.broadcast(packet, opts)
    }

    /// Broadcasts `packet` asking every target for an acknowledgement; the stream gives
    /// every reply (local and remote) as it arrives, and ends once each target answered
    /// or `timeout` passed.
    fn broadcast_with_ack(
        &self,
        ns: &dyn LocalNamespace,
        packet: &BroadcastPacket<'_>,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> AckStream {
        let waits = ns.broadcast_with_ack(packet, opts, timeout);
        Box::pin(
            waits
                .into_iter()
                .collect::<futures_util::stream::FuturesUnordered<_>>(),
        )
    }

    /// Makes the sockets `opts` selects join `rooms`.
    fn add_sockets(&self, ns: &dyn LocalNamespace, opts: &BroadcastOptions, rooms: &[Room]) {
        ns.add_sockets(opts, rooms);
    }

    /// Makes the sockets `opts` selects leave `rooms`.
    fn del_sockets(&self, ns: &dyn LocalNamespace, opts: &BroadcastOptions, rooms: &[Room]) {
        ns.del_sockets(opts, rooms);
    }

    /// Disconnects the sockets `opts` selects.
    fn disconnect_sockets(&self, ns: &dyn LocalNamespace, opts: &BroadcastOptions, close: bool) {
        ns.disconnect_sockets(opts, close);
    }

    /// Removes every socket from `room`.
    fn close_room(&self, ns: &dyn LocalNamespace, room: &Room) {
        let rooms = [Arc::clone(room)];
        self.del_sockets(ns, &BroadcastOptions::to(rooms.to_vec()), &rooms);
    }

    /// The sockets `opts` selects, on every server.
    fn fetch_sockets(
        &self,
        ns: &dyn LocalNamespace,
        opts: &BroadcastOptions,
    ) -> AdapterFuture<Result<Vec<SocketInfo>, AdapterError>> {
        let local = ns.fetch_sockets(opts);
        Box::pin(async move { Ok(local) })
    }

    /// Every room with members, on every server.
    fn all_rooms(&self, ns: &dyn LocalNamespace) -> AdapterFuture<Result<Vec<Room>, AdapterError>> {
        let local = ns.rooms();
        Box::pin(async move { Ok(local) })
    }

    /// How many servers share these rooms (this one included).
    fn server_count(&self) -> AdapterFuture<usize> {
        Box::pin(async { 1 })
    }
}

/// The in-memory adapter: rooms live in this process, broadcasts reach its sockets.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapter;

impl LocalAdapter {
    /// The in-memory adapter.
    pub fn new() -> Self {
        Self
    }
}

impl Adapter for LocalAdapter {}
