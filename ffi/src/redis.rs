//! The Redis fleet from C: `ferrosocket_config_set_redis` (a server that shares rooms and
//! broadcasts with the other servers on a Redis) and `ferrosocket_emitter` (a
//! write-only member: a program that serves no client emits to the fleet's). Owns the
//! emitter's runtime; never blocks a caller on Redis except where a function says so.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use ferrosocket::adapter::redis::{Format, RedisAdapter, RedisEmitter, RedisOptions};
use ferrosocket::embed::AdapterMaker;
use ferrosocket::{BroadcastOptions, Room};

use crate::config::ferrosocket_config;
use crate::pointer::{array_in, name_in, reference, reference_mut, str_in, write_out};
use crate::result::{fail, ferrosocket_result, Result};
use crate::slice::{ferrosocket_args, ferrosocket_str, payload_in};

/// The wire format of a Redis fleet. The numbers are ABI.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrosocket_redis_format {
    /// node socket.io's `@socket.io/redis-adapter` 8.x (msgpack): node servers and
    /// `@socket.io/redis-emitter` in the fleet; the default for ferrosocket fleets.
    SocketIo = 0,
    /// python-socketio >= 5.15.1 / Flask-SocketIO 5.x (JSON on one channel).
    PythonSocketio = 1,
}

fn options_in(
    url: *const c_char,
    url_len: usize,
    channel: *const c_char,
    channel_len: usize,
    format: u32,
    cluster: bool,
) -> Result<RedisOptions> {
    let url = str_in(url, url_len, "url")?;
    if url.is_empty() {
        return fail(ferrosocket_result::InvalidArgument, "url is empty");
    }
    let format = match format {
        0 => Format::SocketIo,
        1 => Format::PythonSocketIo,
        other => {
            return fail(
                ferrosocket_result::InvalidArgument,
                format!("unknown Redis format {other}: 0 (socket.io) or 1 (python-socketio)"),
            )
        }
    };
    let options = RedisOptions::new(url).format(format).cluster(cluster);
    if channel.is_null() || channel_len == 0 {
        return Ok(options);
    }
    Ok(options.channel(name_in(channel, channel_len, "channel")?))
}

/// Makes servers built from `config` members of the fleet on the Redis at `url`
/// (`redis://[[user]:password@]host[:port][/db]`, `rediss://` for TLS, `unix:///path`,
/// `valkey://`; `url_len` bytes, no NUL needed): rooms, broadcasts, acks and joins /
/// leaves / disconnects of other servers' clients are shared in `format` (a
/// `ferrosocket_redis_format`) on `channel` (the pub/sub channel of python-socketio's
/// format, the key prefix of socket.io's; NULL or length 0: the format's own default,
/// `socketio` / `socket.io`). `cluster`: a Redis Cluster with sharded pub/sub, `url`
/// naming one node. The connection is made by the server (in the background, retried
/// while Redis is down; the server delivers to its own clients meanwhile); a URL that
/// does not parse makes `ferrosocket_server_new` fail with
/// `FERROSOCKET_RESULT_INVALID_ARGUMENT`. Delivery across servers is at most once.
#[no_mangle]
pub extern "C" fn ferrosocket_config_set_redis(
    config: *mut ferrosocket_config,
    url: *const c_char,
    url_len: usize,
    channel: *const c_char,
    channel_len: usize,
    format: u32,
    cluster: bool,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let config = reference_mut(config, "config")?;
        let options = options_in(url, url_len, channel, channel_len, format, cluster)?;
        config.options.adapter = Some(AdapterMaker(Arc::new(move || {
            Ok(Arc::new(RedisAdapter::start(options.clone())?) as Arc<dyn ferrosocket::Adapter>)
        })));
        Ok(())
    })
}

/// A write-only member of a Redis fleet: emits to its clients from a program that serves
/// none. Create with `ferrosocket_emitter_new`, free with `ferrosocket_emitter_free`.
/// Thread-safe.
///
/// Methods: `_emit`, `_close_room`, `_flush`, `_free`.
#[derive(Debug)]
pub struct ferrosocket_emitter {
    emitter: RedisEmitter,
    runtime: tokio::runtime::Runtime,
}

