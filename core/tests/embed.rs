//! The embedding layer over loopback: blocking callbacks on the dispatch pool, driven by
//! raw WebSocket clients.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrosocket::embed::{EmbedOptions, Embedded};
use ferrosocket::{Config, ConnectRefused, Payload};
use support::*;

/// One I/O thread (the current-thread runtime): the bindings' suites cover the
/// multi-thread one, which they get on this 2-CPU machine by default.
fn embedded() -> Arc<Embedded> {
    let options = EmbedOptions {
        io_threads: 1,
        dispatch_threads: 4,
        min_dispatch_threads: 4,
        ..EmbedOptions::default()
    };
    Arc::new(Embedded::new(Config::default(), options, None).unwrap())
}

/// Stops and drops off the async runtime: both block.
async fn finish(embedded: Arc<Embedded>) {
    tokio::task::spawn_blocking(move || {
        embedded.stop();
        drop(embedded);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_ordered_per_client_and_parallel_across_clients() {
    let embedded = embedded();
    let seen: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let log = Arc::clone(&seen);
    embedded.on("/", "work", move |socket, mut event| {
        let (n, sleep_ms): (u64, u64) = event.args.parse().unwrap();
        std::thread::sleep(Duration::from_millis(sleep_ms));
        log.lock().unwrap().push((socket.id().to_string(), n));
        let _ = event.ack(&Payload::one(&n).unwrap());
    });
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();

    let (mut slow, slow_sid) = WsClient::connected(addr).await;
    let (mut fast, fast_sid) = WsClient::connected(addr).await;
    slow.send(r#"420["work",0,1000]"#).await;
    slow.send(r#"421["work",1,0]"#).await;
    let started = Instant::now();
    for n in 0..20 {
        fast.send(&format!(r#"42{n}["work",{n},0]"#)).await;
    }
    for n in 0..20 {
        assert_eq!(fast.recv().await, format!("43{n}[{n}]"));
    }
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "a callback blocked for one second on another client delayed this one: {:?}",
        started.elapsed()
    );
    assert_eq!(slow.recv().await, "430[0]");
    assert_eq!(slow.recv().await, "431[1]");
    let order: Vec<u64> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(s, _)| *s == slow_sid)
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(order, [0, 1], "one client's callbacks run in arrival order");
    let order: Vec<u64> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(s, _)| *s == fast_sid)
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(order, (0..20).collect::<Vec<_>>());
    finish(embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_connect_callback_refuses_or_welcomes_after_the_ack() {
    let embedded = embedded();
    embedded.on_connect("/", |socket, auth| {
        let auth: serde_json::Value = auth.parse().unwrap();
        if auth["token"] != "ok" {
            return Err(ConnectRefused::new("no").with_data(&serde_json::json!({"code": 3})));
        }
        std::thread::sleep(Duration::from_millis(20));
        let _ = socket.emit("welcome", &Payload::empty());
        Ok(())
    });
    let disconnects: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&disconnects);
    embedded.on_disconnect("/", move |_socket, reason| {
        sink.lock().unwrap().push(reason.to_string())
    });
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();

    let (mut ok, _) = WsClient::open(addr).await;
    ok.send(r#"40{"token":"ok"}"#).await;
    assert!(ok.recv().await.starts_with(r#"40{"sid":"#));
    assert_eq!(ok.recv().await, r#"42["welcome"]"#);
    let (mut refused, _) = WsClient::open(addr).await;
    refused.send(r#"40{"token":"bad"}"#).await;
    assert_eq!(
        refused.recv().await,
        r#"44{"message":"no","data":{"code":3}}"#
    );

    ok.send("41").await;
    let deadline = Instant::now() + WAIT;
    while disconnects.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "disconnect callback ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        *disconnects.lock().unwrap(),
        ["client namespace disconnect"]
    );
    finish(embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_threads_emit_and_await_acks() {
    let embedded = embedded();
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (mut client, sid) = WsClient::connected(addr).await;

    let from_thread = Arc::clone(&embedded);
    let answer = std::thread::spawn(move || {
        let server = from_thread.server();
        // Emitting needs no runtime context; waiting for an ack goes through block_on.
        assert_eq!(server.emit("news", &Payload::one("hi").unwrap()), 1);
        let socket = server
            .of("/")
            .socket(ferrosocket::Sid::parse(&sid).unwrap())
            .unwrap();
        let waiting = socket.emit_with_ack("ask", &Payload::empty(), Duration::from_secs(5));
        from_thread.block_on(waiting).unwrap()
    });
    assert_eq!(client.recv().await, r#"42["news","hi"]"#);
    assert_eq!(client.recv().await, r#"420["ask"]"#);
    client.send(r#"430["yes"]"#).await;
    let answer = tokio::task::spawn_blocking(move || answer.join().unwrap())
        .await
        .unwrap();
    assert_eq!(answer.unwrap().json(), r#"["yes"]"#);
    finish(embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_inside_a_callback_refuses_and_submit_keeps_client_order() {
    let embedded = embedded();
    let results: Arc<Mutex<Vec<String>>> = Arc::default();
    let (weak, sink) = (Arc::downgrade(&embedded), Arc::clone(&results));
    embedded.on("/", "stop", move |socket, mut event| {
        let Some(server) = weak.upgrade() else { return };
        let refused = !server.stop();
        sink.lock()
            .unwrap()
            .push(format!("stop refused: {refused}"));
        // A job on this client's lane runs after this callback, before its next event.
        let later = Arc::clone(&sink);
        server
            .submit(
                socket.engine_id(),
                Box::new(move || later.lock().unwrap().push("job".into())),
            )
            .unwrap();
        let _ = event.ack(&Payload::empty());
    });
    let sink = Arc::clone(&results);
    embedded.on("/", "next", move |_socket, mut event| {
        sink.lock().unwrap().push("next".into());
        let _ = event.ack(&Payload::empty());
    });
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (mut client, _) = WsClient::connected(addr).await;
    client.send(r#"420["stop"]"#).await;
    client.send(r#"421["next"]"#).await;
    assert_eq!(client.recv().await, "430[]");
    assert_eq!(client.recv().await, "431[]");
    assert_eq!(
        *results.lock().unwrap(),
        ["stop refused: true", "job", "next"]
    );
    assert!(!embedded.is_stopped());
    finish(embedded).await;
}

/// A host names a namespace with or without its leading `/`, as `Server::of` always
/// allowed: `Server::namespace("chat")` once found nothing, so an emit to `"chat"` from a
/// binding (Python's `namespace="chat"`) silently reached nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_names_without_a_slash_find_the_namespace() {
    let embedded = embedded();
    embedded.on("chat", "hello", |_socket, mut event| {
        let _ = event.ack(&Payload::one("hi").unwrap());
    });
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (mut client, _) = WsClient::open(addr).await;
    client.send("40/chat,").await;
    let sid = sid_of_connect(&client.recv().await);
    client.send(r#"42/chat,1["hello"]"#).await;
    assert_eq!(client.recv().await, r#"43/chat,1["hi"]"#);

    let server = embedded.server();
    for name in ["chat", "/chat"] {
        let ns = server.namespace(name).expect("the namespace is found");
        assert_eq!(ns.name(), "/chat");
        assert_eq!(ns.emit("news", &Payload::one(name).unwrap()), 1);
        assert_eq!(client.recv().await, format!(r#"42/chat,["news","{name}"]"#));
        let socket = ns.socket(ferrosocket::Sid::parse(&sid).unwrap());
        assert!(socket.is_some(), "the client is found through {name:?}");
    }
    assert!(server.namespace("nowhere").is_none());
    assert!(server.namespace("/nowhere").is_none());
    assert_eq!(ferrosocket::normalize_namespace(""), "/");
    finish(embedded).await;
}
