//! The Redis fleet as Python sees it: the options `ferrosocket.RedisManager` hands the
//! native server (`redis=(url, channel, format, cluster)`), the adapter's counters, and
//! `_native.RedisEmitter`, the write-only member (python-socketio's
//! `RedisManager(write_only=True)`) with a small runtime of its own. Never holds the GIL
//! while it waits for Redis.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ferrosocket::adapter::redis::{Format, RedisAdapter, RedisEmitter, RedisOptions};
use ferrosocket::embed::AdapterMaker;
use ferrosocket::{BroadcastOptions, Room};
use pyo3::exceptions::{PyConnectionError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `(url, channel, format, cluster)` as `ferrosocket.RedisManager` gives it.
pub(crate) type RedisSpec = (String, Option<String>, String, bool);

/// The adapter's options from a spec; `ValueError` on an unknown format.
pub(crate) fn options_of(spec: &RedisSpec) -> PyResult<RedisOptions> {
    let (url, channel, format, cluster) = spec;
    let format = Format::parse(format).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown Redis format {format:?}: expected 'python-socketio' or 'socket.io'"
        ))
    })?;
    let options = RedisOptions::new(url.clone())
        .format(format)
        .cluster(*cluster);
    Ok(match channel {
        Some(channel) => options.channel(channel.clone()),
        None => options,
    })
}

/// Makes the server's Redis adapter inside its runtime, and keeps a handle to it (for
/// its counters) in `slot`.
pub(crate) fn maker(options: RedisOptions, slot: Arc<OnceLock<RedisAdapter>>) -> AdapterMaker {
    AdapterMaker(Arc::new(move || {
        let adapter = RedisAdapter::start(options.clone())?;
        let _ = slot.set(adapter.clone());
        Ok(Arc::new(adapter) as Arc<dyn ferrosocket::Adapter>)
    }))
}

/// The adapter's counters as a dict (see `ferrosocket.Server.redis_stats`).
pub(crate) fn stats_dict<'py>(
    py: Python<'py>,
    adapter: &RedisAdapter,
) -> PyResult<Bound<'py, PyDict>> {
    let s = adapter.stats().snapshot();
    let dict = PyDict::new(py);
    dict.set_item("published", s.published)?;
    dict.set_item("publish_lost", s.publish_lost)?;
    dict.set_item("received", s.received)?;
    dict.set_item("receive_dropped", s.receive_dropped)?;
    dict.set_item("applied", s.applied)?;
    dict.set_item("filtered", s.filtered)?;
    dict.set_item("invalid", s.invalid)?;
    dict.set_item("pickle", s.pickle)?;
    dict.set_item("reconnects", s.reconnects)?;
    Ok(dict)
}

fn targets(to: Vec<String>, skip: Vec<String>) -> BroadcastOptions {
    BroadcastOptions {
        rooms: to.into_iter().map(Room::from).collect(),
        except: skip.into_iter().map(Room::from).collect(),
        ..BroadcastOptions::default()
    }
}

/// A write-only member of a Redis fleet. Not meant to be used directly: see
/// `ferrosocket.RedisManager(write_only=True)`.
#[derive(Debug)]
#[pyclass(module = "ferrosocket._native", name = "RedisEmitter", frozen)]
pub struct PyRedisEmitter {
    emitter: RedisEmitter,
    runtime: tokio::runtime::Runtime,
}

