//! The Admin UI's server side (`Server::instrument`) as a raw WebSocket client sees it:
//! the login, what follows it, development mode's live notices and the UI's commands,
//! production mode's silence about sockets, read-only, and turning it off.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use ferrosocket::admin::{AdminAuth, AdminError, AdminMode, AdminOptions};
use ferrosocket::{Config, Server};
use serde_json::Value;
use support::*;

const LOGIN: &str = r#"{"username":"admin","password":"pw"}"#;

fn options() -> AdminOptions {
    AdminOptions::new(AdminAuth::basic("admin", "pw")).stats_interval(Duration::from_millis(200))
}

/// The next admin event (name, args), skipping what `skip` names.
async fn next_event(ws: &mut WsClient, skip: &[&str]) -> (String, Vec<Value>) {
    loop {
        let text = ws.recv().await;
        let Some(json) = text.strip_prefix("42/admin,") else {
            panic!("expected an admin event, got {text:?}");
        };
        let mut array: Vec<Value> = serde_json::from_str(json).unwrap();
        let name = array.remove(0).as_str().unwrap().to_owned();
        if !skip.contains(&name.as_str()) {
            return (name, array);
        }
    }
}

/// Logs in to `/admin` with `auth`; returns the client and the CONNECT answer.
async fn admin_login(addr: std::net::SocketAddr, auth: &str) -> (WsClient, String) {
    let (mut ws, _) = WsClient::open(addr).await;
    ws.send(&format!("40/admin,{auth}")).await;
    let answer = ws.recv().await;
    (ws, answer)
}

