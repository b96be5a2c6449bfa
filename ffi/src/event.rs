//! What callbacks are lent: `ferrosocket_event`, `ferrosocket_connect_request`, and the
//! owned `ferrosocket_ack` handle taken from an event. Everything an accessor returns
//! points into the lent object, so nothing here may hand out memory that outlives it.

use std::ffi::c_char;
use std::sync::{Mutex, MutexGuard};

use ferrosocket::{AckSender, Auth, ConnectRefused, Event, Payload, Socket};

use crate::pointer::{copy_out, reference, str_in, write_out};
use crate::result::{fail, ferrosocket_result};
use crate::slice::{ferrosocket_args, ferrosocket_bytes, ferrosocket_str, payload_in, ArgsOut};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One event from a client, borrowed by an event callback: valid until the callback
/// returns. Everything it returns is borrowed from it.
///
/// Methods: `ferrosocket_event_namespace`, `_sid`, `_name`, `_args`, `_binary_count`,
/// `_binary`, `_remote_addr`, `_wants_ack`, `_ack`, `_take_ack`.
#[derive(Debug)]
pub struct ferrosocket_event {
    socket: Socket,
    sid: ferrosocket::Sid,
    name: String,
    args: Payload,
    /// `args` as C sees it, made once so `ferrosocket_event_args` can lend its array.
    view: ArgsOut,
    /// Interior mutability because the callback gets a `const` pointer: acking once is
    /// a state change the C side need not own the event for.
    ack: Mutex<Option<AckSender>>,
}

impl ferrosocket_event {
    pub(crate) fn new(socket: Socket, mut event: Event) -> Self {
        let ack = Mutex::new(event.take_ack());
        Self {
            sid: socket.id(),
            socket,
            name: event.name,
            view: ArgsOut::new(&event.args),
            args: event.args,
            ack,
        }
    }
}

/// The body of an accessor returning text borrowed from the object `$ptr` points to:
/// empty when it is NULL. A macro, not a function, so that the panic boundary inside is
/// expanded in (and named after) each accessor.
macro_rules! borrowed_str {
    ($ptr:expr, $what:literal, |$object:ident| $pick:expr) => {
        ffi_boundary!(ferrosocket_str::EMPTY, || {
            let $object = reference($ptr, $what)?;
            Ok(ferrosocket_str::from_str($pick))
        })
    };
}

/// The namespace the event came in on, e.g. `/`. Empty if `event` is NULL.
#[no_mangle]
pub extern "C" fn ferrosocket_event_namespace(event: *const ferrosocket_event) -> ferrosocket_str {
    borrowed_str!(event, "event", |e| e.socket.namespace())
}

/// The sender's socket id (20 characters). Empty if `event` is NULL.
#[no_mangle]
pub extern "C" fn ferrosocket_event_sid(event: *const ferrosocket_event) -> ferrosocket_str {
    borrowed_str!(event, "event", |e| e.sid.as_str())
}

/// The event name. Empty if `event` is NULL.
#[no_mangle]
pub extern "C" fn ferrosocket_event_name(event: *const ferrosocket_event) -> ferrosocket_str {
    borrowed_str!(event, "event", |e| e.name.as_str())
}

/// The arguments: ONE JSON array text, e.g. `["hi",{"n":1}]`, in which binary
/// attachments stand as `{"_placeholder":true,"num":i}`, and every attachment at once
/// (`bins[i]` is attachment `i`). Valid until the callback returns; pass it to an emit or
/// an ack as it is to forward or echo the event. Empty (no text, no attachments) if
/// `event` is NULL.
#[no_mangle]
pub extern "C" fn ferrosocket_event_args(event: *const ferrosocket_event) -> ferrosocket_args {
    ffi_boundary!(crate::slice::NO_ARGS, || Ok(reference(event, "event")?
        .view
        .args()))
}

/// How many binary attachments the event has (0 if `event` is NULL).
#[no_mangle]
pub extern "C" fn ferrosocket_event_binary_count(event: *const ferrosocket_event) -> usize {
    ffi_boundary!(0, || { Ok(reference(event, "event")?.args.binary().len()) })
}

