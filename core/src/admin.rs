//! The server side of the Socket.IO Admin UI (`@socket.io/admin-ui` 0.5, the protocol
//! python-socketio's `Server.instrument()` also speaks): an admin namespace the UI logs
//! in to, `server_stats` every few seconds, and in development mode every socket, room
//! and event as it happens, plus the UI's `join` / `leave` / `_disconnect` / `emit`
//! commands unless read-only. `docs/admin-ui-protocol.md` is the protocol, with
//! pointers into both reference implementations.
//!
//! Owns: the admin namespace's handlers, the stats task and the development-mode
//! observer. Never: counts anything itself on the hot path. The per-second
//! `aggregatedEvents` come from sampling the server's counters ([`crate::metrics`]) once
//! a second, so production mode costs one timer; development mode adds one observer
//! call per socket change and per event (see `socket::observe`).
//!
//! ```no_run
//! use ferrosocket::admin::{AdminAuth, AdminOptions};
//! use ferrosocket::{Config, Server};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::new(Config::default());
//! let admin = server.instrument(AdminOptions::new(AdminAuth::basic("admin", "s3cret")))?;
//! server.clone().serve("127.0.0.1:5000", ferrosocket::shutdown_signal()).await?;
//! admin.shutdown();
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::adapter::Room;
use crate::engine::{BoxFuture, Engine, EngineState};
use crate::error::{ConnectRefused, DisconnectReason};
use crate::metrics::{MetricsSnapshot, TransportKind, DISCONNECT_REASONS};
use crate::protocol::Payload;
use crate::server::Server;
use crate::sid::Sid;
use crate::socket::broadcast::BroadcastOperator;
use crate::socket::namespace::{normalize_namespace, Namespace, NamespaceInner};
use crate::socket::observe::Observer;
use crate::socket::{Event, Socket, SocketIo};

/// What the admin namespace refuses a bad login with: node's message, which the UI
/// shows as "Invalid credentials" (python-socketio says `authentication failed`, which
/// the UI shows as a generic error).
pub const INVALID_CREDENTIALS: &str = "invalid credentials";

/// How much the Admin UI sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminMode {
    /// Everything: every socket with its handshake and rooms, and live notices of
    /// connections, disconnections, joins, leaves and events each way. Costs one
    /// observer call per socket change and per event, and sends each to the UI.
    #[default]
    Development,
    /// `server_stats` only (server, clients, namespaces, per-second connection and byte
    /// counts): cheap enough to leave on.
    Production,
}

type Check = Arc<dyn Fn(Option<Value>) -> BoxFuture<bool> + Send + Sync>;

#[derive(Clone)]
enum AuthKind {
    Disabled,
    Allow(Vec<Value>),
    Check(Check),
}

/// Who may log in to the admin namespace: checked against the `auth` object of the
/// client's CONNECT (the UI sends `{"username": …, "password": …}`).
#[derive(Clone)]
pub struct AdminAuth(AuthKind);

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials themselves.
        let kind = match &self.0 {
            AuthKind::Disabled => "disabled",
            AuthKind::Allow(_) => "allow",
            AuthKind::Check(_) => "check",
        };
        f.debug_tuple("AdminAuth").field(&kind).finish()
    }
}

impl AdminAuth {
    /// Anyone may connect. Only for a server whose port nobody else reaches.
    pub fn disabled() -> Self {
        Self(AuthKind::Disabled)
    }

    /// The client's auth object must equal one of `allowed` exactly, as python-socketio
    /// compares its `auth` dict (or each dict of its list).
    pub fn allow(allowed: Vec<Value>) -> Self {
        Self(AuthKind::Allow(allowed))
    }

    /// What the UI's login form sends: `{"username": username, "password": password}`.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::allow(vec![
            json!({"username": username.into(), "password": password.into()}),
        ])
    }

    /// `check` decides, given the client's auth object (`None` when it sent none).
    pub fn check<F, Fut>(check: F) -> Self
    where
        F: Fn(Option<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        Self(AuthKind::Check(Arc::new(move |auth| Box::pin(check(auth)))))
    }

    async fn accepts(&self, auth: Option<Value>) -> bool {
        match &self.0 {
            AuthKind::Disabled => true,
            AuthKind::Allow(allowed) => auth.is_some_and(|auth| allowed.contains(&auth)),
            AuthKind::Check(check) => check(auth).await,
        }
    }
}

