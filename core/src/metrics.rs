//! The server's counters: one [`Metrics`] per engine, written on the hot paths with
//! relaxed atomic adds (no lock, no allocation; the per-packet ones in a shard per
//! thread) and read whole as a [`MetricsSnapshot`].
//!
//! Owns: the counters and their names. Never: reads a clock on the per-packet path, or
//! counts what can be read when asked (the namespaces' socket counts are read by the
//! snapshot's caller, not counted).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::error::DisconnectReason;

/// Why the server refused a connection or a handshake (the `reason` label of
/// `ferrosocket_connections_refused_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// The TCP connection was over `max_connections` and closed unanswered.
    MaxConnections,
    /// The handshake's `Origin` is not allowed (`allowed_origins`).
    Origin,
    /// The request's `Host` is not allowed (`allowed_hosts`).
    Host,
    /// A handshake the engine cannot take: unknown transport, unsupported protocol
    /// version, wrong method.
    BadHandshake,
    /// The server is shutting down.
    ShuttingDown,
}

impl Refusal {
    /// Every refusal, in the order of [`MetricsSnapshot::refused`].
    pub const ALL: [Refusal; 5] = [
        Refusal::MaxConnections,
        Refusal::Origin,
        Refusal::Host,
        Refusal::BadHandshake,
        Refusal::ShuttingDown,
    ];

    /// The label value, e.g. `"max_connections"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::MaxConnections => "max_connections",
            Refusal::Origin => "origin",
            Refusal::Host => "host",
            Refusal::BadHandshake => "bad_handshake",
            Refusal::ShuttingDown => "shutting_down",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Every [`DisconnectReason`], in the order of [`MetricsSnapshot::disconnects`].
pub const DISCONNECT_REASONS: [DisconnectReason; 8] = [
    DisconnectReason::ClientNamespaceDisconnect,
    DisconnectReason::ServerNamespaceDisconnect,
    DisconnectReason::PingTimeout,
    DisconnectReason::TransportClose,
    DisconnectReason::TransportError,
    DisconnectReason::ParseError,
    DisconnectReason::ServerShuttingDown,
    DisconnectReason::ClientTooSlow,
];

fn reason_index(reason: DisconnectReason) -> usize {
    match reason {
        DisconnectReason::ClientNamespaceDisconnect => 0,
        DisconnectReason::ServerNamespaceDisconnect => 1,
        DisconnectReason::PingTimeout => 2,
        DisconnectReason::TransportClose => 3,
        DisconnectReason::TransportError => 4,
        DisconnectReason::ParseError => 5,
        DisconnectReason::ServerShuttingDown => 6,
        DisconnectReason::ClientTooSlow => 7,
    }
}

/// Which transport a connection is on (the `transport` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket, from the start or after an upgrade.
    WebSocket,
    /// In process ([`engine::LocalSession`](crate::engine::LocalSession)).
    Local,
}

impl TransportKind {
    /// Every transport, in the order of the snapshot's per-transport arrays.
    pub const ALL: [TransportKind; 3] = [
        TransportKind::Polling,
        TransportKind::WebSocket,
        TransportKind::Local,
    ];

    /// The label value: `"polling"`, `"websocket"` or `"local"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
            TransportKind::Local => "local",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One counter on a cache line of its own, so that counters written by different
/// threads (reading and writing, one connection and another) do not slow each other.
#[derive(Default)]
#[repr(align(64))]
struct Line(AtomicU64);

impl Line {
    #[inline]
    fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A gauge: up and down, on a cache line of its own.
#[derive(Default)]
#[repr(align(64))]
struct Gauge(AtomicI64);

impl Gauge {
    #[inline]
    fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        // Readers run while writers move it: a decrement may land before its increment
        // is seen. Never negative once quiet.
        self.0.load(Ordering::Relaxed).max(0) as u64
    }
}

/// The counters written once or more per packet, in one shard per group of threads:
/// every I/O thread adds to its own cache line, so that a broadcast flushed by several
/// threads at once does not move one line back and forth between their cores. (On 2
/// cores `bench/suite/ab.sh` could not tell the two layouts apart through its noise.)
#[derive(Default)]
#[repr(align(128))]
struct Shard {
    packets_received: AtomicU64,
    bytes_received: AtomicU64,
    packets_sent: AtomicU64,
    bytes_sent: AtomicU64,
    events_received: AtomicU64,
    events_sent: AtomicU64,
}

/// Shards per engine: more than the I/O threads of any machine this serves well, few
/// enough that a snapshot's sum stays cheap (16 × 128 bytes per engine).
const SHARDS: usize = 16;

/// This thread's shard, handed out round-robin on its first count.
fn shard_index() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    INDEX.with(|index| {
        let mut i = index.get();
        if i == usize::MAX {
            i = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
            index.set(i);
        }
        i
    })
}

