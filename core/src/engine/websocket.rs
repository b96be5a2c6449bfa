//! The WebSocket transport: direct connections and polling→WebSocket upgrades.
//!
//! Owns: one task per WebSocket connection that reads, flushes the session queue and
//! runs the heartbeat. Never: holds a frame across a wait, or grows the per-connection
//! future (see the note on `run_direct`).

use std::sync::Arc;

use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::{
    lock, ConnectionGuard, EngineState, Handler, Handshake, Heartbeat, Outbound, Session,
    Transport, UpgradeClaim,
};
use crate::error::DisconnectReason;
use crate::protocol::engine::{decode_text, open_packet, EnginePacket};

type Ws = WebSocketStream<TokioIo<Upgraded>>;

const PING: Utf8Bytes = Utf8Bytes::from_static("2");

fn ws_config(config: &crate::config::Config) -> WebSocketConfig {
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
///
/// The connection futures below are plain `fn`s returning `async move` blocks: an
/// `async fn` would store its parameters twice (once as arguments, once as locals), and
/// these futures live as long as the connection, so their size is per-connection memory.
#[allow(clippy::manual_async_fn)]
pub(crate) fn run_direct<H: Handler>(
    engine: Arc<EngineState<H>>,
    upgraded: Upgraded,
    handshake: Handshake,
    guard: ConnectionGuard<H>,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        let config = ws_config(&engine.config);
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        let session = Session::new(Arc::clone(&engine), handshake, Transport::WebSocket);
        let config = &engine.config;
        let open = open_packet(
            session.id.as_str(),
            false,
            config.ping_interval.as_millis() as u64,
            config.ping_timeout.as_millis() as u64,
            config.max_payload as u64,
        );
        // Written here, not queued: counted here.
        engine.metrics.sent(1, open.len());
        if ws.send(Message::text(open)).await.is_err() {
            session.close(DisconnectReason::TransportClose);
            return;
        }
        spawn_loop(ws, session, true, guard);
    }
}

/// A WebSocket opened with the sid of a polling session: probe, then take over. The
/// session keeps the heartbeat task it had on polling.
#[allow(clippy::manual_async_fn)]
pub(crate) fn run_upgrade<H: Handler>(
    claim: UpgradeClaim<H>,
    upgraded: Upgraded,
    guard: ConnectionGuard<H>,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        let session = Arc::clone(claim.session());
        let config = ws_config(&session.engine.config);
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        let timeout = session.engine.config.upgrade_timeout;
        let switched = matches!(
            tokio::time::timeout(timeout, probe(&mut ws, &session)).await,
            Ok(Ok(()))
        );
        // Ends the attempt; after a switch it changes nothing.
        drop(claim);
        if !switched {
            let _ = ws.close(None).await;
            return;
        }
        tracing::debug!(sid = %session.id, "upgraded to websocket");
        // Packets queued while the upgrade ran are written by the first flush.
        session.writable.notify_one();
        spawn_loop(ws, session, false, guard);
    }
}

