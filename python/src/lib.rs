//! `ferrosocket._native`: the private native module under the `ferrosocket` Python package.
//!
//! One class, `Server`, over [`ferrosocket::embed::Embedded`] (with the WSGI bridge of
//! `wsgi.rs`, `Server.mount_wsgi`, serving a Flask app on its port), its in-process test
//! client (`LocalClient`, in `local`), its Admin UI instrumentation (`Instrumentation`,
//! in `admin`) and `check_payload`, plus the core's defaults
//! (`DEFAULTS`), its namespace spelling (`normalize_namespace`), the version and the log
//! bridge. It only converts Python values and crosses the ABI: what a binding needs
//! beyond that (host resolution, ack replies on a lane, shutdown, lookups) is the
//! embedding layer's. Python handlers run on its dispatch threads, never on a tokio
//! thread: a dispatch thread takes the GIL once for each run of ready callbacks and lets
//! go of it while it waits. Calls that wait (`start`, `call`, `stop`) release the GIL
//! while waiting. The decorator sugar, the sessions and the exceptions are pure Python
//! (`ferrosocket/server.py`, `ferrosocket/exceptions.py`).

mod admin;
mod convert;
mod handlers;
mod local;
mod log;
mod redis;
mod wsgi;

use std::sync::Arc;
use std::time::Duration;

use ferrosocket::embed::{AckFailure, EmbedError, EmbedOptions, Embedded, Scope, ThreadScope};
use ferrosocket::{
    normalize_namespace, AcceptNamespaces, AllowedHosts, AllowedOrigins, Config, Namespace,
    SidCookie, Socket,
};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use pyo3::{PyTraverseError, PyVisit};

use handlers::{Key, Kind, Registry};

// The exceptions of `ferrosocket/exceptions.py` (python-socketio's names), imported when
// first raised.
pyo3::import_exception!(ferrosocket.exceptions, TimeoutError);
pyo3::import_exception!(ferrosocket.exceptions, ConnectionError);

/// The Python exception for an embedding error, as a Python server would raise it:
/// - the address cannot be bound or listened on: `OSError(errno, ...)` with the system's
///   errno (`EADDRINUSE`; `EACCES` becomes `PermissionError`, as `socket.bind` does);
/// - the host does not resolve: `socket.gaierror` (`OSError`), as `socket.create_server`
///   raises; its errno is `EAI_NONAME`, since Rust's resolver does not tell which
///   `getaddrinfo` error it was (a system error, `EAI_SYSTEM`, is its `OSError`);
/// - `serve_dir` given no directory: `ValueError`;
/// - a stopped (or dropped) server: `RuntimeError`, as `threading.Thread.start` twice.
pub(crate) fn embed_error(error: EmbedError) -> PyErr {
    let message = error.to_string();
    match error {
        EmbedError::Listen { addr, source } => match source.raw_os_error() {
            Some(errno) => Python::attach(|py| {
                let reason = py
                    .import("os")
                    .and_then(|os| os.call_method1("strerror", (errno,)))
                    .and_then(|text| text.extract::<String>())
                    .unwrap_or_else(|_| source.to_string());
                let hint = if source.kind() == std::io::ErrorKind::AddrInUse {
                    " (another server listens there: pass another port, or 0 for a free one)"
                } else {
                    ""
                };
                PyOSError::new_err((errno, format!("could not listen on {addr}: {reason}{hint}")))
            }),
            None => PyOSError::new_err(message),
        },
        EmbedError::Resolve { source, .. } => match source.raw_os_error() {
            Some(errno) => PyOSError::new_err((errno, message)),
            None => Python::attach(|py| {
                let gaierror = || -> PyResult<PyErr> {
                    let socket = py.import("socket")?;
                    let errno = socket.getattr("EAI_NONAME")?;
                    let exception = socket
                        .getattr("gaierror")?
                        .call1((errno, message.as_str()))?;
                    Ok(PyErr::from_value(exception))
                };
                gaierror().unwrap_or_else(|_| PyOSError::new_err(message.clone()))
            }),
        },
        EmbedError::NotADirectory(_) => PyValueError::new_err(message),
        EmbedError::Stopped | EmbedError::RuntimeGone => PyRuntimeError::new_err(message),
        // Lookups the binding turns into "nothing to do" before they get here; and
        // whatever a later core version adds.
        _ => PyRuntimeError::new_err(message),
    }
}

/// How long an emit's `callback` waits for the client's acknowledgement. python-socketio
/// waits until the client disconnects; a bound keeps a silent client from pinning it.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(3600);

fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| PyValueError::new_err(format!("{name} must be a non-negative number")))
}

fn origins(value: Option<&Bound<'_, PyAny>>) -> PyResult<AllowedOrigins> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(AllowedOrigins::SameOrigin);
    };
    if let Ok(text) = value.cast::<PyString>() {
        let text = text.to_cow()?;
        return Ok(if text == "*" {
            AllowedOrigins::Any
        } else {
            AllowedOrigins::List(vec![text.into_owned()])
        });
    }
    let list: Vec<String> = value.extract().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(
            "cors_allowed_origins must be None, '*', a str or a list of str",
        )
    })?;
    Ok(AllowedOrigins::List(list))
}

