//! The server the cross-language end-to-end tests drive. See SPEC.md beside this file.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrosocket::adapter::redis::{Format, RedisAdapter, RedisOptions};
use ferrosocket::admin::{AdminAuth, AdminMode, AdminOptions};
use ferrosocket::{
    AllowedHosts, AllowedOrigins, Config, ConnectRefused, Event, Namespace, Payload, Server, Socket,
};
use serde_json::{json, Value};

type DisconnectLog = Arc<Mutex<VecDeque<Value>>>;

struct Args {
    host: String,
    port: u16,
    config: Config,
    /// `--redis URL` and its format, channel and cluster mode.
    redis: Option<RedisOptions>,
    /// `--metrics-port P`: serve `/metrics` on `host:P` (0: a free port).
    metrics_port: Option<u16>,
    /// `--admin none|USER:PASSWORD` and the other `--admin-*` flags: serve the Admin UI
    /// protocol (then the admin namespace has none of SPEC.md's handlers).
    admin: Option<AdminOptions>,
    /// `--static DIR`: serve the files of DIR outside the Socket.IO path.
    static_dir: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut host = "127.0.0.1".to_owned();
    let mut port = 0u16;
    let mut builder = Config::builder();
    let mut origins: Vec<String> = Vec::new();
    let mut hosts: Vec<String> = Vec::new();
    let (mut redis_url, mut redis_format, mut redis_channel, mut redis_cluster) =
        (None, Format::SocketIo, None, false);
    let mut metrics_port = None;
    let mut admin: Option<AdminOptions> = None;
    let (mut admin_mode, mut admin_read_only, mut admin_namespace, mut admin_interval) =
        (AdminMode::Development, false, None, None);
    let mut static_dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let ms = |v: String| {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|e| e.to_string())
        };
        let num = |v: String| v.parse::<usize>().map_err(|e| e.to_string());
        match flag.as_str() {
            "--host" => host = value()?,
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--ping-interval" => builder = builder.ping_interval(ms(value()?)?),
            "--ping-timeout" => builder = builder.ping_timeout(ms(value()?)?),
            "--connect-timeout" => builder = builder.connect_timeout(ms(value()?)?),
            "--max-payload" => builder = builder.max_payload(num(value()?)?),
            "--max-connections" => builder = builder.max_connections(num(value()?)?),
            "--queue" => builder = builder.max_queued_packets(num(value()?)?),
            "--queue-bytes" => builder = builder.max_queued_bytes(num(value()?)?),
            "--queue-age" => builder = builder.max_queue_age(ms(value()?)?),
            "--header-timeout" => builder = builder.header_timeout(ms(value()?)?),
            "--body-timeout" => builder = builder.body_timeout(ms(value()?)?),
            "--allowed-host" => hosts.push(value()?),
            "--redis" => redis_url = Some(value()?),
            "--metrics-port" => {
                metrics_port = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--metrics-port: {e}"))?,
                )
            }
            "--redis-format" => {
                let name = value()?;
                redis_format = Format::parse(&name).ok_or(format!(
                    "--redis-format: {name}: expected socket.io or python-socketio"
                ))?;
            }
            "--redis-channel" => redis_channel = Some(value()?),
            "--redis-cluster" => redis_cluster = true,
            "--cors" => origins.push(value()?),
            "--static" => static_dir = Some(value()?),
            "--admin" => {
                let auth = match value()?.as_str() {
                    "none" => AdminAuth::disabled(),
                    pair => match pair.split_once(':') {
                        Some((user, password)) => AdminAuth::basic(user, password),
                        None => return Err("--admin: expected none or USER:PASSWORD".into()),
                    },
                };
                admin = Some(AdminOptions::new(auth));
            }
            "--admin-mode" => {
                admin_mode = match value()?.as_str() {
                    "development" => AdminMode::Development,
                    "production" => AdminMode::Production,
                    other => {
                        return Err(format!(
                            "--admin-mode: {other}: expected development or production"
                        ))
                    }
                }
            }
            "--admin-read-only" => admin_read_only = true,
            "--admin-namespace" => admin_namespace = Some(value()?),
            "--admin-interval" => admin_interval = Some(ms(value()?)?),
            "--runtime" => match value()?.as_str() {
                "auto" | "current" | "multi" => {}
                other => {
                    return Err(format!(
                        "--runtime: {other}: expected auto, current or multi"
                    ))
                }
            },
            other => return Err(format!("unknown option {other}")),
        }
    }
    if origins.iter().any(|o| o == "*") {
        builder = builder.allowed_origins(AllowedOrigins::Any);
    } else if !origins.is_empty() {
        builder = builder.allowed_origins(AllowedOrigins::List(origins));
    }
    if !hosts.is_empty() {
        builder = builder.allowed_hosts(AllowedHosts::new(hosts));
    }
    let redis = redis_url.map(|url| {
        let options = RedisOptions::new(url)
            .format(redis_format)
            .cluster(redis_cluster);
        match redis_channel {
            Some(channel) => options.channel(channel),
            None => options,
        }
    });
    let admin = admin.map(|options| {
        let options = options.mode(admin_mode).read_only(admin_read_only);
        let options = match admin_namespace {
            Some(name) => options.namespace(&name),
            None => options,
        };
        match admin_interval {
            Some(interval) => options.stats_interval(interval),
            None => options,
        }
    });
    Ok(Args {
        host,
        port,
        config: builder.build(),
        redis,
        metrics_port,
        admin,
        static_dir,
    })
}

