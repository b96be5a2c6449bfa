//! Logging: forwards the library's `tracing` events to a C callback or to stderr,
//! through the core's process-wide sink (`ferrosocket::embed::set_log_sink`: a minimal
//! global subscriber installed on first use; callsites above the level cost nothing).
//! It never formats or filters messages itself: the core's sink does.

use std::ffi::c_void;
use std::sync::Arc;

use ferrosocket::embed::{set_log_sink, LogError, LogLevel, LogSink};

use crate::result::{fail, ferrosocket_result, Result};
use crate::slice::ferrosocket_str;
use crate::userdata::UserData;

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

impl From<LogLevel> for ferrosocket_log_level {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Off => Self::Off,
            LogLevel::Error => Self::Error,
            LogLevel::Warn => Self::Warn,
            LogLevel::Info => Self::Info,
            LogLevel::Debug => Self::Debug,
            LogLevel::Trace => Self::Trace,
        }
    }
}

/// Hands the sink to the core's process-wide log forwarding (`embed::set_log_sink`).
fn set_sink(level: u32, sink: Option<LogSink>) -> Result<()> {
    let Some(level) = LogLevel::from_number(level) else {
        return fail(
            ferrosocket_result::InvalidArgument,
            format!("log level {level} is not a FERROSOCKET_LOG_LEVEL_* constant"),
        );
    };
    match set_log_sink(level, sink) {
        Ok(()) => Ok(()),
        Err(error @ LogError::InSink) => fail(
            ferrosocket_result::InCallback,
            format!("cannot change logging from the log callback ({error})"),
        ),
        Err(error @ LogError::OtherSubscriber(_)) => {
            fail(ferrosocket_result::InvalidState, error.to_string())
        }
    }
}

fn c_sink(callback: CLogFn, userdata: UserData) -> LogSink {
    Arc::new(move |level, target, message| {
        // SAFETY: `callback` is a C function of this type, given to
        // `ferrosocket_log_set_callback`; the strings live until it returns.
        unsafe {
            callback(
                userdata.get(),
                ferrosocket_log_level::from(LogLevel::from(level)),
                ferrosocket_str::from_str(target),
                ferrosocket_str::from_str(message),
            );
        }
    })
}

fn stderr_sink() -> LogSink {
    Arc::new(|level, target, message| eprintln!("{level} {target}: {message}"))
}

/// Sends the library's log messages of `level` (a `FERROSOCKET_LOG_LEVEL_*` constant) and
/// more severe to `callback` with `userdata` (see `ferrosocket_log_callback` for its
/// thread and rules). Process-wide: replaces an earlier callback or
/// `ferrosocket_log_set_stderr`; once it returns the earlier callback is not running and
/// is never called again. `callback` NULL or level `OFF` turns logging off. Without a
/// call the library logs nothing. Any thread, any time, except from the log callback
/// itself (`FERROSOCKET_RESULT_IN_CALLBACK`). `FERROSOCKET_RESULT_INVALID_STATE` when the
/// process (a Rust host) installed its own global `tracing` subscriber first.
#[no_mangle]
pub extern "C" fn ferrosocket_log_set_callback(
    level: u32,
    callback: ferrosocket_log_callback,
    userdata: *mut c_void,
) -> ferrosocket_result {
    ffi_boundary!(|| { set_sink(level, callback.map(|c| c_sink(c, UserData::new(userdata)))) })
}

/// Writes the library's log messages of `level` and more severe to stderr, one line each
/// (`WARN ferrosocket::embed: message key=value`). Replaces a log callback; level `OFF`
/// turns logging off. Same rules as `ferrosocket_log_set_callback`.
#[no_mangle]
pub extern "C" fn ferrosocket_log_set_stderr(level: u32) -> ferrosocket_result {
    ffi_boundary!(|| { set_sink(level, Some(stderr_sink())) })
}