/// Which transports `transports` names, as python-engineio reads it: `None` keeps both;
/// a str is a list of one; names other than `polling` and `websocket` are dropped, and
/// a list with neither is a `ValueError`.
fn transports_of(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<(bool, bool)>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let names = rooms(Some(value)).map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err("transports must be a str or a list of str")
    })?;
    let polling = names.iter().any(|n| n == "polling");
    let websocket = names.iter().any(|n| n == "websocket");
    if !polling && !websocket {
        return Err(PyValueError::new_err("No valid transports provided"));
    }
    Ok(Some((polling, websocket)))
}

/// The sid cookie of python-engineio's `cookie` option: `None` for none; a str names a
/// cookie with `path=/` and `SameSite=Lax`; a dict gives `name` (default `io`) and the
/// attributes in its order, a str value as `; Key=value`, `True` as `; Key`, `False`
/// leaves the attribute out, an int is written in decimal. A callable value (which
/// python-engineio calls on every handshake) is a `TypeError`: the handshake is answered
/// on an I/O thread, where Python never runs. A header HTTP would not carry (a control
/// character, a `;` in a value) is a `ValueError`.
fn cookie_of(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<SidCookie>> {
    use pyo3::exceptions::PyTypeError;
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let cookie = if let Ok(name) = value.cast::<PyString>() {
        SidCookie::named(name.to_cow()?)
    } else if let Ok(dict) = value.cast::<pyo3::types::PyDict>() {
        let name = match dict.get_item("name")? {
            Some(name) => name
                .extract::<String>()
                .map_err(|_| PyTypeError::new_err("cookie['name'] must be a str"))?,
            None => "io".to_owned(),
        };
        let mut cookie = SidCookie::new(name);
        for (key, item) in dict.iter() {
            let key: String = key
                .extract()
                .map_err(|_| PyTypeError::new_err("cookie attribute names must be str"))?;
            if key == "name" {
                continue;
            }
            if let Ok(flag) = item.cast::<pyo3::types::PyBool>() {
                if flag.is_true() {
                    cookie = cookie.flag(key);
                }
            } else if let Ok(text) = item.cast::<PyString>() {
                cookie = cookie.attribute(key, text.to_cow()?);
            } else if let Ok(number) = item.extract::<i64>() {
                cookie = cookie.attribute(key, number.to_string());
            } else if item.is_callable() {
                return Err(PyTypeError::new_err(format!(
                    "cookie[{key:?}] is a callable: ferrosocket answers the handshake on an \
                     I/O thread, where no Python runs; pass its value (a str or a bool)"
                )));
            } else {
                return Err(PyTypeError::new_err(format!(
                    "cookie[{key:?}] must be a str, a bool or an int"
                )));
            }
        }
        cookie
    } else {
        return Err(PyTypeError::new_err("cookie must be None, a str or a dict"));
    };
    if !cookie.is_valid() {
        return Err(PyValueError::new_err(format!(
            "cookie {:?} is not a valid Set-Cookie header",
            cookie.header("<sid>")
        )));
    }
    Ok(Some(cookie))
}

/// python-socketio's `namespaces` option: `None`, only the namespaces that have handlers
/// (and `/`); `'*'` (or a list holding it), any; a str or a list of str, those too.
fn namespaces_of(value: Option<&Bound<'_, PyAny>>) -> PyResult<AcceptNamespaces> {
    if value.is_none_or(|v| v.is_none()) {
        return Ok(AcceptNamespaces::Created);
    }
    let names = rooms(value).map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err("namespaces must be '*', a str or a list of str")
    })?;
    if names.iter().any(|n| n == "*") {
        return Ok(AcceptNamespaces::Any);
    }
    Ok(AcceptNamespaces::Listed(names))
}

/// Room names from `None`, a str or a list/tuple of str.
fn rooms(value: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match value.filter(|v| !v.is_none()) {
        None => Ok(Vec::new()),
        Some(value) => {
            if let Ok(text) = value.cast::<PyString>() {
                return Ok(vec![text.to_cow()?.into_owned()]);
            }
            value.extract().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err("rooms must be a str or a list of str")
            })
        }
    }
}

/// The native server. Not meant to be used directly: see `ferrosocket.Server`.
#[pyclass(module = "ferrosocket._native", name = "Server", frozen)]
pub struct NativeServer {
    /// `None` only while dropping, which shuts it down (see `Drop`).
    embedded: Option<Embedded>,
    /// The Python callables; shared with the core handlers, visible to the GC.
    registry: Arc<Registry>,
    /// The mounted WSGI app, visible to the GC, and the flag that stops its requests.
    wsgi: wsgi::Bridge,
    /// The Redis adapter, when the server is in a fleet (for its counters).
    redis: Arc<std::sync::OnceLock<ferrosocket::adapter::redis::RedisAdapter>>,
    /// The Admin UI's callable `auth`, if one is instrumented, visible to the GC.
    admin_auth: Arc<admin::AuthSlot>,
}

impl NativeServer {
    fn embedded(&self) -> PyResult<&Embedded> {
        self.embedded
            .as_ref()
            .ok_or_else(|| embed_error(EmbedError::RuntimeGone))
    }

