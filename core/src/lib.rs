//! # ferrosocket
//!
//! An embeddable Socket.IO server core: Engine.IO v4 and Socket.IO v5 over WebSocket
//! and HTTP long-polling, namespaces, rooms, broadcasts and acknowledgements, built on
//! tokio, hyper and tokio-tungstenite. The official socket.io JavaScript client (3.x /
//! 4.x) and python-socketio (5.x) connect to it unchanged.
//!
//! ```no_run
//! use ferrosocket::{Config, Payload, Server};
//! use std::time::Duration;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::new(Config::builder().ping_interval(Duration::from_secs(10)).build());
//! server.of("/").on("join", |socket, mut event| async move {
//!     let room: String = event.args.first().unwrap_or_default();
//!     if socket.join(room.as_str()).is_err() {
//!         return; // a room named after another socket's id
//!     }
//!     let _ = socket.to(room.as_str()).emit("joined", &Payload::one(&socket.id().to_string()).unwrap());
//!     let _ = event.ack(&Payload::one(&true).unwrap());
//! });
//! server.serve("127.0.0.1:5000", async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! Layers from the bytes up; each module imports only the ones above it in this list,
//! and `core/tests/layering.rs` fails on an import cycle or on `engine` naming a layer
//! above it.
//!
//! | module | its one job |
//! |---|---|
//! | `sid`, `clip`, `config`, `error` | session ids; client text clipped for logs; the one [`Config`] with every default; typed errors and [`DisconnectReason`] |
//! | [`protocol`] | sans-IO codecs, no tokio (`core/tests/protocol_sans_io.rs` checks): `engine` (Engine.IO packets, polling payloads), `socket/` (Socket.IO: `decode`, `binary` assembly, `encode`), `payload` ([`Payload`] and its JSON checks) |
//! | [`engine`] | Engine.IO: the [`engine::Handler`] seam and the engine's own state (`state`), sessions and the outbound queue (`mod`), `http` routing and handshakes, `polling`, `websocket` and upgrades, `local` (in-process sessions, [`engine::LocalSession`]), `cors`, the typed `EngineError` and its one mapping to HTTP status and Engine.IO code (`error`), the accept loop and shutdown (`lifecycle`) |
//! | `socket/` | Socket.IO on top of the engine: `SocketIo` (the handler) and the per-session router, [`Socket`], [`Event`] and acks (`mod`), [`Namespace`] (`namespace`), [`BroadcastOperator`] (`broadcast`) |
//! | [`adapter`] | rooms and broadcasts behind the [`Adapter`] trait: it receives each broadcast's packet and options and does the local fan-out through the namespace's [`adapter::LocalNamespace`] (the in-memory [`LocalAdapter`]) and, with the `redis` feature, publishes it to a fleet ([`adapter::redis`]); `rooms` is one namespace's room table |
//! | `server/` | the [`Server`] handle: an [`engine::Engine`] over the Socket.IO layer (`mod`), and the [`serve_dir`] static-file fallback (`static_files`) |
//! | [`embed`] | for bindings: a runtime of its own, [`embed::Embedded`], the dispatch pool (`pool`), the log sink (`log`), typed [`embed::EmbedError`] (`error`), the in-process test client [`embed::LocalClient`] (`local`) |

#![warn(missing_docs)]

pub mod adapter;
pub mod admin;
mod clip;
mod config;
pub mod embed;
pub mod engine;
mod error;
pub mod metrics;
pub mod protocol;
mod server;
mod sid;
mod socket;

pub use adapter::{
    AckReply, Adapter, AdapterError, BroadcastFlags, BroadcastOptions, BroadcastPacket,
    LocalAdapter, Room, SocketInfo,
};
pub use config::{
    AcceptNamespaces, AllowedHosts, AllowedOrigins, Config, ConfigBuilder, SidCookie, Site,
};
pub use engine::{shutdown_signal, BoxError, ConnectionInfo, Handshake, ResponseBody};
pub use error::{AckError, ConnectRefused, DisconnectReason, RoomError, SendError, ServerError};
pub use protocol::Payload;
pub use server::{serve_dir, Server};
pub use sid::Sid;
pub use socket::broadcast::{BroadcastOperator, IntoRooms};
pub use socket::namespace::{normalize_namespace, Auth, Namespace};
pub use socket::{AckSender, Event, Socket};

/// The README's examples, compiled as doctests so they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The crate README's example (the package's front page on crates.io), likewise.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct CrateReadmeDoctests;
