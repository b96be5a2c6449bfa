//! The connection to Redis, behind the [`Driver`] trait: publish, subscribe and count
//! subscribers, never blocking the caller. [`RedisDriver`] is redis-rs over RESP3 (one
//! multiplexed connection carries publishes and the subscriptions' pushes), on one Redis
//! or on a Redis Cluster with sharded pub/sub.
//!
//! Owns: connecting (with backoff when Redis is down at start), reconnecting and
//! resubscribing after Redis restarts, the bounded queue of publishes and the bounded
//! queue of received messages, and counting what either queue dropped. Never decodes a
//! message and never touches the server.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManagerConfig;
use redis::{IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, RedisResult, Value};
use tokio::sync::{mpsc, oneshot};

use crate::adapter::{AdapterError, AdapterFuture};

/// A message received on a subscribed channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The channel it arrived on.
    pub channel: Vec<u8>,
    /// Its bytes.
    pub payload: Vec<u8>,
}

/// Why a publish was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The publish queue is full (Redis is slower than the server publishes).
    #[error("the publish queue is full")]
    QueueFull,
    /// The driver has stopped.
    #[error("the Redis driver has stopped")]
    Stopped,
}

/// What an adapter needs from its pub/sub connection. Every method returns at once:
/// the work is queued for the driver's own task.
pub trait Driver: Send + Sync + std::fmt::Debug + 'static {
    /// Queues a publish of `payload` on `channel`.
    fn publish(&self, channel: String, payload: Vec<u8>) -> Result<(), PublishError>;
    /// Subscribes to `channels` (plain channels), kept across reconnections.
    fn subscribe(&self, channels: Vec<String>);
    /// Unsubscribes from `channels`.
    fn unsubscribe(&self, channels: Vec<String>);
    /// How many clients subscribe to `channel` (`PUBSUB NUMSUB`, or `SHARDNUMSUB`).
    fn subscriber_count(&self, channel: String) -> AdapterFuture<Result<usize, AdapterError>>;
    /// The driver's counters (what a flush compares with what it queued).
    fn stats(&self) -> Option<Arc<DriverStats>> {
        None
    }
    /// Stops the driver's task and closes its connection, after the publishes queued
    /// so far (when it can queue the stop behind them; at once when the queue is full).
    fn close(&self);
    /// Resolves once the driver's task has ended (after [`close`](Self::close)), or
    /// after `timeout`.
    fn closed(&self, timeout: Duration) -> AdapterFuture<()> {
        let _ = timeout;
        Box::pin(async {})
    }
    /// Whether the connection is up now.
    fn is_connected(&self) -> bool {
        true
    }
    /// Resolves with true once the connection is up, false after `timeout`.
    fn wait_connected(&self, timeout: Duration) -> AdapterFuture<bool> {
        let _ = timeout;
        Box::pin(async { true })
    }
}

/// Counters of one driver, all since it started.
#[derive(Debug, Default)]
pub struct DriverStats {
    /// Messages handed to Redis.
    pub published: AtomicU64,
    /// Publishes dropped: the queue was full or Redis could not be reached (delivery
    /// across servers is at most once).
    pub publish_lost: AtomicU64,
    /// Messages received on subscribed channels.
    pub received: AtomicU64,
    /// Received messages dropped because the receiving queue was full.
    pub receive_dropped: AtomicU64,
    /// Connections lost and made again.
    pub reconnects: AtomicU64,
    /// Woken whenever `published` or `publish_lost` moved (what a flush waits on).
    pub progress: tokio::sync::Notify,
}

impl DriverStats {
    /// Publishes settled: handed to Redis or dropped.
    pub fn settled(&self) -> u64 {
        self.published.load(Ordering::Acquire) + self.publish_lost.load(Ordering::Acquire)
    }

    fn lost(&self, count: u64) {
        self.publish_lost.fetch_add(count, Ordering::AcqRel);
        self.progress.notify_waiters();
    }

    fn sent(&self, count: u64) {
        self.published.fetch_add(count, Ordering::AcqRel);
        self.progress.notify_waiters();
    }
}

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct DriverOptions {
    /// `redis://[user:password@]host[:port][/db]`, `rediss://` (TLS), `unix:///path`,
    /// `valkey://`, `valkeys://`.
    pub url: String,
    /// A Redis Cluster, with sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`); `url` names
    /// one node.
    pub cluster: bool,
    /// Publishes queued at most; beyond, publishes are dropped and counted.
    pub publish_queue: usize,
    /// Received messages queued at most before the adapter handles them.
    pub receive_queue: usize,
    /// The longest wait between two connection attempts.
    pub max_backoff: Duration,
}

