//! The WSGI bridge (PEP 3333): `Server.mount_wsgi(app)` serves a WSGI app (Flask) on the
//! Socket.IO server's own port.
//!
//! Owns: the HTTP fallback that hands every request outside the Socket.IO path to the app;
//! the `environ` (built here, in Rust, in one pass over the request head); `wsgi.input`,
//! `wsgi.errors` and `start_response`; streaming both bodies through bounded channels;
//! the request-body limit; the error answers (500, 413, a cut connection) and the access
//! log. Never: runs Python on a tokio thread (the app runs on the embedding layer's
//! dispatch threads, one fresh lane per request, and the I/O side only moves bytes);
//! holds the GIL while it waits for a client (every wait on a body channel releases it);
//! buffers a body without bound; lets an app's exception reach the runtime.
//!
//! One request, start to end:
//!
//! 1. On the I/O thread, [`serve`] checks `Content-Length` against `max_body` (413 without
//!    calling the app), starts a task feeding the request body into a bounded channel
//!    (none for a request without a body), and submits the request to the dispatch pool.
//! 2. On a dispatch thread (the GIL is already held there, taken once for this run of
//!    jobs), [`run`] builds the environ, calls `app(environ, start_response)` and iterates
//!    its result. The response head goes back to the I/O thread with the first non-empty
//!    chunk (PEP 3333: not before), or when the iterable ends. A response whose
//!    `Content-Length` the first chunk fills (Flask's usual reply) goes out whole, with no
//!    channel; any other body streams through a channel of [`OUTPUT_CHUNKS`] chunks, so a
//!    slow reader makes the app wait, never the memory grow. A client that went away
//!    makes the next send fail and iteration stops. `close()` is called on the iterable
//!    whatever happened.
//! 3. An exception is logged with its traceback on the `ferrosocket.wsgi` logger; the
//!    client gets a 500 if nothing was sent yet, else its connection is cut (a response
//!    that only looks complete would be worse).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use ferrosocket::embed::{DispatchPool, Embedded};
use ferrosocket::{ConnectionInfo, ResponseBody, Sid};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode, Version};
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::ext::ReasonPhrase;
use pyo3::exceptions::{
    PyConnectionResetError, PyOSError, PyRuntimeError, PyTimeoutError, PyTypeError, PyValueError,
};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};
use tokio::sync::{mpsc, oneshot};

/// `max_body`'s default: 100 MiB. See [`Options::max_body`].
pub(crate) const DEFAULT_MAX_BODY: u64 = 100 * 1024 * 1024;

/// Request-body chunks (as hyper reads them, up to some tens of KiB each) waiting for the
/// app to read them: the most a request buffers before the client is made to wait.
const INPUT_CHUNKS: usize = 4;

/// Response-body chunks (as the app yields them) waiting for the client: the most a
/// response buffers before the app is made to wait in its next send.
const OUTPUT_CHUNKS: usize = 4;

/// How often a dispatch thread waiting on a body channel looks whether the server stops,
/// so `stop()` never waits on an app blocked on a client (an endless event stream).
const STOP_CHECK: Duration = Duration::from_millis(250);

/// The options of `mount_wsgi`.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// One line per request on the `ferrosocket.access` logger at INFO.
    pub(crate) access_log: bool,
    /// The largest request body, in bytes. A `Content-Length` over it is answered 413
    /// without calling the app; a chunked body that goes past it makes `wsgi.input` raise
    /// `OSError` in the app, and the answer is 413 unless the response has started.
    /// Flask's `MAX_CONTENT_LENGTH` (unset by default) is the app's own, smaller limit;
    /// this one bounds what any app can be made to receive.
    pub(crate) max_body: u64,
    /// `wsgi.url_scheme`: `"http"`, or `"https"` behind a proxy that terminates TLS.
    pub(crate) url_scheme: Scheme,
}

