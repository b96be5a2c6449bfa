//! The HTTP entry point: accept loop, routing, CORS, handshakes and graceful shutdown.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adapter::{Adapter, LocalAdapter};
use crate::broadcast::{BroadcastOperator, IntoRooms};
use crate::clip::clip;
use crate::config::{Config, Site};
use crate::engine::{self, lock, query_param, Handshake, Session, Transport};
use crate::error::{DisconnectReason, ServerError};
use crate::namespace::{Namespace, NamespaceInner};
use crate::protocol::engine::open_packet;
use crate::protocol::Payload;
use crate::sid::Sid;
use crate::socket::BoxFuture;

/// Boxed error type of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of every response the server writes.
pub type ResponseBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;
type Fallback = Arc<dyn Fn(Request<Incoming>) -> BoxFuture<Response<ResponseBody>> + Send + Sync>;
type AdapterFactory = Box<dyn Fn(&str) -> Box<dyn Adapter> + Send + Sync>;

/// Shared state of one server.
pub(crate) struct ServerState {
    pub(crate) config: Config,
    /// Registered namespaces; written only when a namespace is added.
    namespaces: RwLock<HashMap<String, Arc<NamespaceInner>>>,
    /// Open sessions, for polling requests and upgrades to find theirs and for shutdown
    /// to reach everyone.
    sessions: Mutex<HashMap<Sid, Arc<Session>>>,
    /// Open TCP connections, against `max_connections`.
    connections: AtomicUsize,
    /// Set when shutdown starts: new handshakes are refused.
    shutting_down: AtomicBool,
    /// Cancelled at shutdown: HTTP connections finish their request and close.
    shutdown: CancellationToken,
    /// Every connection task, so shutdown can wait for them.
    pub(crate) tasks: TaskTracker,
    /// Requests outside the Socket.IO path go here (404 when unset).
    fallback: RwLock<Option<Fallback>>,
    /// Makes the room adapter of each new namespace.
    adapters: AdapterFactory,
}

impl ServerState {
    pub(crate) fn namespace(&self, name: &str) -> Option<Arc<NamespaceInner>> {
        self.namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub(crate) fn insert_session(&self, session: &Arc<Session>) {
        lock(&self.sessions).insert(session.id, Arc::clone(session));
    }

    pub(crate) fn remove_session(&self, sid: &Sid) {
        lock(&self.sessions).remove(sid);
    }

    fn session(&self, sid: &str) -> Option<Arc<Session>> {
        let sid = Sid::parse(sid)?;
        lock(&self.sessions).get(&sid).cloned()
    }
}

/// Releases a connection slot when the last holder (the HTTP task, or the WebSocket
/// task after an upgrade) ends.
pub(crate) struct ConnectionSlot(Arc<ServerState>);

/// Keeps a TCP connection counted against `max_connections` while a task holds it.
pub(crate) type ConnectionGuard = Arc<ConnectionSlot>;

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

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
#[derive(Clone)]
pub struct Server(Arc<ServerState>);

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.0.config)
            .finish()
    }
}

impl Server {
    /// A server with `config` and in-memory rooms ([`LocalAdapter`]). The `/`
    /// namespace exists from the start.
    pub fn new(config: Config) -> Self {
        Self::with_adapter(config, |_namespace| Box::new(LocalAdapter::new()))
    }

