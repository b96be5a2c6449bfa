//! The Redis adapter: rooms and broadcasts shared by a fleet of servers over Redis
//! pub/sub, with ferrosocket, python-socketio / Flask-SocketIO and node socket.io
//! servers in one fleet, and emitters ([`RedisEmitter`]) reaching them from outside.
//!
//! Owns: the fleet side of every adapter operation — publishing what this server does
//! to many sockets, applying what the others publish, collecting acknowledgements and
//! answers across servers — in one of two wire formats ([`Format`]), over a [`Driver`]
//! (redis-rs by default). Never blocks an I/O thread or a handler: publishing goes
//! through the driver's bounded queue, and what cannot be queued is dropped and
//! counted.
//!
//! Delivery across servers is at most once: a message published while Redis is down,
//! or while this server is reconnecting, is lost (and counted in [`RedisStats`]), and a
//! message another server published meanwhile never arrives. Local delivery never
//! depends on Redis.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ferrosocket::adapter::redis::{Format, RedisAdapter, RedisOptions};
//! use ferrosocket::{Config, Server};
//! let adapter = RedisAdapter::start(RedisOptions::new("redis://127.0.0.1:6379/0"))?;
//! let server = Server::with_adapter(Config::default(), adapter);
//! // A Flask-SocketIO fleet instead:
//! let flask = RedisAdapter::start(
//!     RedisOptions::new("redis://127.0.0.1:6379/0").format(Format::PythonSocketIo).channel("flask-socketio"),
//! )?;
//! # let _ = (server, flask); Ok(()) }
//! ```

mod driver;
mod emitter;
mod format;
mod node;
#[cfg(test)]
mod node_fixtures;
mod pysio;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

pub use driver::{Driver, DriverOptions, DriverStats, PublishError, Received, RedisDriver};
pub use emitter::RedisEmitter;

use self::format::{Decoded, Incoming, Outgoing, RoomFilter, WireFormat};
use super::{
    AckReply, AckStream, Adapter, AdapterError, AdapterFuture, BroadcastOptions, BroadcastPacket,
    LocalNamespace, LocalServer, Room, SocketInfo,
};
use crate::error::AckError;
use crate::sid::Sid;

/// The wire format a fleet speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// node `@socket.io/redis-adapter` 8.x (msgpack): node socket.io servers and
    /// `@socket.io/redis-emitter` in the fleet. The default for a fleet of ferrosocket
    /// servers: one-room broadcasts go on the room's own channel, so Redis delivers a
    /// room's traffic only to the servers that have a member in it; binary travels as
    /// is (no base64); and the format has requests (fleet sockets and rooms,
    /// acknowledgement counts), so a broadcast with acks ends as soon as every target
    /// answered.
    #[default]
    SocketIo,
    /// python-socketio >= 5.15.1 / Flask-SocketIO 5.x (JSON on one channel):
    /// Flask-SocketIO and python-socketio servers and their `message_queue` emitters
    /// (Celery workers, scripts) in the fleet. Every server receives every message;
    /// there are no fleet queries, and a broadcast with acks waits out its timeout.
    PythonSocketIo,
}

impl Format {
    /// The format by name: `socket.io` (or `node`), `python-socketio` (or `python`,
    /// `flask-socketio`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "socket.io" | "node" | "socketio-node" => Some(Self::SocketIo),
            "python-socketio" | "python" | "flask-socketio" => Some(Self::PythonSocketIo),
            _ => None,
        }
    }

    /// The channel (python-socketio) or key prefix (socket.io) used when none is given:
    /// `socketio` and `socket.io`, each peer's own default.
    pub fn default_channel(self) -> &'static str {
        match self {
            Self::SocketIo => "socket.io",
            Self::PythonSocketIo => "socketio",
        }
    }

    fn wire(self, channel: &str) -> Arc<dyn WireFormat> {
        match self {
            Self::SocketIo => Arc::new(node::NodeSocketIo::new(channel)),
            Self::PythonSocketIo => Arc::new(pysio::PythonSocketIo::new(channel)),
        }
    }
}

/// How to join a Redis fleet.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    driver: DriverOptions,
    format: Format,
    channel: Option<String>,
    request_timeout: Duration,
}

