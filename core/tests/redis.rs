//! The Redis adapter against a real `redis-server` (Debian's package; `make test`
//! installs it when missing), started on a free loopback port per test: fleets of two
//! in-process servers in both wire formats, acks and queries across them, an emitter,
//! pickle and garbage on the channel, and Redis killed and restarted under traffic.

#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrosocket::adapter::redis::{
    Driver, Format, PublishError, RedisAdapter, RedisDriver, RedisEmitter, RedisOptions,
};
use ferrosocket::adapter::{AdapterError, AdapterFuture};
use ferrosocket::{BroadcastOptions, Config, Payload, Room, Server};
use support::{start, Running, WsClient};

const WAIT: Duration = Duration::from_secs(10);

/// A redis-server of its own, stopped (by pid) when dropped.
struct Redis {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("ferrosocket-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self {
            child: None,
            port,
            dir,
        };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; `make test` installs it)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A plain client for publishing raw bytes.
    fn publish_raw(&self, channel: &str, payload: &[u8]) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_connection().unwrap();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query(&mut conn)
            .unwrap();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server on `redis` with handlers: `join` joins the room named by the first arg and
/// acks; `shout` broadcasts `heard` to the room in the first arg (all when null).
async fn member(options: RedisOptions) -> (Running, Server, RedisAdapter) {
    let adapter = RedisAdapter::start(options).unwrap();
    let server = Server::with_adapter(Config::default(), adapter.clone());
    server.of("/").on("join", |socket, mut event| async move {
        let room: String = event.args.first().unwrap();
        socket.join(room.as_str()).unwrap();
        let _ = event.ack(&Payload::empty());
    });
    let handle = server.clone();
    (start(server).await, handle, adapter)
}