impl DriverOptions {
    /// Options for `url` with the defaults: 16,384 queued publishes and received
    /// messages, at most 5 s between attempts.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            cluster: false,
            publish_queue: 16_384,
            receive_queue: 16_384,
            max_backoff: Duration::from_secs(5),
        }
    }
}

enum Command {
    Publish(String, Vec<u8>),
    /// Sent behind the publishes: ends the task once they are handed to Redis.
    Close,
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
    Count(String, oneshot::Sender<Result<usize, AdapterError>>),
}

/// redis-rs over RESP3: a multiplexed connection (a `ConnectionManager`, or a cluster
/// connection), driven by one tokio task.
#[derive(Debug)]
pub struct RedisDriver {
    publish: mpsc::Sender<Command>,
    /// Subscriptions and counts: never dropped (they are few), so unbounded.
    control: mpsc::UnboundedSender<Command>,
    stats: Arc<DriverStats>,
    stop: Arc<tokio::sync::Notify>,
    stopped: Arc<AtomicBool>,
    connected: tokio::sync::watch::Receiver<bool>,
    done: tokio::sync::watch::Receiver<bool>,
}

impl RedisDriver {
    /// Starts the driver's task on the current tokio runtime (it must be called from
    /// inside one) and returns at once: the connection is made in the background,
    /// retried with backoff while Redis cannot be reached. Received messages go to the
    /// returned receiver. Fails only on a URL that does not parse.
    pub fn start(
        options: DriverOptions,
    ) -> Result<(Self, mpsc::Receiver<Received>, Arc<DriverStats>), AdapterError> {
        let url = with_default_host(&options.url);
        let info = url
            .as_str()
            .into_connection_info()
            .map_err(|e| AdapterError::Unavailable(format!("invalid Redis URL: {e}")))?;
        let redis_info = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = info.set_redis_settings(redis_info);
        let (publish, publish_rx) = mpsc::channel(options.publish_queue.max(1));
        let (control, control_rx) = mpsc::unbounded_channel();
        let (received_tx, received_rx) = mpsc::channel(options.receive_queue.max(1));
        let stats = Arc::new(DriverStats::default());
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = Arc::new(AtomicBool::new(false));
        let (connected_tx, connected) = tokio::sync::watch::channel(false);
        let task = Task {
            info,
            options,
            received: received_tx,
            stats: Arc::clone(&stats),
            wanted: Arc::default(),
            connected: connected_tx,
        };
        let stopper = Arc::clone(&stop);
        let flag = Arc::clone(&stopped);
        let (done_tx, done) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                () = task.run(publish_rx, control_rx) => {}
                () = stopper.notified() => {}
            }
            flag.store(true, Ordering::Release);
            let _ = done_tx.send(true);
        });
        Ok((
            Self {
                publish,
                control,
                stats: Arc::clone(&stats),
                stop,
                stopped,
                connected,
                done,
            },
            received_rx,
            stats,
        ))
    }
}

impl Driver for RedisDriver {
    fn publish(&self, channel: String, payload: Vec<u8>) -> Result<(), PublishError> {
        match self.publish.try_send(Command::Publish(channel, payload)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.lost(1);
                Err(PublishError::QueueFull)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(PublishError::Stopped),
        }
    }

    fn subscribe(&self, channels: Vec<String>) {
        if !channels.is_empty() {
            let _ = self.control.send(Command::Subscribe(channels));
        }
    }

    fn unsubscribe(&self, channels: Vec<String>) {
        if !channels.is_empty() {
            let _ = self.control.send(Command::Unsubscribe(channels));
        }
    }

    fn subscriber_count(&self, channel: String) -> AdapterFuture<Result<usize, AdapterError>> {
        let (tx, rx) = oneshot::channel();
        let sent = self.control.send(Command::Count(channel, tx)).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(AdapterError::Unavailable(
                    "the Redis driver has stopped".into(),
                ));
            }
            rx.await.unwrap_or_else(|_| {
                Err(AdapterError::Unavailable(
                    "the Redis driver has stopped".into(),
                ))
            })
        })
    }

    fn close(&self) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        if self.publish.try_send(Command::Close).is_err() {
            self.stop.notify_one();
        }
    }

    fn stats(&self) -> Option<Arc<DriverStats>> {
        Some(Arc::clone(&self.stats))
    }

    fn closed(&self, timeout: Duration) -> AdapterFuture<()> {
        let mut done = self.done.clone();
        Box::pin(async move {
            let _ = tokio::time::timeout(timeout, done.wait_for(|d| *d)).await;
        })
    }

    fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    fn wait_connected(&self, timeout: Duration) -> AdapterFuture<bool> {
        let mut connected = self.connected.clone();
        Box::pin(async move {
            tokio::time::timeout(timeout, connected.wait_for(|up| *up))
                .await
                .is_ok_and(|r| r.is_ok())
        })
    }
}

