//! The ferrosocket chat example: rooms, join/leave notices and messages, serving the
//! page in `static/` next to the Socket.IO endpoint.
//!
//! ```text
//! cargo run --release -p ferrosocket-chat -- --host 127.0.0.1 --port 5000
//! ```
//!
//! Events (shared by every chat example, whatever its language):
//! - `join {username, room}` → ack `{ok, room, members}`; the room gets `status`.
//! - `message {text}` → the room gets `message {room, username, text, ts}`; ack `{ok}`.
//! - `leave {}` and disconnect → the room gets `status`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use ferrosocket::{AllowedOrigins, Config, Namespace, Payload, Server, Sid, Socket};
use serde_json::{json, Value};

/// Who is where. One lock: joins, leaves and member lists must agree.
#[derive(Default)]
struct Chat {
    users: HashMap<Sid, Member>,
    rooms: HashMap<String, BTreeMap<Sid, String>>,
}

#[derive(Clone)]
struct Member {
    username: String,
    room: String,
}

impl Chat {
    fn join(&mut self, sid: Sid, member: Member) -> Vec<String> {
        let members = self.rooms.entry(member.room.clone()).or_default();
        members.insert(sid, member.username.clone());
        let mut names: Vec<String> = members.values().cloned().collect();
        names.sort();
        self.users.insert(sid, member);
        names
    }

    fn leave(&mut self, sid: Sid) -> Option<Member> {
        let member = self.users.remove(&sid)?;
        if let Some(members) = self.rooms.get_mut(&member.room) {
            members.remove(&sid);
            if members.is_empty() {
                self.rooms.remove(&member.room);
            }
        }
        Some(member)
    }
}

type Shared = Arc<Mutex<Chat>>;

fn lock(chat: &Shared) -> std::sync::MutexGuard<'_, Chat> {
    chat.lock().unwrap_or_else(|p| p.into_inner())
}

fn payload(value: Value) -> Payload {
    Payload::one(&value).unwrap_or_default()
}

fn failure(error: &str) -> Payload {
    payload(json!({"ok": false, "error": error}))
}

