//! Socket.IO client connections over WebSocket, with as little per-connection state as
//! tokio-tungstenite allows.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

pub const PONG: Utf8Bytes = Utf8Bytes::from_static("3");

/// The counters every receiving client keeps besides its scenario's own.
pub struct Tally<'a> {
    pub pings: &'a std::sync::atomic::AtomicU64,
    pub lost: &'a std::sync::atomic::AtomicU64,
    pub errors: &'a std::sync::atomic::AtomicU64,
}

/// What a receiving client does with a frame its scenario did not take: a ping gets its
/// pong; the end of the stream (Engine.IO `1`, Socket.IO `41`, a close frame, nothing
/// left) counts as lost and a transport error as an error, and both end the receiver
/// (`Break`). Other frames are ignored.
pub async fn other_frame(
    ws: &mut Ws,
    frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    tally: &Tally<'_>,
) -> std::ops::ControlFlow<()> {
    use std::ops::ControlFlow::{Break, Continue};
    match frame {
        Some(Ok(Message::Text(t))) => {
            let t = t.as_str();
            if t == "2" {
                tally.pings.fetch_add(1, Ordering::Relaxed);
                if ws.send(Message::Text(PONG)).await.is_err() {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    return Break(());
                }
            } else if t.starts_with('1') || t.starts_with("41") {
                tally.lost.fetch_add(1, Ordering::Relaxed);
                return Break(());
            }
            Continue(())
        }
        Some(Ok(Message::Close(_))) | None => {
            tally.lost.fetch_add(1, Ordering::Relaxed);
            Break(())
        }
        Some(Err(_)) => {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            Break(())
        }
        Some(Ok(_)) => Continue(()),
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub url: String,
    /// Source addresses to spread connections over (127.0.0.1 ..= 127.0.0.K). With one,
    /// the kernel picks the source as usual.
    pub sources: Vec<Ipv4Addr>,
    pub timeout: Duration,
    pub read_buffer: usize,
}

impl Target {
    pub fn new(addr: SocketAddr, sources: usize, timeout: Duration, read_buffer: usize) -> Self {
        let sources = (1..=sources.clamp(1, 254) as u8)
            .map(|i| Ipv4Addr::new(127, 0, 0, i))
            .collect();
        Self {
            addr,
            url: format!("ws://{addr}/socket.io/?EIO=4&transport=websocket"),
            sources,
            timeout,
            read_buffer,
        }
    }

    fn ws_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(self.read_buffer)
            .write_buffer_size(0)
            .max_message_size(Some(64 << 20))
            .max_frame_size(Some(64 << 20))
    }

    /// TCP connect (from source address `index % K`), WebSocket handshake, engine open,
    /// namespace connect. Returns once `40{"sid":..}` was received.
    pub async fn connect(&self, index: usize) -> Result<Ws, String> {
        tokio::time::timeout(self.timeout, self.connect_inner(index))
            .await
            .map_err(|_| "timeout".to_owned())?
    }

    async fn connect_inner(&self, index: usize) -> Result<Ws, String> {
        let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
        if self.sources.len() > 1 {
            let src = self.sources[index % self.sources.len()];
            socket
                .bind(SocketAddr::from((src, 0)))
                .map_err(|e| format!("bind: {e}"))?;
        }
        let stream = socket
            .connect(self.addr)
            .await
            .map_err(|e| format!("tcp connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(
            self.url.as_str(),
            stream,
            Some(self.ws_config()),
        )
        .await
        .map_err(|e| format!("ws handshake: {e}"))?;
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with('0') => {}
            other => return Err(format!("expected engine open, got {}", show(&other))),
        }
        ws.send(Message::text("40"))
            .await
            .map_err(|e| format!("send 40: {e}"))?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.starts_with("40") => return Ok(ws),
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    ws.send(Message::Text(PONG))
                        .await
                        .map_err(|e| format!("pong: {e}"))?;
                }
                other => return Err(format!("expected 40, got {}", show(&other))),
            }
        }
    }

    /// Connects, then sends `421["join",room]` and waits for its ack.
    pub async fn connect_and_join(&self, index: usize, room: &str) -> Result<Ws, String> {
        let mut ws = self.connect(index).await?;
        let join = format!("421[\"join\",{}]", serde_json::Value::from(room));
        ws.send(Message::text(join))
            .await
            .map_err(|e| format!("send join: {e}"))?;
        let wait = async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) if t.starts_with("431") => return Ok(()),
                    Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                        ws.send(Message::Text(PONG))
                            .await
                            .map_err(|e| format!("pong: {e}"))?;
                    }
                    // The `welcome` event may come first.
                    Some(Ok(Message::Text(t))) if t.starts_with("42") => {}
                    other => return Err(format!("expected join ack, got {}", show(&other))),
                }
            }
        };
        tokio::time::timeout(self.timeout, wait)
            .await
            .map_err(|_| "join timeout".to_owned())??;
        Ok(ws)
    }
}