impl Drop for RedisDriver {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}

/// One connection, single-node or cluster.
enum Conn {
    Single(redis::aio::ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Conn {
    async fn query(&mut self, cmd: &redis::Cmd) -> RedisResult<Value> {
        match self {
            Self::Single(c) => cmd.query_async(c).await,
            Self::Cluster(c) => cmd.query_async(c).await,
        }
    }

    async fn publish_batch(&mut self, batch: &[(String, Vec<u8>)]) -> RedisResult<()> {
        match self {
            Self::Single(c) => {
                let mut pipe = redis::pipe();
                for (channel, payload) in batch {
                    pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
                }
                pipe.query_async::<()>(c).await
            }
            // A cluster pipeline must keep to one slot; each sharded publish goes to
            // its channel's node on its own (they are still multiplexed).
            Self::Cluster(c) => {
                for (channel, payload) in batch {
                    redis::cmd("SPUBLISH")
                        .arg(channel)
                        .arg(payload)
                        .query_async::<()>(c)
                        .await?;
                }
                Ok(())
            }
        }
    }

    async fn subscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Self::Single(_) if channels.is_empty() => Ok(()),
            Self::Single(c) => c.subscribe(channels).await,
            Self::Cluster(c) => {
                // SSUBSCRIBE takes channels of one slot: one call per channel.
                for channel in channels {
                    c.ssubscribe(channel).await?;
                }
                Ok(())
            }
        }
    }

    async fn unsubscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Self::Single(_) if channels.is_empty() => Ok(()),
            Self::Single(c) => c.unsubscribe(channels).await,
            Self::Cluster(c) => {
                for channel in channels {
                    c.sunsubscribe(channel).await?;
                }
                Ok(())
            }
        }
    }

    async fn count(&mut self, channel: &str, cluster: bool) -> RedisResult<usize> {
        let mut cmd = redis::cmd("PUBSUB");
        cmd.arg(if cluster { "SHARDNUMSUB" } else { "NUMSUB" })
            .arg(channel);
        let value = self.query(&cmd).await?;
        // [channel, count]
        let counts: Vec<(String, usize)> = redis::from_redis_value(value)?;
        Ok(counts.first().map_or(0, |(_, n)| *n))
    }
}

struct Task {
    info: redis::ConnectionInfo,
    options: DriverOptions,
    received: mpsc::Sender<Received>,
    stats: Arc<DriverStats>,
    /// The channels wanted, subscribed again on every new connection.
    wanted: Arc<Mutex<BTreeSet<String>>>,
    /// Whether the connection is up (what emitters wait for before their first publish).
    connected: tokio::sync::watch::Sender<bool>,
}

/// Publishes handed to Redis in one pipeline at most.
const BATCH: usize = 256;

impl Task {
    fn push_sender(
        &self,
        lost: Arc<tokio::sync::Notify>,
    ) -> impl Fn(PushInfo) -> Result<(), ()> + Send + Sync + 'static {
        let received = self.received.clone();
        let stats = Arc::clone(&self.stats);
        move |info: PushInfo| {
            match info.kind {
                PushKind::Message | PushKind::SMessage => {
                    let mut data = info.data.into_iter();
                    let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) =
                        (data.next(), data.next())
                    else {
                        return Ok(());
                    };
                    stats.received.fetch_add(1, Ordering::Relaxed);
                    if received.try_send(Received { channel, payload }).is_err() {
                        stats.receive_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                PushKind::Disconnection => lost.notify_one(),
                _ => {}
            }
            Ok(())
        }
    }