    /// The namespace, `None` (nothing to do) when it was never created.
    fn namespace(&self, namespace: Option<&str>) -> PyResult<Option<Namespace>> {
        Ok(self.embedded()?.namespace(namespace.unwrap_or("/")).ok())
    }

    /// The namespace when the server is in a fleet (operations on sockets it does not
    /// hold go to the other servers), else `None`.
    fn fleet_namespace(&self, namespace: Option<&str>) -> PyResult<Option<Namespace>> {
        if self.redis.get().is_none() {
            return Ok(None);
        }
        self.namespace(namespace)
    }

    /// The client, `None` (nothing to do) when it is not connected there.
    fn socket(&self, sid: &str, namespace: Option<&str>) -> PyResult<Option<Socket>> {
        Ok(self.embedded()?.socket(namespace.unwrap_or("/"), sid).ok())
    }

    /// Registers the core handler for `key` the first time; later calls only replace the
    /// Python callable (see [`Registry`]).
    fn register(
        &self,
        kind: Kind,
        namespace: &str,
        event: &str,
        handler: Py<PyAny>,
    ) -> PyResult<()> {
        let key: Key = (
            kind,
            normalize_namespace(namespace).into_owned(),
            event.to_owned(),
        );
        if !self.registry.insert(key.clone(), handler) {
            return Ok(());
        }
        let embedded = self.embedded()?;
        let registry = Arc::clone(&self.registry);
        let namespace = key.1.clone();
        match kind {
            Kind::Connect => embedded.on_connect(&namespace, move |socket, auth| {
                handlers::run_connect(&registry, &key, &socket, &auth)
            }),
            Kind::Disconnect => embedded.on_disconnect(&namespace, move |socket, reason| {
                handlers::run_disconnect(&registry, &key, &socket, reason)
            }),
            Kind::Event => embedded.on(&namespace, event, move |socket, event| {
                handlers::run_event(&registry, &key, &socket, event)
            }),
            Kind::CatchAll => embedded.on_any(&namespace, move |socket, event| {
                handlers::run_event(&registry, &key, &socket, event)
            }),
        }
        Ok(())
    }
}

/// The core's defaults for the options `ferrosocket.Server` takes, read from
/// [`Config::default`] and [`EmbedOptions::default`]: the one place they are written.
#[pyclass(module = "ferrosocket._native", name = "Defaults", frozen)]
#[derive(Debug)]
pub struct Defaults {
    /// Seconds between pings.
    #[pyo3(get)]
    ping_interval: f64,
    /// Seconds to wait for a pong.
    #[pyo3(get)]
    ping_timeout: f64,
    /// Largest message or polling body, in bytes.
    #[pyo3(get)]
    max_http_buffer_size: usize,
    /// Seconds a new connection has to connect to a namespace.
    #[pyo3(get)]
    connect_timeout: f64,
    /// The Socket.IO HTTP path.
    #[pyo3(get)]
    path: String,
    /// Most handler threads.
    #[pyo3(get)]
    handler_threads: usize,
    /// Handler threads kept when idle.
    #[pyo3(get)]
    min_handler_threads: usize,
    /// Seconds an extra idle handler thread waits before it exits.
    #[pyo3(get)]
    handler_idle_timeout: f64,
    /// Most packets queued for one client.
    #[pyo3(get)]
    max_queued_packets: usize,
    /// Most bytes queued for one client.
    #[pyo3(get)]
    max_queued_bytes: usize,
    /// Seconds the oldest packet queued for a client may wait.
    #[pyo3(get)]
    max_queue_age: f64,
    /// Seconds a request's headers may take.
    #[pyo3(get)]
    header_timeout: f64,
    /// Seconds a long-polling POST body may take.
    #[pyo3(get)]
    body_timeout: f64,
    /// Most namespaces made on a client's connect that exist at once.
    #[pyo3(get)]
    max_dynamic_namespaces: usize,
}

impl Defaults {
    fn of_core() -> Self {
        let config = Config::default();
        let options = EmbedOptions::default();
        Self {
            ping_interval: config.ping_interval().as_secs_f64(),
            ping_timeout: config.ping_timeout().as_secs_f64(),
            max_http_buffer_size: config.max_payload(),
            connect_timeout: config.connect_timeout().as_secs_f64(),
            path: config.path().to_owned(),
            handler_threads: options.dispatch_threads,
            min_handler_threads: options.min_dispatch_threads,
            handler_idle_timeout: options.dispatch_idle_timeout.as_secs_f64(),
            max_queued_packets: config.max_queued_packets(),
            max_queued_bytes: config.max_queued_bytes(),
            max_queue_age: config.max_queue_age().as_secs_f64(),
            header_timeout: config.header_timeout().as_secs_f64(),
            body_timeout: config.body_timeout().as_secs_f64(),
            max_dynamic_namespaces: config.max_dynamic_namespaces(),
        }
    }
}

#[pymethods]
impl Defaults {
    fn __repr__(&self) -> String {
        format!("{self:?}")
    }
}

impl std::fmt::Debug for NativeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeServer")
            .field("embedded", &self.embedded)
            .finish_non_exhaustive()
    }
}

