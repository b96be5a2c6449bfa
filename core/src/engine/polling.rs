//! HTTP long-polling: GET waits for queued packets, POST carries the client's packets.
//!
//! Owns: the polling side of a session (the pending GET, the payload codec calls).
//! Never: builds HTTP responses (it returns bodies or an [`EngineError`] to `http`).

use std::sync::Arc;

use bytes::Bytes;

use super::error::EngineError;
use super::{lock, Handler, Outbound, Session, Transport};
use crate::error::DisconnectReason;
use crate::protocol::engine::{decode_payload, encode_binary_for_polling, RECORD_SEPARATOR};

/// Clears the session's "GET pending" flag however the GET ends (answered, or dropped
/// because the client went away mid-poll).
struct PendingGet<'a, H: Handler>(&'a Session<H>);

impl<H: Handler> Drop for PendingGet<'_, H> {
    fn drop(&mut self) {
        lock(&self.0.transport).get_pending = false;
    }
}

/// How long a GET that arrives after the probe was answered waits for the client's `5`
/// before it is released with a noop. A client whose poll crossed the `3probe` waits for
/// that poll to end before it sends `5`, so the GET must end soon (the reference server
/// releases it with a noop on a 100 ms tick); a raw client that sends a GET next to its `5`
/// has the `5` read well within this, and its GET refused.
const HOLD_AFTER_PROBE: std::time::Duration = std::time::Duration::from_millis(100);

/// Answers a long-polling GET: every queued packet in one payload, waiting until there
/// is at least one.
///
/// While the GET waits, the session may be upgraded (see `websocket::run_upgrade`): a GET
/// pending when the probe is answered is released with a noop at once; a GET that arrives
/// after the probe is held up to [`HOLD_AFTER_PROBE`], then released with a noop, or
/// refused (400) if the upgrade completes first, as a GET arriving after the switch is.
/// Either way it answers at the latest when the switch happens, and it leaves the queue
/// to the WebSocket.
pub(crate) async fn get<H: Handler>(session: Arc<Session<H>>) -> Result<Bytes, EngineError> {
    let (probes_seen, after_probe) = {
        let mut transport = lock(&session.transport);
        if transport.kind != Transport::Polling {
            return Err(EngineError::BadRequest);
        }
        if transport.get_pending {
            drop(transport);
            // Two overlapping GETs: the pending one is answered with a close packet.
            tracing::info!(sid = %session.id, "overlapping polling GET, closing session");
            session.close(DisconnectReason::TransportError);
            return Err(EngineError::BadRequest);
        }
        transport.get_pending = true;
        (transport.probes, transport.probed)
    };
    let _pending = PendingGet(&session);
    // Polled (and so registered with the timer) only for a GET that came after the probe.
    let hold = tokio::time::sleep(HOLD_AFTER_PROBE);
    tokio::pin!(hold);
    let mut held = after_probe;
    loop {
        // Created before the state is read: a change made after the read wakes it.
        let changed = session.transport_changed.notified();
        let items = {
            let transport = lock(&session.transport);
            let hold_over = after_probe && !held && transport.probed;
            if hold_over || transport.probes != probes_seen || transport.kind != Transport::Polling
            {
                // No probe answered since it arrived, yet on WebSocket: it came after the
                // probe, alongside the client's `5`.
                let refused =
                    transport.probes == probes_seen && transport.kind != Transport::Polling;
                drop(transport);
                // This GET may have taken the queue's wake-up meant for the WebSocket task
                // (both wait on `writable` around the switch): pass one on. At worst the
                // WebSocket task makes one pass with nothing to write.
                session.writable.notify_one();
                return if refused {
                    Err(EngineError::BadRequest)
                } else {
                    Ok(Bytes::from_static(b"6"))
                };
            }
            // Drained under the transport lock, so packets are never taken by a GET once the
            // session is on WebSocket: from the switch on, they all go to the WebSocket task.
            session.drain()
        };
        if !items.is_empty() {
            // Even when the session is closing, the close packet goes in the next
            // response: clients handle Socket.IO packets a tick after Engine.IO ones, so a
            // `41` followed by `1` in one payload would surface as "transport close".
            return Ok(Bytes::from(encode(items)));
        }
        if session.is_closed() {
            session.engine.remove_session(&session.id);
            // A close the client asked for releases the poll with a noop.
            return Ok(match session.close_reason() {
                Some(DisconnectReason::TransportClose) => Bytes::from_static(b"6"),
                _ => Bytes::from_static(b"1"),
            });
        }
        // `close` notifies both; queued packets notify `writable`.
        tokio::select! {
            _ = session.writable.notified() => {}
            _ = changed => {}
            () = &mut hold, if held => held = false,
        }
    }
}

fn encode(items: super::Queued) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    for item in items {
        if !body.is_empty() {
            body.push(RECORD_SEPARATOR);
        }
        match item {
            Outbound::Ping => body.push(b'2'),
            Outbound::Text(text) => body.extend_from_slice(text.as_bytes()),
            Outbound::Binary(data) => encode_binary_for_polling(&mut body, &data),
            Outbound::Packet(packet) => {
                body.extend_from_slice(packet.text.as_str().as_bytes());
                for attachment in &packet.binary {
                    body.push(RECORD_SEPARATOR);
                    encode_binary_for_polling(&mut body, attachment);
                }
            }
        }
    }
    body
}

/// Handles a POST body of client packets.
pub(crate) fn post<H: Handler>(session: &Arc<Session<H>>, body: &[u8]) -> Result<(), EngineError> {
    if session.transport() != Transport::Polling || session.is_closed() {
        return Err(EngineError::BadRequest);
    }
    let packets = match decode_payload(body) {
        Ok(packets) => packets,
        Err(error) => {
            tracing::info!(sid = %session.id, %error, "malformed polling payload");
            session.close(DisconnectReason::ParseError);
            return Err(EngineError::BadRequest);
        }
    };
    for packet in packets {
        if session.is_closed() {
            break;
        }
        if let Err(reason) = session.on_packet(packet) {
            session.close(reason);
            return Err(EngineError::BadRequest);
        }
    }
    Ok(())
}
