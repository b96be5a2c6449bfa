//! `ferrosocket_config`: what `ferrosocket_server_new` needs, set field by field. Plain
//! data: nothing here starts a thread, binds a port or touches a server.

use std::ffi::c_char;
use std::time::Duration;

use ferrosocket::embed::EmbedOptions;
use ferrosocket::{AllowedHosts, AllowedOrigins, Config, ConfigBuilder};

use crate::pointer::{name_in, reference_mut, str_in};
use crate::result::{fail, ferrosocket_result, Result};

/// Server settings. Create with `ferrosocket_config_new`, change with the setters, pass
/// to `ferrosocket_server_new` (which copies it), free with `ferrosocket_config_free`.
/// Not thread-safe: use one config from one thread at a time.
///
/// Methods: `ferrosocket_config_set_host`, `_set_port`, `_set_path`,
/// `_set_ping_interval_ms`, `_set_ping_timeout_ms`, `_set_connect_timeout_ms`,
/// `_set_shutdown_timeout_ms`, `_set_max_payload`, `_add_allowed_origin`,
/// `_allow_any_origin`, `_add_allowed_host`, `_set_max_connections`,
/// `_set_max_queued_packets`, `_set_max_queued_bytes`, `_set_max_queue_age_ms`,
/// `_set_header_timeout_ms`, `_set_body_timeout_ms`, `_set_dispatch_threads`, `_set_min_dispatch_threads`, `_set_dispatch_idle_timeout_ms`,
/// `_set_io_threads`, `_set_max_queued_callbacks`, `ferrosocket_config_set_redis`.
#[derive(Debug, Clone)]
pub struct ferrosocket_config {
    pub(crate) builder: ConfigBuilder,
    pub(crate) origins: AllowedOrigins,
    /// `Host` names to serve (`_add_allowed_host`); empty: every host.
    pub(crate) hosts: Vec<String>,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) options: EmbedOptions,
}

impl ferrosocket_config {
    pub(crate) fn build(&self) -> Config {
        let mut builder = self.builder.clone().allowed_origins(self.origins.clone());
        if !self.hosts.is_empty() {
            builder = builder.allowed_hosts(AllowedHosts::new(self.hosts.iter().cloned()));
        }
        builder.build()
    }
}

/// A config with every default: host `127.0.0.1`, port 0 (any free port: read it with
/// `ferrosocket_server_local_port`), path `/socket.io/`, ping interval 25 s, ping
/// timeout 20 s, connect timeout 45 s, shutdown timeout 10 s, max payload 1,000,000
/// bytes, same-origin browsers only, every `Host`, connections up to the open-file limit
/// less a tenth, 1,024 queued packets / 4 MiB / 20 s of queue per client, header timeout
/// 30 s, body timeout 20 s, 4 to 64 dispatch threads (idle ones above 4 exit after 30 s), I/O threads =
/// CPUs (at most 4), 1,024 queued callbacks per client. Free with `ferrosocket_config_free`. NULL only if out of memory (a panic).
#[no_mangle]
pub extern "C" fn ferrosocket_config_new() -> *mut ferrosocket_config {
    ffi_boundary!(std::ptr::null_mut(), || {
        Ok(Box::into_raw(Box::new(ferrosocket_config {
            builder: Config::builder(),
            origins: AllowedOrigins::SameOrigin,
            hosts: Vec::new(),
            host: "127.0.0.1".to_owned(),
            port: 0,
            options: EmbedOptions {
                // What the pool's saturation warning tells a C program to call.
                dispatch_threads_option: "ferrosocket_config_set_dispatch_threads",
                ..EmbedOptions::default()
            },
        })))
    })
}

/// Frees a config. NULL is a no-op.
#[no_mangle]
pub extern "C" fn ferrosocket_config_free(config: *mut ferrosocket_config) {
    let _ = ffi_boundary!(|| {
        if !config.is_null() {
            // SAFETY: non-NULL config pointers come from `ferrosocket_config_new`'s
            // `Box::into_raw` and, by the ownership contract, are freed exactly once.
            drop(unsafe { Box::from_raw(config) });
        }
        Ok(())
    });
}

/// The body of a setter: `$change` runs on the config `$config` points to. A macro so
/// that the panic boundary inside is expanded in (and named after) each setter.
macro_rules! with_config {
    ($config:expr, |$c:ident| $change:block) => {
        ffi_boundary!(|| {
            let $c = reference_mut($config, "config")?;
            $change
        })
    };
}