/// Waits until `count` servers subscribe to the fleet (their subscriptions are made in
/// the background).
async fn fleet_ready(server: &Server, count: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.of("/").server_count().await < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fleet did not form"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn join(client: &mut WsClient, room: &str) {
    client.send(&format!(r#"421["join","{room}"]"#)).await;
    assert_eq!(client.recv().await, "431[]");
}

/// The next message.
async fn next_event(client: &mut WsClient) -> String {
    client.recv().await
}

/// Waits a little for anything (to show nothing arrived).
async fn nothing_within(client: &mut WsClient, ms: u64) -> bool {
    use futures_util::StreamExt as _;
    tokio::time::timeout(Duration::from_millis(ms), client.ws.next())
        .await
        .is_err()
}

fn options(redis: &Redis, format: Format) -> RedisOptions {
    RedisOptions::new(redis.url()).format(format)
}

async fn broadcasts_cross_servers(format: Format) {
    let redis = Redis::start();
    let (a_run, a, _) = member(options(&redis, format)).await;
    let (b_run, b, _) = member(options(&redis, format)).await;
    fleet_ready(&a, 2).await;
    let (mut on_b, _) = WsClient::connected(b_run.addr).await;
    let (mut other_on_b, other_sid) = WsClient::connected(b_run.addr).await;
    let (mut on_a, _) = WsClient::connected(a_run.addr).await;
    join(&mut on_b, "r").await;
    join(&mut on_a, "r").await;
    // The room's channel is subscribed in the background: give it a moment by
    // broadcasting until it arrives.
    let hello = Payload::one(&"hi").unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert_eq!(a.to("r").emit("room", &hello), 1);
        assert_eq!(on_a.recv().await, r#"42["room","hi"]"#);
        if !nothing_within(&mut on_b, 200).await {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no room broadcast crossed"
        );
    }
    // That first message arrived; the next ones do at once.
    assert_eq!(a.to("r").emit("room2", &hello), 1);
    assert_eq!(on_a.recv().await, r#"42["room2","hi"]"#);
    assert_eq!(on_b.recv().await, r#"42["room2","hi"]"#);
    assert!(
        nothing_within(&mut other_on_b, 300).await,
        "not in the room"
    );
    // To all, except one socket of the other server, with binary.
    let binary = Payload::from_json(
        r#"[{"_placeholder":true,"num":0}]"#,
        vec![bytes::Bytes::from_static(b"\x01\x02")],
    )
    .unwrap();
    a.of("/").except(other_sid.as_str()).emit("all", &binary);
    let got = on_a.recv().await;
    assert!(got.starts_with(r#"451-["all""#), "{got}");
    assert_eq!(on_a.recv().await, "<bin:0102>");
    assert_eq!(
        on_b.recv().await,
        r#"451-["all",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(on_b.recv().await, "<bin:0102>");
    assert!(nothing_within(&mut other_on_b, 300).await, "excepted");
    // A local broadcast stays here.
    a.of("/").local().emit("local", &hello);
    assert_eq!(on_a.recv().await, r#"42["local","hi"]"#);
    assert!(nothing_within(&mut on_b, 300).await, "local only");
    // Joins and disconnects of the other server's sockets.
    a.of("/").to(other_sid.as_str()).join("late").unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !b.of("/").rooms().iter().any(|r| &**r == "late") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the remote join did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.of("/").to(other_sid.as_str()).disconnect();
    assert_eq!(other_on_b.recv().await, "41");
    a_run.shutdown().await;
    b_run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_io_format_broadcasts_rooms_joins_and_disconnects_cross_servers() {
    broadcasts_cross_servers(Format::SocketIo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_format_broadcasts_rooms_joins_and_disconnects_cross_servers() {
    broadcasts_cross_servers(Format::PythonSocketIo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_queries_and_server_count_cross_servers() {
    let redis = Redis::start();
    let (a_run, a, _) = member(options(&redis, Format::SocketIo)).await;
    let (b_run, b, _) = member(options(&redis, Format::SocketIo)).await;
    let (_c_run, _c, _) = member(options(&redis, Format::SocketIo)).await;
    fleet_ready(&a, 3).await;
    assert_eq!(b.of("/").server_count().await, 3);
    let (mut on_b, b_sid) = WsClient::connected(b_run.addr).await;
    join(&mut on_b, "q").await;
    // Fleet queries see the other server's socket and room.
    let sockets = a.of("/").to("q").fetch_sockets().await.unwrap();
    assert_eq!(sockets.len(), 1);
    assert_eq!(&*sockets[0].id, b_sid.as_str());
    assert!(!sockets[0].local);
    assert!(sockets[0].rooms.iter().any(|r| &**r == "q"));
    let rooms = a.of("/").all_rooms().await.unwrap();
    assert!(rooms.iter().any(|r| &**r == "q"), "{rooms:?}");
    // A broadcast with acks: the remote client's answer comes back, and the wait ends
    // as soon as every counted target answered (well before the 8 s timeout).
    let started = tokio::time::Instant::now();
    let asked = a
        .of("/")
        .emit_with_ack("ask", &Payload::one(&1).unwrap(), Duration::from_secs(8));
    let answering = async {
        let request = on_b.recv().await;
        assert!(
            request.starts_with(r#"420["ask",1]"#) || request.starts_with("42"),
            "{request}"
        );
        let id: String = request[2..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        on_b.send(&format!(r#"43{id}["yes"]"#)).await;
    };
    let (replies, ()) = tokio::join!(asked, answering);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].result.as_ref().unwrap().json(), r#"["yes"]"#);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "waited out the timeout"
    );
    a_run.shutdown().await;
    b_run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emitter_reaches_clients_in_both_formats() {
    let redis = Redis::start();
    for format in [Format::SocketIo, Format::PythonSocketIo] {
        let (run, server, _) = member(options(&redis, format)).await;
        fleet_ready(&server, 1).await;
        let (mut client, _) = WsClient::connected(run.addr).await;
        join(&mut client, "news").await;
        let emitter = RedisEmitter::start(options(&redis, format)).unwrap();
        let args = Payload::one(&"extra").unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            emitter
                .emit(
                    "/",
                    "flash",
                    &args,
                    &BroadcastOptions::to(vec![Room::from("news")]),
                )
                .unwrap();
            if !nothing_within(&mut client, 200).await {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{format:?}: the emitter never reached the client"
            );
        }
        emitter.close();
        run.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickle_and_garbage_are_counted_and_serving_goes_on() {
    let redis = Redis::start();
    let (run, server, adapter) =
        member(options(&redis, Format::PythonSocketIo).channel("flask-socketio")).await;
    fleet_ready(&server, 1).await;
    let (mut client, _) = WsClient::connected(run.addr).await;
    // pickle.dumps({'method': 'emit', 'event': 'x'}, protocol=4)
    let pickle = b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x06method\x94\x8c\x04emit\x94\x8c\x05event\x94\x8c\x01x\x94u.";
    redis.publish_raw("flask-socketio", pickle);
    redis.publish_raw("flask-socketio", b"{\"method\": \"emit\", \"data\": [1");
    redis.publish_raw("flask-socketio", b"\xff\xfe garbage");
    redis.publish_raw(
        "flask-socketio",
        br#"{"method":"emit","event":"after","data":["ok"],"binary":false,"namespace":"/","room":null,"skip_sid":null,"callback":null,"host_id":"x"}"#,
    );
    assert_eq!(next_event(&mut client).await, r#"42["after","ok"]"#);
    let stats = adapter.stats().snapshot();
    assert_eq!(stats.pickle, 1, "{stats:?}");
    assert_eq!(stats.invalid, 2, "{stats:?}");
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start_and_restarted_under_traffic() {
    let mut redis = Redis::start();
    redis.kill();
    // Redis is down: the servers start anyway and deliver locally.
    let (a_run, a, a_adapter) = member(options(&redis, Format::SocketIo)).await;
    let (b_run, b, _) = member(options(&redis, Format::SocketIo)).await;
    let (mut on_a, _) = WsClient::connected(a_run.addr).await;
    let (on_b, _) = WsClient::connected(b_run.addr).await;
    let hi = Payload::one(&"hi").unwrap();
    assert_eq!(a.emit("local", &hi), 1);
    assert_eq!(on_a.recv().await, r#"42["local","hi"]"#);
    // Redis comes up: the fleet forms and broadcasts cross.
    redis.spawn();
    fleet_ready(&a, 2).await;
    fleet_ready(&b, 2).await;
    let crossed = |a: Server, mut on_a: WsClient, mut on_b: WsClient, what: &'static str| async move {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            a.emit(what, &Payload::empty());
            assert_eq!(on_a.recv().await, format!(r#"42["{what}"]"#));
            if !nothing_within(&mut on_b, 200).await {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: nothing crossed"
            );
        }
        (on_a, on_b)
    };
    let (mut on_a, on_b) = crossed(a.clone(), on_a, on_b, "up").await;
    // Redis is killed while A broadcasts: A's client gets everything, nothing blocks,
    // lost publishes are counted; after the restart broadcasts cross again.
    redis.kill();
    for _ in 0..200 {
        a.emit("during", &Payload::empty());
    }
    for _ in 0..200 {
        assert_eq!(on_a.recv().await, r#"42["during"]"#);
    }
    redis.spawn();
    fleet_ready(&a, 2).await;
    fleet_ready(&b, 2).await;
    let (_on_a, _on_b) = crossed(a.clone(), on_a, on_b, "again").await;
    let stats = a_adapter.stats().snapshot();
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert!(stats.publish_lost >= 1, "{stats:?}");
    a_run.shutdown().await;
    b_run.shutdown().await;
}

/// A driver that counts what the adapter asks of it, over the real one.
#[derive(Debug)]
struct Counting {
    inner: RedisDriver,
    published: Arc<AtomicUsize>,
}

impl Driver for Counting {
    fn publish(&self, channel: String, payload: Vec<u8>) -> Result<(), PublishError> {
        self.published.fetch_add(1, Ordering::SeqCst);
        self.inner.publish(channel, payload)
    }
    fn subscribe(&self, channels: Vec<String>) {
        self.inner.subscribe(channels)
    }
    fn unsubscribe(&self, channels: Vec<String>) {
        self.inner.unsubscribe(channels)
    }
    fn subscriber_count(&self, channel: String) -> AdapterFuture<Result<usize, AdapterError>> {
        self.inner.subscriber_count(channel)
    }
    fn close(&self) {
        self.inner.close()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_operations_publish_nothing_and_foreign_rooms_are_filtered() {
    let redis = Redis::start();
    let published = Arc::new(AtomicUsize::new(0));
    let opts = options(&redis, Format::PythonSocketIo);
    let driver_opts = ferrosocket::adapter::redis::DriverOptions::new(redis.url());
    let (inner, received, stats) = RedisDriver::start(driver_opts).unwrap();
    let adapter = RedisAdapter::with_driver(
        opts.clone(),
        Arc::new(Counting {
            inner,
            published: Arc::clone(&published),
        }),
        received,
        stats,
    );
    let server = Server::with_adapter(Config::default(), adapter.clone());
    fleet_ready(&server, 1).await;
    let (_other_run, other, _) = member(opts).await;
    fleet_ready(&server, 2).await;
    server.of("/").local().emit("x", &Payload::empty());
    server.of("/").to("r").local().emit("x", &Payload::empty());
    assert_eq!(published.load(Ordering::SeqCst), 0);
    server.emit("x", &Payload::empty());
    assert_eq!(published.load(Ordering::SeqCst), 1);
    // The other server broadcasts to a room nobody here is in: skipped undecoded.
    other.to("nobody-here").emit("x", &Payload::empty());
    let deadline = tokio::time::Instant::now() + WAIT;
    while adapter.stats().snapshot().filtered < 1 {
        assert!(tokio::time::Instant::now() < deadline, "not filtered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A three-node Redis Cluster on loopback (no replicas), stopped when dropped.
struct Cluster {
    nodes: Vec<Redis>,
}

impl Cluster {
    fn start() -> Self {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir = std::env::temp_dir()
                .join(format!("ferrosocket-cluster-{port}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--cluster-enabled",
                    "yes",
                ])
                .arg("--cluster-config-file")
                .arg(dir.join("nodes.conf"))
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server");
            let node = Redis {
                child: Some(child),
                port,
                dir,
            };
            let deadline = std::time::Instant::now() + WAIT;
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "a cluster node did not listen"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            nodes.push(node);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli (Debian package redis-tools)");
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = Self { nodes };
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let ready = cluster.nodes.iter().all(|node| {
                let client = redis::Client::open(node.url()).unwrap();
                let Ok(mut conn) = client.get_connection() else {
                    return false;
                };
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut conn)
                    .unwrap_or_default();
                info.contains("cluster_state:ok")
            });
            if ready {
                return cluster;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the cluster did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_fleet_on_a_three_node_cluster() {
    let cluster = Cluster::start();
    // Each server knows a different node; the channels hash to slots on all three.
    let (a_run, a, a_adapter) =
        member(RedisOptions::new(cluster.nodes[0].url()).cluster(true)).await;
    let (b_run, b, _) = member(RedisOptions::new(cluster.nodes[1].url()).cluster(true)).await;
    fleet_ready(&a, 2).await;
    fleet_ready(&b, 2).await;
    let (mut on_b, _) = WsClient::connected(b_run.addr).await;
    for room in ["alpha", "beta", "gamma", "delta"] {
        join(&mut on_b, room).await;
    }
    // One-room broadcasts go on each room's own sharded channel.
    for room in ["alpha", "beta", "gamma", "delta"] {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            a.to(room).emit(room, &Payload::empty());
            if !nothing_within(&mut on_b, 200).await {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{room}: nothing crossed the cluster"
            );
        }
    }
    // The namespace-wide channel too, and the emitter through another node.
    a.emit("all", &Payload::empty());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = on_b.recv().await;
        if got == r#"42["all"]"# {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the broadcast to all did not arrive"
        );
    }
    let emitter =
        RedisEmitter::start(RedisOptions::new(cluster.nodes[2].url()).cluster(true)).unwrap();
    assert!(emitter.wait_connected(WAIT).await);
    emitter
        .emit(
            "/",
            "flash",
            &Payload::empty(),
            &BroadcastOptions::to(vec![Room::from("gamma")]),
        )
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if on_b.recv().await == r#"42["flash"]"# {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the emitter did not reach the client"
        );
    }
    assert!(a_adapter.stats().snapshot().published >= 5);
    emitter.close();
    a_run.shutdown().await;
    b_run.shutdown().await;
    drop(cluster);
}
