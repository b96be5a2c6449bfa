//! Engine.IO sessions: transports, heartbeats and the per-session outbound queue.
//!
//! A [`Session`] is one Engine.IO connection. Whatever the transport, everything the
//! server sends goes through the session's bounded queue, and exactly one consumer
//! drains it: the pending long-polling GET, or the WebSocket task once the session is
//! on WebSocket. The consumer takes everything queued at once and writes it in one
//! response or one flush, so bursts coalesce without extra buffering.
//!
//! The engine knows nothing of Socket.IO: it calls a [`Handler`] for each session's
//! open, messages and close, and keeps its own state ([`Engine`]). Never: a file under
//! `engine/` imports `server`, `socket`, `namespace`, `broadcast` or `embed`
//! (`core/tests/layering.rs` fails if one does). [`Server`](crate::Server) is an
//! `Engine` with the Socket.IO layer as its handler; see [`Handler`] for a plain
//! Engine.IO server, and `examples/engineio_echo` for a whole one.
//!
//! Layout: this file, the session and its queue and heartbeat; `state`, the handler
//! trait and the engine's state and handle; `lifecycle`, the accept loop and shutdown;
//! `http`, request routing and the handshakes; `cors`, origins; `error`, refusals and
//! their HTTP answer; `polling` and `websocket`, the two network transports; `local`, the
//! in-process one ([`LocalSession`]).

mod cors;
mod error;
mod http;
mod lifecycle;
mod local;
mod polling;
mod state;
mod websocket;

pub(crate) use http::full;
pub use lifecycle::shutdown_signal;
pub use local::{LocalMessage, LocalSession};
pub use state::{BoxError, ConnectionInfo, Engine, Handler, ResponseBody};
pub(crate) use state::{BoxFuture, ConnectionGuard, ConnectionSlot, EngineState};

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::config::Config;
use crate::error::{DisconnectReason, SendError};
use crate::sid::Sid;

/// One encoded Socket.IO packet, shared by reference between all its recipients.
#[derive(Debug)]
pub(crate) struct OutPacket {
    /// The Engine.IO message text, `4` included.
    pub(crate) text: Utf8Bytes,
    /// Binary attachments, sent as separate binary messages after the text.
    pub(crate) binary: Vec<Bytes>,
}

impl OutPacket {
    pub(crate) fn new(text: String, binary: Vec<Bytes>) -> Arc<Self> {
        Arc::new(Self {
            text: Utf8Bytes::from(text),
            binary,
        })
    }
}

/// An item in a session's outbound queue.
#[derive(Debug, Clone)]
pub(crate) enum Outbound {
    /// A packet shared between recipients (a broadcast) or carrying attachments.
    Packet(Arc<OutPacket>),
    /// A text-only packet for one recipient: the Engine.IO message text, `4` included.
    /// Owning the text saves the shared packet's allocation; encoders size it exactly,
    /// so turning it into the frame payload does not allocate either.
    Text(String),
    Ping,
    /// One binary message of a plain Engine.IO handler ([`Session::send_binary`]).
    /// Boxed so that this variant does not make every queue slot larger: the inline
    /// first slot is part of every idle session's memory.
    Binary(Box<Bytes>),
}

impl Outbound {
    /// A packet for a single recipient.
    pub(crate) fn single(text: String, binary: Vec<Bytes>) -> Self {
        if binary.is_empty() {
            Self::Text(text)
        } else {
            Self::Packet(OutPacket::new(text, binary))
        }
    }
}

impl Outbound {
    /// What the item holds for its client, in bytes (a shared packet counts whole for
    /// every recipient: it is what that client keeps alive).
    fn size(&self) -> usize {
        match self {
            Self::Packet(packet) => packet
                .binary
                .iter()
                .fold(packet.text.len(), |sum, b| sum.saturating_add(b.len())),
            Self::Text(text) => text.len(),
            Self::Binary(data) => data.len(),
            Self::Ping => 1,
        }
    }
}