/// Attachment `index` (the one placeholder `num == index` stands for); empty when out of
/// range or `event` is NULL. Valid until the callback returns.
#[no_mangle]
pub extern "C" fn ferrosocket_event_binary(
    event: *const ferrosocket_event,
    index: usize,
) -> ferrosocket_bytes {
    ffi_boundary!(ferrosocket_bytes::EMPTY, || {
        let event = reference(event, "event")?;
        Ok(event
            .args
            .binary()
            .get(index)
            .map_or(ferrosocket_bytes::EMPTY, |b| {
                ferrosocket_bytes::from_slice(b)
            }))
    })
}

/// Copies the sender's address as text `ip:port` into `buf`, like
/// `ferrosocket_connect_request_remote_addr`.
#[no_mangle]
pub extern "C" fn ferrosocket_event_remote_addr(
    event: *const ferrosocket_event,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let event = reference(event, "event")?;
        let addr = event.socket.handshake().remote_addr().to_string();
        copy_out(&addr, buf, buf_len, out_len)
    })
}

/// Whether the client asked for an acknowledgement that is still pending (not yet sent
/// with `ferrosocket_event_ack` nor taken with `ferrosocket_event_take_ack`).
#[no_mangle]
pub extern "C" fn ferrosocket_event_wants_ack(event: *const ferrosocket_event) -> bool {
    ffi_boundary!(false, || {
        Ok(lock(&reference(event, "event")?.ack).is_some())
    })
}

/// Answers the client's acknowledgement now with `args` (copied; NULL for none). Only the first answer is sent: afterwards, or
/// when the client asked for none, returns `FERROSOCKET_RESULT_NO_ACK`. Call only during
/// the callback; to answer later use `ferrosocket_event_take_ack`.
#[no_mangle]
pub extern "C" fn ferrosocket_event_ack(
    event: *const ferrosocket_event,
    args: *const ferrosocket_args,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let event = reference(event, "event")?;
        let payload = payload_in(args)?;
        let Some(sender) = lock(&event.ack).take() else {
            return fail(ferrosocket_result::NoAck, "no acknowledgement pending");
        };
        Ok(sender.send(&payload)?)
    })
}

/// Takes the pending acknowledgement out of the event, to answer later from any thread
/// with `ferrosocket_ack_send`. The caller owns the result: free it with
/// `ferrosocket_ack_free` (answered or not). NULL when no acknowledgement is pending.
#[no_mangle]
pub extern "C" fn ferrosocket_event_take_ack(
    event: *const ferrosocket_event,
) -> *mut ferrosocket_ack {
    ffi_boundary!(std::ptr::null_mut(), || {
        let event = reference(event, "event")?;
        let Some(sender) = lock(&event.ack).take() else {
            return fail(ferrosocket_result::NoAck, "no acknowledgement pending");
        };
        Ok(Box::into_raw(Box::new(ferrosocket_ack {
            sender: Mutex::new(Some(sender)),
            runtime: tokio::runtime::Handle::try_current().ok(),
        })))
    })
}

/// An acknowledgement to send later, taken from an event with `ferrosocket_event_take_ack`.
/// Owned by the caller; usable from any thread; free with `ferrosocket_ack_free`.
///
/// Methods: `ferrosocket_ack_send`, `ferrosocket_ack_free`.
#[derive(Debug)]
pub struct ferrosocket_ack {
    sender: Mutex<Option<AckSender>>,
    /// Sending may disconnect a client whose queue is full, which starts a task: a
    /// foreign thread must enter the server's runtime first.
    runtime: Option<tokio::runtime::Handle>,
}

/// Sends the acknowledgement with `args` (copied; NULL for none). Any thread, any time. Only once: afterwards returns
/// `FERROSOCKET_RESULT_NO_ACK`. `FERROSOCKET_RESULT_DISCONNECTED` if the client left.
#[no_mangle]
pub extern "C" fn ferrosocket_ack_send(
    ack: *const ferrosocket_ack,
    args: *const ferrosocket_args,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let ack = reference(ack, "ack")?;
        let payload = payload_in(args)?;
        let Some(sender) = lock(&ack.sender).take() else {
            return fail(ferrosocket_result::NoAck, "acknowledgement already sent");
        };
        let _entered = ack.runtime.as_ref().map(|rt| rt.enter());
        Ok(sender.send(&payload)?)
    })
}