/// `wsgi.url_scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub(crate) fn parse(text: &str) -> PyResult<Self> {
        match text {
            "http" => Ok(Self::Http),
            "https" => Ok(Self::Https),
            _ => Err(PyValueError::new_err(
                "url_scheme must be \"http\" or \"https\"",
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    fn default_port(self) -> &'static str {
        match self {
            Self::Http => "80",
            Self::Https => "443",
        }
    }
}

/// What a server keeps of its WSGI bridge: the mounted app, for the garbage collector,
/// and the flag `stop()` raises before it waits for the dispatch threads.
#[derive(Default)]
pub(crate) struct Bridge {
    /// The current mount; the fallback holds another reference to it.
    mount: Mutex<Option<Arc<Mount>>>,
    /// Raised by `stop()`: apps waiting on a client give up within [`STOP_CHECK`].
    stopping: Arc<AtomicBool>,
}

impl Bridge {
    fn lock(&self) -> MutexGuard<'_, Option<Arc<Mount>>> {
        self.mount.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells every request still running that the server stops.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    pub(crate) fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        // A lock held elsewhere means a mount is being replaced, with the GIL; skipping
        // one traversal only delays collection.
        if let Ok(mount) = self.mount.try_lock() {
            if let Some(mount) = mount.as_ref() {
                if let Ok(app) = mount.app.try_lock() {
                    if let Some(app) = app.as_ref() {
                        visit.call(app)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Drops the app (the GC breaks a cycle through it): requests get 500 from then on.
    pub(crate) fn clear(&self) {
        let mount = self.lock().clone();
        if let Some(mount) = mount {
            let app = mount.app.lock().unwrap_or_else(|p| p.into_inner()).take();
            drop(app);
        }
    }
}

/// One mounted app and what every request of it shares.
struct Mount {
    /// `None` once the garbage collector cleared it. Locked only with the GIL held, and
    /// briefly.
    app: Mutex<Option<Py<PyAny>>>,
    options: Options,
    /// The server's `body_timeout`: the longest wait for the next piece of a request body.
    body_timeout: Duration,
    stopping: Arc<AtomicBool>,
    /// `wsgi.errors`, one for every request (it only forwards lines to the logger).
    errors: Py<Errors>,
    /// `(1, 0)`.
    version: Py<PyTuple>,
    /// `ferrosocket.wsgi`: the app's errors and tracebacks.
    logger: Py<PyAny>,
    /// `ferrosocket.access`.
    access: Py<PyAny>,
}

impl Mount {
    fn app(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.app
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|app| app.clone_ref(py))
    }
}

fn get_logger<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("logging")?.call_method1("getLogger", (name,))
}

/// Mounts `app` on `embedded`'s HTTP fallback, replacing any earlier app.
pub(crate) fn mount(
    py: Python<'_>,
    embedded: &Embedded,
    bridge: &Bridge,
    app: Py<PyAny>,
    options: Options,
) -> PyResult<()> {
    if !app.bind(py).is_callable() {
        return Err(PyTypeError::new_err(
            "mount_wsgi needs a WSGI application: a callable app(environ, start_response)",
        ));
    }
    let logger = get_logger(py, "ferrosocket.wsgi")?;
    let mount = Arc::new(Mount {
        app: Mutex::new(Some(app)),
        options,
        body_timeout: embedded.server().config().body_timeout(),
        stopping: Arc::clone(&bridge.stopping),
        errors: Py::new(
            py,
            Errors {
                logger: logger.clone().unbind(),
                pending: Mutex::new(String::new()),
            },
        )?,
        version: PyTuple::new(py, [1, 0])?.unbind(),
        logger: logger.unbind(),
        access: get_logger(py, "ferrosocket.access")?.unbind(),
    });
    let previous = bridge.lock().replace(Arc::clone(&mount));
    let pool = embedded.dispatch_pool();
    embedded
        .server()
        .set_fallback(move |req| serve(Arc::clone(&mount), Arc::clone(&pool), req));
    // Dropped with the GIL held, outside the lock: the old app's `__del__` may run.
    drop(previous);
    Ok(())
}

/// A response with a whole body.
fn plain(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The 413 answer; the connection closes, since the rest of the body is not read.
fn too_large() -> Response<ResponseBody> {
    let mut response = plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn internal_error() -> Response<ResponseBody> {
    plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// A request's `Content-Length`, when it has one that parses.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// What the I/O side hands the dispatch thread.
struct Job {
    parts: Parts,
    connection: Option<ConnectionInfo>,
    input: Input,
    too_large: Arc<AtomicBool>,
    head: oneshot::Sender<Response<ResponseBody>>,
    /// When the request arrived, for the access log (read only when it is on).
    started: Option<Instant>,
}

/// The fallback: one request, on an I/O thread. Only moves bytes and waits.
async fn serve(
    mount: Arc<Mount>,
    pool: Arc<DispatchPool>,
    req: http::Request<Incoming>,
) -> Response<ResponseBody> {
    let started = mount.options.access_log.then(Instant::now);
    let connection = req.extensions().get::<ConnectionInfo>().copied();
    let (parts, body) = req.into_parts();
    let max_body = mount.options.max_body;
    if content_length(&parts.headers).is_some_and(|len| len > max_body) {
        if let Some(started) = started {
            // No Python on this thread: the line goes through the core's log forwarding,
            // to the same `ferrosocket.access` logger (when it forwards INFO).
            let status = Some(StatusCode::PAYLOAD_TOO_LARGE);
            let line = clf_line(&parts, connection, status, 0, started);
            tracing::info!(target: "ferrosocket::access", "{line}");
        }
        return too_large();
    }
    let too_large_flag = Arc::new(AtomicBool::new(false));
    let chunks = (!body.is_end_stream()).then(|| {
        let (chunks, received) = mpsc::channel(INPUT_CHUNKS);
        tokio::spawn(feed(body, chunks, max_body, mount.body_timeout));
        received
    });
    let input = Input::new(
        chunks,
        Arc::clone(&too_large_flag),
        Arc::clone(&mount.stopping),
    );
    let (head, answered) = oneshot::channel();
    let job = Job {
        parts,
        connection,
        input,
        too_large: too_large_flag,
        head,
        started,
    };
    let task_mount = Arc::clone(&mount);
    if let Err(error) = pool.submit(Sid::new(), Box::new(move || run(&task_mount, job))) {
        tracing::warn!(target: "ferrosocket::wsgi", %error, "WSGI request not run");
        return plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    match answered.await {
        Ok(response) => response,
        // The job was dropped without answering (the pool stopped): nothing was sent.
        Err(_) => internal_error(),
    }
}

/// Why the rest of a request body cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputError {
    /// It went past `max_body`.
    TooLarge,
    /// No piece of it arrived for `body_timeout`.
    TimedOut,
    /// The connection failed or closed before its end.
    Disconnected,
}

impl InputError {
    fn to_py(self) -> PyErr {
        match self {
            Self::TooLarge => PyOSError::new_err("the request body is larger than max_body"),
            Self::TimedOut => PyTimeoutError::new_err("the request body stopped arriving"),
            Self::Disconnected => {
                PyConnectionResetError::new_err("the client closed the connection mid-body")
            }
        }
    }
}

type InputChunk = Result<Bytes, InputError>;

/// Reads `body` into `chunks`, waiting when the app does not read (the channel is
/// bounded), until the end, an error, or the app's side closing.
async fn feed(
    mut body: Incoming,
    chunks: mpsc::Sender<InputChunk>,
    max_body: u64,
    timeout: Duration,
) {
    let mut total: u64 = 0;
    loop {
        let frame = match tokio::time::timeout(timeout, body.frame()).await {
            Ok(None) => return,
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(error))) => {
                tracing::debug!(target: "ferrosocket::wsgi", %error, "request body failed");
                let _ = chunks.send(Err(InputError::Disconnected)).await;
                return;
            }
            Err(_) => {
                let _ = chunks.send(Err(InputError::TimedOut)).await;
                return;
            }
        };
        // Trailers carry no body bytes; WSGI has no place for them.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len() as u64);
        if total > max_body {
            let _ = chunks.send(Err(InputError::TooLarge)).await;
            return;
        }
        if chunks.send(Ok(data)).await.is_err() {
            return;
        }
    }
}

/// Waits for `future` on the runtime with the GIL released, looking every
/// [`STOP_CHECK`] whether the server stops (then `None`).
fn wait_released<F>(py: Python<'_>, stopping: &AtomicBool, future: F) -> Option<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    py.detach(|| {
        // Dispatch threads run inside the runtime's context (the pool's scope enters it).
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let mut future = std::pin::pin!(future);
        loop {
            if stopping.load(Ordering::Acquire) {
                return None;
            }
            if let Ok(value) = handle.block_on(tokio::time::timeout(STOP_CHECK, &mut future)) {
                return Some(value);
            }
        }
    })
}

/// `wsgi.input`: the request body, read as the app asks for it.
#[pyclass(module = "ferrosocket._native", name = "WsgiInput")]
pub(crate) struct Input {
    /// `None` at the end of the body, or for a request without one.
    chunks: Option<mpsc::Receiver<InputChunk>>,
    /// What is left of the chunk being read.
    buffer: Bytes,
    /// Once the body failed, every read raises this again.
    failed: Option<InputError>,
    /// Raised when the body went past `max_body`, for the response to be 413.
    too_large: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
}

impl Input {
    /// The input of a request whose body is `chunks` (`None`: no body).
    fn new(
        chunks: Option<mpsc::Receiver<InputChunk>>,
        too_large: Arc<AtomicBool>,
        stopping: Arc<AtomicBool>,
    ) -> Self {
        Self {
            chunks,
            buffer: Bytes::new(),
            failed: None,
            too_large,
            stopping,
        }
    }

    /// Makes `buffer` non-empty: `false` at the end of the body.
    fn fill(&mut self, py: Python<'_>) -> PyResult<bool> {
        if !self.buffer.is_empty() {
            return Ok(true);
        }
        if let Some(error) = self.failed {
            return Err(error.to_py());
        }
        loop {
            let Some(chunks) = self.chunks.as_mut() else {
                return Ok(false);
            };
            let next = match chunks.try_recv() {
                Ok(chunk) => Some(chunk),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match wait_released(py, &self.stopping, chunks.recv()) {
                        Some(next) => next,
                        None => Some(Err(InputError::Disconnected)),
                    }
                }
            };
            match next {
                None => {
                    self.chunks = None;
                    return Ok(false);
                }
                Some(Ok(data)) if data.is_empty() => continue,
                Some(Ok(data)) => {
                    self.buffer = data;
                    return Ok(true);
                }
                Some(Err(error)) => {
                    if error == InputError::TooLarge {
                        self.too_large.store(true, Ordering::Release);
                    }
                    self.failed = Some(error);
                    self.chunks = None;
                    return Err(error.to_py());
                }
            }
        }
    }

    /// Up to `limit` bytes (all with `None`), stopping after `\n` when `line`.
    fn take(&mut self, py: Python<'_>, limit: Option<usize>, line: bool) -> PyResult<Vec<u8>> {
        let mut out = Vec::new();
        while limit.is_none_or(|limit| out.len() < limit) && self.fill(py)? {
            let room = limit.map_or(usize::MAX, |limit| limit - out.len());
            let mut len = self.buffer.len().min(room);
            let mut ended = false;
            if line {
                if let Some(at) = self.buffer[..len].iter().position(|&b| b == b'\n') {
                    len = at + 1;
                    ended = true;
                }
            }
            out.extend_from_slice(&self.buffer.split_to(len));
            if ended {
                break;
            }
        }
        Ok(out)
    }

    /// No more reading: the feeding task stops at its next send.
    fn close(&mut self) {
        if let Some(chunks) = self.chunks.as_mut() {
            chunks.close();
        }
    }
}

/// A size argument: `None` or negative means everything.
fn size_limit(size: Option<isize>) -> Option<usize> {
    size.and_then(|size| usize::try_from(size).ok())
}

#[pymethods]
impl Input {
    /// Reads up to `size` bytes (everything when `size` is None or negative); fewer only
    /// at the end of the body. Waits for the client with the GIL released.
    #[pyo3(signature = (size = None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.take(py, size_limit(size), false)?;
        Ok(PyBytes::new(py, &data))
    }

    /// Reads one line (up to and including `\n`), at most `size` bytes.
    #[pyo3(signature = (size = None))]
    fn readline<'py>(
        &mut self,
        py: Python<'py>,
        size: Option<isize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.take(py, size_limit(size), true)?;
        Ok(PyBytes::new(py, &data))
    }

    /// Reads the remaining lines; stops once `hint` bytes (if positive) were read.
    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(
        &mut self,
        py: Python<'py>,
        hint: Option<isize>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let hint = size_limit(hint).filter(|&hint| hint > 0);
        let mut lines = Vec::new();
        let mut total = 0;
        loop {
            let line = self.take(py, None, true)?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            lines.push(PyBytes::new(py, &line));
            if hint.is_some_and(|hint| total >= hint) {
                break;
            }
        }
        Ok(lines)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.take(py, None, true)?;
        Ok((!line.is_empty()).then(|| PyBytes::new(py, &line)))
    }
}

