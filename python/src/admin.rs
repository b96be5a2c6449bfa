//! `Server.instrument`: the Socket.IO Admin UI ([`ferrosocket::admin`]) for the Python
//! binding, with python-socketio's `auth` semantics: none, a list of JSON values the
//! client's auth must equal one of, or a Python callable that decides.
//!
//! The callable runs on a dispatch thread, as the connect handlers do, never on a tokio
//! thread: the core awaits its answer, and the GIL is only ever waited for by the pool.
//! It lives in an [`AuthSlot`] the server's `__traverse__` visits, so a callable that
//! refers back to the server is collectable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ferrosocket::admin::{AdminAuth, AdminError, AdminMode, AdminOptions, Instrumentation};
use ferrosocket::embed::{DispatchPool, EmbedError, Job};
use ferrosocket::Sid;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use pyo3::{PyTraverseError, PyVisit};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::convert::{json_text_to_py, to_json_value};
use crate::handlers::log_exception;
use crate::NativeServer;

/// The callable `auth` of the server's current instrumentation, with the generation of
/// the instrumentation it belongs to (so an old handle's shutdown leaves a newer one's).
#[derive(Default)]
pub(crate) struct AuthSlot {
    /// Locked only briefly and never while waiting for the GIL.
    callable: Mutex<Option<(u64, Py<PyAny>)>>,
    generations: AtomicU64,
}

impl AuthSlot {
    fn lock(&self) -> MutexGuard<'_, Option<(u64, Py<PyAny>)>> {
        self.callable.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, callable: Py<PyAny>) -> u64 {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let previous = self.lock().replace((generation, callable));
        drop(previous); // after the lock: a `__del__` may call back into us
        generation
    }

    fn get(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.lock().as_ref().map(|(_, c)| c.clone_ref(py))
    }

    /// Drops the callable if it is still that of `generation`.
    fn release(&self, generation: u64) {
        let taken = {
            let mut slot = self.lock();
            match &*slot {
                Some((g, _)) if *g == generation => slot.take(),
                _ => None,
            }
        };
        drop(taken);
    }

    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(slot) = self.callable.try_lock() {
            if let Some((_, callable)) = &*slot {
                visit.call(callable)?;
            }
        }
        Ok(())
    }

    pub(crate) fn clear(&self) {
        let taken = self.lock().take();
        drop(taken);
    }
}

/// Calls the callable with the client's auth: None when it sent none or a falsy one
/// (`{}`), as python-socketio passes it; true (Python truthiness) accepts. An exception
/// refuses, logged.
fn run_check(slot: &AuthSlot, auth: Option<Value>) -> bool {
    Python::attach(|py| {
        let Some(callable) = slot.get(py) else {
            return false;
        };
        let decided = (|| -> PyResult<bool> {
            let mut auth = match auth {
                Some(value) => json_text_to_py(py, &value.to_string())?,
                None => py.None().into_bound(py),
            };
            if !auth.is_truthy()? {
                auth = py.None().into_bound(py);
            }
            callable.bind(py).call1((auth,))?.is_truthy()
        })();
        decided.unwrap_or_else(|error| {
            log_exception(py, &error, "admin auth callable failed");
            false
        })
    })
}

fn check_on_pool(slot: Arc<AuthSlot>, pool: Arc<DispatchPool>) -> AdminAuth {
    AdminAuth::check(move |auth: Option<Value>| {
        let (answer, answered) = oneshot::channel();
        let slot = Arc::clone(&slot);
        let job: Job = Box::new(move || {
            let _ = answer.send(run_check(&slot, auth));
        });
        // A lane of its own: a login waits for no client's callbacks.
        let submitted = pool.submit(Sid::new(), job).is_ok();
        // A job dropped unrun (the pool stopping) refuses.
        async move { submitted && answered.await.unwrap_or(false) }
    })
}

/// The Python exception for an instrumentation the core refused.
fn admin_error(error: AdminError) -> PyErr {
    match error {
        AdminError::Interval(_) | AdminError::Namespace(_) => {
            PyValueError::new_err(error.to_string())
        }
        _ => PyRuntimeError::new_err(error.to_string()),
    }
}

/// `NativeServer.instrument`: `auth` None (no check), a list (of JSON values, one of
/// which the client's auth must equal) or a callable.
pub(crate) fn instrument(
    slf: &Bound<'_, NativeServer>,
    auth: Option<&Bound<'_, PyAny>>,
    development: bool,
    read_only: bool,
    server_id: Option<String>,
    namespace: &str,
    server_stats_interval: f64,
) -> PyResult<PyInstrumentation> {
    let server = slf.get();
    let embedded = server.embedded()?;
    let interval = Duration::try_from_secs_f64(server_stats_interval).map_err(|_| {
        PyValueError::new_err("server_stats_interval must be a non-negative number")
    })?;
    let mut callable_auth = None;
    let auth = match auth.filter(|a| !a.is_none()) {
        None => AdminAuth::disabled(),
        Some(list) if list.is_instance_of::<PyList>() => {
            let mut allowed = Vec::new();
            for item in list.try_iter()? {
                let raw = to_json_value(&item?)?;
                let value: Value = serde_json::from_str(raw.get())
                    .map_err(|e| PyValueError::new_err(format!("auth: {e}")))?;
                allowed.push(value);
            }
            AdminAuth::allow(allowed)
        }
        Some(callable) if callable.is_callable() => {
            // Put in the slot once the core accepted: a refused call (already
            // instrumented) must leave the running instrumentation's callable.
            callable_auth = Some(callable.clone().unbind());
            check_on_pool(Arc::clone(&server.admin_auth), embedded.dispatch_pool())
        }
        Some(other) => {
            return Err(PyTypeError::new_err(format!(
                "auth must be False, a dict, a list of dicts or a callable, not {}",
                other.get_type().name()?
            )))
        }
    };
    let mut options = AdminOptions::new(auth)
        .mode(if development {
            AdminMode::Development
        } else {
            AdminMode::Production
        })
        .read_only(read_only)
        .namespace(namespace)
        .stats_interval(interval);
    if let Some(id) = server_id {
        options = options.server_id(id);
    }
    let inner = embedded.instrument(options).map_err(|error| match error {
        EmbedError::Admin(error) => admin_error(error),
        other => crate::embed_error(other),
    })?;
    let generation = callable_auth.map(|callable| server.admin_auth.set(callable));
    Ok(PyInstrumentation {
        server: slf.clone().unbind(),
        inner,
        generation,
    })
}

/// A running Admin UI instrumentation (see `ferrosocket.Server.instrument`).
#[pyclass(module = "ferrosocket._native", name = "Instrumentation", frozen)]
#[derive(Debug)]
pub struct PyInstrumentation {
    server: Py<NativeServer>,
    inner: Instrumentation,
    /// The generation of the callable auth in the server's slot, if any.
    generation: Option<u64>,
}

#[pymethods]
impl PyInstrumentation {
    /// Stops the stats and the live events, disconnects the admin clients and refuses
    /// new ones; the server may be instrumented again. Idempotent.
    fn shutdown(&self) {
        let server = self.server.get();
        match server.embedded() {
            Ok(embedded) => {
                let _entered = embedded.enter();
                self.inner.shutdown();
            }
            Err(_) => self.inner.shutdown(),
        }
        if let Some(generation) = self.generation {
            server.admin_auth.release(generation);
        }
    }

    /// The admin namespace.
    #[getter]
    fn namespace(&self) -> &str {
        self.inner.namespace()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.server)
    }
}
