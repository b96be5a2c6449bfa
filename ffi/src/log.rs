//! Logging: forwards the library's `tracing` events to a C callback or to stderr.
//!
//! The first call installs a global `tracing` subscriber for the whole process (a
//! minimal one: it forwards events and ignores spans, which the library does not use); later calls only swap the sink and the level. Callsites above the
//! level are disabled through tracing's interest cache, so a quiet level costs the hot
//! paths nothing.

use std::cell::Cell;
use std::ffi::c_void;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{OnceLock, RwLock};

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata};

use crate::error::{fail, ferrosocket_result, guard, Result};
use crate::ferrosocket_str;
use crate::server::UserData;

/// How verbose the log is, and the level of one message. A level lets through messages
/// of that level and every lower (more severe) one; `OFF` none.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrosocket_log_level {
    /// No messages (only as a threshold).
    Off = 0,
    /// Something failed.
    Error = 1,
    /// Something unexpected that the server handled (a client evicted as too slow).
    Warn = 2,
    /// Lifecycle: listening, stopping.
    Info = 3,
    /// Per connection and per packet details.
    Debug = 4,
    /// Everything.
    Trace = 5,
}

/// Receives one log message. `level` is `ERROR` .. `TRACE`; `target` is the Rust module
/// that logged (e.g. `ferrosocket::engine`); `message` is the text followed by the
/// event's fields as ` key=value`. Both are valid until the callback returns. Runs on
/// the thread that logged, which may be any server thread (I/O, dispatch) or a thread
/// calling a `ferrosocket_` function, possibly several at once: it must be thread-safe,
/// should be quick, and must not call any `ferrosocket_` function (messages logged from
/// inside it are dropped).
pub type ferrosocket_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: ferrosocket_log_level,
        target: ferrosocket_str,
        message: ferrosocket_str,
    ),
>;

type CLogFn =
    unsafe extern "C" fn(*mut c_void, ferrosocket_log_level, ferrosocket_str, ferrosocket_str);

#[derive(Debug, Clone, Copy)]
enum Sink {
    Off,
    Stderr,
    C(CLogFn, UserData),
}

/// The current level as a `ferrosocket_log_level` number.
static LEVEL: AtomicU32 = AtomicU32::new(0);
/// Where messages go. Held for reading while a message is delivered, so replacing the
/// sink waits until no old callback runs.
static SINK: RwLock<Sink> = RwLock::new(Sink::Off);
/// Whether our subscriber is the global one (`Err` text when another was set first).
static INSTALLED: OnceLock<std::result::Result<(), String>> = OnceLock::new();

thread_local! {
    /// Set while this thread delivers a message: what the sink logs is dropped, and
    /// changing the sink from inside it is refused (it would wait on itself).
    static IN_LOG: Cell<bool> = const { Cell::new(false) };
}

fn filter(level: u32) -> LevelFilter {
    match level {
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        5 => LevelFilter::TRACE,
        _ => LevelFilter::OFF,
    }
}

fn current() -> LevelFilter {
    filter(LEVEL.load(Ordering::Acquire))
}

fn level_out(level: Level) -> ferrosocket_log_level {
    match level {
        Level::ERROR => ferrosocket_log_level::Error,
        Level::WARN => ferrosocket_log_level::Warn,
        Level::INFO => ferrosocket_log_level::Info,
        Level::DEBUG => ferrosocket_log_level::Debug,
        Level::TRACE => ferrosocket_log_level::Trace,
    }
}

/// The message, then every other field as ` key=value`.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl tracing::field::Visit for Text {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

/// The global subscriber: events go to the sink; spans are not tracked.
struct Forward;

impl tracing::Subscriber for Forward {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if *metadata.level() <= current() {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= current()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(current())
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if IN_LOG.with(Cell::get) {
            return;
        }
        let metadata = event.metadata();
        if *metadata.level() > current() {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        text.message.push_str(&text.fields);
        let sink = SINK.read().unwrap_or_else(|p| p.into_inner());
        IN_LOG.with(|flag| flag.set(true));
        match *sink {
            Sink::Off => {}
            Sink::Stderr => {
                eprintln!(
                    "{} {}: {}",
                    metadata.level(),
                    metadata.target(),
                    text.message
                );
            }
            Sink::C(callback, userdata) => {
                // SAFETY: `callback` is a C function of this type, given to
                // `ferrosocket_set_log_callback`; the strings live until it returns.
                unsafe {
                    callback(
                        userdata.0,
                        level_out(*metadata.level()),
                        ferrosocket_str::from_str(metadata.target()),
                        ferrosocket_str::from_str(&text.message),
                    );
                }
            }
        }
        IN_LOG.with(|flag| flag.set(false));
    }
}

fn set_sink(level: u32, sink: Sink) -> Result<()> {
    if level > ferrosocket_log_level::Trace as u32 {
        return fail(
            ferrosocket_result::InvalidArgument,
            format!("log level {level} is not a FERROSOCKET_LOG_LEVEL_* constant"),
        );
    }
    if IN_LOG.with(Cell::get) {
        return fail(
            ferrosocket_result::InCallback,
            "cannot change logging from the log callback",
        );
    }
    let installed = INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Forward).map_err(|e| e.to_string())
    });
    if let Err(error) = installed {
        return fail(
            ferrosocket_result::InvalidState,
            format!("another global tracing subscriber is installed: {error}"),
        );
    }
    {
        let mut current = SINK.write().unwrap_or_else(|p| p.into_inner());
        *current = sink;
        LEVEL.store(
            if matches!(sink, Sink::Off) { 0 } else { level },
            Ordering::Release,
        );
    }
    // Re-ask every callsite whether it is enabled, and update tracing's global max level.
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

/// Sends the library's log messages of `level` (a `FERROSOCKET_LOG_LEVEL_*` constant) and
/// more severe to `callback` with `userdata` (see `ferrosocket_log_callback` for its
/// thread and rules). Process-wide: replaces an earlier callback or
/// `ferrosocket_log_to_stderr`; once it returns the earlier callback is not running and
/// is never called again. `callback` NULL or level `OFF` turns logging off. Without a
/// call the library logs nothing. Any thread, any time, except from the log callback
/// itself (`FERROSOCKET_RESULT_IN_CALLBACK`). `FERROSOCKET_RESULT_INVALID_STATE` when the
/// process (a Rust host) installed its own global `tracing` subscriber first.
#[no_mangle]
pub extern "C" fn ferrosocket_set_log_callback(
    level: u32,
    callback: ferrosocket_log_callback,
    userdata: *mut c_void,
) -> ferrosocket_result {
    guard("ferrosocket_set_log_callback", || match callback {
        Some(callback) => set_sink(level, Sink::C(callback, UserData(userdata))),
        None => set_sink(level, Sink::Off),
    })
}

/// Writes the library's log messages of `level` and more severe to stderr, one line each
/// (`WARN ferrosocket::embed: message key=value`). Replaces a log callback; level `OFF`
/// turns logging off. Same rules as `ferrosocket_set_log_callback`.
#[no_mangle]
pub extern "C" fn ferrosocket_log_to_stderr(level: u32) -> ferrosocket_result {
    guard("ferrosocket_log_to_stderr", || {
        set_sink(level, if level == 0 { Sink::Off } else { Sink::Stderr })
    })
}
