//! The engine seam from Rust: an [`Engine`] with a handler of its own (no Socket.IO)
//! gets every session's open, messages and close, and its `is_attached` answer decides
//! the connect timeout.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrosocket::engine::{Engine, Handler, LocalMessage, Session};
use ferrosocket::{Config, DisconnectReason};
use support::{http, polling, WsClient, WAIT};

/// Echoes messages and records what the engine called, in order.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    /// What `is_attached` answers.
    attached: AtomicBool,
}

impl Recorder {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

impl Handler for Recorder {
    type Data = Mutex<u32>;

    fn on_open(&self, session: &Arc<Session<Self>>) {
        self.record("open".into());
        // Sent from on_open: reaches the client right after the open packet.
        session.send_text("welcome").unwrap();
    }

    fn on_message(&self, session: &Arc<Session<Self>>, text: &str) -> Result<(), DisconnectReason> {
        *session.data().lock().unwrap() += 1;
        self.record(format!("text {text}"));
        if text == "bad" {
            return Err(DisconnectReason::ParseError);
        }
        session.send_text(text).unwrap();
        Ok(())
    }

    fn on_binary(&self, session: &Arc<Session<Self>>, data: Bytes) -> Result<(), DisconnectReason> {
        *session.data().lock().unwrap() += 1;
        self.record(format!("binary {}", data.len()));
        session.send_binary(data).unwrap();
        Ok(())
    }

    fn on_close(&self, session: &Arc<Session<Self>>, reason: DisconnectReason) {
        let messages = *session.data().lock().unwrap();
        self.record(format!("close {reason} after {messages}"));
        assert!(session.is_closed());
        assert!(session.send_text("too late").is_err());
    }