impl RedisOptions {
    /// The fleet on the Redis at `url` (`redis://`, `rediss://`, `unix://`, `valkey://`;
    /// user, password and database in the URL), in the default [`Format`].
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            driver: DriverOptions::new(url),
            format: Format::default(),
            channel: None,
            request_timeout: Duration::from_secs(5),
        }
    }

    /// The wire format.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// The channel (python-socketio) or key prefix (socket.io); by default the format's
    /// own ([`Format::default_channel`]).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    /// A Redis Cluster with sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`); the URL names
    /// one node.
    pub fn cluster(mut self, cluster: bool) -> Self {
        self.driver.cluster = cluster;
        self
    }

    /// How long fleet queries (sockets, rooms) wait for the other servers. Default 5 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Publishes queued at most while Redis is slow; beyond, they are dropped and
    /// counted. Default 16,384.
    pub fn publish_queue(mut self, messages: usize) -> Self {
        self.driver.publish_queue = messages;
        self
    }

    /// Received messages queued at most before they are applied. Default 16,384.
    pub fn receive_queue(mut self, messages: usize) -> Self {
        self.driver.receive_queue = messages;
        self
    }

    fn channel_name(&self) -> String {
        self.channel
            .clone()
            .unwrap_or_else(|| self.format.default_channel().to_owned())
    }
}

/// Counters of one adapter (and its driver), since it started.
#[derive(Debug, Default)]
pub struct RedisStats {
    /// The driver's: published, lost publishes, received, dropped received, reconnects.
    pub driver: Arc<DriverStats>,
    /// Received messages applied.
    pub applied: AtomicU64,
    /// Received broadcasts skipped before decoding: none of their rooms is here.
    pub filtered: AtomicU64,
    /// Received messages that did not parse (ignored).
    pub invalid: AtomicU64,
    /// Pickled messages (python-socketio < 5.14), dropped unread.
    pub pickle: AtomicU64,
}

/// A snapshot of [`RedisStats`], plain numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisStatsSnapshot {
    /// Messages handed to Redis.
    pub published: u64,
    /// Publishes dropped (queue full or Redis unreachable).
    pub publish_lost: u64,
    /// Messages received.
    pub received: u64,
    /// Received messages dropped (receive queue full).
    pub receive_dropped: u64,
    /// Received messages applied.
    pub applied: u64,
    /// Received broadcasts skipped before decoding.
    pub filtered: u64,
    /// Received messages that did not parse.
    pub invalid: u64,
    /// Pickled messages dropped unread.
    pub pickle: u64,
    /// Connections to Redis lost and made again.
    pub reconnects: u64,
}

impl RedisStatsSnapshot {
    /// Appends these counters as the `ferrosocket_redis_*` metric families.
    pub fn write_metrics(&self, out: &mut crate::metrics::Exposition) {
        out.singles(&[
            (
                "ferrosocket_redis_published_total",
                "counter",
                "Messages handed to Redis.",
                self.published as f64,
            ),
            (
                "ferrosocket_redis_publish_lost_total",
                "counter",
                "Publishes dropped: queue full or Redis unreachable.",
                self.publish_lost as f64,
            ),
            (
                "ferrosocket_redis_received_total",
                "counter",
                "Messages received from Redis.",
                self.received as f64,
            ),
            (
                "ferrosocket_redis_receive_dropped_total",
                "counter",
                "Received messages dropped: receive queue full.",
                self.receive_dropped as f64,
            ),
            (
                "ferrosocket_redis_applied_total",
                "counter",
                "Received messages applied to this server.",
                self.applied as f64,
            ),
            (
                "ferrosocket_redis_filtered_total",
                "counter",
                "Received broadcasts for no socket here, skipped undecoded.",
                self.filtered as f64,
            ),
            (
                "ferrosocket_redis_invalid_total",
                "counter",
                "Received messages that did not parse.",
                self.invalid as f64,
            ),
            (
                "ferrosocket_redis_pickle_total",
                "counter",
                "Pickled messages dropped unread.",
                self.pickle as f64,
            ),
            (
                "ferrosocket_redis_reconnects_total",
                "counter",
                "Connections to Redis lost and made again.",
                self.reconnects as f64,
            ),
        ]);
    }
}

