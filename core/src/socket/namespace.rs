//! Namespaces: handlers, connected sockets and rooms for one namespace name. The rule
//! for spelling a name ([`normalize_namespace`]) lives in `protocol::socket`, where the
//! Redis emitter uses it too. Never does I/O itself.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::broadcast::{BroadcastOperator, IntoRooms};
use super::observe::ObserverSlot;
use super::{run_inline, wait_ack, AckSender, Event, Socket, SocketInner};
use crate::adapter::rooms::Rooms;
use crate::adapter::{
    AckReply, Adapter, AdapterError, AdapterFuture, BroadcastOptions, BroadcastPacket,
    LocalNamespace, Room, SocketInfo,
};
use crate::engine::{BoxFuture, OutPacket, Outbound};
use crate::error::{ConnectRefused, DisconnectReason, RoomError};
use crate::protocol::socket as codec;
use crate::protocol::Payload;
use crate::sid::Sid;

pub use crate::protocol::socket::normalize_namespace;

type EventHandler = Arc<dyn Fn(Socket, Event) -> BoxFuture<()> + Send + Sync>;
type ConnectHandler =
    Arc<dyn Fn(Socket, Auth) -> BoxFuture<Result<(), ConnectRefused>> + Send + Sync>;
type DisconnectHandler = Arc<dyn Fn(Socket, DisconnectReason) -> BoxFuture<()> + Send + Sync>;

#[derive(Default)]
struct Handlers {
    connect: Option<ConnectHandler>,
    disconnect: Option<DisconnectHandler>,
    events: HashMap<String, EventHandler>,
    any: Option<EventHandler>,
}

pub(crate) struct NamespaceInner {
    pub(crate) name: Arc<str>,
    /// Read on every event, written only when handlers are registered.
    handlers: RwLock<Handlers>,
    /// Connected (and connecting) sockets by id: how an adapter's answer becomes sockets.
    sockets: RwLock<HashMap<Sid, Arc<SocketInner>>>,
    /// This server's room table for the namespace.
    pub(crate) rooms: Rooms,
    /// The server's adapter (shared by every namespace): broadcasts and fleet-wide room
    /// operations go through it.
    pub(crate) adapter: Arc<dyn Adapter>,
    /// The server's observer slot (shared by every namespace).
    pub(crate) observer: Arc<ObserverSlot>,
    /// Made on a client's CONNECT (`AcceptNamespaces`), not by the application: removed
    /// when its last socket leaves. Cleared when the application creates it after all.
    pub(crate) dynamic: AtomicBool,
}

impl NamespaceInner {
    pub(crate) fn new(
        name: &str,
        (adapter, observer): (Arc<dyn Adapter>, Arc<ObserverSlot>),
        dynamic: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: Arc::from(name),
            handlers: RwLock::new(Handlers::default()),
            sockets: RwLock::new(HashMap::new()),
            rooms: Rooms::new(),
            adapter,
            observer,
            dynamic: AtomicBool::new(dynamic),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sockets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// This namespace's own handler for event `name`: the event's, else its catch-all
    /// event handler.
    fn event_handler(&self, name: &str) -> Option<EventHandler> {
        let handlers = self.handlers();
        handlers.events.get(name).or(handlers.any.as_ref()).cloned()
    }

    fn handlers(&self) -> std::sync::RwLockReadGuard<'_, Handlers> {
        self.handlers.read().unwrap_or_else(|p| p.into_inner())
    }

    fn handlers_mut(&self) -> std::sync::RwLockWriteGuard<'_, Handlers> {
        self.handlers.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn connect_handler(&self) -> Option<ConnectHandler> {
        self.handlers().connect.clone()
    }

    pub(crate) fn disconnect_handler(&self) -> Option<DisconnectHandler> {
        self.handlers().disconnect.clone()
    }

    pub(crate) fn add_socket(&self, socket: &Arc<SocketInner>) {
        self.sockets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(socket.id, Arc::clone(socket));
        self.rooms.add_socket(socket.id);
        self.adapter.socket_added(&self.name, socket.id);
    }

