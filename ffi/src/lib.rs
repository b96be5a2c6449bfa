//! The C ABI of ferrosocket: `include/ferrosocket.h` is generated from this crate by a
//! pinned cbindgen (`ffi/gen-header.sh`). `ffi/README.md` is the contract: ownership,
//! strings, which thread runs each callback, error codes.
//!
//! Every exported function runs its body behind the panic boundary (`ffi_boundary!`,
//! module `panic`); every pointer from C is checked for NULL before use (`pointer`);
//! text is checked for UTF-8 and JSON for validity. This crate only converts and crosses
//! the ABI: what the bindings share lives in `ferrosocket::embed`, never here.

// A C ABI is raw pointers from C by nature: this crate is the one place of the workspace
// that needs `unsafe`. Every unsafe block states why it is sound (`// SAFETY:`).
#![allow(unsafe_code)]
// The C names (`ferrosocket_server`, ...) are the API; Rust-style names would need a
// rename table in cbindgen and make the Rust side harder to grep from the header.
#![allow(non_camel_case_types)]
// The exported functions take raw pointers but are safe `extern "C" fn`s, as in
// rustls-ffi: the caller's obligations (valid pointer + length for the call) are stated
// once in ffi/README.md, and every pointer is NULL-checked before use.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
// Every unsafe block and impl says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks)]

// The panic boundary's macros (`ffi_boundary!`), used by every module below.
#[macro_use]
mod panic;

// Glue, by concern.
mod callback;
mod pointer;
mod result;
mod slice;
mod userdata;

// The exported API, by type.
pub mod admin;
pub mod config;
pub mod event;
pub mod log;
pub mod metrics;
pub mod reason;
pub mod redis;
pub mod server;
pub mod targets;

pub use callback::{
    ferrosocket_ack_callback, ferrosocket_connect_callback, ferrosocket_disconnect_callback,
    ferrosocket_event_callback,
};
pub use reason::ferrosocket_disconnect_reason;
pub use result::ferrosocket_result;
pub use slice::{ferrosocket_args, ferrosocket_bytes, ferrosocket_str};

/// Major version of the library this header belongs to (the crate version). The string
/// form is `FERROSOCKET_VERSION`, e.g. `"0.1.0"`; `ferrosocket_version()` returns the
/// linked library's.
pub const FERROSOCKET_VERSION_MAJOR: u32 = 0;
/// Minor version of the library this header belongs to.
pub const FERROSOCKET_VERSION_MINOR: u32 = 1;
/// Patch version of the library this header belongs to.
pub const FERROSOCKET_VERSION_PATCH: u32 = 0;

// The three constants above are literals because cbindgen copies them into the header as
// they are written. The crate version is the one source: bumping it in the workspace's
// Cargo.toml without them does not compile.
const fn decimal(text: &str) -> u32 {
    let digits = text.as_bytes();
    let mut value = 0;
    let mut i = 0;
    while i < digits.len() {
        value = value * 10 + (digits[i] - b'0') as u32;
        i += 1;
    }
    value
}
const _: () = assert!(
    FERROSOCKET_VERSION_MAJOR == decimal(env!("CARGO_PKG_VERSION_MAJOR"))
        && FERROSOCKET_VERSION_MINOR == decimal(env!("CARGO_PKG_VERSION_MINOR"))
        && FERROSOCKET_VERSION_PATCH == decimal(env!("CARGO_PKG_VERSION_PATCH")),
    "the FERROSOCKET_VERSION_* constants differ from the crate version: update them and run ffi/gen-header.sh"
);

/// The library's version as a NUL-terminated static string, e.g. `"0.1.0"`. Compare with
/// `FERROSOCKET_VERSION` to detect a header that does not match the library.
#[no_mangle]
pub extern "C" fn ferrosocket_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0")
        .as_ptr()
        .cast::<std::ffi::c_char>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_version_matches_crate_version() {
        let header = format!(
            "{FERROSOCKET_VERSION_MAJOR}.{FERROSOCKET_VERSION_MINOR}.{FERROSOCKET_VERSION_PATCH}"
        );
        assert_eq!(
            header,
            env!("CARGO_PKG_VERSION"),
            "bump the header version constants"
        );
        // SAFETY: ferrosocket_version returns a static NUL-terminated string.
        let runtime = unsafe { std::ffi::CStr::from_ptr(ferrosocket_version()) };
        assert_eq!(runtime.to_str().ok(), Some(header.as_str()));
    }

    /// Every exported function runs its body behind `ffi_boundary!` (which names it),
    /// except the two that cannot fail: `ferrosocket_version` returns a static, and
    /// `ferrosocket_last_error` has its own boundary so as not to overwrite the message.
    #[test]
    fn every_export_is_behind_the_boundary() {
        let sources = [
            include_str!("callback.rs"),
            include_str!("config.rs"),
            include_str!("event.rs"),
            include_str!("lib.rs"),
            include_str!("log.rs"),
            include_str!("pointer.rs"),
            include_str!("reason.rs"),
            include_str!("result.rs"),
            include_str!("server.rs"),
            include_str!("slice.rs"),
            include_str!("targets.rs"),
        ];
        let marker = concat!("#[no_mangle]\n", "pub extern \"C\" fn ");
        let mut exports = 0;
        for source in sources {
            for item in source.split(marker).skip(1) {
                let name = item.split('(').next().unwrap_or_default();
                // The body: up to the next top-level item.
                let body = item.split("\n}\n").next().unwrap_or_default();
                exports += 1;
                if name == "ferrosocket_version" || name == "ferrosocket_last_error" {
                    continue;
                }
                assert!(
                    body.contains("ffi_boundary!(")
                        || body.contains("borrowed_str!(")
                        || body.contains("with_config!("),
                    "{name} has no panic boundary"
                );
            }
        }
        assert!(exports > 60, "found only {exports} exported functions");
    }
}
