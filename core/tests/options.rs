//! Server options a python-socketio / Flask-SocketIO app passes, checked on the wire:
//! transports, upgrades, the session cookie, catch-all namespaces and always-connect.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrosocket::{Config, ConnectRefused, DisconnectReason, Payload, Server};
use serde_json::json;
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

/// A server whose `/` connect handler emits `hello`, then accepts only `{"token":"ok"}`,
/// recording every disconnect reason.
fn gatekeeper(config: Config) -> (Server, Arc<Mutex<Vec<DisconnectReason>>>) {
    let server = Server::new(config);
    server.of("/").on_connect(|socket, auth| async move {
        let _ = socket.emit("hello", &Payload::one("before the verdict").unwrap());
        match auth.parse::<serde_json::Value>() {
            Ok(v) if v["token"] == "ok" => Ok(()),
            _ => Err(ConnectRefused::new("unauthorized").with_data(&json!({"retry": false}))),
        }
    });
    let reasons: Arc<Mutex<Vec<DisconnectReason>>> = Arc::default();
    let sink = Arc::clone(&reasons);
    server.of("/").on_disconnect(move |_socket, reason| {
        let sink = Arc::clone(&sink);
        async move { sink.lock().unwrap().push(reason) }
    });
    (server, reasons)
}

#[tokio::test]
async fn always_connect_acknowledges_first_and_takes_a_refusal_back() {
    let (server, reasons) = gatekeeper(Config::builder().always_connect(true).build());
    let running = start(server).await;
    let (mut client, _) = WsClient::open(running.addr).await;
    client.send(r#"40{"token":"bad"}"#).await;
    assert!(client.recv().await.starts_with(r#"40{"sid":"#));
    assert_eq!(client.recv().await, r#"42["hello","before the verdict"]"#);
    assert_eq!(
        client.recv().await,
        r#"41{"message":"unauthorized","data":{"retry":false}}"#
    );
    // The session stays open; an accepted connect then works as usual.
    client.send(r#"40{"token":"ok"}"#).await;
    assert!(client.recv().await.starts_with(r#"40{"sid":"#));
    assert_eq!(client.recv().await, r#"42["hello","before the verdict"]"#);
    client.send("41").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while reasons.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no disconnect");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Only the accepted socket's disconnect ran the handler.
    assert_eq!(
        *reasons.lock().unwrap(),
        vec![DisconnectReason::ClientNamespaceDisconnect]
    );
    running.shutdown().await;

    // The default: the verdict first, then what the handler emitted; a refusal is 44.
    let (server, _) = gatekeeper(Config::default());
    let running = start(server).await;
    let (mut client, _) = WsClient::open(running.addr).await;
    client.send(r#"40{"token":"bad"}"#).await;
    assert_eq!(
        client.recv().await,
        r#"44{"message":"unauthorized","data":{"retry":false}}"#
    );
    client.send(r#"40{"token":"ok"}"#).await;
    assert!(client.recv().await.starts_with(r#"40{"sid":"#));
    assert_eq!(client.recv().await, r#"42["hello","before the verdict"]"#);
    running.shutdown().await;
}

/// A server whose catch-all namespace answers `whoami` with the namespace and records
/// connects and disconnects by namespace; `/own` has an `own` event of its own.
fn catch_all_server(config: Config) -> (Server, Arc<Mutex<Vec<String>>>) {
    let server = Server::new(config);
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let all = server.of("*");
    let sink = Arc::clone(&seen);
    all.on_connect(move |socket, _auth| {
        sink.lock()
            .unwrap()
            .push(format!("connect {}", socket.namespace()));
        async { Ok(()) }
    });
    let sink = Arc::clone(&seen);
    all.on_disconnect(move |socket, _reason| {
        sink.lock()
            .unwrap()
            .push(format!("disconnect {}", socket.namespace()));
        async {}
    });
    all.on("whoami", |socket, mut event| async move {
        let _ = socket.join("members");
        let _ = event.ack(&Payload::one(socket.namespace()).unwrap());
    });
    server
        .of("/own")
        .on("own", |_socket, mut event| async move {
            let _ = event.ack(&Payload::one("own handler").unwrap());
        });
    (server, seen)
}

async fn connect_to(client: &mut WsClient, nsp: &str) -> String {
    client.send(&format!("40{nsp},")).await;
    client.recv().await
}

#[tokio::test]
async fn catch_all_handlers_serve_namespaces_accepted_on_connect() {
    let (server, seen) = catch_all_server(
        Config::builder()
            .namespaces(ferrosocket::AcceptNamespaces::Any)
            .max_dynamic_namespaces(2)
            .build(),
    );
    let running = start(server.clone()).await;
    let (mut client, _) = WsClient::open(running.addr).await;
    assert!(connect_to(&mut client, "/room-a")
        .await
        .starts_with("40/room-a,{"));
    client.send(r#"42/room-a,1["whoami"]"#).await;
    assert_eq!(client.recv().await, r#"43/room-a,1["/room-a"]"#);
    // Rooms and broadcasts of a namespace made on connect work as any other's.
    assert_eq!(
        server
            .namespace("room-a")
            .unwrap()
            .to("members")
            .emit("news", &Payload::one(&1).unwrap()),
        1
    );
    assert_eq!(client.recv().await, r#"42/room-a,["news",1]"#);

    // The application's namespaces fall back to the catch-all for what they lack.
    assert!(connect_to(&mut client, "/own")
        .await
        .starts_with("40/own,{"));
    client.send(r#"42/own,2["own"]"#).await;
    assert_eq!(client.recv().await, r#"43/own,2["own handler"]"#);
    client.send(r#"42/own,3["whoami"]"#).await;
    assert_eq!(client.recv().await, r#"43/own,3["/own"]"#);

    // The catch-all itself is not a namespace clients join; the bound refuses clearly.
    assert_eq!(
        connect_to(&mut client, "/*").await,
        r#"44/*,{"message":"Invalid namespace"}"#
    );
    assert!(connect_to(&mut client, "/room-b")
        .await
        .starts_with("40/room-b,{"));
    assert_eq!(
        connect_to(&mut client, "/room-c").await,
        r#"44/room-c,{"message":"Too many namespaces"}"#
    );
    // A made namespace goes away with its last client, which makes room for another.
    client.send("41/room-a,").await;
    assert!(connect_to(&mut client, "/room-c")
        .await
        .starts_with("40/room-c,{"));
    assert!(server.namespace("/room-a").is_none());
    let seen = seen.lock().unwrap().clone();
    for expected in [
        "connect /room-a",
        "connect /own",
        "connect /room-b",
        "disconnect /room-a",
        "connect /room-c",
    ] {
        assert!(
            seen.contains(&expected.to_owned()),
            "{expected} in {seen:?}"
        );
    }
    running.shutdown().await;
}

#[tokio::test]
async fn namespaces_accepted_by_list_only_and_none_by_default() {
    let (server, _) = catch_all_server(
        Config::builder()
            .namespaces(ferrosocket::AcceptNamespaces::Listed(vec!["listed".into()]))
            .build(),
    );
    let running = start(server).await;
    let (mut client, _) = WsClient::open(running.addr).await;
    assert!(connect_to(&mut client, "/listed")
        .await
        .starts_with("40/listed,{"));
    assert_eq!(
        connect_to(&mut client, "/other").await,
        r#"44/other,{"message":"Invalid namespace"}"#
    );
    running.shutdown().await;

    // The default: handlers under "*" serve the application's namespaces, nothing else.
    let (server, _) = catch_all_server(Config::default());
    let running = start(server).await;
    let (mut client, _) = WsClient::open(running.addr).await;
    assert_eq!(
        connect_to(&mut client, "/other").await,
        r#"44/other,{"message":"Invalid namespace"}"#
    );
    client.send("40").await;
    assert!(client.recv().await.starts_with("40{"));
    client.send(r#"421["whoami"]"#).await;
    assert_eq!(client.recv().await, r#"431["/"]"#);
    running.shutdown().await;
}
