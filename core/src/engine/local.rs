//! The in-process transport: an Engine.IO session with no network under it.
//!
//! Owns: [`LocalSession`], opened with [`Engine::open_local`], which feeds the handler
//! exactly what a polling POST would and hands out what the server queued for the
//! client, and the blocking wait for that queue. A test client (the Flask binding's
//! `SocketIOTestClient`) drives the real Socket.IO layer through it: namespaces, rooms,
//! broadcasts and acknowledgements are the ones network clients get.
//! Never: reads a socket, runs a timer or spawns a task of its own; no heartbeat, so a
//! local session never times out (closing it is its owner's job).

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Engine, Handler, Handshake, Outbound, Session, Transport};
use crate::error::DisconnectReason;
use crate::protocol::EnginePacket;
use crate::sid::Sid;

/// One message the server queued for a [`LocalSession`], in the order it was queued.
///
/// The Engine.IO packet type is stripped: everything a handler sends is an Engine.IO
/// *message* (`4`), and a local session has no heartbeat, so no other type is ever
/// queued for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalMessage {
    /// A text message, without its leading `4` (for Socket.IO: the packet text, such as
    /// `2["news","hi"]`).
    Text(String),
    /// A binary message (for Socket.IO: one attachment of the text packet before it).
    Binary(Bytes),
}

/// An Engine.IO session opened in process ([`Engine::open_local`]), without a network
/// connection: what the owner pushes reaches the handler as a polling POST's messages
/// would, and what the server sends to the session is queued for the owner to
/// [`drain`](Self::drain).
///
/// The handler sees an ordinary session: [`Handler::on_open`] when it opens,
/// `on_message`/`on_binary` for each pushed message, [`Handler::on_close`] once when it
/// closes. It is registered with the engine like any session, so a server shutdown
/// closes it (`server shutting down`).
///
/// No heartbeat runs and no connect timeout applies: the session lives until
/// [`close`](Self::close), a handler closes it, the server shuts down, or the handle is
/// dropped (which closes it with `transport close`). Its outbound queue keeps the
/// configured packet and byte bounds (a session over them is closed as `client too
/// slow`, like a network client that does not read), but not the queue-age bound: the
/// owner drains when it chooses.
///
/// Pushing calls the handler on the calling thread, so it must run where the handler
/// may run: inside the server's tokio runtime context (the Socket.IO layer spawns a task
/// for a handler that waits), and not in async code for [`wait_queued`](Self::wait_queued),
/// which blocks.
///
/// Methods: [`id`](Self::id), [`session`](Self::session),
/// [`push_text`](Self::push_text), [`push_binary`](Self::push_binary),
/// [`drain`](Self::drain), [`wait_queued`](Self::wait_queued), [`close`](Self::close),
/// [`is_closed`](Self::is_closed).
pub struct LocalSession<H: Handler> {
    session: Arc<Session<H>>,
}

impl<H: Handler> std::fmt::Debug for LocalSession<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSession")
            .field("id", &self.session.id)
            .finish()
    }
}

impl<H: Handler> Engine<H> {
    /// Opens a session in process for a client that made `handshake` (its target,
    /// headers and remote address are what handlers see; the target's query is not
    /// checked, since no transport is negotiated). The handler's
    /// [`on_open`](Handler::on_open) runs before this returns. `None` once the engine is
    /// shutting down, as a network handshake is refused then. See [`LocalSession`].
    pub fn open_local(&self, handshake: Handshake) -> Option<LocalSession<H>> {
        if self.0.is_shutting_down() {
            return None;
        }
        let session = Session::new(Arc::clone(&self.0), handshake, Transport::Local);
        Some(LocalSession { session })
    }
}

impl<H: Handler> LocalSession<H> {
    /// The session id (what a network client gets in its open packet).
    pub fn id(&self) -> Sid {
        self.session.id
    }

