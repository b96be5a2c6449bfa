//! The `/metrics` listener: a plain HTTP/1 server of its own, apart from the Socket.IO
//! port, answering the Prometheus text format.
//!
//! Owns: that listener's accept loop and its one route. Never: touches the engine's
//! connections or limits (a scrape is not a client).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::engine::ResponseBody;
use crate::error::ServerError;
use crate::metrics::PROMETHEUS_CONTENT_TYPE;

/// At most this many scrapes in flight; more connections wait in the listen backlog.
const MAX_SCRAPES: usize = 16;

/// Serves `GET /metrics` with what `render` returns on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    render: impl Fn() -> String + Send + Sync + 'static,
) -> Result<(), ServerError> {
    let render = Arc::new(render);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_SCRAPES));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(true);
    let stop = tokio_util::sync::CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::debug!(%error, "metrics listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let render = Arc::clone(&render);
        let service = service_fn(move |req| {
            let render = Arc::clone(&render);
            async move { Ok::<_, Infallible>(answer(&req, &*render)) }
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let stop = stop.clone();
        tasks.spawn(async move {
            let _permit = permit;
            tokio::pin!(conn);
            let _ = tokio::select! {
                result = conn.as_mut() => result,
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
        });
    }
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    Ok(())
}

fn answer(
    req: &Request<Incoming>,
    render: &(dyn Fn() -> String + Send + Sync),
) -> Response<ResponseBody> {
    let (status, content_type, body) = if req.uri().path() != "/metrics" {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "Not Found\n".to_owned(),
        )
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "Method Not Allowed\n".to_owned(),
        )
    } else {
        (StatusCode::OK, PROMETHEUS_CONTENT_TYPE, render())
    };
    let mut response = Response::new(
        Full::new(bytes::Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    if let Ok(value) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}
