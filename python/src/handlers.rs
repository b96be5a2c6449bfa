//! The Python callables a server holds, and how a dispatch thread calls them.
//!
//! Core handlers are registered once per (kind, namespace, event) and look the callable
//! up here at call time, so the only references to Python objects live in [`Registry`],
//! where the garbage collector can see them (`__traverse__`/`__clear__`), and registering
//! a handler again just replaces the callable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

use ferrosocket::{Auth, ConnectRefused, DisconnectReason, Event, Socket};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::convert::{json_text_to_py, payload_to_py, return_to_payload, to_json_value};

/// What a handler is for; decides how it is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// `handler(sid, environ, auth)`; `False` or an exception refuses.
    Connect,
    /// `handler(sid, reason)`.
    Disconnect,
    /// `handler(sid, *args)`; the return value is the acknowledgement.
    Event,
    /// `handler(event, sid, *args)`: every event without a handler of its own.
    CatchAll,
    // Each of them registered under the catch-all namespace `*` takes the client's
    // namespace before `sid`: `handler(namespace, sid, ...)`, and
    // `handler(event, namespace, sid, *args)` for the catch-all event.
}

pub(crate) type Key = (Kind, String, String);

/// The catch-all namespace as the registry spells it: its handlers are called with the
/// client's namespace first, as python-socketio calls `namespace='*'` handlers.
const CATCH_ALL: &str = "/*";

/// The namespace argument a handler of `key` takes first: the socket's, for a handler
/// of the catch-all namespace; none otherwise.
fn namespace_head<'py>(py: Python<'py>, key: &Key, socket: &Socket) -> Vec<Bound<'py, PyAny>> {
    if key.1 == CATCH_ALL {
        vec![PyString::new(py, socket.namespace()).into_any()]
    } else {
        Vec::new()
    }
}

