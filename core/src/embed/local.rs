//! The in-process Socket.IO client of an embedded server, for bindings' test clients.
//!
//! Owns: [`LocalClient`], a Socket.IO client over an engine [`LocalSession`]: it encodes
//! what it sends with the core's codec, decodes what the server queued for it, keeps it
//! until taken, and *settles*: waits until the dispatch-pool callbacks of what it sent
//! have run. Flask-SocketIO's `SocketIOTestClient` (`ferrosocket.flask`) stands on it, so
//! a test client goes through the same namespaces, rooms, broadcasts and acks as a
//! network client.
//! Never: runs a binding's callback itself (they run on the dispatch pool as for any
//! client), blocks async code, or keeps more than the server's queue bounds allow.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::pool::{DispatchPool, SubmitError};
use crate::engine::{LocalMessage, LocalSession};
use crate::error::DisconnectReason;
use crate::protocol::socket::{
    decode, decode_connect_error, encode_ack, encode_connect_request, encode_disconnect,
    encode_event, BinaryAssembler, Decoded, Packet,
};
use crate::protocol::Payload;
use crate::sid::Sid;
use crate::socket::namespace::normalize_namespace;
use crate::socket::SocketIo;

/// Why a [`LocalClient`] call did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The client's session is closed (by [`LocalClient::close`], the server, or a
    /// malformed packet); the reason it closed for.
    #[error("the local client is closed ({0})")]
    Closed(DisconnectReason),
    /// The client is not connected to this namespace (a network client's event there
    /// would close its whole connection, so it is refused here instead).
    #[error("not connected to namespace {0}")]
    NotConnected(String),
    /// The auth of a connect is not the JSON text of one object.
    #[error("auth must be a JSON object")]
    BadAuth,
    /// The callbacks did not finish, or the connect was not answered, within the
    /// timeout.
    #[error("the server's handlers did not finish in time")]
    Timeout,
    /// The client's callback queue is full (`max_queued_callbacks`).
    #[error("the client's callback queue is full")]
    Busy,
    /// The server is stopped: its dispatch pool runs no more callbacks.
    #[error("the server is stopped")]
    Stopped,
}

/// The answer to [`LocalClient::connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectAnswer {
    /// Connected; the namespace socket's id.
    Connected(String),
    /// Refused: the JSON text of the error object, `{"message":...}` with the `"data"`
    /// of the refusal when it has some.
    Refused(String),
}

/// One packet the server sent to a [`LocalClient`], decoded, in the order it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received {
    /// A namespace connect was accepted.
    Connect {
        /// The namespace.
        nsp: String,
        /// The namespace socket's id.
        sid: String,
    },
    /// A namespace connect was refused.
    ConnectError {
        /// The namespace.
        nsp: String,
        /// The JSON text of the error object (`{"message":...,"data":...}`).
        error: String,
    },
    /// An event; binary arguments are in its payload's attachments.
    Event {
        /// The namespace.
        nsp: String,
        /// The event name.
        name: String,
        /// Its arguments.
        args: Payload,
        /// The ack id when the server waits for an answer ([`LocalClient::ack`]).
        ack: Option<u64>,
    },
    /// An acknowledgement of one of the client's emits that no
    /// [`emit`](LocalClient::emit) took (it came after the emit returned).
    Ack {
        /// The namespace.
        nsp: String,
        /// The ack id the client's emit carried.
        id: u64,
        /// The acknowledgement's arguments.
        args: Payload,
    },
    /// The server disconnected the client from the namespace.
    Disconnect {
        /// The namespace.
        nsp: String,
    },
}

impl Received {
    /// What the item counts against the queue's byte bound.
    fn size(&self) -> usize {
        let payload = |p: &Payload| {
            p.binary()
                .iter()
                .fold(p.json().len(), |sum, b| sum.saturating_add(b.len()))
        };
        match self {
            Self::Connect { nsp, sid } => nsp.len() + sid.len(),
            Self::ConnectError { nsp, error } => nsp.len() + error.len(),
            Self::Event {
                nsp, name, args, ..
            } => nsp.len() + name.len() + payload(args),
            Self::Ack { nsp, args, .. } => nsp.len() + payload(args),
            Self::Disconnect { nsp } => nsp.len(),
        }
    }
}

/// What the client has read from its session and not handed out yet.
#[derive(Default)]
struct Inbox {
    /// Decoded packets for [`LocalClient::received`], bounded like the session queue.
    items: VecDeque<Received>,
    /// What `items` hold, against `max_queued_bytes`.
    bytes: usize,
    /// A binary packet waiting for its attachments.
    partial: Option<BinaryAssembler>,
    /// The namespaces connected now, with their socket ids.
    connected: HashMap<String, String>,
    /// Connect answers not yet taken by the `connect` that waits for them.
    answers: HashMap<String, ConnectAnswer>,
}