/// A session's queued items, in order. The first item is held inline, so a connection
/// that has one packet at a time to send (request/response traffic) never allocates
/// for its queue, and an idle session holds no queue memory.
#[derive(Debug, Default)]
pub(crate) struct Queued {
    first: Option<Outbound>,
    rest: VecDeque<Outbound>,
    /// What the queued items hold in all ([`Outbound::size`]), against
    /// `max_queued_bytes`. `u32`s keep the idle session small (the config caps the
    /// bound below 4 GiB).
    bytes: u32,
    /// When the oldest queued item was queued ([`clock_ms`]), against `max_queue_age`.
    /// The consumer always takes everything, so that is when the queue last went from
    /// empty to not empty. Meaningless while the queue is empty.
    since_ms: u32,
}

impl Queued {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }

    fn push(&mut self, item: Outbound, now_ms: u32) {
        self.bytes = self
            .bytes
            .saturating_add(u32::try_from(item.size()).unwrap_or(u32::MAX));
        if self.first.is_none() && self.rest.is_empty() {
            self.since_ms = now_ms;
            self.first = Some(item);
        } else {
            self.rest.push_back(item);
        }
    }
}

/// Which bound of the outbound queue a session passed.
#[derive(Debug, Clone, Copy)]
enum Overflow {
    Packets,
    Bytes,
    Age,
}

/// A coarse clock for the queue's age bound: milliseconds on tokio's clock since the
/// first reading, wrapping after 49 days (only differences of less than that are taken,
/// with [`u32::wrapping_sub`]). Reading the real clock on every enqueue cost about 75
/// instructions per recipient of a broadcast (some 12 % of a fan-out's total); this is
/// one atomic load. [`run_coarse_clock`] advances it every [`COARSE_TICK`] while a server
/// runs, so ages are measured to within that.
static COARSE_MS: AtomicU32 = AtomicU32::new(0);

/// How often the coarse clock advances.
pub(crate) const COARSE_TICK: std::time::Duration = std::time::Duration::from_millis(50);

fn clock_ms() -> u32 {
    COARSE_MS.load(Ordering::Relaxed)
}

/// Advances the coarse clock until `stop` is cancelled. Every running server has one of
/// these; several in one process store the same reading.
pub(crate) async fn run_coarse_clock(stop: tokio_util::sync::CancellationToken) {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let mut tick = tokio::time::interval(COARSE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                // Truncation is the wrap-around described on `COARSE_MS`.
                let now = Instant::now().saturating_duration_since(epoch).as_millis() as u32;
                COARSE_MS.store(now, Ordering::Relaxed);
            }
        }
    }
}

impl Iterator for Queued {
    type Item = Outbound;

    fn next(&mut self) -> Option<Outbound> {
        self.first.take().or_else(|| self.rest.pop_front())
    }
}

/// The HTTP request that opened a session: path and query, headers, peer address.
///
/// Kept for the session's whole life, so it is stored compactly: the request target and
/// every header in one string (header names lower-case; values that are not UTF-8 are
/// kept with replacement characters).
#[derive(Debug, Clone)]
pub struct Handshake {
    /// `target` + (`\n` + `name:value`) per header, in request order.
    text: Box<str>,
    remote_addr: SocketAddr,
    issued: std::time::SystemTime,
}

impl Handshake {
    /// Builds a handshake from the request target (path and query), headers and peer.
    pub fn new<'a>(
        target: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        remote_addr: SocketAddr,
    ) -> Self {
        let mut text = String::with_capacity(target.len() + 256);
        text.push_str(target);
        for (name, value) in headers {
            text.push('\n');
            text.push_str(name);
            text.push(':');
            text.push_str(&String::from_utf8_lossy(value));
        }
        Self {
            text: text.into_boxed_str(),
            remote_addr,
            issued: std::time::SystemTime::now(),
        }
    }

    /// The request target as received, e.g. `/socket.io/?EIO=4&transport=polling`.
    pub fn target(&self) -> &str {
        self.text.split('\n').next().unwrap_or("")
    }

    /// The path of the request target.
    pub fn path(&self) -> &str {
        let target = self.target();
        target.split_once('?').map_or(target, |(path, _)| path)
    }

    /// The query string (without `?`), or `""`.
    pub fn query(&self) -> &str {
        self.target().split_once('?').map_or("", |(_, query)| query)
    }

    /// The value of one query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_param(self.query(), name)
    }

    /// Every header as `(lower-case name, value)`, in request order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.text
            .split('\n')
            .skip(1)
            .filter_map(|line| line.split_once(':'))
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// When the session was opened.
    pub fn issued(&self) -> std::time::SystemTime {
        self.issued
    }
}