#[pymethods]
impl PyRedisEmitter {
    #[new]
    #[pyo3(signature = (url, channel = None, format = "python-socketio".to_owned(), cluster = false))]
    fn new(url: String, channel: Option<String>, format: String, cluster: bool) -> PyResult<Self> {
        let options = options_of(&(url, channel, format, cluster))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ferrosocket-emitter")
            .enable_all()
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("could not start the runtime: {e}")))?;
        let emitter = {
            let _entered = runtime.enter();
            RedisEmitter::start(options).map_err(|e| PyValueError::new_err(e.to_string()))?
        };
        Ok(Self { emitter, runtime })
    }

    /// Waits (GIL released) up to `timeout` seconds for the connection; True once made.
    fn wait_connected(&self, py: Python<'_>, timeout: f64) -> bool {
        let wait = Duration::from_secs_f64(timeout.max(0.0));
        py.detach(|| self.runtime.block_on(self.emitter.wait_connected(wait)))
    }

    /// Publishes an emit of `event` with the JSON-able `data` (a tuple: several
    /// arguments) to `namespace`, the rooms `to` minus `skip_sid`.
    #[pyo3(signature = (event, data, namespace, to, skip_sid))]
    fn emit(
        &self,
        py: Python<'_>,
        event: &str,
        data: Option<&Bound<'_, PyAny>>,
        namespace: &str,
        to: Vec<String>,
        skip_sid: Vec<String>,
    ) -> PyResult<()> {
        let payload = match data {
            Some(data) => crate::convert::data_to_payload(data)?,
            None => ferrosocket::Payload::empty(),
        };
        self.connected(py)?;
        self.emitter
            .emit(namespace, event, &payload, &targets(to, skip_sid))
            .map_err(|e| PyConnectionError::new_err(e.to_string()))?;
        self.flushed(py)
    }

    /// Publishes a `close_room`.
    fn close_room(&self, py: Python<'_>, room: &str, namespace: &str) -> PyResult<()> {
        self.connected(py)?;
        self.emitter
            .close_room(namespace, room)
            .map_err(|e| PyConnectionError::new_err(e.to_string()))?;
        self.flushed(py)
    }

    /// Publishes a join of `sid` to `room`.
    fn enter_room(&self, py: Python<'_>, sid: &str, room: &str, namespace: &str) -> PyResult<()> {
        self.connected(py)?;
        let opts = targets(vec![sid.to_owned()], Vec::new());
        self.emitter
            .join(namespace, &opts, &[Room::from(room)])
            .map_err(|e| PyConnectionError::new_err(e.to_string()))?;
        self.flushed(py)
    }

    /// Publishes a leave of `sid` from `room`.
    fn leave_room(&self, py: Python<'_>, sid: &str, room: &str, namespace: &str) -> PyResult<()> {
        self.connected(py)?;
        let opts = targets(vec![sid.to_owned()], Vec::new());
        self.emitter
            .leave(namespace, &opts, &[Room::from(room)])
            .map_err(|e| PyConnectionError::new_err(e.to_string()))?;
        self.flushed(py)
    }

    /// Publishes a disconnect of `sid`.
    fn disconnect(&self, py: Python<'_>, sid: &str, namespace: &str) -> PyResult<()> {
        self.connected(py)?;
        let opts = targets(vec![sid.to_owned()], Vec::new());
        self.emitter
            .disconnect(namespace, &opts, false)
            .map_err(|e| PyConnectionError::new_err(e.to_string()))?;
        self.flushed(py)
    }

    /// Closes the connection once what was published is handed to Redis (waits up to
    /// a second, the GIL released).
    fn close(&self, py: Python<'_>) {
        self.emitter.close();
        py.detach(|| {
            self.runtime
                .block_on(self.emitter.closed(Duration::from_secs(1)))
        });
    }
}

impl PyRedisEmitter {
    /// Returns once Redis has what was just published (as python-socketio's `emit`,
    /// which publishes before it returns), so a script that exits right after loses
    /// nothing; `ConnectionError` when it is not accepted within 5 s.
    fn flushed(&self, py: Python<'_>) -> PyResult<()> {
        let flush = self.emitter.flush(Duration::from_secs(5));
        if py.detach(|| self.runtime.block_on(flush)) {
            Ok(())
        } else {
            Err(PyConnectionError::new_err(
                "cannot publish: Redis did not take the message within 5 s",
            ))
        }
    }

    /// Publishing before the connection is made would be dropped: wait for it first (up
    /// to 5 s, the GIL released), as python-socketio's managers connect on first use.
    fn connected(&self, py: Python<'_>) -> PyResult<()> {
        if self.emitter.is_connected() || self.wait_connected(py, 5.0) {
            return Ok(());
        }
        Err(PyConnectionError::new_err(
            "cannot publish: Redis did not accept a connection within 5 s",
        ))
    }
}
