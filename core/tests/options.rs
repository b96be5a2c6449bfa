//! Server options a python-socketio / Flask-SocketIO app passes, checked on the wire:
//! transports, upgrades, the session cookie, catch-all namespaces and always-connect.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use ferrosocket::{Config, Server};
use support::*;

fn open_of(body: &Bytes) -> serde_json::Value {
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.starts_with('0'), "not an open packet: {text:?}");
    serde_json::from_str(&text[1..]).unwrap()
}

/// Whether a direct WebSocket handshake is answered 101.
async fn websocket_accepted(addr: std::net::SocketAddr) -> bool {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(url, tcp).await.is_ok()
}

#[tokio::test]
async fn transports_limit_what_is_offered_and_accepted() {
    // Both (the default): polling offers the upgrade.
    let running = start(Server::new(Config::default())).await;
    let (status, _, body) = http(running.addr, "GET", &polling(None), &[], Bytes::new()).await;
    assert_eq!(status, 200);
    assert_eq!(open_of(&body)["upgrades"], serde_json::json!(["websocket"]));
    assert!(websocket_accepted(running.addr).await);
    running.shutdown().await;

    // Polling only: no upgrade offered, a WebSocket is refused with 400.
    let running = start(Server::new(
        Config::builder().transports(true, false).build(),
    ))
    .await;
    let (status, _, body) = http(running.addr, "GET", &polling(None), &[], Bytes::new()).await;
    assert_eq!(status, 200);
    assert_eq!(open_of(&body)["upgrades"], serde_json::json!([]));
    assert!(!websocket_accepted(running.addr).await);
    let (status, _, body) = http(
        running.addr,
        "GET",
        "/socket.io/?EIO=4&transport=websocket",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(text(&body), r#"{"code":0,"message":"Transport unknown"}"#);
    running.shutdown().await;

    // WebSocket only: the polling handshake is refused, a direct WebSocket works.
    let running = start(Server::new(
        Config::builder().transports(false, true).build(),
    ))
    .await;
    let (status, _, _) = http(running.addr, "GET", &polling(None), &[], Bytes::new()).await;
    assert_eq!(status, 400);
    let (_, open) = WsClient::open(running.addr).await;
    assert_eq!(open["upgrades"], serde_json::json!([]));
    running.shutdown().await;
}

#[tokio::test]
async fn allow_upgrades_off_offers_none_and_refuses_an_upgrade() {
    let server = Server::new(Config::builder().allow_upgrades(false).build());
    server.of("/").on("echo", |_socket, mut event| async move {
        let _ = event.ack_echo();
    });
    let running = start(server).await;
    let addr = running.addr;
    let (status, _, body) = http(addr, "GET", &polling(None), &[], Bytes::new()).await;
    assert_eq!(status, 200);
    let open = open_of(&body);
    assert_eq!(open["upgrades"], serde_json::json!([]));
    let sid = open["sid"].as_str().unwrap().to_owned();

    // A WebSocket asking to take the session over is accepted, then closed at once.
    let mut ws = WsClient::raw(addr, &format!("&sid={sid}")).await;
    assert!(ws.closed(WAIT).await, "the upgrade attempt is closed");

    // The polling session is untouched.
    http(addr, "POST", &polling(Some(&sid)), &[], "40").await;
    let (_, _, body) = http(addr, "GET", &polling(Some(&sid)), &[], Bytes::new()).await;
    assert!(text(&body).starts_with("40{"), "{}", text(&body));
    http(
        addr,
        "POST",
        &polling(Some(&sid)),
        &[],
        r#"421["echo","still polling"]"#,
    )
    .await;
    let (_, _, body) = http(addr, "GET", &polling(Some(&sid)), &[], Bytes::new()).await;
    assert_eq!(text(&body), r#"431["still polling"]"#);

    // A direct WebSocket still works.
    let (mut direct, open) = WsClient::open(addr).await;
    assert_eq!(open["upgrades"], serde_json::json!([]));
    direct.send("40").await;
    assert!(direct.recv().await.starts_with("40{"));
    running.shutdown().await;
}

#[tokio::test]
async fn the_polling_handshake_sets_the_sid_cookie() {
    let cookie = ferrosocket::SidCookie::new("sticky")
        .attribute("Path", "/app")
        .flag("HttpOnly")
        .attribute("SameSite", "Strict");
    let running = start(Server::new(Config::builder().cookie(Some(cookie)).build())).await;
    let (status, headers, body) =
        http(running.addr, "GET", &polling(None), &[], Bytes::new()).await;
    assert_eq!(status, 200);
    let sid = open_of(&body)["sid"].as_str().unwrap().to_owned();
    let set: Vec<_> = headers.get_all("set-cookie").iter().collect();
    assert_eq!(set.len(), 1);
    assert_eq!(
        set[0].to_str().unwrap(),
        format!("sticky={sid}; Path=/app; HttpOnly; SameSite=Strict")
    );
    // Later requests of the session set nothing; neither does a WebSocket handshake.
    let (_, headers, _) = http(running.addr, "POST", &polling(Some(&sid)), &[], "40").await;
    assert!(headers.get("set-cookie").is_none());
    running.shutdown().await;

    // None (the default): no cookie.
    let running = start(Server::new(Config::default())).await;
    let (_, headers, _) = http(running.addr, "GET", &polling(None), &[], Bytes::new()).await;
    assert!(headers.get("set-cookie").is_none());
    running.shutdown().await;

    // One that would break the header is not sent, and the handshake still works.
    let bad = ferrosocket::SidCookie::new("io").attribute("Path", "/\r\nX-Injected: 1");
    assert!(!bad.is_valid());
    let running = start(Server::new(Config::builder().cookie(Some(bad)).build())).await;
    let (status, headers, _) = http(running.addr, "GET", &polling(None), &[], Bytes::new()).await;
    assert_eq!(status, 200);
    assert!(headers.get("set-cookie").is_none() && headers.get("x-injected").is_none());
    running.shutdown().await;
}
