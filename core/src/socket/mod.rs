//! Socket.IO sockets: one per namespace a client connected to.
//!
//! [`SocketIo`] is the Socket.IO layer as the engine sees it: the engine [`Handler`]
//! holding the namespace registry. [`Connection`], its per-session data, is the
//! Socket.IO side of one Engine.IO session: it decodes packets, reassembles binary
//! ones, and routes them to the namespace sockets it owns. [`Socket`] is the public
//! handle to one namespace socket. [`namespace`] holds namespaces and their handlers,
//! [`broadcast`] emitting to many sockets; the three refer to each other and form one
//! layer, which is why they are one module.

pub(crate) mod broadcast;
pub(crate) mod namespace;
pub(crate) mod observe;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use self::broadcast::{BroadcastOperator, IntoRooms};
use self::namespace::{Auth, NamespaceInner};
use crate::adapter::{Adapter, LocalNamespace, LocalServer, Room};
use crate::clip::clip;
use crate::engine::{self, lock, BoxFuture, Handler, Handshake, Outbound};
use crate::error::{AckError, ConnectRefused, DisconnectReason, RoomError, SendError};
use crate::protocol::socket::{self as codec, BinaryAssembler, Borrowed, Decoded, Packet};
use crate::protocol::Payload;
use crate::sid::Sid;

/// An Engine.IO session carrying Socket.IO.
pub(crate) type Session = engine::Session<SocketIo>;

type Registry = RwLock<HashMap<String, Arc<NamespaceInner>>>;

/// The Socket.IO layer over the engine: the registry of namespaces, and the engine
/// [`Handler`] that routes each session's messages to its [`Connection`].
pub(crate) struct SocketIo {
    /// Every namespace: those the application created, the catch-all `/*` (a template
    /// of handlers no client connects to), and those made on a client's CONNECT
    /// (`AcceptNamespaces`). Written when a namespace is added or a made one empties.
    /// A socket is added to its namespace while this is read-locked, and a made
    /// namespace is removed only under the write lock once it has no socket, so no
    /// socket ever joins a namespace that is no longer in the registry.
    /// Shared (weakly) with the adapter, which applies what other servers publish.
    pub(crate) namespaces: Arc<Registry>,
    /// How many of `namespaces` were made on a CONNECT; changed only under its write
    /// lock, so it is exact there.
    dynamic: AtomicUsize,
    /// Rooms and broadcasts of every namespace: in memory, or shared with a fleet.
    pub(crate) adapter: Arc<dyn Adapter>,
    /// Told of sockets, rooms and events while an observer is set (the Admin UI's
    /// development mode); shared with every namespace.
    pub(crate) observer: Arc<observe::ObserverSlot>,
    /// Set while the Admin UI is served ([`crate::admin`]): one instrumentation at a time.
    pub(crate) instrumented: std::sync::atomic::AtomicBool,
}

/// Why a CONNECT found no namespace.
enum NoNamespace {
    /// Nobody created it and the configuration does not accept it.
    Invalid,
    /// Accepted, but `max_dynamic_namespaces` namespaces made on CONNECT exist.
    TooMany,
}

