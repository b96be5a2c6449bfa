//! Binary packets: gathering the attachments that follow a binary event or ack, and
//! fitting them to the packet's placeholders. Holds what a client sent, bounded by
//! [`BinaryAssembler::limit`]; never does I/O and never depends on tokio.

use bytes::Bytes;

use super::{Packet, SocketError};
use crate::protocol::payload::{check_placeholders, Payload};

/// Gathers the binary frames that follow a binary packet.
///
/// Until the last attachment arrives, everything received is held here, so what one
/// packet may hold is bounded: [`limit`](Self::limit) caps the packet's text and its
/// attachments together (a server sets it to its max payload, as it bounds one message).
#[derive(Debug)]
pub struct BinaryAssembler {
    /// `None` once the packet has been handed out.
    packet: Option<Packet>,
    expected: usize,
    received: Vec<Bytes>,
    /// Bytes held for this packet so far: its text, then each attachment.
    buffered: usize,
    /// The most `buffered` may reach; no limit unless [`limit`](Self::limit) sets one.
    limit: usize,
}

impl BinaryAssembler {
    /// Waits for `expected` attachments (at least one) of `packet`, whose text took
    /// `text_len` bytes.
    pub(super) fn new(packet: Packet, expected: usize, text_len: usize) -> Self {
        Self {
            packet: Some(packet),
            expected,
            // Grown as attachments arrive, not sized from the count the client announced.
            received: Vec::new(),
            buffered: text_len,
            limit: usize::MAX,
        }
    }

    /// How many attachments are held.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.received.len()
    }

    /// The namespace the packet is for.
    pub fn namespace(&self) -> &str {
        match &self.packet {
            Some(Packet::Event { nsp, .. } | Packet::Ack { nsp, .. }) => nsp,
            Some(Packet::Connect { nsp, .. } | Packet::Disconnect { nsp }) => nsp,
            None => "/",
        }
    }

    /// How many attachments the packet announced.
    pub fn expected(&self) -> usize {
        self.expected
    }

    /// Caps what the packet may hold in all, its text included, at `bytes`: a push that
    /// would go past it fails with [`SocketError::TooLarge`]. Fails at once when the text
    /// alone is over it.
    pub fn limit(&mut self, bytes: usize) -> Result<(), SocketError> {
        self.limit = bytes;
        if self.buffered > bytes {
            self.packet = None;
            self.received = Vec::new();
            return Err(SocketError::TooLarge { limit: bytes });
        }
        Ok(())
    }

    /// Adds one attachment; returns the packet once all have arrived. Pushing after
    /// that, or after an error, is an error.
    pub fn push(&mut self, data: Bytes) -> Result<Option<Packet>, SocketError> {
        if self.packet.is_none() {
            return Err(SocketError::UnexpectedBinary);
        }
        let buffered = self.buffered.saturating_add(data.len());
        if buffered > self.limit {
            // Give back what was held at once: the connection is about to close, and
            // the attachments must not outlive the error.
            self.packet = None;
            self.received = Vec::new();
            return Err(SocketError::TooLarge { limit: self.limit });
        }
        self.buffered = buffered;
        self.received.push(data);
        if self.received.len() < self.expected {
            return Ok(None);
        }
        let binary = std::mem::take(&mut self.received);
        match self.packet.take() {
            Some(packet) => attach(packet, binary).map(Some),
            None => Err(SocketError::UnexpectedBinary),
        }
    }
}

/// Fills the placeholders of `packet`'s arguments with `binary`, checking that each
/// refers to one of them.
pub(super) fn attach(packet: Packet, binary: Vec<Bytes>) -> Result<Packet, SocketError> {
    let fill = |args: Payload| -> Result<Payload, SocketError> {
        let (json, _) = args.into_parts();
        let value: serde_json::Value =
            serde_json::from_str(&json).map_err(|_| SocketError::BadPlaceholder)?;
        check_placeholders(&value, binary.len()).map_err(|_| SocketError::BadPlaceholder)?;
        Ok(Payload::from_parts_unchecked(json, binary.clone()))
    };
    Ok(match packet {
        Packet::Event {
            nsp,
            name,
            args,
            ack,
        } => Packet::Event {
            nsp,
            name,
            args: fill(args)?,
            ack,
        },
        Packet::Ack { nsp, id, args } => Packet::Ack {
            nsp,
            id,
            args: fill(args)?,
        },
        other => other,
    })
}
