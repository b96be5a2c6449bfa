//! Engine.IO over HTTP: request routing and the handshakes of both transports.
//!
//! Owns: the allowed-hosts check, matching the engine's path (everything else goes to
//! the fallback), the polling handshake, GET and POST, and the WebSocket handshake that
//! hands the upgraded connection to `websocket`. Never: keeps state of its own between
//! requests (that is the session's) or names the layer above (only [`Handler`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::cors::{self, preflight};
use super::error::EngineError;
use super::{
    polling, query_param, websocket, ConnectionInfo, ConnectionSlot, EngineState, Handler,
    Handshake, ResponseBody, Session, Transport,
};
use crate::clip::clip;
use crate::error::DisconnectReason;
use crate::metrics::Refusal;
use crate::protocol::engine::open_packet;

/// A response with a whole body and its content type.
pub(crate) fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<ResponseBody> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Answers one HTTP request of a connection: hosts first, then the engine's path (with
/// or without its trailing `/`), everything else to the fallback (with the request's
/// [`ConnectionInfo`] in its extensions) or 404. `local` is the connection's own end.
pub(crate) async fn route<H: Handler>(
    state: Arc<EngineState<H>>,
    slot: Arc<ConnectionSlot<H>>,
    remote: SocketAddr,
    local: SocketAddr,
    mut req: Request<Incoming>,
) -> Response<ResponseBody> {
    if let Some(hosts) = &state.config.allowed_hosts {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        if !hosts.allows(host) {
            tracing::info!(
                host = %clip(host.unwrap_or("")),
                %remote,
                "host not in allowed_hosts, request refused"
            );
            state.metrics.refused(Refusal::Host);
            return EngineError::HostNotAllowed.response();
        }
    }
    let path = req.uri().path();
    let engine_path = &state.config.path;
    if path == engine_path || path == &engine_path[..engine_path.len() - 1] {
        return engine_request(state, slot, remote, req).await;
    }
    match state.fallback() {
        Some(fallback) => {
            req.extensions_mut()
                .insert(ConnectionInfo { remote, local });
            fallback(req).await
        }
        None => full(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "Not Found",
        ),
    }
}

async fn engine_request<H: Handler>(
    state: Arc<EngineState<H>>,
    slot: Arc<ConnectionSlot<H>>,
    remote: SocketAddr,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    let config = &state.config;
    let query = req.uri().query().unwrap_or("");
    if query_param(query, "EIO").as_deref() != Some("4") {
        state.metrics.refused(Refusal::BadHandshake);
        return EngineError::UnsupportedProtocolVersion.response();
    }
    let transport = match query_param(query, "transport").as_deref() {
        Some("polling") if config.allow_polling => Transport::Polling,
        Some("websocket") if config.allow_websocket => Transport::WebSocket,
        _ => {
            state.metrics.refused(Refusal::BadHandshake);
            return EngineError::UnknownTransport.response();
        }
    };
    let sid = query_param(query, "sid");

    let origin = match cors::check_origin(config, &req, remote) {
        Ok(origin) => origin,
        Err(refused) => {
            state.metrics.refused(Refusal::Origin);
            return refused.response();
        }
    };

    let mut response = if transport == Transport::WebSocket && req.method() == Method::GET {
        return websocket_request(state, slot, remote, req, sid).await;
    } else {
        match *req.method() {
            Method::OPTIONS => preflight(&req),
            Method::GET => match sid {
                None => polling_handshake(&state, &req, remote),
                Some(sid) => match state.session(&sid) {
                    None => EngineError::UnknownSid.response(),
                    Some(session) => match polling::get(session).await {
                        Ok(body) => full(StatusCode::OK, "text/plain; charset=UTF-8", body),
                        Err(error) => error.response(),
                    },
                },
            },
            Method::POST => match sid.and_then(|sid| state.session(&sid)) {
                None => EngineError::UnknownSid.response(),
                Some(session) => polling_post(&state, &session, req).await,
            },
            _ => {
                state.metrics.refused(Refusal::BadHandshake);
                EngineError::BadHandshakeMethod.response()
            }
        }
    };
    cors::allow_origin(&mut response, origin);
    response
}

/// The handshake kept for the session's lifetime, copied out of the request: hyper's
/// header values share its whole connection read buffer (8 KiB), which keeping them
/// would hold for as long as the connection lasts.
fn handshake_of(req: &Request<Incoming>, remote: SocketAddr) -> Handshake {
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path(), |pq| pq.as_str());
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    Handshake::new(target, headers, remote)
}

