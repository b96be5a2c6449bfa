//! What the Socket.IO layer tells an observer (the Admin UI's development mode): sockets
//! connecting, leaving, joining and leaving rooms, events each way, upgrades.
//!
//! Off, an observer costs one relaxed load at each of those places; nothing is kept per
//! connection. The observer is called on the task that made the change, after the locks
//! of the change were released, so it may emit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::Socket;
use crate::adapter::Room;
use crate::error::DisconnectReason;
use crate::protocol::Payload;
use crate::sid::Sid;

/// Told of what happens to this server's sockets. Every method runs inline on the hot
/// path's task: keep it short, and never block.
pub(crate) trait Observer: Send + Sync + 'static {
    /// A socket finished connecting (its CONNECT acknowledgement is queued).
    fn connected(&self, socket: &Socket);
    /// A connected socket left, with the rooms it was in (its own id room first).
    fn disconnected(&self, socket: &Socket, rooms: &[Room], reason: DisconnectReason);
    /// Local socket `sid` of namespace `nsp` joined `room`.
    fn joined(&self, nsp: &str, sid: Sid, room: &str);
    /// Local socket `sid` of namespace `nsp` left `room`.
    fn left(&self, nsp: &str, sid: Sid, room: &str);
    /// `socket` received event `name` with `args` (before its handler runs).
    fn event_received(&self, socket: &Socket, name: &str, args: &Payload);
    /// Event `name` with `args` was queued for each of `sids`, sockets of `nsp`.
    fn event_sent(&self, nsp: &str, sids: &[Sid], name: &str, args: &Payload);
    /// The client of these sockets moved to WebSocket.
    fn upgraded(&self, sockets: &[Socket]);
}

/// Where the server's one observer is kept, shared by its namespaces.
#[derive(Default)]
pub(crate) struct ObserverSlot {
    /// Read first on every path, so an unobserved server never takes the lock.
    on: AtomicBool,
    observer: RwLock<Option<Arc<dyn Observer>>>,
}

impl ObserverSlot {
    /// The observer, when one is set.
    #[inline]
    pub(crate) fn get(&self) -> Option<Arc<dyn Observer>> {
        if !self.on.load(Ordering::Relaxed) {
            return None;
        }
        self.observer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets (or with `None` removes) the observer.
    pub(crate) fn set(&self, observer: Option<Arc<dyn Observer>>) {
        let on = observer.is_some();
        *self.observer.write().unwrap_or_else(|p| p.into_inner()) = observer;
        self.on.store(on, Ordering::Relaxed);
    }
}
