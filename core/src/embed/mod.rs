//! Embedding ferrosocket in a program that is not async Rust (C, Python, ...).
//!
//! [`Embedded`] owns everything a binding needs:
//!
//! - a tokio runtime on its own threads (`ferrosocket-io-N`) that runs the I/O, parsing,
//!   rooms and fan-out;
//! - a [`DispatchPool`] of OS threads (`ferrosocket-dispatch-N`) that runs the binding's
//!   blocking callbacks, never on a tokio thread. One client's callbacks run one at a
//!   time, in the order its packets arrived; different clients run in parallel, so one
//!   slow callback (a database call) delays only its own client. The pool grows while
//!   every thread is busy, up to a cap, and shrinks when idle;
//! - start, stop and drop that end every thread it started.
//!
//! Emitting, joining, leaving and disconnecting go through the [`Server`] handle from any
//! thread without blocking. Call them inside [`Embedded::enter`] when on a thread the
//! runtime does not know (the dispatch threads are already inside it).
//!
//! It also owns what every binding needs beyond that, so a binding only converts values
//! and crosses its ABI: start on a host name and port ([`Embedded::start_on`]), an
//! acknowledgement whose reply runs on the client's dispatch lane
//! ([`Embedded::emit_with_ack`]), a shutdown that ends every thread even when the last
//! handle goes away inside a callback ([`Embedded::shutdown`]), the static-directory check
//! ([`Embedded::serve_dir`]), lookups by the host's spelling of a namespace and sid
//! ([`Embedded::namespace`], [`Embedded::socket`]), typed errors ([`EmbedError`],
//! [`AckFailure`]), log levels ([`LogLevel`]) and an in-process client for test clients
//! ([`Embedded::local_client`], [`LocalClient`]). It never calls a binding's code on a
//! tokio thread, except to drop what the binding handed it.

mod error;
mod local;
mod log;
mod pool;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

pub use error::{AckFailure, EmbedError};
pub use local::{ConnectAnswer, LocalClient, LocalError, Received};
pub use log::{set_log_sink, LogError, LogLevel, LogSink, ParseLogLevelError};
pub use pool::{
    on_dispatch_thread, DispatchPool, Job, PoolOptions, PoolStats, Scope, SubmitError, ThreadScope,
};

use crate::error::{AckError, ConnectRefused, DisconnectReason, ServerError};
use crate::protocol::Payload;
use crate::sid::Sid;
use crate::socket::namespace::{normalize_namespace, Auth, Namespace};
use crate::socket::{Event, Socket};
use crate::{Config, Server};

/// Pending connections the listening socket queues before they are accepted.
const LISTEN_BACKLOG: u32 = 4096;

/// Threads and queues of an [`Embedded`] server.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// Threads for I/O. Default: the number of CPUs, at most 4. With one, the runtime is
    /// tokio's current-thread flavour driven by one thread of its own, which runs woken
    /// connections in order; the multi-thread flavour with a single worker lets some of
    /// a thousand busy connections wait ~150 ms at a time (its local run queue holds
    /// 256 tasks, the overflow is polled only now and then).
    pub io_threads: usize,
    /// Most dispatch threads: how many clients' callbacks can run at once. Default: 64.
    ///
    /// The pool starts `min_dispatch_threads` and starts one more whenever a client's
    /// callback is ready and every thread is busy running one, so callbacks that block
    /// (a sleep, a slow database) hold only their own client's thread, not everyone's.
    /// At this cap callbacks wait their turn, in order, and one warning per episode says
    /// so. The cap is what stops a flood of blocking callbacks (many clients, or one
    /// attacker with many connections, each sending an event whose handler waits) from
    /// starting threads without bound: each costs a stack (2 MiB of address space, the
    /// pages it touches resident) and, in Python, an interpreter thread state. 64 covers
    /// the connections of a typical database pool, past which handlers would queue on
    /// the database anyway. Python handlers that wait on I/O release the GIL, so these
    /// threads do wait in parallel; CPU-bound handlers take turns on the GIL whatever
    /// the count. Values below 1 count as 1.
    pub dispatch_threads: usize,
    /// Dispatch threads started with the server and kept when idle. Default: 4, capped
    /// at `dispatch_threads`; values below 1 count as 1. A few warm threads serve the
    /// usual load without starting any; at least one always exists, so queued
    /// callbacks drain even when the system refuses to start more threads.
    pub min_dispatch_threads: usize,
    /// How long a dispatch thread above `min_dispatch_threads` waits for work before it
    /// exits. Default: 30 s. Long enough that bursts a few seconds apart reuse the same
    /// threads instead of starting and ending them each time (starting one costs tens
    /// of microseconds, and a Python thread state); short enough that one spike (a slow
    /// database for a minute) gives its threads back soon after. `Duration::MAX`: never.
    pub dispatch_idle_timeout: Duration,
    /// The setting that raises `dispatch_threads`, as the saturation warning names it:
    /// each binding puts its own spelling (`handler_threads` in Python). Default:
    /// `"EmbedOptions::dispatch_threads"`.
    pub dispatch_threads_option: &'static str,
    /// Callbacks waiting per client. A client whose callbacks fall this far behind is
    /// disconnected (`client too slow`) instead of queueing without bound. Default: 1024.
    pub max_queued_callbacks: usize,
    /// Makes the server's adapter, inside the server's runtime (a Redis adapter starts
    /// its connection there). Default: `None`, rooms in memory.
    pub adapter: Option<AdapterMaker>,
}

