//! The core's log events in Python's `logging`.
//!
//! Events are logged on any server thread, I/O threads included, which must never wait
//! for the GIL. So the sink only formats the event and puts it in a bounded queue
//! (dropping it, and counting, when the queue is full); one thread, `ferrosocket-log`,
//! takes the GIL and hands each record to `logging.getLogger(<target>)`, the target's
//! `::` turned into dots (`ferrosocket.engine.websocket`), so the `ferrosocket` logger
//! and its handlers see everything.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use ferrosocket::embed::{set_log_sink, LogLevel, LogSink};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tracing::Level;

/// Records waiting for the GIL; beyond it they are dropped (and counted).
const QUEUE: usize = 4096;

struct Record {
    level: Level,
    target: String,
    message: String,
}

/// The queue's sending side, once the forwarding thread runs.
static SENDER: OnceLock<SyncSender<Record>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Set at interpreter exit: nothing more is handed to Python.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// Set while the forwarding thread takes the GIL or holds it.
static BUSY: AtomicBool = AtomicBool::new(false);
/// The verbosest level asked for so far, as [`LogLevel::number`].
static LEVEL: AtomicU8 = AtomicU8::new(0);
/// Serializes level changes.
static CHANGE: Mutex<()> = Mutex::new(());

fn python_level(level: Level) -> u32 {
    match level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// A Python logging level as the core's: everything at or above it.
fn level_of(python: i64) -> LogLevel {
    match python {
        i64::MIN..=9 => LogLevel::Trace,
        10..=19 => LogLevel::Debug,
        20..=29 => LogLevel::Info,
        30..=39 => LogLevel::Warn,
        _ => LogLevel::Error,
    }
}

fn forward(records: Receiver<Record>) {
    while let Ok(record) = records.recv() {
        // BUSY before CLOSED here, CLOSED before BUSY in close_logs: once close_logs has
        // seen BUSY false, this thread never takes the GIL again (a thread that takes it
        // while the interpreter finalizes is ended by CPython under its Rust frames).
        BUSY.store(true, Ordering::SeqCst);
        if CLOSED.load(Ordering::SeqCst) {
            BUSY.store(false, Ordering::SeqCst);
            continue;
        }
        let dropped = DROPPED.swap(0, Ordering::AcqRel);
        Python::attach(|py| {
            if dropped > 0 {
                emit(
                    py,
                    "ferrosocket",
                    30,
                    &format!("{dropped} log messages dropped (the log queue was full)"),
                );
            }
            emit(
                py,
                &record.target.replace("::", "."),
                python_level(record.level),
                &record.message,
            );
        });
        BUSY.store(false, Ordering::SeqCst);
    }
}

fn emit(py: Python<'_>, name: &str, level: u32, message: &str) {
    let result = py
        .import("logging")
        .and_then(|logging| logging.call_method1("getLogger", (name,)))
        .and_then(|logger| logger.call_method1("log", (level, "%s", message)));
    if let Err(error) = result {
        error.print(py);
    }
}

fn sink() -> PyResult<LogSink> {
    let sender = match SENDER.get() {
        Some(sender) => sender.clone(),
        None => {
            let (sender, records) = sync_channel(QUEUE);
            std::thread::Builder::new()
                .name("ferrosocket-log".into())
                .spawn(move || forward(records))
                .map_err(|e| {
                    PyRuntimeError::new_err(format!("cannot start the log thread: {e}"))
                })?;
            SENDER.get_or_init(|| sender).clone()
        }
    };
    Ok(Arc::new(move |level, target, message| {
        let record = Record {
            level,
            target: target.to_owned(),
            message: message.to_owned(),
        };
        if let Err(TrySendError::Full(_)) = sender.try_send(record) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }))
}

/// Forwards the core's events at Python logging level `level` and above to `logging`.
/// Process-wide, and only ever more verbose: a quieter level than the current one is
/// ignored (another server in the process asked for more).
#[pyfunction]
pub(crate) fn forward_logs(level: i64) -> PyResult<()> {
    let _change = CHANGE.lock().unwrap_or_else(|p| p.into_inner());
    let level = level_of(level);
    if level.number() <= LEVEL.load(Ordering::Acquire) || CLOSED.load(Ordering::Acquire) {
        return Ok(());
    }
    set_log_sink(level, Some(sink()?))
        .map_err(|e| PyRuntimeError::new_err(format!("cannot forward logs: {e}")))?;
    LEVEL.store(level.number(), Ordering::Release);
    Ok(())
}

/// Stops forwarding for good (the interpreter is exiting): returns once the forwarding
/// thread will not take the GIL again.
#[pyfunction]
pub(crate) fn close_logs(py: Python<'_>) {
    let _change = CHANGE.lock().unwrap_or_else(|p| p.into_inner());
    CLOSED.store(true, Ordering::SeqCst);
    if LEVEL.swap(0, Ordering::AcqRel) != 0 {
        let _ = set_log_sink(LogLevel::Off, None);
    }
    // The forwarding thread may be waiting for the GIL this thread holds: let go of it
    // until that thread is done (bounded: a handler it calls could block).
    py.detach(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while BUSY.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
}