/// A WebSocket that may not upgrade its session (already upgraded, or another WebSocket
/// holds the upgrade): accepted, then closed at once, as the protocol has it. An HTTP error
/// instead would throw in clients that attach no error handler to a WebSocket.
#[allow(clippy::manual_async_fn)]
pub(crate) fn refuse<H: Handler>(
    engine: Arc<EngineState<H>>,
    upgraded: Upgraded,
    guard: ConnectionGuard<H>,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        let _guard = guard;
        let config = ws_config(&engine.config);
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        if ws.close(None).await.is_err() {
            return;
        }
        // Wait (bounded) for the client's close frame, so the connection ends with the
        // closing handshake rather than a reset.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}

/// `2probe` → `3probe`, release the pending poll, then wait for `5` and switch the session
/// over. Gives up when the session closes meanwhile: nothing is left open for it.
async fn probe<H: Handler>(ws: &mut Ws, session: &Arc<Session<H>>) -> Result<(), ()> {
    match next_unless_closed(ws, session).await {
        Some(Ok(Message::Text(text))) if text.as_str() == "2probe" => {}
        _ => return Err(()),
    }
    ws.send(Message::text("3probe")).await.map_err(|_| ())?;
    {
        let mut transport = lock(&session.transport);
        transport.probes = transport.probes.wrapping_add(1);
        transport.probed = true;
    }
    // Releases a pending GET with a noop.
    session.transport_changed.notify_waiters();
    loop {
        match next_unless_closed(ws, session).await {
            Some(Ok(Message::Text(text))) if text.as_str() == "5" => {
                // Switched in the same step that read `5`: a GET handled from here on finds
                // the session on WebSocket. Under the transport lock, and only if the session
                // is still open (`close` sets `closing` before it reads the transport).
                let mut transport = lock(&session.transport);
                if session.is_closed() {
                    return Err(());
                }
                transport.kind = Transport::WebSocket;
                session.engine.metrics.upgraded();
                drop(transport);
                // GETs still pending answer now (noop, or 400 for one that came after the
                // probe), and pass on any queue wake-up they took.
                session.transport_changed.notify_waiters();
                session.engine.handler.on_upgrade(session);
                return Ok(());
            }
            // A client may probe again; answer and keep waiting.
            Some(Ok(Message::Text(text))) if text.as_str() == "2probe" => {
                ws.send(Message::text("3probe")).await.map_err(|_| ())?;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            _ => return Err(()),
        }
    }
}

/// The next message, or `None` once the session is closed (`close` wakes this).
async fn next_unless_closed<H: Handler>(ws: &mut Ws, session: &Session<H>) -> WsMessage {
    loop {
        // Created before the check: a close after it wakes the wait below.
        let changed = session.transport_changed.notified();
        if session.is_closed() {
            return None;
        }
        tokio::select! {
            message = ws.next() => return message,
            _ = changed => {}
        }
    }
}

/// Hands the connection to a task of its own: the set-up future (handshake copy, open
/// packet, upgrade probe) ends here, so an idle connection holds only the loop's state.
fn spawn_loop<H: Handler>(
    ws: Ws,
    session: Arc<Session<H>>,
    heartbeat: bool,
    guard: ConnectionGuard<H>,
) {
    let tasks = session.engine.tasks.clone();
    tasks.spawn(run(ws, session, heartbeat, guard));
}

/// The connection loop: read client frames, flush the session queue whenever it is
/// written to, and (when `heartbeat` is set) run the session's heartbeat timer. One task
/// per connection does all three, so an idle connection is one task.
#[allow(clippy::manual_async_fn)]
fn run<H: Handler>(
    mut ws: Ws,
    session: Arc<Session<H>>,
    heartbeat: bool,
    guard: ConnectionGuard<H>,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        // Held until the loop ends: the TCP connection counts against max_connections.
        let _guard = guard;
        let mut beat = heartbeat.then(|| Heartbeat::new(&session.engine.config));
        let far = tokio::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365);
        let timer = tokio::time::sleep_until(beat.as_ref().map_or(far, Heartbeat::wake_at));
        tokio::pin!(timer);
        loop {
            // Unbiased: a steady stream of outbound packets must not starve reading.
            tokio::select! {
                // Packets queued by another task (broadcasts, emits from elsewhere) or a
                // close; the write below handles both.
                _ = session.writable.notified() => {}
                _ = &mut timer, if beat.is_some() => {}
                message = ws.next() => {
                    if read_batch(&mut ws, &session, message).await.is_break() {
                        return;
                    }
                    // The handlers that just ran queued their replies, and each enqueue
                    // left a wake-up behind. They are written just below, in the same
                    // task poll that read their events; drop the wake-up so it does not
                    // cost another pass through this loop.
                    if session.has_queued() {
                        let _ = session.writable.notified().now_or_never();
                    }
                }
            }
            // Whatever the branch, write what is queued now.
            match flush(&mut ws, &session).await {
                Ok(()) => {}
                Err(Some(error)) => {
                    tracing::debug!(sid = %session.id, %error, "websocket write failed");
                    session.close(DisconnectReason::TransportError);
                    return;
                }
                Err(None) => {
                    // The client takes nothing: drop the connection without the close
                    // handshake, which would wait behind the unread data for good.
                    tracing::info!(sid = %session.id, "client stopped reading; connection dropped");
                    session.close(DisconnectReason::ClientTooSlow);
                    return;
                }
            }
            if session.is_closed() {
                let _ = ws.close(None).await;
                return;
            }
            if let Some(state) = beat
                .as_mut()
                .filter(|b| b.due(&session, timer.is_elapsed()))
            {
                if state.check(&session) {
                    let wake = state.wake_at();
                    if wake != timer.deadline() {
                        timer.as_mut().reset(wake);
                    }
                } else {
                    // Closed: the next pass writes what is queued and the close frame.
                    beat = None;
                }
            }
        }
    }
}

