//! Why the engine refuses an HTTP request, and the one place that turns a refusal into
//! its HTTP status, Engine.IO error code and body.
//!
//! Owns: [`EngineError`] and its mapping. Never: logs (the call site knows the context)
//! or closes sessions (the caller decides).

use http::StatusCode;

use super::http::full;
use super::ResponseBody;

/// A request the engine refuses. Those with an Engine.IO error code are answered in the
/// reference server's JSON shape (`{"code":N,"message":"..."}`); the others in plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EngineError {
    /// `transport` missing, unknown, or disabled in the configuration.
    #[error("Transport unknown")]
    UnknownTransport,
    /// `sid` names no open session (or one closing while its request waited).
    #[error("Session ID unknown")]
    UnknownSid,
    /// A method other than GET, POST and OPTIONS.
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    /// A request that breaks the protocol: overlapping GETs, a GET or POST after the
    /// upgrade, a malformed payload, an invalid WebSocket handshake.
    #[error("Bad request")]
    BadRequest,
    /// A new session while the server shuts down.
    #[error("Server shutting down")]
    ShuttingDown,
    /// `EIO` other than 4.
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion,
    /// A polling body over the max payload.
    #[error("Payload too large")]
    PayloadTooLarge,
    /// A polling body not received within the body timeout.
    #[error("Request timeout")]
    RequestTimeout,
    /// An `Origin` not in the allowed origins.
    #[error("Origin not allowed")]
    OriginNotAllowed,
    /// A `Host` not in the allowed hosts.
    #[error("Invalid Host header")]
    HostNotAllowed,
}

impl EngineError {
    /// The HTTP status of the answer.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::UnknownTransport
            | Self::UnknownSid
            | Self::BadHandshakeMethod
            | Self::BadRequest
            | Self::UnsupportedProtocolVersion
            | Self::HostNotAllowed => StatusCode::BAD_REQUEST,
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
        }
    }

    /// The Engine.IO error code of the JSON body, `None` for a plain-text answer (the
    /// checks in front of the protocol: hosts and origins).
    pub(crate) fn code(self) -> Option<u8> {
        match self {
            Self::UnknownTransport => Some(0),
            Self::UnknownSid => Some(1),
            Self::BadHandshakeMethod => Some(2),
            Self::BadRequest | Self::PayloadTooLarge | Self::RequestTimeout => Some(3),
            Self::ShuttingDown => Some(4),
            Self::UnsupportedProtocolVersion => Some(5),
            Self::OriginNotAllowed | Self::HostNotAllowed => None,
        }
    }

    /// The answer to send.
    pub(crate) fn response(self) -> http::Response<ResponseBody> {
        match self.code() {
            Some(code) => full(
                self.status(),
                "application/json",
                format!(r#"{{"code":{code},"message":"{self}"}}"#),
            ),
            None => full(self.status(), "text/plain; charset=utf-8", self.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EngineError as E;

    #[test]
    fn codes_statuses_and_messages() {
        let all = [
            (E::UnknownTransport, 400, Some(0), "Transport unknown"),
            (E::UnknownSid, 400, Some(1), "Session ID unknown"),
            (E::BadHandshakeMethod, 400, Some(2), "Bad handshake method"),
            (E::BadRequest, 400, Some(3), "Bad request"),
            (E::ShuttingDown, 503, Some(4), "Server shutting down"),
            (
                E::UnsupportedProtocolVersion,
                400,
                Some(5),
                "Unsupported protocol version",
            ),
            (E::PayloadTooLarge, 413, Some(3), "Payload too large"),
            (E::RequestTimeout, 408, Some(3), "Request timeout"),
            (E::OriginNotAllowed, 403, None, "Origin not allowed"),
            (E::HostNotAllowed, 400, None, "Invalid Host header"),
        ];
        for (error, status, code, message) in all {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.code(), code, "{error:?}");
            assert_eq!(error.to_string(), message);
            let content_type = error.response().headers()[http::header::CONTENT_TYPE].clone();
            let json = code.is_some();
            assert_eq!(content_type == "application/json", json, "{error:?}");
        }
    }
}