fn one(value: &Value) -> Payload {
    Payload::one(value).unwrap_or_default()
}

fn sorted_rooms(socket: &Socket) -> Value {
    let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
    rooms.sort();
    json!(rooms)
}

/// The `args` array of an `emit`-style request, keeping the request's attachments.
fn forwarded_args(request: &Value, event: &Event) -> Payload {
    let args = request.get("args").cloned().unwrap_or_else(|| json!([]));
    Payload::from_json(args.to_string(), event.args.binary().to_vec()).unwrap_or_default()
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// An ack's arguments as JSON to nest in a reply, with their attachments appended to
/// `binary` and their placeholders renumbered to match.
fn nest_args(args: &Payload, binary: &mut Vec<bytes::Bytes>) -> Value {
    fn shift(value: &mut Value, offset: u64) {
        match value {
            Value::Array(items) => items.iter_mut().for_each(|v| shift(v, offset)),
            Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
                if let Some(num) = map.get("num").and_then(Value::as_u64) {
                    map.insert("num".into(), json!(num + offset));
                }
            }
            Value::Object(map) => map.values_mut().for_each(|v| shift(v, offset)),
            _ => {}
        }
    }
    let mut values = json!(args.values().unwrap_or_default());
    shift(&mut values, binary.len() as u64);
    binary.extend(args.binary().iter().cloned());
    values
}

fn with_binary(value: &Value, binary: Vec<bytes::Bytes>) -> Payload {
    Payload::from_json(json!([value]).to_string(), binary).unwrap_or_default()
}

fn timeout_of(request: &Value) -> Duration {
    Duration::from_millis(
        request
            .get("timeout_ms")
            .and_then(Value::as_u64)
            .unwrap_or(2000),
    )
}

