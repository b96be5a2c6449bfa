//! Emitting to many sockets at once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::namespace::NamespaceInner;
use super::Socket;
use crate::adapter::{
    AckReply, AckStream, AdapterError, BroadcastOptions, BroadcastPacket, Room, SocketInfo,
};
use crate::error::RoomError;
use crate::protocol::Payload;
use crate::sid::Sid;

/// Anything that names one or more rooms: `&str`, `String`, a [`Sid`], or a slice /
/// `Vec` / array of those.
pub trait IntoRooms {
    /// The room names.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self.as_str())]
    }
}

impl IntoRooms for Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}

impl IntoRooms for Sid {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self.as_str())]
    }
}

impl<T: IntoRooms + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter()
            .cloned()
            .flat_map(IntoRooms::into_rooms)
            .collect()
    }
}

impl<T: IntoRooms> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

impl<T: IntoRooms, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

/// A set of target sockets in one namespace, built with [`to`](Self::to) and
/// [`except`](Self::except), then used with [`emit`](Self::emit) and friends.
///
/// ```no_run
/// # fn demo(server: &ferrosocket::Server) {
/// use ferrosocket::Payload;
/// let args = Payload::one("hello").unwrap();
/// // Everyone in "lobby" or "games", each once, except those in "muted".
/// server.of("/").to(["lobby", "games"]).except("muted").emit("news", &args);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BroadcastOperator {
    ns: Arc<NamespaceInner>,
    opts: BroadcastOptions,
}

impl std::fmt::Debug for NamespaceInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Namespace").field(&self.name).finish()
    }
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NamespaceInner>) -> Self {
        Self {
            ns,
            opts: BroadcastOptions::default(),
        }
    }

    /// Adds target rooms (the union is targeted; with none, the whole namespace).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        self.opts.rooms.extend(rooms.into_rooms());
        self
    }

    /// Leaves out every socket in `rooms` (socket ids are rooms).
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        self.opts.except.extend(rooms.into_rooms());
        self
    }

    /// The targeting as a plain value.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// To this server's sockets only: not published to the fleet.
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }

    /// May be dropped rather than queued: a socket whose outbound queue is half way to
    /// `max_queued_packets` or `max_queued_bytes` (a client that reads slowly) misses it
    /// instead of being disconnected as too slow, and a socket still connecting misses
    /// it. Carried to fleet peers that honour it.
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }

    /// Emits to every target, on this server and (through the adapter) the fleet. The
    /// packet is encoded once per server and shared by reference. Returns the number of
    /// local sockets it was queued for.
    pub fn emit(&self, event: &str, args: &Payload) -> usize {
        let packet = BroadcastPacket { event, args };
        self.ns.adapter.broadcast(&*self.ns, &packet, &self.opts)
    }

    /// Emits to every target, each asked for an acknowledgement, and resolves with every
    /// target's answer (or error), on every server, once all answered or timed out.
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: &Payload,
        timeout: Duration,
    ) -> impl Future<Output = Vec<AckReply>> + Send + 'static {
        use futures_util::StreamExt as _;
        self.emit_with_ack_stream(event, args, timeout).collect()
    }

    /// [`emit_with_ack`](Self::emit_with_ack) giving each answer as it arrives.
    pub fn emit_with_ack_stream(
        &self,
        event: &str,
        args: &Payload,
        timeout: Duration,
    ) -> AckStream {
        let packet = BroadcastPacket { event, args };
        self.ns
            .adapter
            .broadcast_with_ack(&*self.ns, &packet, &self.opts, timeout)
    }

    /// The target sockets on this server.
    pub fn sockets(&self) -> Vec<Socket> {
        self.ns
            .targets(&self.opts)
            .into_iter()
            .map(Socket)
            .collect()
    }

    /// The target sockets on every server.
    pub fn fetch_sockets(
        &self,
    ) -> impl Future<Output = Result<Vec<SocketInfo>, AdapterError>> + Send + 'static {
        self.ns.adapter.fetch_sockets(&*self.ns, &self.opts)
    }

    /// Makes every target join `rooms`. A room named after a connected socket's id
    /// ([`RoomError::SidRoom`]) is refused before any target joins anything.
    pub fn join(&self, rooms: impl IntoRooms) -> Result<(), RoomError> {
        let rooms = rooms.into_rooms();
        let targets = self.ns.rooms.targets(&self.opts);
        self.ns.check_joinable(&targets, &rooms)?;
        self.ns.adapter.add_sockets(&*self.ns, &self.opts, &rooms);
        Ok(())
    }

    /// Makes every target leave `room`, on every server.
    pub fn leave(&self, room: &str) {
        let rooms = [Room::from(room)];
        self.ns.adapter.del_sockets(&*self.ns, &self.opts, &rooms);
    }

    /// Disconnects every target from the namespace, on every server.
    pub fn disconnect(&self) {
        self.ns
            .adapter
            .disconnect_sockets(&*self.ns, &self.opts, false);
    }
}