/// The callables, keyed by (kind, namespace, event).
#[derive(Default)]
pub(crate) struct Registry {
    /// Locked only briefly and never while waiting for the GIL, so a thread holding the
    /// GIL (the garbage collector included) never waits on a thread that waits for it.
    handlers: Mutex<HashMap<Key, Py<PyAny>>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Py<PyAny>>> {
        self.handlers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the callable for `key`; returns whether the key is new (then the caller
    /// registers the core handler).
    pub(crate) fn insert(&self, key: Key, handler: Py<PyAny>) -> bool {
        let previous = self.lock().insert(key, handler);
        let is_new = previous.is_none();
        // Dropped after the lock is released: a `__del__` may call back into us.
        drop(previous);
        is_new
    }

    pub(crate) fn get(&self, py: Python<'_>, key: &Key) -> Option<Py<PyAny>> {
        self.lock().get(key).map(|h| h.clone_ref(py))
    }

    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        // A lock held by another thread means it is inserting or looking up, with the
        // GIL; skipping one traversal only delays collection.
        if let Ok(handlers) = self.handlers.try_lock() {
            for handler in handlers.values() {
                visit.call(handler)?;
            }
        }
        Ok(())
    }

    pub(crate) fn clear(&self) {
        let handlers = std::mem::take(&mut *self.lock());
        drop(handlers);
    }
}

/// Logs `error` with its traceback to the `ferrosocket` logger; the server goes on.
pub(crate) fn log_exception(py: Python<'_>, error: &PyErr, what: &str) {
    let logged = (|| -> PyResult<()> {
        let logger = py
            .import("logging")?
            .call_method1("getLogger", ("ferrosocket",))?;
        let kwargs = PyDict::new(py);
        // The (type, value, traceback) triple: on Python < 3.12 the traceback is not
        // attached to the value PyO3 hands out.
        let exc_info = (error.get_type(py), error.value(py), error.traceback(py));
        kwargs.set_item("exc_info", exc_info)?;
        logger.call_method("error", ("%s", what), Some(&kwargs))?;
        Ok(())
    })();
    if logged.is_err() {
        error.print(py);
    }
}

fn call(
    py: Python<'_>,
    handler: &Py<PyAny>,
    head: Vec<Bound<'_, PyAny>>,
    args: Vec<Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let mut all = head;
    all.extend(args);
    let all = PyTuple::new(py, all)?;
    handler.call1(py, all)
}

/// Runs an event (or catch-all) handler and answers the client's acknowledgement with
/// its return value.
pub(crate) fn run_event(registry: &Registry, key: &Key, socket: &Socket, mut event: Event) {
    Python::attach(|py| {
        let Some(handler) = registry.get(py, key) else {
            return;
        };
        let args = match payload_to_py(py, &event.args) {
            Ok(args) => args,
            Err(error) => return log_exception(py, &error, "could not decode event arguments"),
        };
        let sid = PyString::new(py, socket.id().as_str()).into_any();
        let mut head = match key.0 {
            Kind::CatchAll => vec![PyString::new(py, &event.name).into_any()],
            _ => Vec::new(),
        };
        head.extend(namespace_head(py, key, socket));
        head.push(sid);
        let result = match call(py, &handler, head, args) {
            Ok(result) => result,
            Err(error) => {
                let what = format!("event handler for {:?} failed", event.name);
                return log_exception(py, &error, &what);
            }
        };
        if let Some(ack) = event.take_ack() {
            match return_to_payload(result.bind(py)) {
                Ok(payload) => {
                    // Sent without the GIL: the client may be gone or slow, nothing waits.
                    let _ = ack.send(&payload);
                }
                Err(error) => {
                    let what = format!("return value of the {:?} handler", event.name);
                    log_exception(py, &error, &what);
                }
            }
        }
    });
}

/// Runs a connect handler: `False` or an exception refuses (a `ConnectionRefusedError`
/// with its `error_args` message and data).
pub(crate) fn run_connect(
    registry: &Registry,
    key: &Key,
    socket: &Socket,
    auth: &Auth,
) -> Result<(), ConnectRefused> {
    Python::attach(|py| {
        let Some(handler) = registry.get(py, key) else {
            return Ok(());
        };
        let head = match connect_args(py, socket, auth) {
            Ok(args) => {
                let mut head = namespace_head(py, key, socket);
                head.extend(args);
                head
            }
            Err(error) => {
                log_exception(py, &error, "could not build the connect arguments");
                return Err(ConnectRefused::new("Connection rejected by server"));
            }
        };
        match call(py, &handler, head, Vec::new()) {
            Ok(result) => match result.bind(py).cast::<pyo3::types::PyBool>() {
                Ok(flag) if !flag.is_true() => {
                    Err(ConnectRefused::new("Connection rejected by server"))
                }
                _ => Ok(()),
            },
            Err(error) => Err(refusal(py, &error)),
        }
    })
}

fn connect_args<'py>(
    py: Python<'py>,
    socket: &Socket,
    auth: &Auth,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let sid = PyString::new(py, socket.id().as_str()).into_any();
    let environ = environ(py, socket)?.into_any();
    let auth = match auth.json() {
        Some(text) => json_text_to_py(py, text)?,
        None => py.None().into_bound(py),
    };
    Ok(vec![sid, environ, auth])
}

/// What a refused client is told: a `ConnectionRefusedError`'s `error_args`, or the
/// generic message (the exception is logged) for any other exception.
fn refusal(py: Python<'_>, error: &PyErr) -> ConnectRefused {
    let generic = || ConnectRefused::new("Connection rejected by server");
    let value = error.value(py);
    let Ok(args) = value.getattr("error_args") else {
        log_exception(py, error, "connect handler failed");
        return generic();
    };
    let Ok(args) = args.cast::<PyDict>() else {
        return generic();
    };
    let message = args
        .get_item("message")
        .ok()
        .flatten()
        .and_then(|m| m.str().ok().map(|s| s.to_string()))
        .unwrap_or_else(|| "Connection rejected by server".to_owned());
    let mut refused = ConnectRefused::new(message);
    if let Ok(Some(data)) = args.get_item("data") {
        match to_json_value(&data) {
            Ok(data) => refused = refused.with_data(&data),
            Err(error) => log_exception(py, &error, "ConnectionRefusedError data"),
        }
    }
    refused
}