/// The most client messages handled in one go before their replies are written: a
/// pipelined burst shares one write, and one busy client cannot hold the worker long.
const READ_BATCH: usize = 32;

/// Handles `message`, then every further message that is already readable (up to
/// [`READ_BATCH`]), without waiting. `Break` means the transport is gone: stop at once.
async fn read_batch<H: Handler>(
    ws: &mut Ws,
    session: &Arc<Session<H>>,
    mut message: WsMessage,
) -> std::ops::ControlFlow<()> {
    let mut handled = 0;
    loop {
        if let Some(Err(WsError::Capacity(error))) = &message {
            tracing::info!(sid = %session.id, %error, "websocket message over max payload, closing (1009)");
            session.close(DisconnectReason::TransportError);
            // Boxed: this rare path's buffers stay out of every connection's future.
            Box::pin(close_too_big(ws)).await;
            return std::ops::ControlFlow::Break(());
        }
        if let Err(reason) = on_message(ws, session, message).await {
            session.close(reason);
            if reason == DisconnectReason::TransportClose {
                return std::ops::ControlFlow::Break(());
            }
            return std::ops::ControlFlow::Continue(());
        }
        handled += 1;
        if handled == READ_BATCH || session.is_closed() {
            return std::ops::ControlFlow::Continue(());
        }
        // Polled once with a no-op waker: when nothing is readable, the loop's next
        // `select!` polls the stream again with the task's waker before it sleeps.
        match ws.next().now_or_never() {
            Some(next) => message = next,
            None => return std::ops::ControlFlow::Continue(()),
        }
    }
}

type WsMessage = Option<Result<Message, WsError>>;

async fn on_message<H: Handler>(
    ws: &mut Ws,
    session: &Arc<Session<H>>,
    message: WsMessage,
) -> Result<(), DisconnectReason> {
    match message {
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
        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => ws
            .flush()
            .await
            .map_err(|_| DisconnectReason::TransportError),
        Some(Err(error)) => Err(read_error(session, error)),
    }
}

fn read_error<H: Handler>(session: &Session<H>, error: WsError) -> DisconnectReason {
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
        error => {
            tracing::info!(sid = %session.id, %error, "websocket read failed");
            DisconnectReason::TransportError
        }
    }
}

