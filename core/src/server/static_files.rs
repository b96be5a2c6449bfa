//! The static-file fallback ([`serve_dir`]): files under one directory, safely.
//!
//! Owns: mapping a request path to a file inside the directory and its content type.
//! Never: serves a path outside the directory (`..`, hidden components, links out).

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::engine::{full, BoxFuture, ResponseBody};

/// A fallback that serves the files under `dir` (`/` serves `index.html`), for
/// [`Server::set_fallback`](crate::Server::set_fallback). Paths with `..` or hidden components get 404, and so does
/// a file whose real path (symbolic links resolved) is outside `dir`: a link inside the
/// directory cannot expose the rest of the file system.
///
/// ```no_run
/// # let server = ferrosocket::Server::new(Default::default());
/// let files = ferrosocket::serve_dir("examples/chat/static");
/// server.set_fallback(move |req| files(req));
/// ```
pub fn serve_dir(
    dir: impl Into<std::path::PathBuf>,
) -> impl Fn(Request<Incoming>) -> BoxFuture<Response<ResponseBody>> + Send + Sync + Clone + 'static
{
    let dir: Arc<std::path::Path> = Arc::from(dir.into());
    move |req| {
        let dir = Arc::clone(&dir);
        Box::pin(async move {
            if req.method() != Method::GET && req.method() != Method::HEAD {
                return full(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "text/plain; charset=utf-8",
                    "Method Not Allowed",
                );
            }
            let path = req.uri().path();
            let relative = if path.ends_with('/') {
                format!("{path}index.html")
            } else {
                path.to_owned()
            };
            let safe = relative
                .split('/')
                .filter(|c| !c.is_empty())
                .all(|c| !c.starts_with('.') && !c.contains('\\'));
            if !safe {
                return full(
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "Not Found",
                );
            }
            let file = dir.join(relative.trim_start_matches('/'));
            if !inside(&dir, &file).await {
                return full(
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "Not Found",
                );
            }
            match tokio::fs::read(&file).await {
                Ok(contents) => {
                    let mut response = full(StatusCode::OK, content_type(&file), contents);
                    response
                        .headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    response
                }
                Err(_) => full(
                    StatusCode::NOT_FOUND,
                    "text/plain; charset=utf-8",
                    "Not Found",
                ),
            }
        })
    }
}

/// Whether `file` exists and its real path lies inside the real path of `dir`.
async fn inside(dir: &std::path::Path, file: &std::path::Path) -> bool {
    match (
        tokio::fs::canonicalize(dir).await,
        tokio::fs::canonicalize(file).await,
    ) {
        (Ok(dir), Ok(file)) => file.starts_with(&dir),
        _ => false,
    }
}

fn content_type(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
