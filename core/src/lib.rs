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
//! Layers: [`protocol`] holds the sans-IO codecs; `engine` the transports and sessions;
//! [`Socket`] and [`Namespace`] the Socket.IO semantics; [`adapter`] rooms and broadcast
//! targeting; [`Server`] the HTTP entry point.

#![warn(missing_docs)]

pub mod adapter;
mod clip;
mod config;
pub mod embed;
pub mod engine;
mod error;
pub mod protocol;
mod server;
mod sid;
mod socket;

pub use adapter::{Adapter, BroadcastOptions, LocalAdapter, Room};
pub use config::{AllowedHosts, AllowedOrigins, Config, ConfigBuilder, Site};
pub use engine::{shutdown_signal, BoxError, Handshake, ResponseBody};
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
