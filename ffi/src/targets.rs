//! Emitting, rooms and disconnecting: callable from any thread, including callbacks.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use ferrosocket::{AckError, Namespace, Payload, Sid, Socket};

use crate::error::{
    array_in, copy_out, fail, ferrosocket_result, guard, name_in, reference, str_in, write_out,
    CallbackScope, Result,
};
use crate::event::{payload_in, send_error};
use crate::server::{ferrosocket_server, UserData};
use crate::{ferrosocket_bytes, ferrosocket_str};

fn namespace(server: &ferrosocket_server, nsp: *const c_char, nsp_len: usize) -> Result<Namespace> {
    let name = name_in(nsp, nsp_len, "namespace")?;
    let normalized = if name.starts_with('/') {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(format!("/{name}"))
    };
    match server.embedded.server().namespace(&normalized) {
        Some(ns) => Ok(ns),
        None => fail(
            ferrosocket_result::UnknownNamespace,
            format!("no namespace {normalized}"),
        ),
    }
}

fn socket(ns: &Namespace, sid: *const c_char, sid_len: usize) -> Result<Socket> {
    let text = str_in(sid, sid_len, "sid")?;
    match Sid::parse(text).and_then(|sid| ns.socket(sid)) {
        Some(socket) => Ok(socket),
        None => fail(
            ferrosocket_result::UnknownSid,
            format!("no socket {text:?} in namespace {}", ns.name()),
        ),
    }
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

/// Emits `event` with `args_json` (a JSON array, NULL/0 for none) and `nbins`
/// attachments (copied) to client `sid` of namespace `nsp`.
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
    args_json: *const c_char,
    args_len: usize,
    bins: *const ferrosocket_bytes,
    nbins: usize,
) -> ferrosocket_result {
    guard("ferrosocket_server_emit_to_sid", || {
        let server = reference(server, "server")?;
        let ns = namespace(server, nsp, nsp_len)?;
        let socket = socket(&ns, sid, sid_len)?;
        let event = name_in(event, event_len, "event")?;
        let payload = payload_in(args_json, args_len, bins, nbins)?;
        let _entered = server.embedded.enter();
        socket.emit(event, &payload).map_err(send_error)
    })
}

/// Emits to every client in `room` of namespace `nsp` (a sid is a room too). Writes how
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
    args_json: *const c_char,
    args_len: usize,
    bins: *const ferrosocket_bytes,
    nbins: usize,
    out_count: *mut usize,
) -> ferrosocket_result {
    guard("ferrosocket_server_emit_to_room", || {
        let server = reference(server, "server")?;
        let ns = namespace(server, nsp, nsp_len)?;
        let room = name_in(room, room_len, "room")?;
        let event = name_in(event, event_len, "event")?;
        let payload = payload_in(args_json, args_len, bins, nbins)?;
        let _entered = server.embedded.enter();
        let count = ns.to(room).emit(event, &payload);
        write_count(out_count, count)
    })
}

/// Emits to every client of namespace `nsp` in any of the `nrooms` `rooms` (each once;
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
    args_json: *const c_char,
    args_len: usize,
    bins: *const ferrosocket_bytes,
    nbins: usize,
    out_count: *mut usize,
) -> ferrosocket_result {
    guard("ferrosocket_server_broadcast", || {
        let server = reference(server, "server")?;
        let ns = namespace(server, nsp, nsp_len)?;
        let rooms = rooms_in(rooms, nrooms, "rooms")?;
        let except = rooms_in(except, nexcept, "except")?;
        let event = name_in(event, event_len, "event")?;
        let payload = payload_in(args_json, args_len, bins, nbins)?;
        let _entered = server.embedded.enter();
        let count = ns.to(rooms).except(except).emit(event, &payload);
        write_count(out_count, count)
    })
}

/// Receives the answer to `ferrosocket_server_emit_with_ack`, exactly once. It runs on a
/// dispatch thread, in order with the client's connect, event and disconnect callbacks
/// (never two of that client's callbacks at once), and may block like them. `result` is
/// `FERROSOCKET_RESULT_OK` with the client's reply in `args_json` (a JSON array) and
/// `nbins` attachments in `bins`, all valid until the callback returns; or `_TIMEOUT`,
/// `_DISCONNECTED` (the client left first) or `_CANCELLED` (the server was stopped or
/// freed first) with empty arguments. A CANCELLED callback may also run on a server
/// I/O thread or on the thread calling `ferrosocket_server_free`, always before
/// `ferrosocket_server_free` returns.
pub type ferrosocket_ack_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        result: ferrosocket_result,
        args_json: ferrosocket_str,
        bins: *const ferrosocket_bytes,
        nbins: usize,
    ),
>;

/// Calls the C ack callback exactly once: with the answer, or on drop with `CANCELLED`
/// (the runtime shut down before the answer was delivered), so userdata is never leaked.
struct AckReply {
    callback: unsafe extern "C" fn(
        *mut c_void,
        ferrosocket_result,
        ferrosocket_str,
        *const ferrosocket_bytes,
        usize,
    ),
    userdata: UserData,
    delivered: bool,
}