impl SocketIo {
    pub(crate) fn new(adapter: Arc<dyn Adapter>) -> Self {
        let namespaces = Arc::new(RwLock::new(HashMap::new()));
        adapter.init(Arc::new(RegistryHandle(Arc::downgrade(&namespaces))));
        Self {
            namespaces,
            dynamic: AtomicUsize::new(0),
            adapter,
            observer: Arc::default(),
            instrumented: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn namespace(&self, name: &str) -> Option<Arc<NamespaceInner>> {
        self.namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Every namespace clients can be in (the catch-all excluded) and its socket count.
    pub(crate) fn socket_counts(&self) -> Vec<(String, usize)> {
        self.all_namespaces()
            .iter()
            .map(|ns| (ns.name.to_string(), ns.socket_count()))
            .collect()
    }

    /// What every namespace shares with the server: its adapter and observer slot.
    fn shared(&self) -> (Arc<dyn Adapter>, Arc<observe::ObserverSlot>) {
        (Arc::clone(&self.adapter), Arc::clone(&self.observer))
    }

    /// Every namespace clients can be in (the catch-all excluded), by name.
    pub(crate) fn all_namespaces(&self) -> Vec<Arc<NamespaceInner>> {
        let mut all: Vec<Arc<NamespaceInner>> = self
            .namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(name, _)| name.as_str() != CATCH_ALL)
            .map(|(_, ns)| Arc::clone(ns))
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The catch-all namespace `/*`, whose handlers serve every namespace for what it
    /// has no handler of its own.
    pub(crate) fn catch_all(&self) -> Option<Arc<NamespaceInner>> {
        self.namespace(CATCH_ALL)
    }

    /// The namespace `name`, created by the application if needed; one made on a
    /// CONNECT becomes the application's (it is never removed).
    pub(crate) fn create(&self, name: &str) -> Arc<NamespaceInner> {
        let mut namespaces = self.namespaces.write().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = namespaces.get(name) {
            if existing.dynamic.swap(false, Ordering::AcqRel) {
                self.dynamic.fetch_sub(1, Ordering::Relaxed);
            }
            return Arc::clone(existing);
        }
        let inner = NamespaceInner::new(name, self.shared(), false);
        namespaces.insert(name.to_owned(), Arc::clone(&inner));
        drop(namespaces);
        if name != CATCH_ALL {
            self.adapter.namespace_created(name);
        }
        inner
    }

    /// Adds the socket `make` builds to namespace `name`, making the namespace first
    /// when `accept` allows and the bound leaves room.
    fn attach(
        &self,
        name: &str,
        accept: &crate::config::AcceptNamespaces,
        max_dynamic: usize,
        make: impl FnOnce(&Arc<NamespaceInner>) -> Arc<SocketInner>,
    ) -> Result<Arc<SocketInner>, NoNamespace> {
        if name == CATCH_ALL {
            return Err(NoNamespace::Invalid);
        }
        {
            let namespaces = self.namespaces.read().unwrap_or_else(|p| p.into_inner());
            if let Some(ns) = namespaces.get(name) {
                let socket = make(ns);
                ns.add_socket(&socket);
                return Ok(socket);
            }
        }
        if !accept.accepts(name) {
            return Err(NoNamespace::Invalid);
        }
        let mut namespaces = self.namespaces.write().unwrap_or_else(|p| p.into_inner());
        let ns = match namespaces.get(name) {
            Some(ns) => Arc::clone(ns),
            None => {
                if self.dynamic.load(Ordering::Relaxed) >= max_dynamic {
                    return Err(NoNamespace::TooMany);
                }
                let ns = NamespaceInner::new(name, self.shared(), true);
                namespaces.insert(name.to_owned(), Arc::clone(&ns));
                self.dynamic.fetch_add(1, Ordering::Relaxed);
                self.adapter.namespace_created(name);
                ns
            }
        };
        let socket = make(&ns);
        ns.add_socket(&socket);
        Ok(socket)
    }

    /// Removes `ns` when it was made on a CONNECT and its last socket has left.
    fn forget_if_empty(&self, ns: &Arc<NamespaceInner>) {
        if !ns.dynamic.load(Ordering::Acquire) || !ns.is_empty() {
            return;
        }
        let mut namespaces = self.namespaces.write().unwrap_or_else(|p| p.into_inner());
        // Re-checked under the write lock: sockets are added under the read lock.
        let current = namespaces
            .get(&*ns.name)
            .is_some_and(|current| Arc::ptr_eq(current, ns));
        if current && ns.dynamic.load(Ordering::Acquire) && ns.is_empty() {
            namespaces.remove(&*ns.name);
            self.dynamic.fetch_sub(1, Ordering::Relaxed);
            self.adapter.namespace_removed(&ns.name);
            tracing::debug!(nsp = %clip(&ns.name), "namespace made on connect removed, empty");
        }
    }
}

/// The namespace registry as the adapter sees it (weakly: the adapter never keeps the
/// server alive).
struct RegistryHandle(std::sync::Weak<Registry>);

impl LocalServer for RegistryHandle {
    fn namespace(&self, name: &str) -> Option<Arc<dyn LocalNamespace>> {
        if name == CATCH_ALL {
            return None;
        }
        let registry = self.0.upgrade()?;
        let ns = registry
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()?;
        Some(ns)
    }
}

/// The name of the catch-all namespace as the registry spells it (`"*"` normalized).
pub(crate) const CATCH_ALL: &str = "/*";

/// Statically dispatched: the engine is generic over its handler, so every packet
/// reaches [`Connection`] without a virtual call.
impl Handler for SocketIo {
    type Data = Connection;

    /// Nothing to do until the client sends a namespace CONNECT.
    fn on_open(&self, _session: &Arc<Session>) {}

    fn on_message(&self, session: &Arc<Session>, text: &str) -> Result<(), DisconnectReason> {
        session.data().on_text(session, text)
    }

    fn on_binary(&self, session: &Arc<Session>, data: Bytes) -> Result<(), DisconnectReason> {
        session.data().on_binary(session, data)
    }

    fn on_close(&self, session: &Arc<Session>, reason: DisconnectReason) {
        session.data().close_all(reason);
    }

    fn on_upgrade(&self, session: &Arc<Session>) {
        if let Some(observer) = self.observer.get() {
            let sockets: Vec<Socket> = lock(&session.data().sockets)
                .iter()
                .map(|socket| Socket(Arc::clone(socket)))
                .collect();
            observer.upgraded(&sockets);
        }
    }

    /// Whether the client connected to a namespace (checked once, at the connect timeout).
    fn is_attached(&self, session: &Session) -> bool {
        session.data().has_connected()
    }
}

const CONNECTING: u8 = 0;
const CONNECTED: u8 = 1;
const DISCONNECTED: u8 = 2;

/// The Socket.IO state of one Engine.IO session.
#[derive(Default)]
pub(crate) struct Connection {
    /// The namespace sockets of this client (usually one). Holding them here is what
    /// keeps them alive; a socket removes itself on disconnect.
    sockets: Mutex<Vec<Arc<SocketInner>>>,
    /// A binary packet waiting for its attachments. Only the transport's reader touches
    /// it, one packet at a time. Boxed: an assembler is some 170 bytes and most
    /// connections never have one, while this field is part of every connection's
    /// memory.
    partial: Mutex<Option<Box<BinaryAssembler>>>,
}

impl Connection {
    fn find(&self, nsp: &str) -> Option<Arc<SocketInner>> {
        lock(&self.sockets)
            .iter()
            .find(|s| &*s.ns.name == nsp)
            .cloned()
    }

    pub(crate) fn has_connected(&self) -> bool {
        !lock(&self.sockets).is_empty()
    }

    fn remove(&self, socket: &SocketInner) {
        lock(&self.sockets).retain(|s| s.id != socket.id);
    }

    /// Handles the text of one Engine.IO message.
    pub(crate) fn on_text(
        &self,
        session: &Arc<Session>,
        text: &str,
    ) -> Result<(), DisconnectReason> {
        if lock(&self.partial).is_some() {
            tracing::info!(sid = %session.id, "text packet while binary attachments were expected");
            return Err(DisconnectReason::ParseError);
        }
        match codec::decode_borrowed(text) {
            Ok(Borrowed::Event {
                nsp,
                name,
                args,
                ack,
            }) => self.dispatch_event(session, nsp, name, args, ack),
            Ok(Borrowed::Ack { nsp, id, args }) => {
                self.dispatch_ack(nsp, id, args);
                Ok(())
            }
            Ok(Borrowed::Other(Decoded::Complete(packet))) => self.dispatch(session, packet),
            Ok(Borrowed::Other(Decoded::Partial(mut assembler))) => {
                // Attachments are held until the packet completes: refuse them for a
                // namespace this client is not in (before any CONNECT, say), and count
                // the whole packet against the max payload, as one message is.
                if self.find(assembler.namespace()).is_none() {
                    tracing::info!(
                        sid = %session.id,
                        nsp = %clip(assembler.namespace()),
                        "binary packet for a namespace the client is not connected to"
                    );
                    return Err(DisconnectReason::ParseError);
                }
                if let Err(error) = assembler.limit(session.config().max_payload) {
                    tracing::info!(sid = %session.id, %error, "binary packet refused");
                    return Err(DisconnectReason::ParseError);
                }
                *lock(&self.partial) = Some(Box::new(assembler));
                Ok(())
            }
            Err(error) => {
                tracing::info!(sid = %session.id, %error, "malformed socket.io packet");
                Err(DisconnectReason::ParseError)
            }
        }
    }

    /// Handles one binary Engine.IO message (an attachment).
    pub(crate) fn on_binary(
        &self,
        session: &Arc<Session>,
        data: Bytes,
    ) -> Result<(), DisconnectReason> {
        let mut partial = lock(&self.partial);
        let Some(assembler) = partial.as_mut() else {
            tracing::info!(sid = %session.id, "binary frame with no binary packet pending");
            return Err(DisconnectReason::ParseError);
        };
        match assembler.push(data) {
            Ok(None) => Ok(()),
            Ok(Some(packet)) => {
                *partial = None;
                drop(partial);
                self.dispatch(session, packet)
            }
            Err(error) => {
                *partial = None;
                tracing::info!(sid = %session.id, %error, "invalid binary packet");
                Err(DisconnectReason::ParseError)
            }
        }
    }

    fn dispatch(&self, session: &Arc<Session>, packet: Packet) -> Result<(), DisconnectReason> {
        match packet {
            Packet::Connect { nsp, auth } => {
                self.connect(session, &nsp, auth);
                Ok(())
            }
            Packet::Disconnect { nsp } => {
                if let Some(socket) = self.find(&nsp) {
                    socket.disconnect_with(DisconnectReason::ClientNamespaceDisconnect, false);
                }
                Ok(())
            }
            Packet::Event {
                nsp,
                name,
                args,
                ack,
            } => self.dispatch_event(session, &nsp, name, args, ack),
            Packet::Ack { nsp, id, args } => {
                self.dispatch_ack(&nsp, id, args);
                Ok(())
            }
        }
    }

    fn dispatch_event(
        &self,
        session: &Arc<Session>,
        nsp: &str,
        name: String,
        args: Payload,
        ack: Option<u64>,
    ) -> Result<(), DisconnectReason> {
        match self.find(nsp) {
            Some(socket) if socket.state.load(Ordering::Acquire) == CONNECTED => {
                NamespaceInner::dispatch_event(socket, name, args, ack);
                Ok(())
            }
            _ => {
                tracing::info!(sid = %session.id, nsp = %clip(nsp), "event for a namespace the client is not connected to");
                Err(DisconnectReason::ParseError)
            }
        }
    }

    fn dispatch_ack(&self, nsp: &str, id: u64, args: Payload) {
        if let Some(socket) = self.find(nsp) {
            socket.resolve_ack(id, args);
        }
    }

    fn connect(&self, session: &Arc<Session>, nsp: &str, auth: Option<String>) {
        if self.find(nsp).is_some() {
            tracing::debug!(sid = %session.id, nsp = %clip(nsp), "duplicate connect ignored");
            return;
        }
        let config = session.config();
        let sio = session.handler();
        let attached = sio.attach(
            nsp,
            &config.namespaces,
            config.max_dynamic_namespaces,
            |ns| {
                Arc::new(SocketInner {
                    id: Sid::new(),
                    ns: Arc::clone(ns),
                    session: Arc::clone(session),
                    state: AtomicU8::new(CONNECTING),
                    pending: Mutex::new(Vec::new()),
                    next_ack: AtomicU64::new(0),
                    acks: Mutex::new(HashMap::new()),
                })
            },
        );
        let socket = match attached {
            Ok(socket) => socket,
            Err(why) => {
                let message = match why {
                    NoNamespace::Invalid => "Invalid namespace",
                    NoNamespace::TooMany => {
                        tracing::warn!(
                            nsp = %clip(nsp),
                            max = config.max_dynamic_namespaces,
                            "connect refused: max_dynamic_namespaces namespaces made on connect exist"
                        );
                        "Too many namespaces"
                    }
                };
                let text = codec::encode_connect_error(nsp, message, None);
                let _ = session.send(Outbound::Text(text));
                return;
            }
        };
        lock(&self.sockets).push(Arc::clone(&socket));
        let ns = Arc::clone(&socket.ns);
        let handler = ns
            .connect_handler()
            .or_else(|| sio.catch_all().and_then(|all| all.connect_handler()));
        let always_connect = config.always_connect;
        if always_connect {
            socket.finish_connect();
        }
        run_inline(Box::pin(async move {
            let result = match handler {
                Some(handler) => handler(Socket(Arc::clone(&socket)), Auth::new(auth)).await,
                None => Ok(()),
            };
            match result {
                Ok(()) => socket.finish_connect(),
                Err(refused) if always_connect => socket.take_back(refused),
                Err(refused) => socket.refuse(refused),
            }
        }));
    }

    /// Disconnects every namespace socket (the session is closing).
    pub(crate) fn close_all(&self, reason: DisconnectReason) {
        let sockets = std::mem::take(&mut *lock(&self.sockets));
        *lock(&self.partial) = None;
        for socket in sockets {
            socket.disconnect_with(reason, false);
        }
    }
}

/// Runs a handler's future on the calling task until it first waits, and only then
/// spawns the rest. Handlers that do not wait (the common case) therefore run in the
/// order their packets arrived, without a task spawn per event.
pub(crate) fn run_inline(mut future: BoxFuture<()>) {
    let mut cx = Context::from_waker(Waker::noop());
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        future.as_mut().poll(&mut cx)
    }));
    match polled {
        Ok(Poll::Ready(())) => {}
        // Futures re-register their wakers on every poll, so the task's next poll
        // replaces the no-op waker used above.
        Ok(Poll::Pending) => {
            tokio::spawn(future);
        }
        Err(_) => tracing::error!("a handler panicked; the server goes on"),
    }
}