/// How [`Server::instrument`] serves the Admin UI. The defaults are python-socketio's:
/// development mode, not read-only, namespace `/admin`, stats every 2 s.
#[derive(Debug, Clone)]
pub struct AdminOptions {
    auth: AdminAuth,
    mode: AdminMode,
    read_only: bool,
    server_id: Option<String>,
    namespace: String,
    stats_interval: Duration,
}

impl AdminOptions {
    /// Options with `auth` and every default.
    pub fn new(auth: AdminAuth) -> Self {
        Self {
            auth,
            mode: AdminMode::Development,
            read_only: false,
            server_id: None,
            namespace: "/admin".to_owned(),
            stats_interval: Duration::from_secs(2),
        }
    }

    /// Development (the default) or production mode.
    pub fn mode(mut self, mode: AdminMode) -> Self {
        self.mode = mode;
        self
    }

    /// When true, the UI's commands (join, leave, disconnect, emit) are ignored and not
    /// advertised.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The id the UI lists this server under (default: the host name); give each
    /// server of a fleet its own.
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// The admin namespace (default `/admin`; a leading `/` is added when missing).
    pub fn namespace(mut self, name: &str) -> Self {
        self.namespace = normalize_namespace(name).into_owned();
        self
    }

    /// How often `server_stats` goes out (default 2 s; at least 100 ms).
    pub fn stats_interval(mut self, interval: Duration) -> Self {
        self.stats_interval = interval;
        self
    }
}

/// Why [`Server::instrument`] refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdminError {
    /// The server is already instrumented; [`Instrumentation::shutdown`] it first.
    #[error("the server is already instrumented")]
    AlreadyInstrumented,
    /// Not called inside a tokio runtime (the stats task needs one).
    #[error("instrument() needs a tokio runtime")]
    NoRuntime,
    /// `stats_interval` under 100 ms.
    #[error("stats_interval must be at least 100 ms, got {0:?}")]
    Interval(Duration),
    /// The admin namespace is `/` or the catch-all `*`.
    #[error("the admin namespace cannot be {0:?}")]
    Namespace(String),
}

/// A running instrumentation; [`shutdown`](Self::shutdown) ends it. Dropping the handle
/// does not: it lasts as long as the server.
#[derive(Clone)]
pub struct Instrumentation(Arc<Admin>);

impl std::fmt::Debug for Instrumentation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumentation")
            .field("namespace", &self.0.namespace)
            .field("mode", &self.0.mode)
            .finish()
    }
}

impl Instrumentation {
    /// The admin namespace.
    pub fn namespace(&self) -> &str {
        &self.0.namespace
    }

    /// Stops the stats and the live notices, disconnects the admin sockets and refuses
    /// new ones; the server may then be instrumented again. Idempotent.
    pub fn shutdown(&self) {
        self.0.stop();
    }
}

/// The features the UI reads from `config` (`supportedFeatures`).
fn features(mode: AdminMode, read_only: bool) -> Vec<&'static str> {
    let mut features = Vec::new();
    if !read_only {
        features.extend([
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
        ]);
    }
    features.push("AGGREGATED_EVENTS");
    if mode == AdminMode::Development {
        features.push("ALL_EVENTS");
    }
    features
}

struct Admin {
    namespace: String,
    mode: AdminMode,
    read_only: bool,
    auth: AdminAuth,
    server_id: String,
    hostname: String,
    started: Instant,
    /// The admin namespace, weakly: the server's observer slot holds this, and the
    /// namespace holds the slot.
    ns: Weak<NamespaceInner>,
    /// The server, weakly: the stats task must not keep it alive.
    engine: Weak<EngineState<SocketIo>>,
    stopped: AtomicBool,
    cancel: CancellationToken,
}