fn register(ns: &Namespace, log: &DisconnectLog) {
    let name = ns.name().to_owned();
    ns.on_connect(move |socket, auth| {
        let name = name.clone();
        async move {
            let auth_value: Value = auth.parse().unwrap_or(Value::Null);
            if name == "/auth" && auth_value.get("token") != Some(&json!("secret")) {
                return Err(ConnectRefused::new("unauthorized").with_data(&json!({"code": 401})));
            }
            let welcome = json!({"sid": socket.id().as_str(), "nsp": name, "auth": auth_value});
            let _ = socket.emit("welcome", &one(&welcome));
            Ok(())
        }
    });

    let log_on_disconnect = Arc::clone(log);
    ns.on_disconnect(move |socket, reason| {
        let log = Arc::clone(&log_on_disconnect);
        async move {
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            if log.len() == 100 {
                log.pop_front();
            }
            log.push_back(json!({"sid": socket.id().as_str(), "nsp": socket.namespace(), "reason": reason.as_str()}));
        }
    });

    ns.on("echo", |socket, event| async move {
        let _ = socket.emit("echo", &event.args);
    });
    ns.on("ack", |_socket, mut event| async move {
        if let Some(ack) = event.take_ack() {
            let _ = ack.send(&event.args);
        }
    });
    ns.on("count_args", |_socket, mut event| async move {
        let count = event.args.len();
        let _ = event.ack(&one(&json!(count)));
    });
    ns.on("sid", |socket, mut event| async move {
        let _ = event.ack(&one(&json!({"sid": socket.id().as_str()})));
    });
    ns.on("join", |socket, mut event| async move {
        let room: String = event.args.first().unwrap_or_default();
        let answer = match socket.join(room) {
            Ok(()) => sorted_rooms(&socket),
            Err(_) => json!({"error": "cannot enter a sid room"}),
        };
        let _ = event.ack(&one(&answer));
    });
    ns.on("leave", |socket, mut event| async move {
        let room: String = event.args.first().unwrap_or_default();
        socket.leave(&room);
        let _ = event.ack(&one(&sorted_rooms(&socket)));
    });
    ns.on("leave_all", |socket, mut event| async move {
        socket.leave_all();
        let _ = event.ack(&one(&sorted_rooms(&socket)));
    });
    ns.on("rooms", |socket, mut event| async move {
        let _ = event.ack(&one(&sorted_rooms(&socket)));
    });
    let room_ns = ns.clone();
    ns.on("room_sids", move |_socket, mut event| {
        let ns = room_ns.clone();
        async move {
            let room: String = event.args.first().unwrap_or_default();
            let mut sids: Vec<String> = ns
                .to(room)
                .sockets()
                .iter()
                .map(|s| s.id().to_string())
                .collect();
            sids.sort();
            let _ = event.ack(&one(&json!(sids)));
        }
    });
    let close_ns = ns.clone();
    ns.on("close_room", move |_socket, mut event| {
        let ns = close_ns.clone();
        async move {
            let room: String = event.args.first().unwrap_or_default();
            let answer = match ns.close_room(&room) {
                Ok(()) => json!(true),
                Err(_) => json!({"error": "cannot close a sid room"}),
            };
            let _ = event.ack(&one(&answer));
        }
    });
    // The whole fleet's view (one server without --redis).
    let fleet_ns = ns.clone();
    ns.on("fleet_sockets", move |_socket, mut event| {
        let ns = fleet_ns.clone();
        async move {
            let request: Value = event.args.first().unwrap_or(Value::Null);
            let target = ns.to(string_list(request.get("to")));
            let answer = match target.fetch_sockets().await {
                Ok(sockets) => {
                    let mut ids: Vec<String> = sockets.iter().map(|s| s.id.to_string()).collect();
                    ids.sort();
                    json!(ids)
                }
                Err(error) => json!({"error": error.to_string()}),
            };
            let _ = event.ack(&one(&answer));
        }
    });
    let fleet_ns = ns.clone();
    ns.on("fleet_rooms", move |_socket, mut event| {
        let ns = fleet_ns.clone();
        async move {
            let answer = match ns.all_rooms().await {
                Ok(rooms) => {
                    let mut rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
                    rooms.sort();
                    json!(rooms)
                }
                Err(error) => json!({"error": error.to_string()}),
            };
            let _ = event.ack(&one(&answer));
        }
    });
    let fleet_ns = ns.clone();
    ns.on("server_count", move |_socket, mut event| {
        let ns = fleet_ns.clone();
        async move {
            let count = ns.server_count().await;
            let _ = event.ack(&one(&json!(count)));
        }
    });
    let fleet_ns = ns.clone();
    ns.on("fleet_join", move |_socket, mut event| {
        let ns = fleet_ns.clone();
        async move {
            let request: Value = event.args.first().unwrap_or(Value::Null);
            let target = ns.to(string_list(request.get("to")));
            let answer = match target.join(string_list(request.get("rooms"))) {
                Ok(()) => json!(true),
                Err(_) => json!({"error": "cannot enter a sid room"}),
            };
            let _ = event.ack(&one(&answer));
        }
    });
    let fleet_ns = ns.clone();
    ns.on("fleet_leave", move |_socket, mut event| {
        let ns = fleet_ns.clone();
        async move {
            let request: Value = event.args.first().unwrap_or(Value::Null);
            let room = request.get("room").and_then(Value::as_str).unwrap_or("");
            ns.to(string_list(request.get("to"))).leave(room);
            let _ = event.ack(&one(&json!(true)));
        }
    });
    let fleet_ns = ns.clone();
    ns.on("fleet_disconnect", move |_socket, mut event| {
        let ns = fleet_ns.clone();
        async move {
            let request: Value = event.args.first().unwrap_or(Value::Null);
            let _ = event.ack(&one(&json!(true)));
            ns.to(string_list(request.get("to"))).disconnect();
        }
    });
    let emit_ns = ns.clone();
    ns.on("emit", move |socket, mut event| {
        let ns = emit_ns.clone();
        async move {
            let request: Value = event.args.first().unwrap_or(Value::Null);
            let name = request
                .get("event")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let mut target = ns
                .to(string_list(request.get("to")))
                .except(string_list(request.get("except")));
            if request.get("include_self") == Some(&json!(false)) {
                target = target.except(socket.id());
            }
            target.emit(&name, &forwarded_args(&request, &event));
            let _ = event.ack(&one(&json!(true)));
        }
    });
    ns.on("server_ack", |socket, mut event| async move {
        let request: Value = event.args.first().unwrap_or(Value::Null);
        let name = request
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let reply = socket
            .emit_with_ack(
                &name,
                &forwarded_args(&request, &event),
                timeout_of(&request),
            )
            .await;
        let mut binary = Vec::new();
        let answer = match reply {
            Ok(args) => json!({"ok": true, "args": nest_args(&args, &mut binary)}),
            Err(error) => json!({"ok": false, "error": match error {
                ferrosocket::AckError::Timeout => "timeout",
                ferrosocket::AckError::Disconnected => "disconnected",
            }}),
        };
        let _ = event.ack(&with_binary(&answer, binary));
    });
    let ack_ns = ns.clone();
    ns.on("broadcast_ack", move |_socket, mut event| {
        let ns = ack_ns.clone();
        async move {
            let request: Value = event.args.first().unwrap_or(Value::Null);
            let name = request
                .get("event")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let replies = ns
                .to(string_list(request.get("to")))
                .emit_with_ack(
                    &name,
                    &forwarded_args(&request, &event),
                    timeout_of(&request),
                )
                .await;
            let (mut responses, mut binary, mut timeouts) = (Vec::new(), Vec::new(), 0);
            for reply in replies {
                match reply.result {
                    Ok(args) => responses.push(nest_args(&args, &mut binary)),
                    Err(_) => timeouts += 1,
                }
            }
            let answer = json!({"responses": responses, "timeouts": timeouts});
            let _ = event.ack(&with_binary(&answer, binary));
        }
    });
    ns.on("disconnect_me", |socket, event| async move {
        let request: Value = event.args.first().unwrap_or(Value::Null);
        if request.get("all") == Some(&json!(true)) {
            socket.close_connection();
        } else {
            socket.disconnect();
        }
    });
    let log_reader = Arc::clone(log);
    ns.on("disconnect_log", move |_socket, mut event| {
        let log = Arc::clone(&log_reader);
        async move {
            let entries: Vec<Value> = log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .cloned()
                .collect();
            let _ = event.ack(&one(&json!(entries)));
        }
    });
}

