//! A plain Engine.IO v4 server (no Socket.IO) on ferrosocket's engine: every text and
//! binary message comes back to its sender. The text `close` makes the server close the
//! session instead, and `count` answers with how many messages the session sent so far
//! (per-session state kept in the session, see `Handler::Data`).
//!
//! ```text
//! engineio-echo [--host 127.0.0.1] [--port 3000] [--path /engine.io/]
//!               [--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES]
//! ```
//!
//! Prints `LISTENING <addr>` once it accepts connections (tests/python/test_engineio_echo.py
//! reads that line) and stops on Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrosocket::engine::{Engine, Handler, Session};
use ferrosocket::{Config, DisconnectReason};

/// The echo handler. One for the whole server; the engine calls it on the I/O task of
/// the session a message came from.
struct Echo;

/// What the echo keeps per session, inline in the engine's session.
#[derive(Default)]
struct Counter {
    messages: AtomicU64,
}

impl Handler for Echo {
    type Data = Counter;

    fn on_open(&self, session: &Arc<Session<Self>>) {
        eprintln!("engineio-echo: {} opened", session.id());
    }

    fn on_message(&self, session: &Arc<Session<Self>>, text: &str) -> Result<(), DisconnectReason> {
        let seen = session.data().messages.fetch_add(1, Ordering::Relaxed) + 1;
        match text {
            // `ServerNamespaceDisconnect` is the reason for "the server closed it".
            "close" => session.close(DisconnectReason::ServerNamespaceDisconnect),
            "count" => {
                let _ = session.send_text(&seen.to_string());
            }
            // A full queue closes the session by itself; nothing else to do here.
            text => {
                let _ = session.send_text(text);
            }
        }
        Ok(())
    }

    fn on_binary(&self, session: &Arc<Session<Self>>, data: Bytes) -> Result<(), DisconnectReason> {
        session.data().messages.fetch_add(1, Ordering::Relaxed);
        let _ = session.send_binary(data);
        Ok(())
    }

    fn on_close(&self, session: &Arc<Session<Self>>, reason: DisconnectReason) {
        eprintln!("engineio-echo: {} closed: {reason}", session.id());
    }
}

fn parse_args() -> Result<(String, u16, Config), String> {
    let (mut host, mut port) = ("127.0.0.1".to_owned(), 3000u16);
    let mut builder = Config::builder().path("/engine.io/");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--host" => host = value,
            "--port" => port = value.parse().map_err(|e| format!("--port: {e}"))?,
            "--path" => builder = builder.path(value),
            "--ping-interval" => {
                builder = builder.ping_interval(Duration::from_millis(number(&value)?));
            }
            "--ping-timeout" => {
                builder = builder.ping_timeout(Duration::from_millis(number(&value)?));
            }
            "--max-payload" => builder = builder.max_payload(number(&value)? as usize),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok((host, port, builder.build()))
}

#[tokio::main]
async fn main() {
    let (host, port, config) = match parse_args() {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("engineio-echo: {error}");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind((host.as_str(), port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("engineio-echo: cannot bind {host}:{port}: {error}");
            std::process::exit(1);
        }
    };
    let engine = Engine::new(config, Echo);
    match listener.local_addr() {
        Ok(addr) => println!("LISTENING {addr}"),
        Err(error) => eprintln!("engineio-echo: {error}"),
    }
    let _ = std::io::stdout().flush();
    if let Err(error) = engine.run(listener, ferrosocket::shutdown_signal()).await {
        eprintln!("engineio-echo: {error}");
        std::process::exit(1);
    }
}