/// Which transport currently carries a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Polling,
    WebSocket,
    /// In process, no network ([`LocalSession`]): no heartbeat, never upgraded, never
    /// reachable by a polling request or a WebSocket.
    Local,
}

impl Transport {
    /// The counters' name for it.
    pub(crate) fn kind(self) -> crate::metrics::TransportKind {
        use crate::metrics::TransportKind as K;
        match self {
            Transport::Polling => K::Polling,
            Transport::WebSocket => K::WebSocket,
            Transport::Local => K::Local,
        }
    }
}

#[derive(Debug)]
struct TransportState {
    kind: Transport,
    /// A WebSocket holds this session's one upgrade attempt, from its HTTP request until it
    /// switched the session over or gave up ([`UpgradeClaim`]). Taken under this lock, so of
    /// two WebSockets racing for one sid exactly one probes; the other is closed at once.
    upgrade_claimed: bool,
    /// How many probes were answered (wrapping). A GET compares it with the value it saw
    /// when it arrived: changed means it was pending when a probe was answered and must be
    /// released with a noop at once, even if it only runs after the switch. Unchanged, and
    /// the session switched: the GET came after the probe, alongside the client's `5`, and
    /// is refused like any GET after the switch, so its answer does not depend on which
    /// connection the server happened to read first.
    probes: u32,
    /// The upgrade under way has answered its probe (reset when it is abandoned). A GET
    /// arriving now is held briefly instead of answered at once; see `polling::get`.
    probed: bool,
    /// A long-polling GET is waiting on this session (two at once is a violation).
    get_pending: bool,
}

/// One Engine.IO connection, as its [`Handler`] sees it: send messages, close it, read
/// the request that opened it, and keep per-session state in [`Session::data`].
pub struct Session<H: Handler> {
    pub(crate) id: Sid,
    pub(crate) engine: Arc<EngineState<H>>,
    pub(crate) handshake: Handshake,
    /// Packets waiting to be written. Bounded three ways: `max_queued_packets` items,
    /// `max_queued_bytes` bytes, and `max_queue_age` for the oldest item. A session over
    /// any of them is closed (`client too slow`) rather than allowed to grow, so a client
    /// that reads slowly, or not at all, costs at most that much here.
    queue: Mutex<Queued>,
    /// Wakes the single queue consumer (pending GET or WebSocket task). `notify_one`
    /// keeps a permit when nobody waits, so a wake-up between a drain and the next wait
    /// is never lost.
    writable: Notify,
    /// Wakes every pending GET and a probing WebSocket when the transport state changes
    /// (probe answered, switch to WebSocket, upgrade abandoned) or the session closes.
    /// `notify_waiters`, never a permit: each waiter re-checks the state, which it reads
    /// only after creating its `notified()` future, so no change goes unseen. Kept apart
    /// from `writable` so that these wake-ups never take the queue consumer's one permit:
    /// with a single `Notify`, a GET still pending at the switch and the new WebSocket task
    /// competed for it, leaving one of them asleep.
    transport_changed: Notify,
    /// Set by every pong; the heartbeat consumes it when it checks for one.
    pong_seen: AtomicBool,
    /// Wakes a heartbeat task when a pong arrives or the session closes (a stale permit
    /// only causes an extra check).
    pong: Notify,
    /// Set once by the first `close`, so cleanup and disconnect handlers run exactly once.
    closing: AtomicBool,
    /// A [`LocalSession`]: its owner drains the queue when it chooses (a test between
    /// two steps), so the queue-age bound does not apply; the packet and byte bounds do.
    /// Fixed at creation, so the enqueue path reads it without the transport lock.
    local: bool,
    /// Why the session closed (decides what a pending GET is answered with).
    close_reason: Mutex<Option<DisconnectReason>>,
    transport: Mutex<TransportState>,
    /// The handler's state for this session (for Socket.IO: its namespace sockets and
    /// partial packets).
    data: H::Data,
}