/// `wsgi.errors`: what the app writes goes, line by line, to the `ferrosocket.wsgi`
/// logger at ERROR.
#[pyclass(module = "ferrosocket._native", name = "WsgiErrors", frozen)]
pub(crate) struct Errors {
    logger: Py<PyAny>,
    /// The start of a line not yet ended by `\n`.
    pending: Mutex<String>,
}

impl Errors {
    fn emit(&self, py: Python<'_>, line: &str) {
        if line.is_empty() {
            return;
        }
        if let Err(error) = self
            .logger
            .bind(py)
            .call_method1(intern!(py, "error"), ("%s", line))
        {
            error.print(py);
        }
    }
}

#[pymethods]
impl Errors {
    /// Logs every complete line of `text`; the rest waits for its end or `flush()`.
    fn write(&self, py: Python<'_>, text: &str) {
        let lines: Vec<String> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push_str(text);
            match pending.rfind('\n') {
                None => Vec::new(),
                Some(end) => {
                    let rest = pending.split_off(end + 1);
                    let done = std::mem::replace(&mut *pending, rest);
                    done.lines().map(str::to_owned).collect()
                }
            }
        };
        for line in lines {
            self.emit(py, &line);
        }
    }

    /// Writes every string of `lines`.
    fn writelines(&self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            let line = line?;
            self.write(py, &line.cast::<PyString>()?.to_cow()?);
        }
        Ok(())
    }

    /// Logs what is pending, even without its `\n`.
    fn flush(&self, py: Python<'_>) {
        let rest = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        self.emit(py, rest.trim_end_matches('\r'));
    }
}