/// Frees an ack handle; an unanswered acknowledgement is dropped (the client's callback
/// never fires). NULL is a no-op.
#[no_mangle]
pub extern "C" fn ferrosocket_ack_free(ack: *mut ferrosocket_ack) {
    let _ = ffi_boundary!(|| {
        if !ack.is_null() {
            // SAFETY: non-NULL ack pointers come from `ferrosocket_event_take_ack`'s
            // `Box::into_raw` and, by the ownership contract, are freed exactly once.
            drop(unsafe { Box::from_raw(ack) });
        }
        Ok(())
    });
}

/// A client asking to join a namespace, borrowed by a connect callback: valid until the
/// callback returns. The callback accepts by returning; it refuses by calling
/// `ferrosocket_connect_request_refuse` before returning. The socket exists already: the callback
/// may join it to rooms and emit to it (delivered after the client's `connect`).
///
/// Methods: `ferrosocket_connect_request_namespace`, `_sid`, `_auth`, `_query`,
/// `_query_param`, `_header`, `_header_count`, `_header_at`, `_remote_addr`, `_refuse`.
#[derive(Debug)]
pub struct ferrosocket_connect_request {
    socket: Socket,
    sid: ferrosocket::Sid,
    auth: Auth,
    refused: Mutex<Option<ConnectRefused>>,
    /// Decoded query parameters handed out so far: kept here so the returned pointers
    /// stay valid until the callback returns (a `Box<str>` does not move when the vector
    /// grows).
    decoded: Mutex<Vec<Box<str>>>,
}

impl ferrosocket_connect_request {
    pub(crate) fn new(socket: Socket, auth: Auth) -> Self {
        Self {
            sid: socket.id(),
            socket,
            auth,
            refused: Mutex::new(None),
            decoded: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn outcome(self) -> std::result::Result<(), ConnectRefused> {
        match self.refused.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(refused) => Err(refused),
            None => Ok(()),
        }
    }
}

/// The namespace the client asks to join. Empty if `request` is NULL.
#[no_mangle]
pub extern "C" fn ferrosocket_connect_request_namespace(
    request: *const ferrosocket_connect_request,
) -> ferrosocket_str {
    borrowed_str!(request, "request", |r| r.socket.namespace())
}

/// The new socket's id. Empty if `request` is NULL.
#[no_mangle]
pub extern "C" fn ferrosocket_connect_request_sid(
    request: *const ferrosocket_connect_request,
) -> ferrosocket_str {
    borrowed_str!(request, "request", |r| r.sid.as_str())
}

/// The client's auth payload as JSON text (e.g. `{"token":"abc"}`); empty (`len` 0) when
/// the client sent none.
#[no_mangle]
pub extern "C" fn ferrosocket_connect_request_auth(
    request: *const ferrosocket_connect_request,
) -> ferrosocket_str {
    borrowed_str!(request, "request", |r| r.auth.json().unwrap_or(""))
}

/// The raw query string of the opening HTTP request, without `?`
/// (e.g. `EIO=4&transport=polling&user=ann`).
#[no_mangle]
pub extern "C" fn ferrosocket_connect_request_query(
    request: *const ferrosocket_connect_request,
) -> ferrosocket_str {
    borrowed_str!(request, "request", |r| r.socket.handshake().query())
}

/// One query parameter of the opening request, percent-decoded, into `*out` (valid
/// until the callback returns). `FERROSOCKET_RESULT_NOT_FOUND` when absent.
#[no_mangle]
pub extern "C" fn ferrosocket_connect_request_query_param(
    request: *const ferrosocket_connect_request,
    name: *const c_char,
    name_len: usize,
    out: *mut ferrosocket_str,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let request = reference(request, "request")?;
        let name = str_in(name, name_len, "name")?;
        let Some(value) = request.socket.handshake().query_param(name) else {
            return fail(
                ferrosocket_result::NotFound,
                format!("no query parameter {name}"),
            );
        };
        let mut decoded = lock(&request.decoded);
        decoded.push(value.into_boxed_str());
        let value = decoded
            .last()
            .map_or(ferrosocket_str::EMPTY, |v| ferrosocket_str::from_str(v));
        write_out(out, value, "out")
    })
}

