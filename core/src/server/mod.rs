//! The Socket.IO server handle: [`Server`], an [`Engine`] whose handler is the
//! Socket.IO layer, with its namespaces, broadcasts and lifecycle entry points.
//!
//! Owns: the public handle and what it adds to the engine (namespaces, `/` shortcuts).
//! Never: answers HTTP itself; routing, handshakes, CORS and the accept loop live in
//! `engine`, static files in [`static_files`].

mod metrics_http;
mod static_files;

pub(crate) use metrics_http::serve as serve_metrics_with;

use std::future::Future;

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::adapter::{Adapter, LocalAdapter};
use crate::config::Config;
use crate::engine::{Engine, ResponseBody};
use crate::error::ServerError;
use crate::protocol::Payload;
use crate::socket::broadcast::{BroadcastOperator, IntoRooms};
use crate::socket::namespace::Namespace;
use crate::socket::SocketIo;

pub use static_files::serve_dir;

/// A Socket.IO server. Cheap to clone, `Send + Sync`: keep a clone anywhere to emit,
/// manage rooms or disconnect clients while [`Server::run`] serves.
///
/// ```no_run
/// use ferrosocket::{Config, Payload, Server};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let server = Server::new(Config::default());
///     server.of("/").on("echo", |socket, event| async move {
///         let _ = socket.emit("echo", &event.args);
///     });
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
///     server.run(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
///     Ok(())
/// }
/// ```
///
/// It is an [`Engine`] whose handler is the Socket.IO layer.
#[derive(Clone)]
pub struct Server(pub(crate) Engine<SocketIo>);

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", self.0.config())
            .finish()
    }
}

impl Server {
    /// A server with `config` and in-memory rooms ([`LocalAdapter`]). The `/`
    /// namespace exists from the start.
    pub fn new(config: Config) -> Self {
        Self::with_adapter(config, LocalAdapter::new())
    }

    /// A server whose rooms and broadcasts go through `adapter`: one that shares them
    /// with other servers (the `redis` feature's
    /// [`RedisAdapter`](crate::adapter::redis::RedisAdapter), say).
    pub fn with_adapter(config: Config, adapter: impl Adapter) -> Self {
        Self::with_shared_adapter(config, std::sync::Arc::new(adapter))
    }

    /// [`with_adapter`](Self::with_adapter) for an adapter already behind an `Arc`.
    pub fn with_shared_adapter(config: Config, adapter: std::sync::Arc<dyn Adapter>) -> Self {
        let server = Self(Engine::new(config, SocketIo::new(adapter)));
        server.of("/");
        server
    }

    /// The adapter rooms and broadcasts go through.
    pub fn adapter(&self) -> &std::sync::Arc<dyn Adapter> {
        &self.sio().adapter
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.0.config()
    }

    /// The engine under the Socket.IO layer (for the embedding layer's local clients).
    pub(crate) fn engine(&self) -> &Engine<SocketIo> {
        &self.0
    }

    /// The Socket.IO layer: the engine's handler.
    fn sio(&self) -> &SocketIo {
        self.0.handler()
    }

    /// The namespace `name`, created if needed (a leading `/` is added when missing).
    /// Clients may connect to every namespace created this way; others are refused with
    /// `Invalid namespace` unless [`ConfigBuilder::namespaces`](crate::ConfigBuilder::namespaces)
    /// accepts them.
    ///
    /// `of("*")` is the catch-all namespace: no client connects to it, and its handlers
    /// serve every namespace for what that namespace has no handler of its own (connect,
    /// disconnect, an event, in that order: the namespace's event handler, its
    /// [`on_any`](Namespace::on_any), then the catch-all's event handler and its
    /// `on_any`), as python-socketio's `namespace='*'` handlers do.
    /// [`Socket::namespace`](crate::Socket::namespace) tells such a handler which
    /// namespace the client is in.
    pub fn of(&self, name: &str) -> Namespace {
        let name = crate::socket::namespace::normalize_namespace(name);
        Namespace(self.sio().create(&name))
    }