fn main() {
    // One CPU (e.g. pinned with taskset): tokio's current-thread scheduler. With a single
    // worker, the multi-thread scheduler keeps at most 256 woken tasks in its local queue
    // and sends the rest to a global queue that it polls only every few dozen tasks, so
    // with ~1000 busy connections some wait ~150 ms while others run again and again;
    // the current-thread scheduler runs woken tasks in order. `--runtime` overrides.
    let flavour = runtime_flavour();
    let mut builder = if flavour == "current" {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("test-server: cannot start the runtime: {error}");
            std::process::exit(1);
        }
    };
    runtime.block_on(serve());
}

/// `current` or `multi`: from `--runtime`, else `current` when only one CPU is available.
fn runtime_flavour() -> String {
    let mut args = std::env::args().skip_while(|a| a != "--runtime").skip(1);
    match args.next().as_deref() {
        Some(flavour @ ("current" | "multi")) => flavour.to_owned(),
        _ if std::thread::available_parallelism().map_or(1, |n| n.get()) == 1 => {
            "current".to_owned()
        }
        _ => "multi".to_owned(),
    }
}

async fn serve() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("test-server: {error}");
            std::process::exit(2);
        }
    };
    let server = match args.redis {
        None => Server::new(args.config),
        Some(options) => match RedisAdapter::start(options) {
            Ok(adapter) => Server::with_adapter(args.config, adapter),
            Err(error) => {
                eprintln!("test-server: --redis: {error}");
                std::process::exit(2);
            }
        },
    };
    let log: DisconnectLog = Arc::new(Mutex::new(VecDeque::new()));
    let admin_namespace = match args.admin {
        Some(options) => match server.instrument(options) {
            Ok(admin) => Some(admin.namespace().to_owned()),
            Err(error) => {
                eprintln!("test-server: --admin: {error}");
                std::process::exit(2);
            }
        },
        None => None,
    };
    for name in ["/", "/admin", "/auth"] {
        if admin_namespace.as_deref() != Some(name) {
            register(&server.of(name), &log);
        }
    }
    if let Some(dir) = args.static_dir {
        let files = ferrosocket::serve_dir(dir);
        server.set_fallback(files);
    }
    let listener = match tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "test-server: cannot bind {}:{}: {error}",
                args.host, args.port
            );
            std::process::exit(1);
        }
    };
    if let Some(port) = args.metrics_port {
        let metrics = match tokio::net::TcpListener::bind((args.host.as_str(), port)).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("test-server: cannot bind the metrics port {port}: {error}");
                std::process::exit(1);
            }
        };
        let addr = metrics
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        println!("METRICS {addr}");
        let scraped = server.clone();
        tokio::spawn(async move {
            let _ = scraped.serve_metrics(metrics, std::future::pending()).await;
        });
    }
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("LISTENING {addr}");
    let _ = std::io::stdout().flush();
    if let Err(error) = server.run(listener, ferrosocket::shutdown_signal()).await {
        eprintln!("test-server: {error}");
        std::process::exit(1);
    }
}