impl Server {
    /// Serves the Socket.IO Admin UI on this server: see [`crate::admin`]. Call it
    /// inside a tokio runtime, before or while the server runs.
    pub fn instrument(&self, options: AdminOptions) -> Result<Instrumentation, AdminError> {
        if options.stats_interval < Duration::from_millis(100) {
            return Err(AdminError::Interval(options.stats_interval));
        }
        if options.namespace == "/" || options.namespace == crate::socket::CATCH_ALL {
            return Err(AdminError::Namespace(options.namespace));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| AdminError::NoRuntime)?;
        let sio = self.engine().handler();
        if sio.instrumented.swap(true, Ordering::AcqRel) {
            return Err(AdminError::AlreadyInstrumented);
        }
        let ns = self.of(&options.namespace);
        let admin = Arc::new(Admin {
            server_id: options.server_id.clone().unwrap_or_else(hostname),
            hostname: hostname(),
            namespace: options.namespace.clone(),
            mode: options.mode,
            read_only: options.read_only,
            auth: options.auth.clone(),
            started: Instant::now(),
            ns: Arc::downgrade(&ns.0),
            engine: Arc::downgrade(&self.engine().0),
            stopped: AtomicBool::new(false),
            cancel: self.engine().0.shutdown.child_token(),
        });
        admin.register(&ns);
        if options.mode == AdminMode::Development {
            sio.observer
                .set(Some(Arc::clone(&admin) as Arc<dyn Observer>));
        }
        runtime.spawn(stats_task(Arc::clone(&admin), options.stats_interval));
        tracing::info!(
            nsp = %options.namespace,
            mode = ?options.mode,
            read_only = options.read_only,
            auth = ?options.auth,
            "admin UI instrumentation on"
        );
        Ok(Instrumentation(admin))
    }
}

impl Admin {
    fn server(&self) -> Option<Server> {
        self.engine.upgrade().map(|state| Server(Engine(state)))
    }

    fn stop(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.cancel.cancel();
        if let Some(server) = self.server() {
            let sio = server.engine().handler();
            if self.mode == AdminMode::Development {
                sio.observer.set(None);
            }
            if let Some(ns) = self.ns.upgrade() {
                for socket in ns.all_sockets() {
                    Socket(socket).disconnect();
                }
            }
            sio.instrumented.store(false, Ordering::Release);
        }
        tracing::info!(nsp = %self.namespace, "admin UI instrumentation off");
    }

    fn is_admin(&self, nsp: &str) -> bool {
        nsp == self.namespace
    }

    /// The admin namespace, when some admin socket may hear a notice: one here, or
    /// perhaps on another server of a fleet. Checked before a notice is built, so
    /// development mode with no UI connected costs a read lock per notice.
    fn audience(&self) -> Option<Arc<NamespaceInner>> {
        if self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        let ns = self.ns.upgrade()?;
        (ns.adapter.reaches_other_servers() || ns.socket_count() > 0).then_some(ns)
    }

    /// Emits `event` with the JSON array `args` (built here, so valid) to every admin
    /// socket (on every server of a fleet), volatile: a UI that cannot keep up with a
    /// busy server misses notices rather than being disconnected as too slow.
    fn send(ns: &Arc<NamespaceInner>, event: &str, args: String) {
        Self::send_with(ns, event, args, &[]);
    }

    /// [`send`](Self::send) with the attachments `args`' placeholders stand for.
    fn send_with(ns: &Arc<NamespaceInner>, event: &str, args: String, binary: &[bytes::Bytes]) {
        Self::emit_json(ns, event, args, binary, true);
    }

    /// The one way a notice leaves: `args` (JSON built here, so valid) as the payload,
    /// to the admin namespace's sockets on every server, volatile or not.
    fn emit_json(
        ns: &Arc<NamespaceInner>,
        event: &str,
        args: String,
        binary: &[bytes::Bytes],
        volatile: bool,
    ) {
        let payload = Payload::from_parts_unchecked(args, binary.to_vec());
        let to = BroadcastOperator::new(Arc::clone(ns));
        if volatile {
            to.volatile().emit(event, &payload);
        } else {
            to.emit(event, &payload);
        }
    }

    /// [`send`](Self::send) when someone may hear it; `args` is only built then.
    fn notify(&self, event: &str, args: impl FnOnce() -> String) {
        if let Some(ns) = self.audience() {
            Self::send(&ns, event, args());
        }
    }

    fn register(self: &Arc<Self>, ns: &Namespace) {
        let admin = Arc::clone(self);
        ns.on_connect(move |socket, auth| {
            let admin = Arc::clone(&admin);
            async move {
                if admin.stopped.load(Ordering::Acquire) {
                    return Err(ConnectRefused::new("admin UI instrumentation is off"));
                }
                let auth = auth.json().and_then(|json| serde_json::from_str(json).ok());
                if !admin.auth.accepts(auth).await {
                    tracing::info!(sid = %socket.id(), "admin login refused");
                    return Err(ConnectRefused::new(INVALID_CREDENTIALS));
                }
                admin.welcome(&socket);
                Ok(())
            }
        });
        if self.read_only {
            return;
        }
        for command in ["join", "leave", "_disconnect", "emit"] {
            let admin = Arc::clone(self);
            ns.on(command, move |_socket, event| {
                admin.command(event);
                async {}
            });
        }
    }