impl<H: Handler> std::fmt::Debug for Session<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.id).finish()
    }
}

impl<H: Handler> Session<H> {
    pub(crate) fn new(
        engine: Arc<EngineState<H>>,
        handshake: Handshake,
        kind: Transport,
    ) -> Arc<Self> {
        let session = Arc::new(Self {
            id: Sid::new(),
            engine,
            handshake,
            queue: Mutex::new(Queued::default()),
            writable: Notify::new(),
            transport_changed: Notify::new(),
            pong_seen: AtomicBool::new(false),
            pong: Notify::new(),
            closing: AtomicBool::new(false),
            local: kind == Transport::Local,
            close_reason: Mutex::new(None),
            transport: Mutex::new(TransportState {
                kind,
                upgrade_claimed: false,
                probes: 0,
                probed: false,
                get_pending: false,
            }),
            data: H::Data::default(),
        });
        session.engine.insert_session(&session);
        session.engine.metrics.opened(kind.kind());
        // A WebSocket session's own task runs its heartbeat (one task per connection);
        // polling has no task of its own, so it gets one.
        if kind == Transport::Polling {
            tokio::spawn(heartbeat(Arc::clone(&session)));
        }
        session.engine.handler.on_open(&session);
        session
    }

    /// The session id (the `sid` of the open packet).
    pub fn id(&self) -> Sid {
        self.id
    }

    /// The HTTP request that opened the session.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// The handler's state for this session.
    pub fn data(&self) -> &H::Data {
        &self.data
    }

    /// The engine's handler.
    pub fn handler(&self) -> &H {
        &self.engine.handler
    }

    /// The engine's configuration.
    pub fn config(&self) -> &Config {
        &self.engine.config
    }

    /// Whether the session is on the WebSocket transport (after an upgrade or directly).
    pub fn is_websocket(&self) -> bool {
        self.transport() == Transport::WebSocket
    }

    /// Sends one text message. Never blocks: it is queued for the transport, and a
    /// client whose queue is over its bounds is disconnected (`client too slow`).
    pub fn send_text(self: &Arc<Self>, text: &str) -> Result<(), SendError> {
        let mut message = String::with_capacity(text.len() + 1);
        message.push('4');
        message.push_str(text);
        self.send(Outbound::Text(message))
    }

    /// Sends one binary message; queued like [`Session::send_text`].
    pub fn send_binary(self: &Arc<Self>, data: Bytes) -> Result<(), SendError> {
        self.send(Outbound::Binary(Box::new(data)))
    }