/// Makes an adapter for an [`Embedded`] server; called once, inside its runtime.
#[derive(Clone)]
pub struct AdapterMaker(
    pub Arc<dyn Fn() -> Result<Arc<dyn crate::Adapter>, crate::AdapterError> + Send + Sync>,
);

impl std::fmt::Debug for AdapterMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdapterMaker")
    }
}

impl Default for EmbedOptions {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            io_threads: cpus.clamp(1, 4),
            dispatch_threads: 64,
            min_dispatch_threads: 4,
            dispatch_idle_timeout: Duration::from_secs(30),
            dispatch_threads_option: "EmbedOptions::dispatch_threads",
            max_queued_callbacks: 1024,
            adapter: None,
        }
    }
}

/// `host`'s first address with `port` (may block on DNS).
fn resolve(host: &str, port: u16) -> Result<SocketAddr, EmbedError> {
    let resolve_error = |source| EmbedError::Resolve {
        host: host.to_owned(),
        port,
        source,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(resolve_error)?
        .next()
        .ok_or_else(|| {
            resolve_error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no address for this host",
            ))
        })
}

/// A listening socket on `runtime` with the embedding layer's backlog.
fn listen(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
) -> std::io::Result<tokio::net::TcpListener> {
    let _entered = runtime.enter();
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    // A connect storm must not overflow the accept queue (std's bind gives 128; the
    // kernel caps it at net.core.somaxconn).
    socket.listen(LISTEN_BACKLOG)
}

/// The server's metric families and the dispatch pool's.
fn render_metrics(server: &Server, pool: &DispatchPool) -> String {
    let mut out = crate::metrics::Exposition::new();
    server.write_metrics(&mut out);
    let stats = pool.stats();
    out.singles(&[
        ("ferrosocket_dispatch_threads", "gauge", "Dispatch threads alive (callbacks run on them).", stats.threads as f64),
        ("ferrosocket_dispatch_busy_threads", "gauge", "Dispatch threads running callbacks now.", stats.busy as f64),
        ("ferrosocket_dispatch_waiting_lanes", "gauge", "Clients whose callbacks wait for a dispatch thread (the dispatch queue's depth).", stats.waiting as f64),
        ("ferrosocket_dispatch_saturations_total", "counter", "Times every dispatch thread was busy at the maximum with callbacks waiting.", stats.saturations as f64),
        ("ferrosocket_dispatch_busy_seconds_total", "counter", "Time dispatch threads spent running callbacks, summed over threads.", stats.busy_time.as_secs_f64()),
        ("ferrosocket_dispatch_scope_wait_seconds_total", "counter", "Time dispatch threads spent entering the callbacks' scope (in Python: waiting for the GIL), summed over threads.", stats.scope_wait.as_secs_f64()),
    ]);
    out.into_string()
}

