//! The library's `tracing` events for hosts that are not Rust: one process-wide sink.
//!
//! [`set_log_sink`] installs, on first use, a minimal global `tracing` subscriber that
//! hands every event (its level, target and text) to one sink function; spans, which
//! the library does not use, are ignored. Later calls swap the sink and the level.
//! Callsites above the level are disabled through tracing's interest cache, so a quiet
//! level costs the hot paths nothing. The C ABI sends the events to a C callback or
//! stderr, the Python binding to Python's `logging`. [`LogLevel`] is the one spelling of
//! a verbosity every binding maps its own (a C constant, a Python logging number) to.
//! Never blocks an I/O thread: what the sink does with an event is the binding's job.

use std::cell::Cell;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata};

/// Receives one event: its level, its target (the module that logged, e.g.
/// `ferrosocket::engine`) and its text (the message, then every other field as
/// ` key=value`). Runs on the thread that logged (an I/O thread, a dispatch thread, or
/// a caller's), possibly on several at once: it must be quick and must not block on
/// the server. What it logs itself is dropped.
pub type LogSink = Arc<dyn Fn(Level, &str, &str) + Send + Sync>;

/// Why [`set_log_sink`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The process installed its own global `tracing` subscriber first; events go there.
    #[error("another global tracing subscriber is installed: {0}")]
    OtherSubscriber(String),
    /// Called from inside the sink, which would wait on itself.
    #[error("cannot change the log sink from inside it")]
    InSink,
}

/// How verbose the library's log is: a level lets through events of that level and
/// every more severe one; [`Off`](Self::Off) none. Ordered from quietest to most verbose,
/// so `a < b` means `a` lets fewer events through. The numbers (0 ..= 5) are those of the
/// C ABI's `ferrosocket_log_level`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum LogLevel {
    /// Nothing.
    #[default]
    Off = 0,
    /// Something failed.
    Error = 1,
    /// Something unexpected that the server handled (a client evicted as too slow).
    Warn = 2,
    /// Lifecycle: listening, stopping; clients closed for bad input.
    Info = 3,
    /// Per connection and per packet details.
    Debug = 4,
    /// Everything.
    Trace = 5,
}

impl LogLevel {
    /// Every level, quietest first.
    pub const ALL: [Self; 6] = [
        Self::Off,
        Self::Error,
        Self::Warn,
        Self::Info,
        Self::Debug,
        Self::Trace,
    ];

    /// The level numbered `number` (0 = off ..= 5 = trace), `None` past it.
    pub fn from_number(number: u32) -> Option<Self> {
        usize::try_from(number)
            .ok()
            .and_then(|n| Self::ALL.get(n))
            .copied()
    }

    /// Its number, 0 (off) ..= 5 (trace).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Its name in lower case, as [`FromStr`] reads it: `off`, `error`, `warn`, `info`,
    /// `debug`, `trace`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`LogLevel`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level {0:?} (expected off, error, warn, info, debug or trace)")]
pub struct ParseLogLevelError(pub String);

impl FromStr for LogLevel {
    type Err = ParseLogLevelError;

    /// A level's name in any case; `warning` is `warn` (Python's spelling), `none` is
    /// `off`; surrounding spaces are ignored.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.trim().to_ascii_lowercase();
        match name.as_str() {
            "off" | "none" => Ok(Self::Off),
            "error" => Ok(Self::Error),
            "warn" | "warning" => Ok(Self::Warn),
            "info" => Ok(Self::Info),
            "debug" => Ok(Self::Debug),
            "trace" => Ok(Self::Trace),
            _ => Err(ParseLogLevelError(text.to_owned())),
        }
    }
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::ERROR => Self::Error,
            Level::WARN => Self::Warn,
            Level::INFO => Self::Info,
            Level::DEBUG => Self::Debug,
            Level::TRACE => Self::Trace,
        }
    }
}

impl From<LevelFilter> for LogLevel {
    fn from(filter: LevelFilter) -> Self {
        filter.into_level().map_or(Self::Off, Self::from)
    }
}

impl From<LogLevel> for LevelFilter {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Off => LevelFilter::OFF,
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

/// The current [`LogLevel`]'s number.
static LEVEL: AtomicU8 = AtomicU8::new(0);
/// Held for reading while an event is delivered, so replacing the sink waits until no
/// call to the old one runs.
static SINK: RwLock<Option<LogSink>> = RwLock::new(None);
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

thread_local! {
    /// Set while this thread runs the sink.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

fn current() -> LevelFilter {
    LogLevel::from_number(u32::from(LEVEL.load(Ordering::Acquire)))
        .unwrap_or(LogLevel::Off)
        .into()
}

/// Sends the library's events of `level` and more severe to `sink`, process-wide; `None`
/// (or [`LogLevel::Off`]) turns forwarding off. `level` is a [`LogLevel`] or a tracing
/// [`LevelFilter`]. Once it returns, the previous sink is not running and is never called
/// again.
pub fn set_log_sink(level: impl Into<LogLevel>, sink: Option<LogSink>) -> Result<(), LogError> {
    let level: LogLevel = level.into();
    if IN_SINK.with(Cell::get) {
        return Err(LogError::InSink);
    }
    let installed = INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Forward).map_err(|e| e.to_string())
    });
    if let Err(error) = installed {
        return Err(LogError::OtherSubscriber(error.clone()));
    }
    {
        let mut current = SINK.write().unwrap_or_else(|p| p.into_inner());
        let level = if sink.is_some() { level.number() } else { 0 };
        *current = sink;
        LEVEL.store(level, Ordering::Release);
    }
    // Re-ask every callsite whether it is enabled, and update tracing's global max level.
    tracing::callsite::rebuild_interest_cache();
    Ok(())
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
        if IN_SINK.with(Cell::get) {
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
        if let Some(sink) = sink.as_ref() {
            let _in_sink = InSink::enter();
            sink(*metadata.level(), metadata.target(), &text.message);
        }
    }
}

/// Marks this thread as running the sink until dropped (also when the sink unwinds).
struct InSink;

impl InSink {
    fn enter() -> Self {
        IN_SINK.with(|flag| flag.set(true));
        Self
    }
}

impl Drop for InSink {
    fn drop(&mut self) {
        IN_SINK.with(|flag| flag.set(false));
    }
}
