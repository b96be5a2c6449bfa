//! Binary packets: gathering the attachments that follow a binary event or ack, and
//! fitting them to the packet's placeholders. Holds what a client sent, bounded by
//! [`BinaryAssembler::limit`]; never does I/O and never depends on tokio.

use std::borrow::Cow;

use bytes::Bytes;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Packet, SocketError};
use crate::protocol::payload::{Payload, MAX_LEVELS, RESERVED_RAW_VALUE_KEY};

/// Gathers the binary frames that follow a binary packet.
///
/// Until the last attachment arrives, everything received is held here, so what one
/// packet may hold is bounded: [`limit`](Self::limit) caps the packet's text and its
/// attachments together (a server sets it to its max payload, as it bounds one message).
#[derive(Debug)]
pub struct BinaryAssembler {
    /// `None` once the packet has been handed out.
    packet: Option<Packet>,
    /// The highest attachment index the packet's placeholders refer to (see
    /// [`Placeholders`]), found when its text was decoded.
    highest: Option<u64>,
    expected: usize,
    received: Vec<Bytes>,
    /// Bytes held for this packet so far: its text, then each attachment.
    buffered: usize,
    /// The most `buffered` may reach; no limit unless [`limit`](Self::limit) sets one.
    limit: usize,
}

impl BinaryAssembler {
    /// Waits for `expected` attachments (at least one) of `packet`, whose text took
    /// `text_len` bytes and whose placeholders refer to attachments up to `highest`.
    pub(super) fn new(
        packet: Packet,
        highest: Option<u64>,
        expected: usize,
        text_len: usize,
    ) -> Self {
        Self {
            packet: Some(packet),
            highest,
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
            Some(packet) => attach(packet, self.highest, binary).map(Some),
            None => Err(SocketError::UnexpectedBinary),
        }
    }
}

/// Gives `packet`'s arguments their attachments, `binary`, when every placeholder in
/// them refers to one: `highest` is what [`Placeholders`] found in them at decoding.
pub(super) fn attach(
    packet: Packet,
    highest: Option<u64>,
    binary: Vec<Bytes>,
) -> Result<Packet, SocketError> {
    if highest.is_some_and(|num| num >= binary.len() as u64) {
        return Err(SocketError::BadPlaceholder);
    }
    let fill = |args: Payload| {
        let (json, _) = args.into_parts();
        Payload::from_parts_unchecked(json, binary)
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
            args: fill(args),
            ack,
        },
        Packet::Ack { nsp, id, args } => Packet::Ack {
            nsp,
            id,
            args: fill(args),
        },
        other => other,
    })
}

/// One element of a binary packet's arguments, checked exactly as an
/// [`ArrayElement`](crate::protocol::payload::ArrayElement) is (a whole array, as
/// [`validate`](crate::protocol::payload::validate) checks it, is a
/// [`DocumentPlaceholders`]), and in the same pass reduced to the highest attachment
/// index its placeholders refer to: `None` without placeholders, `u64::MAX` for a
/// placeholder whose `num` is not an unsigned integer.
///
/// A placeholder is what [`check_placeholders`](crate::protocol::payload::check_placeholders)
/// finds in the `serde_json::Value` of the text, and that is what clients and bindings
/// reconstruct from: an object whose `_placeholder` member is `true`, its members not
/// looked into; of repeated keys in an object, only the last counts.
pub(super) struct Placeholders(pub(super) Option<u64>);

/// [`Placeholders`] of a whole document (nesting as deep as the validator allows).
pub(super) struct DocumentPlaceholders(pub(super) Option<u64>);

impl<'de> serde::Deserialize<'de> for DocumentPlaceholders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Scan(MAX_LEVELS)
            .deserialize(deserializer)
            .map(|found| Self(found.highest))
    }
}

/// As one element of an array, which may nest one level less than a document.
impl<'de> serde::Deserialize<'de> for Placeholders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Scan(MAX_LEVELS - 1)
            .deserialize(deserializer)
            .map(|found| Self(found.highest))
    }
}