/// The body of a streamed response: the first chunk, then what the app sends.
struct ChannelBody {
    first: Option<Bytes>,
    chunks: mpsc::Receiver<Bytes>,
    /// Raised before the sender is dropped when the app failed mid-body: the connection
    /// is cut instead of the body ending as if complete.
    aborted: Arc<AtomicBool>,
    /// Whether hyper had its turn to flush before the cut.
    flushed: bool,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = ferrosocket::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        match self.chunks.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            Poll::Ready(None) if self.aborted.load(Ordering::Acquire) => {
                if !self.flushed {
                    // Once more through hyper's write loop first, which flushes what the
                    // app already sent: the client gets those bytes, then the cut.
                    self.flushed = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Ready(Some(Err("the WSGI application failed mid-response".into())))
            }
            Poll::Ready(None) => Poll::Ready(None),
        }
    }
}

/// A streamed response's sending side.
struct Stream {
    chunks: mpsc::Sender<Bytes>,
    aborted: Arc<AtomicBool>,
}

/// `start_response`, and the state of the response it starts: what the app said, what
/// went out.
#[pyclass(module = "ferrosocket._native", name = "StartResponse")]
pub(crate) struct Responder {
    /// Set by `start_response`; `None` before.
    status: Option<(StatusCode, Option<ReasonPhrase>)>,
    headers: HeaderMap,
    /// The app's `Content-Length`: never more is sent, and a shorter body cuts the
    /// connection.
    declared: Option<u64>,
    /// `None` once the head went out.
    head: Option<oneshot::Sender<Response<ResponseBody>>>,
    /// Set while a streamed body is open.
    stream: Option<Stream>,
    /// A HEAD request: the head goes out, no body.
    head_only: bool,
    /// Body bytes handed on.
    sent: u64,
    /// The status that went out, for the access log.
    sent_status: Option<StatusCode>,
    /// The client went away (a send failed).
    gone: bool,
    too_large: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
}

impl Responder {
    fn head_sent(&self) -> bool {
        self.head.is_none()
    }