/// A Socket.IO client inside the process of an [`Embedded`](super::Embedded) server,
/// with no network: made by [`Embedded::local_client`](super::Embedded::local_client).
///
/// What it sends reaches the Socket.IO layer as a network client's packets do, so the
/// server's callbacks run on the dispatch pool, on this client's lane, in order. Each
/// call that sends then *settles*: it waits until every callback already queued on the
/// lane has run (a marker job submitted after them, waited for up to the call's
/// timeout), so when `emit` returns its handler has finished and what the handler sent
/// is queued here. A connect also waits for the server's answer, which the connect
/// callback's result produces after its job.
///
/// Everything the server sends it is kept, decoded ([`Received`]), until
/// [`received`](Self::received) takes it; acknowledgements of its own emits are handed
/// to the emit that asked. What waits is bounded like any client's queue
/// (`max_queued_packets`, `max_queued_bytes`): past that the client is closed as
/// `client too slow`. The age bound does not apply, and no heartbeat runs: it never
/// times out. [`close`](Self::close) or dropping it closes the connection
/// (`transport close`).
///
/// Its calls block and must not be made from async code. Calling one from a callback of
/// the same client waits for that callback itself, until the timeout.
///
/// Methods: [`eio_sid`](Self::eio_sid), [`sid`](Self::sid),
/// [`connect`](Self::connect), [`emit`](Self::emit), [`ack`](Self::ack),
/// [`disconnect`](Self::disconnect), [`received`](Self::received),
/// [`settle`](Self::settle), [`close`](Self::close), [`is_closed`](Self::is_closed).
pub struct LocalClient {
    session: LocalSession<SocketIo>,
    pool: Arc<DispatchPool>,
    /// Entered while pushing and closing: a connect callback's answer, and handlers
    /// that wait, continue on a task of the server's runtime.
    runtime: tokio::runtime::Handle,
    inbox: Mutex<Inbox>,
    /// Ack ids of this client's emits.
    next_ack: AtomicU64,
}

impl std::fmt::Debug for LocalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalClient")
            .field("eio_sid", &self.session.id())
            .finish()
    }
}