pub(crate) struct SocketInner {
    pub(crate) id: Sid,
    pub(crate) ns: Arc<NamespaceInner>,
    pub(crate) session: Arc<Session>,
    state: AtomicU8,
    /// What was emitted to this socket while its connect handler ran; written right
    /// after the CONNECT acknowledgement so the client sees `connect` first.
    pending: Mutex<Vec<Outbound>>,
    next_ack: AtomicU64,
    /// Server→client emits waiting for the client's ack, by ack id. Dropping a sender
    /// (on disconnect) wakes its waiter with `AckError::Disconnected`.
    acks: Mutex<HashMap<u64, oneshot::Sender<Payload>>>,
}

impl SocketInner {
    pub(crate) fn send(&self, item: Outbound) -> Result<(), SendError> {
        match self.state.load(Ordering::Acquire) {
            CONNECTED => self.session.send(item),
            CONNECTING => {
                let mut pending = lock(&self.pending);
                // Re-check under the lock: `finish_connect` flips the state while holding it.
                match self.state.load(Ordering::Acquire) {
                    CONNECTING if pending.len() < self.session.config().max_queued_packets => {
                        pending.push(item);
                        Ok(())
                    }
                    CONNECTING => Err(SendError::QueueFull),
                    CONNECTED => {
                        drop(pending);
                        self.session.send(item)
                    }
                    _ => Err(SendError::Disconnected),
                }
            }
            _ => Err(SendError::Disconnected),
        }
    }

