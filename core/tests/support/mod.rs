//! Loopback helpers: start a server on port 0 and talk to it with raw WebSocket and
//! HTTP clients, so every byte on the wire is checked.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use ferrosocket::Server;
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub const WAIT: Duration = Duration::from_secs(5);

pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// Triggers graceful shutdown and waits for `run` to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(15), &mut self.task)
            .await
            .expect("run returns after shutdown")
            .expect("run task did not panic");
    }
}

pub async fn start(server: Server) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

pub struct WsClient {
    pub ws: WebSocketStream<TcpStream>,
    /// Answer pings automatically in `recv`.
    pub auto_pong: bool,
}

impl WsClient {
    /// Opens a WebSocket (no sid) and returns the client and the open packet JSON.
    pub async fn open(addr: SocketAddr) -> (Self, serde_json::Value) {
        let mut client = Self::raw(addr, "").await;
        let open = client.recv().await;
        assert!(open.starts_with('0'), "expected open packet, got {open:?}");
        (client, serde_json::from_str(&open[1..]).unwrap())
    }

    /// Opens a WebSocket with extra query text (e.g. `&sid=...`), reading nothing.
    pub async fn raw(addr: SocketAddr, extra_query: &str) -> Self {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket{extra_query}");
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
        Self {
            ws,
            auto_pong: true,
        }
    }

    /// Opens and connects to namespace `/`; returns the socket id.
    pub async fn connected(addr: SocketAddr) -> (Self, String) {
        let (mut client, _) = Self::open(addr).await;
        client.send("40").await;
        let ack = client.recv().await;
        let sid = sid_of_connect(&ack);
        (client, sid)
    }

    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    pub async fn send_binary(&mut self, data: &[u8]) {
        self.ws.send(Message::binary(data.to_vec())).await.unwrap();
    }

    /// The next message as text (binary shown as `<bin:hex>`); pings answered if asked.
    pub async fn recv(&mut self) -> String {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("message within 5 s")
                .expect("stream open")
                .expect("no error");
            match message {
                Message::Text(text) if self.auto_pong && text.as_str() == "2" => {
                    self.send("3").await
                }
                Message::Text(text) => return text.to_string(),
                Message::Binary(data) => {
                    return format!(
                        "<bin:{}>",
                        data.iter().map(|b| format!("{b:02x}")).collect::<String>()
                    )
                }
                Message::Close(_) => return "<close>".into(),
                _ => {}
            }
        }
    }

    /// Waits until the server closes the connection (close frame or EOF).
    pub async fn closed(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

pub fn sid_of_connect(ack: &str) -> String {
    let json_start = ack
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {ack:?}"));
    let value: serde_json::Value = serde_json::from_str(&ack[json_start..]).unwrap();
    value["sid"].as_str().unwrap().to_owned()
}

/// One HTTP/1.1 request on a fresh connection; returns status, headers and body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (u16, http::HeaderMap, Bytes) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut request = http::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body.into())).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(request))
        .await
        .expect("response in time")
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

pub fn polling(sid: Option<&str>) -> String {
    match sid {
        Some(sid) => format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
        None => "/socket.io/?EIO=4&transport=polling".to_owned(),
    }
}

/// Polling handshake; returns the engine sid.
pub async fn polling_open(addr: SocketAddr) -> String {
    let (status, _, body) = http(addr, "GET", &polling(None), &[], Bytes::new()).await;
    assert_eq!(status, 200);
    let text = std::str::from_utf8(&body).unwrap();
    let open: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
    open["sid"].as_str().unwrap().to_owned()
}

/// A polling client connected to namespace `/` that never polls (its CONNECT
/// acknowledgement stays queued); returns its Engine.IO session id.
pub async fn polling_connected(addr: SocketAddr) -> String {
    let sid = polling_open(addr).await;
    let (status, _, _) = http(addr, "POST", &polling(Some(&sid)), &[], "40").await;
    assert_eq!(status, 200);
    sid
}

pub fn text(body: &Bytes) -> String {
    String::from_utf8_lossy(body).replace('\u{1e}', "|")
}
