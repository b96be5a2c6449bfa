//! socketioxide peer for ferrosocket's loadgen: events `ack`, `join`, `emit` on `/`
//! (tests/test-server/SPEC.md), `sleep` (1 ms tokio sleep, then acks with its argument)
//! and `chat` (`{"room": r, ...}`: emits `chat` with the same object to room r).
//!
//! Usage: socketioxide-peer [--host 127.0.0.1] [--port 0]
//! Prints `LISTENING 127.0.0.1:<port>` once ready; SIGTERM/SIGINT: graceful stop, exit 0.

use std::io::Write as _;

use axum::serve::ListenerExt as _;
use serde::Deserialize;
use serde_json::Value;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;

#[derive(Debug, Deserialize)]
struct EmitReq {
    #[serde(default)]
    to: Option<Vec<String>>,
    event: String,
    #[serde(default)]
    args: Vec<Value>,
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() {
    let host = arg("--host", "127.0.0.1");
    let port = arg("--port", "0");

    // Per-socket send buffer: socketioxide drops a packet for a socket whose buffer is full
    // (128 packets by default). 1024 is ferrosocket's default queue (tests/test-server).
    let (layer, io) = SocketIo::builder().max_buffer_size(1024).build_layer();
    let io2 = io.clone();
    // The handlers are registered in the closure itself, which returns a ready future:
    // socketioxide sends the CONNECT acknowledgement, then calls the closure and spawns
    // its future. With an `async` closure the registrations would run only once that task
    // is polled, and an event sent right after the acknowledgement (loadgen's `join`)
    // could reach a socket with no handler yet and be dropped (seen under load as
    // "join timeout").
    io.ns("/", move |s: SocketRef| {
        s.on("ack", async |Data(v): Data<Value>, ack: AckSender| {
            let _ = ack.send(&v);
        });
        s.on(
            "join",
            async |s: SocketRef, Data(room): Data<String>, ack: AckSender| {
                s.join(room);
                let mut rooms: Vec<String> = s.rooms().into_iter().map(|r| r.to_string()).collect();
                rooms.push(s.id.to_string());
                rooms.sort();
                let _ = ack.send(&rooms);
            },
        );
        s.on("sleep", async |Data(v): Data<Value>, ack: AckSender| {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            let _ = ack.send(&v);
        });
        let io = io2.clone();
        s.on("chat", async move |Data(msg): Data<Value>| {
            if let Some(room) = msg.get("room").and_then(Value::as_str) {
                let _ = io.within(room.to_owned()).emit("chat", &msg).await;
            }
        });
        let io = io2.clone();
        s.on(
            "emit",
            async move |Data(req): Data<EmitReq>, ack: AckSender| {
                let op = match req.to {
                    Some(to) if !to.is_empty() => io.within(to),
                    _ => io.of("/").expect("namespace /"),
                };
                // One argument is sent as one argument; otherwise the list is sent as one array
                // argument (socketioxide spreads only tuples).
                let res = match req.args.len() {
                    1 => op.emit(req.event, &req.args[0]).await,
                    _ => op.emit(req.event, &req.args).await,
                };
                let _ = ack.send(&res.is_ok());
            },
        );
        std::future::ready(())
    });

    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(format!("{host}:{port}"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    println!("LISTENING {addr}");
    let _ = std::io::stdout().flush();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        })
        .await
        .expect("serve");
}