    /// Sends the head: the app's status and headers with `body`.
    fn send_head(&mut self, body: ResponseBody) {
        let Some(head) = self.head.take() else {
            return;
        };
        let Some((status, reason)) = self.status.take() else {
            return;
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = std::mem::take(&mut self.headers);
        if let Some(reason) = reason {
            response.extensions_mut().insert(reason);
        }
        self.sent_status = Some(status);
        self.status = Some((status, None));
        if head.send(response).is_err() {
            self.gone = true;
        }
    }

    /// Sends a response of the server's own (500, 413) instead of the app's.
    fn send_own(&mut self, response: Response<ResponseBody>) {
        if let Some(head) = self.head.take() {
            self.sent_status = Some(response.status());
            if head.send(response).is_err() {
                self.gone = true;
            }
        }
    }

    /// Hands one non-empty chunk on; `false` when no more will be sent (the body is
    /// complete, the client is gone, the server stops, a HEAD request).
    fn output(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<bool> {
        if self.status.is_none() {
            return Err(PyRuntimeError::new_err(
                "the application sent body data before calling start_response",
            ));
        }
        if !self.head_sent() {
            if self.too_large.load(Ordering::Acquire) {
                self.send_own(too_large());
                return Ok(false);
            }
            if self.head_only {
                self.send_head(empty_body());
                return Ok(false);
            }
        } else if self.stream.is_none() || self.gone {
            return Ok(false);
        }
        let mut data = data;
        if let Some(declared) = self.declared {
            let room = declared.saturating_sub(self.sent);
            if (data.len() as u64) > room {
                data = &data[..room as usize];
            }
        }
        self.sent += data.len() as u64;
        let complete = self.declared == Some(self.sent);
        let chunk = Bytes::copy_from_slice(data);
        if !self.head_sent() {
            if complete {
                self.send_head(Full::new(chunk).map_err(|never| match never {}).boxed());
                return Ok(false);
            }
            let (chunks, received) = mpsc::channel(OUTPUT_CHUNKS);
            let aborted = Arc::new(AtomicBool::new(false));
            let body = ChannelBody {
                first: Some(chunk),
                chunks: received,
                aborted: Arc::clone(&aborted),
                flushed: false,
            };
            self.send_head(body.boxed());
            self.stream = Some(Stream { chunks, aborted });
            return Ok(!self.gone);
        }
        let Some(stream) = self.stream.as_ref() else {
            return Ok(false);
        };
        let sent = match stream.chunks.try_send(chunk) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
            Err(mpsc::error::TrySendError::Full(chunk)) => {
                // The client reads slower than the app writes: wait for room, without
                // the GIL, so memory stays at OUTPUT_CHUNKS chunks.
                let waited = wait_released(py, &self.stopping, async {
                    match stream.chunks.reserve().await {
                        Ok(permit) => {
                            permit.send(chunk);
                            true
                        }
                        Err(_) => false,
                    }
                });
                match waited {
                    Some(sent) => sent,
                    None => {
                        // Stopping: cut the stream.
                        self.abort();
                        return Ok(false);
                    }
                }
            }
        };
        if !sent {
            self.gone = true;
            self.stream = None;
            return Ok(false);
        }
        if complete {
            self.stream = None;
            return Ok(false);
        }
        if self.stopping.load(Ordering::Acquire) {
            self.abort();
            return Ok(false);
        }
        Ok(true)
    }

    /// The iterable ended: sends the head if it has not gone out, ends the body.
    fn finish(&mut self) -> PyResult<()> {
        if self.status.is_none() {
            return Err(PyRuntimeError::new_err(
                "the application returned without calling start_response",
            ));
        }
        if !self.head_sent() {
            if self.too_large.load(Ordering::Acquire) {
                self.send_own(too_large());
            } else {
                self.send_head(empty_body());
            }
            return Ok(());
        }
        if self.stream.is_some() && self.declared.is_some_and(|declared| self.sent < declared) {
            // A body shorter than its Content-Length: the client must not take it as
            // whole.
            self.abort();
            return Err(PyRuntimeError::new_err(format!(
                "the application sent {} of the {} bytes its Content-Length announced",
                self.sent,
                self.declared.unwrap_or(0)
            )));
        }
        self.stream = None;
        Ok(())
    }

    /// The app failed: a 500 (413 when the body went past `max_body`) if nothing went
    /// out yet, else the connection is cut.
    fn fail(&mut self) {
        if !self.head_sent() {
            let response = if self.too_large.load(Ordering::Acquire) {
                too_large()
            } else {
                internal_error()
            };
            self.send_own(response);
        } else {
            self.abort();
        }
    }

    /// Ends a streamed body as failed: the connection is cut.
    fn abort(&mut self) {
        if let Some(stream) = self.stream.take() {
            stream.aborted.store(true, Ordering::Release);
        }
    }
}

fn empty_body() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// `"200 OK"` as a status code, and the reason when it is not the standard one.
fn parse_status(status: &str) -> PyResult<(StatusCode, Option<ReasonPhrase>)> {
    let bad = || {
        PyValueError::new_err(format!(
            "status must be a three-digit code, a space and a reason (\"200 OK\"), not {status:?}"
        ))
    };
    let bytes = status.as_bytes();
    if bytes.len() < 4 || bytes[3] != b' ' {
        return Err(bad());
    }
    let code = StatusCode::from_bytes(&bytes[..3]).map_err(|_| bad())?;
    let reason = &status[4..];
    if code.canonical_reason() == Some(reason) {
        return Ok((code, None));
    }
    let reason = ReasonPhrase::try_from(reason.as_bytes()).map_err(|_| bad())?;
    Ok((code, Some(reason)))
}

/// A Python str as the bytes of a header value: latin-1, as PEP 3333 has it.
fn latin1(text: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
    if text.is_ascii() {
        return Some(std::borrow::Cow::Borrowed(text.as_bytes()));
    }
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .map(std::borrow::Cow::Owned)
}

#[pymethods]
impl Responder {
    /// `start_response(status, headers, exc_info=None)`: returns `write(data)`.
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let exc_info = exc_info.filter(|e| !e.is_none());
        {
            let this = slf.borrow();
            match exc_info {
                Some(exc_info) if this.head_sent() => {
                    // Too late to change the response: PEP 3333 has the error re-raised.
                    let value = exc_info.get_item(1)?;
                    return Err(PyErr::from_value(value));
                }
                None if this.status.is_some() => {
                    return Err(PyRuntimeError::new_err(
                        "start_response called a second time without exc_info",
                    ));
                }
                _ => {}
            }
        }
        let status = status
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("status must be a str"))?;
        let status = parse_status(&status.to_cow()?)?;
        let mut map = HeaderMap::new();
        let mut declared = None;
        for item in headers.try_iter()? {
            let item = item?;
            let pair = item.cast::<PyTuple>().map_err(|_| {
                PyTypeError::new_err("headers must be a list of (name, value) tuples of str")
            })?;
            if pair.len() != 2 {
                return Err(PyTypeError::new_err(
                    "headers must be a list of (name, value) tuples of str",
                ));
            }
            let name = pair.get_item(0)?;
            let value = pair.get_item(1)?;
            let (Ok(name), Ok(value)) = (name.cast::<PyString>(), value.cast::<PyString>()) else {
                return Err(PyTypeError::new_err("header names and values must be str"));
            };
            let name = name.to_cow()?;
            let value = value.to_cow()?;
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| PyValueError::new_err(format!("invalid header name {name:?}")))?;
            let header_value = latin1(&value)
                .and_then(|bytes| HeaderValue::from_bytes(&bytes).ok())
                .ok_or_else(|| {
                    PyValueError::new_err(format!("invalid value for header {name}: {value:?}"))
                })?;
            if header_name == header::TRANSFER_ENCODING {
                // The server frames the body; an app's framing would contradict it.
                continue;
            }
            if header_name == header::CONTENT_LENGTH {
                declared = Some(value.trim().parse::<u64>().map_err(|_| {
                    PyValueError::new_err(format!("invalid Content-Length {value:?}"))
                })?);
            }
            map.append(header_name, header_value);
        }
        {
            let mut this = slf.borrow_mut();
            this.status = Some(status);
            this.headers = map;
            this.declared = declared;
        }
        slf.getattr(intern!(py, "write"))
    }

    /// The imperative `write(data)` of PEP 3333: sends `data` at once (waiting, with the
    /// GIL released, while the client is slow). `ConnectionResetError` once the client
    /// went away.
    fn write(&mut self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = data
            .cast::<PyBytes>()
            .map_err(|_| PyTypeError::new_err("write() takes bytes"))?;
        let data = data.as_bytes();
        if data.is_empty() {
            return Ok(());
        }
        self.output(py, data)?;
        if self.gone {
            return Err(PyConnectionResetError::new_err("the client went away"));
        }
        Ok(())
    }
}