fn polling_handshake<H: Handler>(
    state: &Arc<EngineState<H>>,
    req: &Request<Incoming>,
    remote: SocketAddr,
) -> Response<ResponseBody> {
    if state.is_shutting_down() {
        state.metrics.refused(Refusal::ShuttingDown);
        return EngineError::ShuttingDown.response();
    }
    let session = Session::new(
        Arc::clone(state),
        handshake_of(req, remote),
        Transport::Polling,
    );
    let config = &state.config;
    let open = open_packet(
        session.id.as_str(),
        config.allow_websocket && config.allow_upgrades,
        config.ping_interval.as_millis() as u64,
        config.ping_timeout.as_millis() as u64,
        config.max_payload as u64,
    );
    // The open packet is the handshake's answer, not queued: counted here.
    state.metrics.sent(1, open.len());
    let mut response = full(StatusCode::OK, "text/plain; charset=UTF-8", open);
    if let Some(cookie) = &config.cookie {
        match HeaderValue::from_str(&cookie.header(session.id.as_str())) {
            Ok(value) if cookie.is_valid() => {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            _ => {
                tracing::warn!(name = %clip(cookie.name()), "the sid cookie is not a valid header, not sent")
            }
        }
    }
    response
}

async fn polling_post<H: Handler>(
    state: &EngineState<H>,
    session: &Arc<Session<H>>,
    req: Request<Incoming>,
) -> Response<ResponseBody> {
    let max = state.config.max_payload;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Said before the body is read (Content-Length) or found while reading it.
    let too_large = || {
        tracing::info!(sid = %session.id, declared, max_payload = max, "polling body over max payload (413)");
        closing(EngineError::PayloadTooLarge.response())
    };
    if declared.is_some_and(|len| len > max) {
        return too_large();
    }
    let body = match read_body(state, session, Limited::new(req.into_body(), max)).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::TimedOut) => {
            tracing::info!(
                sid = %session.id,
                body_timeout_ms = state.config.body_timeout.as_millis() as u64,
                "polling body not received in time (408), closing session"
            );
            session.close(DisconnectReason::TransportError);
            return closing(EngineError::RequestTimeout.response());
        }
        Err(BodyError::SessionClosed) => {
            return closing(EngineError::UnknownSid.response());
        }
        Err(BodyError::Failed) => return EngineError::BadRequest.response(),
    };
    match polling::post(session, &body) {
        Ok(()) => full(StatusCode::OK, "text/html", "ok"),
        Err(error) => error.response(),
    }
}

/// Why a request body was not read.
#[derive(Debug)]
enum BodyError {
    TooLarge,
    TimedOut,
    SessionClosed,
    Failed,
}

/// Collects `body` within the configured body timeout, ending early (checked every
/// second) when `session` closes meanwhile: a trickling body must not keep its
/// connection, and its session's memory, for longer than that.
async fn read_body<H: Handler>(
    state: &EngineState<H>,
    session: &Session<H>,
    body: Limited<Incoming>,
) -> Result<Bytes, BodyError> {
    let deadline = tokio::time::Instant::now() + state.config.body_timeout;
    let collect = body.collect();
    tokio::pin!(collect);
    loop {
        let tick = deadline.min(tokio::time::Instant::now() + Duration::from_secs(1));
        tokio::select! {
            collected = &mut collect => {
                return match collected {
                    Ok(body) => Ok(body.to_bytes()),
                    Err(error) if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                        Err(BodyError::TooLarge)
                    }
                    Err(_) => Err(BodyError::Failed),
                };
            }
            _ = tokio::time::sleep_until(tick) => {
                if session.is_closed() {
                    return Err(BodyError::SessionClosed);
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(BodyError::TimedOut);
                }
            }
        }
    }
}

/// Marks `response` as the connection's last: the rest of an unread body is not
/// waited for.
fn closing(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn websocket_request<H: Handler>(
    state: Arc<EngineState<H>>,
    slot: Arc<ConnectionSlot<H>>,
    remote: SocketAddr,
    mut req: Request<Incoming>,
    sid: Option<String>,
) -> Response<ResponseBody> {
    let headers = req.headers();
    let header_has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
    let valid = header_has(header::UPGRADE, "websocket")
        && header_has(header::CONNECTION, "upgrade")
        && headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .map(|v| v.as_bytes())
            == Some(b"13");
    let Some(key) = key.filter(|_| valid) else {
        state.metrics.refused(Refusal::BadHandshake);
        return EngineError::BadRequest.response();
    };

    // `Some(None)`: a known sid this WebSocket may not upgrade; it is accepted and then
    // closed at once (the protocol's answer, and the reference server's).
    let claim = match sid {
        Some(sid) => match state.session(&sid) {
            // A closed session that lingers for its last polls is as good as gone.
            Some(session) if !session.is_closed() && !state.config.allow_upgrades => {
                tracing::info!(sid = %session.id, "websocket upgrade refused: allow_upgrades is off");
                Some(None)
            }
            Some(session) if !session.is_closed() => Some(session.claim_upgrade()),
            _ => return EngineError::UnknownSid.response(),
        },
        None if state.is_shutting_down() => {
            state.metrics.refused(Refusal::ShuttingDown);
            return EngineError::ShuttingDown.response();
        }
        None => None,
    };

    let handshake = handshake_of(&req, remote);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let task_state = Arc::clone(&state);
    state.tasks.spawn(async move {
        // The slot moves into the connection loop: the TCP connection lives on there
        // after hyper's connection task ends with the upgrade.
        match on_upgrade.await {
            Ok(upgraded) => match claim {
                Some(Some(claim)) => websocket::run_upgrade(claim, upgraded, slot).await,
                Some(None) => websocket::refuse(task_state, upgraded, slot).await,
                None => websocket::run_direct(task_state, upgraded, handshake, slot).await,
            },
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });

    let mut response = Response::new(
        Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}
