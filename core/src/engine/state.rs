//! The engine's seam to the layer above it and the state it keeps of its own.
//!
//! Owns: the [`Handler`] trait (what the engine calls for each session), the engine
//! state ([`EngineState`]: configuration, session registry, connection slots, task
//! tracker, shutdown flags, HTTP fallback) and its public handle [`Engine`].
//! Never: names Socket.IO (`socket`, `namespace`) or the `server` handle; the Socket.IO
//! layer is one [`Handler`] among others.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{lock, Session};
use crate::config::Config;
use crate::error::DisconnectReason;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::sid::Sid;

/// A boxed, sendable future: what handlers of the layers above return.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Boxed error type of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of every response the server writes.
pub type ResponseBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;
/// Where a request came from and where it arrived, in the extensions of every request
/// the fallback gets (see [`Engine::set_fallback`]): `req.extensions().get::<ConnectionInfo>()`.
/// A WSGI bridge reads `REMOTE_ADDR` and the server's own address from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The peer's address (the client, or the proxy in front).
    pub remote: std::net::SocketAddr,
    /// The address the connection arrived at: this server's end of the TCP connection
    /// (the interface's own address when the listener is bound to a wildcard).
    pub local: std::net::SocketAddr,
}

pub(crate) type Fallback =
    Arc<dyn Fn(Request<Incoming>) -> BoxFuture<Response<ResponseBody>> + Send + Sync>;

/// What an [`Engine`] calls for each of its sessions: the layer above Engine.IO.
///
/// The engine owns transports, heartbeats and the outbound queue; a handler sees only
/// whole messages. The Socket.IO server is one implementation; a plain Engine.IO
/// server (messages in and out, no Socket.IO) is another, as in
/// `examples/engineio_echo`.
///
/// Every method runs on the connection's I/O task, in the order the client's packets
/// arrived: return quickly (spawn a task for slow work). An `Err` from a message
/// method closes the session with that reason.
///
/// The engine is generic over its handler (monomorphised, no `dyn` on the per-packet
/// path), and each session keeps the handler's per-session [`Handler::Data`] inline.
///
/// ```no_run
/// use std::sync::Arc;
/// use ferrosocket::engine::{Engine, Handler, Session};
/// use ferrosocket::{Config, DisconnectReason};
///
/// /// Sends every message back to its sender.
/// struct Echo;
///
/// impl Handler for Echo {
///     type Data = ();
///     fn on_open(&self, session: &Arc<Session<Self>>) {
///         println!("{} opened", session.id());
///     }
///     fn on_message(&self, session: &Arc<Session<Self>>, text: &str) -> Result<(), DisconnectReason> {
///         let _ = session.send_text(text);
///         Ok(())
///     }
///     fn on_binary(&self, session: &Arc<Session<Self>>, data: bytes::Bytes) -> Result<(), DisconnectReason> {
///         let _ = session.send_binary(data);
///         Ok(())
///     }
///     fn on_close(&self, session: &Arc<Session<Self>>, reason: DisconnectReason) {
///         println!("{} closed: {reason}", session.id());
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let engine = Engine::new(Config::builder().path("/engine.io/").build(), Echo);
/// engine.serve("127.0.0.1:3000", ferrosocket::shutdown_signal()).await?;
/// # Ok(()) }
/// ```
pub trait Handler: Send + Sync + Sized + 'static {
    /// What the handler keeps per session, held inline in the [`Session`] (see
    /// [`Session::data`]); `()` for none. Created with `Default` when the session opens.
    /// Its size is part of every connection's memory.
    type Data: Default + Send + Sync + 'static;

    /// A session opened (its open packet is on its way). Messages sent from here reach
    /// the client right after the open packet.
    fn on_open(&self, session: &Arc<Session<Self>>);

    /// One text message from the client (the Engine.IO `4` packet, without the `4`).
    fn on_message(&self, session: &Arc<Session<Self>>, text: &str) -> Result<(), DisconnectReason>;

    /// One binary message from the client.
    fn on_binary(&self, session: &Arc<Session<Self>>, data: Bytes) -> Result<(), DisconnectReason>;

    /// The session closed, once, with the reason; nothing can be sent to it any more.
    fn on_close(&self, session: &Arc<Session<Self>>, reason: DisconnectReason);

    /// The session moved from polling to WebSocket (after the client's upgrade packet).
    fn on_upgrade(&self, session: &Arc<Session<Self>>) {
        let _ = session;
    }

    /// Asked once, the configured connect timeout after the session opened: `false`
    /// closes it. The Socket.IO layer answers whether the client joined a namespace by
    /// then (the reference server's `connectTimeout`); the default keeps every session.
    fn is_attached(&self, session: &Session<Self>) -> bool {
        let _ = session;
        true
    }
}