/// Creates an emitter for the fleet on `url` (as `ferrosocket_config_set_redis` takes
/// it) into `*out`, and waits up to `connect_timeout_ms` milliseconds for the connection
/// (`FERROSOCKET_RESULT_TIMEOUT` then, `*out` unset). `FERROSOCKET_RESULT_INVALID_ARGUMENT`
/// for a URL that does not parse or an unknown format.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ferrosocket_emitter_new(
    url: *const c_char,
    url_len: usize,
    channel: *const c_char,
    channel_len: usize,
    format: u32,
    cluster: bool,
    connect_timeout_ms: u64,
    out: *mut *mut ferrosocket_emitter,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        if out.is_null() {
            return fail(ferrosocket_result::NullArgument, "out is NULL");
        }
        let options = options_in(url, url_len, channel, channel_len, format, cluster)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ferrosocket-emitter")
            .enable_all()
            .build()
            .or_else(|e| fail(ferrosocket_result::Io, format!("starting a thread: {e}")))?;
        let emitter = {
            let _entered = runtime.enter();
            match RedisEmitter::start(options) {
                Ok(emitter) => emitter,
                Err(error) => return fail(ferrosocket_result::InvalidArgument, error.to_string()),
            }
        };
        let wait = emitter.wait_connected(Duration::from_millis(connect_timeout_ms));
        if !runtime.block_on(wait) {
            return fail(
                ferrosocket_result::Timeout,
                "Redis did not accept a connection in time",
            );
        }
        write_out(
            out,
            Box::into_raw(Box::new(ferrosocket_emitter { emitter, runtime })),
            "out",
        )
    })
}

fn rooms_of(rooms: *const ferrosocket_str, count: usize, what: &str) -> Result<Vec<Room>> {
    array_in(rooms, count, what)?
        .iter()
        .enumerate()
        .map(|(i, room)| {
            Ok(Room::from(name_in(
                room.data,
                room.len,
                &format!("{what}[{i}]"),
            )?))
        })
        .collect()
}

/// Publishes `event` with `args` (copied; NULL for none) for the fleet's clients of
/// namespace `nsp` in any of the `nrooms` `rooms` (0: the whole namespace), minus those
/// in the `nexcept` `except` rooms (sids are rooms). Returns at once (queued: see
/// `ferrosocket_emitter_flush`).
/// `FERROSOCKET_RESULT_SEND_FAILED` when the publish queue is full or the connection
/// is down (the message is dropped).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ferrosocket_emitter_emit(
    emitter: *const ferrosocket_emitter,
    nsp: *const c_char,
    nsp_len: usize,
    rooms: *const ferrosocket_str,
    nrooms: usize,
    except: *const ferrosocket_str,
    nexcept: usize,
    event: *const c_char,
    event_len: usize,
    args: *const ferrosocket_args,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let emitter = reference(emitter, "emitter")?;
        let nsp = name_in(nsp, nsp_len, "namespace")?;
        let opts = BroadcastOptions {
            rooms: rooms_of(rooms, nrooms, "rooms")?,
            except: rooms_of(except, nexcept, "except")?,
            ..BroadcastOptions::default()
        };
        let event = name_in(event, event_len, "event")?;
        let payload = payload_in(args)?;
        published(emitter, |e| e.emit(nsp, event, &payload, &opts))
    })
}

/// Publishes that every client of namespace `nsp` leaves `room`, on every server.
#[no_mangle]
pub extern "C" fn ferrosocket_emitter_close_room(
    emitter: *const ferrosocket_emitter,
    nsp: *const c_char,
    nsp_len: usize,
    room: *const c_char,
    room_len: usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let emitter = reference(emitter, "emitter")?;
        let nsp = name_in(nsp, nsp_len, "namespace")?;
        let room = name_in(room, room_len, "room")?;
        published(emitter, |e| e.close_room(nsp, room))
    })
}

fn published(
    emitter: &ferrosocket_emitter,
    publish: impl FnOnce(
        &RedisEmitter,
    ) -> std::result::Result<(), ferrosocket::adapter::redis::PublishError>,
) -> Result<()> {
    if !emitter.emitter.is_connected() {
        return fail(ferrosocket_result::SendFailed, "not connected to Redis");
    }
    publish(&emitter.emitter).or_else(|e| fail(ferrosocket_result::SendFailed, e.to_string()))
}

/// Waits up to `timeout_ms` milliseconds until everything emitted so far has been handed
/// to Redis (`FERROSOCKET_RESULT_TIMEOUT` when it has not).
#[no_mangle]
pub extern "C" fn ferrosocket_emitter_flush(
    emitter: *const ferrosocket_emitter,
    timeout_ms: u64,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let emitter = reference(emitter, "emitter")?;
        let flush = emitter.emitter.flush(Duration::from_millis(timeout_ms));
        if emitter.runtime.block_on(flush) {
            Ok(())
        } else {
            fail(
                ferrosocket_result::Timeout,
                "Redis did not take every message in time",
            )
        }
    })
}

/// Frees an emitter (its connection closes; what was published is sent first, as far as
/// the connection allows). NULL is a no-op.
#[no_mangle]
pub extern "C" fn ferrosocket_emitter_free(emitter: *mut ferrosocket_emitter) {
    let _ = ffi_boundary!(|| {
        if !emitter.is_null() {
            // SAFETY: non-NULL emitter pointers come from `ferrosocket_emitter_new`'s
            // `Box::into_raw` and, by the ownership contract, are freed exactly once.
            let emitter = unsafe { Box::from_raw(emitter) };
            // What was published leaves first (for at most a second).
            emitter.emitter.close();
            emitter
                .runtime
                .block_on(emitter.emitter.closed(Duration::from_secs(1)));
            drop(emitter);
        }
        Ok(())
    });
}