/// Logs `error` with its traceback on `logger`; prints it if logging fails.
fn log_exception(py: Python<'_>, logger: &Py<PyAny>, error: &PyErr, what: &str) {
    let logged = (|| -> PyResult<()> {
        let kwargs = PyDict::new(py);
        let exc_info = (error.get_type(py), error.value(py), error.traceback(py));
        kwargs.set_item("exc_info", exc_info)?;
        logger
            .bind(py)
            .call_method(intern!(py, "error"), ("%s", what), Some(&kwargs))?;
        Ok(())
    })();
    if logged.is_err() {
        error.print(py);
    }
}

/// One request, on a dispatch thread: environ, app, body, close, access log.
fn run(mount: &Mount, job: Job) {
    Python::attach(|py| {
        let Job {
            parts,
            connection,
            input,
            too_large,
            head,
            started,
        } = job;
        let Some(app) = mount.app(py) else {
            let _ = head.send(internal_error());
            return;
        };
        let responder = Responder {
            status: None,
            headers: HeaderMap::new(),
            declared: None,
            head: Some(head),
            stream: None,
            head_only: parts.method == Method::HEAD,
            sent: 0,
            sent_status: None,
            gone: false,
            too_large,
            stopping: Arc::clone(&mount.stopping),
        };
        let built = Bound::new(py, responder).and_then(|responder| {
            let input = Bound::new(py, input)?;
            let environ = environ(py, mount, &parts, connection, &input)?;
            Ok((responder, input, environ))
        });
        let (responder, input, environ) = match built {
            Ok(built) => built,
            Err(error) => {
                log_exception(
                    py,
                    &mount.logger,
                    &error,
                    "could not build the WSGI environ",
                );
                // The responder (and its head sender) was dropped: the I/O side answers 500.
                return;
            }
        };
        let outcome = call_app(py, &app, &environ, &responder);
        if let Err((error, what)) = outcome {
            let mut this = responder.borrow_mut();
            if this.gone {
                tracing::debug!(target: "ferrosocket::wsgi", "{what} after the client went away");
            } else {
                log_exception(py, &mount.logger, &error, what);
            }
            this.fail();
        }
        input.borrow_mut().close();
        if let Some(started) = started {
            access_line(py, mount, &parts, connection, &responder.borrow(), started);
        }
    });
}

/// Calls the app, iterates its result and closes it; the error, with what failed.
fn call_app(
    py: Python<'_>,
    app: &Py<PyAny>,
    environ: &Bound<'_, PyDict>,
    responder: &Bound<'_, Responder>,
) -> Result<(), (PyErr, &'static str)> {
    let result = app
        .bind(py)
        .call1((environ, responder))
        .map_err(|error| (error, "the WSGI application raised"))?;
    let iterated = iterate(&result, responder);
    // PEP 3333: close() whatever happened, after the response is done with.
    let closed = match result.getattr(intern!(py, "close")) {
        Ok(close) => close.call0().map(drop),
        Err(_) => Ok(()),
    };
    iterated?;
    closed.map_err(|error| (error, "close() of the WSGI response failed"))
}

fn iterate(
    result: &Bound<'_, PyAny>,
    responder: &Bound<'_, Responder>,
) -> Result<(), (PyErr, &'static str)> {
    let py = result.py();
    let bad_result = "the WSGI application returned a bad response";
    let iterator = result.try_iter().map_err(|_| {
        let error = PyTypeError::new_err(format!(
            "the WSGI application must return an iterable of bytes, not {}",
            type_name(result)
        ));
        (error, bad_result)
    })?;
    for item in iterator {
        let item = item.map_err(|error| (error, "the WSGI response iterable raised"))?;
        let Ok(chunk) = item.cast::<PyBytes>() else {
            let error = PyTypeError::new_err(format!(
                "the WSGI response must yield bytes, not {}",
                type_name(&item)
            ));
            return Err((error, bad_result));
        };
        let data = chunk.as_bytes();
        if data.is_empty() {
            continue;
        }
        let more = responder
            .borrow_mut()
            .output(py, data)
            .map_err(|error| (error, bad_result))?;
        if !more {
            break;
        }
    }
    responder
        .borrow_mut()
        .finish()
        .map_err(|error| (error, bad_result))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |name| name.to_string())
}