/// A string field of 1..=max characters (after trimming), or what is wrong with it.
fn field(args: &Value, name: &str, max: usize, trim: bool) -> Result<String, String> {
    let Some(value) = args.get(name) else {
        return Err(format!("{name} is required"));
    };
    let Some(text) = value.as_str() else {
        return Err(format!("{name} must be a string"));
    };
    let text = if trim { text.trim() } else { text };
    let length = text.chars().count();
    if length == 0 || length > max || text.trim().is_empty() {
        return Err(format!("{name} must be 1 to {max} characters"));
    }
    Ok(text.to_owned())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn announce_left(ns: &Namespace, member: &Member) {
    let text = format!("{} left", member.username);
    ns.to(member.room.as_str()).emit(
        "status",
        &payload(json!({"room": member.room, "text": text})),
    );
}

fn register(ns: &Namespace, chat: &Shared) {
    let (join_chat, join_ns) = (Arc::clone(chat), ns.clone());
    ns.on("join", move |socket: Socket, mut event| {
        let (chat, ns) = (Arc::clone(&join_chat), join_ns.clone());
        async move {
            let args: Value = event.args.first().unwrap_or(Value::Null);
            if !args.is_object() {
                let _ = event.ack(&failure("expected {username, room}"));
                return;
            }
            let checked = field(&args, "username", 32, true)
                .and_then(|username| Ok((username, field(&args, "room", 64, true)?)));
            let (username, room) = match checked {
                Ok(fields) => fields,
                Err(error) => {
                    let _ = event.ack(&failure(&error));
                    return;
                }
            };
            // Joined first: a room named after another socket's id is refused here,
            // before anything changes.
            if socket.join(room.as_str()).is_err() {
                let _ = event.ack(&failure("that room name is not available"));
                return;
            }
            let (previous, members) = {
                let mut chat = lock(&chat);
                let previous = chat.leave(socket.id());
                let member = Member {
                    username: username.clone(),
                    room: room.clone(),
                };
                (previous, chat.join(socket.id(), member))
            };
            if let Some(previous) = previous {
                if previous.room != room {
                    socket.leave(&previous.room);
                }
                announce_left(&ns, &previous);
            }
            let _ = event.ack(&payload(
                json!({"ok": true, "room": room, "members": members}),
            ));
            let text = format!("{username} joined");
            ns.to(room.as_str())
                .emit("status", &payload(json!({"room": room, "text": text})));
        }
    });

    let (message_chat, message_ns) = (Arc::clone(chat), ns.clone());
    ns.on("message", move |socket: Socket, mut event| {
        let (chat, ns) = (Arc::clone(&message_chat), message_ns.clone());
        async move {
            let args: Value = event.args.first().unwrap_or(Value::Null);
            let Some(member) = lock(&chat).users.get(&socket.id()).cloned() else {
                let _ = event.ack(&failure("join a room first"));
                return;
            };
            if !args.is_object() {
                let _ = event.ack(&failure("expected {text}"));
                return;
            }
            let text = match field(&args, "text", 2000, false) {
                Ok(text) => text,
                Err(error) => {
                    let _ = event.ack(&failure(&error));
                    return;
                }
            };
            let message = json!({"room": member.room, "username": member.username, "text": text, "ts": now_ms()});
            ns.to(member.room.as_str()).emit("message", &payload(message));
            let _ = event.ack(&payload(json!({"ok": true})));
        }
    });

    let (leave_chat, leave_ns) = (Arc::clone(chat), ns.clone());
    ns.on("leave", move |socket: Socket, mut event| {
        let (chat, ns) = (Arc::clone(&leave_chat), leave_ns.clone());
        async move {
            let left = lock(&chat).leave(socket.id());
            if let Some(member) = left {
                socket.leave(&member.room);
                announce_left(&ns, &member);
            }
            let _ = event.ack(&payload(json!({"ok": true})));
        }
    });

    let (gone_chat, gone_ns) = (Arc::clone(chat), ns.clone());
    ns.on_disconnect(move |socket: Socket, _reason| {
        let (chat, ns) = (Arc::clone(&gone_chat), gone_ns.clone());
        async move {
            let left = lock(&chat).leave(socket.id());
            if let Some(member) = left {
                announce_left(&ns, &member);
            }
        }
    });
}

struct Options {
    host: String,
    port: u16,
    static_dir: String,
    origins: Vec<String>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        host: "127.0.0.1".into(),
        port: 5000,
        static_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/static").into(),
        origins: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--host" => options.host = value,
            "--port" => options.port = value.parse().map_err(|e| format!("--port: {e}"))?,
            "--static" => options.static_dir = value,
            "--cors" => options.origins.push(value),
            other => {
                return Err(format!(
                    "unknown option {other} (options: --host, --port, --static, --cors)"
                ))
            }
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let options = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("chat: {error}");
            std::process::exit(2);
        }
    };
    let mut config = Config::builder();
    if options.origins.iter().any(|o| o == "*") {
        config = config.allowed_origins(AllowedOrigins::Any);
    } else if !options.origins.is_empty() {
        config = config.allowed_origins(AllowedOrigins::List(options.origins.clone()));
    }
    let server = Server::new(config.build());
    register(&server.of("/"), &Arc::new(Mutex::new(Chat::default())));
    let files = ferrosocket::serve_dir(&options.static_dir);
    server.set_fallback(files);

    let listener = match tokio::net::TcpListener::bind((options.host.as_str(), options.port)).await
    {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "chat: cannot listen on {}:{}: {error}",
                options.host, options.port
            );
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("LISTENING {addr}");
    let _ = std::io::stdout().flush();
    eprintln!("chat: open http://{addr}/ in two browser windows (Ctrl-C to stop)");
    if let Err(error) = server.run(listener, ferrosocket::shutdown_signal()).await {
        eprintln!("chat: {error}");
        std::process::exit(1);
    }
}
