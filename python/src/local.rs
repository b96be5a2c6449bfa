//! `_native.LocalClient`: the core's in-process Socket.IO client
//! ([`ferrosocket::embed::LocalClient`]) for Python, and `_native.check_payload`.
//!
//! Used by `ferrosocket.flask`'s `SocketIOTestClient`: a test client that goes through
//! the server's real Socket.IO layer, namespaces, rooms, broadcasts and acks, with no
//! network port, and whose calls return once the handlers they caused have run.
//! Owns only the conversions (Python values to payloads and back) and the exceptions;
//! never waits with the GIL held (handlers need it on the dispatch threads).

use std::net::SocketAddr;

use ferrosocket::embed::{ConnectAnswer, LocalClient, LocalError, Received};
use ferrosocket::{Handshake, Payload};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::convert::{
    data_to_payload, json_text_to_py, payload_to_py, to_json_value, values_to_payload,
};
use crate::{embed_error, seconds, NativeServer, TimeoutError};

/// The exception for a local client call that did not do what it was asked:
/// `TimeoutError` (`ferrosocket.exceptions`) when the handlers did not finish in time,
/// `RuntimeError` otherwise (not connected to the namespace, closed, server stopped),
/// as Flask-SocketIO's test client raises `RuntimeError('not connected')`.
fn local_error(error: LocalError) -> PyErr {
    match error {
        LocalError::Timeout => TimeoutError::new_err(error.to_string()),
        LocalError::BadAuth => PyTypeError::new_err(error.to_string()),
        _ => PyRuntimeError::new_err(error.to_string()),
    }
}

/// An in-process Socket.IO client of a `_native.Server`: see
/// [`ferrosocket::embed::LocalClient`]. Made by `Server.local_client`.
#[pyclass(module = "ferrosocket._native", name = "LocalClient", frozen)]
pub struct PyLocalClient {
    client: LocalClient,
    /// Keeps the server (its runtime and dispatch pool) alive while the client is.
    server: Py<NativeServer>,
}

impl std::fmt::Debug for PyLocalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalClient")
            .field("eio_sid", &self.client.eio_sid())
            .finish()
    }
}

impl PyLocalClient {
    pub(crate) fn open(
        server: Py<NativeServer>,
        embedded: &ferrosocket::embed::Embedded,
        target: &str,
        headers: Vec<(String, String)>,
        remote_addr: &str,
    ) -> PyResult<Self> {
        let remote: SocketAddr = remote_addr.parse().map_err(|_| {
            PyValueError::new_err(format!(
                "remote_addr must be an address and port such as '127.0.0.1:0', not {remote_addr:?}"
            ))
        })?;
        if !target.starts_with('/') {
            return Err(PyValueError::new_err(format!(
                "target must be a path (and query) starting with '/', not {target:?}"
            )));
        }
        // Lower-case names, as the network handshake keeps them (hyper's spelling).
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        let handshake = Handshake::new(
            target,
            headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
            remote,
        );
        let client = embedded.local_client(handshake).map_err(embed_error)?;
        Ok(Self { client, server })
    }
}

/// The JSON text of an auth dict, checked here: the core refuses anything but an object.
fn auth_json(auth: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    match auth.filter(|a| !a.is_none()) {
        None => Ok(None),
        Some(auth) if auth.is_instance_of::<PyDict>() => {
            Ok(Some(to_json_value(auth)?.get().to_owned()))
        }
        Some(auth) => Err(PyTypeError::new_err(format!(
            "auth must be a dict or None, not {}",
            auth.get_type().name()?
        ))),
    }
}

/// The arguments of an emit or ack: a list or tuple, one argument per item.
fn args_payload(args: &Bound<'_, PyAny>) -> PyResult<Payload> {
    if let Ok(list) = args.cast::<PyList>() {
        return values_to_payload(list.iter());
    }
    if let Ok(tuple) = args.cast::<PyTuple>() {
        return values_to_payload(tuple.iter());
    }
    Err(PyTypeError::new_err(format!(
        "args must be a list or tuple of arguments, not {}",
        args.get_type().name()?
    )))
}

#[pymethods]
impl PyLocalClient {
    /// The Engine.IO session id (`environ["ferrosocket.eio_sid"]` in its handlers).
    #[getter]
    fn eio_sid(&self) -> String {
        self.client.eio_sid().to_string()
    }

    /// Whether the connection is closed (by `close`, the server, or its shutdown).
    #[getter]
    fn closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The socket id in `namespace` while connected there, else None.
    #[pyo3(signature = (namespace = "/"))]
    fn sid(&self, namespace: &str) -> Option<String> {
        self.client.sid(namespace)
    }

    /// Connects to `namespace` with `auth` (a dict or None) and waits up to `timeout`
    /// seconds for the connect handler and the server's answer: True when connected,
    /// False when refused (the refusal is in `received()` as `"connect_error"`).
    /// Connected there already: True, nothing sent.
    #[pyo3(signature = (namespace = "/", auth = None, timeout = 5.0))]
    fn connect(
        &self,
        py: Python<'_>,
        namespace: &str,
        auth: Option<&Bound<'_, PyAny>>,
        timeout: f64,
    ) -> PyResult<bool> {
        let auth = auth_json(auth)?;
        let timeout = seconds("timeout", timeout)?;
        let answer = py
            .detach(|| self.client.connect(namespace, auth.as_deref(), timeout))
            .map_err(local_error)?;
        Ok(matches!(answer, ConnectAnswer::Connected(_)))
    }

