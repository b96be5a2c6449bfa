pub mod protocol;
pub use protocol::Payload;
