//! The C ABI of ferrosocket: `include/ferrosocket.h` is generated from this crate by a
//! pinned cbindgen (`ffi/gen-header.sh`). `ffi/README.md` is the contract: ownership,
//! strings, which thread runs each callback, error codes.
//!
//! Every exported function is a panic boundary ([`error::guard`]); every pointer from C
//! is checked for NULL before use; text is checked for UTF-8 and JSON for validity.

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

pub mod config;
pub mod error;
pub mod event;
pub mod log;
pub mod server;
pub mod targets;

pub use error::ferrosocket_result;

/// Major version of the library this header belongs to (the crate version). The string
/// form is `FERROSOCKET_VERSION`, e.g. `"0.1.0"`; `ferrosocket_version()` returns the
/// linked library's.
pub const FERROSOCKET_VERSION_MAJOR: u32 = 0;
/// Minor version of the library this header belongs to.
pub const FERROSOCKET_VERSION_MINOR: u32 = 1;
/// Patch version of the library this header belongs to.
pub const FERROSOCKET_VERSION_PATCH: u32 = 0;

/// The library's version as a NUL-terminated static string, e.g. `"0.1.0"`. Compare with
/// `FERROSOCKET_VERSION` to detect a header that does not match the library.
#[no_mangle]
pub extern "C" fn ferrosocket_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0")
        .as_ptr()
        .cast::<std::ffi::c_char>()
}

/// Borrowed UTF-8 text (not NUL-terminated). Returned by accessors, valid as long as the
/// function that returned it says; also used for arrays of text inputs (rooms).
/// `data` is NULL only when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrosocket_str {
    /// The first byte, or NULL for the empty / absent string.
    pub data: *const std::ffi::c_char,
    /// Length in bytes.
    pub len: usize,
}

impl ferrosocket_str {
    pub(crate) const EMPTY: Self = Self {
        data: std::ptr::null(),
        len: 0,
    };

    pub(crate) fn from_str(text: &str) -> Self {
        if text.is_empty() {
            return Self::EMPTY;
        }
        Self {
            data: text.as_ptr().cast(),
            len: text.len(),
        }
    }
}

/// Borrowed bytes: a binary attachment, in or out. `data` may be NULL only when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrosocket_bytes {
    /// The first byte, or NULL when empty.
    pub data: *const u8,
    /// Length in bytes.
    pub len: usize,
}

impl ferrosocket_bytes {
    pub(crate) fn from_slice(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Self {
                data: std::ptr::null(),
                len: 0,
            };
        }
        Self {
            data: bytes.as_ptr(),
            len: bytes.len(),
        }
    }
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
}
