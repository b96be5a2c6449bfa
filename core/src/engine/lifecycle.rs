//! The engine's lifecycle: the accept loop and graceful shutdown.
//!
//! Owns: accepting TCP connections against `max_connections`, handing each to hyper with
//! the engine's request service, and the shutdown drain. Never: answers a request itself
//! (that is `http`), nor blocks the accept loop on one connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::http::route;
use super::{run_coarse_clock, ConnectionSlot, Engine, EngineState, Handler};
use crate::error::{DisconnectReason, ServerError};

impl<H: Handler> Engine<H> {
    /// Binds `addr` and serves until `shutdown` resolves. See [`Engine::run`].
    pub async fn serve(
        self,
        addr: impl tokio::net::ToSocketAddrs,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let listener = TcpListener::bind(addr).await?;
        self.run(listener, shutdown).await
    }

    /// Accepts connections on `listener` until `shutdown` resolves, then shuts down
    /// gracefully; see [`Server::run`](crate::Server::run), which is this method.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let state = self.0;
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(state.config.header_timeout)
            .keep_alive(true);
        let max_connections = state.config.max_connections();
        tracing::debug!(max_connections, "accepting connections");
        let mut bursts = AcceptBursts::default();
        // The queue-age clock; it ends with the connections (`shutdown` is cancelled
        // before the tasks are awaited).
        state.tasks.spawn(run_coarse_clock(state.shutdown.clone()));
        tokio::pin!(shutdown);
        loop {
            let (stream, remote) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and similar: back off instead of
                        // spinning, and say so once per burst, not every attempt.
                        let pause = bursts.accept_failed(&error, max_connections);
                        tokio::select! {
                            _ = &mut shutdown => break,
                            _ = tokio::time::sleep(pause) => {}
                        }
                        continue;
                    }
                },
            };
            bursts.accepted();
            if state.connections.fetch_add(1, Ordering::AcqRel) >= max_connections {
                state.connections.fetch_sub(1, Ordering::AcqRel);
                state
                    .metrics
                    .refused(crate::metrics::Refusal::MaxConnections);
                bursts.refused(remote, max_connections);
                drop(stream);
                continue;
            }
            bursts.admitted();
            let slot = Arc::new(ConnectionSlot(Arc::clone(&state)));
            // Socket.IO traffic is many small writes; never wait for Nagle.
            let _ = stream.set_nodelay(true);
            // The fallback's `ConnectionInfo`: the interface this connection reached, which
            // a wildcard listener's own address does not tell.
            let local = stream
                .local_addr()
                .unwrap_or_else(|_| listener_addr(&listener));
            let service_state = Arc::clone(&state);
            let service = service_fn(move |req| {
                let state = Arc::clone(&service_state);
                let slot = Arc::clone(&slot);
                async move { Ok::<_, Infallible>(route(state, slot, remote, local, req).await) }
            });
            let conn = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let stop = state.shutdown.clone();
            state.tasks.spawn(async move {
                tokio::pin!(conn);
                let result = tokio::select! {
                    result = conn.as_mut() => result,
                    _ = stop.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(error) = result {
                    tracing::debug!(%error, "http connection ended with an error");
                }
            });
        }
        drop(listener);
        shutdown_gracefully(&state).await;
        Ok(())
    }
}

/// The listener's address, or the unspecified IPv4 address if even that is unknown.
fn listener_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// What the accept loop logs about its failures and refusals: once when a burst
/// starts and once when it ends, with a count, instead of a line per connection (a
/// flood of them is the very situation being reported).
#[derive(Debug, Default)]
struct AcceptBursts {
    /// Failed accepts in a row; the back-off doubles with each.
    failures: u32,
    /// Connections refused over `max_connections` since the last one admitted.
    refused: u64,
}

impl AcceptBursts {
    /// The first failure of a burst is logged; returns how long to pause (10 ms,
    /// doubling, at most 1 s).
    fn accept_failed(&mut self, error: &std::io::Error, max_connections: usize) -> Duration {
        if self.failures == 0 {
            tracing::warn!(
                %error,
                max_connections,
                "accept failed; backing off until it succeeds again (logged once per burst;                  out of file descriptors: lower max_connections or raise the open-file limit)"
            );
        }
        self.failures = self.failures.saturating_add(1);
        Duration::from_millis(10u64 << self.failures.min(7)).min(Duration::from_secs(1))
    }

    fn accepted(&mut self) {
        if self.failures > 0 {
            tracing::info!(failures = self.failures, "accepting again");
            self.failures = 0;
        }
    }

    fn refused(&mut self, remote: SocketAddr, max_connections: usize) {
        if self.refused == 0 {
            tracing::warn!(
                %remote,
                max_connections,
                "max_connections reached, refusing new connections (logged once per burst)"
            );
        }
        self.refused += 1;
    }

    fn admitted(&mut self) {
        if self.refused > 0 {
            tracing::info!(refused = self.refused, "below max_connections again");
            self.refused = 0;
        }
    }
}

async fn shutdown_gracefully<H: Handler>(state: &Arc<EngineState<H>>) {
    let sessions = state.start_shutdown();
    tracing::info!(sessions = sessions.len(), "shutting down");
    for session in sessions {
        session.close(DisconnectReason::ServerShuttingDown);
    }
    state.shutdown.cancel();
    state.tasks.close();
    if tokio::time::timeout(state.config.shutdown_timeout, state.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            remaining = state.tasks.len(),
            "shutdown timeout reached with connections still open"
        );
    }
    state.clear_sessions();
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM: the usual `shutdown` argument of
/// [`Server::run`](crate::Server::run) (or [`Engine::run`]) for a server process.
///
/// ```no_run
/// # async fn demo(server: ferrosocket::Server, listener: tokio::net::TcpListener) {
/// server.run(listener, ferrosocket::shutdown_signal()).await.unwrap();
/// # }
/// ```
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling available: never resolve rather than stop at once.
        std::future::pending::<()>().await;
    }
}
