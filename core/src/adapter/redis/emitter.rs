//! A write-only member of a Redis fleet: emits to the fleet's sockets from a process that
//! serves no client (a worker, a script), as python-socketio's write-only managers and
//! node's `@socket.io/redis-emitter` do. Owns nothing but its driver; never subscribes.

use std::sync::Arc;

use super::driver::{Driver, PublishError, RedisDriver};
use super::format::{Outgoing, WireFormat};
use super::RedisOptions;
use crate::adapter::{AdapterError, BroadcastOptions, BroadcastPacket, Room};
use crate::protocol::socket::normalize_namespace;
use crate::protocol::Payload;

/// Emits to a Redis fleet without serving clients. Cheap to clone.
#[derive(Clone)]
pub struct RedisEmitter {
    uid: Arc<str>,
    format: Arc<dyn WireFormat>,
    driver: Arc<dyn Driver>,
    /// Messages handed to the driver (queued or refused), for [`flush`](Self::flush).
    attempted: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for RedisEmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEmitter")
            .field("format", &self.format.name())
            .finish()
    }
}

impl RedisEmitter {
    /// Connects (in the background, on the current tokio runtime) to the fleet
    /// `options` names. Fails only on a URL that does not parse.
    pub fn start(options: RedisOptions) -> Result<Self, AdapterError> {
        let (driver, _received, _stats) = RedisDriver::start(options.driver.clone())?;
        Ok(Self::with_driver(&options, Arc::new(driver)))
    }

    /// The emitter over a driver of the caller's.
    pub fn with_driver(options: &RedisOptions, driver: Arc<dyn Driver>) -> Self {
        let channel = options.channel_name();
        Self {
            // node's emitter and python-socketio's write-only managers also send a
            // fixed or random id; a random one never matches a server's.
            uid: Arc::from(format!("emitter-{}", crate::sid::Sid::new())),
            format: options.format.wire(&channel),
            driver,
            attempted: Arc::default(),
        }
    }

    fn publish(&self, message: &Outgoing<'_>) -> Result<(), PublishError> {
        for publish in self.format.encode(&self.uid, message) {
            self.attempted
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            self.driver.publish(publish.channel, publish.payload)?;
        }
        Ok(())
    }

    /// Resolves with true once everything emitted so far has been handed to Redis (or
    /// dropped and counted), false after `timeout`. What a process that exits right
    /// after emitting waits on, so its last messages are not lost with it.
    pub fn flush(
        &self,
        timeout: std::time::Duration,
    ) -> impl std::future::Future<Output = bool> + Send + 'static {
        let target = self.attempted.load(std::sync::atomic::Ordering::Acquire);
        let stats = self.driver.stats();
        async move {
            let Some(stats) = stats else { return true };
            let wait = async {
                loop {
                    let progress = stats.progress.notified();
                    tokio::pin!(progress);
                    progress.as_mut().enable();
                    if stats.settled() >= target {
                        return;
                    }
                    progress.await;
                }
            };
            tokio::time::timeout(timeout, wait).await.is_ok()
        }
    }

    /// Emits `event` with `args` to the sockets of namespace `nsp` that `opts` selects,
    /// on every server of the fleet.
    pub fn emit(
        &self,
        nsp: &str,
        event: &str,
        args: &Payload,
        opts: &BroadcastOptions,
    ) -> Result<(), PublishError> {
        let nsp = normalize_namespace(nsp);
        self.publish(&Outgoing::Broadcast {
            nsp: &nsp,
            packet: BroadcastPacket { event, args },
            opts,
            ack: None,
        })
    }

    /// Makes the selected sockets join `rooms` (node's format; python-socketio's for one
    /// socket id at a time).
    pub fn join(
        &self,
        nsp: &str,
        opts: &BroadcastOptions,
        rooms: &[Room],
    ) -> Result<(), PublishError> {
        let nsp = normalize_namespace(nsp);
        self.publish(&Outgoing::AddSockets {
            nsp: &nsp,
            opts,
            rooms,
        })
    }

    /// Makes the selected sockets leave `rooms`.
    pub fn leave(
        &self,
        nsp: &str,
        opts: &BroadcastOptions,
        rooms: &[Room],
    ) -> Result<(), PublishError> {
        let nsp = normalize_namespace(nsp);
        self.publish(&Outgoing::DelSockets {
            nsp: &nsp,
            opts,
            rooms,
        })
    }

    /// Removes every socket from `room`.
    pub fn close_room(&self, nsp: &str, room: &str) -> Result<(), PublishError> {
        let nsp = normalize_namespace(nsp);
        self.publish(&Outgoing::CloseRoom {
            nsp: &nsp,
            room: &Room::from(room),
        })
    }

    /// Disconnects the selected sockets (`close`: their whole connection).
    pub fn disconnect(
        &self,
        nsp: &str,
        opts: &BroadcastOptions,
        close: bool,
    ) -> Result<(), PublishError> {
        let nsp = normalize_namespace(nsp);
        self.publish(&Outgoing::Disconnect {
            nsp: &nsp,
            opts,
            close,
        })
    }

    /// Whether the connection to Redis is up (publishes made before it are dropped).
    pub fn is_connected(&self) -> bool {
        self.driver.is_connected()
    }

    /// Resolves with true once the connection is up, false after `timeout`.
    pub fn wait_connected(
        &self,
        timeout: std::time::Duration,
    ) -> impl std::future::Future<Output = bool> + Send + 'static {
        self.driver.wait_connected(timeout)
    }

    /// Stops the emitter's connection once what was published so far is handed to
    /// Redis (see [`closed`](Self::closed) to wait for that).
    pub fn close(&self) {
        self.driver.close();
    }

    /// Resolves once the connection has closed after [`close`](Self::close), or after
    /// `timeout`.
    pub fn closed(
        &self,
        timeout: std::time::Duration,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.driver.closed(timeout)
    }
}