    /// [`send`](Self::send) for a volatile emit: only to a connected socket, and dropped
    /// (false) rather than queued when its queue is half full.
    pub(crate) fn send_volatile(&self, item: Outbound) -> bool {
        self.state.load(Ordering::Acquire) == CONNECTED && self.session.send_volatile(item)
    }

    fn finish_connect(self: &Arc<Self>) {
        let mut pending = lock(&self.pending);
        if self.state.load(Ordering::Acquire) != CONNECTING {
            return;
        }
        let ack = codec::encode_connect(&self.ns.name, self.id.as_str());
        let mut items = Vec::with_capacity(pending.len() + 1);
        items.push(Outbound::Text(ack));
        items.append(&mut pending);
        *pending = Vec::new();
        self.state.store(CONNECTED, Ordering::Release);
        drop(pending);
        let _ = self.session.send_all(items);
        if let Some(observer) = self.ns.observer.get() {
            observer.connected(&Socket(Arc::clone(self)));
        }
    }

    fn refuse(&self, refused: ConnectRefused) {
        if self.state.swap(DISCONNECTED, Ordering::AcqRel) == DISCONNECTED {
            return;
        }
        *lock(&self.pending) = Vec::new();
        self.session.data().remove(self);
        self.leave_namespace();
        let text =
            codec::encode_connect_error(&self.ns.name, &refused.message, refused.data.as_deref());
        let _ = self.session.send(Outbound::Text(text));
    }