struct Serving {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: mpsc::Receiver<Result<(), ServerError>>,
}

/// A Socket.IO server running on its own threads, with blocking callbacks.
///
/// ```
/// use ferrosocket::embed::{EmbedOptions, Embedded};
/// use ferrosocket::{Config, Payload};
///
/// let embedded = Embedded::new(Config::default(), EmbedOptions::default(), None).unwrap();
/// embedded.on("/", "ping", |_socket, mut event| {
///     // A blocking callback on a dispatch thread: a database call is fine here.
///     let _ = event.ack(&Payload::one("pong").unwrap());
/// });
/// let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();
/// assert_ne!(addr.port(), 0);
/// embedded.stop();
/// ```
pub struct Embedded {
    server: Server,
    /// `None` only while dropping. Shared with the driver thread of a current-thread
    /// runtime.
    runtime: Option<Arc<tokio::runtime::Runtime>>,
    /// The thread driving a current-thread runtime (`io_threads` 1), and how to end it.
    driver: Option<(oneshot::Sender<()>, std::thread::JoinHandle<()>)>,
    pool: Arc<DispatchPool>,
    /// Set while serving; `start` after `stop` is refused.
    serving: Mutex<Option<Serving>>,
    /// The `/metrics` listener, once started ([`start_metrics`](Self::start_metrics)):
    /// its address, and what ends it.
    metrics: Mutex<Option<(SocketAddr, oneshot::Sender<()>)>>,
    /// Set first thing by `stop`. Shared with acknowledgement tasks, which tell a wait the
    /// shutdown ended (`Cancelled`) from a timeout or a disconnect; they hold it and the
    /// pool, never the `Embedded`, so no task can drop the runtime it runs on.
    stopped: Arc<AtomicBool>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("server", &self.server)
            .finish()
    }
}

impl Embedded {
    /// Builds the runtime and the dispatch pool; nothing listens until [`start`](Self::start).
    /// `scope` wraps every run of ready callbacks on a dispatch thread (Python takes the
    /// GIL there); `None` runs them as they are.
    pub fn new(
        config: Config,
        options: EmbedOptions,
        scope: Option<Scope>,
    ) -> std::io::Result<Self> {
        Self::with_thread_scope(config, options, scope, None)
    }