    /// `config`, then in development mode `all_sockets`: emitted from the connect
    /// handler, so they reach the UI right after its CONNECT acknowledgement.
    fn welcome(&self, socket: &Socket) {
        let config = json!({"supportedFeatures": features(self.mode, self.read_only)});
        let _ = socket.emit("config", &Payload::one(&config).unwrap_or_default());
        if self.mode != AdminMode::Development {
            return;
        }
        let Some(server) = self.server() else { return };
        let sockets: Vec<Value> = server
            .engine()
            .handler()
            .all_namespaces()
            .iter()
            .flat_map(|ns| ns.all_sockets())
            .map(|socket| serialize(&Socket(socket)))
            .collect();
        let _ = socket.emit("all_sockets", &Payload::one(&sockets).unwrap_or_default());
    }

    /// One of the UI's commands; anything malformed is ignored (the UI can send an
    /// empty room name).
    fn command(&self, event: Event) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        let Ok(args) = event.args.values() else {
            return;
        };
        let text = |i: usize| args.get(i).and_then(Value::as_str);
        let Some(server) = self.server() else { return };
        let Some(ns) = text(0).and_then(|nsp| server.engine().handler().namespace(nsp)) else {
            return;
        };
        if self.is_admin(&ns.name) && event.name == "emit" {
            return;
        }
        let target = |filter: Option<&str>| {
            let all = BroadcastOperator::new(Arc::clone(&ns));
            match filter.filter(|room| !room.is_empty()) {
                Some(room) => all.to(room),
                None => all,
            }
        };
        match event.name.as_str() {
            "join" => {
                if let Some(room) = text(1).filter(|room| !room.is_empty()) {
                    let _ = target(text(2)).join(room);
                }
            }
            "leave" => {
                if let Some(room) = text(1).filter(|room| !room.is_empty()) {
                    target(text(2)).leave(room);
                }
            }
            "_disconnect" => {
                let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
                let op = target(text(2));
                ns.adapter.disconnect_sockets(&*ns, op.options(), close);
            }
            "emit" => {
                let Some(name) = text(2) else { return };
                let rest = args.get(3..).unwrap_or_default();
                if let Ok(payload) = Payload::many(rest) {
                    target(text(1)).emit(name, &payload);
                }
            }
            _ => {}
        }
    }
}

impl Observer for Admin {
    fn connected(&self, socket: &Socket) {
        let Some(ns) = self.audience() else { return };
        // Its own id room first, as node and python-socketio report it.
        let (nsp, id, at) = (socket.namespace(), socket.id(), iso_now());
        let sid = id.as_str();
        Self::send(&ns, "room_joined", json!([nsp, sid, sid, at]).to_string());
        Self::send(
            &ns,
            "socket_connected",
            json!([serialize(socket), at]).to_string(),
        );
    }

    fn disconnected(&self, socket: &Socket, rooms: &[Room], reason: DisconnectReason) {
        let Some(ns) = self.audience() else { return };
        let (nsp, sid, at) = (socket.namespace(), socket.id(), iso_now());
        let notice = json!([nsp, sid.as_str(), reason.as_str(), at]).to_string();
        Self::send(&ns, "socket_disconnected", notice);
        for room in rooms {
            let notice = json!([nsp, &**room, sid.as_str(), at]).to_string();
            Self::send(&ns, "room_left", notice);
        }
    }

    fn joined(&self, nsp: &str, sid: Sid, room: &str) {
        self.notify("room_joined", || {
            json!([nsp, room, sid.as_str(), iso_now()]).to_string()
        });
    }

    fn left(&self, nsp: &str, sid: Sid, room: &str) {
        self.notify("room_left", || {
            json!([nsp, room, sid.as_str(), iso_now()]).to_string()
        });
    }

    fn event_received(&self, socket: &Socket, name: &str, args: &Payload) {
        if self.is_admin(socket.namespace()) {
            return;
        }
        let Some(ns) = self.audience() else { return };
        let notice = {
            let mut notice = String::with_capacity(args.json().len() + name.len() + 96);
            notice.push('[');
            notice.push_str(&json_str(socket.namespace()));
            notice.push(',');
            notice.push_str(&json_str(socket.id().as_str()));
            notice.push(',');
            push_event(&mut notice, name, args);
            notice.push(',');
            notice.push_str(&json_str(&iso_now()));
            notice.push(']');
            notice
        };
        // The event's attachments go along, as node sends them.
        Self::send_with(&ns, "event_received", notice, args.binary());
    }

