//! The borrowed views that cross the ABI by value: text (`ferrosocket_str`), bytes
//! (`ferrosocket_bytes`) and event arguments (`ferrosocket_args`), with their conversion
//! to and from the core's `Payload`. A view never owns memory: what goes in is copied
//! before the call returns, what comes out points into memory its caller keeps alive.

use std::ffi::c_char;

use ferrosocket::protocol::PayloadError;
use ferrosocket::Payload;

use crate::pointer::{array_in, bytes_in, reference_or_none, str_in};
use crate::result::{fail, ferrosocket_result, Result};

/// Borrowed UTF-8 text (not NUL-terminated). Returned by accessors, valid as long as the
/// function that returned it says; also used for arrays of text inputs (rooms).
/// `data` is NULL only when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrosocket_str {
    /// The first byte, or NULL for the empty / absent string.
    pub data: *const c_char,
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
    pub(crate) const EMPTY: Self = Self {
        data: std::ptr::null(),
        len: 0,
    };

    pub(crate) fn from_slice(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Self::EMPTY;
        }
        Self {
            data: bytes.as_ptr(),
            len: bytes.len(),
        }
    }
}

/// Event arguments, borrowed: ONE JSON array text (`["hi",{"n":1}]`, not NUL-terminated)
/// and the binary attachments its placeholders `{"_placeholder":true,"num":i}` stand for
/// (attachment `i` is `bins[i]`).
///
/// Passed in (emits, acks) as `const ferrosocket_args *`, copied before the call returns;
/// a NULL pointer, or `json` NULL with `json_len` 0, means no arguments (`[]`); `bins` may
/// be NULL when `nbins` is 0. Given out (`ferrosocket_event_args`, ack replies) it points
/// into the library's memory, valid until the callback returns, and can be passed on to
/// an emit as it is.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrosocket_args {
    /// The JSON array text; NULL only when `json_len` is 0.
    pub json: *const c_char,
    /// Length of `json` in bytes.
    pub json_len: usize,
    /// The attachments, `nbins` of them; NULL only when `nbins` is 0.
    pub bins: *const ferrosocket_bytes,
    /// How many attachments.
    pub nbins: usize,
}

/// Arguments from C, validated and copied (NULL = `[]`).
pub(crate) fn payload_in(args: *const ferrosocket_args) -> Result<Payload> {
    let Some(args) = reference_or_none(args) else {
        return Ok(Payload::empty());
    };
    let text = str_in(args.json, args.json_len, "args.json")?;
    let text = if text.is_empty() { "[]" } else { text };
    let binary = array_in(args.bins, args.nbins, "args.bins")?
        .iter()
        .enumerate()
        .map(|(i, b)| {
            bytes_in(b.data, b.len, &format!("args.bins[{i}].data"))
                .map(bytes::Bytes::copy_from_slice)
        })
        .collect::<Result<Vec<_>>>()?;
    Payload::from_json(text, binary).or_else(|error| {
        let code = match error {
            PayloadError::BadPlaceholder { .. } => ferrosocket_result::InvalidArgument,
            _ => ferrosocket_result::InvalidJson,
        };
        fail(code, error.to_string())
    })
}

/// The C view of a payload: its JSON text and its attachments as `ferrosocket_bytes`.
/// Raw pointers into the payload's buffers, which do not move while the payload lives:
/// whoever holds one keeps the payload alive (and unchanged) for as long.
#[derive(Debug)]
pub(crate) struct ArgsOut {
    json: ferrosocket_str,
    bins: Vec<ferrosocket_bytes>,
}

impl ArgsOut {
    /// Views of `payload` (no allocation when it has no attachments).
    pub(crate) fn new(payload: &Payload) -> Self {
        Self {
            json: ferrosocket_str::from_str(payload.json()),
            bins: payload
                .binary()
                .iter()
                .map(|b| ferrosocket_bytes::from_slice(b))
                .collect(),
        }
    }

    /// The `ferrosocket_args` for C, valid while this value and its payload live.
    pub(crate) fn args(&self) -> ferrosocket_args {
        ferrosocket_args {
            json: self.json.data,
            json_len: self.json.len,
            bins: if self.bins.is_empty() {
                std::ptr::null()
            } else {
                self.bins.as_ptr()
            },
            nbins: self.bins.len(),
        }
    }
}

/// No arguments, as given to an ack callback that got no reply.
pub(crate) const NO_ARGS: ferrosocket_args = ferrosocket_args {
    json: std::ptr::null(),
    json_len: 0,
    bins: std::ptr::null(),
    nbins: 0,
};