fn millis(ms: u64, what: &str) -> Result<Duration> {
    if ms == 0 {
        return fail(
            ferrosocket_result::InvalidArgument,
            format!("{what} must be at least 1 ms"),
        );
    }
    Ok(Duration::from_millis(ms))
}

fn at_least_one(n: usize, what: &str) -> Result<usize> {
    if n == 0 {
        return fail(
            ferrosocket_result::InvalidArgument,
            format!("{what} must be at least 1"),
        );
    }
    Ok(n)
}

fn update(config: &mut ferrosocket_config, change: impl FnOnce(ConfigBuilder) -> ConfigBuilder) {
    let builder = std::mem::replace(&mut config.builder, Config::builder());
    config.builder = change(builder);
}

/// The interface to listen on: an IP address or a host name (`0.0.0.0` for every
/// interface). Default `127.0.0.1`.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_host(
    config: *mut ferrosocket_config,
    host: *const c_char,
    host_len: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        c.host = name_in(host, host_len, "host")?.to_owned();
        Ok(())
    })
}

/// The TCP port; 0 (the default) picks a free one.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_port(
    config: *mut ferrosocket_config,
    port: u16,
) -> ferrosocket_result {
    with_config!(config, |c| {
        c.port = port;
        Ok(())
    })
}

/// The HTTP path of the Socket.IO endpoint. Default `/socket.io/`; a missing leading or
/// trailing `/` is added.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_path(
    config: *mut ferrosocket_config,
    path: *const c_char,
    path_len: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let path = str_in(path, path_len, "path")?.to_owned();
        update(c, |b| b.path(path));
        Ok(())
    })
}

/// Interval between heartbeat pings, in milliseconds (at least 1). Default 25,000.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_ping_interval_ms(
    config: *mut ferrosocket_config,
    ms: u64,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let d = millis(ms, "ping interval")?;
        update(c, |b| b.ping_interval(d));
        Ok(())
    })
}

/// How long to wait for a pong, in milliseconds (at least 1). Default 20,000.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_ping_timeout_ms(
    config: *mut ferrosocket_config,
    ms: u64,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let d = millis(ms, "ping timeout")?;
        update(c, |b| b.ping_timeout(d));
        Ok(())
    })
}

/// How long a new connection may take to join a namespace, in milliseconds (at least 1).
/// Default 45,000.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_connect_timeout_ms(
    config: *mut ferrosocket_config,
    ms: u64,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let d = millis(ms, "connect timeout")?;
        update(c, |b| b.connect_timeout(d));
        Ok(())
    })
}

/// How long `ferrosocket_server_stop` waits for connections to drain, in milliseconds
/// (at least 1). Default 10,000.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_shutdown_timeout_ms(
    config: *mut ferrosocket_config,
    ms: u64,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let d = millis(ms, "shutdown timeout")?;
        update(c, |b| b.shutdown_timeout(d));
        Ok(())
    })
}

/// Largest WebSocket message or polling body in bytes (at least 1). Default 1,000,000.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_max_payload(
    config: *mut ferrosocket_config,
    bytes: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let n = at_least_one(bytes, "max payload")?;
        update(c, |b| b.max_payload(n));
        Ok(())
    })
}

/// Allows browser pages from `origin` (scheme, host and port, e.g.
/// `http://localhost:8000`). Call once per origin. Default: same origin only.
#[no_mangle]
pub extern "C" fn ferrosocket_config_add_allowed_origin(
    config: *mut ferrosocket_config,
    origin: *const c_char,
    origin_len: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let origin = name_in(origin, origin_len, "origin")?.to_owned();
        match &mut c.origins {
            AllowedOrigins::List(list) => list.push(origin),
            AllowedOrigins::Any => {}
            other => *other = AllowedOrigins::List(vec![origin]),
        }
        Ok(())
    })
}

/// Allows browser pages from any origin (`*`). Overrides `_add_allowed_origin`.
#[no_mangle]
pub extern "C" fn ferrosocket_config_allow_any_origin(
    config: *mut ferrosocket_config,
) -> ferrosocket_result {
    with_config!(config, |c| {
        c.origins = AllowedOrigins::Any;
        Ok(())
    })
}

/// Serves only requests whose `Host` header names `host` (no port: `example.com`,
/// `127.0.0.1`; `.example.com` for the domain and its subdomains; `*` for any), against
/// DNS rebinding. Call once per host. Other requests get 400. Default: every host.
#[no_mangle]
pub extern "C" fn ferrosocket_config_add_allowed_host(
    config: *mut ferrosocket_config,
    host: *const c_char,
    host_len: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let host = name_in(host, host_len, "host")?.to_owned();
        c.hosts.push(host);
        Ok(())
    })
}