impl AckReply {
    fn call(&mut self, result: ferrosocket_result, payload: Option<&Payload>) {
        self.delivered = true;
        let bins: Vec<ferrosocket_bytes> = payload
            .map(|p| {
                p.binary()
                    .iter()
                    .map(|b| ferrosocket_bytes::from_slice(b))
                    .collect()
            })
            .unwrap_or_default();
        let json = payload.map_or(ferrosocket_str::EMPTY, |p| {
            ferrosocket_str::from_str(p.json())
        });
        let bins_ptr = if bins.is_empty() {
            std::ptr::null()
        } else {
            bins.as_ptr()
        };
        let _scope = CallbackScope::enter();
        // SAFETY: `callback` is a C function of this type; `json` and `bins` point into
        // `payload` and `bins`, alive until the call returns.
        unsafe { (self.callback)(self.userdata.0, result, json, bins_ptr, bins.len()) };
    }

    fn deliver(mut self, answer: std::result::Result<Payload, AckError>, stopping: bool) {
        match answer {
            Ok(payload) => self.call(ferrosocket_result::Ok, Some(&payload)),
            // The server's shutdown disconnected the client or outlived the timeout.
            Err(_) if stopping => self.call(ferrosocket_result::Cancelled, None),
            Err(AckError::Timeout) => self.call(ferrosocket_result::Timeout, None),
            Err(AckError::Disconnected) => self.call(ferrosocket_result::Disconnected, None),
        }
    }
}

impl Drop for AckReply {
    fn drop(&mut self) {
        if !self.delivered {
            self.call(ferrosocket_result::Cancelled, None);
        }
    }
}

/// Emits `event` to client `sid` of namespace `nsp`, asking for an acknowledgement, and
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
    args_json: *const c_char,
    args_len: usize,
    bins: *const ferrosocket_bytes,
    nbins: usize,
    timeout_ms: u64,
    callback: ferrosocket_ack_callback,
    userdata: *mut c_void,
) -> ferrosocket_result {
    guard("ferrosocket_server_emit_with_ack", || {
        let server = reference(server, "server")?;
        let Some(callback) = callback else {
            return fail(ferrosocket_result::NullArgument, "callback is NULL");
        };
        let ns = namespace(server, nsp, nsp_len)?;
        let socket = socket(&ns, sid, sid_len)?;
        let event = name_in(event, event_len, "event")?;
        let payload = payload_in(args_json, args_len, bins, nbins)?;
        if timeout_ms == 0 {
            return fail(
                ferrosocket_result::InvalidArgument,
                "timeout_ms must be at least 1",
            );
        }
        let Some(_entered) = server.embedded.enter() else {
            return fail(
                ferrosocket_result::InvalidState,
                "the server's runtime is gone",
            );
        };
        let reply = AckReply {
            callback,
            userdata: UserData(userdata),
            delivered: false,
        };
        let lane = socket.engine_id();
        let embedded = Arc::downgrade(&server.embedded);
        let answer = socket.emit_with_ack(event, &payload, Duration::from_millis(timeout_ms));
        tokio::spawn(async move {
            let answer = answer.await;
            // Queue the reply on the client's dispatch lane, after the callbacks already
            // queued for it. The strong reference lives only for this statement (free
            // waits for it, see `ferrosocket_server_free`). When the server is gone or its
            // pool stopped, the job (or `reply`) is dropped here and `AckReply`'s drop
            // reports CANCELLED; so does the runtime's shutdown dropping this task.
            if let Some(embedded) = embedded.upgrade() {
                let stopping = embedded.is_stopped();
                let job = Box::new(move || reply.deliver(answer, stopping));
                if let Err(error) = embedded.submit(lane, job) {
                    tracing::debug!(%error, "ack reply cancelled");
                }
            }
        });
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
    guard("ferrosocket_server_join", || {
        let server = reference(server, "server")?;
        let ns = namespace(server, nsp, nsp_len)?;
        let socket = socket(&ns, sid, sid_len)?;
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
    guard("ferrosocket_server_leave", || {
        let server = reference(server, "server")?;
        let ns = namespace(server, nsp, nsp_len)?;
        let socket = socket(&ns, sid, sid_len)?;
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
    guard("ferrosocket_server_close_room", || {
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
    guard("ferrosocket_server_rooms", || {
        let server = reference(server, "server")?;
        let ns = namespace(server, nsp, nsp_len)?;
        let socket = socket(&ns, sid, sid_len)?;
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
    guard("ferrosocket_server_disconnect", || {
        let server = reference(server, "server")?;
        let ns = namespace(server, nsp, nsp_len)?;
        let socket = socket(&ns, sid, sid_len)?;
        let _entered = server.embedded.enter();
        socket.disconnect();
        Ok(())
    })
}
