//! The library's `tracing` events for hosts that are not Rust: one process-wide sink.
//!
//! [`set_log_sink`] installs, on first use, a minimal global `tracing` subscriber that
//! hands every event (its level, target and text) to one sink function; spans, which
//! the library does not use, are ignored. Later calls swap the sink and the level.
//! Callsites above the level are disabled through tracing's interest cache, so a quiet
//! level costs the hot paths nothing. The C ABI sends the events to a C callback or
//! stderr, the Python binding to Python's `logging`.

use std::cell::Cell;
use std::fmt::Write as _;
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

/// The level as 0 (off) ..= 5 (trace).
static LEVEL: AtomicU8 = AtomicU8::new(0);
/// Held for reading while an event is delivered, so replacing the sink waits until no
/// call to the old one runs.
static SINK: RwLock<Option<LogSink>> = RwLock::new(None);
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

thread_local! {
    /// Set while this thread runs the sink.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

fn level_number(level: LevelFilter) -> u8 {
    match level.into_level() {
        None => 0,
        Some(Level::ERROR) => 1,
        Some(Level::WARN) => 2,
        Some(Level::INFO) => 3,
        Some(Level::DEBUG) => 4,
        Some(Level::TRACE) => 5,
    }
}

fn current() -> LevelFilter {
    match LEVEL.load(Ordering::Acquire) {
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        5 => LevelFilter::TRACE,
        _ => LevelFilter::OFF,
    }
}

/// Sends the library's events of `level` and more severe to `sink`, process-wide; `None`
/// (or [`LevelFilter::OFF`]) turns forwarding off. Once it returns, the previous sink is
/// not running and is never called again.
pub fn set_log_sink(level: LevelFilter, sink: Option<LogSink>) -> Result<(), LogError> {
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
        let level = if sink.is_some() {
            level_number(level)
        } else {
            0
        };
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