/// Most bytes waiting to be written to one client (at least 1, at most 4 GiB); a client
/// over it is disconnected (`client too slow`). Default 4 MiB.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_max_queued_bytes(
    config: *mut ferrosocket_config,
    bytes: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let n = at_least_one(bytes, "max queued bytes")?;
        update(c, |b| b.max_queued_bytes(n));
        Ok(())
    })
}

/// Longest a packet may wait in a client's queue (at least 1 ms); a client whose oldest
/// queued packet is older is disconnected (`client too slow`). Default 20,000 ms.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_max_queue_age_ms(
    config: *mut ferrosocket_config,
    ms: u64,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let age = millis(ms, "max queue age")?;
        update(c, |b| b.max_queue_age(age));
        Ok(())
    })
}

/// How long a client may take to send a request's headers (at least 1 ms). Default
/// 30,000 ms.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_header_timeout_ms(
    config: *mut ferrosocket_config,
    ms: u64,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let timeout = millis(ms, "header timeout")?;
        update(c, |b| b.header_timeout(timeout));
        Ok(())
    })
}

/// How long a long-polling POST may take to send its body (at least 1 ms): past it, 408
/// and the session is closed. Default 20,000 ms.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_body_timeout_ms(
    config: *mut ferrosocket_config,
    ms: u64,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let timeout = millis(ms, "body timeout")?;
        update(c, |b| b.body_timeout(timeout));
        Ok(())
    })
}

/// Most TCP connections open at once (at least 1). Default: the process's open-file
/// limit (soft `RLIMIT_NOFILE`) less a tenth, at least 32 kept back for the rest of the
/// program, read when the server starts; 100,000 if it cannot be read.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_max_connections(
    config: *mut ferrosocket_config,
    max: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let n = at_least_one(max, "max connections")?;
        update(c, |b| b.max_connections(n));
        Ok(())
    })
}

/// Most packets waiting to be written to one client (at least 1); a client that falls
/// further behind is disconnected (`client too slow`). Default 1,024.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_max_queued_packets(
    config: *mut ferrosocket_config,
    max: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        let n = at_least_one(max, "max queued packets")?;
        update(c, |b| b.max_queued_packets(n));
        Ok(())
    })
}

/// Most dispatch threads running callbacks: how many clients' callbacks run at once (at
/// least 1). Default 64. The pool starts `_set_min_dispatch_threads` threads and starts
/// another whenever a client's callback is ready and every thread is busy, so callbacks
/// that block delay only their own client; at this cap callbacks wait their turn and a
/// warning is logged once per episode. The cap bounds the threads (a stack each) a flood
/// of blocking callbacks can make the server start.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_dispatch_threads(
    config: *mut ferrosocket_config,
    threads: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        c.options.dispatch_threads = at_least_one(threads, "dispatch threads")?;
        Ok(())
    })
}

/// Dispatch threads started with the server and kept when idle (at least 1; more than
/// `_set_dispatch_threads` counts as that many). Default 4.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_min_dispatch_threads(
    config: *mut ferrosocket_config,
    threads: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        c.options.min_dispatch_threads = at_least_one(threads, "min dispatch threads")?;
        Ok(())
    })
}

/// How long a dispatch thread above the minimum waits for work before it exits, in
/// milliseconds (at least 1). Default 30,000: bursts a few seconds apart reuse the same
/// threads, and a spike's threads are given back within a minute.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_dispatch_idle_timeout_ms(
    config: *mut ferrosocket_config,
    ms: u64,
) -> ferrosocket_result {
    with_config!(config, |c| {
        c.options.dispatch_idle_timeout = millis(ms, "dispatch idle timeout")?;
        Ok(())
    })
}

/// I/O (tokio worker) threads (at least 1). Default: the number of CPUs, at most 4.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_io_threads(
    config: *mut ferrosocket_config,
    threads: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        c.options.io_threads = at_least_one(threads, "io threads")?;
        Ok(())
    })
}

/// Callbacks waiting per client (at least 1); a client whose callbacks fall this far
/// behind is disconnected (`client too slow`). Default 1,024.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_max_queued_callbacks(
    config: *mut ferrosocket_config,
    max: usize,
) -> ferrosocket_result {
    with_config!(config, |c| {
        c.options.max_queued_callbacks = at_least_one(max, "max queued callbacks")?;
        Ok(())
    })
}