/// An engine's counters. Written by the engine and the Socket.IO layer; read with
/// [`Metrics::snapshot`].
#[derive(Default)]
pub struct Metrics {
    shards: [Shard; SHARDS],
    connections: [Gauge; 3],
    accepted: [Line; 3],
    upgrades: Line,
    refused: [Line; 5],
    disconnects: [Line; 8],
    acks_pending: Gauge,
    ack_timeouts: Line,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().fmt(f)
    }
}

impl Metrics {
    /// A session opened on `transport`.
    #[inline]
    pub(crate) fn opened(&self, transport: TransportKind) {
        self.connections[transport.index()].add(1);
        self.accepted[transport.index()].add(1);
    }

    /// A session moved from polling to WebSocket.
    #[inline]
    pub(crate) fn upgraded(&self) {
        self.connections[TransportKind::Polling.index()].add(-1);
        self.connections[TransportKind::WebSocket.index()].add(1);
        self.upgrades.add(1);
    }

    /// A session on `transport` closed with `reason`.
    #[inline]
    pub(crate) fn closed(&self, transport: TransportKind, reason: DisconnectReason) {
        self.connections[transport.index()].add(-1);
        self.disconnects[reason_index(reason)].add(1);
    }

    /// A connection or handshake was refused.
    #[inline]
    pub(crate) fn refused(&self, why: Refusal) {
        self.refused[why.index()].add(1);
    }

    #[inline]
    fn shard(&self) -> &Shard {
        &self.shards[shard_index()]
    }

    /// One Engine.IO packet of `bytes` bytes arrived from a client.
    #[inline]
    pub(crate) fn received(&self, bytes: usize) {
        let shard = self.shard();
        shard.packets_received.fetch_add(1, Ordering::Relaxed);
        shard
            .bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// `packets` Engine.IO packets holding `bytes` bytes were handed to a transport.
    #[inline]
    pub(crate) fn sent(&self, packets: usize, bytes: usize) {
        let shard = self.shard();
        shard
            .packets_sent
            .fetch_add(packets as u64, Ordering::Relaxed);
        shard.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// One Socket.IO event arrived for a handler.
    #[inline]
    pub(crate) fn event_received(&self) {
        self.shard().events_received.fetch_add(1, Ordering::Relaxed);
    }

    /// An event was queued for `recipients` sockets.
    #[inline]
    pub(crate) fn events_sent(&self, recipients: usize) {
        self.shard()
            .events_sent
            .fetch_add(recipients as u64, Ordering::Relaxed);
    }

    /// `n` acknowledgements the server waits for were registered (positive) or ended
    /// (negative: answered, timed out, or their socket left).
    #[inline]
    pub(crate) fn acks_pending(&self, n: i64) {
        self.acks_pending.add(n);
    }

    /// An acknowledgement the server waited for timed out.
    #[inline]
    pub(crate) fn ack_timed_out(&self) {
        self.ack_timeouts.add(1);
    }

    /// The counters now. Each is read on its own (relaxed), so two counters may be a few
    /// operations apart from each other.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let sum = |field: fn(&Shard) -> &AtomicU64| {
            self.shards
                .iter()
                .map(|shard| field(shard).load(Ordering::Relaxed))
                .fold(0u64, u64::wrapping_add)
        };
        MetricsSnapshot {
            connections: std::array::from_fn(|i| self.connections[i].get()),
            accepted: std::array::from_fn(|i| self.accepted[i].get()),
            upgrades: self.upgrades.get(),
            refused: std::array::from_fn(|i| self.refused[i].get()),
            disconnects: std::array::from_fn(|i| self.disconnects[i].get()),
            packets_received: sum(|s| &s.packets_received),
            bytes_received: sum(|s| &s.bytes_received),
            packets_sent: sum(|s| &s.packets_sent),
            bytes_sent: sum(|s| &s.bytes_sent),
            events_received: sum(|s| &s.events_received),
            events_sent: sum(|s| &s.events_sent),
            acks_pending: self.acks_pending.get(),
            ack_timeouts: self.ack_timeouts.get(),
        }
    }
}

