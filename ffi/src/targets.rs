//! Emitting, rooms and disconnecting on a `ferrosocket_server`: callable from any thread,
//! including callbacks, so nothing here may block or wait for a dispatch thread (sends
//! only queue). A namespace is named with or without its leading `/` (core normalizes).

use std::ffi::{c_char, c_void};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrosocket::{Namespace, Socket};

use crate::callback::{ferrosocket_ack_callback, AckReply};
use crate::pointer::{array_in, copy_out, name_in, reference, str_in, write_out};
use crate::result::{fail, ferrosocket_result, Result};
use crate::server::ferrosocket_server;
use crate::slice::{ferrosocket_args, ferrosocket_str, payload_in};

fn namespace(server: &ferrosocket_server, nsp: *const c_char, nsp_len: usize) -> Result<Namespace> {
    Ok(server
        .embedded
        .namespace(name_in(nsp, nsp_len, "namespace")?)?)
}

fn socket(
    server: &ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    sid: *const c_char,
    sid_len: usize,
) -> Result<Socket> {
    let nsp = name_in(nsp, nsp_len, "namespace")?;
    Ok(server.embedded.socket(nsp, str_in(sid, sid_len, "sid")?)?)
}

/// The reply in `slot`, if nobody took it yet.
fn take(slot: &Mutex<Option<AckReply>>) -> Option<AckReply> {
    slot.lock().unwrap_or_else(|p| p.into_inner()).take()
}

fn rooms_in(rooms: *const ferrosocket_str, count: usize, what: &str) -> Result<Vec<String>> {
    array_in(rooms, count, what)?
        .iter()
        .enumerate()
        .map(|(i, room)| name_in(room.data, room.len, &format!("{what}[{i}]")).map(str::to_owned))
        .collect()
}

fn write_count(out_count: *mut usize, count: usize) -> Result<()> {
    if out_count.is_null() {
        return Ok(());
    }
    write_out(out_count, count, "out_count")
}

/// Emits `event` with `args` (copied; NULL for none) to client `sid` of namespace `nsp`.
/// `FERROSOCKET_RESULT_UNKNOWN_SID` when no such client is connected.
#[no_mangle]
pub extern "C" fn ferrosocket_server_emit_to_sid(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    sid: *const c_char,
    sid_len: usize,
    event: *const c_char,
    event_len: usize,
    args: *const ferrosocket_args,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let socket = socket(server, nsp, nsp_len, sid, sid_len)?;
        let event = name_in(event, event_len, "event")?;
        let payload = payload_in(args)?;
        let _entered = server.embedded.enter();
        Ok(socket.emit(event, &payload)?)
    })
}

/// Emits `event` with `args` (copied; NULL for none) to every client in `room` of
/// namespace `nsp` (a sid is a room too). Writes how
/// many clients it was queued for into `*out_count` unless `out_count` is NULL.
#[no_mangle]
pub extern "C" fn ferrosocket_server_emit_to_room(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    room: *const c_char,
    room_len: usize,
    event: *const c_char,
    event_len: usize,
    args: *const ferrosocket_args,
    out_count: *mut usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let ns = namespace(server, nsp, nsp_len)?;
        let room = name_in(room, room_len, "room")?;
        let event = name_in(event, event_len, "event")?;
        let payload = payload_in(args)?;
        let _entered = server.embedded.enter();
        let count = ns.to(room).emit(event, &payload);
        write_count(out_count, count)
    })
}

/// Emits `event` with `args` (copied; NULL for none) to every client of namespace `nsp`
/// in any of the `nrooms` `rooms` (each once;
/// `nrooms` 0 = the whole namespace), leaving out every client in any of the `nexcept`
/// `except` rooms (sids are rooms: list a sid to leave one client out). Writes how many
/// clients it was queued for into `*out_count` unless `out_count` is NULL.
#[no_mangle]
pub extern "C" fn ferrosocket_server_broadcast(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    rooms: *const ferrosocket_str,
    nrooms: usize,
    except: *const ferrosocket_str,
    nexcept: usize,
    event: *const c_char,
    event_len: usize,
    args: *const ferrosocket_args,
    out_count: *mut usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let ns = namespace(server, nsp, nsp_len)?;
        let rooms = rooms_in(rooms, nrooms, "rooms")?;
        let except = rooms_in(except, nexcept, "except")?;
        let event = name_in(event, event_len, "event")?;
        let payload = payload_in(args)?;
        let _entered = server.embedded.enter();
        let count = ns.to(rooms).except(except).emit(event, &payload);
        write_count(out_count, count)
    })
}