/// The first value of request header `name` (any case) into `*out` (valid until the
/// callback returns). `FERROSOCKET_RESULT_NOT_FOUND` when absent.
#[no_mangle]
pub extern "C" fn ferrosocket_connect_request_header(
    request: *const ferrosocket_connect_request,
    name: *const c_char,
    name_len: usize,
    out: *mut ferrosocket_str,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let request = reference(request, "request")?;
        let name = str_in(name, name_len, "name")?;
        let Some(value) = request.socket.handshake().header(name) else {
            return fail(ferrosocket_result::NotFound, format!("no header {name}"));
        };
        write_out(out, ferrosocket_str::from_str(value.trim()), "out")
    })
}

/// How many headers the opening HTTP request had (0 if `request` is NULL). Read them
/// with `ferrosocket_connect_request_header_at(request, 0 .. count - 1, ...)`.
#[no_mangle]
pub extern "C" fn ferrosocket_connect_request_header_count(
    request: *const ferrosocket_connect_request,
) -> usize {
    ffi_boundary!(0, || {
        Ok(reference(request, "request")?
            .socket
            .handshake()
            .headers()
            .count())
    })
}

/// Header `index` of the opening HTTP request, in request order: its name (lower-case)
/// into `*out_name` and its value (surrounding whitespace trimmed) into `*out_value`,
/// both valid until the callback returns. `FERROSOCKET_RESULT_NOT_FOUND` when `index` is
/// not less than `ferrosocket_connect_request_header_count`. A header sent twice appears
/// twice.
#[no_mangle]
pub extern "C" fn ferrosocket_connect_request_header_at(
    request: *const ferrosocket_connect_request,
    index: usize,
    out_name: *mut ferrosocket_str,
    out_value: *mut ferrosocket_str,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let request = reference(request, "request")?;
        if out_name.is_null() || out_value.is_null() {
            return fail(
                ferrosocket_result::NullArgument,
                "out_name or out_value is NULL",
            );
        }
        let Some((name, value)) = request.socket.handshake().headers().nth(index) else {
            return fail(
                ferrosocket_result::NotFound,
                format!("no header at index {index}"),
            );
        };
        write_out(out_name, ferrosocket_str::from_str(name), "out_name")?;
        write_out(
            out_value,
            ferrosocket_str::from_str(value.trim()),
            "out_value",
        )
    })
}

/// Copies the client's address as text `ip:port` (`127.0.0.1:53422`, `[::1]:53422`) and
/// a terminating NUL into `buf`; `*out_len` gets the text length. 48 bytes are always
/// enough. `FERROSOCKET_RESULT_BUFFER_TOO_SMALL` (with `*out_len` set) when `buf_len` is
/// less than `*out_len + 1`. The address is the TCP peer of the opening request (a proxy's
/// address behind a reverse proxy: see its `x-forwarded-for` header).
#[no_mangle]
pub extern "C" fn ferrosocket_connect_request_remote_addr(
    request: *const ferrosocket_connect_request,
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let request = reference(request, "request")?;
        let addr = request.socket.handshake().remote_addr().to_string();
        copy_out(&addr, buf, buf_len, out_len)
    })
}

/// Refuses the connection: the client gets a connect error with `message`
/// (`err.message` in the JS client) and, unless `data_json` is NULL/0, the JSON value
/// `data_json` (`err.data`). Call during the connect callback; the last call wins.
#[no_mangle]
pub extern "C" fn ferrosocket_connect_request_refuse(
    request: *const ferrosocket_connect_request,
    message: *const c_char,
    message_len: usize,
    data_json: *const c_char,
    data_len: usize,
) -> ferrosocket_result {
    ffi_boundary!(|| {
        let request = reference(request, "request")?;
        let message = str_in(message, message_len, "message")?;
        let data = str_in(data_json, data_len, "data_json")?;
        let mut refused = ConnectRefused::new(message);
        if !data.is_empty() {
            let value: serde_json::Value = serde_json::from_str(data)
                .or_else(|e| fail(ferrosocket_result::InvalidJson, format!("data_json: {e}")))?;
            refused = refused.with_data(&value);
        }
        *lock(&request.refused) = Some(refused);
        Ok(())
    })
}