#[pymethods]
impl NativeServer {
    /// Every option is optional: `None` keeps the core's default (see `DEFAULTS`).
    #[new]
    #[pyo3(signature = (
        cors_allowed_origins = None,
        ping_interval = None,
        ping_timeout = None,
        max_http_buffer_size = None,
        connect_timeout = None,
        path = None,
        handler_threads = None,
        max_connections = None,
        max_queued_packets = None,
        min_handler_threads = None,
        handler_idle_timeout = None,
        max_queued_bytes = None,
        max_queue_age = None,
        header_timeout = None,
        body_timeout = None,
        allowed_hosts = None,
        transports = None,
        allow_upgrades = None,
        cookie = None,
        always_connect = None,
        namespaces = None,
        max_dynamic_namespaces = None,
        redis = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        cors_allowed_origins: Option<&Bound<'_, PyAny>>,
        ping_interval: Option<f64>,
        ping_timeout: Option<f64>,
        max_http_buffer_size: Option<usize>,
        connect_timeout: Option<f64>,
        path: Option<&str>,
        handler_threads: Option<usize>,
        max_connections: Option<usize>,
        max_queued_packets: Option<usize>,
        min_handler_threads: Option<usize>,
        handler_idle_timeout: Option<f64>,
        max_queued_bytes: Option<usize>,
        max_queue_age: Option<f64>,
        header_timeout: Option<f64>,
        body_timeout: Option<f64>,
        allowed_hosts: Option<Vec<String>>,
        transports: Option<&Bound<'_, PyAny>>,
        allow_upgrades: Option<bool>,
        cookie: Option<&Bound<'_, PyAny>>,
        always_connect: Option<bool>,
        namespaces: Option<&Bound<'_, PyAny>>,
        max_dynamic_namespaces: Option<usize>,
        redis: Option<redis::RedisSpec>,
    ) -> PyResult<Self> {
        let mut builder = Config::builder().allowed_origins(origins(cors_allowed_origins)?);
        if let Some(value) = ping_interval {
            builder = builder.ping_interval(seconds("ping_interval", value)?);
        }
        if let Some(value) = ping_timeout {
            builder = builder.ping_timeout(seconds("ping_timeout", value)?);
        }
        if let Some(value) = connect_timeout {
            builder = builder.connect_timeout(seconds("connect_timeout", value)?);
        }
        if let Some(value) = max_http_buffer_size {
            builder = builder.max_payload(value);
        }
        if let Some(value) = path {
            builder = builder.path(value);
        }
        if let Some(value) = max_queued_packets {
            builder = builder.max_queued_packets(value);
        }
        if let Some(value) = max_queued_bytes {
            builder = builder.max_queued_bytes(value);
        }
        if let Some(value) = max_queue_age {
            builder = builder.max_queue_age(seconds("max_queue_age", value)?);
        }
        if let Some(value) = header_timeout {
            builder = builder.header_timeout(seconds("header_timeout", value)?);
        }
        if let Some(value) = body_timeout {
            builder = builder.body_timeout(seconds("body_timeout", value)?);
        }
        if let Some(max) = max_connections {
            builder = builder.max_connections(max);
        }
        if let Some(hosts) = allowed_hosts {
            builder = builder.allowed_hosts(AllowedHosts::new(hosts));
        }
        if let Some((polling, websocket)) = transports_of(transports)? {
            builder = builder.transports(polling, websocket);
        }
        if let Some(allow) = allow_upgrades {
            builder = builder.allow_upgrades(allow);
        }
        builder = builder.cookie(cookie_of(cookie)?);
        if let Some(always) = always_connect {
            builder = builder.always_connect(always);
        }
        builder = builder.namespaces(namespaces_of(namespaces)?);
        if let Some(max) = max_dynamic_namespaces {
            builder = builder.max_dynamic_namespaces(max);
        }
        let config = builder.build();
        // `handler_threads` keeps its meaning, how many clients' handlers run at once,
        // now as the pool's cap; the pool keeps `min_handler_threads` (at most that many)
        // and grows only while every thread is busy.
        let mut options = EmbedOptions {
            dispatch_threads_option: "Server(handler_threads=...)",
            ..EmbedOptions::default()
        };
        if let Some(threads) = handler_threads {
            if threads == 0 {
                return Err(PyValueError::new_err("handler_threads must be at least 1"));
            }
            options.dispatch_threads = threads;
        }
        if let Some(threads) = min_handler_threads {
            if threads == 0 {
                return Err(PyValueError::new_err(
                    "min_handler_threads must be at least 1",
                ));
            }
            options.min_dispatch_threads = threads;
        }
        if let Some(value) = handler_idle_timeout {
            options.dispatch_idle_timeout = seconds("handler_idle_timeout", value)?;
        }
        let redis_slot = Arc::new(std::sync::OnceLock::new());
        if let Some(spec) = &redis {
            options.adapter = Some(redis::maker(
                redis::options_of(spec)?,
                Arc::clone(&redis_slot),
            ));
        }
        // The GIL is taken once per run of ready callbacks, and released between runs,
        // while the dispatch thread waits for work.
        let scope: Scope = Arc::new(|run: &mut dyn FnMut()| Python::attach(|_py| run()));
        // Each dispatch thread gets its Python thread state once, for its whole life, and
        // waits without the GIL: taking the GIL per run then allocates nothing (without
        // this, every run created and destroyed a thread state).
        let thread_scope: ThreadScope =
            Arc::new(|run: &mut (dyn FnMut() + Send)| Python::attach(|py| py.detach(run)));
        let embedded =
            Embedded::with_thread_scope(config, options, Some(scope), Some(thread_scope)).map_err(
                |e| match e.kind() {
                    std::io::ErrorKind::InvalidInput => PyValueError::new_err(e.to_string()),
                    _ => PyRuntimeError::new_err(format!("could not start the runtime: {e}")),
                },
            )?;
        Ok(Self {
            embedded: Some(embedded),
            registry: Arc::new(Registry::default()),
            wsgi: wsgi::Bridge::default(),
            redis: redis_slot,
            admin_auth: Arc::new(admin::AuthSlot::default()),
        })
    }

    /// Decides connects to `namespace`: `handler(sid, environ, auth)`; `False` or an
    /// exception refuses. Registering again replaces the handler.
    fn on_connect(&self, namespace: &str, handler: Py<PyAny>) -> PyResult<()> {
        self.register(Kind::Connect, namespace, "", handler)
    }

    /// Runs `handler(sid, reason)` after a client left `namespace`.
    fn on_disconnect(&self, namespace: &str, handler: Py<PyAny>) -> PyResult<()> {
        self.register(Kind::Disconnect, namespace, "", handler)
    }

    /// Runs `handler(sid, *args)` for `event` in `namespace` (the name taken as it is,
    /// `"*"` included); its return value answers the client's acknowledgement.
    fn on_event(&self, namespace: &str, event: &str, handler: Py<PyAny>) -> PyResult<()> {
        self.register(Kind::Event, namespace, event, handler)
    }

    /// Runs `handler(event, sid, *args)` for every event of `namespace` that has no
    /// handler of its own.
    fn on_any(&self, namespace: &str, handler: Py<PyAny>) -> PyResult<()> {
        self.register(Kind::CatchAll, namespace, "", handler)
    }

    /// Emits `event` to `to` (or `room`): a sid, a room, or a list of them; everyone in
    /// the namespace when both are None. `skip_sid` excludes sids or rooms. With
    /// `callback`, `to` must be one sid: `callback(*args)` runs with the client's answer.
    #[pyo3(signature = (event, data = None, to = None, room = None, skip_sid = None, namespace = None, callback = None))]
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        event: &str,
        data: Option<&Bound<'_, PyAny>>,
        to: Option<&Bound<'_, PyAny>>,
        room: Option<&Bound<'_, PyAny>>,
        skip_sid: Option<&Bound<'_, PyAny>>,
        namespace: Option<&str>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let payload = match data {
            Some(data) => convert::data_to_payload(data)?,
            None => ferrosocket::Payload::empty(),
        };
        let targets = rooms(to.or(room))?;
        let skip = rooms(skip_sid)?;
        let embedded = self.embedded()?;
        let _entered = embedded.enter();
        if let Some(callback) = callback {
            let [sid] = targets.as_slice() else {
                return Err(PyValueError::new_err(
                    "a callback needs `to` to be a single sid",
                ));
            };
            let Some(socket) = self.socket(sid, namespace)? else {
                // Not here: on another server of the fleet, if any. The first answer
                // runs the callback (python-socketio's callbacks are one-shot).
                let Some(ns) = self.namespace(namespace)? else {
                    return Ok(());
                };
                if self.redis.get().is_none() {
                    return Ok(());
                }
                let callback = std::sync::Mutex::new(Some(callback));
                return embedded
                    .broadcast_with_ack(
                        &ns.to(sid.as_str()),
                        event,
                        &payload,
                        CALLBACK_TIMEOUT,
                        move |reply| {
                            let taken = callback.lock().unwrap_or_else(|p| p.into_inner()).take();
                            if let Some(callback) = taken {
                                handlers::run_callback(callback, reply);
                            }
                        },
                    )
                    .map_err(embed_error);
            };
            // No answer (timed out, disconnected, stopped): the callback is not called,
            // only dropped (on its dispatch thread, with the GIL; or wherever the reply
            // could not be queued, where PyO3 defers the decref).
            let on_reply = move |reply: Result<ferrosocket::Payload, AckFailure>| {
                if let Ok(reply) = reply {
                    handlers::run_callback(callback, reply);
                }
            };
            return embedded
                .emit_with_ack(&socket, event, &payload, CALLBACK_TIMEOUT, on_reply)
                .map_err(embed_error);
        }
        if let Some(ns) = self.namespace(namespace)? {
            ns.to(targets).except(skip).emit(event, &payload);
        }
        Ok(())
    }

    /// Emits `event` to the client `to` and waits up to `timeout` seconds for its answer,
    /// with the GIL released. Returns None, the one value, or a tuple of the values.
    #[pyo3(signature = (event, data = None, to = None, namespace = None, timeout = 60.0))]
    fn call(
        &self,
        py: Python<'_>,
        event: &str,
        data: Option<&Bound<'_, PyAny>>,
        to: Option<&str>,
        namespace: Option<&str>,
        timeout: f64,
    ) -> PyResult<Py<PyAny>> {
        let Some(to) = to else {
            return Err(PyValueError::new_err(
                "call needs `to`: the sid of one client",
            ));
        };
        let payload = match data {
            Some(data) => convert::data_to_payload(data)?,
            None => ferrosocket::Payload::empty(),
        };
        let timeout = seconds("timeout", timeout)?;
        let Some(socket) = self.socket(to, namespace)? else {
            return Err(ConnectionError::new_err(format!("no client {to}")));
        };
        let embedded = self.embedded()?;
        let reply = {
            let _entered = embedded.enter();
            socket.emit_with_ack(event, &payload, timeout)
        };
        let answer = py
            .detach(|| embedded.block_on(reply))
            .ok_or_else(|| PyRuntimeError::new_err("cannot wait here"))?;
        match answer {
            Ok(reply) => {
                let mut values = convert::payload_to_py(py, &reply)?;
                Ok(match values.len() {
                    0 => py.None(),
                    1 => values.remove(0).unbind(),
                    _ => pyo3::types::PyTuple::new(py, values)?.into_any().unbind(),
                })
            }
            Err(ferrosocket::AckError::Timeout) => {
                Err(TimeoutError::new_err("the client did not answer in time"))
            }
            Err(ferrosocket::AckError::Disconnected) => Err(ConnectionError::new_err(
                "the client disconnected before answering",
            )),
        }
    }

    #[pyo3(signature = (sid, room, namespace = None))]
    fn enter_room(&self, sid: &str, room: &str, namespace: Option<&str>) -> PyResult<()> {
        if let Some(socket) = self.socket(sid, namespace)? {
            socket
                .join(room)
                .map_err(|_| PyValueError::new_err("cannot enter a sid room"))?;
        } else if let Some(ns) = self.fleet_namespace(namespace)? {
            // A socket of another server: the fleet is told.
            let _entered = self.embedded()?.enter();
            ns.to(sid)
                .join(room)
                .map_err(|_| PyValueError::new_err("cannot enter a sid room"))?;
        }
        Ok(())
    }

    #[pyo3(signature = (sid, room, namespace = None))]
    fn leave_room(&self, sid: &str, room: &str, namespace: Option<&str>) -> PyResult<()> {
        if let Some(socket) = self.socket(sid, namespace)? {
            socket.leave(room);
        } else if let Some(ns) = self.fleet_namespace(namespace)? {
            let _entered = self.embedded()?.enter();
            ns.to(sid).leave(room);
        }
        Ok(())
    }

    #[pyo3(signature = (room, namespace = None))]
    fn close_room(&self, room: &str, namespace: Option<&str>) -> PyResult<()> {
        if let Some(ns) = self.namespace(namespace)? {
            ns.close_room(room)
                .map_err(|_| PyValueError::new_err("cannot close a sid room"))?;
        }
        Ok(())
    }

    /// The rooms the client is in (its own sid room included).
    #[pyo3(signature = (sid, namespace = None))]
    fn rooms<'py>(
        &self,
        py: Python<'py>,
        sid: &str,
        namespace: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let rooms: Vec<String> = self
            .socket(sid, namespace)?
            .map(|s| s.rooms().iter().map(|r| r.to_string()).collect())
            .unwrap_or_default();
        PyList::new(py, rooms)
    }

    /// The sids of the clients in `room` (a sid names its own room), or of every client
    /// of the namespace when `room` is None; sorted.
    #[pyo3(signature = (room = None, namespace = None))]
    fn participants<'py>(
        &self,
        py: Python<'py>,
        room: Option<&str>,
        namespace: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut sids: Vec<String> = self
            .namespace(namespace)?
            .map(|ns| {
                let sockets = match room {
                    Some(room) => ns.to(room).sockets(),
                    None => ns.sockets(),
                };
                sockets.iter().map(|s| s.id().to_string()).collect()
            })
            .unwrap_or_default();
        sids.sort_unstable();
        PyList::new(py, sids)
    }

    /// Disconnects `sid` from `namespace`; with `close_connection`, closes the client's
    /// whole connection (every namespace it joined).
    #[pyo3(signature = (sid, namespace = None, close_connection = false))]
    fn disconnect(
        &self,
        sid: &str,
        namespace: Option<&str>,
        close_connection: bool,
    ) -> PyResult<()> {
        if let Some(socket) = self.socket(sid, namespace)? {
            let _entered = self.embedded()?.enter();
            if close_connection {
                socket.close_connection();
            } else {
                socket.disconnect();
            }
        } else if let Some(ns) = self.fleet_namespace(namespace)? {
            let _entered = self.embedded()?.enter();
            ns.to(sid).disconnect();
        }
        Ok(())
    }

    /// The Redis adapter's counters, or None when the server is not in a fleet.
    fn redis_stats<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<Bound<'py, pyo3::types::PyDict>>> {
        self.redis
            .get()
            .map(|adapter| redis::stats_dict(py, adapter))
            .transpose()
    }

    /// How many servers share this one's rooms (1 when it is not in a fleet). Waits
    /// for Redis's answer with the GIL released.
    fn server_count(&self, py: Python<'_>) -> PyResult<usize> {
        let embedded = self.embedded()?;
        let count = {
            let _entered = embedded.enter();
            embedded.server().of("/").server_count()
        };
        py.detach(|| embedded.block_on(count))
            .ok_or_else(|| PyRuntimeError::new_err("cannot wait here"))
    }

    /// The server's counters now, as a dict (see ferrosocket.Server.metrics).
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        use ferrosocket::metrics::{Refusal, TransportKind, DISCONNECT_REASONS};
        let embedded = self.embedded()?;
        let snap = embedded.server().metrics();
        let dict = pyo3::types::PyDict::new(py);
        let per = |pairs: Vec<(&str, u64)>| -> PyResult<Bound<'py, pyo3::types::PyDict>> {
            let d = pyo3::types::PyDict::new(py);
            for (k, v) in pairs {
                d.set_item(k, v)?;
            }
            Ok(d)
        };
        dict.set_item(
            "connections",
            per(TransportKind::ALL
                .iter()
                .map(|t| (t.as_str(), snap.connections(*t)))
                .collect())?,
        )?;
        dict.set_item(
            "connections_accepted",
            per(TransportKind::ALL
                .iter()
                .map(|t| (t.as_str(), snap.accepted(*t)))
                .collect())?,
        )?;
        dict.set_item("upgrades", snap.upgrades)?;
        dict.set_item(
            "connections_refused",
            per(Refusal::ALL
                .iter()
                .map(|r| (r.as_str(), snap.refused(*r)))
                .collect())?,
        )?;
        dict.set_item(
            "disconnects",
            per(DISCONNECT_REASONS
                .iter()
                .map(|r| (r.as_str(), snap.disconnects(*r)))
                .collect())?,
        )?;
        dict.set_item("slow_client_evictions", snap.slow_client_evictions())?;
        dict.set_item("packets_received", snap.packets_received)?;
        dict.set_item("received_bytes", snap.bytes_received)?;
        dict.set_item("packets_sent", snap.packets_sent)?;
        dict.set_item("sent_bytes", snap.bytes_sent)?;
        dict.set_item("events_received", snap.events_received)?;
        dict.set_item("events_sent", snap.events_sent)?;
        dict.set_item("acks_pending", snap.acks_pending)?;
        dict.set_item("ack_timeouts", snap.ack_timeouts)?;
        let namespaces = pyo3::types::PyDict::new(py);
        for (name, count) in embedded.server().namespace_socket_counts() {
            namespaces.set_item(name, count)?;
        }
        dict.set_item("namespace_sockets", namespaces)?;
        let pool = embedded.dispatch_stats();
        let dispatch = pyo3::types::PyDict::new(py);
        dispatch.set_item("threads", pool.threads)?;
        dispatch.set_item("busy_threads", pool.busy)?;
        dispatch.set_item("waiting_lanes", pool.waiting)?;
        dispatch.set_item("saturations", pool.saturations)?;
        dispatch.set_item("busy_seconds", pool.busy_time.as_secs_f64())?;
        dispatch.set_item("gil_wait_seconds", pool.scope_wait.as_secs_f64())?;
        dict.set_item("dispatch", dispatch)?;
        Ok(dict)
    }

    /// The Prometheus text format of every counter (what /metrics answers).
    fn prometheus(&self) -> PyResult<String> {
        Ok(self.embedded()?.prometheus())
    }

    /// Serves GET /metrics on host:port, a listener of its own (port 0 picks a free
    /// port); returns the bound port. Errors as `start`.
    fn start_metrics(&self, py: Python<'_>, host: &str, port: u16) -> PyResult<u16> {
        let embedded = self.embedded()?;
        let bound = py
            .detach(|| embedded.start_metrics_on(host, port))
            .map_err(embed_error)?;
        Ok(bound.port())
    }

    /// Starts listening (port 0 picks a free port); returns the bound port.
    /// `socket.gaierror` when `host` does not resolve, `OSError` (with its errno) when it
    /// cannot listen, `RuntimeError` when the server was stopped (see [`embed_error`]).
    /// Resolving waits (DNS) with the GIL released.
    fn start(&self, py: Python<'_>, host: &str, port: u16) -> PyResult<u16> {
        let embedded = self.embedded()?;
        let bound = py
            .detach(|| embedded.start_on(host, port))
            .map_err(embed_error)?;
        Ok(bound.port())
    }

    /// Stops for good: disconnects every client, runs the callbacks still queued, joins
    /// the threads. Waits with the GIL released. Cannot be called from a handler.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let embedded = self.embedded()?;
        if ferrosocket::embed::on_dispatch_thread() {
            return Err(PyRuntimeError::new_err(
                "stop() cannot be called from a handler",
            ));
        }
        // WSGI requests waiting on a client give up, so the dispatch threads can end.
        self.wsgi.stop();
        if py.detach(|| embedded.stop()) {
            Ok(())
        } else {
            Err(PyRuntimeError::new_err(
                "stop() cannot be called from a handler",
            ))
        }
    }

    /// Serves the files under directory `path` to every HTTP request outside the
    /// Socket.IO path (`/` serves `index.html`; `..` and hidden components get 404).
    /// `ValueError` when it is not a directory.
    fn serve_dir(&self, path: &str) -> PyResult<()> {
        self.embedded()?.serve_dir(path).map_err(embed_error)
    }

    /// Serves the WSGI application `app` (PEP 3333; a Flask app) to every HTTP request
    /// outside the Socket.IO path, on the server's own port, from `start()` on; calling
    /// it again replaces the app. The app runs on the handler threads (each request on a
    /// lane of its own, so a streaming response holds one thread and the others go on).
    /// Options, keyword-only:
    /// - `access_log`: one line per request on the `ferrosocket.access` logger at INFO,
    ///   in the Common Log Format plus the duration in seconds. Off: no cost at all.
    /// - `max_body`: the largest request body in bytes (default 100 MiB). A
    ///   `Content-Length` over it is answered 413 without calling the app; a chunked
    ///   body that goes past it makes `wsgi.input` raise `OSError` in the app, and the
    ///   answer is 413 if the response has not started. Flask's `MAX_CONTENT_LENGTH` is
    ///   the app's own limit, enforced by the app below this one.
    /// - `url_scheme`: `wsgi.url_scheme`, `"http"` or `"https"` (behind a proxy that
    ///   terminates TLS).
    #[pyo3(signature = (app, *, access_log = false, max_body = wsgi::DEFAULT_MAX_BODY, url_scheme = "http"))]
    fn mount_wsgi(
        &self,
        py: Python<'_>,
        app: Py<PyAny>,
        access_log: bool,
        max_body: u64,
        url_scheme: &str,
    ) -> PyResult<()> {
        let options = wsgi::Options {
            access_log,
            max_body,
            url_scheme: wsgi::Scheme::parse(url_scheme)?,
        };
        wsgi::mount(py, self.embedded()?, &self.wsgi, app, options)
    }

    /// Serves the Socket.IO Admin UI's namespace (see `ferrosocket.Server.instrument`):
    /// `auth` None (anyone), a list of the JSON values one of which the client's auth
    /// must equal, or a callable given the client's auth (None when it sent none) whose
    /// truthy answer accepts, run on a handler thread. `RuntimeError` when the server is
    /// already instrumented (or stopped), `ValueError` for an interval under 0.1 s or
    /// the namespace `/`.
    #[pyo3(signature = (auth, development, read_only, server_id, namespace, server_stats_interval))]
    fn instrument(
        slf: &Bound<'_, Self>,
        auth: Option<&Bound<'_, PyAny>>,
        development: bool,
        read_only: bool,
        server_id: Option<String>,
        namespace: &str,
        server_stats_interval: f64,
    ) -> PyResult<admin::PyInstrumentation> {
        admin::instrument(
            slf,
            auth,
            development,
            read_only,
            server_id,
            namespace,
            server_stats_interval,
        )
    }

    /// The bound port once started, else None.
    #[getter]
    fn port(&self) -> PyResult<Option<u16>> {
        Ok(self.embedded()?.local_addr().map(|a| a.port()))
    }

    /// An in-process client of this server, with no network (see `_native.LocalClient`):
    /// its connection was opened by a request for `target` with `headers` (name, value
    /// pairs; None for none) from `remote_addr`, which its handlers see in `environ`. Works whether or
    /// not the server was started; `RuntimeError` once it is stopped. Used by
    /// `ferrosocket.flask`'s test client.
    #[pyo3(signature = (target = "/socket.io/?EIO=4&transport=polling", headers = None, remote_addr = "127.0.0.1:0"))]
    fn local_client(
        slf: &Bound<'_, Self>,
        target: &str,
        headers: Option<Vec<(String, String)>>,
        remote_addr: &str,
    ) -> PyResult<local::PyLocalClient> {
        let server = slf.get();
        local::PyLocalClient::open(
            slf.clone().unbind(),
            server.embedded()?,
            target,
            headers.unwrap_or_default(),
            remote_addr,
        )
    }

    /// Whether `stop` has run.
    #[getter]
    fn stopped(&self) -> PyResult<bool> {
        Ok(self.embedded()?.is_stopped())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.registry.traverse(&visit)?;
        self.admin_auth.traverse(&visit)?;
        self.wsgi.traverse(&visit)
    }

    fn __clear__(&self) {
        self.registry.clear();
        self.admin_auth.clear();
        self.wsgi.clear();
    }
}

impl Drop for NativeServer {
    fn drop(&mut self) {
        let Some(embedded) = self.embedded.take() else {
            return;
        };
        self.wsgi.stop();
        // Shutting down waits for the dispatch threads, which may be waiting for the GIL:
        // wait without it. Collected inside a handler, `shutdown` moves the wait to a
        // thread of its own and returns at once.
        Python::attach(|py| py.detach(|| embedded.shutdown()));
    }
}

/// The core's spelling of a namespace name: with its leading `/` (`"chat"` is `"/chat"`).
#[pyfunction]
fn namespace_name(name: &str) -> String {
    normalize_namespace(name).into_owned()
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeServer>()?;
    module.add_class::<Defaults>()?;
    module.add_class::<admin::PyInstrumentation>()?;
    module.add_class::<local::PyLocalClient>()?;
    module.add_class::<redis::PyRedisEmitter>()?;
    module.add_function(wrap_pyfunction!(local::check_payload, module)?)?;
    module.add("DEFAULTS", Defaults::of_core())?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_function(wrap_pyfunction!(namespace_name, module)?)?;
    module.add_function(wrap_pyfunction!(log::forward_logs, module)?)?;
    module.add_function(wrap_pyfunction!(log::close_logs, module)?)?;
    Ok(())
}