    /// Like [`new`](Self::new), and `thread_scope` wraps each dispatch thread's whole life
    /// (see [`DispatchPool::with_thread_scope`]): Python registers each thread with the
    /// interpreter once there, so taking the GIL per run of callbacks allocates nothing.
    pub fn with_thread_scope(
        config: Config,
        options: EmbedOptions,
        scope: Option<Scope>,
        thread_scope: Option<ThreadScope>,
    ) -> std::io::Result<Self> {
        let (runtime, driver) = if options.io_threads <= 1 {
            let runtime = Arc::new(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?,
            );
            let (stop, stopped) = oneshot::channel::<()>();
            let driven = Arc::clone(&runtime);
            let thread = std::thread::Builder::new()
                .name("ferrosocket-io-0".into())
                .spawn(move || {
                    driven.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            (runtime, Some((stop, thread)))
        } else {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(options.io_threads)
                .thread_name_fn(|| {
                    static NEXT: std::sync::atomic::AtomicUsize =
                        std::sync::atomic::AtomicUsize::new(0);
                    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    format!("ferrosocket-io-{n}")
                })
                .enable_all()
                .build()?;
            (Arc::new(runtime), None)
        };
        // Before the pool: a failure here must not drop a pool whose threads wait for
        // something the caller holds (Python's GIL), which would hang the drop's join.
        let server = match &options.adapter {
            None => Server::new(config),
            Some(make) => {
                let _entered = runtime.enter();
                let adapter = (make.0)().map_err(|error| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, error.to_string())
                })?;
                Server::with_shared_adapter(config, adapter)
            }
        };
        let handle = runtime.handle().clone();
        let inner = scope.unwrap_or_else(|| Arc::new(|run: &mut dyn FnMut()| run()));
        // Dispatch threads run inside the runtime, so callbacks can emit, await acks with
        // timeouts, and disconnect clients like any other code.
        let scope: Scope = Arc::new(move |run: &mut dyn FnMut()| {
            let _entered = handle.enter();
            inner(run);
        });
        let pool = DispatchPool::with_thread_scope(
            PoolOptions {
                min_threads: options.min_dispatch_threads,
                max_threads: options.dispatch_threads,
                idle_timeout: options.dispatch_idle_timeout,
                max_per_lane: options.max_queued_callbacks,
                cap_option: options.dispatch_threads_option,
            },
            scope,
            thread_scope,
        )?;
        Ok(Self {
            server,
            runtime: Some(runtime),
            driver,
            pool: Arc::new(pool),
            serving: Mutex::new(None),
            metrics: Mutex::new(None),
            stopped: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The server handle: register namespaces, emit, manage rooms. Cheap to clone.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Enters the runtime on the calling thread for as long as the guard lives, so that
    /// server calls that start timers or tasks (acks with timeouts, handlers that wait)
    /// work from a thread the runtime does not know.
    pub fn enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
        self.runtime.as_ref().map(|rt| rt.enter())
    }

    /// Runs `future` to completion on the calling thread, with the runtime driving its
    /// I/O and timers: how a foreign thread waits for an acknowledgement. Blocks; do not
    /// call it from async code running on this server's runtime (it would panic there).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> Option<F::Output> {
        if tokio::runtime::Handle::try_current().is_ok() && tokio::task::try_id().is_some() {
            tracing::error!("Embedded::block_on called from async code; refusing");
            return None;
        }
        self.runtime.as_ref().map(|rt| rt.handle().block_on(future))
    }

    /// Starts listening on `addr` (port 0 picks a free port); returns the bound address.
    /// Starting a started server returns the address it listens on.
    /// [`EmbedError::Stopped`] after [`stop`](Self::stop), [`EmbedError::Listen`] when the
    /// address cannot be bound.
    pub fn start(&self, addr: SocketAddr) -> Result<SocketAddr, EmbedError> {
        let mut serving = self.serving.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(serving) = serving.as_ref() {
            return Ok(serving.addr);
        }
        let (runtime, listener, addr) = self.bind(addr)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let (done_tx, done) = mpsc::channel();
        let server = self.server.clone();
        runtime.spawn(async move {
            let result = server
                .run(listener, async {
                    let _ = stopped.await;
                })
                .await;
            let _ = done_tx.send(result);
        });
        *serving = Some(Serving { addr, stop, done });
        Ok(addr)
    }

    /// Serves `GET /metrics` (the Prometheus text format, [`prometheus`](Self::prometheus))
    /// on `addr`, a listener of its own; port 0 picks a free port. Returns the bound
    /// address; starting it again returns that address. It ends with [`stop`](Self::stop).
    /// Errors as [`start`](Self::start).
    pub fn start_metrics(&self, addr: SocketAddr) -> Result<SocketAddr, EmbedError> {
        let mut metrics = self.metrics.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((addr, _)) = metrics.as_ref() {
            return Ok(*addr);
        }
        let (runtime, listener, addr) = self.bind(addr)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = self.server.clone();
        let pool = Arc::clone(&self.pool);
        runtime.spawn(async move {
            let render = move || render_metrics(&server, &pool);
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = crate::server::serve_metrics_with(listener, shutdown, render).await
            {
                tracing::warn!(%error, "metrics listener ended with an error");
            }
        });
        *metrics = Some((addr, stop));
        Ok(addr)
    }

    /// Serves the Socket.IO Admin UI ([`Server::instrument`], [`crate::admin`]) inside
    /// this server's runtime; before or after [`start`](Self::start).
    /// [`EmbedError::Admin`] when the options are refused or it is already instrumented.
    pub fn instrument(
        &self,
        options: crate::admin::AdminOptions,
    ) -> Result<crate::admin::Instrumentation, EmbedError> {
        let _entered = self.live_runtime()?.enter();
        Ok(self.server.instrument(options)?)
    }

    /// The runtime, while the server is not stopped.
    fn live_runtime(&self) -> Result<&tokio::runtime::Runtime, EmbedError> {
        if self.is_stopped() {
            return Err(EmbedError::Stopped);
        }
        self.runtime.as_deref().ok_or(EmbedError::RuntimeGone)
    }

    /// A listener on `addr` for `start` or `start_metrics`, on this server's runtime, and
    /// the address it got: refused once stopped.
    fn bind(
        &self,
        addr: SocketAddr,
    ) -> Result<
        (
            &tokio::runtime::Runtime,
            tokio::net::TcpListener,
            SocketAddr,
        ),
        EmbedError,
    > {
        let runtime = self.live_runtime()?;
        let failed = |source| EmbedError::Listen { addr, source };
        let listener = listen(runtime, addr).map_err(failed)?;
        let bound = listener.local_addr().map_err(failed)?;
        Ok((runtime, listener, bound))
    }

    /// The address of the `/metrics` listener, once started.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(addr, _)| *addr)
    }