    /// Takes the socket out of its namespace, and the namespace out of the registry when
    /// it was made on a CONNECT and is now empty.
    fn leave_namespace(&self) {
        self.ns.remove_socket(self);
        self.session.handler().forget_if_empty(&self.ns);
    }

    /// Disconnects a socket acknowledged before its connect handler ran
    /// (`always_connect`) that the handler then refused: `41` with the refusal, and no
    /// disconnect handler, since the application never accepted it.
    fn take_back(&self, refused: ConnectRefused) {
        if self.state.swap(DISCONNECTED, Ordering::AcqRel) == DISCONNECTED {
            return;
        }
        *lock(&self.pending) = Vec::new();
        self.session.data().remove(self);
        self.leave_namespace();
        self.clear_acks();
        let text = codec::encode_disconnect_refused(
            &self.ns.name,
            &refused.message,
            refused.data.as_deref(),
        );
        let _ = self.session.send(Outbound::Text(text));
    }

    /// Leaves the namespace once. `tell_client` sends the `41` packet (server-initiated).
    pub(crate) fn disconnect_with(self: &Arc<Self>, reason: DisconnectReason, tell_client: bool) {
        let previous = self.state.swap(DISCONNECTED, Ordering::AcqRel);
        if previous == DISCONNECTED {
            return;
        }
        if tell_client {
            let text = codec::encode_disconnect(&self.ns.name);
            let _ = self.session.send(Outbound::Text(text));
        }
        let observed = (previous == CONNECTED)
            .then(|| self.ns.observer.get())
            .flatten()
            .map(|observer| (observer, Socket(Arc::clone(self)).rooms()));
        *lock(&self.pending) = Vec::new();
        self.session.data().remove(self);
        self.leave_namespace();
        self.clear_acks();
        if let Some((observer, rooms)) = observed {
            observer.disconnected(&Socket(Arc::clone(self)), &rooms, reason);
        }
        tracing::debug!(sid = %self.id, nsp = %self.ns.name, %reason, "socket disconnected");
        if previous == CONNECTED {
            let handler = self.ns.disconnect_handler().or_else(|| {
                let all = self.session.handler().catch_all()?;
                all.disconnect_handler()
            });
            if let Some(handler) = handler {
                run_inline(handler(Socket(Arc::clone(self)), reason));
            }
        }
    }

