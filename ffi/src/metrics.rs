//! A server's counters from C: a snapshot into a caller's struct, the Prometheus text into
//! a caller's buffer, and the `/metrics` listener. Nothing here blocks on a client.

use std::ffi::c_char;

use ferrosocket::metrics::{Refusal, TransportKind};
use ferrosocket::DisconnectReason;

use crate::pointer::{copy_out, name_in, reference, write_out};
use crate::result::{ferrosocket_result, Result};
use crate::server::ferrosocket_server;

/// A server's counters at one moment (`ferrosocket_server_metrics`). Totals count from
/// the server's creation; the fields marked (gauge) are the value now. Bytes are those
/// of Engine.IO packets (message text and binary), without the transport's framing.
/// Later versions may add fields at the end only; `size` tells which version filled it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ferrosocket_metrics {
    /// `sizeof(ferrosocket_metrics)` as this library knows it (set by the call).
    pub size: usize,
    /// Open connections on long-polling (gauge).
    pub connections_polling: u64,
    /// Open connections on WebSocket, from the start or upgraded (gauge).
    pub connections_websocket: u64,
    /// Connections opened on long-polling.
    pub accepted_polling: u64,
    /// Connections opened directly on WebSocket.
    pub accepted_websocket: u64,
    /// Polling connections upgraded to WebSocket.
    pub upgrades: u64,
    /// TCP connections closed unanswered over `max_connections`.
    pub refused_max_connections: u64,
    /// Handshakes refused for their `Origin`.
    pub refused_origin: u64,
    /// Requests refused for their `Host`.
    pub refused_host: u64,
    /// Handshakes the engine could not take (transport, protocol version, method).
    pub refused_bad_handshake: u64,
    /// Handshakes refused while shutting down.
    pub refused_shutting_down: u64,
    /// Connections closed: the client left the namespace.
    pub disconnects_client_namespace: u64,
    /// Connections closed: the server disconnected the socket.
    pub disconnects_server_namespace: u64,
    /// Connections closed: no pong in time.
    pub disconnects_ping_timeout: u64,
    /// Connections closed: the transport closed.
    pub disconnects_transport_close: u64,
    /// Connections closed: the transport failed.
    pub disconnects_transport_error: u64,
    /// Connections closed: the client sent something that does not parse.
    pub disconnects_parse_error: u64,
    /// Connections closed: the server shut down.
    pub disconnects_server_shutting_down: u64,
    /// Connections closed: the client read too slowly (evicted for its queue).
    pub disconnects_client_too_slow: u64,
    /// Engine.IO packets received.
    pub packets_received: u64,
    /// Bytes of those packets.
    pub bytes_received: u64,
    /// Engine.IO packets handed to the transports, pings included.
    pub packets_sent: u64,
    /// Bytes of those packets.
    pub bytes_sent: u64,
    /// Socket.IO events from clients.
    pub events_received: u64,
    /// Socket.IO events queued for clients, once per recipient.
    pub events_sent: u64,
    /// Acknowledgements the server waits for (gauge).
    pub acks_pending: u64,
    /// Acknowledgements the server waited for that timed out.
    pub ack_timeouts: u64,
    /// Dispatch threads alive (gauge).
    pub dispatch_threads: u64,
    /// Dispatch threads running callbacks (gauge).
    pub dispatch_busy_threads: u64,
    /// Clients whose callbacks wait for a dispatch thread: the queue's depth (gauge).
    pub dispatch_waiting_lanes: u64,
    /// Nanoseconds the dispatch threads spent running callbacks, summed over threads.
    pub dispatch_busy_ns: u64,
}

/// Fills `*out` with the server's counters now. Each counter is read on its own, so two
/// of them may be a few operations apart.
#[no_mangle]
pub extern "C" fn ferrosocket_server_metrics(
    server: *const ferrosocket_server,
    out: *mut ferrosocket_metrics,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let m = server.embedded.server().metrics();
        let pool = server.embedded.dispatch_stats();
        let snapshot = ferrosocket_metrics {
            size: std::mem::size_of::<ferrosocket_metrics>(),
            connections_polling: m.connections(TransportKind::Polling),
            connections_websocket: m.connections(TransportKind::WebSocket),
            accepted_polling: m.accepted(TransportKind::Polling),
            accepted_websocket: m.accepted(TransportKind::WebSocket),
            upgrades: m.upgrades,
            refused_max_connections: m.refused(Refusal::MaxConnections),
            refused_origin: m.refused(Refusal::Origin),
            refused_host: m.refused(Refusal::Host),
            refused_bad_handshake: m.refused(Refusal::BadHandshake),
            refused_shutting_down: m.refused(Refusal::ShuttingDown),
            disconnects_client_namespace: m
                .disconnects(DisconnectReason::ClientNamespaceDisconnect),
            disconnects_server_namespace: m
                .disconnects(DisconnectReason::ServerNamespaceDisconnect),
            disconnects_ping_timeout: m.disconnects(DisconnectReason::PingTimeout),
            disconnects_transport_close: m.disconnects(DisconnectReason::TransportClose),
            disconnects_transport_error: m.disconnects(DisconnectReason::TransportError),
            disconnects_parse_error: m.disconnects(DisconnectReason::ParseError),
            disconnects_server_shutting_down: m.disconnects(DisconnectReason::ServerShuttingDown),
            disconnects_client_too_slow: m.disconnects(DisconnectReason::ClientTooSlow),
            packets_received: m.packets_received,
            bytes_received: m.bytes_received,
            packets_sent: m.packets_sent,
            bytes_sent: m.bytes_sent,
            events_received: m.events_received,
            events_sent: m.events_sent,
            acks_pending: m.acks_pending,
            ack_timeouts: m.ack_timeouts,
            dispatch_threads: pool.threads as u64,
            dispatch_busy_threads: pool.busy as u64,
            dispatch_waiting_lanes: pool.waiting as u64,
            dispatch_busy_ns: u64::try_from(pool.busy_time.as_nanos()).unwrap_or(u64::MAX),
        };
        write_out(out, snapshot, "out")
    })
}

/// Copies every counter in the Prometheus text format (what `/metrics` answers) and a
/// NUL into `buf`; `*out_len` gets the text's length (without the NUL) whatever
/// happens, so a `FERROSOCKET_RESULT_BUFFER_TOO_SMALL` call tells how much to allocate
/// (the text may grow a little between two calls).
#[no_mangle]
pub extern "C" fn ferrosocket_server_prometheus(
    server: *const ferrosocket_server,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        copy_out(&server.embedded.prometheus(), buf, buf_len, out_len)
    })
}

/// Serves `GET /metrics` on `host:port`, a listener of its own (port 0 picks a free
/// port; keep it on a private interface), until the server stops; the bound port goes
/// to `*out_port` (may be NULL). Starting it again gives the same port.
/// `FERROSOCKET_RESULT_IO` when it cannot listen, `FERROSOCKET_RESULT_INVALID_STATE`
/// after `ferrosocket_server_stop`.
#[no_mangle]
pub extern "C" fn ferrosocket_server_start_metrics(
    server: *const ferrosocket_server,
    host: *const c_char,
    host_len: usize,
    port: u16,
    out_port: *mut u16,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let host = name_in(host, host_len, "host")?;
        let addr = server.embedded.start_metrics_on(host, port)?;
        if !out_port.is_null() {
            write_out(out_port, addr.port(), "out_port")?;
        }
        Result::Ok(())
    })
}