    /// Emits `event` with the arguments `args` (a sequence; `bytes` go as binary
    /// attachments) and returns once its handler has run (waiting up to `timeout`
    /// seconds). With `ack`, returns the handler's acknowledgement as a list of its
    /// arguments, or None when it sent none. `RuntimeError` when not connected there.
    #[pyo3(signature = (namespace, event, args = None, ack = false, timeout = 5.0))]
    fn emit<'py>(
        &self,
        py: Python<'py>,
        namespace: &str,
        event: &str,
        args: Option<&Bound<'py, PyAny>>,
        ack: bool,
        timeout: f64,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let payload = match args {
            Some(args) => args_payload(args)?,
            None => Payload::empty(),
        };
        let timeout = seconds("timeout", timeout)?;
        let answer = py
            .detach(|| self.client.emit(namespace, event, &payload, ack, timeout))
            .map_err(local_error)?;
        answer
            .map(|args| PyList::new(py, payload_to_py(py, &args)?))
            .transpose()
    }

    /// Answers the server's event that asked for an acknowledgement (`id`, the fourth
    /// item of its `received()` entry) with the arguments `args`. The server's `emit`
    /// callback then runs on this client's lane after a hop through the server's
    /// runtime, so it is not waited for; a `call` waiting for the answer returns.
    /// `timeout` bounds the wait for the handlers queued before.
    #[pyo3(signature = (namespace, id, args = None, timeout = 5.0))]
    fn ack(
        &self,
        py: Python<'_>,
        namespace: &str,
        id: u64,
        args: Option<&Bound<'_, PyAny>>,
        timeout: f64,
    ) -> PyResult<()> {
        let payload = match args {
            Some(args) => args_payload(args)?,
            None => Payload::empty(),
        };
        let timeout = seconds("timeout", timeout)?;
        py.detach(|| self.client.ack(namespace, id, &payload, timeout))
            .map_err(local_error)
    }

    /// Leaves `namespace` (its disconnect handler gets `"client disconnect"`) and returns
    /// once that handler has run (waiting up to `timeout` seconds). `RuntimeError` when
    /// not connected there.
    #[pyo3(signature = (namespace = "/", timeout = 5.0))]
    fn disconnect(&self, py: Python<'_>, namespace: &str, timeout: f64) -> PyResult<()> {
        let timeout = seconds("timeout", timeout)?;
        py.detach(|| self.client.disconnect(namespace, timeout))
            .map_err(local_error)
    }

    /// Takes everything the server sent that was not taken yet, in order, as
    /// `(namespace, kind, data, id)` tuples:
    /// - `"event"`: data `[name, *args]` (binary arguments as `bytes`); id the ack id
    ///   when the server waits for an answer (`ack`), else None;
    /// - `"ack"`: data the argument list of an acknowledgement of one of this client's
    ///   emits that came after the emit returned; id its ack id;
    /// - `"connect"`: data `{"sid": ...}`; `"connect_error"`: data the error object
    ///   (`{"message": ..., "data": ...}`, `"data"` when the refusal had some);
    ///   `"disconnect"` (the server disconnected it): data None. id None for these.
    fn received<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self.client.received();
        let list = PyList::empty(py);
        for item in items {
            let none = || py.None().into_bound(py);
            let (nsp, kind, data, id) = match item {
                Received::Event {
                    nsp,
                    name,
                    args,
                    ack,
                } => {
                    let mut values = vec![PyString::new(py, &name).into_any()];
                    values.extend(payload_to_py(py, &args)?);
                    let id = match ack {
                        Some(id) => id.into_pyobject(py)?.into_any(),
                        None => none(),
                    };
                    (nsp, "event", PyList::new(py, values)?.into_any(), id)
                }
                Received::Ack { nsp, id, args } => (
                    nsp,
                    "ack",
                    PyList::new(py, payload_to_py(py, &args)?)?.into_any(),
                    id.into_pyobject(py)?.into_any(),
                ),
                Received::Connect { nsp, sid } => {
                    let data = PyDict::new(py);
                    data.set_item("sid", sid)?;
                    (nsp, "connect", data.into_any(), none())
                }
                Received::ConnectError { nsp, error } => {
                    (nsp, "connect_error", json_text_to_py(py, &error)?, none())
                }
                Received::Disconnect { nsp } => (nsp, "disconnect", none(), none()),
                // Whatever a later core version adds.
                _ => continue,
            };
            let entry = PyTuple::new(
                py,
                [
                    PyString::new(py, &nsp).into_any(),
                    PyString::new(py, kind).into_any(),
                    data,
                    id,
                ],
            )?;
            list.append(entry)?;
        }
        Ok(list)
    }

    /// Waits up to `timeout` seconds until every handler already queued for this client
    /// has run (emit, ack and disconnect already do).
    #[pyo3(signature = (timeout = 5.0))]
    fn settle(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let timeout = seconds("timeout", timeout)?;
        py.detach(|| self.client.settle(timeout))
            .map_err(local_error)
    }

    /// Closes the connection, as a network client's going away would (every
    /// namespace's disconnect handler gets `"transport close"`), and returns once those
    /// handlers have run (waiting up to `timeout` seconds). Closing twice does nothing
    /// more. Dropping the client closes it too, without waiting.
    #[pyo3(signature = (timeout = 5.0))]
    fn close(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let timeout = seconds("timeout", timeout)?;
        py.detach(|| self.client.close(timeout))
            .map_err(local_error)
    }

    fn __repr__(&self) -> String {
        format!("<LocalClient eio_sid={}>", self.client.eio_sid())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.server)
    }
}

/// Raises the `TypeError` or `ValueError` that `Server.emit(event, value)` would raise
/// for `value` (an object that is not JSON, NaN, a number out of range, nesting too
/// deep); returns None for a value it can send. A tuple is several arguments, as for
/// emit and a handler's return value.
#[pyfunction]
pub(crate) fn check_payload(value: &Bound<'_, PyAny>) -> PyResult<()> {
    data_to_payload(value).map(|_| ())
}