/// Ends a connection whose client sent a message over the max payload: a close frame
/// with code 1009 (message too big), then what the client still sends is read and
/// dropped (its close reply, the rest of the oversized message) until it goes quiet, so
/// that closing the socket with unread data does not turn into a TCP reset, which
/// would lose the close frame. Bounded: at most 2 s, and 100 ms of silence ends it.
async fn close_too_big(ws: &mut Ws) {
    use tokio::io::AsyncReadExt as _;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;

    let frame = CloseFrame {
        code: CloseCode::Size,
        reason: Utf8Bytes::from_static("message over max payload"),
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    let _ = tokio::time::timeout_at(deadline, ws.close(Some(frame))).await;
    let mut sink = vec![0u8; 16 * 1024];
    let socket = ws.get_mut();
    loop {
        let quiet =
            (tokio::time::Instant::now() + std::time::Duration::from_millis(100)).min(deadline);
        match tokio::time::timeout_at(quiet, socket.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
    }
}

/// Writes everything queued, then flushes once. `Err(None)`: gave up on a client that
/// stopped reading (see [`wait_sink`]). Each frame is built only once the sink can take
/// it, so no frame is held across a wait: this future is part of every connection's
/// task, and it stays small.
async fn flush<H: Handler>(ws: &mut Ws, session: &Session<H>) -> Result<(), Option<WsError>> {
    let items = session.drain();
    if items.is_empty() {
        return Ok(());
    }
    for item in items {
        match item {
            Outbound::Ping => {
                wait_sink(ws, session, Wait::Ready).await?;
                ws.start_send_unpin(Message::Text(PING))?;
            }
            Outbound::Text(text) => {
                wait_sink(ws, session, Wait::Ready).await?;
                ws.start_send_unpin(Message::Text(Utf8Bytes::from(text)))?;
            }
            Outbound::Binary(data) => {
                wait_sink(ws, session, Wait::Ready).await?;
                ws.start_send_unpin(Message::Binary(*data))?;
            }
            Outbound::Packet(packet) => {
                wait_sink(ws, session, Wait::Ready).await?;
                ws.start_send_unpin(Message::Text(packet.text.clone()))?;
                for attachment in &packet.binary {
                    wait_sink(ws, session, Wait::Ready).await?;
                    ws.start_send_unpin(Message::Binary(attachment.clone()))?;
                }
            }
        }
    }
    wait_sink(ws, session, Wait::Flushed).await
}

#[derive(Clone, Copy)]
enum Wait {
    Ready,
    Flushed,
}

/// Waits until the sink can take a frame, or has flushed, bounded for a client that
/// stops reading: once the socket's send buffer is full the write waits for the client,
/// and meanwhile nothing else of this connection runs (reading, the heartbeat). It gives
/// up (`Err(None)`) when the session is closed meanwhile (its queue overflowed: "client
/// too slow"; or the server shuts down), or after ping interval + ping timeout without
/// progress, the time after which the heartbeat would declare the client gone. The
/// watch (a timer and a wait on the session) is allocated only when the sink is not
/// ready at once.
async fn wait_sink<H: Handler>(
    ws: &mut Ws,
    session: &Session<H>,
    wait: Wait,
) -> Result<(), Option<WsError>> {
    let mut watch = None;
    let result = std::future::poll_fn(|cx| {
        let polled = match wait {
            Wait::Ready => ws.poll_ready_unpin(cx),
            Wait::Flushed => ws.poll_flush_unpin(cx),
        };
        if let std::task::Poll::Ready(done) = polled {
            return std::task::Poll::Ready(done.map_err(Some));
        }
        let watch = watch.get_or_insert_with(|| Box::pin(stalled(session)));
        std::future::Future::poll(watch.as_mut(), cx).map(|()| Err(None))
    })
    .await;
    if watch.is_some() {
        // The watch may have taken the wake-up of packets queued meanwhile: pass it on,
        // so the loop's next pass writes them.
        session.writable.notify_one();
    }
    result
}

/// Ends when `session` closes, or after ping interval + ping timeout.
async fn stalled<H: Handler>(session: &Session<H>) {
    let config = &session.engine.config;
    let deadline = tokio::time::sleep(config.ping_interval + config.ping_timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = session.writable.notified() => {
                if session.is_closed() {
                    return;
                }
            }
            _ = &mut deadline => return,
        }
    }
}