    pub(crate) fn remove_socket(&self, socket: &SocketInner) {
        self.rooms.remove_socket(socket.id, |room| {
            self.adapter.room_removed(&self.name, room);
        });
        self.adapter.socket_removed(&self.name, socket.id);
        self.sockets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&socket.id);
    }

    /// Adds local socket `sid` to `rooms`, telling the adapter of rooms it created (and an
    /// observer of each room it joined).
    pub(crate) fn join(&self, sid: Sid, rooms: &[Room]) {
        let observer = self.observer.get();
        let mut joined = Vec::new();
        self.rooms.join(sid, rooms, |room, first| {
            if first {
                self.adapter.room_created(&self.name, room);
            }
            if observer.is_some() {
                joined.push(Arc::clone(room));
            }
        });
        if let Some(observer) = observer {
            for room in joined {
                observer.joined(&self.name, sid, &room);
            }
        }
    }

    /// Takes local socket `sid` out of `room`.
    pub(crate) fn leave(&self, sid: Sid, room: &str) {
        let was_in = self.rooms.leave(sid, room, || {
            self.adapter.room_removed(&self.name, &Room::from(room));
        });
        if let Some(observer) = self.observer.get().filter(|_| was_in) {
            observer.left(&self.name, sid, room);
        }
    }

    /// Takes local socket `sid` out of every room it joined.
    pub(crate) fn leave_all(&self, sid: Sid) {
        let left = self.rooms.leave_all(sid, |room| {
            self.adapter.room_removed(&self.name, room);
        });
        if let Some(observer) = self.observer.get() {
            for room in left {
                observer.left(&self.name, sid, &room);
            }
        }
    }

    /// The local sockets `opts` selects.
    pub(crate) fn targets(&self, opts: &BroadcastOptions) -> Vec<Arc<SocketInner>> {
        let sids = self.rooms.targets(opts);
        self.sockets_for(&sids)
    }

    /// Refuses `rooms` for `joiners` when one of the rooms is the own id room of a
    /// connected socket that is not the joiner. The rooms are looked at once, under one
    /// read lock, however many sockets join.
    pub(crate) fn check_joinable(&self, joiners: &[Sid], rooms: &[Room]) -> Result<(), RoomError> {
        let sockets = self.sockets.read().unwrap_or_else(|p| p.into_inner());
        for room in rooms {
            if let Some(owner) = Sid::parse(room).filter(|owner| sockets.contains_key(owner)) {
                if joiners.iter().any(|&joiner| joiner != owner) {
                    return Err(RoomError::SidRoom(Arc::clone(room)));
                }
            }
        }
        Ok(())
    }

    /// Whether `room` is a connected socket's own id room.
    pub(crate) fn is_sid_room(&self, room: &str) -> bool {
        Sid::parse(room).is_some_and(|sid| self.socket(sid).is_some())
    }

    pub(crate) fn socket(&self, sid: Sid) -> Option<Arc<SocketInner>> {
        self.sockets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&sid)
            .cloned()
    }

    /// Resolves sids to sockets. The locks are released before anything is sent, since
    /// sending can disconnect a slow client, which takes these locks for writing.
    pub(crate) fn sockets_for(&self, sids: &[Sid]) -> Vec<Arc<SocketInner>> {
        let sockets = self.sockets.read().unwrap_or_else(|p| p.into_inner());
        sids.iter()
            .filter_map(|sid| sockets.get(sid).cloned())
            .collect()
    }

    pub(crate) fn all_sockets(&self) -> Vec<Arc<SocketInner>> {
        self.sockets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// How many sockets are connected here now.
    pub(crate) fn socket_count(&self) -> usize {
        self.sockets.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub(crate) fn dispatch_event(
        socket: Arc<SocketInner>,
        name: String,
        args: Payload,
        ack: Option<u64>,
    ) {
        socket.session.engine.metrics.event_received();
        if let Some(observer) = socket.ns.observer.get() {
            observer.event_received(&Socket(Arc::clone(&socket)), &name, &args);
        }
        // Its own handlers first, then those of the catch-all namespace `*`, as
        // python-socketio resolves them.
        let handler = socket.ns.event_handler(&name).or_else(|| {
            let all = socket.session.handler().catch_all()?;
            all.event_handler(&name)
        });
        let Some(handler) = handler else {
            tracing::trace!(event = %crate::clip::clip(&name), "no handler");
            return;
        };
        let socket = Socket(socket);
        let ack = ack.map(|id| AckSender::new(socket.clone(), id));
        run_inline(handler(socket, Event::new(name, args, ack)));
    }
}

/// The local half of every adapter operation: this server's sockets of the namespace.
impl LocalNamespace for NamespaceInner {
    fn name(&self) -> &str {
        &self.name
    }

    fn broadcast(&self, packet: &BroadcastPacket<'_>, opts: &BroadcastOptions) -> usize {
        let targets = self.targets(opts);
        if targets.is_empty() {
            return 0;
        }
        let text = codec::encode_event(&self.name, packet.event, packet.args, None);
        let binary = packet.args.binary();
        let volatile = opts.flags.volatile;
        let deliver = |socket: &SocketInner, item: Outbound| {
            if volatile {
                socket.send_volatile(item)
            } else {
                socket.send(item).is_ok()
            }
        };
        let sent = if let [socket] = targets.as_slice() {
            usize::from(deliver(socket, Outbound::single(text, binary.to_vec())))
        } else {
            let shared = OutPacket::new(text, binary.to_vec());
            targets
                .iter()
                .filter(|socket| deliver(socket, Outbound::Packet(Arc::clone(&shared))))
                .count()
        };
        // Every socket here belongs to this server's one engine: one add per broadcast.
        targets[0].session.engine.metrics.events_sent(sent);
        if let Some(observer) = self.observer.get() {
            let sids: Vec<Sid> = targets.iter().map(|socket| socket.id).collect();
            observer.event_sent(&self.name, &sids, packet.event, packet.args);
        }
        sent
    }

    fn broadcast_with_ack(
        &self,
        packet: &BroadcastPacket<'_>,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> Vec<AdapterFuture<AckReply>> {
        self.targets(opts)
            .into_iter()
            .map(|socket| {
                let sid: Arc<str> = Arc::from(socket.id.as_str());
                let sent = socket.send_with_ack(packet.event, packet.args);
                let wait: AdapterFuture<AckReply> = Box::pin(async move {
                    let result = wait_ack(socket, sent, timeout).await;
                    AckReply { sid, result }
                });
                wait
            })
            .collect()
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for sid in self.rooms.targets(opts) {
            // Another connected socket's own id room is never joined.
            let allowed: Vec<Room> = rooms
                .iter()
                .filter(|room| {
                    self.check_joinable(&[sid], std::slice::from_ref(*room))
                        .is_ok()
                })
                .cloned()
                .collect();
            self.join(sid, &allowed);
        }
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for sid in self.rooms.targets(opts) {
            for room in rooms {
                self.leave(sid, room);
            }
        }
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        for socket in self.targets(opts) {
            let socket = Socket(socket);
            if close {
                socket.close_connection();
            } else {
                socket.disconnect();
            }
        }
    }

    fn fetch_sockets(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        self.targets(opts)
            .into_iter()
            .map(|socket| SocketInfo {
                id: Arc::from(socket.id.as_str()),
                rooms: Socket(socket).rooms(),
                local: true,
            })
            .collect()
    }

    fn rooms(&self) -> Vec<Room> {
        self.rooms.rooms()
    }

    fn has_socket(&self, sid: &str) -> bool {
        Sid::parse(sid).is_some_and(|sid| self.rooms.contains(sid))
    }
}

/// The auth payload a client sent with its namespace CONNECT.
#[derive(Debug, Clone, Default)]
pub struct Auth(Option<String>);

impl Auth {
    pub(crate) fn new(json: Option<String>) -> Self {
        Self(json)
    }

    /// The auth object as JSON text, if the client sent one.
    pub fn json(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Parses the auth object into `T` (an absent payload parses as `null`).
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.as_deref().unwrap_or("null"))
    }
}