    /// A server whose namespaces keep their rooms in adapters made by `adapter`, called
    /// once per namespace with its name (for rooms shared between processes, say).
    pub fn with_adapter<F>(config: Config, adapter: F) -> Self
    where
        F: Fn(&str) -> Box<dyn Adapter> + Send + Sync + 'static,
    {
        let server = Self(Arc::new(ServerState {
            config,
            namespaces: RwLock::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            fallback: RwLock::new(None),
            adapters: Box::new(adapter),
        }));
        server.of("/");
        server
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The namespace `name`, created if needed (a leading `/` is added when missing).
    /// Clients may connect to every namespace created this way; others are refused with
    /// `Invalid namespace`.
    pub fn of(&self, name: &str) -> Namespace {
        let name = crate::namespace::normalize_namespace(name).into_owned();
        let mut namespaces = self.0.namespaces.write().unwrap_or_else(|p| p.into_inner());
        let inner = namespaces
            .entry(name.clone())
            .or_insert_with(|| NamespaceInner::new(&name, (self.0.adapters)(&name)));
        Namespace(Arc::clone(inner))
    }

    /// The namespace `name` if it exists (a leading `/` is added when missing).
    pub fn namespace(&self, name: &str) -> Option<Namespace> {
        self.0
            .namespace(&crate::namespace::normalize_namespace(name))
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
        lock(&self.0.sessions).len()
    }

    /// Serves every request outside the Socket.IO path with `fallback` (by default such
    /// requests get 404). See [`serve_dir`] for static files.
    pub fn set_fallback<F, Fut>(&self, fallback: F)
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<ResponseBody>> + Send + 'static,
    {
        let fallback: Fallback = Arc::new(move |req| Box::pin(fallback(req)));
        *self.0.fallback.write().unwrap_or_else(|p| p.into_inner()) = Some(fallback);
    }

    /// Binds `addr` and serves until `shutdown` resolves. See [`Server::run`].
    pub async fn serve(
        self,
        addr: impl tokio::net::ToSocketAddrs,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let listener = TcpListener::bind(addr).await?;
        self.run(listener, shutdown).await
    }

    /// Accepts connections on `listener` until `shutdown` resolves, then shuts down
    /// gracefully: stops accepting, disconnects every client (reason
    /// `server shutting down`), lets transports flush, and waits up to the configured
    /// shutdown timeout for connections to end.
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
        let state = self.0;
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(state.config.header_timeout)
            .keep_alive(true);
        let max_connections = state.config.max_connections();
        tracing::debug!(max_connections, "accepting connections");
        let mut bursts = AcceptBursts::default();
        // The queue-age clock; it ends with the connections (`shutdown` is cancelled
        // before the tasks are awaited).
        state
            .tasks
            .spawn(engine::run_coarse_clock(state.shutdown.clone()));
        tokio::pin!(shutdown);
        loop {
            let (stream, remote) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and similar: back off instead of
                        // spinning, and say so once per burst, not every attempt.
                        let pause = bursts.accept_failed(&error, max_connections);
                        tokio::select! {
                            _ = &mut shutdown => break,
                            _ = tokio::time::sleep(pause) => {}
                        }
                        continue;
                    }
                },
            };
            bursts.accepted();
            if state.connections.fetch_add(1, Ordering::AcqRel) >= max_connections {
                state.connections.fetch_sub(1, Ordering::AcqRel);
                bursts.refused(remote, max_connections);
                drop(stream);
                continue;
            }
            bursts.admitted();
            let slot = Arc::new(ConnectionSlot(Arc::clone(&state)));
            // Socket.IO traffic is many small writes; never wait for Nagle.
            let _ = stream.set_nodelay(true);
            let service_state = Arc::clone(&state);
            let service = service_fn(move |req| {
                let state = Arc::clone(&service_state);
                let slot = Arc::clone(&slot);
                async move { Ok::<_, Infallible>(route(state, slot, remote, req).await) }
            });
            let conn = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let stop = state.shutdown.clone();
            state.tasks.spawn(async move {
                tokio::pin!(conn);
                let result = tokio::select! {
                    result = conn.as_mut() => result,
                    _ = stop.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(error) = result {
                    tracing::debug!(%error, "http connection ended with an error");
                }
            });
        }
        drop(listener);
        shutdown_gracefully(&state).await;
        Ok(())
    }
}

/// What the accept loop logs about its failures and refusals: once when a burst
/// starts and once when it ends, with a count, instead of a line per connection (a
/// flood of them is the very situation being reported).
#[derive(Debug, Default)]
struct AcceptBursts {
    /// Failed accepts in a row; the back-off doubles with each.
    failures: u32,
    /// Connections refused over `max_connections` since the last one admitted.
    refused: u64,
}

impl AcceptBursts {
    /// The first failure of a burst is logged; returns how long to pause (10 ms,
    /// doubling, at most 1 s).
    fn accept_failed(&mut self, error: &std::io::Error, max_connections: usize) -> Duration {
        if self.failures == 0 {
            tracing::warn!(
                %error,
                max_connections,
                "accept failed; backing off until it succeeds again (logged once per burst;                  out of file descriptors: lower max_connections or raise the open-file limit)"
            );
        }
        self.failures = self.failures.saturating_add(1);
        Duration::from_millis(10u64 << self.failures.min(7)).min(Duration::from_secs(1))
    }