/// A WSGI-style environ of the opening request.
fn environ<'py>(py: Python<'py>, socket: &Socket) -> PyResult<Bound<'py, PyDict>> {
    let handshake = socket.handshake();
    let environ = PyDict::new(py);
    environ.set_item("REQUEST_METHOD", "GET")?;
    environ.set_item("SCRIPT_NAME", "")?;
    environ.set_item("PATH_INFO", handshake.path())?;
    environ.set_item("QUERY_STRING", handshake.query())?;
    environ.set_item("SERVER_PROTOCOL", "HTTP/1.1")?;
    environ.set_item("wsgi.url_scheme", "http")?;
    let remote: SocketAddr = handshake.remote_addr();
    environ.set_item("REMOTE_ADDR", remote.ip().to_string())?;
    environ.set_item("REMOTE_PORT", remote.port().to_string())?;
    // As the WSGI bridge names its server (`crate::wsgi::split_host`): from `Host`.
    let (name, port) = handshake
        .header("host")
        .and_then(crate::wsgi::split_host)
        .map_or(("localhost", None), |(name, port)| (name, port));
    environ.set_item(
        "SERVER_NAME",
        if name.is_empty() { "localhost" } else { name },
    )?;
    environ.set_item("SERVER_PORT", port.unwrap_or("80"))?;
    // Which connection the handler serves (shared by its namespaces): how the Flask
    // layer's test client finds the handler runs of its own client.
    environ.set_item("ferrosocket.eio_sid", socket.engine_id().as_str())?;
    for (name, value) in handshake.headers() {
        let key = name.trim().to_ascii_uppercase().replace('-', "_");
        let key = match key.as_str() {
            "CONTENT_TYPE" | "CONTENT_LENGTH" => key,
            _ => format!("HTTP_{key}"),
        };
        let value = value.trim();
        // Repeated headers are joined with a comma, as WSGI servers do.
        let joined = match environ.get_item(&key)? {
            Some(previous) => format!("{},{value}", previous.str()?),
            None => value.to_owned(),
        };
        environ.set_item(key, joined)?;
    }
    Ok(environ)
}

/// A disconnect reason as the Python API names it: python-socketio's names
/// (`ferrosocket.Server.reason`) where it has one, the core's own otherwise.
pub(crate) fn python_reason(reason: DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::ClientNamespaceDisconnect => "client disconnect",
        DisconnectReason::ServerNamespaceDisconnect => "server disconnect",
        other => other.as_str(),
    }
}

/// Runs a disconnect handler with the reason as text ([`python_reason`]).
pub(crate) fn run_disconnect(
    registry: &Registry,
    key: &Key,
    socket: &Socket,
    reason: DisconnectReason,
) {
    Python::attach(|py| {
        let Some(handler) = registry.get(py, key) else {
            return;
        };
        let mut head = namespace_head(py, key, socket);
        head.push(PyString::new(py, socket.id().as_str()).into_any());
        head.push(PyString::new(py, python_reason(reason)).into_any());
        if let Err(error) = call(py, &handler, head, Vec::new()) {
            log_exception(py, &error, "disconnect handler failed");
        }
    });
}

/// Calls an emit's `callback(*args)` with a client's acknowledgement.
pub(crate) fn run_callback(callback: Py<PyAny>, reply: ferrosocket::Payload) {
    Python::attach(|py| {
        let result = payload_to_py(py, &reply).and_then(|args| {
            let args = PyTuple::new(py, args)?;
            callback.call1(py, args)
        });
        if let Err(error) = result {
            log_exception(py, &error, "emit callback failed");
        }
    });
}