impl RedisStats {
    /// The counters now.
    pub fn snapshot(&self) -> RedisStatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisStatsSnapshot {
            published: load(&self.driver.published),
            publish_lost: load(&self.driver.publish_lost),
            received: load(&self.driver.received),
            receive_dropped: load(&self.driver.receive_dropped),
            applied: load(&self.applied),
            filtered: load(&self.filtered),
            invalid: load(&self.invalid),
            pickle: load(&self.pickle),
            reconnects: load(&self.driver.reconnects),
        }
    }
}

/// Replies to one request that may wait unread; beyond, they are dropped.
const MAX_REPLIES: usize = 65_536;

/// Forgets a pending request when its waiter goes, whether it ran to the end or was
/// dropped halfway (a caller that stops reading a broadcast's acks).
struct Registered {
    inner: Arc<Inner>,
    id: String,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.inner.unregister(&self.id);
    }
}

/// Replies to one of this server's broadcasts with acks, or one of its queries.
enum Pending {
    Acks(mpsc::Sender<Incoming>),
    Query(mpsc::Sender<Incoming>),
}

struct Inner {
    uid: String,
    format: Arc<dyn WireFormat>,
    driver: Arc<dyn Driver>,
    stats: Arc<RedisStats>,
    server: OnceLock<Arc<dyn LocalServer>>,
    /// Rooms with a local member, per namespace: what a received room broadcast is
    /// checked against before its payload is decoded.
    rooms: Mutex<HashMap<String, HashSet<Room>>>,
    pending: Mutex<HashMap<String, Pending>>,
    next_request: AtomicU64,
    request_timeout: Duration,
    /// When the last "publish lost" warning was logged (rate limit).
    warned: Mutex<HashMap<&'static str, Instant>>,
}

/// The Redis adapter. Build it with [`RedisAdapter::start`] inside a tokio runtime and
/// hand it to [`Server::with_adapter`](crate::Server::with_adapter).
#[derive(Clone)]
pub struct RedisAdapter(Arc<Inner>);

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("uid", &self.0.uid)
            .field("format", &self.0.format.name())
            .finish()
    }
}

impl RedisAdapter {
    /// Starts the adapter's connection to Redis (in the background, retried with
    /// backoff while Redis is down) and its receiving task, on the current tokio
    /// runtime. Fails only on a URL that does not parse.
    pub fn start(options: RedisOptions) -> Result<Self, AdapterError> {
        let (driver, received, driver_stats) = RedisDriver::start(options.driver.clone())?;
        Ok(Self::with_driver(
            options,
            Arc::new(driver),
            received,
            driver_stats,
        ))
    }

    /// The adapter over a driver of the caller's (a test's counting wrapper, say).
    /// `received` carries what the driver receives on the channels it is asked to
    /// subscribe to.
    pub fn with_driver(
        options: RedisOptions,
        driver: Arc<dyn Driver>,
        received: mpsc::Receiver<Received>,
        driver_stats: Arc<DriverStats>,
    ) -> Self {
        let channel = options.channel_name();
        let format = options.format.wire(&channel);
        let uid = Sid::new().to_string();
        driver.subscribe(format.fleet_channels(&uid));
        let inner = Arc::new(Inner {
            uid,
            format,
            driver,
            stats: Arc::new(RedisStats {
                driver: driver_stats,
                ..RedisStats::default()
            }),
            server: OnceLock::new(),
            rooms: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
            request_timeout: options.request_timeout,
            warned: Mutex::new(HashMap::new()),
        });
        tokio::spawn(receive(Arc::downgrade(&inner), received));
        Self(inner)
    }

    /// This server's id on the wire (`host_id` / `uid`).
    pub fn uid(&self) -> &str {
        &self.0.uid
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<RedisStats> {
        &self.0.stats
    }
}

impl Inner {
    /// Publishes `message`; false when the format cannot carry it (nothing was sent).
    fn publish(&self, message: &Outgoing<'_>) -> bool {
        let encoded = self.format.encode(&self.uid, message);
        let carried = !encoded.is_empty();
        for publish in encoded {
            if let Err(error) = self.driver.publish(publish.channel, publish.payload) {
                self.warn_limited("publish", || {
                    tracing::warn!(%error, lost = self.stats.driver.publish_lost.load(Ordering::Relaxed),
                        "a message for the fleet was dropped (delivery across servers is at most once)");
                });
            }
        }
        carried
    }