    /// The namespace `name` if it exists.
    pub fn namespace(&self, name: &str) -> Option<Namespace> {
        self.sio()
            .namespace(&crate::socket::namespace::normalize_namespace(name))
            .map(Namespace)
    }

    /// Targets rooms of the `/` namespace.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").to(rooms)
    }

    /// Emits to every socket of the `/` namespace; returns how many it reached.
    pub fn emit(&self, event: &str, args: &Payload) -> usize {
        self.of("/").emit(event, args)
    }

    /// How many Engine.IO sessions are open.
    pub fn session_count(&self) -> usize {
        self.0.session_count()
    }

    /// The server's counters now ([`MetricsSnapshot`](crate::metrics::MetricsSnapshot)):
    /// connections, packets, bytes, events, disconnects, refusals, acks.
    pub fn metrics(&self) -> crate::metrics::MetricsSnapshot {
        self.0.metrics()
    }

    /// Every namespace clients can be in and how many sockets are connected to it here.
    pub fn namespace_socket_counts(&self) -> Vec<(String, usize)> {
        self.sio().socket_counts()
    }

    /// Appends this server's metric families to `out`: the engine's counters, the
    /// sockets per namespace and the adapter's own (a Redis adapter's publishes,
    /// receives, drops and reconnects).
    pub fn write_metrics(&self, out: &mut crate::metrics::Exposition) {
        out.engine(&self.metrics());
        let family = "ferrosocket_namespace_sockets";
        out.family(
            family,
            "gauge",
            "Sockets connected to each namespace of this server.",
        );
        for (name, count) in self.namespace_socket_counts() {
            out.sample(family, &[("namespace", &name)], count as f64);
        }
        self.adapter().write_metrics(out);
    }

    /// Everything [`write_metrics`](Self::write_metrics) writes, as the Prometheus text
    /// format: the body of `/metrics` ([`serve_metrics`](Self::serve_metrics)).
    pub fn prometheus(&self) -> String {
        let mut out = crate::metrics::Exposition::new();
        self.write_metrics(&mut out);
        out.into_string()
    }

    /// Serves `GET /metrics` ([`prometheus`](Self::prometheus)) on `listener`, a
    /// listener of its own (keep it off the public interface), until `shutdown`
    /// resolves. Any other path is 404, any other method 405.
    pub async fn serve_metrics(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let server = self.clone();
        metrics_http::serve(listener, shutdown, move || server.prometheus()).await
    }

    /// Serves every request outside the Socket.IO path with `fallback` (by default such
    /// requests get 404). Each request carries its
    /// [`ConnectionInfo`](crate::ConnectionInfo) (peer and local address) in its
    /// extensions. Setting it again replaces the previous one. See [`serve_dir`] for
    /// static files.
    pub fn set_fallback<F, Fut>(&self, fallback: F)
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<ResponseBody>> + Send + 'static,
    {
        self.0.set_fallback(fallback);
    }

    /// Binds `addr` and serves until `shutdown` resolves. See [`Server::run`].
    pub async fn serve(
        self,
        addr: impl tokio::net::ToSocketAddrs,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let adapter = std::sync::Arc::clone(self.adapter());
        let result = self.0.serve(addr, shutdown).await;
        adapter.close();
        result
    }

    /// Accepts connections on `listener` until `shutdown` resolves, then shuts down
    /// gracefully: stops accepting, disconnects every client (reason
    /// `server shutting down`), lets transports flush, waits up to the configured
    /// shutdown timeout for connections to end, and closes the adapter (a Redis
    /// adapter leaves its fleet).
    ///
    /// Each connection is one tokio task. On a single core, prefer tokio's current-thread
    /// runtime: the multi-thread runtime with one worker keeps at most 256 woken tasks
    /// in its local queue and polls the overflow only now and then, so with about a
    /// thousand busy connections some of them stall for ~150 ms at a time, while the
    /// current-thread runtime runs woken tasks in order.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let adapter = std::sync::Arc::clone(self.adapter());
        let result = self.0.run(listener, shutdown).await;
        adapter.close();
        result
    }
}