    /// Whether the session is closed (or closing).
    pub fn is_closed(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub(crate) fn transport(&self) -> Transport {
        lock(&self.transport).kind
    }

    /// Takes the session's upgrade attempt for a WebSocket that arrived with its sid: `None`
    /// when the session is not on polling any more, closed, or another WebSocket holds the
    /// attempt (that one was first; this one is to be closed).
    pub(crate) fn claim_upgrade(self: &Arc<Self>) -> Option<UpgradeClaim<H>> {
        let mut transport = lock(&self.transport);
        if transport.kind != Transport::Polling || transport.upgrade_claimed || self.is_closed() {
            return None;
        }
        transport.upgrade_claimed = true;
        Some(UpgradeClaim(Arc::clone(self)))
    }

    /// Queues one item for the client. Never blocks; a full queue closes the session.
    pub(crate) fn send(self: &Arc<Self>, item: Outbound) -> Result<(), SendError> {
        self.enqueue(std::iter::once(item))
    }

    /// Queues several items at once (they stay contiguous).
    pub(crate) fn send_all(self: &Arc<Self>, items: Vec<Outbound>) -> Result<(), SendError> {
        if items.is_empty() {
            return Ok(());
        }
        self.enqueue(items)
    }

    fn enqueue<I>(self: &Arc<Self>, items: I) -> Result<(), SendError>
    where
        I: IntoIterator<Item = Outbound>,
        I::IntoIter: ExactSizeIterator,
    {
        let items = items.into_iter();
        let config = &self.engine.config;
        let now_ms = clock_ms();
        {
            let mut queue = lock(&self.queue);
            if self.is_closed() {
                return Err(SendError::Disconnected);
            }
            let overflow = if queue.len() + items.len() > config.max_queued_packets {
                Some(Overflow::Packets)
            } else if !self.local
                && !queue.is_empty()
                && u64::from(now_ms.wrapping_sub(queue.since_ms))
                    > config.max_queue_age.as_millis() as u64
            {
                Some(Overflow::Age)
            } else {
                None
            };
            if overflow.is_none() {
                for item in items {
                    queue.push(item, now_ms);
                }
            }
            let overflow = overflow.or_else(|| {
                (queue.bytes as usize > config.max_queued_bytes).then_some(Overflow::Bytes)
            });
            if let Some(bound) = overflow {
                // What this session queued is given back at once: it is closing, and
                // its consumer may be a client that never reads again.
                let dropped = std::mem::take(&mut *queue);
                drop(queue);
                self.overflowed(bound, &dropped);
                drop(dropped);
                return Err(SendError::QueueFull);
            }
        }
        self.writable.notify_one();
        Ok(())
    }

    /// The queue passed `bound`: log which and close the session as too slow.
    fn overflowed(self: &Arc<Self>, bound: Overflow, dropped: &Queued) {
        let config = &self.engine.config;
        match bound {
            Overflow::Packets => tracing::warn!(
                sid = %self.id,
                max_queued_packets = config.max_queued_packets,
                "outbound queue full (packets), disconnecting slow client"
            ),
            Overflow::Bytes => tracing::warn!(
                sid = %self.id,
                queued_bytes = dropped.bytes,
                max_queued_bytes = config.max_queued_bytes,
                "outbound queue full (bytes), disconnecting slow client"
            ),
            Overflow::Age => tracing::warn!(
                sid = %self.id,
                max_queue_age_ms = config.max_queue_age.as_millis() as u64,
                "oldest queued packet waited too long, disconnecting slow client"
            ),
        }
        self.close(DisconnectReason::ClientTooSlow);
    }

    /// Takes everything queued, leaving an empty queue that holds no memory.
    pub(crate) fn drain(&self) -> Queued {
        let queued = std::mem::take(&mut *lock(&self.queue));
        if !queued.is_empty() {
            self.engine
                .metrics
                .sent(queued.len(), queued.bytes as usize);
        }
        queued
    }

    /// Whether anything is queued.
    pub(crate) fn has_queued(&self) -> bool {
        !lock(&self.queue).is_empty()
    }

    /// Closes the session once: the handler's [`Handler::on_close`] runs with `reason`,
    /// the heartbeat stops and the transport flushes what is queued and closes.
    pub fn close(self: &Arc<Self>, reason: DisconnectReason) {
        self.close_as(reason, false);
    }

    /// [`Session::close`]; `client_asked`: the client sent a close packet.
    fn close_as(self: &Arc<Self>, reason: DisconnectReason, client_asked: bool) {
        if self.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::debug!(sid = %self.id, %reason, "session closed");
        *lock(&self.close_reason) = Some(reason);
        // Read after `closing` is set: an upgrade switches only sessions not yet closing,
        // under this lock, so the session is counted off the transport it was counted on.
        let transport = self.transport();
        self.engine.metrics.closed(transport.kind(), reason);
        let polling = transport == Transport::Polling;
        let linger = client_asked
            || matches!(
                reason,
                DisconnectReason::ServerNamespaceDisconnect | DisconnectReason::ServerShuttingDown
            );
        if polling && linger {
            // Keep the session reachable briefly so the client's next GETs collect the
            // queued disconnect packets and then the close packet instead of a bare 400;
            // and, when the client closed it (`1` in a POST), so that a GET it sent just
            // before, which may be handled after the POST, still gets its noop.
            let session = Arc::clone(self);
            let grace = self
                .engine
                .config
                .ping_timeout
                .min(std::time::Duration::from_secs(5));
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                session.engine.remove_session(&session.id);
            });
        } else {
            self.engine.remove_session(&self.id);
        }
        self.engine.handler.on_close(self, reason);
        // Wake the queue consumer (a pending GET answers, the WebSocket task flushes and
        // sends its close frame) and the heartbeat task (it sees the close and ends).
        self.writable.notify_one();
        self.pong.notify_one();
        // And every pending GET and a probing WebSocket, whoever took the permit above.
        self.transport_changed.notify_waiters();
    }

    pub(crate) fn close_reason(&self) -> Option<DisconnectReason> {
        *lock(&self.close_reason)
    }

    pub(crate) fn on_pong(&self) {
        self.pong_seen.store(true, Ordering::Release);
        self.pong.notify_one();
    }

    /// Handles one packet from the client, whatever the transport. An error closes the
    /// session with the returned reason.
    pub(crate) fn on_packet(
        self: &Arc<Self>,
        packet: crate::protocol::EnginePacket<'_>,
    ) -> Result<(), DisconnectReason> {
        use crate::protocol::EnginePacket as P;
        self.engine.metrics.received(match &packet {
            P::Message(text) => text.len(),
            P::Binary(data) => data.len(),
            _ => 0,
        });
        match packet {
            P::Message(text) => self.engine.handler.on_message(self, text),
            P::Binary(data) => self.engine.handler.on_binary(self, data),
            P::Pong(_) => {
                self.on_pong();
                Ok(())
            }
            P::Close => {
                self.close_as(DisconnectReason::TransportClose, true);
                Ok(())
            }
            P::Noop => Ok(()),
            P::Ping(_) | P::Open(_) | P::Upgrade => {
                tracing::info!(sid = %self.id, "unexpected engine.io packet from client");
                Err(DisconnectReason::ParseError)
            }
        }
    }
}

