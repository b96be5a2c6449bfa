//! The counters (`Server::metrics`) follow what real connections do, and `/metrics`
//! answers them in the Prometheus text format on a listener of its own.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use bytes::Bytes;
use ferrosocket::metrics::{Refusal, TransportKind};
use ferrosocket::{Config, DisconnectReason, Payload, Server};
use support::*;

fn echo_server(config: Config) -> Server {
    let server = Server::new(config);
    server.of("/").on("echo", |_socket, mut event| async move {
        let _ = event.ack_echo();
    });
    server.of("/").on("ask", |socket, _event| async move {
        let _ = socket
            .emit_with_ack(
                "question",
                &Payload::one(&1).unwrap(),
                Duration::from_millis(200),
            )
            .await;
    });
    server
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn counters_follow_websocket_and_polling_clients() {
    let server = echo_server(Config::default());
    let handle = server.clone();
    let running = start(server).await;

    let (mut ws, _) = WsClient::connected(running.addr).await;
    let sid = polling_open(running.addr).await;
    let (status, _, _) = http(running.addr, "POST", &polling(Some(&sid)), &[], "40").await;
    assert_eq!(status, 200);
    eventually("both sockets in /", || {
        handle
            .namespace_socket_counts()
            .contains(&("/".to_owned(), 2))
    })
    .await;
    let m = handle.metrics();
    assert_eq!(m.connections(TransportKind::WebSocket), 1);
    assert_eq!(m.connections(TransportKind::Polling), 1);
    assert_eq!(m.accepted(TransportKind::WebSocket), 1);
    assert_eq!(m.accepted(TransportKind::Polling), 1);

    for n in 0..3 {
        ws.send(&format!(r#"42{n}["echo","x"]"#)).await;
        assert_eq!(ws.recv().await, format!(r#"43{n}["x"]"#));
    }
    let m = handle.metrics();
    assert_eq!(m.events_received, 3);
    assert!(m.packets_received >= 4, "{m:?}");
    assert!(
        m.bytes_received >= 3 * r#"20["echo","x"]"#.len() as u64,
        "{m:?}"
    );
    // Both open packets, the websocket's connect ack and its three acks; the polling
    // client's connect ack waits for a GET it never sends.
    assert_eq!(m.packets_sent, 6, "{m:?}");
    assert!(m.bytes_sent > 0);

    // An ack the client never sends: pending, then timed out.
    ws.send(r#"42["ask"]"#).await;
    assert!(ws.recv().await.contains("question"));
    eventually("one ack pending", || handle.metrics().acks_pending == 1).await;
    eventually("the ack timed out", || handle.metrics().ack_timeouts == 1).await;
    assert_eq!(handle.metrics().acks_pending, 0);
    assert_eq!(handle.metrics().events_sent, 1);

    handle.emit("news", &Payload::one(&"all").unwrap());
    assert_eq!(handle.metrics().events_sent, 3, "one per recipient");

    // The client goes: counted off its transport, with its reason.
    drop(ws);
    eventually("the websocket counted closed", || {
        handle.metrics().connections(TransportKind::WebSocket) == 0
    })
    .await;
    assert_eq!(
        handle
            .metrics()
            .disconnects(DisconnectReason::TransportClose),
        1
    );
    assert_eq!(handle.metrics().connections(TransportKind::Polling), 1);
    running.shutdown().await;
    let m = handle.metrics();
    assert_eq!(m.connections, [0, 0, 0], "{m:?}");
    assert_eq!(m.disconnects(DisconnectReason::ServerShuttingDown), 1);
}

#[tokio::test]
async fn an_upgrade_moves_the_connection_to_websocket() {
    let server = echo_server(Config::default());
    let handle = server.clone();
    let running = start(server).await;
    let sid = polling_open(running.addr).await;
    let mut ws = WsClient::raw(running.addr, &format!("&sid={sid}")).await;
    ws.send("2probe").await;
    assert_eq!(ws.recv().await, "3probe");
    ws.send("5").await;
    eventually("the upgrade counted", || handle.metrics().upgrades == 1).await;
    let m = handle.metrics();
    assert_eq!(m.connections(TransportKind::WebSocket), 1);
    assert_eq!(m.connections(TransportKind::Polling), 0);
    assert_eq!(m.accepted(TransportKind::Polling), 1);
    assert_eq!(m.accepted(TransportKind::WebSocket), 0);
    drop(ws);
    eventually("closed", || handle.metrics().connections == [0, 0, 0]).await;
    running.shutdown().await;
}

#[tokio::test]
async fn refusals_are_counted_by_reason() {
    let server = Server::new(Config::default());
    let handle = server.clone();
    let running = start(server).await;
    let (status, _, _) = http(
        running.addr,
        "GET",
        "/socket.io/?EIO=3&transport=polling",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(status, 400);
    let origin = [("origin", "http://elsewhere.test")];
    let (status, _, _) = http(running.addr, "GET", &polling(None), &origin, Bytes::new()).await;
    assert_eq!(status, 403);
    let m = handle.metrics();
    assert_eq!(m.refused(Refusal::BadHandshake), 1);
    assert_eq!(m.refused(Refusal::Origin), 1);
    assert_eq!(m.refused(Refusal::MaxConnections), 0);
    running.shutdown().await;

    // One connection held open: the next one is over max_connections.
    let server = Server::new(Config::builder().max_connections(1).build());
    let handle = server.clone();
    let running = start(server).await;
    let (_held, _) = WsClient::open(running.addr).await;
    let extra = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    eventually("the extra connection refused", || {
        handle.metrics().refused(Refusal::MaxConnections) == 1
    })
    .await;
    drop(extra);
    running.shutdown().await;
}

#[tokio::test]
async fn metrics_listener_serves_the_text_format() {
    let server = echo_server(Config::default());
    let scraped = server.clone();
    let running = start(server).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        scraped
            .serve_metrics(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    let (_ws, _) = WsClient::connected(running.addr).await;

    let (status, headers, body) = http(addr, "GET", "/metrics", &[], Bytes::new()).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains("# TYPE ferrosocket_connections gauge\n"),
        "{text}"
    );
    assert!(
        text.contains("ferrosocket_connections{transport=\"websocket\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("ferrosocket_namespace_sockets{namespace=\"/\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("ferrosocket_disconnects_total{reason=\"ping timeout\"} 0\n"),
        "{text}"
    );
    // Every sample line is `name{labels} value` of a family declared above it.
    let mut declared = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            declared.push(rest.split(' ').next().unwrap().to_owned());
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(Some(name), declared.last().map(String::as_str), "{line}");
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
    let (status, _, _) = http(addr, "GET", "/other", &[], Bytes::new()).await;
    assert_eq!(status, 404);
    let (status, _, _) = http(addr, "POST", "/metrics", &[], Bytes::new()).await;
    assert_eq!(status, 405);
    // The Socket.IO port does not answer it.
    let (status, _, _) = http(running.addr, "GET", "/metrics", &[], Bytes::new()).await;
    assert_eq!(status, 404);

    let _ = stop.send(());
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    running.shutdown().await;
}