fn show(m: &Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> String {
    match m {
        None => "end of stream".into(),
        Some(Err(e)) => format!("error: {e}"),
        Some(Ok(Message::Text(t))) => {
            let s = t.as_str();
            format!("text {:?}", &s[..s.len().min(80)])
        }
        Some(Ok(other)) => format!("{other:?}"),
    }
}

/// Connection errors by message.
#[derive(Debug, Default)]
pub struct Failures(Mutex<BTreeMap<String, usize>>);

impl Failures {
    pub fn add(&self, error: String) {
        // Keep the kind, not every detail that differs per connection.
        let key: String = error.chars().take(120).collect();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(key).or_default() += 1;
    }

    pub fn total(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(*v)))
                .collect(),
        )
    }
}

/// The result of opening many connections.
#[derive(Debug)]
pub struct Opened {
    pub conns: Vec<Ws>,
    pub failures: Arc<Failures>,
    pub took: Duration,
}

impl Opened {
    pub fn rate(&self) -> f64 {
        self.conns.len() as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

/// Opens `n` connections, at most `concurrency` handshakes at a time. With `room`, each
/// joins it. Failed connections are counted, not retried.
pub async fn open_many(
    target: &Arc<Target>,
    n: usize,
    concurrency: usize,
    room: Option<&str>,
    first_index: usize,
) -> Opened {
    let room = room.map(str::to_owned);
    open_many_with(target, n, concurrency, move |_| room.clone(), first_index)
        .await
        .into_opened()
}

/// Connections opened by [`open_many_with`], each with its index (0-based, failed ones
/// missing).
#[derive(Debug)]
pub struct OpenedIndexed {
    pub conns: Vec<(usize, Ws)>,
    pub failures: Arc<Failures>,
    pub took: Duration,
}

impl OpenedIndexed {
    pub fn into_opened(self) -> Opened {
        Opened {
            conns: self.conns.into_iter().map(|(_, ws)| ws).collect(),
            failures: self.failures,
            took: self.took,
        }
    }
}

/// Like [`open_many`], with the room (if any) chosen per connection.
pub async fn open_many_with(
    target: &Arc<Target>,
    n: usize,
    concurrency: usize,
    room_of: impl Fn(usize) -> Option<String>,
    first_index: usize,
) -> OpenedIndexed {
    let start = Instant::now();
    let failures = Arc::new(Failures::default());
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let done = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let target = Arc::clone(target);
        let permits = Arc::clone(&permits);
        let failures = Arc::clone(&failures);
        let room = room_of(i);
        let done = Arc::clone(&done);
        handles.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.ok()?;
            let result = match &room {
                Some(room) => target.connect_and_join(first_index + i, room).await,
                None => target.connect(first_index + i).await,
            };
            done.fetch_add(1, Ordering::Relaxed);
            match result {
                Ok(ws) => Some((i, ws)),
                Err(e) => {
                    failures.add(e);
                    None
                }
            }
        }));
    }
    let mut conns = Vec::with_capacity(n);
    for handle in handles {
        if let Ok(Some(c)) = handle.await {
            conns.push(c);
        }
    }
    OpenedIndexed {
        conns,
        failures,
        took: start.elapsed(),
    }
}

/// Writes the decimal digits of `n` into `out`.
pub fn push_u64(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// The ack id of a `43<id>[...]` frame.
pub fn ack_id(text: &str) -> Option<u64> {
    let rest = text.strip_prefix("43")?;
    let end = rest.find('[')?;
    rest[..end].parse().ok()
}

/// A frame `<prefix><id><suffix>`: the parts that do not change are encoded once.
#[derive(Debug, Clone)]
pub struct Template {
    prefix: &'static str,
    suffix: String,
}

impl Template {
    pub fn new(prefix: &'static str, suffix: String) -> Self {
        Self { prefix, suffix }
    }

    pub fn with_id(&self, id: u64) -> Message {
        let mut s = String::with_capacity(self.prefix.len() + 20 + self.suffix.len());
        s.push_str(self.prefix);
        push_u64(&mut s, id);
        s.push_str(&self.suffix);
        Message::text(s)
    }
}

/// A JSON string of `size` bytes on the wire, quotes included (at least 2).
pub fn payload_string(size: usize) -> String {
    let mut s = String::with_capacity(size.max(2));
    s.push('"');
    s.extend(std::iter::repeat_n('x', size.saturating_sub(2)));
    s.push('"');
    s
}
