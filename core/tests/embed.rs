//! The embedding layer over loopback: blocking callbacks on the dispatch pool, driven by
//! raw WebSocket clients.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrosocket::embed::{on_dispatch_thread, AckFailure, EmbedError, EmbedOptions, Embedded};
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

/// What became of one `emit_with_ack` callback: its outcome, or `Dropped` when it was
/// dropped without running.
#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Answered(String),
    Failed(AckFailure),
    Dropped,
}

/// Each reply, and whether it ran (or was dropped) on a dispatch thread.
type Replies = Arc<Mutex<Vec<(Reply, bool)>>>;

/// An `on_reply` closure recording into `log`.
fn recorder(log: &Replies) -> impl FnOnce(Result<Payload, AckFailure>) + Send + 'static {
    struct OnDrop(Option<Replies>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            if let Some(log) = self.0.take() {
                log.lock()
                    .unwrap()
                    .push((Reply::Dropped, on_dispatch_thread()));
            }
        }
    }
    let mut guard = OnDrop(Some(Arc::clone(log)));
    move |answer| {
        let log = guard.0.take().unwrap();
        let reply = match answer {
            Ok(payload) => Reply::Answered(payload.json().to_owned()),
            Err(failure) => Reply::Failed(failure),
        };
        log.lock().unwrap().push((reply, on_dispatch_thread()));
    }
}

