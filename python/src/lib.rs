//! `ferrosocket._native`: the private native module under the `ferrosocket` Python package.
//!
//! One class, `Server`, over [`ferrosocket::embed::Embedded`]. Python handlers run on the
//! embedding layer's dispatch threads, never on a tokio thread: a dispatch thread takes
//! the GIL once for each run of ready callbacks and lets go of it while it waits. Calls
//! that wait (`call`, `stop`) release the GIL while waiting. The decorator sugar, the
//! sessions and the `ConnectionRefusedError` class are pure Python (`ferrosocket/__init__.py`).

mod convert;
mod handlers;
mod log;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Weak};
use std::time::Duration;

use ferrosocket::embed::{EmbedOptions, Embedded, Scope, ThreadScope};
use ferrosocket::{AckError, AllowedHosts, AllowedOrigins, Config, Namespace, Sid, Socket};
use pyo3::exceptions::{PyConnectionError, PyRuntimeError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use pyo3::{PyTraverseError, PyVisit};

use handlers::{Key, Kind, Registry};

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
    /// `None` only while dropping. Ack-waiting tasks hold a `Weak`, so the last strong
    /// reference (and with it the runtime's shutdown) is always dropped here, never on a
    /// runtime thread.
    embedded: Option<Arc<Embedded>>,
    /// The Python callables; shared with the core handlers, visible to the GC.
    registry: Arc<Registry>,
}