    fn resolve_ack(&self, id: u64, args: Payload) {
        let waiter = lock(&self.acks).remove(&id);
        if let Some(waiter) = waiter {
            self.session.engine.metrics.acks_pending(-1);
            let _ = waiter.send(args);
        }
    }

    /// Registers an ack waiter and sends the event asking for it.
    pub(crate) fn send_with_ack(
        &self,
        event: &str,
        args: &Payload,
    ) -> Result<(u64, oneshot::Receiver<Payload>), SendError> {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.acks).insert(id, tx);
        let metrics = &self.session.engine.metrics;
        metrics.acks_pending(1);
        let text = codec::encode_event(&self.ns.name, event, args, Some(id));
        if let Err(error) = self.send(Outbound::single(text, args.binary().to_vec())) {
            self.forget_ack(id);
            return Err(error);
        }
        metrics.events_sent(1);
        if let Some(observer) = self.ns.observer.get() {
            observer.event_sent(&self.ns.name, &[self.id], event, args);
        }
        Ok((id, rx))
    }

    pub(crate) fn forget_ack(&self, id: u64) {
        if lock(&self.acks).remove(&id).is_some() {
            self.session.engine.metrics.acks_pending(-1);
        }
    }

    /// Drops every ack waiter (the socket left): their emits end as `Disconnected`.
    fn clear_acks(&self) {
        let dropped = std::mem::take(&mut *lock(&self.acks));
        if !dropped.is_empty() {
            self.session
                .engine
                .metrics
                .acks_pending(-(dropped.len() as i64));
        }
    }
}

