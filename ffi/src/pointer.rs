//! Reading what C passes in and writing C's out-parameters: every raw pointer from C
//! goes through one of these, which check NULL (and lengths) before touching memory and
//! turn bad input into a result code. Nothing here keeps a pointer past the call.

use std::ffi::c_char;

use crate::result::{fail, ferrosocket_result, Result};

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

/// A reference from an optional pointer C passed in: `None` for NULL.
pub(crate) fn reference_or_none<'a, T>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: as for `reference`: a non-NULL pointer points to a live, initialised value
    // of this type for the duration of the call (C's own struct for `ferrosocket_args`).
    unsafe { ptr.as_ref() }
}
