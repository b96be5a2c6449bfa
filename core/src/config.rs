//! Server configuration: one struct, built with [`ConfigBuilder`], every default stated.

use std::time::Duration;

/// Which browser origins may talk to the server (CORS for polling, the `Origin` check on
/// WebSocket upgrades). Requests without an `Origin` header (non-browser clients) are
/// always accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AllowedOrigins {
    /// Only pages served from the same host and port as the server (the default).
    #[default]
    SameOrigin,
    /// Any origin (`"*"`). Must be asked for explicitly.
    Any,
    /// Exactly these origins, e.g. `http://localhost:8000` (scheme, host and port).
    List(Vec<String>),
}

impl AllowedOrigins {
    /// Whether `origin` may connect to a server reached as `host` (the `Host` header).
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        match self {
            Self::Any => true,
            Self::List(list) => list.iter().any(|allowed| allowed == origin),
            Self::SameOrigin => {
                let origin_host = origin
                    .split_once("://")
                    .map(|(_, rest)| rest)
                    .unwrap_or(origin);
                host.is_some_and(|host| host.eq_ignore_ascii_case(origin_host))
            }
        }
    }
}

/// Server configuration. Build it with [`Config::builder`]; [`Config::default`] gives
/// every default listed on the builder methods.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) path: String,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) upgrade_timeout: Duration,
    pub(crate) max_payload: usize,
    pub(crate) allowed_origins: AllowedOrigins,
    pub(crate) max_connections: usize,
    pub(crate) max_queued_packets: usize,
    pub(crate) ws_read_buffer_size: usize,
    pub(crate) ws_write_buffer_size: usize,
    pub(crate) allow_polling: bool,
    pub(crate) allow_websocket: bool,
    pub(crate) shutdown_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            path: "/socket.io/".to_owned(),
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(45),
            upgrade_timeout: Duration::from_secs(10),
            max_payload: 1_000_000,
            allowed_origins: AllowedOrigins::SameOrigin,
            max_connections: 100_000,
            max_queued_packets: 1024,
            ws_read_buffer_size: 1024,
            ws_write_buffer_size: 64 * 1024,
            allow_polling: true,
            allow_websocket: true,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder(Self::default())
    }

    /// The HTTP path the server answers on, always with a trailing `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Interval between server pings.
    pub fn ping_interval(&self) -> Duration {
        self.ping_interval
    }

    /// How long the server waits for a pong.
    pub fn ping_timeout(&self) -> Duration {
        self.ping_timeout
    }

    /// Largest accepted message or polling body, in bytes.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// The allowed origins.
    pub fn allowed_origins(&self) -> &AllowedOrigins {
        &self.allowed_origins
    }
}

/// Builds a [`Config`]. Each method states its default.
#[derive(Debug, Clone)]
pub struct ConfigBuilder(Config);

impl ConfigBuilder {
    /// HTTP path of the Socket.IO endpoint. Default: `/socket.io/`. A missing leading or
    /// trailing `/` is added.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        self.0.path = path;
        self
    }

    /// Interval between heartbeat pings. The first ping is sent one interval after the
    /// handshake. Default: 25 s.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.0.ping_interval = interval;
        self
    }

    /// How long to wait for the pong after a ping before closing with `ping timeout`.
    /// Default: 20 s.
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.0.ping_timeout = timeout;
        self
    }

    /// How long a new connection may take to connect to a namespace before it is closed.
    /// Default: 45 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.0.connect_timeout = timeout;
        self
    }

    /// How long a polling→WebSocket upgrade may take after the probe. Default: 10 s.
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.0.upgrade_timeout = timeout;
        self
    }

    /// Largest WebSocket message or polling request body, in bytes. Over it a polling
    /// request gets HTTP 413 and a WebSocket is closed. Default: 1,000,000.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.0.max_payload = bytes;
        self
    }

    /// Origins allowed to connect. Default: [`AllowedOrigins::SameOrigin`].
    pub fn allowed_origins(mut self, origins: AllowedOrigins) -> Self {
        self.0.allowed_origins = origins;
        self
    }

    /// Most TCP connections open at once; more are closed as soon as accepted.
    /// Default: 100,000.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.0.max_connections = max.max(1);
        self
    }

    /// Most packets waiting to be written to one client. A client whose queue is full is
    /// disconnected (reason `client too slow`) so it cannot make the server buffer without
    /// bound. Default: 1024.
    pub fn max_queued_packets(mut self, max: usize) -> Self {
        self.0.max_queued_packets = max.max(1);
        self
    }

    /// Bytes read from a WebSocket per system call; this buffer is held by every idle
    /// connection, so it dominates per-connection memory. Raise it for clients that send
    /// large messages at high rates. Default: 1024.
    pub fn ws_read_buffer_size(mut self, bytes: usize) -> Self {
        self.0.ws_read_buffer_size = bytes.max(64);
        self
    }

    /// Bytes of queued WebSocket frames gathered before a write; everything queued is
    /// always written in one flush at the end of a batch. Default: 65,536.
    pub fn ws_write_buffer_size(mut self, bytes: usize) -> Self {
        self.0.ws_write_buffer_size = bytes;
        self
    }

    /// Which transports are offered. Default: both. With polling off, clients must
    /// connect with the WebSocket transport directly; with WebSocket off, no upgrade is
    /// offered.
    pub fn transports(mut self, polling: bool, websocket: bool) -> Self {
        self.0.allow_polling = polling;
        self.0.allow_websocket = websocket;
        self
    }

    /// How long a graceful shutdown waits for connections to drain before dropping them.
    /// Default: 10 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.0.shutdown_timeout = timeout;
        self
    }

    /// The finished configuration.
    pub fn build(self) -> Config {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let same = AllowedOrigins::SameOrigin;
        assert!(same.allows("http://127.0.0.1:5000", Some("127.0.0.1:5000")));
        assert!(!same.allows("http://evil.test", Some("127.0.0.1:5000")));
        assert!(!same.allows("http://127.0.0.1:5000", None));
        assert!(AllowedOrigins::Any.allows("http://x", None));
        let list = AllowedOrigins::List(vec!["http://a.test".into()]);
        assert!(list.allows("http://a.test", None));
        assert!(!list.allows("http://b.test", None));
    }

    #[test]
    fn path_is_normalised() {
        assert_eq!(Config::builder().path("io").build().path(), "/io/");
        assert_eq!(Config::default().path(), "/socket.io/");
    }
}
