//! Session and socket ids: 20 random base64url characters, stored inline.

use std::fmt;

use base64::Engine as _;
use rand::RngCore as _;

/// An Engine.IO session id or a namespace socket id: 20 characters of base64url from
/// 120 random bits. `Copy`, so room tables store it without allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; 20]);

impl Sid {
    /// A new random id.
    pub fn new() -> Self {
        let mut random = [0u8; 15];
        rand::rng().fill_bytes(&mut random);
        let mut out = [0u8; 20];
        // 15 bytes always encode to exactly 20 characters without padding.
        let _ = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_slice(random, &mut out);
        Self(out)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ever built from base64url output or validated ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Parses an id, accepting only the 20-character base64url form.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 20
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return None;
        }
        let mut out = [0u8; 20];
        out.copy_from_slice(bytes);
        Some(Self(out))
    }
}

impl Default for Sid {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_parse_back() {
        let a = Sid::new();
        let b = Sid::new();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 20);
        assert_eq!(Sid::parse(a.as_str()), Some(a));
        assert_eq!(Sid::parse("short"), None);
        assert_eq!(Sid::parse("!!!!!!!!!!!!!!!!!!!!"), None);
    }
}
