//! Result codes and the per-thread last error: what a failed call returns and what
//! `ferrosocket_last_error` tells about it. Owns the mapping from core errors to codes.
//! Never catches panics (that is `panic`) and never reads C memory itself (`pointer`).

use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use ferrosocket::admin::AdminError;
use ferrosocket::embed::EmbedError;
use ferrosocket::SendError;

use crate::pointer::copy_out;

/// What a function did. `FERROSOCKET_RESULT_OK` is 0. The numbers are ABI: never
/// renumbered, and a retired code's number is never reused.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrosocket_result {
    /// Success.
    Ok = 0,
    /// A required pointer was NULL (or NULL with a non-zero length).
    NullArgument = 1,
    /// Text was not valid UTF-8.
    InvalidUtf8 = 2,
    /// Arguments were not a JSON array, or data was not valid JSON.
    InvalidJson = 3,
    /// A value out of range or inconsistent (a zero interval, a binary placeholder with
    /// no attachment, an address that does not resolve).
    InvalidArgument = 4,
    /// No connected socket has this id in this namespace.
    UnknownSid = 5,
    /// No handler was ever registered for this namespace (`/` always exists).
    UnknownNamespace = 6,
    /// The caller's buffer is too small; `*out_len` holds the length needed (without NUL).
    BufferTooSmall = 7,
    /// No acknowledgement is pending: the client did not ask for one, or it was already
    /// sent or taken.
    NoAck = 8,
    /// The client's outbound queue is full (the client is being disconnected).
    SendFailed = 9,
    /// The call is not valid in this state (start after stop).
    InvalidState = 10,
    /// An operating-system error (binding the port failed).
    Io = 11,
    /// Called from inside a callback, where it would deadlock (stop, free).
    InCallback = 12,
    /// Ack reply status: the client did not answer in time.
    Timeout = 13,
    /// The client disconnected (before answering an ack, or before the send).
    Disconnected = 14,
    /// Ack reply status: the server was freed before an answer came.
    Cancelled = 15,
    /// The requested item (header, query parameter, directory) does not exist.
    NotFound = 16,
    /// A bug in the library panicked; the call had no effect or a partial one.
    Panic = 17,
    /// The room is a connected client's own id room: another client may not join it
    /// (it would capture what is sent to that id), and it cannot be closed.
    SidRoom = 18,
}

impl ferrosocket_result {
    pub(crate) fn name(code: u32) -> &'static std::ffi::CStr {
        match code {
            0 => c"FERROSOCKET_RESULT_OK",
            1 => c"FERROSOCKET_RESULT_NULL_ARGUMENT",
            2 => c"FERROSOCKET_RESULT_INVALID_UTF8",
            3 => c"FERROSOCKET_RESULT_INVALID_JSON",
            4 => c"FERROSOCKET_RESULT_INVALID_ARGUMENT",
            5 => c"FERROSOCKET_RESULT_UNKNOWN_SID",
            6 => c"FERROSOCKET_RESULT_UNKNOWN_NAMESPACE",
            7 => c"FERROSOCKET_RESULT_BUFFER_TOO_SMALL",
            8 => c"FERROSOCKET_RESULT_NO_ACK",
            9 => c"FERROSOCKET_RESULT_SEND_FAILED",
            10 => c"FERROSOCKET_RESULT_INVALID_STATE",
            11 => c"FERROSOCKET_RESULT_IO",
            12 => c"FERROSOCKET_RESULT_IN_CALLBACK",
            13 => c"FERROSOCKET_RESULT_TIMEOUT",
            14 => c"FERROSOCKET_RESULT_DISCONNECTED",
            15 => c"FERROSOCKET_RESULT_CANCELLED",
            16 => c"FERROSOCKET_RESULT_NOT_FOUND",
            17 => c"FERROSOCKET_RESULT_PANIC",
            18 => c"FERROSOCKET_RESULT_SID_ROOM",
            _ => c"FERROSOCKET_RESULT_UNKNOWN",
        }
    }
}

/// The name of result code `code` as a static NUL-terminated string, e.g.
/// `"FERROSOCKET_RESULT_UNKNOWN_SID"`; `"FERROSOCKET_RESULT_UNKNOWN"` for a number that is
/// not a code.
#[no_mangle]
pub extern "C" fn ferrosocket_result_name(code: u32) -> *const c_char {
    ffi_boundary!(c"FERROSOCKET_RESULT_UNKNOWN".as_ptr(), || Ok(
        ferrosocket_result::name(code).as_ptr()
    ))
}

/// A failure: its code and the text `ferrosocket_last_error` will return.
#[derive(Debug)]
pub(crate) struct Error {
    pub(crate) code: ferrosocket_result,
    pub(crate) message: String,
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

pub(crate) fn fail<T>(code: ferrosocket_result, message: impl Into<String>) -> Result<T> {
    Err(Error {
        code,
        message: message.into(),
    })
}

impl From<SendError> for Error {
    fn from(error: SendError) -> Self {
        let code = match error {
            SendError::Disconnected => ferrosocket_result::Disconnected,
            SendError::QueueFull => ferrosocket_result::SendFailed,
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

impl From<EmbedError> for Error {
    fn from(error: EmbedError) -> Self {
        let code = match &error {
            EmbedError::Stopped | EmbedError::RuntimeGone => ferrosocket_result::InvalidState,
            EmbedError::Resolve { .. } => ferrosocket_result::InvalidArgument,
            EmbedError::Listen { .. } => ferrosocket_result::Io,
            EmbedError::NotADirectory(_) => ferrosocket_result::NotFound,
            EmbedError::UnknownNamespace(_) => ferrosocket_result::UnknownNamespace,
            EmbedError::UnknownSocket { .. } => ferrosocket_result::UnknownSid,
            EmbedError::Admin(AdminError::AlreadyInstrumented | AdminError::NoRuntime) => {
                ferrosocket_result::InvalidState
            }
            EmbedError::Admin(_) => ferrosocket_result::InvalidArgument,
            // Non-exhaustive: a new error gets its own code here when it appears; until
            // then it still fails the call, with its text in the last error.
            _ => ferrosocket_result::InvalidState,
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

thread_local! {
    /// The last failure on this thread, as `errno` is per thread: C callers on different
    /// threads never see each other's messages.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `message` as this thread's last error (the panic boundary calls it).
pub(crate) fn set_last_error(message: String) {
    LAST_ERROR.with(|last| *last.borrow_mut() = message);
}

/// Copies the description of the most recent failure on the calling thread into `buf`
/// with a terminating NUL, and its length (without the NUL) into `*out_len`. Empty when
/// nothing failed yet on this thread; successes do not clear it (like `errno`).
///
/// Returns `FERROSOCKET_RESULT_BUFFER_TOO_SMALL` with `*out_len` set when `buf_len` is
/// less than `*out_len + 1`; calling with `buf` NULL and `buf_len` 0 asks for the length.
/// This function never changes the last error itself.
#[no_mangle]
pub extern "C" fn ferrosocket_last_error(
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> ferrosocket_result {
    // Its own boundary, not `ffi_boundary!`: a failure here must not overwrite the very
    // message the caller asks for.
    let copied = catch_unwind(AssertUnwindSafe(|| {
        LAST_ERROR.with(|last| copy_out(&last.borrow(), buf, buf_len, out_len))
    }));
    match copied {
        Ok(Ok(())) => ferrosocket_result::Ok,
        Ok(Err(error)) => error.code,
        Err(_) => ferrosocket_result::Panic,
    }
}