    async fn connect(&self, lost: &Arc<tokio::sync::Notify>) -> RedisResult<Conn> {
        let timeout = Some(Duration::from_secs(2));
        if self.options.cluster {
            let client = redis::cluster::ClusterClient::builder(vec![self.info.clone()])
                .use_protocol(ProtocolVersion::RESP3)
                .connection_timeout(Duration::from_secs(2))
                .response_timeout(Duration::from_secs(2))
                .push_sender(self.push_sender(Arc::clone(lost)))
                .build()?;
            Ok(Conn::Cluster(client.get_async_connection().await?))
        } else {
            let client = redis::Client::open(self.info.clone())?;
            let config = ConnectionManagerConfig::new()
                .set_push_sender(self.push_sender(Arc::clone(lost)))
                .set_automatic_resubscription()
                .set_connection_timeout(timeout)
                .set_response_timeout(timeout)
                .set_number_of_retries(1)
                .set_max_delay(self.options.max_backoff);
            Ok(Conn::Single(
                client.get_connection_manager_with_config(config).await?,
            ))
        }
    }

    async fn run(
        self,
        mut publish: mpsc::Receiver<Command>,
        mut control: mpsc::UnboundedReceiver<Command>,
    ) {
        let lost = Arc::new(tokio::sync::Notify::new());
        let where_ = redact(&self.options.url);
        let mut backoff = Duration::from_millis(100);
        let mut failures = 0u64;
        loop {
            // Connect, dropping (and counting) publishes meanwhile: delivery across
            // servers is at most once, and a backlog would arrive stale.
            let connected = tokio::select! {
                result = self.connect(&lost) => Some(result),
                () = drain(&mut publish, &mut control, &self.wanted, &self.stats) => None,
            };
            let mut conn = match connected {
                Some(Ok(conn)) => conn,
                Some(Err(error)) => {
                    failures += 1;
                    if failures == 1 || failures.is_power_of_two() {
                        tracing::warn!(redis = %where_, %error, attempts = failures,
                            retry_in_ms = backoff.as_millis() as u64,
                            "Redis unreachable; delivering to this server's clients only meanwhile");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = drain(&mut publish, &mut control, &self.wanted, &self.stats) => return,
                    }
                    backoff = (backoff * 2).min(self.options.max_backoff);
                    continue;
                }
                None => return,
            };
            if failures > 0 {
                self.stats.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            let channels: Vec<String> = self.wanted_list();
            if !channels.is_empty() {
                if let Err(error) = conn.subscribe(&channels).await {
                    tracing::warn!(redis = %where_, %error, "subscribing failed; reconnecting");
                    failures += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.options.max_backoff);
                    continue;
                }
            }
            tracing::info!(redis = %where_, channels = channels.len(), cluster = self.options.cluster, "connected to Redis");
            let _ = self.connected.send(true);
            backoff = Duration::from_millis(100);
            match self
                .serve(&mut conn, &mut publish, &mut control, &lost)
                .await
            {
                Served::Stopped => return,
                Served::Lost => {
                    let _ = self.connected.send(false);
                    tracing::warn!(redis = %where_, "Redis connection lost; reconnecting (messages published meanwhile are lost)");
                    failures = 1;
                }
            }
        }
    }

    fn wanted_list(&self) -> Vec<String> {
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    async fn serve(
        &self,
        conn: &mut Conn,
        publish: &mut mpsc::Receiver<Command>,
        control: &mut mpsc::UnboundedReceiver<Command>,
        lost: &tokio::sync::Notify,
    ) -> Served {
        let mut batch: Vec<(String, Vec<u8>)> = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                biased;
                () = lost.notified() => return Served::Lost,
                command = control.recv() => {
                    let Some(command) = command else { return Served::Stopped };
                    if self.control(conn, command).await.is_err() {
                        return Served::Lost;
                    }
                }
                command = publish.recv() => {
                    let Some(Command::Publish(channel, payload)) = command else {
                        return Served::Stopped;
                    };
                    batch.push((channel, payload));
                    let mut closing = false;
                    while batch.len() < BATCH {
                        match publish.try_recv() {
                            Ok(Command::Publish(channel, payload)) => batch.push((channel, payload)),
                            Ok(Command::Close) => {
                                closing = true;
                                break;
                            }
                            _ => break,
                        }
                    }
                    let count = batch.len() as u64;
                    match conn.publish_batch(&batch).await {
                        Ok(()) if closing => {
                            self.stats.sent(count);
                            return Served::Stopped;
                        }
                        Ok(()) => {
                            self.stats.sent(count);
                        }
                        Err(error) => {
                            self.stats.lost(count);
                            tracing::warn!(%error, lost = count, "publishing to Redis failed");
                            batch.clear();
                            return Served::Lost;
                        }
                    }
                    batch.clear();
                }
            }
        }
    }

    async fn control(&self, conn: &mut Conn, command: Command) -> RedisResult<()> {
        match command {
            Command::Subscribe(channels) => {
                let new: Vec<String> = {
                    let mut wanted = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
                    channels
                        .into_iter()
                        .filter(|c| wanted.insert(c.clone()))
                        .collect()
                };
                if !new.is_empty() {
                    conn.subscribe(&new).await?;
                }
            }
            Command::Unsubscribe(channels) => {
                let gone: Vec<String> = {
                    let mut wanted = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
                    channels.into_iter().filter(|c| wanted.remove(c)).collect()
                };
                if !gone.is_empty() {
                    conn.unsubscribe(&gone).await?;
                }
            }
            Command::Count(channel, reply) => {
                let result = conn.count(&channel, self.options.cluster).await;
                let failed = result.is_err();
                let _ = reply.send(result.map_err(|e| AdapterError::Unavailable(e.to_string())));
                if failed {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "count failed",
                    )));
                }
            }
            Command::Publish(..) | Command::Close => {}
        }
        Ok(())
    }
}

