//! The server over loopback, driven by raw WebSocket and HTTP clients.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrosocket::{Config, ConnectRefused, DisconnectReason, Payload, Server};
use serde_json::json;
use support::*;

fn echo_server(config: Config) -> Server {
    let server = Server::new(config);
    server.of("/").on("echo", |_socket, mut event| async move {
        let _ = event.ack_echo();
    });
    server
}

type Reasons = Arc<Mutex<Vec<DisconnectReason>>>;

fn record_disconnects(server: &Server) -> Reasons {
    let reasons: Reasons = Arc::default();
    let sink = Arc::clone(&reasons);
    server.of("/").on_disconnect(move |_socket, reason| {
        let sink = Arc::clone(&sink);
        async move { sink.lock().unwrap().push(reason) }
    });
    reasons
}

async fn wait_for_reason(reasons: &Reasons, reason: DisconnectReason) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !reasons.lock().unwrap().contains(&reason) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {reason} in {:?}",
            reasons.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn websocket_handshake_event_and_ack() {
    let running = start(echo_server(Config::default())).await;
    let (mut client, open) = WsClient::open(running.addr).await;
    let mut keys: Vec<_> = open.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "maxPayload",
            "pingInterval",
            "pingTimeout",
            "sid",
            "upgrades"
        ]
    );
    assert_eq!(open["upgrades"], json!([]));
    assert_eq!(open["pingInterval"], json!(25000));

    client.send("40").await;
    let sid = sid_of_connect(&client.recv().await);
    assert_ne!(
        sid,
        open["sid"].as_str().unwrap(),
        "namespace socket id differs from engine id"
    );

    client.send(r#"427["echo",1,"two",{"three":[3]}]"#).await;
    assert_eq!(client.recv().await, r#"437[1,"two",{"three":[3]}]"#);
    client.send(r#"428["echo"]"#).await;
    assert_eq!(client.recv().await, "438[]");
    running.shutdown().await;
}

#[tokio::test]
async fn binary_event_and_binary_ack() {
    let running = start(echo_server(Config::default())).await;
    let (mut client, _) = WsClient::connected(running.addr).await;
    client
        .send(r#"452-3["echo",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]"#)
        .await;
    client.send_binary(&[1, 2]).await;
    client.send_binary(&[3]).await;
    assert_eq!(
        client.recv().await,
        r#"462-3[{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]"#
    );
    assert_eq!(client.recv().await, "<bin:0102>");
    assert_eq!(client.recv().await, "<bin:03>");
    running.shutdown().await;
}

#[tokio::test]
async fn connect_handler_emits_after_ack_and_can_refuse() {
    let server = Server::new(Config::default());
    server.of("/").on_connect(|socket, auth| async move {
        let auth: serde_json::Value = auth.parse().unwrap();
        if auth["token"] != "ok" {
            return Err(ConnectRefused::new("denied").with_data(&json!({"code": 7})));
        }
        // Waiting inside the handler must not let the welcome overtake the ack.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = socket.emit("welcome", &Payload::one("hi").unwrap());
        Ok(())
    });
    let running = start(server).await;

    let (mut client, _) = WsClient::open(running.addr).await;
    client.send(r#"40{"token":"ok"}"#).await;
    assert!(client.recv().await.starts_with(r#"40{"sid":""#));
    assert_eq!(client.recv().await, r#"42["welcome","hi"]"#);

    let (mut refused, _) = WsClient::open(running.addr).await;
    refused.send(r#"40{"token":"bad"}"#).await;
    assert_eq!(
        refused.recv().await,
        r#"44{"message":"denied","data":{"code":7}}"#
    );

    refused.send("40/nope").await;
    assert_eq!(
        refused.recv().await,
        r#"44/nope,{"message":"Invalid namespace"}"#
    );
    running.shutdown().await;
}

#[tokio::test]
async fn server_to_client_ack_and_timeout() {
    let server = Server::new(Config::default());
    let results: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&results);
    server.of("/").on("ask", move |socket, _event| {
        let sink = Arc::clone(&sink);
        async move {
            let answer = socket
                .emit_with_ack(
                    "question",
                    &Payload::one(&1).unwrap(),
                    Duration::from_millis(300),
                )
                .await;
            sink.lock().unwrap().push(match answer {
                Ok(args) => args.json().to_owned(),
                Err(error) => error.to_string(),
            });
        }
    });
    let running = start(server).await;
    let (mut client, _) = WsClient::connected(running.addr).await;

    client.send(r#"42["ask"]"#).await;
    assert_eq!(client.recv().await, r#"420["question",1]"#);
    client.send(r#"430["yes",2]"#).await;
    client.send(r#"42["ask"]"#).await;
    assert_eq!(client.recv().await, r#"421["question",1]"#);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        *results.lock().unwrap(),
        [
            r#"["yes",2]"#.to_owned(),
            "acknowledgement timed out".to_owned()
        ]
    );
    running.shutdown().await;
}

#[tokio::test]
async fn rooms_broadcast_from_outside_and_except() {
    let server = Server::new(Config::default());
    server.of("/").on("join", |socket, mut event| async move {
        let room: String = event.args.first().unwrap();
        let _ = socket.join(room.as_str());
        let _ = event.ack(&Payload::empty());
    });
    let handle = server.clone();
    let running = start(server).await;
    let (mut a, sid_a) = WsClient::connected(running.addr).await;
    let (mut b, _) = WsClient::connected(running.addr).await;
    let (mut c, sid_c) = WsClient::connected(running.addr).await;
    for client in [&mut a, &mut b] {
        client.send(r#"421["join","r"]"#).await;
        assert_eq!(client.recv().await, "431[]");
    }
    c.send(r#"421["join","s"]"#).await;
    assert_eq!(c.recv().await, "431[]");

    let args = Payload::one("x").unwrap();
    assert_eq!(handle.to("r").except(sid_a.as_str()).emit("news", &args), 1);
    assert_eq!(b.recv().await, r#"42["news","x"]"#);
    // Two rooms plus a socket id, each recipient once.
    assert_eq!(handle.to(["r", "s", sid_c.as_str()]).emit("all", &args), 3);
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(client.recv().await, r#"42["all","x"]"#);
    }
    assert_eq!(handle.emit("everyone", &args), 3);
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(client.recv().await, r#"42["everyone","x"]"#);
    }

    // Broadcast with acks: two answer, one does not.
    let waiting =
        handle
            .of("/")
            .emit_with_ack("poll", &Payload::empty(), Duration::from_millis(300));
    let collect = tokio::spawn(waiting);
    assert!(
        c.recv().await.starts_with("42"),
        "c is asked too but stays silent"
    );
    for client in [&mut a, &mut b] {
        let packet = client.recv().await;
        let id = packet
            .trim_start_matches("42")
            .split('[')
            .next()
            .unwrap()
            .to_owned();
        client.send(&format!("43{id}[\"ok\"]")).await;
    }
    let replies = collect.await.unwrap();
    assert_eq!(replies.iter().filter(|r| r.result.is_ok()).count(), 2);
    assert_eq!(replies.iter().filter(|r| r.result.is_err()).count(), 1);
    running.shutdown().await;
}

#[tokio::test]
async fn heartbeat_times_out_a_silent_client() {
    let config = Config::builder()
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(150))
        .build();
    let server = Server::new(config);
    let reasons = record_disconnects(&server);
    let running = start(server).await;
    let (mut client, _) = WsClient::connected(running.addr).await;
    client.auto_pong = false;
    let started = tokio::time::Instant::now();
    assert_eq!(client.recv().await, "2");
    let first_ping = started.elapsed();
    assert!(
        first_ping >= Duration::from_millis(100),
        "first ping came after {first_ping:?}"
    );
    assert!(client.closed(Duration::from_secs(2)).await);
    wait_for_reason(&reasons, DisconnectReason::PingTimeout).await;

    // A client that answers stays connected across several intervals.
    let (mut alive, _) = WsClient::connected(running.addr).await;
    alive.auto_pong = false;
    for _ in 0..3 {
        assert_eq!(alive.recv().await.as_str(), "2");
        alive.send("3").await;
    }
    running.shutdown().await;
}

#[tokio::test]
async fn malformed_packet_closes_only_that_client() {
    let server = echo_server(Config::default());
    let reasons = record_disconnects(&server);
    let running = start(server).await;
    let (mut good, _) = WsClient::connected(running.addr).await;
    for bad in [
        "42{}",
        "4x",
        "9",
        r#"42["a""#,
        r#"42abc["echo"]"#,
        r#"451-["echo",{"_placeholder":true,"num":4}]"#,
    ] {
        let (mut client, _) = WsClient::connected(running.addr).await;
        client.send(bad).await;
        if bad.starts_with("45") {
            client.send_binary(&[0]).await;
        }
        assert!(client.closed(WAIT).await, "{bad} should close the client");
        good.send(r#"421["echo","still here"]"#).await;
        assert_eq!(good.recv().await, r#"431["still here"]"#);
    }
    wait_for_reason(&reasons, DisconnectReason::ParseError).await;

    // An event before any namespace connect closes too.
    let (mut early, _) = WsClient::open(running.addr).await;
    early.send(r#"42["echo"]"#).await;
    assert!(early.closed(WAIT).await);
    running.shutdown().await;
}

#[tokio::test]
async fn max_payload_and_connect_timeout() {
    let config = Config::builder()
        .max_payload(100)
        .connect_timeout(Duration::from_millis(200))
        .build();
    let running = start(echo_server(config)).await;
    let (mut client, _) = WsClient::connected(running.addr).await;
    client
        .send(&format!(r#"42["echo","{}"]"#, "x".repeat(200)))
        .await;
    assert!(
        client.closed(WAIT).await,
        "oversized message closes the websocket"
    );

    let sid = polling_open(running.addr).await;
    let big = format!(r#"42["echo","{}"]"#, "x".repeat(200));
    let (status, _, _) = http(running.addr, "POST", &polling(Some(&sid)), &[], big).await;
    assert_eq!(status, 413);

    let (mut idle, _) = WsClient::open(running.addr).await;
    assert!(
        idle.closed(Duration::from_secs(2)).await,
        "no CONNECT within the timeout"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn polling_session_and_errors() {
    let running = start(echo_server(Config::default())).await;
    let addr = running.addr;
    let sid = polling_open(addr).await;
    let (status, _, body) = http(addr, "POST", &polling(Some(&sid)), &[], "40").await;
    assert_eq!((status, &body[..]), (200, &b"ok"[..]));
    let (_, _, body) = http(addr, "GET", &polling(Some(&sid)), &[], Bytes::new()).await;
    assert!(text(&body).starts_with(r#"40{"sid":"#));

    // Two packets in, every queued packet out in one payload, binary as base64.
    let post =
        "421[\"echo\",\"a\"]\u{1e}451-2[\"echo\",{\"_placeholder\":true,\"num\":0}]\u{1e}bAQI=";
    let (status, _, _) = http(addr, "POST", &polling(Some(&sid)), &[], post).await;
    assert_eq!(status, 200);
    let (_, _, body) = http(addr, "GET", &polling(Some(&sid)), &[], Bytes::new()).await;
    assert_eq!(
        text(&body),
        r#"431["a"]|461-2[{"_placeholder":true,"num":0}]|bAQI="#
    );

    let bad = [
        ("GET", "/socket.io/?transport=polling".to_owned()),
        ("GET", "/socket.io/?EIO=3&transport=polling".to_owned()),
        (
            "GET",
            "/socket.io/?EIO=4&transport=carrier-pigeon".to_owned(),
        ),
        ("POST", polling(None)),
        ("GET", polling(Some("AAAAAAAAAAAAAAAAAAAA"))),
        ("PUT", polling(Some(&sid))),
    ];
    for (method, path) in bad {
        let (status, _, _) = http(addr, method, &path, &[], Bytes::new()).await;
        assert_eq!(status, 400, "{method} {path}");
    }
    let (status, _, _) = http(addr, "GET", "/elsewhere", &[], Bytes::new()).await;
    assert_eq!(status, 404);
    running.shutdown().await;
}

#[tokio::test]
async fn overlapping_gets_close_the_session() {
    let running = start(echo_server(Config::default())).await;
    let addr = running.addr;
    let sid = polling_open(addr).await;
    let path = polling(Some(&sid));
    let first = tokio::spawn({
        let path = path.clone();
        async move { http(addr, "GET", &path, &[], Bytes::new()).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _, _) = http(addr, "GET", &path, &[], Bytes::new()).await;
    assert_eq!(status, 400);
    let (status, _, body) = first.await.unwrap();
    assert_eq!((status, text(&body)), (200, "1".to_owned()));
    let (status, _, _) = http(addr, "GET", &path, &[], Bytes::new()).await;
    assert_eq!(status, 400);
    running.shutdown().await;
}

#[tokio::test]
async fn upgrade_from_polling_to_websocket() {
    let running = start(echo_server(Config::default())).await;
    let addr = running.addr;
    let sid = polling_open(addr).await;
    http(addr, "POST", &polling(Some(&sid)), &[], "40").await;
    let (_, _, body) = http(addr, "GET", &polling(Some(&sid)), &[], Bytes::new()).await;
    assert!(text(&body).starts_with("40{"));

    let pending = tokio::spawn({
        let path = polling(Some(&sid));
        async move { http(addr, "GET", &path, &[], Bytes::new()).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut ws = WsClient::raw(addr, &format!("&sid={sid}")).await;
    ws.send("2probe").await;
    assert_eq!(ws.recv().await, "3probe");
    let (_, _, body) = pending.await.unwrap();
    assert_eq!(text(&body), "6", "the pending poll is released with a noop");
    ws.send("5").await;
    ws.send(r#"421["echo","over ws"]"#).await;
    assert_eq!(ws.recv().await, r#"431["over ws"]"#);

    let (status, _, _) = http(addr, "GET", &polling(Some(&sid)), &[], Bytes::new()).await;
    assert_eq!(status, 400, "polling is refused after the upgrade");
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // A second websocket on the sid is accepted (101), then closed at once.
    let (mut second, _) = tokio_tungstenite::client_async(url, tcp)
        .await
        .expect("a second websocket on the sid gets 101");
    let first = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut second))
        .await
        .expect("the second websocket is closed, not held open");
    assert!(
        matches!(
            first,
            None | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | Some(Err(_))
        ),
        "{first:?}"
    );
    ws.send(r#"422["echo","still"]"#).await;
    assert_eq!(ws.recv().await, r#"432["still"]"#);
    running.shutdown().await;
}

#[tokio::test]
async fn cors_and_origin_checks() {
    let config = Config::builder()
        .allowed_origins(ferrosocket::AllowedOrigins::List(vec![
            "http://ok.test".into()
        ]))
        .build();
    let running = start(echo_server(config)).await;
    let addr = running.addr;
    let (status, headers, _) = http(
        addr,
        "GET",
        &polling(None),
        &[("origin", "http://ok.test")],
        Bytes::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-allow-origin"], "http://ok.test");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let (status, headers, _) = http(
        addr,
        "OPTIONS",
        &polling(None),
        &[
            ("origin", "http://ok.test"),
            ("access-control-request-headers", "x-custom"),
        ],
        Bytes::new(),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(headers["access-control-allow-headers"], "x-custom");
    let (status, _, _) = http(
        addr,
        "GET",
        &polling(None),
        &[("origin", "http://evil.test")],
        Bytes::new(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = http(addr, "GET", &polling(None), &[], Bytes::new()).await;
    assert_eq!(status, 200, "no Origin header: not a browser, allowed");
    running.shutdown().await;

    // Default: same origin only.
    let running = start(echo_server(Config::default())).await;
    let own = format!("http://{}", running.addr);
    let (status, _, _) = http(
        running.addr,
        "GET",
        &polling(None),
        &[("origin", &own)],
        Bytes::new(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = http(
        running.addr,
        "GET",
        &polling(None),
        &[("origin", "http://other.test")],
        Bytes::new(),
    )
    .await;
    assert_eq!(status, 403);
    running.shutdown().await;
}

#[tokio::test]
async fn slow_polling_client_is_disconnected_with_a_bounded_queue() {
    let server = Server::new(Config::builder().max_queued_packets(8).build());
    let reasons = record_disconnects(&server);
    let handle = server.clone();
    let running = start(server).await;
    polling_connected(running.addr).await;
    let args = Payload::one("flood").unwrap();
    // The client never polls: the queue fills and the server lets it go.
    for _ in 0..20 {
        handle.emit("flood", &args);
    }
    wait_for_reason(&reasons, DisconnectReason::ClientTooSlow).await;
    assert_eq!(handle.of("/").sockets().len(), 0);
    running.shutdown().await;
}

#[tokio::test]
async fn volatile_emits_skip_a_slow_client_instead_of_dropping_it() {
    let server = Server::new(Config::builder().max_queued_packets(8).build());
    let reasons = record_disconnects(&server);
    let handle = server.clone();
    let running = start(server).await;
    // A polling client that never polls, beside a WebSocket client that reads.
    polling_connected(running.addr).await;
    let (mut healthy, _) = WsClient::connected(running.addr).await;
    let args = Payload::one("news").unwrap();
    let mut reached = Vec::new();
    for _ in 0..20 {
        reached.push(
            handle
                .of("/")
                .to(Vec::<String>::new())
                .volatile()
                .emit("news", &args),
        );
        assert_eq!(healthy.recv().await, r#"42["news","news"]"#);
    }
    // Both got the first ones; the stuck client's queue stopped at half its bound (4
    // packets: its unread CONNECT acknowledgement and 3 emits) and it stays connected,
    // while the healthy one got all 20.
    assert_eq!(
        reached.iter().filter(|&&n| n == 2).count(),
        3,
        "{reached:?}"
    );
    assert!(reached.iter().all(|&n| n >= 1));
    assert_eq!(handle.of("/").sockets().len(), 2);
    assert!(reasons.lock().unwrap().is_empty());
    // The same emits, not volatile, let the stuck client go.
    for _ in 0..20 {
        handle.emit("news", &args);
    }
    wait_for_reason(&reasons, DisconnectReason::ClientTooSlow).await;
    running.shutdown().await;
}

#[tokio::test]
async fn a_websocket_client_that_stops_reading_is_dropped_and_frees_its_connection() {
    let server = Server::new(
        Config::builder()
            .max_queued_packets(8)
            .max_connections(1)
            .build(),
    );
    let reasons = record_disconnects(&server);
    let handle = server.clone();
    let running = start(server).await;
    // Connected, then never read again: the kernel's buffers fill, then the queue.
    let (_stuck, _) = WsClient::connected(running.addr).await;
    let big = Payload::one(&"x".repeat(256 * 1024)).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !reasons
        .lock()
        .unwrap()
        .contains(&DisconnectReason::ClientTooSlow)
    {
        assert!(tokio::time::Instant::now() < deadline, "never dropped");
        handle.emit("flood", &big);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Its connection ended with it (no close handshake waiting behind the unread data):
    // the one connection slot takes a new client.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        let mut tcp = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        let request = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", polling(None));
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        if tcp.write_all(request.as_bytes()).await.is_ok() {
            let mut first = [0u8; 12];
            if let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut first)).await
            {
                if n > 0 {
                    assert!(first.starts_with(b"HTTP/1.1 200"));
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_disconnects_everyone() {
    let server = echo_server(Config::default());
    let reasons = record_disconnects(&server);
    let handle = server.clone();
    let running = start(server).await;
    let (mut ws, _) = WsClient::connected(running.addr).await;
    let sid = polling_open(running.addr).await;
    http(running.addr, "POST", &polling(Some(&sid)), &[], "40").await;
    assert_eq!(handle.session_count(), 2);
    running.shutdown().await;
    assert!(ws.closed(WAIT).await);
    assert_eq!(
        *reasons.lock().unwrap(),
        [
            DisconnectReason::ServerShuttingDown,
            DisconnectReason::ServerShuttingDown
        ]
    );
    assert_eq!(handle.session_count(), 0);
}

/// An adapter that does the local part (the trait's defaults) and counts what reaches
/// it, standing where a shared (e.g. Redis) adapter would.
#[derive(Debug, Default)]
struct CountingAdapter {
    broadcasts: Arc<std::sync::atomic::AtomicUsize>,
    namespaces: Arc<Mutex<Vec<String>>>,
    rooms: Arc<Mutex<Vec<String>>>,
}

impl ferrosocket::Adapter for CountingAdapter {
    fn namespace_created(&self, nsp: &str) {
        self.namespaces.lock().unwrap().push(nsp.to_owned());
    }
    fn room_created(&self, nsp: &str, room: &ferrosocket::Room) {
        self.rooms.lock().unwrap().push(format!("+{nsp}{room}"));
    }
    fn room_removed(&self, nsp: &str, room: &ferrosocket::Room) {
        self.rooms.lock().unwrap().push(format!("-{nsp}{room}"));
    }
    fn broadcast(
        &self,
        ns: &dyn ferrosocket::adapter::LocalNamespace,
        packet: &ferrosocket::BroadcastPacket<'_>,
        opts: &ferrosocket::BroadcastOptions,
    ) -> usize {
        self.broadcasts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ns.broadcast(packet, opts)
    }
}

#[tokio::test]
async fn custom_adapter_sees_every_broadcast_and_room_change() {
    let adapter = CountingAdapter::default();
    let (broadcasts, namespaces, rooms) = (
        Arc::clone(&adapter.broadcasts),
        Arc::clone(&adapter.namespaces),
        Arc::clone(&adapter.rooms),
    );
    let server = Server::with_adapter(Config::default(), adapter);
    server.of("/admin");
    assert_eq!(*namespaces.lock().unwrap(), ["/", "/admin"]);
    let joined = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&joined);
    server.of("/").on("join", move |socket, _event| {
        let notify = Arc::clone(&notify);
        async move {
            socket.join(["a", "b"]).unwrap();
            socket.leave("a");
            notify.notify_one();
        }
    });
    let handle = server.clone();
    let running = start(server).await;
    let (mut client, _) = WsClient::connected(running.addr).await;
    assert_eq!(handle.emit("hello", &Payload::empty()), 1);
    assert_eq!(client.recv().await, r#"42["hello"]"#);
    assert_eq!(handle.to("b").emit("hi", &Payload::empty()), 0);
    assert_eq!(broadcasts.load(std::sync::atomic::Ordering::SeqCst), 2);
    client.send(r#"42["join"]"#).await;
    tokio::time::timeout(WAIT, joined.notified()).await.unwrap();
    assert_eq!(handle.to("b").emit("hi", &Payload::empty()), 1);
    drop(client);
    let deadline = tokio::time::Instant::now() + WAIT;
    while rooms.lock().unwrap().len() < 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*rooms.lock().unwrap(), ["+/a", "+/b", "-/a", "-/b"]);
    running.shutdown().await;
}

#[test]
fn handles_are_send_sync_clone() {
    fn assert_handle<T: Send + Sync + Clone + 'static>() {}
    assert_handle::<Server>();
    assert_handle::<ferrosocket::Namespace>();
    assert_handle::<ferrosocket::Socket>();
    assert_handle::<ferrosocket::BroadcastOperator>();
    assert_handle::<Payload>();
    fn assert_send<T: Send + 'static>() {}
    assert_send::<ferrosocket::AckSender>();
    assert_send::<ferrosocket::Event>();
}

#[tokio::test]
async fn max_connections_closes_the_extra_ones() {
    let running = start(echo_server(Config::builder().max_connections(2).build())).await;
    let (_first, _) = WsClient::connected(running.addr).await;
    let (_second, _) = WsClient::connected(running.addr).await;
    // The third TCP connection is accepted and closed at once: the handshake fails.
    let tcp = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", running.addr);
    assert!(tokio_tungstenite::client_async(url, tcp).await.is_err());
    // Once one leaves, a new client gets in.
    drop(_first);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let tcp = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", running.addr);
        if tokio_tungstenite::client_async(url, tcp).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a freed slot is reused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn serve_dir_does_not_follow_links_out_of_its_directory() {
    let root = std::env::temp_dir().join(format!("ferrosocket-serve-dir-{}", std::process::id()));
    let (served, outside) = (root.join("static"), root.join("secret"));
    std::fs::create_dir_all(&served).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(served.join("index.html"), "<p>hi</p>").unwrap();
    std::fs::write(outside.join("key.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.join("key.txt"), served.join("key.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, served.join("up")).unwrap();
    std::os::unix::fs::symlink(served.join("index.html"), served.join("alias.html")).unwrap();

    let server = Server::new(Config::default());
    let files = ferrosocket::serve_dir(&served);
    server.set_fallback(files);
    let running = start(server).await;
    let get = |path: &'static str| http(running.addr, "GET", path, &[], Bytes::new());
    assert_eq!(get("/").await.0, 200);
    assert_eq!(
        get("/alias.html").await.0,
        200,
        "a link that stays inside is served"
    );
    let (status, _, body) = get("/key.txt").await;
    assert_eq!((status, &body[..]), (404, &b"Not Found"[..]));
    assert_eq!(get("/up/key.txt").await.0, 404);
    assert_eq!(get("/missing.html").await.0, 404);
    running.shutdown().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn the_fallback_sees_the_connection_addresses() {
    let server = Server::new(Config::default());
    let seen = Arc::new(Mutex::new(None));
    let record = Arc::clone(&seen);
    server.set_fallback(move |req: http::Request<hyper::body::Incoming>| {
        *record.lock().unwrap() = req
            .extensions()
            .get::<ferrosocket::ConnectionInfo>()
            .copied();
        let body = http_body_util::Full::new(Bytes::from_static(b"fallback"));
        let body =
            http_body_util::BodyExt::boxed(http_body_util::BodyExt::map_err(body, |never| {
                match never {}
            }));
        std::future::ready(http::Response::new(body))
    });
    let running = start(server).await;
    let (status, _, body) = http(running.addr, "GET", "/elsewhere", &[], Bytes::new()).await;
    assert_eq!((status, &body[..]), (200, &b"fallback"[..]));
    let info = seen
        .lock()
        .unwrap()
        .expect("the fallback got a ConnectionInfo");
    assert_eq!(info.local, running.addr, "the connection's own end");
    assert_eq!(info.remote.ip(), running.addr.ip());
    assert_ne!(info.remote.port(), running.addr.port());
    running.shutdown().await;
}