/// A handle to one namespace: register handlers, emit, and manage rooms. Cheap to
/// clone, `Send + Sync`.
///
/// ```no_run
/// # async fn demo(server: ferrosocket::Server) {
/// use ferrosocket::{ConnectRefused, Payload};
/// let admin = server.of("/admin");
/// admin.on_connect(|_socket, auth| async move {
///     match auth.parse::<serde_json::Value>() {
///         Ok(v) if v["token"] == "secret" => Ok(()),
///         _ => Err(ConnectRefused::new("unauthorized")),
///     }
/// });
/// admin.on("ping", |_socket, mut event| async move {
///     let _ = event.ack(&Payload::one("pong").unwrap());
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct Namespace(pub(crate) Arc<NamespaceInner>);

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Namespace").field(&self.0.name).finish()
    }
}

impl Namespace {
    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Handles event `event`. The handler runs on a tokio task; it starts in the order
    /// the client's events arrived and runs inline until it first awaits.
    pub fn on<F, Fut>(&self, event: &str, handler: F) -> &Self
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: EventHandler = Arc::new(move |s, e| Box::pin(handler(s, e)));
        self.0
            .handlers_mut()
            .events
            .insert(event.to_owned(), handler);
        self
    }

    /// Handles every event that has no handler of its own.
    pub fn on_any<F, Fut>(&self, handler: F) -> &Self
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.0.handlers_mut().any = Some(Arc::new(move |s, e| Box::pin(handler(s, e))));
        self
    }

    /// Decides whether a client may connect. Until it returns the socket is connecting:
    /// it may join rooms and be emitted to, and whatever is emitted reaches the client
    /// after the CONNECT acknowledgement. Returning `Err` refuses the client with a
    /// CONNECT_ERROR carrying the message and data.
    pub fn on_connect<F, Fut>(&self, handler: F) -> &Self
    where
        F: Fn(Socket, Auth) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectRefused>> + Send + 'static,
    {
        self.0.handlers_mut().connect = Some(Arc::new(move |s, a| Box::pin(handler(s, a))));
        self
    }

    /// Runs when a connected socket leaves, with the reason.
    pub fn on_disconnect<F, Fut>(&self, handler: F) -> &Self
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.0.handlers_mut().disconnect = Some(Arc::new(move |s, r| Box::pin(handler(s, r))));
        self
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(Arc::clone(&self.0))
    }

    /// Targets `rooms` (socket ids are rooms too).
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().to(rooms)
    }

    /// Targets this server's sockets of the namespace only (never published to the
    /// fleet).
    pub fn local(&self) -> BroadcastOperator {
        self.operator().local()
    }

    /// Targets the namespace minus `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().except(rooms)
    }

    /// Emits to every socket of the namespace; returns how many it reached.
    pub fn emit(&self, event: &str, args: &Payload) -> usize {
        self.operator().emit(event, args)
    }

    /// Emits to every socket and collects each one's acknowledgement.
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: &Payload,
        timeout: Duration,
    ) -> impl Future<Output = Vec<AckReply>> + Send + 'static {
        self.operator().emit_with_ack(event, args, timeout)
    }

    /// A connected socket by id.
    pub fn socket(&self, sid: Sid) -> Option<Socket> {
        self.0.socket(sid).map(Socket)
    }

    /// Every connected socket.
    pub fn sockets(&self) -> Vec<Socket> {
        self.0.all_sockets().into_iter().map(Socket).collect()
    }

    /// Every room with members on this server (socket id rooms excluded). See
    /// [`all_rooms`](Self::all_rooms) for the whole fleet's.
    pub fn rooms(&self) -> Vec<Room> {
        self.0.rooms.rooms()
    }

    /// Every room with members on every server sharing this one's adapter.
    pub fn all_rooms(
        &self,
    ) -> impl Future<Output = Result<Vec<Room>, AdapterError>> + Send + 'static {
        self.0.adapter.all_rooms(&*self.0)
    }

    /// How many servers share this one's adapter (1 with the in-memory one).
    pub fn server_count(&self) -> impl Future<Output = usize> + Send + 'static {
        self.0.adapter.server_count()
    }

    /// Removes every socket from `room`. A socket's own id room cannot be closed
    /// ([`RoomError::CloseSidRoom`]): disconnect the socket instead.
    pub fn close_room(&self, room: &str) -> Result<(), RoomError> {
        if self.0.is_sid_room(room) {
            return Err(RoomError::CloseSidRoom(Room::from(room)));
        }
        self.0.adapter.close_room(&*self.0, &Room::from(room));
        Ok(())
    }
}
