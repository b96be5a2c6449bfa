//! The panic boundary every exported function runs its body in: a failure becomes a
//! result code plus this thread's last error, prefixed with the function's own name, and
//! a panic becomes `FERROSOCKET_RESULT_PANIC` instead of unwinding into C. Owns nothing
//! else: it never reads C memory and never decides which code a failure gets.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::result::{ferrosocket_result, set_last_error, Result};

/// The name of the function this expands in, for messages: taken from the type name of
/// an item declared right here, so it can never drift from the function (as a retyped
/// string literal could).
macro_rules! function_name {
    () => {{
        fn here() {}
        $crate::panic::enclosing_function(::std::any::type_name_of_val(&here))
    }};
}

/// Runs a body that returns `Result<T>` behind the panic boundary, naming the enclosing
/// exported function in the last error:
///
/// - `ffi_boundary!(|| { ... Ok(()) })` returns a `ferrosocket_result`;
/// - `ffi_boundary!(fallback, || { ... Ok(value) })` returns the value, or `fallback`
///   on failure or panic (accessors, constructors returning a pointer).
///
/// Expand it directly in the `extern "C" fn`: the name is that of the function the
/// expansion sits in (closures around it are skipped, helper functions are not).
macro_rules! ffi_boundary {
    ($body:expr) => {
        $crate::panic::guard(|| function_name!(), $body)
    };
    ($fallback:expr, $body:expr) => {
        $crate::panic::guard_value(|| function_name!(), $fallback, $body)
    };
}

/// The function name in `path`, the type name of `function_name!`'s marker item
/// (`crate::module::ferrosocket_x::{{closure}}::here`): the last segment that is neither
/// the marker nor a closure.
pub(crate) fn enclosing_function(path: &'static str) -> &'static str {
    path.rsplit("::")
        .find(|segment| *segment != "here" && *segment != "{{closure}}")
        .unwrap_or(path)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Runs `body`, catching a panic; a failure or panic is recorded as this thread's last
/// error, prefixed with `function()` (only called then), and comes back as its code.
fn run<T>(
    function: impl FnOnce() -> &'static str,
    body: impl FnOnce() -> Result<T>,
) -> std::result::Result<T, ferrosocket_result> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            set_last_error(format!("{}: {}", function(), error.message));
            Err(error.code)
        }
        Err(payload) => {
            set_last_error(format!(
                "{}: panicked: {}",
                function(),
                panic_message(&*payload)
            ));
            Err(ferrosocket_result::Panic)
        }
    }
}

/// The boundary of a function returning `ferrosocket_result` (see `ffi_boundary!`).
pub(crate) fn guard(
    function: impl FnOnce() -> &'static str,
    body: impl FnOnce() -> Result<()>,
) -> ferrosocket_result {
    match run(function, body) {
        Ok(()) => ferrosocket_result::Ok,
        Err(code) => code,
    }
}

/// The boundary of a function returning a value: `fallback` on failure or panic.
pub(crate) fn guard_value<T>(
    function: impl FnOnce() -> &'static str,
    fallback: T,
    body: impl FnOnce() -> Result<T>,
) -> T {
    run(function, body).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::fail;

    fn last_error() -> String {
        let mut buf = [0u8; 256];
        let mut len = 0;
        let rc =
            crate::result::ferrosocket_last_error(buf.as_mut_ptr().cast(), buf.len(), &mut len);
        assert_eq!(rc, ferrosocket_result::Ok);
        String::from_utf8_lossy(&buf[..len]).into_owned()
    }

    fn named_failure() -> ferrosocket_result {
        ffi_boundary!(|| fail(ferrosocket_result::NotFound, "gone"))
    }

    fn named_panic() -> u32 {
        ffi_boundary!(7, || -> Result<u32> { panic!("boom") })
    }

    #[test]
    fn names_the_enclosing_function() {
        assert_eq!(named_failure(), ferrosocket_result::NotFound);
        assert_eq!(last_error(), "named_failure: gone");
        assert_eq!(named_panic(), 7);
        assert_eq!(last_error(), "named_panic: panicked: boom");
        let nested = || function_name!();
        assert_eq!(nested(), "names_the_enclosing_function");
        assert_eq!(
            enclosing_function("a::b::{{closure}}::{{closure}}::here"),
            "b"
        );
    }

    #[test]
    fn exported_functions_name_themselves() {
        // Through a real export: the message starts with its own name.
        assert_eq!(
            crate::server::ferrosocket_server_start(std::ptr::null()),
            ferrosocket_result::NullArgument
        );
        assert_eq!(last_error(), "ferrosocket_server_start: server is NULL");
    }
}