    fn accepted(&mut self) {
        if self.failures > 0 {
            tracing::info!(failures = self.failures, "accepting again");
            self.failures = 0;
        }
    }

    fn refused(&mut self, remote: SocketAddr, max_connections: usize) {
        if self.refused == 0 {
            tracing::warn!(
                %remote,
                max_connections,
                "max_connections reached, refusing new connections (logged once per burst)"
            );
        }
        self.refused += 1;
    }

    fn admitted(&mut self) {
        if self.refused > 0 {
            tracing::info!(refused = self.refused, "below max_connections again");
            self.refused = 0;
        }
    }
}

async fn shutdown_gracefully(state: &Arc<ServerState>) {
    state.shutting_down.store(true, Ordering::Release);
    let sessions: Vec<_> = lock(&state.sessions).values().cloned().collect();
    tracing::info!(sessions = sessions.len(), "shutting down");
    for session in sessions {
        session.close(DisconnectReason::ServerShuttingDown);
    }
    state.shutdown.cancel();
    state.tasks.close();
    if tokio::time::timeout(state.config.shutdown_timeout, state.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            remaining = state.tasks.len(),
            "shutdown timeout reached with connections still open"
        );
    }
    lock(&state.sessions).clear();
}

fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<ResponseBody> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An Engine.IO error response, in the JSON shape the reference server uses.
fn engine_error(status: StatusCode, code: u8, message: &str) -> Response<ResponseBody> {
    full(
        status,
        "application/json",
        format!(r#"{{"code":{code},"message":"{message}"}}"#),
    )
}

async fn route(
    state: Arc<ServerState>,
    slot: Arc<ConnectionSlot>,
    remote: SocketAddr,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    if let Some(hosts) = &state.config.allowed_hosts {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        if !hosts.allows(host) {
            tracing::info!(
                host = %clip(host.unwrap_or("")),
                %remote,
                "host not in allowed_hosts, request refused"
            );
            return full(
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                "Invalid Host header",
            );
        }
    }
    let path = req.uri().path();
    let engine_path = &state.config.path;
    if path == engine_path || path == &engine_path[..engine_path.len() - 1] {
        return engine_request(state, slot, remote, req).await;
    }
    let fallback = state
        .fallback
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    match fallback {
        Some(fallback) => fallback(req).await,
        None => full(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "Not Found",
        ),
    }
}

async fn engine_request(
    state: Arc<ServerState>,
    slot: Arc<ConnectionSlot>,
    remote: SocketAddr,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    let config = &state.config;
    let query = req.uri().query().unwrap_or("");
    if query_param(query, "EIO").as_deref() != Some("4") {
        return engine_error(StatusCode::BAD_REQUEST, 5, "Unsupported protocol version");
    }
    let transport = match query_param(query, "transport").as_deref() {
        Some("polling") if config.allow_polling => Transport::Polling,
        Some("websocket") if config.allow_websocket => Transport::WebSocket,
        _ => return engine_error(StatusCode::BAD_REQUEST, 0, "Transport unknown"),
    };
    let sid = query_param(query, "sid");

    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(origin) = &origin {
        let text = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let site = Site {
            host: text(header::HOST.as_str()),
            scheme: "http",
            forwarded_proto: text("x-forwarded-proto"),
            forwarded_host: text("x-forwarded-host"),
        };
        if !config.allowed_origins.allows(origin, &site) {
            tracing::info!(origin = %clip(origin), %remote, "origin not allowed");
            return full(
                StatusCode::FORBIDDEN,
                "text/plain; charset=utf-8",
                "Origin not allowed",
            );
        }
    }

    let mut response = if transport == Transport::WebSocket && req.method() == Method::GET {
        return websocket_request(state, slot, remote, req, sid).await;
    } else {
        match *req.method() {
            Method::OPTIONS => preflight(&req),
            Method::GET => match sid {
                None => polling_handshake(&state, &req, remote),
                Some(sid) => match state.session(&sid) {
                    None => engine_error(StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
                    Some(session) => match engine::polling::get(session).await {
                        Ok(body) => full(StatusCode::OK, "text/plain; charset=UTF-8", body),
                        Err(status) => engine_error(status, 3, "Bad request"),
                    },
                },
            },
            Method::POST => match sid.and_then(|sid| state.session(&sid)) {
                None => engine_error(StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
                Some(session) => polling_post(&state, &session, req).await,
            },
            _ => engine_error(StatusCode::BAD_REQUEST, 2, "Bad handshake method"),
        }
    };
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn preflight(req: &Request<Incoming>) -> Response<ResponseBody> {
    let mut response = full(
        StatusCode::NO_CONTENT,
        "text/plain; charset=utf-8",
        Bytes::new(),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    if let Some(requested) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

/// The handshake kept for the session's lifetime, copied out of the request: hyper's
/// header values share its whole connection read buffer (8 KiB), which keeping them
/// would hold for as long as the connection lasts.
fn handshake_of(req: &Request<Incoming>, remote: SocketAddr) -> Handshake {
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path(), |pq| pq.as_str());
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    Handshake::new(target, headers, remote)
}

fn polling_handshake(
    state: &Arc<ServerState>,
    req: &Request<Incoming>,
    remote: SocketAddr,
) -> Response<ResponseBody> {
    if state.shutting_down.load(Ordering::Acquire) {
        return engine_error(StatusCode::SERVICE_UNAVAILABLE, 4, "Server shutting down");
    }
    let session = Session::new(
        Arc::clone(state),
        handshake_of(req, remote),
        Transport::Polling,
    );
    let config = &state.config;
    let open = open_packet(
        session.id.as_str(),
        config.allow_websocket,
        config.ping_interval.as_millis() as u64,
        config.ping_timeout.as_millis() as u64,
        config.max_payload as u64,
    );
    full(StatusCode::OK, "text/plain; charset=UTF-8", open)
}

async fn polling_post(
    state: &ServerState,
    session: &Arc<Session>,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    let max = state.config.max_payload;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Said before the body is read (Content-Length) or found while reading it.
    let too_large = || {
        tracing::info!(sid = %session.id, declared, max_payload = max, "polling body over max payload (413)");
        closing(engine_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            3,
            "Payload too large",
        ))
    };
    if declared.is_some_and(|len| len > max) {
        return too_large();
    }
    let body = match read_body(state, session, Limited::new(req.into_body(), max)).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::TimedOut) => {
            tracing::info!(
                sid = %session.id,
                body_timeout_ms = state.config.body_timeout.as_millis() as u64,
                "polling body not received in time (408), closing session"
            );
            session.close(DisconnectReason::TransportError);
            return closing(engine_error(
                StatusCode::REQUEST_TIMEOUT,
                3,
                "Request timeout",
            ));
        }
        Err(BodyError::SessionClosed) => {
            return closing(engine_error(
                StatusCode::BAD_REQUEST,
                1,
                "Session ID unknown",
            ));
        }
        Err(BodyError::Failed) => return engine_error(StatusCode::BAD_REQUEST, 3, "Bad request"),
    };
    match engine::polling::post(session, &body) {
        Ok(()) => full(StatusCode::OK, "text/html", "ok"),
        Err(status) => engine_error(status, 3, "Bad request"),
    }
}

/// Why a request body was not read.
#[derive(Debug)]
enum BodyError {
    TooLarge,
    TimedOut,
    SessionClosed,
    Failed,
}

/// Collects `body` within the configured body timeout, ending early (checked every
/// second) when `session` closes meanwhile: a trickling body must not keep its
/// connection, and its session's memory, for longer than that.
async fn read_body(
    state: &ServerState,
    session: &Session,
    body: Limited<Incoming>,
) -> Result<Bytes, BodyError> {
    let deadline = tokio::time::Instant::now() + state.config.body_timeout;
    let collect = body.collect();
    tokio::pin!(collect);
    loop {
        let tick = deadline.min(tokio::time::Instant::now() + Duration::from_secs(1));
        tokio::select! {
            collected = &mut collect => {
                return match collected {
                    Ok(body) => Ok(body.to_bytes()),
                    Err(error) if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                        Err(BodyError::TooLarge)
                    }
                    Err(_) => Err(BodyError::Failed),
                };
            }
            _ = tokio::time::sleep_until(tick) => {
                if session.is_closed() {
                    return Err(BodyError::SessionClosed);
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(BodyError::TimedOut);
                }
            }
        }
    }
}

/// Marks `response` as the connection's last: the rest of an unread body is not
/// waited for.
fn closing(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn websocket_request(
    state: Arc<ServerState>,
    slot: Arc<ConnectionSlot>,
    remote: SocketAddr,
    mut req: Request<Incoming>,
    sid: Option<String>,
) -> Response<ResponseBody> {
    let headers = req.headers();
    let header_has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
    let valid = header_has(header::UPGRADE, "websocket")
        && header_has(header::CONNECTION, "upgrade")
        && headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .map(|v| v.as_bytes())
            == Some(b"13");
    let Some(key) = key.filter(|_| valid) else {
        return engine_error(StatusCode::BAD_REQUEST, 3, "Bad request");
    };

    // `Some(None)`: a known sid this WebSocket may not upgrade; it is accepted and then
    // closed at once (the protocol's answer, and the reference server's).
    let claim = match sid {
        Some(sid) => match state.session(&sid) {
            // A closed session that lingers for its last polls is as good as gone.
            Some(session) if !session.is_closed() => Some(session.claim_upgrade()),
            _ => return engine_error(StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
        },
        None if state.shutting_down.load(Ordering::Acquire) => {
            return engine_error(StatusCode::SERVICE_UNAVAILABLE, 4, "Server shutting down");
        }
        None => None,
    };

    let handshake = handshake_of(&req, remote);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let task_state = Arc::clone(&state);
    state.tasks.spawn(async move {
        // The slot moves into the connection loop: the TCP connection lives on there
        // after hyper's connection task ends with the upgrade.
        match on_upgrade.await {
            Ok(upgraded) => match claim {
                Some(Some(claim)) => engine::websocket::run_upgrade(claim, upgraded, slot).await,
                Some(None) => engine::websocket::refuse(task_state, upgraded, slot).await,
                None => engine::websocket::run_direct(task_state, upgraded, handshake, slot).await,
            },
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });

    let mut response = Response::new(
        Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM: the usual `shutdown` argument of
/// [`Server::run`] for a server process.
///
/// ```no_run
/// # async fn demo(server: ferrosocket::Server, listener: tokio::net::TcpListener) {
/// server.run(listener, ferrosocket::shutdown_signal()).await.unwrap();
/// # }
/// ```
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling available: never resolve rather than stop at once.
        std::future::pending::<()>().await;
    }
}

/// A fallback that serves the files under `dir` (`/` serves `index.html`), for
/// [`Server::set_fallback`]. Paths with `..` or hidden components get 404, and so does
/// a file whose real path (symbolic links resolved) is outside `dir`: a link inside the
/// directory cannot expose the rest of the file system.
///
/// ```no_run
/// # let server = ferrosocket::Server::new(Default::default());
/// let files = ferrosocket::serve_dir("examples/chat/static");
/// server.set_fallback(move |req| files(req));
/// ```
pub fn serve_dir(
    dir: impl Into<std::path::PathBuf>,
) -> impl Fn(Request<Incoming>) -> BoxFuture<Response<ResponseBody>> + Send + Sync + Clone + 'static
{
    let dir: Arc<std::path::Path> = Arc::from(dir.into());
    move |req| {
        let dir = Arc::clone(&dir);
        Box::pin(async move {
            if req.method() != Method::GET && req.method() != Method::HEAD {
                return full(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "text/plain; charset=utf-8",
                    "Method Not Allowed",
                );
            }
            let path = req.uri().path();
            let relative = if path.ends_with('/') {
                format!("{path}index.html")
            } else {
                path.to_owned()
            };
            let safe = relative
                .split('/')
                .filter(|c| !c.is_empty())
                .all(|c| !c.starts_with('.') && !c.contains('\\'));
            if !safe {
                return full(
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "Not Found",
                );
            }
            let file = dir.join(relative.trim_start_matches('/'));
            if !inside(&dir, &file).await {
                return full(
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "Not Found",
                );
            }
            match tokio::fs::read(&file).await {
                Ok(contents) => {
                    let mut response = full(StatusCode::OK, content_type(&file), contents);
                    response
                        .headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    response
                }
                Err(_) => full(
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "Not Found",
                ),
            }
        })
    }
}

/// Whether `file` exists and its real path lies inside the real path of `dir`.
async fn inside(dir: &std::path::Path, file: &std::path::Path) -> bool {
    match (
        tokio::fs::canonicalize(dir).await,
        tokio::fs::canonicalize(file).await,
    ) {
        (Ok(dir), Ok(file)) => file.starts_with(&dir),
        _ => false,
    }
}

fn content_type(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