    fn is_attached(&self, _session: &Session<Self>) -> bool {
        self.attached.load(Ordering::Acquire)
    }
}

/// Serves `Recorder` (attached or not) until the test ends.
async fn start(config: Config, attached: bool) -> (std::net::SocketAddr, Engine<Recorder>) {
    let recorder = Recorder::default();
    recorder.attached.store(attached, Ordering::Release);
    let engine = Engine::new(config, recorder);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let running = engine.clone();
    tokio::spawn(async move { running.run(listener, std::future::pending()).await.unwrap() });
    (addr, engine)
}

async fn wait_for(recorder: &Recorder, call: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !recorder.calls.lock().unwrap().iter().any(|c| c == call) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {call:?} in {:?}",
            recorder.calls
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_plain_handler_gets_open_messages_and_close_in_order() {
    let (addr, engine) = start(Config::default(), true).await;
    let recorder = engine.handler();
    let (mut client, open) = WsClient::open(addr).await;
    assert_eq!(open["upgrades"], serde_json::json!([]));
    assert_eq!(client.recv().await, "4welcome");
    client.send("4hello").await;
    assert_eq!(client.recv().await, "4hello");
    client.send_binary(&[1, 2, 3]).await;
    assert_eq!(client.recv().await, "<bin:010203>");
    assert_eq!(engine.session_count(), 1);
    client.send("1").await;
    assert!(client.closed(WAIT).await);
    wait_for(recorder, "close transport close after 2").await;
    assert_eq!(
        *recorder.calls.lock().unwrap(),
        [
            "open",
            "text hello",
            "binary 3",
            "close transport close after 2"
        ]
    );
    assert_eq!(engine.session_count(), 0);
}

#[tokio::test]
async fn an_error_from_the_handler_closes_the_session_with_its_reason() {
    let (addr, engine) = start(Config::default(), true).await;
    let recorder = engine.handler();
    let (mut client, _) = WsClient::open(addr).await;
    assert_eq!(client.recv().await, "4welcome");
    client.send("4bad").await;
    assert!(client.closed(WAIT).await);
    wait_for(recorder, "close parse error after 1").await;
}

#[tokio::test]
async fn is_attached_decides_the_connect_timeout() {
    let config = || {
        Config::builder()
            .connect_timeout(Duration::from_millis(200))
            .build()
    };
    // Not attached: closed at the connect timeout.
    let (addr, engine) = start(config(), false).await;
    let recorder = engine.handler();
    let (mut client, _) = WsClient::open(addr).await;
    assert_eq!(client.recv().await, "4welcome");
    assert!(client.closed(Duration::from_secs(2)).await);
    wait_for(recorder, "close transport close after 0").await;

    // Attached: still open well after it.
    let (addr, _engine) = start(config(), true).await;
    let (mut client, _) = WsClient::open(addr).await;
    assert_eq!(client.recv().await, "4welcome");
    assert!(!client.closed(Duration::from_millis(600)).await);
    client.send("4still here").await;
    assert_eq!(client.recv().await, "4still here");
}

/// A local session is an ordinary session to the handler, with no network: pushed
/// messages reach `on_message`/`on_binary` like a POST's, what the handler sends is
/// drained in order with the Engine.IO type stripped, and closing runs `on_close` with
/// `transport close`. No polling request or WebSocket can reach it by its sid.
#[tokio::test]
async fn a_local_session_is_a_session_without_a_network() {
    let (addr, engine) = start(Config::default(), true).await;
    let recorder = engine.handler();
    let handshake = ferrosocket::Handshake::new(
        "/socket.io/?EIO=4&transport=polling&x=1",
        [("cookie", &b"a=b"[..])],
        "10.0.0.1:99".parse().unwrap(),
    );
    let local = engine.open_local(handshake).unwrap();
    assert_eq!(
        local.session().handshake().query_param("x").as_deref(),
        Some("1")
    );
    assert_eq!(local.session().handshake().header("Cookie"), Some("a=b"));
    assert_eq!(engine.session_count(), 1);
    assert!(!local.session().is_websocket());
    assert!(local.wait_queued(WAIT));
    assert_eq!(local.drain(), [LocalMessage::Text("welcome".into())]);
    assert!(local.drain().is_empty());
    assert!(!local.wait_queued(Duration::ZERO));

    local.push_text("hello").unwrap();
    local.push_binary(Bytes::from_static(&[1, 2])).unwrap();
    local.push_text("again").unwrap();
    assert_eq!(
        local.drain(),
        [
            LocalMessage::Text("hello".into()),
            LocalMessage::Binary(Bytes::from_static(&[1, 2])),
            LocalMessage::Text("again".into()),
        ]
    );

    // The network cannot take it over: polling and upgrades are refused.
    let sid = local.id().to_string();
    let (status, _, _) = http(addr, "GET", &polling(Some(&sid)), &[], Bytes::new()).await;
    assert_eq!(status, 400);
    let (status, _, _) = http(addr, "POST", &polling(Some(&sid)), &[], "4x").await;
    assert_eq!(status, 400);
    assert!(!local.is_closed());

    local.close();
    assert!(local.is_closed());
    assert!(local.wait_queued(Duration::ZERO));
    assert_eq!(
        local.push_text("late"),
        Err(DisconnectReason::TransportClose)
    );
    local.close();
    assert_eq!(
        *recorder.calls.lock().unwrap(),
        [
            "open",
            "text hello",
            "binary 2",
            "text again",
            "close transport close after 3"
        ]
    );
    assert_eq!(engine.session_count(), 0);
}

/// An `Err` from the handler closes a local session with that reason; dropping the
/// handle closes it too; a shutting-down engine opens none.
#[tokio::test]
async fn a_local_session_closes_on_errors_drop_and_shutdown() {
    let engine = Engine::new(Config::default(), Recorder::default());
    let recorder = engine.handler();
    let handshake = || ferrosocket::Handshake::new("/", [], "127.0.0.1:0".parse().unwrap());
    let local = engine.open_local(handshake()).unwrap();
    assert_eq!(local.push_text("bad"), Err(DisconnectReason::ParseError));
    assert!(local.is_closed());
    assert_eq!(local.push_text("late"), Err(DisconnectReason::ParseError));

    let dropped = engine.open_local(handshake()).unwrap();
    drop(dropped);
    assert_eq!(engine.session_count(), 0);
    assert_eq!(
        *recorder.calls.lock().unwrap(),
        [
            "open",
            "text bad",
            "close parse error after 1",
            "open",
            "close transport close after 0"
        ]
    );

    // Shut down: the open local session is closed, and no new one opens.
    let kept = engine.open_local(handshake()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    engine.clone().run(listener, async {}).await.unwrap();
    assert!(kept.is_closed());
    assert!(engine.open_local(handshake()).is_none());
    assert!(recorder
        .calls
        .lock()
        .unwrap()
        .iter()
        .any(|c| c == "close server shutting down after 0"));
}
