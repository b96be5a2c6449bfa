//! `ferrosocket_server`: lifecycle and handler registration. It never calls C itself
//! (`callback` wraps C functions into the core's handlers) and never waits for the
//! dispatch threads from one of them (stop and free refuse inside a callback).

use std::ffi::{c_char, c_void};

use ferrosocket::embed::Embedded;

use crate::callback::{
    connect_handler, disconnect_handler, event_handler, ferrosocket_connect_callback,
    ferrosocket_disconnect_callback, ferrosocket_event_callback, in_callback,
};
use crate::config::ferrosocket_config;
use crate::pointer::{name_in, reference, str_in, write_out};
use crate::result::{fail, ferrosocket_result, Result};

/// A Socket.IO server with its own threads. Create with `ferrosocket_server_new`, register
/// handlers, `ferrosocket_server_start`, and at the end `ferrosocket_server_stop` and
/// `ferrosocket_server_free`. Every function taking a server may be called from any
/// thread, including from callbacks, except stop and free (not from callbacks).
///
/// Methods: `_start`, `_stop`, `_free`, `_local_port`, `_serve_dir`, `_on_connect`,
/// `_on_disconnect`, `_on`, `_on_any`, `_emit_to_sid`, `_emit_to_room`, `_broadcast`,
/// `_emit_with_ack`, `_join`, `_leave`, `_close_room`, `_rooms`, `_disconnect`.
#[derive(Debug)]
pub struct ferrosocket_server {
    pub(crate) embedded: Embedded,
    /// Where `ferrosocket_server_start` listens (copied from the config).
    host: String,
    port: u16,
    /// The Admin UI instrumentation (`ferrosocket_server_instrument`), while on.
    pub(crate) admin: std::sync::Mutex<Option<ferrosocket::admin::Instrumentation>>,
}

/// Creates a server from `config` (copied: free the config whenever you like) into
/// `*out`. Starts its I/O and dispatch threads but does not listen until
/// `ferrosocket_server_start`. Free with `ferrosocket_server_free`.
#[no_mangle]
pub extern "C" fn ferrosocket_server_new(
    config: *const ferrosocket_config,
    out: *mut *mut ferrosocket_server,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let config = reference(config, "config")?;
        if out.is_null() {
            return fail(ferrosocket_result::NullArgument, "out is NULL");
        }
        let embedded =
            Embedded::new(config.build(), config.options.clone(), None).or_else(|e| {
                if e.kind() == std::io::ErrorKind::InvalidInput {
                    // The adapter's settings (a Redis URL that does not parse).
                    fail(ferrosocket_result::InvalidArgument, e.to_string())
                } else {
                    fail(ferrosocket_result::Io, format!("starting threads: {e}"))
                }
            })?;
        let server = Box::new(ferrosocket_server {
            embedded,
            host: config.host.clone(),
            port: config.port,
            admin: std::sync::Mutex::new(None),
        });
        write_out(out, Box::into_raw(server), "out")
    })
}

/// Starts listening on the configured host and port and returns at once; clients are
/// served on the server's threads. Starting a started server does nothing.
/// `FERROSOCKET_RESULT_IO` if the port cannot be bound, `FERROSOCKET_RESULT_INVALID_STATE`
/// after `ferrosocket_server_stop`.
#[no_mangle]
pub extern "C" fn ferrosocket_server_start(
    server: *const ferrosocket_server,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        server.embedded.start_on(&server.host, server.port)?;
        Ok(())
    })
}

/// The port the server listens on into `*out` (useful with port 0).
/// `FERROSOCKET_RESULT_INVALID_STATE` when not listening.
#[no_mangle]
pub extern "C" fn ferrosocket_server_local_port(
    server: *const ferrosocket_server,
    out: *mut u16,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        // Not started, or stopped (stopping forgets the address).
        let Some(addr) = server.embedded.local_addr() else {
            return fail(
                ferrosocket_result::InvalidState,
                "the server is not listening",
            );
        };
        write_out(out, addr.port(), "out")
    })
}