enum Served {
    Stopped,
    Lost,
}

/// While disconnected: drops publishes (counted), records subscriptions, answers
/// counts with an error. Returns when both queues are closed (the driver is gone).
async fn drain(
    publish: &mut mpsc::Receiver<Command>,
    control: &mut mpsc::UnboundedReceiver<Command>,
    wanted: &Mutex<BTreeSet<String>>,
    stats: &DriverStats,
) {
    let (publish_open, mut control_open) = (true, true);
    while publish_open || control_open {
        tokio::select! {
            command = publish.recv(), if publish_open => match command {
                Some(Command::Close) | None => return,
                Some(_) => stats.lost(1),
            },
            command = control.recv(), if control_open => match command {
                Some(Command::Subscribe(channels)) => {
                    wanted.lock().unwrap_or_else(|p| p.into_inner()).extend(channels);
                }
                Some(Command::Unsubscribe(channels)) => {
                    let mut wanted = wanted.lock().unwrap_or_else(|p| p.into_inner());
                    for channel in channels {
                        wanted.remove(&channel);
                    }
                }
                Some(Command::Count(_, reply)) => {
                    let _ = reply.send(Err(AdapterError::Unavailable("not connected to Redis".into())));
                }
                Some(Command::Publish(..) | Command::Close) => {}
                None => control_open = false,
            },
        }
    }
}

/// `redis://` (and `redis://:6380/1`, `rediss://`, `valkey://`) without a host names
/// `localhost`, as redis-py reads it: Flask-SocketIO apps write `message_queue='redis://'`.
pub(crate) fn with_default_host(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let tcp = matches!(scheme, "redis" | "rediss" | "valkey" | "valkeys");
    // Credentials end at the last '@'; the host starts after them.
    let (credentials, address) = match rest.rfind('@') {
        Some(at) => rest.split_at(at + 1),
        None => ("", rest),
    };
    if tcp && (address.is_empty() || address.starts_with('/') || address.starts_with(':')) {
        format!("{scheme}://{credentials}localhost{address}")
    } else {
        url.to_owned()
    }
}

/// The URL without its password, for logs.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_a_host_names_localhost() {
        assert_eq!(with_default_host("redis://"), "redis://localhost");
        assert_eq!(with_default_host("redis:///2"), "redis://localhost/2");
        assert_eq!(
            with_default_host("rediss://:pw@:6380/1"),
            "rediss://:pw@localhost:6380/1"
        );
        assert_eq!(with_default_host("redis://h:1/0"), "redis://h:1/0");
        assert_eq!(
            with_default_host("unix:///tmp/r.sock"),
            "unix:///tmp/r.sock"
        );
    }

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(redact("redis://:secret@h:1/0"), "redis://***@h:1/0");
        assert_eq!(redact("redis://h:1/0"), "redis://h:1/0");
        assert_eq!(redact("unix:///tmp/r.sock"), "unix:///tmp/r.sock");
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_and_an_unreachable_redis_drops_publishes() {
        assert!(RedisDriver::start(DriverOptions::new("http://x")).is_err());
        // Port 1 on loopback: nothing listens. Publishes are dropped and counted while
        // the driver retries; nothing blocks.
        let (driver, _rx, stats) =
            RedisDriver::start(DriverOptions::new("redis://127.0.0.1:1/")).unwrap();
        for _ in 0..10 {
            driver.publish("c".into(), b"x".to_vec()).unwrap();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while stats.publish_lost.load(Ordering::Relaxed) < 10
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(stats.publish_lost.load(Ordering::Relaxed), 10);
        assert!(driver.subscriber_count("c".into()).await.is_err());
        driver.close();
    }
}