/// The counters of one server at one moment ([`Metrics::snapshot`]). Totals count from
/// the server's start; gauges are the value now. Units: counts, and bytes of Engine.IO
/// packets (message text and binary attachments, without the transport's framing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Open Engine.IO connections by transport (gauge), indexed like
    /// [`TransportKind::ALL`]; a connection counts under the transport it is on now.
    pub connections: [u64; 3],
    /// Connections opened, by the transport they opened on (total).
    pub accepted: [u64; 3],
    /// Polling connections upgraded to WebSocket (total).
    pub upgrades: u64,
    /// Connections and handshakes refused, indexed like [`Refusal::ALL`] (total).
    pub refused: [u64; 5],
    /// Connections closed, by reason, indexed like [`DISCONNECT_REASONS`] (total). The
    /// `client too slow` entry counts the slow clients evicted for their outbound queue.
    pub disconnects: [u64; 8],
    /// Engine.IO packets from clients (total).
    pub packets_received: u64,
    /// Bytes of those packets (total).
    pub bytes_received: u64,
    /// Engine.IO packets handed to the transports, pings included (total).
    pub packets_sent: u64,
    /// Bytes of those packets (total).
    pub bytes_sent: u64,
    /// Socket.IO events from clients (total).
    pub events_received: u64,
    /// Socket.IO events queued for clients, once per recipient (total).
    pub events_sent: u64,
    /// Acknowledgements the server waits for from clients (gauge).
    pub acks_pending: u64,
    /// Of those, the ones that timed out (total).
    pub ack_timeouts: u64,
}

impl MetricsSnapshot {
    /// Open connections on `transport`.
    pub fn connections(&self, transport: TransportKind) -> u64 {
        self.connections[transport.index()]
    }

    /// Connections opened on `transport`.
    pub fn accepted(&self, transport: TransportKind) -> u64 {
        self.accepted[transport.index()]
    }

    /// Refusals for `why`.
    pub fn refused(&self, why: Refusal) -> u64 {
        self.refused[why.index()]
    }

    /// Connections closed with `reason`.
    pub fn disconnects(&self, reason: DisconnectReason) -> u64 {
        self.disconnects[reason_index(reason)]
    }

    /// Slow clients disconnected because their outbound queue passed its bounds.
    pub fn slow_client_evictions(&self) -> u64 {
        self.disconnects(DisconnectReason::ClientTooSlow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_gauges() {
        let metrics = Metrics::default();
        metrics.opened(TransportKind::Polling);
        metrics.opened(TransportKind::Polling);
        metrics.upgraded();
        metrics.closed(TransportKind::Polling, DisconnectReason::PingTimeout);
        metrics.refused(Refusal::Origin);
        metrics.received(10);
        metrics.sent(3, 30);
        metrics.acks_pending(2);
        metrics.acks_pending(-1);
        let snap = metrics.snapshot();
        assert_eq!(snap.connections(TransportKind::Polling), 0);
        assert_eq!(snap.connections(TransportKind::WebSocket), 1);
        assert_eq!(snap.accepted(TransportKind::Polling), 2);
        assert_eq!(snap.upgrades, 1);
        assert_eq!(snap.refused(Refusal::Origin), 1);
        assert_eq!(snap.disconnects(DisconnectReason::PingTimeout), 1);
        assert_eq!((snap.packets_received, snap.bytes_received), (1, 10));
        assert_eq!((snap.packets_sent, snap.bytes_sent), (3, 30));
        assert_eq!(snap.acks_pending, 1);
        for (i, reason) in DISCONNECT_REASONS.iter().enumerate() {
            assert_eq!(reason_index(*reason), i);
        }
        for (i, why) in Refusal::ALL.iter().enumerate() {
            assert_eq!(why.index(), i);
        }
    }
}

/// Writes the Prometheus text exposition format (version 0.0.4), one metric family at a
/// time: what `/metrics` answers ([`Server::prometheus`](crate::Server::prometheus)).
/// Layers above the engine (the adapter, the embedding layer, a binding) append their
/// own families with it.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

/// The `Content-Type` of [`Exposition`]'s text.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines. `kind` is `"counter"` or
    /// `"gauge"`; a counter's `name` ends in `_total`, a byte count in `_bytes`, a
    /// duration in `_seconds` (the Prometheus naming conventions).
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        use std::fmt::Write as _;
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        self
    }

