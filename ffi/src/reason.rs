//! `ferrosocket_disconnect_reason`: why a client left, as a number C can `switch` on,
//! and its Socket.IO text. Owns only the numbering (ABI) and its mapping from the core's
//! `DisconnectReason`.

use std::ffi::{c_char, CStr};

use ferrosocket::DisconnectReason;

/// Why a client left a namespace, given to the disconnect callback. The numbers are ABI:
/// never renumbered, and a retired reason's number is never reused; a newer library may
/// add reasons, so `switch` with a `default`. `ferrosocket_disconnect_reason_name` gives
/// the text the Socket.IO servers use (`"transport close"`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrosocket_disconnect_reason {
    /// A reason this header does not know (never given by this library version).
    Unknown = 0,
    /// The client left the namespace or disconnected on purpose
    /// (`"client namespace disconnect"`).
    ClientNamespaceDisconnect = 1,
    /// The server disconnected the client: `ferrosocket_server_disconnect`
    /// (`"server namespace disconnect"`).
    ServerNamespaceDisconnect = 2,
    /// The client did not answer a ping in time (`"ping timeout"`).
    PingTimeout = 3,
    /// The connection was closed: the client went away, sent a close packet, or its
    /// transport closed (`"transport close"`).
    TransportClose = 4,
    /// The transport failed: an I/O error, an oversized message, a protocol violation
    /// (`"transport error"`).
    TransportError = 5,
    /// The client sent a packet that could not be parsed (`"parse error"`).
    ParseError = 6,
    /// The server is stopping: `ferrosocket_server_stop` or `_free`
    /// (`"server shutting down"`).
    ServerShuttingDown = 7,
    /// The client did not read fast enough and its queue went over a limit
    /// (`"client too slow"`).
    ClientTooSlow = 8,
}

impl From<DisconnectReason> for ferrosocket_disconnect_reason {
    fn from(reason: DisconnectReason) -> Self {
        match reason {
            DisconnectReason::ClientNamespaceDisconnect => Self::ClientNamespaceDisconnect,
            DisconnectReason::ServerNamespaceDisconnect => Self::ServerNamespaceDisconnect,
            DisconnectReason::PingTimeout => Self::PingTimeout,
            DisconnectReason::TransportClose => Self::TransportClose,
            DisconnectReason::TransportError => Self::TransportError,
            DisconnectReason::ParseError => Self::ParseError,
            DisconnectReason::ServerShuttingDown => Self::ServerShuttingDown,
            DisconnectReason::ClientTooSlow => Self::ClientTooSlow,
            // The core's enum is non-exhaustive: a reason added there gets a number here
            // (the test below lists every reason the core has today).
            _ => Self::Unknown,
        }
    }
}

fn name(reason: u32) -> &'static CStr {
    match reason {
        1 => c"client namespace disconnect",
        2 => c"server namespace disconnect",
        3 => c"ping timeout",
        4 => c"transport close",
        5 => c"transport error",
        6 => c"parse error",
        7 => c"server shutting down",
        8 => c"client too slow",
        _ => c"unknown",
    }
}

/// The reason as the static NUL-terminated text Socket.IO servers use, e.g.
/// `"transport close"` for `FERROSOCKET_DISCONNECT_REASON_TRANSPORT_CLOSE`; `"unknown"`
/// for a number that is not a reason. Never NULL; never free it.
#[no_mangle]
pub extern "C" fn ferrosocket_disconnect_reason_name(reason: u32) -> *const c_char {
    ffi_boundary!(c"unknown".as_ptr(), || Ok(name(reason).as_ptr()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_reason_has_its_number_and_text() {
        // The core's list of every reason, in its order (a new reason fails here).
        for (i, reason) in ferrosocket::metrics::DISCONNECT_REASONS
            .into_iter()
            .enumerate()
        {
            let number = ferrosocket_disconnect_reason::from(reason) as u32;
            assert_eq!(number as usize, i + 1, "{reason}");
            assert_eq!(name(number).to_str().ok(), Some(reason.as_str()));
        }
        assert_eq!(name(0), c"unknown");
        assert_eq!(name(99), c"unknown");
    }
}