#[tokio::test]
async fn development_mode_reports_sockets_rooms_and_events_and_obeys_commands() {
    let server = Server::new(Config::default());
    server.of("/").on("hello", |socket, _event| async move {
        let _ = socket.emit("hi", &ferrosocket::Payload::one(&1).unwrap());
    });
    let admin = server.instrument(options()).unwrap();
    assert_eq!(
        server.instrument(options()).unwrap_err(),
        AdminError::AlreadyInstrumented
    );
    let handle = server.clone();
    let running = start(server).await;
    let (mut early, early_sid) = WsClient::connected(running.addr).await;

    let (_, refused) = admin_login(running.addr, r#"{"username":"admin","password":"no"}"#).await;
    assert_eq!(refused, r#"44/admin,{"message":"invalid credentials"}"#);

    let (mut ui, answer) = admin_login(running.addr, LOGIN).await;
    assert!(answer.starts_with("40/admin,{\"sid\":"), "{answer}");
    let (name, args) = next_event(&mut ui, &[]).await;
    assert_eq!(name, "config");
    let features = args[0]["supportedFeatures"].as_array().unwrap();
    assert!(features.contains(&Value::from("ALL_EVENTS")));
    assert!(features.contains(&Value::from("JOIN")));
    let (name, args) = next_event(&mut ui, &["socket_connected"]).await;
    assert_eq!(name, "all_sockets");
    let listed = args[0].as_array().unwrap();
    let early_entry = listed.iter().find(|s| s["id"] == early_sid).unwrap();
    assert_eq!(early_entry["nsp"], "/");
    assert_eq!(early_entry["transport"], "websocket");
    assert_eq!(early_entry["rooms"][0], early_sid.as_str());
    assert!(early_entry["handshake"]["issued"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(early_entry["handshake"]["query"]["transport"], "websocket");

    let (mut late, late_sid) = WsClient::connected(running.addr).await;
    // The admin socket's own notices may come first; then the late one's: its id room
    // joined, then the socket.
    let mut own_room = false;
    loop {
        let (name, args) = next_event(&mut ui, &["server_stats"]).await;
        if name == "room_joined" && args[2] == late_sid {
            assert_eq!(args[1], late_sid.as_str());
            own_room = true;
        }
        if name == "socket_connected" && args[0]["id"] == late_sid {
            assert!(own_room, "room_joined for its own room comes first");
            assert!(args[1].as_str().unwrap().ends_with('Z'));
            break;
        }
    }
    // A binary event: the notice carries the attachment.
    late.send(r#"451-["blob",{"_placeholder":true,"num":0}]"#)
        .await;
    late.send_binary(&[1, 2, 3]).await;
    let notice = loop {
        let text = ui.recv().await;
        if !text.starts_with(r#"42/admin,["server_stats""#) {
            break text;
        }
    };
    assert!(
        notice.starts_with(r#"451-/admin,["event_received","/","#)
            && notice.contains(r#"["blob",{"_placeholder":true,"num":0}]"#),
        "{notice}"
    );
    assert_eq!(ui.recv().await, "<bin:010203>");
    late.send("42[\"hello\",\"there\"]").await;
    let (name, args) = next_event(&mut ui, &["server_stats"]).await;
    assert_eq!(name, "event_received");
    assert_eq!(
        args[..3],
        [
            Value::from("/"),
            Value::from(late_sid.as_str()),
            serde_json::json!(["hello", "there"])
        ]
    );
    let (name, args) = next_event(&mut ui, &["server_stats"]).await;
    assert_eq!(name, "event_sent");
    assert_eq!(args[2], serde_json::json!(["hi", 1]));

    // The UI's join, then its disconnect of one socket.
    ui.send(&format!(r#"42/admin,["join","/","lobby","{late_sid}"]"#))
        .await;
    let (name, args) = next_event(&mut ui, &["server_stats"]).await;
    assert_eq!(name, "room_joined");
    assert_eq!(
        args[..3],
        [
            Value::from("/"),
            Value::from("lobby"),
            Value::from(late_sid.as_str())
        ]
    );
    let socket = handle
        .of("/")
        .socket(ferrosocket::Sid::parse(&late_sid).unwrap())
        .unwrap();
    assert!(socket.rooms().iter().any(|room| &**room == "lobby"));
    ui.send(&format!(
        r#"42/admin,["_disconnect","/",false,"{late_sid}"]"#
    ))
    .await;
    assert_eq!(late.recv().await, r#"42["hi",1]"#);
    assert_eq!(late.recv().await, "41");
    let (name, args) = next_event(&mut ui, &["server_stats"]).await;
    assert_eq!(name, "socket_disconnected");
    assert_eq!(args[2], "server namespace disconnect");
    let mut left = Vec::new();
    while left.len() < 2 {
        let (name, args) = next_event(&mut ui, &["server_stats"]).await;
        assert_eq!(name, "room_left");
        left.push(args[1].as_str().unwrap().to_owned());
    }
    left.sort();
    let mut expected = vec![late_sid.clone(), "lobby".to_owned()];
    expected.sort();
    assert_eq!(left, expected);

    // server_stats: this server, its namespaces, the per-second counts.
    let (_, args) = loop {
        let event = next_event(&mut ui, &[]).await;
        if event.0 == "server_stats" {
            break event;
        }
    };
    let stats = &args[0];
    assert_eq!(stats["pid"], std::process::id());
    assert!(stats["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|ns| ns["name"] == "/admin" && ns["socketsCount"] == 1));

    // Off: the UI is disconnected, and a new login refused.
    admin.shutdown();
    assert_eq!(ui.recv().await, "41/admin,");
    let (_, refused) = admin_login(running.addr, LOGIN).await;
    assert!(refused.starts_with("44/admin,"), "{refused}");
    early.send("42[\"hello\"]").await;
    assert!(early.recv().await.starts_with("42[\"hi\""));
    running.shutdown().await;
}

#[tokio::test]
async fn production_mode_sends_stats_only_and_read_only_ignores_commands() {
    let server = Server::new(Config::default());
    let handle = server.clone();
    server
        .instrument(options().mode(AdminMode::Production).read_only(true))
        .unwrap();
    let running = start(server).await;
    let (mut ui, answer) = admin_login(running.addr, LOGIN).await;
    assert!(answer.starts_with("40/admin,"), "{answer}");
    let (name, args) = next_event(&mut ui, &[]).await;
    assert_eq!(name, "config");
    assert_eq!(
        args[0]["supportedFeatures"],
        serde_json::json!(["AGGREGATED_EVENTS"])
    );
    let (_app, sid) = WsClient::connected(running.addr).await;
    ui.send(&format!(r#"42/admin,["join","/","lobby","{sid}"]"#))
        .await;
    // Two stats later, nothing but stats came, and the join was ignored.
    for _ in 0..2 {
        let (name, args) = next_event(&mut ui, &[]).await;
        assert_eq!(name, "server_stats");
        assert!(args[0]["aggregatedEvents"].is_array());
    }
    let socket = handle
        .of("/")
        .socket(ferrosocket::Sid::parse(&sid).unwrap())
        .unwrap();
    assert_eq!(socket.rooms().len(), 1);
    running.shutdown().await;
}

#[tokio::test]
async fn options_are_checked() {
    let server = Server::new(Config::default());
    assert!(matches!(
        server.instrument(options().stats_interval(Duration::from_millis(5))),
        Err(AdminError::Interval(_))
    ));
    assert!(matches!(
        server.instrument(options().namespace("/")),
        Err(AdminError::Namespace(_))
    ));
    let outside = std::thread::spawn(move || server.instrument(options()).map(|_| ()));
    assert_eq!(outside.join().unwrap(), Err(AdminError::NoRuntime));
}
