//! Sans-IO codecs for Engine.IO v4 and Socket.IO v5.
//!
//! Everything here is a pure function over bytes: no tokio, no sockets, no clocks. The
//! engine and socket layers feed frames in and get typed packets out, and the fuzz
//! targets in `core/fuzz` drive the same functions with arbitrary input. Nothing here
//! may do I/O or depend on tokio, hyper or any other I/O crate:
//! `core/tests/protocol_sans_io.rs` fails when a file under `protocol/` names one.

pub mod engine;
pub mod payload;
pub mod socket;

pub use engine::{EngineError, EnginePacket};
pub use payload::{Payload, PayloadError};
pub use socket::{BinaryAssembler, Packet, PacketKind, SocketError};