    /// Runs `log` at most once every 10 s per `key`.
    fn warn_limited(&self, key: &'static str, log: impl FnOnce()) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let due = warned
            .get(key)
            .is_none_or(|last| now.duration_since(*last) >= Duration::from_secs(10));
        if due {
            warned.insert(key, now);
            drop(warned);
            log();
        }
    }

    fn register(
        &self,
        pending: impl FnOnce(mpsc::Sender<Incoming>) -> Pending,
    ) -> (String, mpsc::Receiver<Incoming>) {
        let id = self
            .next_request
            .fetch_add(1, Ordering::Relaxed)
            .to_string();
        let (tx, rx) = mpsc::channel(MAX_REPLIES);
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), pending(tx));
        (id, rx)
    }

    fn unregister(&self, id: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    fn reply(&self, request: &str, message: Incoming) {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: replies past MAX_REPLIES that the caller has not read yet are dropped
        // (a peer cannot make this server hold them without end); a reply to a request
        // that is over is dropped too.
        if let Some(Pending::Acks(tx) | Pending::Query(tx)) = pending.get(request) {
            if tx.try_send(message).is_err() {
                self.stats.invalid.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn namespace(&self, nsp: &str) -> Option<Arc<dyn LocalNamespace>> {
        self.server.get()?.namespace(nsp)
    }

    fn apply(self: &Arc<Self>, from: String, message: Incoming) {
        match message {
            Incoming::Broadcast {
                nsp,
                event,
                args,
                opts,
                ack,
            } => {
                let Some(ns) = self.namespace(&nsp) else {
                    return;
                };
                let packet = BroadcastPacket {
                    event: &event,
                    args: &args,
                };
                let Some(ack) = ack else {
                    ns.broadcast(&packet, &opts);
                    return;
                };
                // Remote acks wait as long as the origin's timeout; it is not sent, so
                // the longest the origin would wait by default.
                let waits = ns.broadcast_with_ack(
                    &packet,
                    &opts,
                    self.request_timeout.max(Duration::from_secs(5)),
                );
                self.publish(&Outgoing::AckCount {
                    to: &from,
                    nsp: &nsp,
                    request: &ack.id,
                    count: waits.len(),
                });
                let inner = Arc::clone(self);
                tokio::spawn(async move {
                    let mut waits: futures_util::stream::FuturesUnordered<_> =
                        waits.into_iter().collect();
                    use futures_util::StreamExt as _;
                    while let Some(reply) = waits.next().await {
                        if let Ok(args) = reply.result {
                            inner.publish(&Outgoing::Ack {
                                to: &from,
                                nsp: &nsp,
                                request: &ack.id,
                                sid: &reply.sid,
                                reply_as: ack.reply_as.as_deref(),
                                args: &args,
                            });
                        }
                    }
                });
            }
            Incoming::AddSockets { nsp, opts, rooms } => {
                if let Some(ns) = self.namespace(&nsp) {
                    ns.add_sockets(&opts, &rooms);
                }
            }
            Incoming::DelSockets { nsp, opts, rooms } => {
                if let Some(ns) = self.namespace(&nsp) {
                    ns.del_sockets(&opts, &rooms);
                }
            }
            Incoming::CloseRoom { nsp, room } => {
                if let Some(ns) = self.namespace(&nsp) {
                    let rooms = [room];
                    ns.del_sockets(&BroadcastOptions::to(rooms.to_vec()), &rooms);
                }
            }
            Incoming::Disconnect { nsp, opts, close } => {
                if let Some(ns) = self.namespace(&nsp) {
                    ns.disconnect_sockets(&opts, close);
                }
            }
            Incoming::FetchSockets { nsp, request, opts } => {
                let sockets = self
                    .namespace(&nsp)
                    .map(|ns| ns.fetch_sockets(&opts))
                    .unwrap_or_default();
                self.publish(&Outgoing::Sockets {
                    to: &from,
                    nsp: &nsp,
                    request: &request,
                    sockets: &sockets,
                });
            }
            Incoming::AllRooms { nsp, request } => {
                let rooms = self
                    .namespace(&nsp)
                    .map(|ns| ns.rooms())
                    .unwrap_or_default();
                self.publish(&Outgoing::Rooms {
                    to: &from,
                    nsp: &nsp,
                    request: &request,
                    rooms: &rooms,
                });
            }
            reply @ (Incoming::AckCount { .. }
            | Incoming::Ack { .. }
            | Incoming::Sockets { .. }
            | Incoming::Rooms { .. }) => {
                let request = match &reply {
                    Incoming::AckCount { request, .. }
                    | Incoming::Ack { request, .. }
                    | Incoming::Sockets { request, .. }
                    | Incoming::Rooms { request, .. } => request.clone(),
                    _ => return,
                };
                self.reply(&request, reply);
            }
        }
    }

    /// How many other servers are in the fleet, by the subscriber count of the format's
    /// counting channel (this server included in the count).
    fn others(&self, nsp: &str) -> AdapterFuture<usize> {
        let count = self
            .driver
            .subscriber_count(self.format.server_count_channel(nsp));
        Box::pin(async move { count.await.map_or(0, |n| n.saturating_sub(1)) })
    }
}

impl RoomFilter for Inner {
    fn may_reach(&self, nsp: &str, rooms: &[Room]) -> bool {
        if rooms.is_empty() {
            return self.namespace(nsp).is_some();
        }
        let local = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let Some(ns_rooms) = local.get(nsp) else {
            // No room here, but a target may still be a local socket's id.
            return rooms.iter().any(|room| Sid::parse(room).is_some());
        };
        rooms
            .iter()
            .any(|room| ns_rooms.contains(room) || Sid::parse(room).is_some())
    }
}

/// Applies what arrives, until the adapter is gone or the driver stops.
async fn receive(inner: std::sync::Weak<Inner>, mut received: mpsc::Receiver<Received>) {
    while let Some(Received { channel, payload }) = received.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        match inner.format.decode(&inner.uid, &channel, &payload, &*inner) {
            Decoded::Message { from, message } => {
                inner.stats.applied.fetch_add(1, Ordering::Relaxed);
                inner.apply(from, message);
            }
            Decoded::NotForUs | Decoded::Ignored(_) => {}
            Decoded::Filtered => {
                inner.stats.filtered.fetch_add(1, Ordering::Relaxed);
            }
            Decoded::Pickle => {
                inner.stats.pickle.fetch_add(1, Ordering::Relaxed);
                inner.warn_limited("pickle", || {
                    tracing::warn!(
                        channel = %String::from_utf8_lossy(&channel),
                        dropped = inner.stats.pickle.load(Ordering::Relaxed),
                        "a pickled message was dropped unread: python-socketio < 5.14 pickles its messages \
                         (CVE-2025-61765); upgrade every server and emitter of the fleet to >= 5.15.1"
                    );
                });
            }
            Decoded::Invalid(reason) => {
                inner.stats.invalid.fetch_add(1, Ordering::Relaxed);
                inner.warn_limited("invalid", || {
                    tracing::warn!(
                        channel = %String::from_utf8_lossy(&channel),
                        %reason,
                        ignored = inner.stats.invalid.load(Ordering::Relaxed),
                        "a message from the fleet did not parse; ignored"
                    );
                });
            }
        }
    }
}

impl Adapter for RedisAdapter {
    fn init(&self, server: Arc<dyn LocalServer>) {
        let _ = self.0.server.set(server);
    }

    fn write_metrics(&self, out: &mut crate::metrics::Exposition) {
        self.stats().snapshot().write_metrics(out);
    }

    fn close(&self) {
        self.0.driver.close();
    }

    fn reaches_other_servers(&self) -> bool {
        true
    }

    fn namespace_created(&self, nsp: &str) {
        self.0
            .driver
            .subscribe(self.0.format.namespace_channels(nsp, &self.0.uid));
    }

    fn namespace_removed(&self, nsp: &str) {
        self.0
            .driver
            .unsubscribe(self.0.format.namespace_channels(nsp, &self.0.uid));
        self.0
            .rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(nsp);
    }

    fn room_created(&self, nsp: &str, room: &Room) {
        self.0
            .rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(nsp.to_owned())
            .or_default()
            .insert(Arc::clone(room));
        if let Some(channel) = self.0.format.room_channel(nsp, room) {
            self.0.driver.subscribe(vec![channel]);
        }
    }

    fn room_removed(&self, nsp: &str, room: &Room) {
        {
            let mut rooms = self.0.rooms.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(ns_rooms) = rooms.get_mut(nsp) {
                ns_rooms.remove(room);
                if ns_rooms.is_empty() {
                    rooms.remove(nsp);
                }
            }
        }
        if let Some(channel) = self.0.format.room_channel(nsp, room) {
            self.0.driver.unsubscribe(vec![channel]);
        }
    }

    fn socket_added(&self, nsp: &str, sid: Sid) {
        if let Some(channel) = self.0.format.room_channel(nsp, sid.as_str()) {
            self.0.driver.subscribe(vec![channel]);
        }
    }

    fn socket_removed(&self, nsp: &str, sid: Sid) {
        if let Some(channel) = self.0.format.room_channel(nsp, sid.as_str()) {
            self.0.driver.unsubscribe(vec![channel]);
        }
    }

    fn broadcast(
        &self,
        ns: &dyn LocalNamespace,
        packet: &BroadcastPacket<'_>,
        opts: &BroadcastOptions,
    ) -> usize {
        // To sockets that are all here (a reply to one client, say): nothing to tell.
        let all_here = !opts.rooms.is_empty() && opts.rooms.iter().all(|room| ns.has_socket(room));
        // Published first, so the other servers' fan-out starts while this one's runs.
        if !opts.flags.local && !all_here {
            self.0.publish(&Outgoing::Broadcast {
                nsp: ns.name(),
                packet: *packet,
                opts,
                ack: None,
            });
        }
        ns.broadcast(packet, opts)
    }

    fn broadcast_with_ack(
        &self,
        ns: &dyn LocalNamespace,
        packet: &BroadcastPacket<'_>,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> AckStream {
        let local: futures_util::stream::FuturesUnordered<_> = ns
            .broadcast_with_ack(packet, opts, timeout)
            .into_iter()
            .collect();
        if opts.flags.local {
            return Box::pin(local);
        }
        let (id, replies) = self.0.register(Pending::Acks);
        self.0.publish(&Outgoing::Broadcast {
            nsp: ns.name(),
            packet: *packet,
            opts,
            ack: Some(&id),
        });
        // Counts come only in the socket.io format; without them, every reply that
        // arrives in time is taken, and the stream ends at the timeout.
        let counted = self.0.format.counts_acks();
        let remote = RemoteAcks {
            _registered: Registered {
                inner: Arc::clone(&self.0),
                id,
            },
            replies,
            deadline: tokio::time::Instant::now() + timeout,
            others: counted.then(|| self.0.others(ns.name())),
            servers: None,
            counted: 0,
            expected: 0,
            answered: 0,
        };
        Box::pin(futures_util::stream::select(local, remote.into_stream()))
    }

    fn add_sockets(&self, ns: &dyn LocalNamespace, opts: &BroadcastOptions, rooms: &[Room]) {
        ns.add_sockets(opts, rooms);
        if !opts.flags.local {
            self.0.publish(&Outgoing::AddSockets {
                nsp: ns.name(),
                opts,
                rooms,
            });
        }
    }

    fn del_sockets(&self, ns: &dyn LocalNamespace, opts: &BroadcastOptions, rooms: &[Room]) {
        ns.del_sockets(opts, rooms);
        if !opts.flags.local {
            self.0.publish(&Outgoing::DelSockets {
                nsp: ns.name(),
                opts,
                rooms,
            });
        }
    }

    fn close_room(&self, ns: &dyn LocalNamespace, room: &Room) {
        let rooms = [Arc::clone(room)];
        ns.del_sockets(&BroadcastOptions::to(rooms.to_vec()), &rooms);
        self.0.publish(&Outgoing::CloseRoom {
            nsp: ns.name(),
            room,
        });
    }

    fn disconnect_sockets(&self, ns: &dyn LocalNamespace, opts: &BroadcastOptions, close: bool) {
        ns.disconnect_sockets(opts, close);
        if !opts.flags.local {
            self.0.publish(&Outgoing::Disconnect {
                nsp: ns.name(),
                opts,
                close,
            });
        }
    }

    fn fetch_sockets(
        &self,
        ns: &dyn LocalNamespace,
        opts: &BroadcastOptions,
    ) -> AdapterFuture<Result<Vec<SocketInfo>, AdapterError>> {
        let local = ns.fetch_sockets(opts);
        if opts.flags.local {
            return Box::pin(async move { Ok(local) });
        }
        let (id, replies) = self.0.register(Pending::Query);
        let message = Outgoing::FetchSockets {
            nsp: ns.name(),
            request: &id,
            opts,
        };
        if !self.0.publish(&message) {
            self.0.unregister(&id);
            return Box::pin(async {
                Err(AdapterError::Unsupported("fetching the fleet's sockets"))
            });
        }
        let query = self.query(ns.name(), id, replies);
        Box::pin(async move {
            let remote = query.await?;
            let mut all = local;
            for reply in remote {
                if let Incoming::Sockets { sockets, .. } = reply {
                    all.extend(sockets);
                }
            }
            Ok(all)
        })
    }

    fn all_rooms(&self, ns: &dyn LocalNamespace) -> AdapterFuture<Result<Vec<Room>, AdapterError>> {
        let local = ns.rooms();
        let (id, replies) = self.0.register(Pending::Query);
        let message = Outgoing::AllRooms {
            nsp: ns.name(),
            request: &id,
        };
        if !self.0.publish(&message) {
            self.0.unregister(&id);
            return Box::pin(async { Err(AdapterError::Unsupported("listing the fleet's rooms")) });
        }
        let query = self.query(ns.name(), id, replies);
        Box::pin(async move {
            let remote = query.await?;
            let mut all: HashSet<Room> = local.into_iter().collect();
            for reply in remote {
                if let Incoming::Rooms { rooms, .. } = reply {
                    all.extend(rooms);
                }
            }
            Ok(all.into_iter().collect())
        })
    }

    fn server_count(&self) -> AdapterFuture<usize> {
        let others = self.0.others("/");
        Box::pin(async move { others.await + 1 })
    }
}

/// The remote half of a broadcast with acks: replies as they come, until every counted
/// target answered (socket.io format) or the deadline; unanswered counted targets end
/// as timeouts.
struct RemoteAcks {
    /// Unregisters the request when the stream ends or is dropped.
    _registered: Registered,
    replies: mpsc::Receiver<Incoming>,
    deadline: tokio::time::Instant,
    /// How many other servers will send a count (asked when the broadcast starts).
    others: Option<AdapterFuture<usize>>,
    servers: Option<usize>,
    counted: usize,
    expected: usize,
    answered: usize,
}

impl RemoteAcks {
    fn into_stream(self) -> impl futures_util::Stream<Item = AckReply> + Send + 'static {
        futures_util::stream::unfold(self, |mut state| async move {
            if let Some(others) = state.others.take() {
                state.servers = Some(others.await);
            }
            loop {
                if let Some(servers) = state.servers {
                    if state.counted >= servers && state.answered >= state.expected {
                        return None;
                    }
                }
                match tokio::time::timeout_at(state.deadline, state.replies.recv()).await {
                    Ok(Some(Incoming::AckCount { count, .. })) => {
                        state.counted += 1;
                        state.expected += count;
                    }
                    Ok(Some(Incoming::Ack { sid, args, .. })) => {
                        state.answered += 1;
                        return Some((
                            AckReply {
                                sid,
                                result: Ok(args),
                            },
                            state,
                        ));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        if state.answered < state.expected {
                            state.answered += 1;
                            // Past the deadline: every further poll ends here at once.
                            state.servers = Some(0);
                            state.counted = 0;
                            return Some((
                                AckReply {
                                    sid: Arc::from(""),
                                    result: Err(AckError::Timeout),
                                },
                                state,
                            ));
                        }
                        return None;
                    }
                }
            }
        })
    }
}

impl RedisAdapter {
    /// Waits for one answer from every other server to request `id`.
    fn query(
        &self,
        nsp: &str,
        id: String,
        mut replies: mpsc::Receiver<Incoming>,
    ) -> AdapterFuture<Result<Vec<Incoming>, AdapterError>> {
        let others = self.0.others(nsp);
        let registered = Registered {
            inner: Arc::clone(&self.0),
            id,
        };
        let timeout = self.0.request_timeout;
        Box::pin(async move {
            let _registered = registered;
            let deadline = tokio::time::Instant::now() + timeout;
            let result = async {
                let others = others.await;
                let mut out = Vec::with_capacity(others);
                while out.len() < others {
                    match tokio::time::timeout_at(deadline, replies.recv()).await {
                        Ok(Some(reply)) => out.push(reply),
                        Ok(None) | Err(_) => return Err(AdapterError::Timeout),
                    }
                }
                Ok(out)
            }
            .await;
            result
        })
    }
}
