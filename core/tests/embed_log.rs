//! `embed::set_log_sink`: the process-wide forwarding of the library's tracing events.
//! (Its own test binary: it installs the global subscriber.)

use std::sync::{Arc, Mutex};

use ferrosocket::embed::{set_log_sink, LogError, LogSink};
use tracing::level_filters::LevelFilter;
use tracing::Level;

type Seen = Arc<Mutex<Vec<(Level, String, String)>>>;

fn capture() -> (Seen, LogSink) {
    let seen: Seen = Arc::default();
    let sink_seen = Arc::clone(&seen);
    let sink: LogSink = Arc::new(move |level, target, message| {
        // What the sink logs itself is dropped, and it cannot swap the sink.
        tracing::warn!("from inside the sink");
        let swap = set_log_sink(LevelFilter::OFF, None);
        assert_eq!(swap, Err(LogError::InSink));
        sink_seen
            .lock()
            .expect("lock")
            .push((level, target.to_owned(), message.to_owned()));
    });
    (seen, sink)
}

#[test]
fn events_reach_the_sink_at_its_level_and_stop_when_turned_off() {
    let (seen, sink) = capture();
    set_log_sink(LevelFilter::INFO, Some(sink)).expect("installed");
    tracing::info!(target: "ferrosocket::probe", sid = "abc", n = 3, "hello");
    tracing::debug!(target: "ferrosocket::probe", "too verbose");
    tracing::warn!(target: "ferrosocket::probe", error = %"boom", "bad");
    {
        let seen = seen.lock().expect("lock");
        assert_eq!(
            *seen,
            vec![
                (
                    Level::INFO,
                    "ferrosocket::probe".to_owned(),
                    "hello sid=abc n=3".to_owned()
                ),
                (
                    Level::WARN,
                    "ferrosocket::probe".to_owned(),
                    "bad error=boom".to_owned()
                ),
            ]
        );
    }
    set_log_sink(LevelFilter::OFF, None).expect("off");
    tracing::error!(target: "ferrosocket::probe", "after off");
    assert_eq!(seen.lock().expect("lock").len(), 2);

    // A new sink at DEBUG replaces it; the old one is never called again.
    let (debug_seen, debug_sink) = capture();
    set_log_sink(LevelFilter::DEBUG, Some(debug_sink)).expect("swap");
    tracing::debug!(target: "ferrosocket::probe", "now visible");
    assert_eq!(debug_seen.lock().expect("lock").len(), 1);
    assert_eq!(seen.lock().expect("lock").len(), 2);
}

#[test]
fn log_levels_parse_order_and_convert() {
    use ferrosocket::embed::LogLevel;
    for level in LogLevel::ALL {
        assert_eq!(level.as_str().parse::<LogLevel>(), Ok(level));
        assert_eq!(
            level.to_string().to_uppercase().parse::<LogLevel>(),
            Ok(level)
        );
        assert_eq!(
            LogLevel::from_number(u32::from(level.number())),
            Some(level)
        );
        assert_eq!(LogLevel::from(LevelFilter::from(level)), level);
    }
    assert_eq!(" Warning ".parse::<LogLevel>(), Ok(LogLevel::Warn));
    assert_eq!("none".parse::<LogLevel>(), Ok(LogLevel::Off));
    let error = "loud".parse::<LogLevel>().expect_err("not a level");
    assert!(error.to_string().contains("\"loud\""), "{error}");
    assert_eq!(LogLevel::from_number(6), None);
    assert_eq!(LogLevel::from(Level::WARN), LogLevel::Warn);
    assert_eq!(LevelFilter::from(LogLevel::Off), LevelFilter::OFF);
    assert!(LogLevel::Off < LogLevel::Error && LogLevel::Debug < LogLevel::Trace);
    assert_eq!(LogLevel::default(), LogLevel::Off);
}