async fn wait_len<T>(log: &Mutex<Vec<T>>, len: usize) {
    let deadline = Instant::now() + WAIT;
    while log.lock().unwrap().len() < len {
        assert!(Instant::now() < deadline, "{len} entries in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_replies_run_on_the_clients_lane_with_typed_failures() {
    let embedded = embedded();
    let order: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&order);
    embedded.on("/", "slow", move |_socket, _event| {
        std::thread::sleep(Duration::from_millis(200));
        sink.lock().unwrap().push("slow event done".into());
    });
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (mut client, sid) = WsClient::connected(addr).await;
    let socket = embedded.socket("/", &sid).unwrap();

    // The reply arrives while the client's slow callback runs: it waits for it.
    client.send(r#"42["slow"]"#).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sink = Arc::clone(&order);
    embedded
        .emit_with_ack(
            &socket,
            "ask",
            &Payload::one(&1).unwrap(),
            WAIT,
            move |answer| {
                let text = format!(
                    "reply {:?} on dispatch: {}",
                    answer.map(|p| p.json().to_owned()),
                    on_dispatch_thread()
                );
                sink.lock().unwrap().push(text);
            },
        )
        .unwrap();
    assert_eq!(client.recv().await, r#"420["ask",1]"#);
    client.send(r#"430["yes"]"#).await;
    wait_len(&order, 2).await;
    assert_eq!(
        *order.lock().unwrap(),
        [
            "slow event done",
            r#"reply Ok("[\"yes\"]") on dispatch: true"#
        ]
    );

    let replies: Replies = Arc::default();
    let short = Duration::from_millis(50);
    embedded
        .emit_with_ack(
            &socket,
            "ignored",
            &Payload::empty(),
            short,
            recorder(&replies),
        )
        .unwrap();
    assert_eq!(client.recv().await, r#"421["ignored"]"#);
    wait_len(&replies, 1).await;
    embedded
        .emit_with_ack(
            &socket,
            "unanswered",
            &Payload::empty(),
            WAIT,
            recorder(&replies),
        )
        .unwrap();
    assert_eq!(client.recv().await, r#"422["unanswered"]"#);
    client.send("41").await;
    wait_len(&replies, 2).await;
    assert_eq!(
        *replies.lock().unwrap(),
        [
            (Reply::Failed(AckFailure::Timeout), true),
            (Reply::Failed(AckFailure::Disconnected), true),
        ]
    );
    finish(embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_waits_ended_by_the_shutdown_are_cancelled_or_dropped() {
    let embedded = embedded();
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (mut client, sid) = WsClient::connected(addr).await;
    let socket = embedded.socket("/", &sid).unwrap();
    let replies: Replies = Arc::default();
    embedded
        .emit_with_ack(&socket, "ask", &Payload::empty(), WAIT, recorder(&replies))
        .unwrap();
    assert_eq!(client.recv().await, r#"420["ask"]"#);
    finish(embedded).await;
    // Either the reply was queued before the pool stopped (and ran, cancelled), or it
    // was not (and was dropped): never a timeout or a disconnect, never lost.
    let replies = replies.lock().unwrap();
    assert!(
        matches!(
            replies.as_slice(),
            [(Reply::Failed(AckFailure::Cancelled), true)] | [(Reply::Dropped, _)]
        ),
        "{replies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_on_resolves_the_host_and_types_its_errors() {
    let embedded = embedded();
    let addr = tokio::task::block_in_place(|| embedded.start_on("localhost", 0)).unwrap();
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_ne!(addr.port(), 0);
    // Started: the same address again, whatever is asked.
    assert_eq!(embedded.start_on("127.0.0.1", 0).unwrap(), addr);

    let other = self::embedded();
    match other.start_on("", 0) {
        Err(EmbedError::Resolve { host, port: 0, .. }) => assert_eq!(host, ""),
        unexpected => panic!("{unexpected:?}"),
    }
    match other.start_on("127.0.0.1", addr.port()) {
        Err(EmbedError::Listen {
            addr: tried,
            source,
        }) => {
            assert_eq!(tried, addr);
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        unexpected => panic!("{unexpected:?}"),
    }
    finish(other).await;

    let stopped = Arc::clone(&embedded);
    tokio::task::spawn_blocking(move || stopped.stop())
        .await
        .unwrap();
    assert!(matches!(
        embedded.start_on("127.0.0.1", 0),
        Err(EmbedError::Stopped)
    ));
    assert!(matches!(embedded.start(addr), Err(EmbedError::Stopped)));
    finish(embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_dir_checks_the_directory_and_lookups_name_what_is_missing() {
    let embedded = embedded();
    let missing = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-dir");
    match embedded.serve_dir(&missing) {
        Err(EmbedError::NotADirectory(path)) => assert_eq!(path, missing),
        unexpected => panic!("{unexpected:?}"),
    }
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    assert!(matches!(
        embedded.serve_dir(&file),
        Err(EmbedError::NotADirectory(_))
    ));
    embedded.serve_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (status, _, body) = http(addr, "GET", "/Cargo.toml", &[], "").await;
    assert_eq!(status, 200);
    assert!(text(&body).contains("name = \"ferrosocket\""));

    match embedded.namespace("nowhere") {
        Err(EmbedError::UnknownNamespace(name)) => assert_eq!(name, "/nowhere"),
        unexpected => panic!("{unexpected:?}"),
    }
    embedded.server().of("chat");
    assert_eq!(embedded.namespace("chat").unwrap().name(), "/chat");
    let (_client, sid) = WsClient::connected(addr).await;
    assert_eq!(embedded.socket("", &sid).unwrap().id().as_str(), sid);
    for bad in ["not a sid", sid.as_str()] {
        match embedded.socket("/chat", bad) {
            Err(EmbedError::UnknownSocket { namespace, sid }) => {
                assert_eq!((namespace.as_str(), sid.as_str()), ("/chat", bad));
            }
            unexpected => panic!("{unexpected:?}"),
        }
    }
    assert!(matches!(
        embedded.socket("nowhere", &sid),
        Err(EmbedError::UnknownNamespace(_))
    ));
    finish(embedded).await;
}

/// The in-process client goes through the real Socket.IO layer and dispatch pool: a
/// blocking connect callback that refuses or accepts (its answer comes after the job),
/// events with acks and attachments whose handlers have run when `emit` returns, rooms,
/// a namespace disconnect and a close each with the reason the callbacks see. No
/// network, and the server is never started.
#[test]
fn a_local_client_settles_on_the_real_server() {
    use ferrosocket::embed::{ConnectAnswer, LocalError, Received};
    use ferrosocket::Handshake;

    let embedded = embedded();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    embedded.on_connect("/", move |socket, auth| {
        let token: Option<String> = auth
            .parse::<serde_json::Value>()
            .ok()
            .and_then(|v| v.get("token").and_then(|t| t.as_str()).map(str::to_owned));
        // Slow on purpose: the answer must still be waited for.
        std::thread::sleep(Duration::from_millis(20));
        if token.as_deref() != Some("ok") {
            return Err(ConnectRefused::new("no").with_data(&serde_json::json!({"code": 7})));
        }
        log.lock().unwrap().push(format!(
            "connect {}",
            socket.handshake().query_param("user").unwrap_or_default()
        ));
        let _ = socket.emit("welcome", &Payload::empty());
        Ok(())
    });
    let log = Arc::clone(&seen);
    embedded.on("/", "work", move |socket, mut event| {
        std::thread::sleep(Duration::from_millis(20));
        log.lock()
            .unwrap()
            .push(format!("work {}", event.args.json()));
        socket.join("room").unwrap();
        let _ = socket.emit("echo", &event.args);
        let _ = event.ack_echo();
    });
    let log = Arc::clone(&seen);
    embedded.on_disconnect("/", move |_socket, reason| {
        log.lock().unwrap().push(format!("disconnect {reason}"));
    });
    embedded.server().of("/other");

    let handshake = || {
        Handshake::new(
            "/socket.io/?EIO=4&user=ann",
            [],
            "127.0.0.1:0".parse().unwrap(),
        )
    };
    let client = embedded.local_client(handshake()).unwrap();
    assert_eq!(client.sid("/"), None);
    assert_eq!(
        client.emit("/", "work", &Payload::empty(), false, WAIT),
        Err(LocalError::NotConnected("/".into()))
    );
    assert_eq!(
        client.connect("/", Some("[]"), WAIT),
        Err(LocalError::BadAuth)
    );
    let refused = client.connect("/", None, WAIT).unwrap();
    assert_eq!(
        refused,
        ConnectAnswer::Refused(r#"{"message":"no","data":{"code":7}}"#.into())
    );
    let ConnectAnswer::Connected(sid) = client
        .connect("/", Some(r#"{"token":"ok"}"#), WAIT)
        .unwrap()
    else {
        panic!("refused");
    };
    assert_eq!(client.sid("/").as_deref(), Some(sid.as_str()));
    // Connected already: the same socket, nothing sent.
    assert_eq!(
        client.connect("/", None, WAIT).unwrap(),
        ConnectAnswer::Connected(sid.clone())
    );
    let received = client.received();
    assert!(matches!(&received[0], Received::ConnectError { nsp, .. } if nsp == "/"));
    assert!(matches!(&received[1], Received::Connect { sid: s, .. } if *s == sid));
    assert!(matches!(&received[2], Received::Event { name, .. } if name == "welcome"));
    assert_eq!(received.len(), 3);

    let args = Payload::many(&(1, Payload::placeholder(0)))
        .unwrap()
        .with_binary(vec![bytes::Bytes::from_static(b"\x00\x01")]);
    // The handler has run, joined the room and answered by the time emit returns.
    let ack = client
        .emit("/", "work", &args, true, WAIT)
        .unwrap()
        .unwrap();
    assert_eq!(ack, args);
    assert!(embedded
        .socket("/", &sid)
        .unwrap()
        .rooms()
        .iter()
        .any(|r| &**r == "room"));
    let no_ack = client
        .emit("/", "work", &Payload::one(&2).unwrap(), false, WAIT)
        .unwrap();
    assert_eq!(no_ack, None);
    let received = client.received();
    let names: Vec<_> = received
        .iter()
        .map(|r| match r {
            Received::Event { name, args, .. } => format!("{name} {}", args.json()),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [r#"echo [1,{"_placeholder":true,"num":0}]"#, "echo [2]"]
    );
    let Received::Event { args: echoed, .. } = &received[0] else {
        unreachable!()
    };
    assert_eq!(echoed.binary(), args.binary());

    // A room emit from elsewhere reaches it like any member.
    embedded
        .server()
        .to("room")
        .emit("news", &Payload::one("hi").unwrap());
    assert!(matches!(&client.received()[..], [Received::Event { name, .. }] if name == "news"));

    // A second namespace on the same connection.
    assert!(matches!(
        client.connect("other", None, WAIT).unwrap(),
        ConnectAnswer::Connected(_)
    ));
    client.disconnect("/", WAIT).unwrap();
    assert_eq!(client.sid("/"), None);
    assert_eq!(
        client.disconnect("/", WAIT),
        Err(LocalError::NotConnected("/".into()))
    );
    assert!(client.sid("/other").is_some());
    // Reconnect, then close the whole connection.
    client
        .connect("/", Some(r#"{"token":"ok"}"#), WAIT)
        .unwrap();
    client.close(WAIT).unwrap();
    assert!(client.is_closed());
    assert!(matches!(
        client.emit("/", "work", &Payload::empty(), false, WAIT),
        Err(LocalError::Closed(_))
    ));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "connect ann",
            r#"work [1,{"_placeholder":true,"num":0}]"#,
            "work [2]",
            "disconnect client namespace disconnect",
            "connect ann",
            "disconnect transport close",
        ]
    );

    embedded.stop();
    assert!(matches!(
        embedded.local_client(handshake()),
        Err(EmbedError::Stopped)
    ));
}

/// What a local client holds is bounded like any client's queue: packets the server
/// queued past `max_queued_packets`, or read but not taken past it, close the client as
/// too slow.
#[test]
fn a_local_client_that_takes_nothing_is_closed_at_the_queue_bound() {
    use ferrosocket::embed::LocalError;
    use ferrosocket::{DisconnectReason, Handshake};

    let options = EmbedOptions {
        io_threads: 1,
        dispatch_threads: 1,
        min_dispatch_threads: 1,
        ..EmbedOptions::default()
    };
    let config = Config::builder().max_queued_packets(4).build();
    let embedded = Embedded::new(config, options, None).unwrap();
    let handshake = || Handshake::new("/", [], "127.0.0.1:0".parse().unwrap());
    let news = Payload::one("news").unwrap();

    // Past the session queue's bound before anything was read.
    let client = embedded.local_client(handshake()).unwrap();
    client.connect("/", None, WAIT).unwrap();
    for _ in 0..5 {
        embedded.server().emit("news", &news);
    }
    assert!(client.is_closed());
    assert_eq!(
        client.emit("/", "x", &Payload::empty(), false, WAIT),
        Err(LocalError::Closed(DisconnectReason::ClientTooSlow))
    );

    // Read into the client (by `sid`) but never taken.
    let client = embedded.local_client(handshake()).unwrap();
    client.connect("/", None, WAIT).unwrap();
    for _ in 0..3 {
        embedded.server().emit("news", &news);
    }
    assert!(client.sid("/").is_some());
    assert!(!client.is_closed());
    embedded.server().emit("news", &news);
    client.sid("/");
    assert!(client.is_closed());

    // Taking what came keeps it open.
    let client = embedded.local_client(handshake()).unwrap();
    client.connect("/", None, WAIT).unwrap();
    assert_eq!(client.received().len(), 1);
    for _ in 0..20 {
        embedded.server().emit("news", &news);
        assert_eq!(client.received().len(), 1);
    }
    assert!(!client.is_closed());
    embedded.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_callbacks_of_the_catch_all_namespace_serve_any_namespace() {
    let options = EmbedOptions {
        io_threads: 1,
        dispatch_threads: 2,
        min_dispatch_threads: 2,
        ..EmbedOptions::default()
    };
    let config = Config::builder()
        .namespaces(ferrosocket::AcceptNamespaces::Any)
        .build();
    let embedded = Arc::new(Embedded::new(config, options, None).unwrap());
    embedded.on_connect("*", |socket, _auth| {
        assert!(on_dispatch_thread());
        if socket.namespace() == "/closed" {
            return Err(ConnectRefused::new("closed"));
        }
        Ok(())
    });
    embedded.on("*", "where", |socket, mut event| {
        let _ = event.ack(&Payload::one(socket.namespace()).unwrap());
    });
    let addr = embedded.start("127.0.0.1:0".parse().unwrap()).unwrap();
    let (mut client, _) = WsClient::open(addr).await;
    client.send("40/anywhere,").await;
    assert!(client.recv().await.starts_with("40/anywhere,{"));
    client.send(r#"42/anywhere,7["where"]"#).await;
    assert_eq!(client.recv().await, r#"43/anywhere,7["/anywhere"]"#);
    client.send("40/closed,").await;
    assert_eq!(client.recv().await, r#"44/closed,{"message":"closed"}"#);
    // The refused namespace was made for the CONNECT and is gone with it.
    assert!(embedded.namespace("closed").is_err());
    assert!(embedded.namespace("anywhere").is_ok());
    finish(embedded).await;
}
