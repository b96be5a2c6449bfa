//! The Socket.IO Admin UI from C: `ferrosocket_server_instrument` serves the UI's
//! protocol on a server (core `ferrosocket::admin`), `ferrosocket_server_uninstrument`
//! ends it. Login is a user name and password (what the UI's form sends) or none.

use std::time::Duration;

use ferrosocket::admin::{AdminAuth, AdminMode, AdminOptions};

use crate::pointer::{reference, reference_mut, str_in};
use crate::result::{fail, ferrosocket_result, Result};
use crate::server::ferrosocket_server;
use crate::slice::ferrosocket_str;

/// How much the Admin UI sees. The numbers are ABI.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrosocket_admin_mode {
    /// Every socket, its rooms and every event as it happens, plus `server_stats`.
    Development = 0,
    /// `server_stats` only (clients, namespaces, per-second connection and byte counts).
    Production = 1,
}

/// How `ferrosocket_server_instrument` serves the Admin UI. Fill it with
/// `ferrosocket_admin_options_init` (the defaults), then change what you need. Text
/// fields are borrowed for the call only. Later versions may add fields at the end
/// only; `size` tells which version the caller filled.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrosocket_admin_options {
    /// `sizeof(ferrosocket_admin_options)` as the caller knows it (set by `_init`).
    pub size: usize,
    /// The login the UI must send (its form's user name and password). Required unless
    /// `no_auth`.
    pub username: ferrosocket_str,
    /// The password of that login.
    pub password: ferrosocket_str,
    /// True: anyone who reaches the port may log in (`username` and `password` unused).
    pub no_auth: bool,
    /// A `ferrosocket_admin_mode` (default development).
    pub mode: u32,
    /// True: the UI's join, leave, disconnect and emit commands are ignored.
    pub read_only: bool,
    /// The id the UI lists this server under; empty: the host name.
    pub server_id: ferrosocket_str,
    /// The admin namespace; empty: `/admin`.
    pub admin_namespace: ferrosocket_str,
    /// Milliseconds between `server_stats` (default 2000, at least 100).
    pub stats_interval_ms: u64,
}

/// Fills `*out` with the defaults: no login set (so `username` and `password`, or
/// `no_auth`, must be given), development mode, not read-only, the host name as id,
/// `/admin`, stats every 2000 ms.
#[no_mangle]
pub extern "C" fn ferrosocket_admin_options_init(
    out: *mut ferrosocket_admin_options,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let out = reference_mut(out, "out")?;
        *out = ferrosocket_admin_options {
            size: std::mem::size_of::<ferrosocket_admin_options>(),
            username: ferrosocket_str::EMPTY,
            password: ferrosocket_str::EMPTY,
            no_auth: false,
            mode: ferrosocket_admin_mode::Development as u32,
            read_only: false,
            server_id: ferrosocket_str::EMPTY,
            admin_namespace: ferrosocket_str::EMPTY,
            stats_interval_ms: 2000,
        };
        Ok(())
    })
}

fn text(value: ferrosocket_str, what: &str) -> Result<String> {
    Ok(str_in(value.data, value.len, what)?.to_owned())
}

fn options_in(options: &ferrosocket_admin_options) -> Result<AdminOptions> {
    if options.size < std::mem::size_of::<ferrosocket_admin_options>() {
        return fail(
            ferrosocket_result::InvalidArgument,
            "options.size is not sizeof(ferrosocket_admin_options): fill it with ferrosocket_admin_options_init",
        );
    }
    let auth = if options.no_auth {
        AdminAuth::disabled()
    } else {
        let username = text(options.username, "options.username")?;
        if username.is_empty() {
            return fail(
                ferrosocket_result::InvalidArgument,
                "options.username is empty: give a login, or set no_auth",
            );
        }
        AdminAuth::basic(username, text(options.password, "options.password")?)
    };
    let mode = match options.mode {
        0 => AdminMode::Development,
        1 => AdminMode::Production,
        other => {
            return fail(
                ferrosocket_result::InvalidArgument,
                format!("unknown admin mode {other}: 0 (development) or 1 (production)"),
            )
        }
    };
    let mut admin = AdminOptions::new(auth)
        .mode(mode)
        .read_only(options.read_only)
        .stats_interval(Duration::from_millis(options.stats_interval_ms));
    let id = text(options.server_id, "options.server_id")?;
    if !id.is_empty() {
        admin = admin.server_id(id);
    }
    let namespace = text(options.admin_namespace, "options.admin_namespace")?;
    if !namespace.is_empty() {
        admin = admin.namespace(&namespace);
    }
    Ok(admin)
}

/// Serves the Socket.IO Admin UI (`@socket.io/admin-ui` 0.5) on `server`, before or
/// after `ferrosocket_server_start`: the UI connects to the admin namespace of the
/// server's own port. A bad login is refused with `invalid credentials`.
/// `FERROSOCKET_RESULT_INVALID_ARGUMENT` for options it cannot take (no login and not
/// `no_auth`, an unknown mode, an interval under 100 ms, the namespace `/`),
/// `FERROSOCKET_RESULT_INVALID_STATE` when already instrumented or stopped.
#[no_mangle]
pub extern "C" fn ferrosocket_server_instrument(
    server: *const ferrosocket_server,
    options: *const ferrosocket_admin_options,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let options = options_in(reference(options, "options")?)?;
        let mut admin = server.admin.lock().unwrap_or_else(|p| p.into_inner());
        if admin.is_some() {
            return fail(
                ferrosocket_result::InvalidState,
                "the server is already instrumented",
            );
        }
        *admin = Some(server.embedded.instrument(options)?);
        Ok(())
    })
}

/// Ends what `ferrosocket_server_instrument` started: the admin sockets are
/// disconnected and new ones refused. Does nothing when not instrumented.
#[no_mangle]
pub extern "C" fn ferrosocket_server_uninstrument(
    server: *const ferrosocket_server,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let admin = server
            .admin
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(admin) = admin {
            admin.shutdown();
        }
        Ok(())
    })
}