/// Waits for an ack registered with `send_with_ack`.
pub(crate) async fn wait_ack(
    socket: Arc<SocketInner>,
    sent: Result<(u64, oneshot::Receiver<Payload>), SendError>,
    timeout: Duration,
) -> Result<Payload, AckError> {
    let (id, rx) = sent.map_err(|_| AckError::Disconnected)?;
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(args)) => Ok(args),
        Ok(Err(_)) => Err(AckError::Disconnected),
        Err(_) => {
            socket.forget_ack(id);
            socket.session.engine.metrics.ack_timed_out();
            Err(AckError::Timeout)
        }
    }
}

/// A handle to one client's socket in one namespace. Cheap to clone, `Send + Sync`;
/// every method may be called from any thread or task.
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.0.ns.name)
            .finish()
    }
}

impl Socket {
    /// This socket's id (distinct from the Engine.IO session id).
    pub fn id(&self) -> Sid {
        self.0.id
    }

    /// The Engine.IO session id shared by this client's namespace sockets.
    pub fn engine_id(&self) -> Sid {
        self.0.session.id
    }

    /// The namespace name, e.g. `/` or `/admin`.
    pub fn namespace(&self) -> &str {
        &self.0.ns.name
    }

    /// The HTTP request that opened the connection.
    pub fn handshake(&self) -> &Handshake {
        &self.0.session.handshake
    }

    /// Whether the socket is still connected to its namespace.
    pub fn connected(&self) -> bool {
        self.0.state.load(Ordering::Acquire) != DISCONNECTED
    }

    /// Whether the client is on the WebSocket transport (after an upgrade or directly).
    pub fn is_websocket(&self) -> bool {
        self.0.session.is_websocket()
    }

    /// Sends `event` with `args` to this client.
    pub fn emit(&self, event: &str, args: &Payload) -> Result<(), SendError> {
        let text = codec::encode_event(&self.0.ns.name, event, args, None);
        self.0
            .send(Outbound::single(text, args.binary().to_vec()))?;
        self.0.session.engine.metrics.events_sent(1);
        if let Some(observer) = self.0.ns.observer.get() {
            observer.event_sent(&self.0.ns.name, &[self.0.id], event, args);
        }
        Ok(())
    }

