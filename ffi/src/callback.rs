//! The C callbacks: their types, the wrappers that turn them into the core's handlers,
//! the exactly-once ack-reply callback, and the per-thread "inside a callback" mark that
//! stop and free check. Owns no threads: callbacks run where `embed` runs them.

use std::cell::Cell;
use std::ffi::c_void;

use ferrosocket::embed::AckFailure;
use ferrosocket::{ConnectRefused, DisconnectReason, Payload, Sid, Socket};

use crate::event::{ferrosocket_connect_request, ferrosocket_event};
use crate::reason::ferrosocket_disconnect_reason;
use crate::result::{fail, ferrosocket_result, Result};
use crate::slice::{ferrosocket_args, ferrosocket_str, ArgsOut, NO_ARGS};
use crate::userdata::UserData;

/// Called on a dispatch thread when a client asks to join a namespace. Return to accept;
/// call `ferrosocket_connect_request_refuse(request, ...)` before returning to refuse.
/// `request` and everything read from it are valid until the callback returns.
pub type ferrosocket_connect_callback = Option<
    unsafe extern "C" fn(userdata: *mut c_void, request: *const ferrosocket_connect_request),
>;

/// Called on a dispatch thread after a client left a namespace, once every earlier
/// callback of that client ran. `nsp` and `sid` are valid until the callback returns;
/// `reason` says why (`ferrosocket_disconnect_reason_name` gives its text).
pub type ferrosocket_disconnect_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        nsp: ferrosocket_str,
        sid: ferrosocket_str,
        reason: ferrosocket_disconnect_reason,
    ),
>;

/// Called on a dispatch thread for an event; one client's events arrive in order.
/// `event` and everything read from it are valid until the callback returns.
pub type ferrosocket_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const ferrosocket_event)>;

/// Receives the answer to `ferrosocket_server_emit_with_ack`, exactly once. It runs on a
/// dispatch thread, in order with the client's connect, event and disconnect callbacks
/// (never two of that client's callbacks at once), and may block like them. `nsp` and
/// `sid` name the client that was asked (one userdata can serve every client). `result`
/// is `FERROSOCKET_RESULT_OK` with the client's reply in `*reply`; or `_TIMEOUT`,
/// `_DISCONNECTED` (the client left first) or `_CANCELLED` (the server was stopped or
/// freed first) with empty `*reply`. `reply` is never NULL; it and the strings are valid
/// until the callback returns. A CANCELLED callback may also run on a server I/O thread
/// or on the thread calling `ferrosocket_server_free`, always before
/// `ferrosocket_server_free` returns.
pub type ferrosocket_ack_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        result: ferrosocket_result,
        nsp: ferrosocket_str,
        sid: ferrosocket_str,
        reply: *const ferrosocket_args,
    ),
>;

/// A non-NULL [`ferrosocket_ack_callback`].
pub(crate) type AckFn = unsafe extern "C" fn(
    *mut c_void,
    ferrosocket_result,
    ferrosocket_str,
    ferrosocket_str,
    *const ferrosocket_args,
);