/// The state of one engine, shared by its sessions and connection tasks.
pub(crate) struct EngineState<H: Handler> {
    pub(crate) config: Config,
    /// The layer above: called for every session's open, messages and close.
    pub(crate) handler: H,
    /// Open sessions, for polling requests and upgrades to find theirs and for shutdown
    /// to reach everyone.
    sessions: Mutex<HashMap<Sid, Arc<Session<H>>>>,
    /// Open TCP connections, against `max_connections`.
    pub(crate) connections: AtomicUsize,
    /// Set when shutdown starts: new handshakes are refused.
    shutting_down: AtomicBool,
    /// Cancelled at shutdown: HTTP connections finish their request and close.
    pub(crate) shutdown: CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    pub(crate) tasks: TaskTracker,
    /// Requests outside the engine's path go here (404 when unset).
    fallback: RwLock<Option<Fallback>>,
    /// The counters, written by the engine and the layer above.
    pub(crate) metrics: Metrics,
}

impl<H: Handler> EngineState<H> {
    pub(crate) fn insert_session(&self, session: &Arc<Session<H>>) {
        lock(&self.sessions).insert(session.id, Arc::clone(session));
    }

    pub(crate) fn remove_session(&self, sid: &Sid) {
        lock(&self.sessions).remove(sid);
    }

    pub(crate) fn session(&self, sid: &str) -> Option<Arc<Session<H>>> {
        let sid = Sid::parse(sid)?;
        lock(&self.sessions).get(&sid).cloned()
    }

    pub(crate) fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub(crate) fn fallback(&self) -> Option<Fallback> {
        self.fallback
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Refuses new handshakes and returns every open session, to be closed.
    pub(crate) fn start_shutdown(&self) -> Vec<Arc<Session<H>>> {
        self.shutting_down.store(true, Ordering::Release);
        lock(&self.sessions).values().cloned().collect()
    }

    /// Forgets every session (after shutdown).
    pub(crate) fn clear_sessions(&self) {
        lock(&self.sessions).clear();
    }
}

/// Releases a connection slot when the last holder (the HTTP task, or the WebSocket
/// task after an upgrade) ends.
pub(crate) struct ConnectionSlot<H: Handler>(pub(crate) Arc<EngineState<H>>);

/// Keeps a TCP connection counted against `max_connections` while a task holds it.
pub(crate) type ConnectionGuard<H> = Arc<ConnectionSlot<H>>;

impl<H: Handler> Drop for ConnectionSlot<H> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An Engine.IO server over one [`Handler`]: it accepts HTTP connections, answers the
/// Engine.IO path (long-polling, WebSocket, upgrades, heartbeats) and hands every
/// session's messages to the handler. Cheap to clone, `Send + Sync`.
///
/// [`Server`](crate::Server) is an `Engine` whose handler is the Socket.IO layer; use
/// `Engine` directly for plain Engine.IO (see [`Handler`] for an example).
pub struct Engine<H: Handler>(pub(crate) Arc<EngineState<H>>);

impl<H: Handler> Clone for Engine<H> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<H: Handler> std::fmt::Debug for Engine<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.0.config)
            .finish()
    }
}

impl<H: Handler> Engine<H> {
    /// An engine serving `config`'s path with `handler`.
    pub fn new(config: Config, handler: H) -> Self {
        Self(Arc::new(EngineState {
            config,
            handler,
            sessions: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            fallback: RwLock::new(None),
            metrics: Metrics::default(),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The handler given to [`Engine::new`].
    pub fn handler(&self) -> &H {
        &self.0.handler
    }

    /// How many Engine.IO sessions are open.
    pub fn session_count(&self) -> usize {
        self.0.session_count()
    }

    /// The engine's counters now (connections, packets, bytes, disconnects, refusals,
    /// events, acks): see [`MetricsSnapshot`] for each one's meaning and unit.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.0.metrics.snapshot()
    }

    /// Serves every request outside the engine's path with `fallback` (by default such
    /// requests get 404). Each request carries its [`ConnectionInfo`] in its extensions.
    /// Setting it again replaces the previous one. See [`serve_dir`](crate::serve_dir)
    /// for static files.
    pub fn set_fallback<F, Fut>(&self, fallback: F)
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<ResponseBody>> + Send + 'static,
    {
        let fallback: Fallback = Arc::new(move |req| Box::pin(fallback(req)));
        *self.0.fallback.write().unwrap_or_else(|p| p.into_inner()) = Some(fallback);
    }
}