    /// Sends `event` and waits up to `timeout` for the client's acknowledgement.
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: &Payload,
        timeout: Duration,
    ) -> impl Future<Output = Result<Payload, AckError>> + Send + 'static {
        let sent = self.0.send_with_ack(event, args);
        wait_ack(Arc::clone(&self.0), sent, timeout)
    }

    /// Joins one or more rooms. A room named after another connected socket's id is
    /// refused ([`RoomError::SidRoom`]), and then none of `rooms` is joined.
    pub fn join(&self, rooms: impl IntoRooms) -> Result<(), RoomError> {
        let rooms = rooms.into_rooms();
        self.0.ns.check_joinable(&[self.0.id], &rooms)?;
        self.0.ns.join(self.0.id, &rooms);
        Ok(())
    }

    /// Leaves a room.
    pub fn leave(&self, room: &str) {
        self.0.ns.leave(self.0.id, room);
    }

    /// Leaves every room it joined (it stays in its own id room).
    pub fn leave_all(&self) {
        self.0.ns.leave_all(self.0.id);
    }

    /// The rooms it is in, its own id room first.
    pub fn rooms(&self) -> Vec<Room> {
        let own = Room::from(self.0.id.as_str());
        let joined = self.0.ns.rooms.rooms_of(self.0.id);
        let mut rooms = Vec::with_capacity(joined.len() + 1);
        rooms.push(Arc::clone(&own));
        // Joining its own id room explicitly is allowed; it is still listed once.
        rooms.extend(joined.into_iter().filter(|room| *room != own));
        rooms
    }

    /// Targets `rooms`, leaving this socket out (the usual "tell the others").
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        BroadcastOperator::new(Arc::clone(&self.0.ns))
            .to(rooms)
            .except(self.0.id)
    }

    /// Targets the whole namespace except this socket.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(Arc::clone(&self.0.ns)).except(self.0.id)
    }

    /// Disconnects this socket from its namespace; the client sees
    /// `io server disconnect`. Other namespaces of the client stay connected.
    pub fn disconnect(&self) {
        self.0
            .disconnect_with(DisconnectReason::ServerNamespaceDisconnect, true);
    }

    /// Closes the client's whole connection (every namespace), after sending a
    /// disconnect packet for each namespace.
    pub fn close_connection(&self) {
        let session = &self.0.session;
        let sockets = lock(&session.data().sockets).clone();
        for socket in sockets {
            socket.disconnect_with(DisconnectReason::ServerNamespaceDisconnect, true);
        }
        session.close(DisconnectReason::ServerNamespaceDisconnect);
    }
}

/// One event from a client, given to an event handler.
#[derive(Debug)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// Its arguments.
    pub args: Payload,
    ack: Option<AckSender>,
}

impl Event {
    pub(crate) fn new(name: String, args: Payload, ack: Option<AckSender>) -> Self {
        Self { name, args, ack }
    }

    /// Whether the client asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Acknowledges with `args`; does nothing if the client did not ask for an ack.
    /// Only the first acknowledgement is sent.
    pub fn ack(&mut self, args: &Payload) -> Result<(), SendError> {
        match self.ack.take() {
            Some(sender) => sender.send(args),
            None => Ok(()),
        }
    }

    /// Acknowledges with the event's own arguments, attachments included (an echo),
    /// without copying them first: `event.ack(&event.args)` cannot borrow the event twice.
    /// Does nothing if the client did not ask for an ack; only the first acknowledgement
    /// is sent.
    pub fn ack_echo(&mut self) -> Result<(), SendError> {
        match self.ack.take() {
            Some(sender) => sender.send(&self.args),
            None => Ok(()),
        }
    }

    /// Takes the ack sender out, to answer later (from another task or thread).
    pub fn take_ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }
}

/// Answers one client event's acknowledgement, once, from anywhere.
#[derive(Debug)]
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl AckSender {
    pub(crate) fn new(socket: Socket, id: u64) -> Self {
        Self { socket, id }
    }

    /// Sends the acknowledgement.
    pub fn send(self, args: &Payload) -> Result<(), SendError> {
        let inner = &self.socket.0;
        let text = codec::encode_ack(&inner.ns.name, self.id, args);
        inner.send(Outbound::single(text, args.binary().to_vec()))
    }
}