    fn event_sent(&self, nsp: &str, sids: &[Sid], name: &str, args: &Payload) {
        if self.is_admin(nsp) {
            return;
        }
        let Some(ns) = self.audience() else { return };
        // One notice per recipient, as the UI expects; everything but the sid is
        // built once.
        let head = format!("[{},", json_str(nsp));
        let mut tail = String::with_capacity(args.json().len() + name.len() + 40);
        tail.push(',');
        push_event(&mut tail, name, args);
        tail.push(',');
        tail.push_str(&json_str(&iso_now()));
        tail.push(']');
        for sid in sids {
            let mut notice = String::with_capacity(head.len() + tail.len() + 24);
            notice.push_str(&head);
            notice.push('"');
            notice.push_str(sid.as_str()); // ids are URL-safe base64: no escaping
            notice.push('"');
            notice.push_str(&tail);
            Self::send_with(&ns, "event_sent", notice, args.binary());
        }
    }

    fn upgraded(&self, sockets: &[Socket]) {
        let Some(ns) = self.audience() else { return };
        for socket in sockets {
            let update = json!({
                "id": socket.id().as_str(),
                "nsp": socket.namespace(),
                "transport": "websocket",
            });
            Self::send(&ns, "socket_updated", json!([update]).to_string());
        }
    }
}

fn json_str(text: &str) -> String {
    Value::from(text).to_string()
}

/// Appends `[name, ...args]` as JSON text (placeholders stand for `args`' attachments,
/// sent with the notice).
fn push_event(out: &mut String, name: &str, args: &Payload) {
    let json = args.json().trim();
    let inner = json
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or("")
        .trim();
    out.push('[');
    out.push_str(&json_str(name));
    if !inner.is_empty() {
        out.push(',');
        out.push_str(inner);
    }
    out.push(']');
}

/// A socket as the UI lists it (`SerializedSocket`).
fn serialize(socket: &Socket) -> Value {
    let handshake = socket.handshake();
    let headers: serde_json::Map<String, Value> = handshake
        .headers()
        .map(|(name, value)| (name.to_owned(), Value::from(value.trim())))
        .collect();
    // A repeated key's values become a list, as node's query object has them.
    let mut query = serde_json::Map::new();
    for (key, value) in crate::engine::query_pairs(handshake.query()) {
        match query.get_mut(&key) {
            Some(Value::Array(values)) => values.push(Value::from(value)),
            Some(first) => *first = Value::Array(vec![first.take(), Value::from(value)]),
            None => {
                query.insert(key, Value::from(value));
            }
        }
    }
    let issued = epoch_ms(handshake.issued());
    let rooms: Vec<Value> = socket
        .rooms()
        .iter()
        .map(|room| Value::from(&**room))
        .collect();
    json!({
        "id": socket.id().as_str(),
        "clientId": socket.engine_id().as_str(),
        "transport": if socket.is_websocket() { "websocket" } else { "polling" },
        "nsp": socket.namespace(),
        "data": {},
        "handshake": {
            "address": handshake.remote_addr().ip().to_string(),
            "headers": headers,
            "query": query,
            "issued": issued,
            "secure": false,
            "time": iso(issued),
            "url": handshake.target(),
            "xdomain": handshake.header("origin").is_some(),
        },
        "rooms": rooms,
    })
}