/// What one value's parent needs to know about it.
struct Found {
    /// The highest attachment index its placeholders refer to.
    highest: Option<u64>,
    /// It is `true` (as a `_placeholder` member, it makes its object a placeholder).
    is_true: bool,
    /// It is this unsigned integer (as the `num` member of a placeholder).
    unsigned: Option<u64>,
}

impl Found {
    const PLAIN: Self = Self {
        highest: None,
        is_true: false,
        unsigned: None,
    };

    /// An object, from its members in order; of a repeated key the last one counts, as
    /// in the `serde_json::Value` of the text.
    fn object(mut members: Vec<(Cow<'_, str>, Found)>) -> Self {
        // Stable sort of the reversed members: the first of each key is its last.
        members.reverse();
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.dedup_by(|later, first| later.0 == first.0);
        let member = |key: &str| {
            members
                .binary_search_by(|(k, _)| k.as_ref().cmp(key))
                .ok()
                .map(|i| &members[i].1)
        };
        let highest = if member("_placeholder").is_some_and(|m| m.is_true) {
            Some(member("num").and_then(|m| m.unsigned).unwrap_or(u64::MAX))
        } else {
            members.iter().filter_map(|(_, m)| m.highest).max()
        };
        Self {
            highest,
            ..Self::PLAIN
        }
    }
}

/// Whether a member matters to where its object's placeholders point: it is one of the
/// keys that make a placeholder, or holds placeholders itself.
fn matters(key: &str, value: &Found) -> bool {
    value.highest.is_some() || key == "_placeholder" || key == "num"
}

/// Checks one value that may open at most `.0` more nested arrays/objects (the same
/// limits as the validator's), and finds its placeholders.
#[derive(Clone, Copy)]
struct Scan(u8);

impl Scan {
    fn nested<E: serde::de::Error>(self) -> Result<Self, E> {
        match self.0.checked_sub(1) {
            Some(levels) => Ok(Self(levels)),
            None => Err(E::custom("recursion limit exceeded")),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Scan {
    type Value = Found;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Found, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan {
    type Value = Found;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, value: bool) -> Result<Found, E> {
        Ok(Found {
            is_true: value,
            ..Found::PLAIN
        })
    }
    fn visit_i64<E>(self, value: i64) -> Result<Found, E> {
        Ok(Found {
            unsigned: u64::try_from(value).ok(),
            ..Found::PLAIN
        })
    }
    fn visit_u64<E>(self, value: u64) -> Result<Found, E> {
        Ok(Found {
            unsigned: Some(value),
            ..Found::PLAIN
        })
    }
    fn visit_f64<E>(self, _: f64) -> Result<Found, E> {
        Ok(Found::PLAIN)
    }
    fn visit_str<E>(self, _: &str) -> Result<Found, E> {
        Ok(Found::PLAIN)
    }
    fn visit_unit<E>(self) -> Result<Found, E> {
        Ok(Found::PLAIN)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        let inner = self.nested()?;
        let mut highest = None;
        while let Some(item) = seq.next_element_seed(inner)? {
            highest = highest.max(item.highest);
        }
        Ok(Found {
            highest,
            ..Found::PLAIN
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let inner = self.nested()?;
        // Members are kept from the first one that matters on: one before it can only
        // be repeated later, which the later one decides anyway. Most objects without
        // placeholders keep none.
        let mut members = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let value = map.next_value_seed(inner)?;
            if !members.is_empty() || matters(&key, &value) {
                members.push((key, value));
            }
        }
        Ok(if members.is_empty() {
            Found::PLAIN
        } else {
            Found::object(members)
        })
    }
}

/// A map key, refused when it is serde_json's reserved key (as the validator refuses
/// it), borrowed from the text unless it has escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map key")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
        checked_key(key).map(|()| Cow::Borrowed(key))
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        checked_key(key).map(|()| Cow::Owned(key.to_owned()))
    }
}

fn checked_key<E: serde::de::Error>(key: &str) -> Result<(), E> {
    if key == RESERVED_RAW_VALUE_KEY {
        return Err(E::custom("reserved map key"));
    }
    Ok(())
}