    /// What `/metrics` answers: the server's families
    /// ([`Server::write_metrics`]) and the dispatch pool's (`ferrosocket_dispatch_*`).
    pub fn prometheus(&self) -> String {
        render_metrics(&self.server, &self.pool)
    }

    /// Resolves `host` (a name or an address) and starts listening on its first address
    /// and `port` (0 picks a free port); returns the bound address. Resolving may block
    /// on DNS. [`EmbedError::Stopped`] after [`stop`](Self::stop) (checked first),
    /// [`EmbedError::Resolve`] when `host` gives no address, then as [`start`](Self::start).
    pub fn start_on(&self, host: &str, port: u16) -> Result<SocketAddr, EmbedError> {
        if self.is_stopped() {
            return Err(EmbedError::Stopped);
        }
        self.start(resolve(host, port)?)
    }

    /// [`start_metrics`](Self::start_metrics) on `host`'s first address, resolved as
    /// [`start_on`](Self::start_on) does.
    pub fn start_metrics_on(&self, host: &str, port: u16) -> Result<SocketAddr, EmbedError> {
        if self.is_stopped() {
            return Err(EmbedError::Stopped);
        }
        self.start_metrics(resolve(host, port)?)
    }

    /// The address the server listens on, once started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.serving
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|s| s.addr)
    }

    /// Shuts down gracefully and for good: stops accepting, disconnects every client
    /// (reason `server shutting down`), waits for connections to drain (up to the
    /// configured shutdown timeout), runs the callbacks still queued, and joins the
    /// dispatch threads. Idempotent. Blocks: do not call it from async code running on
    /// this server's runtime. From a dispatch thread (inside a callback) it would wait on
    /// itself, so there it does nothing and returns `false`.
    pub fn stop(&self) -> bool {
        if on_dispatch_thread() {
            tracing::error!("Embedded::stop called from a dispatch callback; refusing");
            return false;
        }
        if self.stopped.swap(true, Ordering::AcqRel) {
            return true;
        }
        let serving = self
            .serving
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(serving) = serving {
            let _ = serving.stop.send(());
            let wait = self.server.config().shutdown_timeout + Duration::from_secs(5);
            match serving.done.recv_timeout(wait) {
                Ok(Err(error)) => tracing::warn!(%error, "server ended with an error"),
                Ok(Ok(())) => {}
                Err(_) => tracing::warn!("server did not finish shutting down in time"),
            }
        } else if let Some(runtime) = self.runtime.as_ref() {
            // Never started: only local clients can be connected. Close them as the
            // shutdown of a started server does, while the pool still runs their
            // disconnect callbacks.
            let _entered = runtime.enter();
            for session in self.server.engine().0.start_shutdown() {
                session.close(DisconnectReason::ServerShuttingDown);
            }
        }
        if let Some((_, stop)) = self
            .metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = stop.send(());
        }
        self.pool.stop();
        self.server.adapter().close();
        true
    }

    /// Whether [`stop`](Self::stop) has run: a stopped server cannot be started again.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Stops (see [`stop`](Self::stop)) and frees the server: its runtime and every
    /// thread it started have ended when this returns. On a dispatch thread (a callback
    /// letting go of its own server) that would wait on this very thread, so there the
    /// work moves to a new thread (`ferrosocket-shutdown`) and this returns at once.
    /// Dropping an `Embedded` does the same except on a dispatch thread, where it leaks
    /// the threads rather than deadlock.
    pub fn shutdown(self) {
        if !on_dispatch_thread() {
            return drop(self);
        }
        let spawned = std::thread::Builder::new()
            .name("ferrosocket-shutdown".into())
            .spawn(move || drop(self));
        // A refused spawn drops the closure, and `self` in it, here: the leak path of
        // `Drop`, which says so in the log.
        if let Err(error) = spawned {
            tracing::error!(%error, "could not start a thread to shut the server down");
        }
    }

    /// Serves the files under directory `dir` to every HTTP request outside the
    /// Socket.IO path (see [`serve_dir`](crate::serve_dir): `/` serves `index.html`, paths
    /// with `..` or hidden components get 404). [`EmbedError::NotADirectory`] when `dir`
    /// is not one; checked once, now.
    pub fn serve_dir(&self, dir: impl AsRef<Path>) -> Result<(), EmbedError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(EmbedError::NotADirectory(dir.to_path_buf()));
        }
        self.server.set_fallback(crate::serve_dir(dir));
        Ok(())
    }

    /// The namespace `name`, spelled with or without its leading `/`
    /// ([`normalize_namespace`]). [`EmbedError::UnknownNamespace`] when no handler or
    /// [`Server::of`] created it.
    pub fn namespace(&self, name: &str) -> Result<Namespace, EmbedError> {
        self.server
            .namespace(name)
            .ok_or_else(|| EmbedError::UnknownNamespace(normalize_namespace(name).into_owned()))
    }

    /// The client `sid` (as text) of namespace `namespace` (with or without its `/`).
    /// [`EmbedError::UnknownNamespace`], or [`EmbedError::UnknownSocket`] when the id is
    /// malformed or no such client is connected there.
    pub fn socket(&self, namespace: &str, sid: &str) -> Result<Socket, EmbedError> {
        let ns = self.namespace(namespace)?;
        Sid::parse(sid)
            .and_then(|id| ns.socket(id))
            .ok_or_else(|| EmbedError::UnknownSocket {
                namespace: ns.name().to_owned(),
                sid: sid.to_owned(),
            })
    }

    /// Emits `event` to `socket` asking for an acknowledgement, and returns at once: any
    /// thread may call it. `on_reply` runs once, on a dispatch thread in the order of
    /// that client's callbacks (after those already queued, never two at once), with the
    /// client's reply or why there is none: [`AckFailure::Timeout`] after `timeout`,
    /// [`AckFailure::Disconnected`], or [`AckFailure::Cancelled`] when the server was
    /// stopping as the wait ended. When it cannot be queued any more (the dispatch pool
    /// has stopped, or the runtime shut down first), `on_reply` is dropped without
    /// running, on the thread that found out (an I/O thread, or the one shutting down):
    /// a binding that must answer every call does it in its closure's `Drop`.
    /// [`EmbedError::RuntimeGone`] only while the server is being dropped.
    pub fn emit_with_ack<F>(
        &self,
        socket: &Socket,
        event: &str,
        args: &Payload,
        timeout: Duration,
        on_reply: F,
    ) -> Result<(), EmbedError>
    where
        F: FnOnce(Result<Payload, AckFailure>) + Send + 'static,
    {
        let Some(runtime) = self.runtime.as_ref() else {
            return Err(EmbedError::RuntimeGone);
        };
        let answer = {
            // The timeout's timer needs the runtime's context on a foreign thread.
            let _entered = runtime.enter();
            socket.emit_with_ack(event, args, timeout)
        };
        let lane = socket.engine_id();
        let pool = Arc::clone(&self.pool);
        let stopped = Arc::clone(&self.stopped);
        runtime.spawn(async move {
            let answer = answer.await.map_err(|error| {
                if stopped.load(Ordering::Acquire) {
                    // The shutdown disconnected the client or outlasted the timeout.
                    return AckFailure::Cancelled;
                }
                match error {
                    AckError::Timeout => AckFailure::Timeout,
                    AckError::Disconnected => AckFailure::Disconnected,
                }
            });
            if let Err(error) = pool.submit(lane, Box::new(move || on_reply(answer))) {
                tracing::debug!(%error, "acknowledgement reply dropped");
            }
        });
        Ok(())
    }

    /// Emits `event` to the sockets `target` selects, on every server of the fleet, each
    /// asked for an acknowledgement; `on_reply` runs on a dispatch thread for each
    /// answer as it arrives (not for targets that do not answer within `timeout`).
    /// For a socket of another server, say, where [`emit_with_ack`](Self::emit_with_ack)
    /// needs a local one.
    pub fn broadcast_with_ack<F>(
        &self,
        target: &crate::BroadcastOperator,
        event: &str,
        args: &Payload,
        timeout: Duration,
        on_reply: F,
    ) -> Result<(), EmbedError>
    where
        F: Fn(Payload) + Send + Sync + 'static,
    {
        let Some(runtime) = self.runtime.as_ref() else {
            return Err(EmbedError::RuntimeGone);
        };
        let mut replies = {
            let _entered = runtime.enter();
            target.emit_with_ack_stream(event, args, timeout)
        };
        let pool = Arc::clone(&self.pool);
        let on_reply = Arc::new(on_reply);
        runtime.spawn(async move {
            use futures_util::StreamExt as _;
            while let Some(reply) = replies.next().await {
                let Ok(answer) = reply.result else { continue };
                let on_reply = Arc::clone(&on_reply);
                // Each answer on a lane of its own: they come from different clients.
                if let Err(error) = pool.submit(Sid::new(), Box::new(move || on_reply(answer))) {
                    tracing::debug!(%error, "acknowledgement reply dropped");
                }
            }
        });
        Ok(())
    }

    /// A Socket.IO client in this process, with no network, whose connection was opened
    /// by `handshake` (the target, headers and remote address its handlers see): what
    /// bindings' test clients use (`ferrosocket.flask`'s `SocketIOTestClient`). It goes
    /// through the server's real Socket.IO layer and dispatch pool; see [`LocalClient`].
    /// Works whether or not the server was started (the runtime exists from
    /// [`new`](Self::new)). [`EmbedError::Stopped`] after [`stop`](Self::stop).
    pub fn local_client(&self, handshake: crate::Handshake) -> Result<LocalClient, EmbedError> {
        if self.is_stopped() {
            return Err(EmbedError::Stopped);
        }
        let Some(runtime) = self.runtime.as_ref() else {
            return Err(EmbedError::RuntimeGone);
        };
        let _entered = runtime.enter();
        let session = self
            .server
            .engine()
            .open_local(handshake)
            .ok_or(EmbedError::Stopped)?;
        Ok(LocalClient::new(
            session,
            Arc::clone(&self.pool),
            runtime.handle().clone(),
        ))
    }

    /// The dispatch pool's threads and queues now: how many threads run, how many are
    /// busy, how many clients wait for one, and how often every thread was busy at the
    /// cap.
    pub fn dispatch_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// Runs `job` on a dispatch thread, in order with the callbacks of the client whose
    /// connection is `lane` (a socket's [`engine_id`](Socket::engine_id)): how a binding
    /// delivers an acknowledgement's reply in the same order as that client's events.
    pub fn submit(&self, lane: Sid, job: Job) -> Result<(), SubmitError> {
        self.pool.submit(lane, job)
    }

    /// The dispatch pool itself, for a binding that queues blocking work from outside a
    /// callback: an HTTP fallback ([`Server::set_fallback`]) that runs each request on a
    /// dispatch thread (the Python binding's WSGI bridge), on a lane of its own. Holding
    /// it keeps no thread alive: after [`stop`](Self::stop), `submit` answers
    /// [`SubmitError::Stopped`].
    pub fn dispatch_pool(&self) -> Arc<DispatchPool> {
        Arc::clone(&self.pool)
    }

    /// Handles `event` in namespace `nsp` with a blocking callback on a dispatch thread.
    ///
    /// Here and in [`on_any`](Self::on_any), [`on_connect`](Self::on_connect) and
    /// [`on_disconnect`](Self::on_disconnect), `nsp` `"*"` is the catch-all namespace
    /// (see [`Server::of`]): its callbacks serve every namespace for what that one has no
    /// callback of its own, and [`Socket::namespace`] says which one the client is in.
    pub fn on<F>(&self, nsp: &str, event: &str, callback: F)
    where
        F: Fn(Socket, Event) + Send + Sync + 'static,
    {
        let dispatch = self.event_dispatcher(callback);
        self.server.of(nsp).on(event, move |socket, event| {
            dispatch(socket, event);
            std::future::ready(())
        });
    }

    /// Handles every event of `nsp` that has no callback of its own.
    pub fn on_any<F>(&self, nsp: &str, callback: F)
    where
        F: Fn(Socket, Event) + Send + Sync + 'static,
    {
        let dispatch = self.event_dispatcher(callback);
        self.server.of(nsp).on_any(move |socket, event| {
            dispatch(socket, event);
            std::future::ready(())
        });
    }

    fn event_dispatcher<F>(&self, callback: F) -> impl Fn(Socket, Event) + Send + Sync + 'static
    where
        F: Fn(Socket, Event) + Send + Sync + 'static,
    {
        let pool = Arc::clone(&self.pool);
        let callback = Arc::new(callback);
        move |socket: Socket, event: Event| {
            let callback = Arc::clone(&callback);
            let lane = socket.engine_id();
            let target = socket.clone();
            if let Err(error) = pool.submit(lane, Box::new(move || callback(target, event))) {
                refuse_dispatch(&socket, error);
            }
        }
    }

    /// Decides connects to `nsp` with a blocking callback. What the callback emits to the
    /// socket reaches the client after the CONNECT acknowledgement.
    pub fn on_connect<F>(&self, nsp: &str, callback: F)
    where
        F: Fn(Socket, Auth) -> Result<(), ConnectRefused> + Send + Sync + 'static,
    {
        let pool = Arc::clone(&self.pool);
        let callback = Arc::new(callback);
        self.server.of(nsp).on_connect(move |socket, auth| {
            let (answer, answered) = oneshot::channel();
            let callback = Arc::clone(&callback);
            let target = socket.clone();
            let job: Job = Box::new(move || {
                let _ = answer.send(callback(target, auth));
            });
            let submitted = pool.submit(socket.engine_id(), job);
            async move {
                submitted.map_err(|_| ConnectRefused::new("server busy"))?;
                // A callback that panicked drops `answer`: refuse rather than hang.
                answered
                    .await
                    .unwrap_or_else(|_| Err(ConnectRefused::new("connect handler failed")))
            }
        });
    }

    /// Runs a blocking callback when a socket of `nsp` disconnects, after every callback
    /// of that client still queued.
    pub fn on_disconnect<F>(&self, nsp: &str, callback: F)
    where
        F: Fn(Socket, DisconnectReason) + Send + Sync + 'static,
    {
        let pool = Arc::clone(&self.pool);
        let callback = Arc::new(callback);
        self.server.of(nsp).on_disconnect(move |socket, reason| {
            let callback = Arc::clone(&callback);
            let lane = socket.engine_id();
            if let Err(error) = pool.submit(lane, Box::new(move || callback(socket, reason))) {
                tracing::warn!(%error, "disconnect callback not run");
            }
            std::future::ready(())
        });
    }
}

fn refuse_dispatch(socket: &Socket, error: SubmitError) {
    match error {
        SubmitError::LaneFull => {
            tracing::warn!(sid = %socket.id(), "callbacks fall behind, disconnecting client");
            socket.0.session.close(DisconnectReason::ClientTooSlow);
        }
        SubmitError::Stopped => tracing::debug!("event dropped: dispatch pool stopped"),
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if !self.stop() {
            // Dropped inside a callback: stopping here would wait on this very thread.
            // Leak the runtime rather than deadlock; its threads end with the process.
            tracing::error!("Embedded dropped on a dispatch thread; its threads are leaked");
            std::mem::forget(self.runtime.take());
            std::mem::forget(self.driver.take());
            return;
        }
        if let Some((stop, thread)) = self.driver.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
        if let Some(runtime) = self.runtime.take() {
            match Arc::try_unwrap(runtime) {
                Ok(runtime) => runtime.shutdown_timeout(Duration::from_secs(2)),
                // Only the driver thread shared it, and it has been joined.
                Err(shared) => drop(shared),
            }
        }
    }
}