impl LocalClient {
    pub(super) fn new(
        session: LocalSession<SocketIo>,
        pool: Arc<DispatchPool>,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            session,
            pool,
            runtime,
            inbox: Mutex::new(Inbox::default()),
            next_ack: AtomicU64::new(0),
        }
    }

    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Engine.IO session id: the client's dispatch lane, and
    /// [`Socket::engine_id`](crate::Socket::engine_id) of its namespace sockets.
    pub fn eio_sid(&self) -> Sid {
        self.session.id()
    }

    /// The socket id in namespace `nsp` (with or without its `/`) while connected there,
    /// as far as the packets read so far tell.
    pub fn sid(&self, nsp: &str) -> Option<String> {
        let nsp = normalize_namespace(nsp);
        let mut inbox = self.inbox();
        self.read_queue(&mut inbox);
        inbox.connected.get(nsp.as_ref()).cloned()
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }

    fn closed(&self) -> LocalError {
        LocalError::Closed(
            self.session
                .session()
                .close_reason()
                .unwrap_or(DisconnectReason::TransportClose),
        )
    }

    /// Connects to namespace `nsp` with `auth` (the JSON text of an object, or `None`)
    /// and waits up to `timeout` for the connect callback and the server's answer.
    /// Already connected there: the current socket id, nothing sent (a server ignores a
    /// second connect).
    pub fn connect(
        &self,
        nsp: &str,
        auth: Option<&str>,
        timeout: Duration,
    ) -> Result<ConnectAnswer, LocalError> {
        let deadline = Instant::now() + timeout;
        let nsp = normalize_namespace(nsp);
        if let Some(auth) = auth {
            let auth = auth.trim();
            if !auth.starts_with('{') || Payload::one_raw(auth).is_err() {
                return Err(LocalError::BadAuth);
            }
        }
        {
            let mut inbox = self.inbox();
            self.read_queue(&mut inbox);
            if let Some(sid) = inbox.connected.get(nsp.as_ref()) {
                return Ok(ConnectAnswer::Connected(sid.clone()));
            }
            inbox.answers.remove(nsp.as_ref());
        }
        self.push(&encode_connect_request(&nsp, auth.map(str::trim)), &[])?;
        self.settle(remaining(deadline))?;
        loop {
            {
                let mut inbox = self.inbox();
                self.read_queue(&mut inbox);
                if let Some(answer) = inbox.answers.remove(nsp.as_ref()) {
                    return Ok(answer);
                }
            }
            if self.session.is_closed() {
                return Err(self.closed());
            }
            // The answer follows the callback's job, from a task of the runtime.
            if !self.session.wait_queued(remaining(deadline)) {
                return Err(LocalError::Timeout);
            }
        }
    }

    /// Emits `event` with `args` (attachments sent as binary messages) to namespace
    /// `nsp`, then settles (up to `timeout`). With `ack`, asks for an acknowledgement and
    /// returns its arguments when the handler answered by the time it settled, `None`
    /// otherwise (a later answer shows up in [`received`](Self::received)).
    pub fn emit(
        &self,
        nsp: &str,
        event: &str,
        args: &Payload,
        ack: bool,
        timeout: Duration,
    ) -> Result<Option<Payload>, LocalError> {
        let nsp = normalize_namespace(nsp);
        self.check_connected(&nsp)?;
        let id = ack.then(|| self.next_ack.fetch_add(1, Ordering::Relaxed));
        self.push(&encode_event(&nsp, event, args, id), args.binary())?;
        self.settle(timeout)?;
        let Some(id) = id else {
            return Ok(None);
        };
        let mut inbox = self.inbox();
        self.read_queue(&mut inbox);
        let found = inbox.items.iter().position(
            |item| matches!(item, Received::Ack { nsp: n, id: i, .. } if *n == nsp && *i == id),
        );
        let Some(at) = found else {
            return Ok(None);
        };
        let item = inbox.items.remove(at);
        if let Some(item) = &item {
            inbox.bytes = inbox.bytes.saturating_sub(item.size());
        }
        Ok(match item {
            Some(Received::Ack { args, .. }) => Some(args),
            _ => None,
        })
    }

    /// Answers the server's event `id` in namespace `nsp` (a [`Received::Event`] with an
    /// ack id) with `args`, then settles (up to `timeout`). A waiting
    /// [`Socket::emit_with_ack`](crate::Socket::emit_with_ack) resolves at once; the
    /// reply callback of [`Embedded::emit_with_ack`](super::Embedded::emit_with_ack) is
    /// queued on this client's lane by a runtime task after that, so it may not have run
    /// when this returns.
    pub fn ack(
        &self,
        nsp: &str,
        id: u64,
        args: &Payload,
        timeout: Duration,
    ) -> Result<(), LocalError> {
        let nsp = normalize_namespace(nsp);
        self.check_connected(&nsp)?;
        self.push(&encode_ack(&nsp, id, args), args.binary())?;
        self.settle(timeout)
    }

    /// Leaves namespace `nsp` (a DISCONNECT packet: the server's disconnect callback gets
    /// `client namespace disconnect`), then settles (up to `timeout`).
    pub fn disconnect(&self, nsp: &str, timeout: Duration) -> Result<(), LocalError> {
        let nsp = normalize_namespace(nsp);
        self.check_connected(&nsp)?;
        self.push(&encode_disconnect(&nsp), &[])?;
        self.inbox().connected.remove(nsp.as_ref());
        self.settle(timeout)
    }

    /// Takes everything the server sent that was not taken yet, in order.
    pub fn received(&self) -> Vec<Received> {
        let mut inbox = self.inbox();
        self.read_queue(&mut inbox);
        inbox.bytes = 0;
        std::mem::take(&mut inbox.items).into()
    }

    /// Waits up to `timeout` until every callback already queued on this client's lane
    /// has run: a marker job is queued after them and waited for.
    pub fn settle(&self, timeout: Duration) -> Result<(), LocalError> {
        let (done, finished) = mpsc::sync_channel::<()>(1);
        let marker = Box::new(move || {
            let _ = done.send(());
        });
        self.pool
            .submit(self.session.id(), marker)
            .map_err(|error| match error {
                SubmitError::LaneFull => LocalError::Busy,
                SubmitError::Stopped => LocalError::Stopped,
            })?;
        match finished.recv_timeout(timeout) {
            Ok(()) => Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(LocalError::Timeout),
            // The pool dropped the job without running it: it stopped.
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(LocalError::Stopped),
        }
    }

    /// Closes the connection as a network client's going away would (every namespace's
    /// disconnect callback gets `transport close`), then settles (up to `timeout`) so
    /// those callbacks have run. Closing a closed client only settles.
    pub fn close(&self, timeout: Duration) -> Result<(), LocalError> {
        {
            let _entered = self.runtime.enter();
            self.session.close();
        }
        self.inbox().connected.clear();
        match self.settle(timeout) {
            // Nothing runs any more, so nothing is left to wait for.
            Err(LocalError::Stopped) => Ok(()),
            other => other,
        }
    }

    fn check_connected(&self, nsp: &str) -> Result<(), LocalError> {
        if self.session.is_closed() {
            return Err(self.closed());
        }
        let mut inbox = self.inbox();
        self.read_queue(&mut inbox);
        if inbox.connected.contains_key(nsp) {
            Ok(())
        } else {
            Err(LocalError::NotConnected(nsp.to_owned()))
        }
    }

    /// Sends one packet: its text (with the Engine.IO `4`, as the encoders write it),
    /// then its attachments.
    fn push(&self, text: &str, attachments: &[Bytes]) -> Result<(), LocalError> {
        let _entered = self.runtime.enter();
        let text = text.strip_prefix('4').unwrap_or(text);
        let sent = self.session.push_text(text).and_then(|()| {
            attachments
                .iter()
                .try_for_each(|data| self.session.push_binary(data.clone()))
        });
        sent.map_err(LocalError::Closed)
    }

    /// Moves what the session queued into the inbox, decoded.
    fn read_queue(&self, inbox: &mut Inbox) {
        let config = self.session.session().config();
        for message in self.session.drain() {
            let packet = match message {
                LocalMessage::Text(text) => self.decode_text(inbox, &text),
                LocalMessage::Binary(data) => match inbox.partial.as_mut().map(|p| p.push(data)) {
                    Some(Ok(None)) => None,
                    Some(Ok(Some(packet))) => {
                        inbox.partial = None;
                        Some(packet_to_received(packet))
                    }
                    Some(Err(error)) => {
                        inbox.partial = None;
                        tracing::warn!(sid = %self.session.id(), %error, "local client: bad attachment from the server");
                        None
                    }
                    None => {
                        tracing::warn!(sid = %self.session.id(), "local client: attachment with no binary packet");
                        None
                    }
                },
            };
            let Some(item) = packet else { continue };
            match &item {
                Received::Connect { nsp, sid } => {
                    inbox.connected.insert(nsp.clone(), sid.clone());
                    inbox
                        .answers
                        .insert(nsp.clone(), ConnectAnswer::Connected(sid.clone()));
                }
                Received::ConnectError { nsp, error } => {
                    inbox.connected.remove(nsp);
                    inbox
                        .answers
                        .insert(nsp.clone(), ConnectAnswer::Refused(error.clone()));
                }
                Received::Disconnect { nsp } => {
                    inbox.connected.remove(nsp);
                }
                _ => {}
            }
            inbox.bytes = inbox.bytes.saturating_add(item.size());
            inbox.items.push_back(item);
            if inbox.items.len() > config.max_queued_packets()
                || inbox.bytes > config.max_queued_bytes()
            {
                tracing::warn!(
                    sid = %self.session.id(),
                    "local client: received packets not taken, over the queue bounds; closing it as too slow"
                );
                inbox.items.clear();
                inbox.bytes = 0;
                let _entered = self.runtime.enter();
                self.session
                    .session()
                    .close(DisconnectReason::ClientTooSlow);
                return;
            }
        }
    }

    fn decode_text(&self, inbox: &mut Inbox, text: &str) -> Option<Received> {
        if text.starts_with('4') {
            return match decode_connect_error(text) {
                Ok((nsp, error)) => Some(Received::ConnectError { nsp, error }),
                Err(error) => {
                    tracing::warn!(sid = %self.session.id(), %error, "local client: bad connect error from the server");
                    None
                }
            };
        }
        match decode(text) {
            Ok(Decoded::Complete(packet)) => Some(packet_to_received(packet)),
            Ok(Decoded::Partial(assembler)) => {
                inbox.partial = Some(assembler);
                None
            }
            Err(error) => {
                tracing::warn!(sid = %self.session.id(), %error, "local client: bad packet from the server");
                None
            }
        }
    }
}

impl Drop for LocalClient {
    /// Closes the connection (`transport close`) without waiting for the callbacks.
    fn drop(&mut self) {
        let _entered = self.runtime.enter();
        self.session.close();
    }
}

/// A decoded server packet as the client sees it; a CONNECT carries the socket id.
fn packet_to_received(packet: Packet) -> Received {
    match packet {
        Packet::Connect { nsp, auth } => {
            let sid = auth
                .and_then(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
                .and_then(|data| data.get("sid")?.as_str().map(str::to_owned))
                .unwrap_or_default();
            Received::Connect { nsp, sid }
        }
        Packet::Disconnect { nsp } => Received::Disconnect { nsp },
        Packet::Event {
            nsp,
            name,
            args,
            ack,
        } => Received::Event {
            nsp,
            name,
            args,
            ack,
        },
        Packet::Ack { nsp, id, args } => Received::Ack { nsp, id, args },
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}