    /// One sample of the family just started: `labels` are name/value pairs.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        use std::fmt::Write as _;
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 9.0e15 {
            let _ = writeln!(self.text, " {}", value as i64);
        } else {
            let _ = writeln!(self.text, " {value}");
        }
        self
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// The engine's counters ([`MetricsSnapshot`]), as the `ferrosocket_*` families.
    pub fn engine(&mut self, snap: &MetricsSnapshot) -> &mut Self {
        let gauge = "ferrosocket_connections";
        self.family(
            gauge,
            "gauge",
            "Open Engine.IO connections, by the transport they are on now.",
        );
        for transport in TransportKind::ALL {
            self.sample(
                gauge,
                &[("transport", transport.as_str())],
                snap.connections(transport) as f64,
            );
        }
        let total = "ferrosocket_connections_accepted_total";
        self.family(
            total,
            "counter",
            "Engine.IO connections opened, by the transport they opened on.",
        );
        for transport in TransportKind::ALL {
            self.sample(
                total,
                &[("transport", transport.as_str())],
                snap.accepted(transport) as f64,
            );
        }
        self.single(
            "ferrosocket_upgrades_total",
            "counter",
            "Polling connections upgraded to WebSocket.",
            snap.upgrades as f64,
        );
        let refused = "ferrosocket_connections_refused_total";
        self.family(
            refused,
            "counter",
            "Connections and handshakes refused, by reason.",
        );
        for why in Refusal::ALL {
            self.sample(
                refused,
                &[("reason", why.as_str())],
                snap.refused(why) as f64,
            );
        }
        let closed = "ferrosocket_disconnects_total";
        self.family(
            closed,
            "counter",
            "Engine.IO connections closed, by reason.",
        );
        for reason in DISCONNECT_REASONS {
            self.sample(
                closed,
                &[("reason", reason.as_str())],
                snap.disconnects(reason) as f64,
            );
        }
        let singles: [(&str, &str, &str, f64); 9] = [
            ("ferrosocket_slow_client_evictions_total", "counter", "Clients disconnected because their outbound queue passed its bounds.", snap.slow_client_evictions() as f64),
            ("ferrosocket_packets_received_total", "counter", "Engine.IO packets received from clients.", snap.packets_received as f64),
            ("ferrosocket_received_bytes_total", "counter", "Bytes of the Engine.IO packets received (message text and binary, no transport framing).", snap.bytes_received as f64),
            ("ferrosocket_packets_sent_total", "counter", "Engine.IO packets handed to the transports, pings included.", snap.packets_sent as f64),
            ("ferrosocket_sent_bytes_total", "counter", "Bytes of the Engine.IO packets sent (message text and binary, no transport framing).", snap.bytes_sent as f64),
            ("ferrosocket_events_received_total", "counter", "Socket.IO events received from clients.", snap.events_received as f64),
            ("ferrosocket_events_sent_total", "counter", "Socket.IO events queued for clients, once per recipient.", snap.events_sent as f64),
            ("ferrosocket_acks_pending", "gauge", "Acknowledgements the server waits for from clients.", snap.acks_pending as f64),
            ("ferrosocket_ack_timeouts_total", "counter", "Acknowledgements the server waited for that timed out.", snap.ack_timeouts as f64),
        ];
        self.singles(&singles)
    }

    /// One unlabelled family per `(name, kind, help, value)`.
    pub fn singles(&mut self, families: &[(&str, &str, &str, f64)]) -> &mut Self {
        for &(name, kind, help, value) in families {
            self.single(name, kind, help, value);
        }
        self
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The text.
    pub fn into_string(self) -> String {
        self.text
    }
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
