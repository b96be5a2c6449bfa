//! Result codes, the per-thread last error, the panic boundary, and the checks every
//! pointer from C goes through.

use std::cell::{Cell, RefCell};
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::ferrosocket_bytes;

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
    ferrosocket_result::name(code).as_ptr()
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

thread_local! {
    /// The last failure on this thread, as `errno` is per thread: C callers on different
    /// threads never see each other's messages.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
    /// Set while this thread runs a C ack callback outside the dispatch pool (CANCELLED
    /// while the server is freed): stop and free refuse there, as on dispatch threads,
    /// since they wait for the very threads that run callbacks.
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

fn set_last_error(message: String) {
    LAST_ERROR.with(|last| *last.borrow_mut() = message);
}

/// Marks the current thread as running a C callback while it lives (needed only where
/// the thread is not a dispatch thread; those are recognised by `on_dispatch_thread`).
pub(crate) struct CallbackScope(());

impl CallbackScope {
    pub(crate) fn enter() -> Self {
        IN_CALLBACK.with(|depth| depth.set(depth.get() + 1));
        Self(())
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        IN_CALLBACK.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// Whether the calling thread runs a callback of some server: a dispatch thread, or a
/// thread inside a [`CallbackScope`].
pub(crate) fn in_callback() -> bool {
    ferrosocket::embed::on_dispatch_thread() || IN_CALLBACK.with(|depth| depth.get() > 0)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// The panic boundary of a function returning `ferrosocket_result`: runs `body`, records
/// a failure as this thread's last error, and turns a panic into
/// `FERROSOCKET_RESULT_PANIC` instead of unwinding into C.
pub(crate) fn guard(function: &str, body: impl FnOnce() -> Result<()>) -> ferrosocket_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ferrosocket_result::Ok,
        Ok(Err(error)) => {
            set_last_error(format!("{function}: {}", error.message));
            error.code
        }
        Err(payload) => {
            set_last_error(format!(
                "{function}: panicked: {}",
                panic_message(&*payload)
            ));
            ferrosocket_result::Panic
        }
    }
}

/// The panic boundary of a function returning a value: `fallback` on failure or panic.
pub(crate) fn guard_value<T>(function: &str, fallback: T, body: impl FnOnce() -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            set_last_error(format!("{function}: {}", error.message));
            fallback
        }
        Err(payload) => {
            set_last_error(format!(
                "{function}: panicked: {}",
                panic_message(&*payload)
            ));
            fallback
        }
    }
}

/// A reference from a pointer C passed in, or `NULL_ARGUMENT`.
pub(crate) fn reference<'a, T>(ptr: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: the C contract (ffi/README.md) is that a non-NULL object pointer points to
    // a live object of this type, created by this library and not yet freed, for the
    // duration of the call. NULL is checked by `as_ref`.
    match unsafe { ptr.as_ref() } {
        Some(value) => Ok(value),
        None => fail(ferrosocket_result::NullArgument, format!("{what} is NULL")),
    }
}

/// A mutable reference from a pointer C passed in, or `NULL_ARGUMENT`.
pub(crate) fn reference_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T> {
    // SAFETY: as for `reference`; the C contract also says a non-const object is not used
    // by another thread during this call (only the config is passed as mutable).
    match unsafe { ptr.as_mut() } {
        Some(value) => Ok(value),
        None => fail(ferrosocket_result::NullArgument, format!("{what} is NULL")),
    }
}

/// Bytes from a pointer and a length; NULL with length 0 is empty.
pub(crate) fn bytes_in<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if ptr.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return fail(
            ferrosocket_result::NullArgument,
            format!("{what} is NULL with length {len}"),
        );
    }
    // SAFETY: non-NULL, and the C contract is that `ptr` is valid for reading `len` bytes
    // for the duration of the call; the slice does not outlive the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// UTF-8 text from a pointer and a length; NULL with length 0 is `""`.
pub(crate) fn str_in<'a>(ptr: *const c_char, len: usize, what: &str) -> Result<&'a str> {
    let bytes = bytes_in(ptr.cast::<u8>(), len, what)?;
    std::str::from_utf8(bytes).or_else(|_| {
        fail(
            ferrosocket_result::InvalidUtf8,
            format!("{what} is not valid UTF-8"),
        )
    })
}

/// Non-empty UTF-8 text.
pub(crate) fn name_in<'a>(ptr: *const c_char, len: usize, what: &str) -> Result<&'a str> {
    let text = str_in(ptr, len, what)?;
    if text.is_empty() {
        return fail(
            ferrosocket_result::InvalidArgument,
            format!("{what} is empty"),
        );
    }
    Ok(text)
}

/// A C array of `count` items; NULL with count 0 is empty.
pub(crate) fn array_in<'a, T>(ptr: *const T, count: usize, what: &str) -> Result<&'a [T]> {
    if ptr.is_null() {
        if count == 0 {
            return Ok(&[]);
        }
        return fail(
            ferrosocket_result::NullArgument,
            format!("{what} is NULL with count {count}"),
        );
    }
    // SAFETY: non-NULL, and the C contract is that the array holds `count` initialised
    // items for the duration of the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// Attachments from a C array, copied (the caller's memory is only borrowed).
pub(crate) fn binaries_in(
    bins: *const ferrosocket_bytes,
    count: usize,
) -> Result<Vec<bytes::Bytes>> {
    array_in(bins, count, "bins")?
        .iter()
        .enumerate()
        .map(|(i, b)| {
            bytes_in(b.data, b.len, &format!("bins[{i}].data")).map(bytes::Bytes::copy_from_slice)
        })
        .collect()
}

/// Copies `text` and a NUL into the caller's buffer; `*out_len` gets the text length.
pub(crate) fn copy_out(
    text: &str,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> Result<()> {
    if out_len.is_null() {
        return fail(ferrosocket_result::NullArgument, "out_len is NULL");
    }
    // SAFETY: non-NULL; the C contract is that out-parameters point to writable memory.
    unsafe { out_len.write(text.len()) };
    if buf_len < text.len() + 1 {
        return fail(
            ferrosocket_result::BufferTooSmall,
            format!("needs {} bytes, buffer has {buf_len}", text.len() + 1),
        );
    }
    if buf.is_null() {
        return fail(ferrosocket_result::NullArgument, "buf is NULL");
    }
    // SAFETY: `buf` is non-NULL and, by the C contract, writable for `buf_len` bytes,
    // which we checked is at least `text.len() + 1`; `text` cannot overlap a C buffer
    // since it is owned by the library.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
    }
    Ok(())
}

/// Writes an out-parameter, or `NULL_ARGUMENT`.
pub(crate) fn write_out<T>(out: *mut T, value: T, what: &str) -> Result<()> {
    if out.is_null() {
        return fail(ferrosocket_result::NullArgument, format!("{what} is NULL"));
    }
    // SAFETY: non-NULL; the C contract is that out-parameters point to writable memory
    // of the right type. `write` does not drop the (uninitialised) old value.
    unsafe { out.write(value) };
    Ok(())
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
    let copied = catch_unwind(AssertUnwindSafe(|| {
        LAST_ERROR.with(|last| copy_out(&last.borrow(), buf, buf_len, out_len))
    }));
    match copied {
        Ok(Ok(())) => ferrosocket_result::Ok,
        Ok(Err(error)) => error.code,
        Err(_) => ferrosocket_result::Panic,
    }
}
