//! Client-chosen text on its way into a log line.
//!
//! A namespace, an origin or an event name comes from the client, and a log line that
//! prints it whole can be made as long as the max payload (a 100 KB namespace once made
//! a 100,138-character line) or can forge a line of its own with a newline. [`clip`]
//! shows at most [`MAX_LOGGED_CHARS`] characters, escaped as in Rust's `{:?}`, and says
//! how much it left out.

use std::fmt;

/// The most characters of one client-chosen string written into a log line.
pub(crate) const MAX_LOGGED_CHARS: usize = 64;

/// Client text, shortened and escaped for a log line: see the module docs.
pub(crate) struct Clipped<'a>(&'a str);

/// Wraps `text` for a log line: `%clip(nsp)` in a `tracing` macro.
pub(crate) fn clip(text: &str) -> Clipped<'_> {
    Clipped(text)
}

impl fmt::Display for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self
            .0
            .char_indices()
            .nth(MAX_LOGGED_CHARS)
            .map_or(self.0.len(), |(i, _)| i);
        for c in self.0[..end].chars() {
            write!(f, "{}", c.escape_debug())?;
        }
        if end < self.0.len() {
            write!(f, "…(+{} bytes)", self.0.len() - end)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_long_text_is_cut_and_control_characters_escaped() {
        assert_eq!(clip("/chat").to_string(), "/chat");
        assert_eq!(clip("a\nb\u{1b}").to_string(), "a\\nb\\u{1b}");
        let long = "é".repeat(1000);
        let shown = clip(&long).to_string();
        assert_eq!(shown, format!("{}…(+{} bytes)", "é".repeat(64), 2000 - 128));
    }
}