/// Emits `event` with `args` (copied; NULL for none) to client `sid` of namespace `nsp`,
/// asking for an acknowledgement, and
/// returns at once. `callback` gets the client's reply, or a timeout after `timeout_ms`
/// milliseconds, exactly once (see `ferrosocket_ack_callback` for the thread). On any
/// result other than OK the callback is never called.
#[no_mangle]
pub extern "C" fn ferrosocket_server_emit_with_ack(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    sid: *const c_char,
    sid_len: usize,
    event: *const c_char,
    event_len: usize,
    args: *const ferrosocket_args,
    timeout_ms: u64,
    callback: ferrosocket_ack_callback,
    userdata: *mut c_void,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let Some(callback) = callback else {
            return fail(ferrosocket_result::NullArgument, "callback is NULL");
        };
        let socket = socket(server, nsp, nsp_len, sid, sid_len)?;
        let event = name_in(event, event_len, "event")?;
        let payload = payload_in(args)?;
        if timeout_ms == 0 {
            return fail(
                ferrosocket_result::InvalidArgument,
                "timeout_ms must be at least 1",
            );
        }
        // From here on the C callback runs exactly once (a dropped reply reports
        // CANCELLED), except when this call fails: then the reply is disarmed.
        let reply = Arc::new(Mutex::new(Some(AckReply::new(callback, userdata, &socket))));
        let pending = Arc::clone(&reply);
        let timeout = Duration::from_millis(timeout_ms);
        let sent =
            server
                .embedded
                .emit_with_ack(&socket, event, &payload, timeout, move |answer| {
                    if let Some(reply) = take(&pending) {
                        reply.deliver(answer);
                    }
                });
        if let Err(error) = sent {
            if let Some(reply) = take(&reply) {
                reply.disarm();
            }
            return Err(error.into());
        }
        Ok(())
    })
}

/// Makes client `sid` of namespace `nsp` join `room`. `FERROSOCKET_RESULT_SID_ROOM` when
/// `room` is another connected client's own id room.
#[no_mangle]
pub extern "C" fn ferrosocket_server_join(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    sid: *const c_char,
    sid_len: usize,
    room: *const c_char,
    room_len: usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let socket = socket(server, nsp, nsp_len, sid, sid_len)?;
        socket
            .join(name_in(room, room_len, "room")?)
            .or_else(|error| fail(ferrosocket_result::SidRoom, error.to_string()))
    })
}

/// Makes client `sid` of namespace `nsp` leave `room` (nothing if it is not in it).
#[no_mangle]
pub extern "C" fn ferrosocket_server_leave(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    sid: *const c_char,
    sid_len: usize,
    room: *const c_char,
    room_len: usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let socket = socket(server, nsp, nsp_len, sid, sid_len)?;
        socket.leave(name_in(room, room_len, "room")?);
        Ok(())
    })
}

/// Removes every client of namespace `nsp` from `room`. `FERROSOCKET_RESULT_SID_ROOM` for
/// a connected client's own id room.
#[no_mangle]
pub extern "C" fn ferrosocket_server_close_room(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    room: *const c_char,
    room_len: usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let ns = namespace(server, nsp, nsp_len)?;
        ns.close_room(name_in(room, room_len, "room")?)
            .or_else(|error| fail(ferrosocket_result::SidRoom, error.to_string()))
    })
}

/// The rooms client `sid` of namespace `nsp` is in, as a JSON array of strings (its own
/// sid room first), copied into `buf` with a terminating NUL; `*out_len` gets the JSON
/// length. `FERROSOCKET_RESULT_BUFFER_TOO_SMALL` (with `*out_len` set) when `buf_len` is
/// less than `*out_len + 1`.
#[no_mangle]
pub extern "C" fn ferrosocket_server_rooms(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    sid: *const c_char,
    sid_len: usize,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let socket = socket(server, nsp, nsp_len, sid, sid_len)?;
        let rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
        let json = serde_json::to_string(&rooms)
            .or_else(|e| fail(ferrosocket_result::Panic, e.to_string()))?;
        copy_out(&json, buf, buf_len, out_len)
    })
}

/// Disconnects client `sid` from namespace `nsp` (the client sees
/// `io server disconnect`; the disconnect callback runs with
/// `server namespace disconnect`).
#[no_mangle]
pub extern "C" fn ferrosocket_server_disconnect(
    server: *const ferrosocket_server,
    nsp: *const c_char,
    nsp_len: usize,
    sid: *const c_char,
    sid_len: usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let server = reference(server, "server")?;
        let socket = socket(server, nsp, nsp_len, sid, sid_len)?;
        let _entered = server.embedded.enter();
        socket.disconnect();
        Ok(())
    })
}