/// A WebSocket's hold on its session's one upgrade attempt ([`Session::claim_upgrade`]).
/// Dropping it ends the attempt however the upgrade task ends (switched, probe failed or
/// timed out, connection lost before the 101 completed, task dropped at shutdown): a
/// session still on polling can then be upgraded again.
pub(crate) struct UpgradeClaim<H: Handler>(Arc<Session<H>>);

impl<H: Handler> UpgradeClaim<H> {
    pub(crate) fn session(&self) -> &Arc<Session<H>> {
        &self.0
    }
}

impl<H: Handler> Drop for UpgradeClaim<H> {
    fn drop(&mut self) {
        let mut transport = lock(&self.0.transport);
        if transport.kind == Transport::Polling {
            transport.upgrade_claimed = false;
            transport.probed = false;
            drop(transport);
            tracing::debug!(sid = %self.0.id, "upgrade abandoned");
            // GETs held after the probe stop waiting for this upgrade and stay pending as
            // ordinary polls (see `polling::get`).
            self.0.transport_changed.notify_waiters();
        }
    }
}

/// The heartbeat and connect-timeout timer of one session, as a state machine that a
/// task drives: call [`Heartbeat::check`] when [`Heartbeat::wake_at`] passes or a pong
/// arrives. The polling heartbeat task and the WebSocket task both use it.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    awaiting_pong: bool,
    /// When to send the next ping, or (awaiting a pong) when to give up.
    deadline: Instant,
    /// Until the first namespace connect: when to close an idle connection.
    connect_deadline: Option<Instant>,
}

impl Heartbeat {
    pub(crate) fn new(config: &Config) -> Self {
        let now = Instant::now();
        Self {
            awaiting_pong: false,
            deadline: now + config.ping_interval,
            connect_deadline: Some(now + config.connect_timeout),
        }
    }