thread_local! {
    /// Set while this thread runs a C ack callback outside the dispatch pool (CANCELLED
    /// while the server is freed): stop and free refuse there, as on dispatch threads,
    /// since they wait for the very threads that run callbacks.
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

/// Marks the current thread as running a C callback while it lives (needed only where
/// the thread is not a dispatch thread; those are recognised by `on_dispatch_thread`).
struct CallbackScope(());

impl CallbackScope {
    fn enter() -> Self {
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

/// The core's connect handler for a C connect callback.
pub(crate) fn connect_handler(
    callback: ferrosocket_connect_callback,
    userdata: *mut c_void,
) -> Result<
    impl Fn(Socket, ferrosocket::Auth) -> std::result::Result<(), ConnectRefused>
        + Send
        + Sync
        + 'static,
> {
    let Some(callback) = callback else {
        return fail(ferrosocket_result::NullArgument, "callback is NULL");
    };
    let userdata = UserData::new(userdata);
    Ok(move |socket, auth| {
        let request = ferrosocket_connect_request::new(socket, auth);
        // SAFETY: `callback` is a C function of this type, given by the caller;
        // `request` lives until the call returns, as the contract says.
        unsafe { callback(userdata.get(), &request) };
        request.outcome()
    })
}

/// The core's disconnect handler for a C disconnect callback.
pub(crate) fn disconnect_handler(
    callback: ferrosocket_disconnect_callback,
    userdata: *mut c_void,
) -> Result<impl Fn(Socket, DisconnectReason) + Send + Sync + 'static> {
    let Some(callback) = callback else {
        return fail(ferrosocket_result::NullArgument, "callback is NULL");
    };
    let userdata = UserData::new(userdata);
    Ok(move |socket: Socket, reason: DisconnectReason| {
        let sid = socket.id();
        // SAFETY: `callback` is a C function of this type; the strings point into
        // `socket` and `sid`, alive until the call returns.
        unsafe {
            callback(
                userdata.get(),
                ferrosocket_str::from_str(socket.namespace()),
                ferrosocket_str::from_str(sid.as_str()),
                reason.into(),
            )
        };
    })
}

/// The core's event handler for a C event callback.
pub(crate) fn event_handler(
    callback: ferrosocket_event_callback,
    userdata: *mut c_void,
) -> Result<impl Fn(Socket, ferrosocket::Event) + Send + Sync + 'static> {
    let Some(callback) = callback else {
        return fail(ferrosocket_result::NullArgument, "callback is NULL");
    };
    let userdata = UserData::new(userdata);
    Ok(move |socket, event| {
        let event = ferrosocket_event::new(socket, event);
        // SAFETY: `callback` is a C function of this type; `event` lives until the call
        // returns, as the contract says.
        unsafe { callback(userdata.get(), &event) };
    })
}

/// Calls the C ack callback exactly once: with the answer, or on drop with `CANCELLED`
/// (the runtime shut down before the answer was delivered), so userdata is never leaked.
#[derive(Debug)]
pub(crate) struct AckReply {
    callback: AckFn,
    userdata: UserData,
    /// The client asked, named to the callback.
    nsp: String,
    sid: Sid,
    delivered: bool,
}

impl AckReply {
    /// The reply `socket` owes to `callback`: from now on the callback runs exactly once.
    pub(crate) fn new(callback: AckFn, userdata: *mut c_void, socket: &Socket) -> Self {
        Self {
            callback,
            userdata: UserData::new(userdata),
            nsp: socket.namespace().to_owned(),
            sid: socket.id(),
            delivered: false,
        }
    }

    fn call(&mut self, result: ferrosocket_result, payload: Option<&Payload>) {
        self.delivered = true;
        let view = payload.map(ArgsOut::new);
        let reply = view.as_ref().map_or(NO_ARGS, ArgsOut::args);
        let _scope = CallbackScope::enter();
        // SAFETY: `callback` is a C function of this type; `reply` points into `view`
        // and `payload`, the strings into `self`, all alive until the call returns.
        unsafe {
            (self.callback)(
                self.userdata.get(),
                result,
                ferrosocket_str::from_str(&self.nsp),
                ferrosocket_str::from_str(self.sid.as_str()),
                &reply,
            )
        };
    }

    /// Delivers the client's answer, or why there is none.
    pub(crate) fn deliver(mut self, answer: std::result::Result<Payload, AckFailure>) {
        match answer {
            Ok(payload) => self.call(ferrosocket_result::Ok, Some(&payload)),
            Err(AckFailure::Timeout) => self.call(ferrosocket_result::Timeout, None),
            Err(AckFailure::Disconnected) => self.call(ferrosocket_result::Disconnected, None),
            Err(AckFailure::Cancelled) => self.call(ferrosocket_result::Cancelled, None),
        }
    }

    /// Drops the reply without calling C: the emit failed, and its caller was told so.
    pub(crate) fn disarm(mut self) {
        self.delivered = true;
    }
}

impl Drop for AckReply {
    fn drop(&mut self) {
        if !self.delivered {
            self.call(ferrosocket_result::Cancelled, None);
        }
    }
}