impl NativeServer {
    fn embedded(&self) -> PyResult<&Arc<Embedded>> {
        self.embedded
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("the server is gone"))
    }

    fn namespace(&self, namespace: Option<&str>) -> PyResult<Option<Namespace>> {
        Ok(self
            .embedded()?
            .server()
            .namespace(namespace.unwrap_or("/")))
    }

    fn socket(&self, sid: &str, namespace: Option<&str>) -> PyResult<Option<Socket>> {
        let Some(sid) = Sid::parse(sid) else {
            return Ok(None);
        };
        Ok(self.namespace(namespace)?.and_then(|ns| ns.socket(sid)))
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
    #[new]
    #[pyo3(signature = (
        cors_allowed_origins = None,
        ping_interval = 25.0,
        ping_timeout = 20.0,
        max_http_buffer_size = 1_000_000,
        connect_timeout = 45.0,
        path = "socket.io",
        handler_threads = 64,
        max_connections = None,
        max_queued_packets = 1024,
        min_handler_threads = 4,
        handler_idle_timeout = 30.0,
        max_queued_bytes = 4_194_304,
        max_queue_age = 20.0,
        header_timeout = 30.0,
        body_timeout = 20.0,
        allowed_hosts = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        cors_allowed_origins: Option<&Bound<'_, PyAny>>,
        ping_interval: f64,
        ping_timeout: f64,
        max_http_buffer_size: usize,
        connect_timeout: f64,
        path: &str,
        handler_threads: usize,
        max_connections: Option<usize>,
        max_queued_packets: usize,
        min_handler_threads: usize,
        handler_idle_timeout: f64,
        max_queued_bytes: usize,
        max_queue_age: f64,
        header_timeout: f64,
        body_timeout: f64,
        allowed_hosts: Option<Vec<String>>,
    ) -> PyResult<Self> {
        if handler_threads == 0 {
            return Err(PyValueError::new_err("handler_threads must be at least 1"));
        }
        if min_handler_threads == 0 {
            return Err(PyValueError::new_err(
                "min_handler_threads must be at least 1",
            ));
        }
        let handler_idle_timeout = seconds("handler_idle_timeout", handler_idle_timeout)?;
        let mut builder = Config::builder()
            .allowed_origins(origins(cors_allowed_origins)?)
            .ping_interval(seconds("ping_interval", ping_interval)?)
            .ping_timeout(seconds("ping_timeout", ping_timeout)?)
            .connect_timeout(seconds("connect_timeout", connect_timeout)?)
            .max_payload(max_http_buffer_size)
            .path(path)
            .max_queued_packets(max_queued_packets)
            .max_queued_bytes(max_queued_bytes)
            .max_queue_age(seconds("max_queue_age", max_queue_age)?)
            .header_timeout(seconds("header_timeout", header_timeout)?)
            .body_timeout(seconds("body_timeout", body_timeout)?);
        if let Some(max) = max_connections {
            builder = builder.max_connections(max);
        }
        if let Some(hosts) = allowed_hosts {
            builder = builder.allowed_hosts(AllowedHosts::new(hosts));
        }
        let config = builder.build();
        // `handler_threads` keeps its meaning, how many clients' handlers run at once,
        // now as the pool's cap; the pool keeps `min_handler_threads` (at most that many)
        // and grows only while every thread is busy.
        let options = EmbedOptions {
            dispatch_threads: handler_threads,
            min_dispatch_threads: min_handler_threads,
            dispatch_idle_timeout: handler_idle_timeout,
            dispatch_threads_option: "Server(handler_threads=...)",
            ..EmbedOptions::default()
        };
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
                |e| PyRuntimeError::new_err(format!("could not start the runtime: {e}")),
            )?;
        Ok(Self {
            embedded: Some(Arc::new(embedded)),
            registry: Arc::new(Registry::default()),
        })
    }

    /// Registers `handler` for `kind` ("connect", "disconnect" or "event") in `namespace`.
    /// The event `"*"` catches every event without a handler of its own.
    fn register(
        &self,
        kind: &str,
        namespace: &str,
        event: &str,
        handler: Py<PyAny>,
    ) -> PyResult<()> {
        let kind = match (kind, event) {
            ("connect", _) => Kind::Connect,
            ("disconnect", _) => Kind::Disconnect,
            ("event", "*") => Kind::CatchAll,
            ("event", _) => Kind::Event,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown handler kind {kind:?}"
                )))
            }
        };
        let event = match kind {
            Kind::Event => event.to_owned(),
            _ => String::new(),
        };
        let key: Key = (kind, namespace.to_owned(), event.clone());
        if !self.registry.insert(key.clone(), handler) {
            return Ok(());
        }
        let embedded = self.embedded()?;
        let registry = Arc::clone(&self.registry);
        match kind {
            Kind::Connect => embedded.on_connect(namespace, move |socket, auth| {
                handlers::run_connect(&registry, &key, &socket, &auth)
            }),
            Kind::Disconnect => embedded.on_disconnect(namespace, move |socket, reason| {
                handlers::run_disconnect(&registry, &key, &socket, reason)
            }),
            Kind::Event => embedded.on(namespace, &event, move |socket, event| {
                handlers::run_event(&registry, &key, &socket, event)
            }),
            Kind::CatchAll => embedded.on_any(namespace, move |socket, event| {
                handlers::run_event(&registry, &key, &socket, event)
            }),
        }
        Ok(())
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
                return Ok(());
            };
            let reply = socket.emit_with_ack(event, &payload, CALLBACK_TIMEOUT);
            let lane = socket.engine_id();
            let weak: Weak<Embedded> = Arc::downgrade(embedded);
            tokio::spawn(async move {
                let Ok(reply) = reply.await else {
                    // Timed out or disconnected: the callback is dropped (on a dispatch
                    // thread or wherever Python next runs; PyO3 defers the decref).
                    return;
                };
                if let Some(embedded) = weak.upgrade() {
                    let job = Box::new(move || handlers::run_callback(callback, reply));
                    let _ = embedded.submit(lane, job);
                }
            });
            return Ok(());
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
            return Err(PyConnectionError::new_err(format!("no client {to}")));
        };
        let embedded = Arc::clone(self.embedded()?);
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
            Err(AckError::Timeout) => {
                Err(PyTimeoutError::new_err("the client did not answer in time"))
            }
            Err(AckError::Disconnected) => Err(PyConnectionError::new_err(
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
        }
        Ok(())
    }

    #[pyo3(signature = (sid, room, namespace = None))]
    fn leave_room(&self, sid: &str, room: &str, namespace: Option<&str>) -> PyResult<()> {
        if let Some(socket) = self.socket(sid, namespace)? {
            socket.leave(room);
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
        }
        Ok(())
    }

    /// Starts listening (port 0 picks a free port); returns the bound port.
    fn start(&self, py: Python<'_>, host: &str, port: u16) -> PyResult<u16> {
        let addr: SocketAddr = (host, port)
            .to_socket_addrs()
            .map_err(|e| PyValueError::new_err(format!("bad address {host}:{port}: {e}")))?
            .next()
            .ok_or_else(|| PyValueError::new_err(format!("no address for {host}")))?;
        let embedded = Arc::clone(self.embedded()?);
        let bound = py
            .detach(|| embedded.start(addr))
            .map_err(|e| PyRuntimeError::new_err(format!("could not listen on {addr}: {e}")))?;
        Ok(bound.port())
    }

    /// Stops for good: disconnects every client, runs the callbacks still queued, joins
    /// the threads. Waits with the GIL released. Cannot be called from a handler.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let embedded = Arc::clone(self.embedded()?);
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
    fn serve_dir(&self, path: &str) -> PyResult<()> {
        if !std::path::Path::new(path).is_dir() {
            return Err(PyValueError::new_err(format!("{path} is not a directory")));
        }
        self.embedded()?
            .server()
            .set_fallback(ferrosocket::serve_dir(path));
        Ok(())
    }

    /// The bound port once started, else None.
    #[getter]
    fn port(&self) -> PyResult<Option<u16>> {
        Ok(self.embedded()?.local_addr().map(|a| a.port()))
    }

    /// Whether `stop` has run.
    #[getter]
    fn stopped(&self) -> PyResult<bool> {
        Ok(self.embedded()?.is_stopped())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.registry.traverse(&visit)
    }

    fn __clear__(&self) {
        self.registry.clear();
    }
}

impl Drop for NativeServer {
    fn drop(&mut self) {
        let Some(mut embedded) = self.embedded.take() else {
            return;
        };
        // Stopping waits for the dispatch threads, which may be waiting for the GIL: wait
        // without it. Ack tasks may hold a strong reference for an instant; wait for it so
        // the runtime is shut down on this thread, never on one of its own.
        let finish = move || {
            embedded.stop();
            loop {
                match Arc::try_unwrap(embedded) {
                    Ok(owned) => return drop(owned),
                    Err(shared) => {
                        embedded = shared;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
        };
        if ferrosocket::embed::on_dispatch_thread() {
            // Collected inside a handler: stopping here would wait on this very thread.
            std::thread::spawn(finish);
        } else {
            Python::attach(|py| py.detach(finish));
        }
    }
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeServer>()?;
    module.add_function(wrap_pyfunction!(log::forward_logs, module)?)?;
    module.add_function(wrap_pyfunction!(log::close_logs, module)?)?;
    Ok(())
}
