//! The WebSocket transport: direct connections and polling→WebSocket upgrades.

use std::sync::Arc;

use futures_util::{SinkExt as _, StreamExt as _};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::{lock, Handshake, Outbound, Session, Transport};
use crate::error::DisconnectReason;
use crate::protocol::engine::{decode_text, open_packet, EnginePacket};
use crate::server::ServerState;

type Ws = WebSocketStream<TokioIo<Upgraded>>;

const PING: Utf8Bytes = Utf8Bytes::from_static("2");

fn ws_config(server: &ServerState) -> WebSocketConfig {
    let config = &server.config;
    WebSocketConfig::default()
        .read_buffer_size(config.ws_read_buffer_size)
        .write_buffer_size(config.ws_write_buffer_size)
        .max_write_buffer_size(
            config
                .ws_write_buffer_size
                .saturating_mul(4)
                .max(config.max_payload * 2),
        )
        .max_message_size(Some(config.max_payload))
        .max_frame_size(Some(config.max_payload))
}

/// A client that connected with `transport=websocket` and no sid.
pub(crate) async fn run_direct(server: Arc<ServerState>, upgraded: Upgraded, handshake: Handshake) {
    let mut ws = WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        Role::Server,
        Some(ws_config(&server)),
    )
    .await;
    let session = Session::new(Arc::clone(&server), handshake, Transport::WebSocket);
    let config = &server.config;
    let open = open_packet(
        session.id.as_str(),
        false,
        config.ping_interval.as_millis() as u64,
        config.ping_timeout.as_millis() as u64,
        config.max_payload as u64,
    );
    if ws.send(Message::text(open)).await.is_err() {
        session.close(DisconnectReason::TransportClose);
        return;
    }
    run(ws, session).await;
}

/// A WebSocket opened with the sid of a polling session: probe, then take over.
pub(crate) async fn run_upgrade(session: Arc<Session>, upgraded: Upgraded) {
    let mut ws = WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        Role::Server,
        Some(ws_config(&session.server)),
    )
    .await;
    let timeout = session.server.config.upgrade_timeout;
    let upgraded = tokio::time::timeout(timeout, probe(&mut ws, &session)).await;
    let switched = {
        let mut transport = lock(&session.transport);
        transport.upgrading = false;
        let ok = matches!(upgraded, Ok(Ok(()))) && !session.is_closed();
        if ok {
            transport.kind = Transport::WebSocket;
        }
        ok
    };
    if !switched {
        tracing::debug!(sid = %session.id, "upgrade abandoned");
        let _ = ws.close(None).await;
        return;
    }
    tracing::debug!(sid = %session.id, "upgraded to websocket");
    // Packets queued while the upgrade ran are written by the first flush.
    session.writable.notify_one();
    run(ws, session).await;
}

/// `2probe` → `3probe`, release the pending poll, then wait for `5`.
async fn probe(ws: &mut Ws, session: &Arc<Session>) -> Result<(), ()> {
    match ws.next().await {
        Some(Ok(Message::Text(text))) if text.as_str() == "2probe" => {}
        _ => return Err(()),
    }
    ws.send(Message::text("3probe")).await.map_err(|_| ())?;
    lock(&session.transport).upgrading = true;
    session.writable.notify_one();
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.as_str() == "5" => return Ok(()),
            // A client may probe again; answer and keep waiting.
            Some(Ok(Message::Text(text))) if text.as_str() == "2probe" => {
                ws.send(Message::text("3probe")).await.map_err(|_| ())?;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            _ => return Err(()),
        }
    }
}

/// The connection loop: read client frames, and flush the session queue whenever it is
/// written to. One task per connection does both, so an idle connection is one task.
async fn run(mut ws: Ws, session: Arc<Session>) {
    loop {
        // Unbiased: a steady stream of outbound packets must not starve reading.
        tokio::select! {
            _ = session.writable.notified() => {
                if let Err(error) = flush(&mut ws, &session).await {
                    tracing::debug!(sid = %session.id, %error, "websocket write failed");
                    session.close(DisconnectReason::TransportError);
                    return;
                }
                if session.is_closed() {
                    let _ = ws.close(None).await;
                    return;
                }
            }
            message = ws.next() => {
                let result = match message {
                    Some(Ok(Message::Text(text))) => match decode_text(text.as_str()) {
                        Ok(packet) => session.on_packet(packet),
                        Err(error) => {
                            tracing::info!(sid = %session.id, %error, "malformed engine.io packet");
                            Err(DisconnectReason::ParseError)
                        }
                    },
                    Some(Ok(Message::Binary(data))) => session.on_packet(EnginePacket::Binary(data)),
                    Some(Ok(Message::Close(_))) | None => Err(DisconnectReason::TransportClose),
                    // Control frames: tungstenite queues the pong; write it out.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {
                        ws.flush().await.map_err(|_| DisconnectReason::TransportError)
                    }
                    Some(Err(error)) => Err(read_error(&session, error)),
                };
                if let Err(reason) = result {
                    session.close(reason);
                    if matches!(reason, DisconnectReason::TransportClose) {
                        return;
                    }
                }
            }
        }
    }
}

fn read_error(session: &Session, error: WsError) -> DisconnectReason {
    match error {
        // The peer went away, with or without a closing handshake: the client's
        // transport closed, nothing failed on our side.
        WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            DisconnectReason::TransportClose
        }
        WsError::Io(ref e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            DisconnectReason::TransportClose
        }
        WsError::Capacity(error) => {
            tracing::info!(sid = %session.id, %error, "websocket message over max payload");
            DisconnectReason::TransportError
        }
        error => {
            tracing::info!(sid = %session.id, %error, "websocket read failed");
            DisconnectReason::TransportError
        }
    }
}

/// Writes everything queued, then flushes once.
async fn flush(ws: &mut Ws, session: &Session) -> Result<(), WsError> {
    let items = session.drain();
    if items.is_empty() {
        return Ok(());
    }
    for item in items {
        match item {
            Outbound::Ping => ws.feed(Message::Text(PING)).await?,
            Outbound::Packet(packet) => {
                ws.feed(Message::Text(packet.text.clone())).await?;
                for attachment in &packet.binary {
                    ws.feed(Message::Binary(attachment.clone())).await?;
                }
            }
        }
    }
    ws.flush().await
}