/// Every second, the server's counters since the last sample become that second's
/// `aggregatedEvents`; every `interval`, `server_stats` takes what gathered.
async fn stats_task(admin: Arc<Admin>, interval: Duration) {
    let sample_every = interval.min(Duration::from_secs(1));
    let mut ticks = tokio::time::interval(sample_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate
    let Some(server) = admin.server() else { return };
    let mut last = server.metrics();
    drop(server);
    let mut events = Aggregated::default();
    let mut next_stats = Instant::now() + interval;
    loop {
        tokio::select! {
            _ = admin.cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let Some(server) = admin.server() else { return };
        let now = server.metrics();
        events.add(&last, &now, epoch_ms(SystemTime::now()));
        if Instant::now() + sample_every / 2 >= next_stats {
            next_stats += interval;
            // Drained every interval, heard or not; never volatile.
            let aggregated = events.take();
            if let Some(ns) = admin.audience() {
                let stats = admin.stats(&server, &now, aggregated);
                Admin::emit_json(&ns, "server_stats", json!([stats]).to_string(), &[], false);
            }
        }
        last = now;
    }
}

impl Admin {
    fn stats(&self, server: &Server, now: &MetricsSnapshot, aggregated: Vec<Value>) -> Value {
        let namespaces: Vec<Value> = server
            .namespace_socket_counts()
            .into_iter()
            .map(|(name, count)| json!({"name": name, "socketsCount": count}))
            .collect();
        json!({
            "serverId": self.server_id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": server.session_count(),
            "pollingClientsCount": now.connections(TransportKind::Polling),
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
        })
    }
}

/// Per-second counts by (bucket start in epoch ms, type, subtype).
#[derive(Default)]
struct Aggregated(BTreeMap<(u64, &'static str, Option<&'static str>), u64>);

impl Aggregated {
    fn add(&mut self, before: &MetricsSnapshot, after: &MetricsSnapshot, now_ms: u64) {
        // The counts happened during the second that just ended (or this one).
        let bucket = now_ms.saturating_sub(1) / 1000 * 1000;
        let mut put = |kind: &'static str, sub: Option<&'static str>, count: u64| {
            if count > 0 {
                *self.0.entry((bucket, kind, sub)).or_default() += count;
            }
        };
        let opened = |s: &MetricsSnapshot| s.accepted.iter().sum::<u64>();
        put(
            "rawConnection",
            None,
            opened(after).saturating_sub(opened(before)),
        );
        for (i, reason) in DISCONNECT_REASONS.iter().enumerate() {
            let closed = after.disconnects[i].saturating_sub(before.disconnects[i]);
            put("rawDisconnection", Some(reason.as_str()), closed);
        }
        let delta = |a: u64, b: u64| a.saturating_sub(b);
        put(
            "packetsIn",
            None,
            delta(after.packets_received, before.packets_received),
        );
        put(
            "packetsOut",
            None,
            delta(after.packets_sent, before.packets_sent),
        );
        put(
            "bytesIn",
            None,
            delta(after.bytes_received, before.bytes_received),
        );
        put("bytesOut", None, delta(after.bytes_sent, before.bytes_sent));
    }

    fn take(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.0)
            .into_iter()
            .map(|((timestamp, kind, sub), count)| {
                let mut entry = json!({"timestamp": timestamp, "type": kind, "count": count});
                if let Some(sub) = sub {
                    entry["subType"] = Value::from(sub);
                }
                entry
            })
            .collect()
    }
}

fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn iso_now() -> String {
    iso(epoch_ms(SystemTime::now()))
}

/// `ms` since the epoch as ISO 8601 in UTC with milliseconds, `2026-12-02T01:02:03.004Z`.
fn iso(ms: u64) -> String {
    let (days, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (year, month, day) = civil_date(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01: count in 400-year eras of
/// 146,097 days from 0000-03-01, so that leap days fall at the end of each year.
fn civil_date(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// This machine's host name (as `server_stats` reports it).
#[allow(unsafe_code)]
fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at most that.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            if let Ok(name) = std::str::from_utf8(&buf[..end]) {
                if !name.is_empty() {
                    return name.to_owned();
                }
            }
        }
    }
    std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(1_796_173_323_004), "2026-12-02T01:02:03.004Z");
        assert_eq!(iso(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn event_arrays() {
        let event = |name: &str, args: &Payload| {
            let mut out = String::new();
            push_event(&mut out, name, args);
            out
        };
        let args = Payload::many(&(1, "two")).expect("two args");
        assert_eq!(event("chat", &args), r#"["chat",1,"two"]"#);
        assert_eq!(event("ping", &Payload::empty()), r#"["ping"]"#);
    }

    #[test]
    fn feature_lists() {
        assert_eq!(features(AdminMode::Production, true), ["AGGREGATED_EVENTS"]);
        let all = features(AdminMode::Development, false);
        assert_eq!(all.len(), 9);
        assert_eq!(all.last(), Some(&"ALL_EVENTS"));
    }

    #[tokio::test]
    async fn auth_kinds() {
        let basic = AdminAuth::basic("a", "b");
        assert!(
            basic
                .accepts(Some(json!({"username": "a", "password": "b"})))
                .await
        );
        assert!(
            !basic
                .accepts(Some(json!({"username": "a", "password": "c"})))
                .await
        );
        assert!(!basic.accepts(None).await);
        assert!(AdminAuth::disabled().accepts(None).await);
        let check = AdminAuth::check(|auth| async move { auth == Some(json!("x")) });
        assert!(check.accepts(Some(json!("x"))).await);
        assert!(!check.accepts(None).await);
    }
}