/// The request method as a str, shared for the usual ones.
fn method_str<'py>(py: Python<'py>, method: &Method) -> Bound<'py, PyString> {
    macro_rules! known {
        ($($name:ident),*) => {
            match *method {
                $(Method::$name => return intern!(py, stringify!($name)).clone(),)*
                _ => {}
            }
        };
    }
    known!(GET, POST, HEAD, PUT, DELETE, PATCH, OPTIONS);
    PyString::new(py, method.as_str())
}

/// A header's environ key (`HTTP_USER_AGENT`), shared for the usual headers; `None` for
/// a name with `_`, which is dropped: `X-Auth_User` and `X-Auth-User` would both be
/// `HTTP_X_AUTH_USER`, letting a client smuggle a header past a proxy that checks the
/// other spelling (Werkzeug's development server and gunicorn drop them too).
fn header_key<'py>(py: Python<'py>, name: &HeaderName) -> Option<Bound<'py, PyString>> {
    macro_rules! known {
        ($($header:literal => $key:literal),* $(,)?) => {
            match name.as_str() {
                $($header => return Some(intern!(py, $key).clone()),)*
                _ => {}
            }
        };
    }
    known!(
        "host" => "HTTP_HOST",
        "user-agent" => "HTTP_USER_AGENT",
        "accept" => "HTTP_ACCEPT",
        "accept-encoding" => "HTTP_ACCEPT_ENCODING",
        "accept-language" => "HTTP_ACCEPT_LANGUAGE",
        "connection" => "HTTP_CONNECTION",
        "cookie" => "HTTP_COOKIE",
        "referer" => "HTTP_REFERER",
        "origin" => "HTTP_ORIGIN",
        "cache-control" => "HTTP_CACHE_CONTROL",
        "authorization" => "HTTP_AUTHORIZATION",
        "upgrade" => "HTTP_UPGRADE",
        "if-none-match" => "HTTP_IF_NONE_MATCH",
        "if-modified-since" => "HTTP_IF_MODIFIED_SINCE",
        "x-forwarded-for" => "HTTP_X_FORWARDED_FOR",
        "x-forwarded-proto" => "HTTP_X_FORWARDED_PROTO",
        "x-requested-with" => "HTTP_X_REQUESTED_WITH",
        "content-type" => "CONTENT_TYPE",
        "content-length" => "CONTENT_LENGTH",
    );
    let name = name.as_str();
    if name.contains('_') {
        return None;
    }
    let mut key = String::with_capacity(5 + name.len());
    key.push_str("HTTP_");
    key.extend(name.chars().map(|c| {
        if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    Some(PyString::new(py, &key))
}

/// Bytes as a latin-1 str (PEP 3333's "native strings").
fn latin1_str<'py>(py: Python<'py>, bytes: &[u8]) -> Bound<'py, PyString> {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.is_ascii() => PyString::new(py, text),
        _ => {
            let text: String = bytes.iter().map(|&b| char::from(b)).collect();
            PyString::new(py, &text)
        }
    }
}

/// The percent-decoded path, as bytes (`%2F` included: WSGI has only the decoded path).
fn percent_decode(path: &str) -> std::borrow::Cow<'_, [u8]> {
    if !path.contains('%') {
        return std::borrow::Cow::Borrowed(path.as_bytes());
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// `SERVER_NAME` and `SERVER_PORT` from a `Host` header (`name`, `name:port`,
/// `[v6]:port`).
pub(crate) fn split_host(host: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = host.strip_prefix('[') {
        let (name, after) = rest.split_once(']')?;
        return Some((name, after.strip_prefix(':').filter(|p| !p.is_empty())));
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => {
            Some((name, Some(port)))
        }
        _ => Some((host, None)),
    }
}

fn protocol_str<'py>(py: Python<'py>, version: Version) -> Bound<'py, PyString> {
    match version {
        Version::HTTP_10 => intern!(py, "HTTP/1.0").clone(),
        Version::HTTP_09 => intern!(py, "HTTP/0.9").clone(),
        Version::HTTP_2 => intern!(py, "HTTP/2").clone(),
        Version::HTTP_3 => intern!(py, "HTTP/3").clone(),
        _ => intern!(py, "HTTP/1.1").clone(),
    }
}