    /// The session as its handler sees it.
    pub fn session(&self) -> &Arc<Session<H>> {
        &self.session
    }

    /// Delivers one text message from the client (its text without the Engine.IO `4`),
    /// as a polling POST delivers it: [`Handler::on_message`] runs on this thread. An
    /// `Err` from the handler closes the session with that reason, returned here; a
    /// closed session refuses the message with the reason it closed for.
    pub fn push_text(&self, text: &str) -> Result<(), DisconnectReason> {
        self.push(EnginePacket::Message(text))
    }

    /// Delivers one binary message from the client, like [`push_text`](Self::push_text)
    /// ([`Handler::on_binary`]).
    pub fn push_binary(&self, data: Bytes) -> Result<(), DisconnectReason> {
        self.push(EnginePacket::Binary(data))
    }

    fn push(&self, packet: EnginePacket<'_>) -> Result<(), DisconnectReason> {
        if self.session.is_closed() {
            return Err(self.closed_reason());
        }
        self.session.on_packet(packet).inspect_err(|&reason| {
            self.session.close(reason);
        })
    }

    fn closed_reason(&self) -> DisconnectReason {
        self.session
            .close_reason()
            .unwrap_or(DisconnectReason::TransportClose)
    }

    /// Takes every message queued for the client, in order (see [`LocalMessage`]);
    /// empty when nothing is queued. A binary Socket.IO packet comes as its text followed
    /// by its attachments.
    pub fn drain(&self) -> Vec<LocalMessage> {
        let queued = self.session.drain();
        let mut out = Vec::new();
        for item in queued {
            match item {
                // Every queued text starts with the Engine.IO `4` (the encoders and
                // `send_text` write it); checked anyway rather than sliced blindly.
                Outbound::Text(mut text) => {
                    if text.starts_with('4') {
                        text.remove(0);
                    }
                    out.push(LocalMessage::Text(text));
                }
                Outbound::Packet(packet) => {
                    let text = packet.text.as_str();
                    let text = text.strip_prefix('4').unwrap_or(text);
                    out.push(LocalMessage::Text(text.to_owned()));
                    out.extend(packet.binary.iter().cloned().map(LocalMessage::Binary));
                }
                Outbound::Binary(data) => out.push(LocalMessage::Binary(*data)),
                // Only a heartbeat queues pings, and a local session has none.
                Outbound::Ping => {}
            }
        }
        out
    }

    /// Blocks the calling thread until something is queued for the client or the
    /// session is closed (`true`), or `timeout` passes first (`false`). Needs no
    /// runtime; must not be called from async code (it would block a runtime thread).
    pub fn wait_queued(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            // Created before the check: a send between the check and the wait stores
            // the queue's permit for it (`notify_one`), so no wake-up is lost.
            let woken = self.session.writable.notified();
            if self.session.has_queued() || self.session.is_closed() {
                return true;
            }
            if !block_until(woken, deadline) {
                return self.session.has_queued() || self.session.is_closed();
            }
        }
    }

    /// Closes the session as if the client's connection went away: the handler's
    /// [`on_close`](Handler::on_close) runs once, on this thread, with
    /// `transport close`. Closing a closed session does nothing.
    pub fn close(&self) {
        self.session.close(DisconnectReason::TransportClose);
    }

    /// Whether the session is closed (by [`close`](Self::close), a handler, an overfull
    /// queue or the server's shutdown).
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }
}

impl<H: Handler> Drop for LocalSession<H> {
    /// Dropping the handle closes the session (`transport close`): nothing else would.
    fn drop(&mut self) {
        self.close();
    }
}

/// Wakes the thread parked in [`block_until`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread, parking between polls, until it completes (`true`) or
/// `deadline` passes (`false`). A spurious unpark only costs one more poll.
fn block_until<F: Future>(future: F, deadline: Instant) -> bool {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if future.as_mut().poll(&mut cx).is_ready() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::park_timeout(deadline - now);
    }
}