/// Shuts down gracefully and for good: stops accepting, disconnects every client
/// (reason `server shutting down`, disconnect callbacks run), waits for connections to
/// drain (up to the shutdown timeout), and ends the dispatch threads. Blocks. Idempotent.
/// `FERROSOCKET_RESULT_IN_CALLBACK` when called from a callback (it would wait for
/// itself).
#[no_mangle]
pub extern "C" fn ferrosocket_server_stop(server: *const ferrosocket_server) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        // `Embedded::stop` refuses on a dispatch thread; an ack callback run elsewhere
        // (CANCELLED during free) is marked by `CallbackScope`.
        if in_callback() || !server.embedded.stop() {
            return fail(
                ferrosocket_result::InCallback,
                "cannot stop the server from one of its callbacks",
            );
        }
        Ok(())
    })
}

/// Stops the server if needed (see `ferrosocket_server_stop`) and frees it. NULL is a
/// no-op. Called from a callback it does nothing (and leaks) rather than deadlock;
/// `ferrosocket_last_error` says so. Userdata given to handlers may be freed once this
/// returns.
#[no_mangle]
pub extern "C" fn ferrosocket_server_free(server: *mut ferrosocket_server) {
    let _ = ffi_boundary!(|| {
        if server.is_null() {
            return Ok(());
        }
        if in_callback() {
            return fail(
                ferrosocket_result::InCallback,
                "cannot free the server from one of its callbacks; not freed",
            );
        }
        // SAFETY: non-NULL server pointers come from `ferrosocket_server_new`'s
        // `Box::into_raw` and, by the ownership contract, are freed exactly once, with no
        // other call on it running.
        let server = unsafe { Box::from_raw(server) };
        // Dropping the `Embedded` stops first (clients leave, the dispatch pool drains)
        // and then shuts its runtime down: acks still pending report CANCELLED, on this
        // thread or an I/O thread, before the drop returns.
        drop(server);
        Ok(())
    });
}

/// Serves the files under directory `path` to every HTTP request outside the Socket.IO
/// path (`/` serves `index.html`; paths with `..` or hidden components get 404).
/// `FERROSOCKET_RESULT_NOT_FOUND` if `path` is not a directory.
#[no_mangle]
pub extern "C" fn ferrosocket_server_serve_dir(
    server: *const ferrosocket_server,
    path: *const c_char,
    path_len: usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let path = name_in(path, path_len, "path")?;
        Ok(server.embedded.serve_dir(path)?)
    })
}

fn namespace_in<'a>(nsp: *const c_char, nsp_len: usize) -> Result<&'a str> {
    name_in(nsp, nsp_len, "namespace")
}

/// Decides who may join namespace `nsp` (created if new). Replaces an earlier connect
/// callback of `nsp`. Without one every client is accepted.
#[no_mangle]
pub extern "C" fn ferrosocket_server_on_connect(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    callback: ferrosocket_connect_callback,
    userdata: *mut c_void,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let nsp = namespace_in(nsp, nsp_len)?;
        server
            .embedded
            .on_connect(nsp, connect_handler(callback, userdata)?);
        Ok(())
    })
}

/// Runs `callback` after a client leaves namespace `nsp` (created if new). Replaces an
/// earlier disconnect callback of `nsp`.
#[no_mangle]
pub extern "C" fn ferrosocket_server_on_disconnect(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    callback: ferrosocket_disconnect_callback,
    userdata: *mut c_void,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let nsp = namespace_in(nsp, nsp_len)?;
        server
            .embedded
            .on_disconnect(nsp, disconnect_handler(callback, userdata)?);
        Ok(())
    })
}

/// Runs `callback` for event `event` in namespace `nsp` (created if new). Replaces an
/// earlier callback for the same event.
#[no_mangle]
pub extern "C" fn ferrosocket_server_on(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    event: *const c_char,
    event_len: usize,
    callback: ferrosocket_event_callback,
    userdata: *mut c_void,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let nsp = namespace_in(nsp, nsp_len)?;
        let event = str_in(event, event_len, "event")?;
        let handler = event_handler(callback, userdata)?;
        server.embedded.on(nsp, event, handler);
        Ok(())
    })
}

/// Runs `callback` for every event of namespace `nsp` (created if new) that has no
/// callback of its own.
#[no_mangle]
pub extern "C" fn ferrosocket_server_on_any(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    callback: ferrosocket_event_callback,
    userdata: *mut c_void,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let nsp = namespace_in(nsp, nsp_len)?;
        let handler = event_handler(callback, userdata)?;
        server.embedded.on_any(nsp, handler);
        Ok(())
    })
}