/// The environ of one request, straight from hyper's request head.
fn environ<'py>(
    py: Python<'py>,
    mount: &Mount,
    parts: &Parts,
    connection: Option<ConnectionInfo>,
    input: &Bound<'py, Input>,
) -> PyResult<Bound<'py, PyDict>> {
    let env = PyDict::new(py);
    let uri = &parts.uri;
    env.set_item(intern!(py, "REQUEST_METHOD"), method_str(py, &parts.method))?;
    env.set_item(intern!(py, "SCRIPT_NAME"), intern!(py, ""))?;
    env.set_item(
        intern!(py, "PATH_INFO"),
        latin1_str(py, &percent_decode(uri.path())),
    )?;
    env.set_item(intern!(py, "QUERY_STRING"), uri.query().unwrap_or(""))?;
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path(), |pq| pq.as_str());
    let target = PyString::new(py, target);
    env.set_item(intern!(py, "REQUEST_URI"), &target)?;
    env.set_item(intern!(py, "RAW_URI"), &target)?;
    env.set_item(
        intern!(py, "SERVER_PROTOCOL"),
        protocol_str(py, parts.version),
    )?;
    let scheme = mount.options.url_scheme;
    if let Some(connection) = connection {
        env.set_item(
            intern!(py, "REMOTE_ADDR"),
            connection.remote.ip().to_string(),
        )?;
        env.set_item(
            intern!(py, "REMOTE_PORT"),
            connection.remote.port().to_string(),
        )?;
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(split_host);
    match (host, connection) {
        (Some((name, port)), _) => {
            env.set_item(intern!(py, "SERVER_NAME"), name)?;
            env.set_item(
                intern!(py, "SERVER_PORT"),
                port.unwrap_or(scheme.default_port()),
            )?;
        }
        (None, Some(connection)) => {
            env.set_item(
                intern!(py, "SERVER_NAME"),
                connection.local.ip().to_string(),
            )?;
            env.set_item(
                intern!(py, "SERVER_PORT"),
                connection.local.port().to_string(),
            )?;
        }
        (None, None) => {
            env.set_item(intern!(py, "SERVER_NAME"), "localhost")?;
            env.set_item(intern!(py, "SERVER_PORT"), scheme.default_port())?;
        }
    }
    for name in parts.headers.keys() {
        let Some(key) = header_key(py, name) else {
            continue;
        };
        let mut values = parts.headers.get_all(name).iter();
        let Some(first) = values.next() else {
            continue;
        };
        match values.next() {
            None => env.set_item(key, latin1_str(py, first.as_bytes()))?,
            Some(second) => {
                // Repeated headers are joined into one value: with "; " for cookies (the
                // Cookie header's own separator), ", " for every other header (RFC 9110).
                let separator: &[u8] = if name == header::COOKIE { b"; " } else { b", " };
                let mut joined = first.as_bytes().to_vec();
                for value in std::iter::once(second).chain(values) {
                    joined.extend_from_slice(separator);
                    joined.extend_from_slice(value.as_bytes());
                }
                env.set_item(key, latin1_str(py, &joined))?;
            }
        }
    }
    env.set_item(intern!(py, "wsgi.version"), mount.version.bind(py))?;
    env.set_item(intern!(py, "wsgi.url_scheme"), scheme.as_str())?;
    env.set_item(intern!(py, "wsgi.input"), input)?;
    env.set_item(intern!(py, "wsgi.input_terminated"), true)?;
    env.set_item(intern!(py, "wsgi.errors"), mount.errors.bind(py))?;
    env.set_item(intern!(py, "wsgi.multithread"), true)?;
    env.set_item(intern!(py, "wsgi.multiprocess"), false)?;
    env.set_item(intern!(py, "wsgi.run_once"), false)?;
    Ok(env)
}

/// One line of the access log, in the Common Log Format with the duration added:
/// `127.0.0.1 - - [01/Dec/2026:15:04:05 +0000] "GET /path?q=1 HTTP/1.1" 200 13 0.000412`
/// (remote address, the date in UTC, the request line, the status, the body bytes sent
/// or `-`, the seconds from the request's arrival until its last body byte was handed
/// on). A client that left before the head went out is logged with status `-`.
fn access_line(
    py: Python<'_>,
    mount: &Mount,
    parts: &Parts,
    connection: Option<ConnectionInfo>,
    responder: &Responder,
    started: Instant,
) {
    let line = clf_line(
        parts,
        connection,
        responder.sent_status,
        responder.sent,
        started,
    );
    if let Err(error) = mount
        .access
        .bind(py)
        .call_method1(intern!(py, "info"), ("%s", line))
    {
        error.print(py);
    }
}

/// The text of an access-log line (see [`access_line`]).
fn clf_line(
    parts: &Parts,
    connection: Option<ConnectionInfo>,
    status: Option<StatusCode>,
    sent: u64,
    started: Instant,
) -> String {
    let remote = connection.map_or_else(|| "-".to_owned(), |c| c.remote.ip().to_string());
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    let status = status.map_or_else(|| "-".to_owned(), |s| s.as_u16().to_string());
    let bytes = if sent == 0 {
        "-".to_owned()
    } else {
        sent.to_string()
    };
    format!(
        "{remote} - - [{}] \"{} {target} {:?}\" {status} {bytes} {:.6}",
        clf_date(SystemTime::now()),
        parts.method,
        parts.version,
        started.elapsed().as_secs_f64()
    )
}

/// `01/Dec/2026:15:04:05 +0000`, in UTC.
fn clf_date(now: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_common_log_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_137_457);
        assert_eq!(clf_date(t), "01/Dec/2026:15:04:17 +0000");
        assert_eq!(
            clf_date(SystemTime::UNIX_EPOCH),
            "01/Jan/1970:00:00:00 +0000"
        );
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(clf_date(leap), "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn paths_are_percent_decoded() {
        assert_eq!(&*percent_decode("/a%20b/%2F/%e9"), b"/a b///\xe9");
        assert_eq!(&*percent_decode("/plain"), b"/plain");
        assert_eq!(&*percent_decode("/bad%zz%4"), b"/bad%zz%4");
        assert_eq!(&*percent_decode("/end%41"), b"/endA");
    }

    #[test]
    fn hosts_split_into_name_and_port() {
        assert_eq!(split_host("example.com"), Some(("example.com", None)));
        assert_eq!(
            split_host("example.com:8080"),
            Some(("example.com", Some("8080")))
        );
        assert_eq!(split_host("[::1]:5000"), Some(("::1", Some("5000"))));
        assert_eq!(split_host("[::1]"), Some(("::1", None)));
        assert_eq!(split_host("[::1"), None);
    }

    #[test]
    fn statuses_parse_with_their_reason() {
        let (code, reason) = parse_status("200 OK").expect("parses");
        assert_eq!((code, reason), (StatusCode::OK, None));
        let (code, reason) = parse_status("299 Fine Thanks").expect("parses");
        assert_eq!(code.as_u16(), 299);
        assert_eq!(reason.expect("custom").as_bytes(), b"Fine Thanks");
    }
}