    pub(crate) fn wake_at(&self) -> Instant {
        match self.connect_deadline {
            Some(connect) if connect < self.deadline => connect,
            _ => self.deadline,
        }
    }

    /// Whether [`Heartbeat::check`] has anything to do: the timer set to
    /// [`Heartbeat::wake_at`] went off, or the pong it waits for arrived. Lets a busy
    /// connection skip reading the clock on every pass.
    pub(crate) fn due<H: Handler>(&self, session: &Session<H>, timer_elapsed: bool) -> bool {
        timer_elapsed || (self.awaiting_pong && session.pong_seen.load(Ordering::Acquire))
    }

    /// Advances the timers. Returns false once the session is closed.
    pub(crate) fn check<H: Handler>(&mut self, session: &Arc<Session<H>>) -> bool {
        if session.is_closed() {
            return false;
        }
        let now = Instant::now();
        if let Some(connect) = self.connect_deadline {
            if now >= connect {
                self.connect_deadline = None;
                if !session.engine.handler.is_attached(session) {
                    tracing::debug!(sid = %session.id, "handler did not attach the session in time");
                    session.close(DisconnectReason::TransportClose);
                    return false;
                }
            }
        }
        let config = &session.engine.config;
        if self.awaiting_pong {
            if session.pong_seen.swap(false, Ordering::AcqRel) {
                self.awaiting_pong = false;
                self.deadline = now + config.ping_interval;
            } else if now >= self.deadline {
                tracing::debug!(sid = %session.id, "no pong in time");
                session.close(DisconnectReason::PingTimeout);
                return false;
            }
        } else if now >= self.deadline {
            session.pong_seen.store(false, Ordering::Release);
            if session.send(Outbound::Ping).is_err() {
                return false;
            }
            self.awaiting_pong = true;
            self.deadline = now + config.ping_timeout;
        }
        true
    }
}

/// The heartbeat task of a polling session (a WebSocket task runs its own).
async fn heartbeat<H: Handler>(session: Arc<Session<H>>) {
    let mut beat = Heartbeat::new(&session.engine.config);
    loop {
        // `close` notifies `pong` too, so a closed session ends this task at once.
        tokio::select! {
            _ = tokio::time::sleep_until(beat.wake_at()) => {}
            _ = session.pong.notified() => {}
        }
        if !beat.check(&session) {
            return;
        }
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep serving.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Finds `name` in a query string and percent-decodes its value.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

/// Every `key=value` pair of `query`, both percent-decoded, in order.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(hex_byte) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_is_compact_and_complete() {
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        let handshake = Handshake::new(
            "/socket.io/?EIO=4&token=a%20b",
            [
                ("host", &b"x:1"[..]),
                ("x-multi", b"a:b"),
                ("x-multi", b"c"),
            ],
            addr,
        );
        assert_eq!(handshake.path(), "/socket.io/");
        assert_eq!(handshake.query_param("token").as_deref(), Some("a b"));
        assert_eq!(handshake.header("HOST"), Some("x:1"));
        assert_eq!(handshake.header("x-multi"), Some("a:b"));
        assert_eq!(handshake.headers().count(), 3);
        assert_eq!(handshake.remote_addr(), addr);
    }

    #[test]
    fn queue_slot_stays_small() {
        // The inline first slot of every session's queue: a plain handler's binary
        // variant (boxed) must not grow it past the `String` of a text packet.
        assert!(std::mem::size_of::<Outbound>() <= std::mem::size_of::<String>());
    }

    #[test]
    fn query_params() {
        assert_eq!(
            query_param("EIO=4&transport=polling", "EIO").as_deref(),
            Some("4")
        );
        assert_eq!(query_param("a=1&b=x%20y+z", "b").as_deref(), Some("x y z"));
        assert_eq!(query_param("a=%zz&c", "a").as_deref(), Some("%zz"));
        assert_eq!(query_param("a=%4", "a").as_deref(), Some("%4"));
        assert_eq!(query_param("c", "c").as_deref(), Some(""));
        assert_eq!(query_param("a=1", "b"), None);
    }
}
