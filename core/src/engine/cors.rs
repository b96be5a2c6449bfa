//! CORS for the engine's path: which origins may call it and the headers that say so.
//!
//! Owns: the preflight answer and the `Access-Control-*` headers. Never: decides
//! anything but origins (hosts are checked in `http`).

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::error::EngineError;
use super::http::full;
use super::ResponseBody;
use crate::clip::clip;
use crate::config::{Config, Site};

/// The request's `Origin` when it may call the engine (`None`: no `Origin`, a
/// same-process or non-browser client); `Err` when the origin is not allowed.
pub(crate) fn check_origin(
    config: &Config,
    req: &Request<Incoming>,
    remote: SocketAddr,
) -> Result<Option<String>, EngineError> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(origin) = &origin {
        let text = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let site = Site {
            host: text(header::HOST.as_str()),
            scheme: "http",
            forwarded_proto: text("x-forwarded-proto"),
            forwarded_host: text("x-forwarded-host"),
        };
        if !config.allowed_origins.allows(origin, &site) {
            tracing::info!(origin = %clip(origin), %remote, "origin not allowed");
            return Err(EngineError::OriginNotAllowed);
        }
    }
    Ok(origin)
}

/// Lets the allowed `origin` (from [`check_origin`]) read `response`, with credentials.
pub(crate) fn allow_origin(response: &mut Response<ResponseBody>, origin: Option<String>) {
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The answer to a CORS preflight (`OPTIONS`): the methods, the headers asked for, and
/// how long the browser may cache it.
pub(crate) fn preflight(req: &Request<Incoming>) -> Response<ResponseBody> {
    let mut response = full(
        StatusCode::NO_CONTENT,
        "text/plain; charset=utf-8",
        Bytes::new(),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    if let Some(requested) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}
