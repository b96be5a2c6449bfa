//! Emitting to many sockets at once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::namespace::NamespaceInner;
use super::{wait_ack, Socket, SocketInner};
use crate::adapter::{BroadcastOptions, Room};
use crate::engine::{OutPacket, Outbound};
use crate::error::{AckError, RoomError};
use crate::protocol::socket as codec;
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

    fn targets(&self) -> Vec<Arc<SocketInner>> {
        let sids = self.ns.adapter.targets(&self.opts);
        self.ns.sockets_for(&sids)
    }

    /// Emits to every target. The packet is encoded once and shared by reference.
    /// Returns the number of sockets it was queued for.
    pub fn emit(&self, event: &str, args: &Payload) -> usize {
        let targets = self.targets();
        if targets.is_empty() {
            return 0;
        }
        let text = codec::encode_event(&self.ns.name, event, args, None);
        if let [socket] = targets.as_slice() {
            return usize::from(
                socket
                    .send(Outbound::single(text, args.binary().to_vec()))
                    .is_ok(),
            );
        }
        let packet = OutPacket::new(text, args.binary().to_vec());
        targets
            .iter()
            .filter(|socket| socket.send(Outbound::Packet(Arc::clone(&packet))).is_ok())
            .count()
    }

    /// Emits to every target, each asked for an acknowledgement, and resolves with every
    /// target's answer (or error) once all answered or timed out.
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: &Payload,
        timeout: Duration,
    ) -> impl Future<Output = Vec<(Sid, Result<Payload, AckError>)>> + Send + 'static {
        let waits: Vec<_> = self
            .targets()
            .into_iter()
            .map(|socket| {
                let sid = socket.id;
                let sent = socket.send_with_ack(event, args);
                async move { (sid, wait_ack(socket, sent, timeout).await) }
            })
            .collect();
        futures_util::future::join_all(waits)
    }

    /// The target sockets.
    pub fn sockets(&self) -> Vec<Socket> {
        self.targets().into_iter().map(Socket).collect()
    }

    /// Makes every target join `rooms`. A room named after a connected socket's id
    /// ([`RoomError::SidRoom`]) is refused before any target joins anything.
    pub fn join(&self, rooms: impl IntoRooms) -> Result<(), RoomError> {
        let rooms = rooms.into_rooms();
        let targets = self.ns.adapter.targets(&self.opts);
        self.ns.check_joinable(&targets, &rooms)?;
        for sid in targets {
            self.ns.adapter.join(sid, &rooms);
        }
        Ok(())
    }

    /// Makes every target leave `room`.
    pub fn leave(&self, room: &str) {
        for sid in self.ns.adapter.targets(&self.opts) {
            self.ns.adapter.leave(sid, room);
        }
    }

    /// Disconnects every target from the namespace.
    pub fn disconnect(&self) {
        for socket in self.sockets() {
            socket.disconnect();
        }
    }
}
