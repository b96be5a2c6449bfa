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
    /// Whether `origin` may connect to a server reached as `site`: the scheme and
    /// `Host` the request came in with (see [`Site`]).
    ///
    /// Same origin means the same scheme, host and port (RFC 6454), a missing port being
    /// the scheme's default: `https://host` is not the same origin as an `http` server
    /// on `host`.
    pub fn allows(&self, origin: &str, site: &Site<'_>) -> bool {
        match self {
            Self::Any => true,
            Self::List(list) => list.iter().any(|allowed| allowed == origin),
            Self::SameOrigin => {
                let Some(origin) = Authority::of_origin(origin) else {
                    return false;
                };
                site.candidates()
                    .any(|(scheme, host)| Authority::of_host(scheme, host) == Some(origin))
            }
        }
    }
}

/// Where a request was sent, as a same-origin check sees it: the scheme the server
/// speaks (`http`: the core has no TLS of its own), the `Host` header, and what a
/// reverse proxy in front says of the client's request (`X-Forwarded-Proto`,
/// `X-Forwarded-Host`, first value each). An origin matching either the direct or the
/// forwarded view is the same origin, as python-engineio counts it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Site<'a> {
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// The scheme of the connection the server accepted: `http`.
    pub scheme: &'a str,
    /// `X-Forwarded-Proto`, if present.
    pub forwarded_proto: Option<&'a str>,
    /// `X-Forwarded-Host`, if present.
    pub forwarded_host: Option<&'a str>,
}

impl<'a> Site<'a> {
    /// A request to `host` over plain HTTP, with no proxy headers.
    pub fn http(host: Option<&'a str>) -> Self {
        Self {
            host,
            scheme: "http",
            ..Self::default()
        }
    }

    fn candidates(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        let first = |v: &'a str| v.split(',').next().unwrap_or("").trim();
        let direct = self.host.map(|host| (self.scheme, host));
        let forwarded = (self.forwarded_proto.is_some() || self.forwarded_host.is_some())
            .then(|| {
                let scheme = self.forwarded_proto.map_or(self.scheme, first);
                self.forwarded_host
                    .map(first)
                    .or(self.host)
                    .map(|h| (scheme, h))
            })
            .flatten();
        direct.into_iter().chain(forwarded)
    }
}

/// Scheme, host and port of an origin or a `Host` header, compared case-insensitively.
#[derive(Debug, Clone, Copy)]
struct Authority<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
}

impl PartialEq for Authority<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.scheme.eq_ignore_ascii_case(other.scheme)
            && self.host.eq_ignore_ascii_case(other.host)
            && self.port == other.port
    }
}

impl<'a> Authority<'a> {
    /// `scheme://host[:port]`, nothing after it.
    fn of_origin(origin: &'a str) -> Option<Self> {
        let (scheme, rest) = origin.split_once("://")?;
        Self::of_host(scheme, rest)
    }

    /// `host[:port]` reached with `scheme`; the port defaults to the scheme's.
    fn of_host(scheme: &'a str, authority: &'a str) -> Option<Self> {
        let (host, port) = split_host_port(authority)?;
        let default = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => Some(80),
            "https" | "wss" => Some(443),
            _ => None,
        };
        Some(Self {
            scheme: match scheme {
                s if s.eq_ignore_ascii_case("ws") => "http",
                s if s.eq_ignore_ascii_case("wss") => "https",
                s => s,
            },
            host,
            port: port.or(default),
        })
    }
}

/// Splits `host[:port]` (`[v6]:port` for IPv6); `None` when the text is not one.
pub(crate) fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (v6, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    Some((host, port))
}

/// Which `Host` header values the server answers, against DNS rebinding (a page on an
/// attacker's domain that resolves to this server's address talks to it as the same
/// origin). Set with [`ConfigBuilder::allowed_hosts`]; by default every host is served.
///
/// An entry is a host name or address without a port (`example.com`, `127.0.0.1`,
/// `::1`), `.example.com` for that domain and every subdomain, or `*` for any. A
/// request whose `Host` matches none (or has none) gets `400 Bad Request` before it
/// reaches the Socket.IO endpoint or the fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    /// The hosts in `list` (see the type's docs for the forms).
    pub fn new<I, S>(list: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(
            list.into_iter()
                .map(|h| h.into().trim().to_ascii_lowercase())
                .collect(),
        )
    }

    /// Whether a request with this `Host` header is served.
    pub fn allows(&self, host: Option<&str>) -> bool {
        let Some((host, _)) = host.and_then(split_host_port) else {
            return false;
        };
        let host = host.trim_end_matches('.');
        self.0.iter().any(|allowed| {
            if allowed == "*" {
                return true;
            }
            match allowed.strip_prefix('.') {
                Some(domain) => {
                    host.eq_ignore_ascii_case(domain)
                        || (host.len() > domain.len() + 1
                            && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
                            && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain))
                }
                None => {
                    host.eq_ignore_ascii_case(allowed.trim_start_matches('[').trim_end_matches(']'))
                }
            }
        })
    }
}

/// The cookie the polling handshake sets with the Engine.IO session id (python-engineio's
/// `cookie` option), for sticky sessions behind a load balancer. Set with
/// [`ConfigBuilder::cookie`]; by default no cookie is sent.
///
/// The header is `name=<sid>` followed by each attribute in the order added:
/// `; Name=value` for [`attribute`](Self::attribute), `; Name` for [`flag`](Self::flag).
/// [`SidCookie::named`] is python-engineio's cookie for a name given as a string.
///
/// ```
/// use ferrosocket::SidCookie;
/// let cookie = SidCookie::new("io").attribute("path", "/").flag("HttpOnly");
/// assert_eq!(cookie.header("abc"), "io=abc; path=/; HttpOnly");
/// assert_eq!(SidCookie::named("io").header("abc"), "io=abc; path=/; SameSite=Lax");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidCookie {
    name: String,
    /// `(name, None)` is a flag, `(name, Some(value))` an attribute with a value.
    attributes: Vec<(String, Option<String>)>,
}

impl SidCookie {
    /// A cookie called `name` with no attributes.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            attributes: Vec::new(),
        }
    }

    /// python-engineio's cookie for `cookie="name"`: `path=/` and `SameSite=Lax`.
    pub fn named(name: impl Into<String>) -> Self {
        Self::new(name)
            .attribute("path", "/")
            .attribute("SameSite", "Lax")
    }

    /// Adds `; name=value`.
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((name.into(), Some(value.into())));
        self
    }

    /// Adds `; name` (an attribute without a value, such as `Secure` or `HttpOnly`).
    pub fn flag(mut self, name: impl Into<String>) -> Self {
        self.attributes.push((name.into(), None));
        self
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `Set-Cookie` header value for session `sid`.
    pub fn header(&self, sid: &str) -> String {
        let mut out = format!("{}={sid}", self.name);
        for (name, value) in &self.attributes {
            out.push_str("; ");
            out.push_str(name);
            if let Some(value) = value {
                out.push('=');
                out.push_str(value);
            }
        }
        out
    }

    /// Whether the header is one HTTP allows: visible ASCII and spaces only (no control
    /// characters, so no header can be smuggled in), and a name that is not empty and
    /// holds no `=`, `;` or space. A cookie that is not valid is never sent.
    pub fn is_valid(&self) -> bool {
        let visible = |text: &str| text.bytes().all(|b| (0x20..0x7f).contains(&b));
        let token =
            |text: &str| !text.is_empty() && visible(text) && !text.contains(['=', ';', ' ', ',']);
        token(&self.name)
            && self.attributes.iter().all(|(name, value)| {
                token(name)
                    && value
                        .as_deref()
                        .is_none_or(|v| visible(v) && !v.contains(';'))
            })
    }
}

/// Which namespaces a client may connect to besides those the application created
/// (python-socketio's `namespaces` option). Set with [`ConfigBuilder::namespaces`].
///
/// A namespace accepted this way that nobody created is made on the first CONNECT to
/// it; the handlers of the catch-all namespace `"*"` (`server.of("*")`) serve it, and
/// the application's own namespaces for the events they have no handler of their own.
/// It is removed again when its last client leaves (python-socketio drops its state the
/// same way), and at most [`ConfigBuilder::max_dynamic_namespaces`] exist at once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AcceptNamespaces {
    /// Only namespaces created by the application ([`Server::of`](crate::Server::of),
    /// handlers registered there, `/` always); others are refused with
    /// `Invalid namespace` (the default).
    #[default]
    Created,
    /// Any namespace (python-socketio's `namespaces='*'`).
    Any,
    /// These too (spelled with or without the leading `/`).
    Listed(Vec<String>),
}

impl AcceptNamespaces {
    /// Whether a CONNECT to `name` (a client's spelling, with its `/`), which nobody
    /// created, is accepted. The catch-all `/*` itself never is.
    pub fn accepts(&self, name: &str) -> bool {
        if name == "/*" {
            return false;
        }
        match self {
            Self::Created => false,
            Self::Any => true,
            Self::Listed(names) => names.iter().any(|n| n == name),
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
    pub(crate) allowed_hosts: Option<AllowedHosts>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) max_queued_packets: usize,
    pub(crate) max_queued_bytes: usize,
    pub(crate) max_queue_age: Duration,
    pub(crate) ws_read_buffer_size: usize,
    pub(crate) ws_write_buffer_size: usize,
    pub(crate) allow_polling: bool,
    pub(crate) allow_websocket: bool,
    pub(crate) allow_upgrades: bool,
    pub(crate) cookie: Option<SidCookie>,
    pub(crate) always_connect: bool,
    pub(crate) namespaces: AcceptNamespaces,
    pub(crate) max_dynamic_namespaces: usize,
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
            allowed_hosts: None,
            max_connections: None,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(20),
            max_queued_packets: 1024,
            max_queued_bytes: 4 * 1024 * 1024,
            max_queue_age: Duration::from_secs(20),
            ws_read_buffer_size: 1024,
            ws_write_buffer_size: 64 * 1024,
            allow_polling: true,
            allow_websocket: true,
            allow_upgrades: true,
            cookie: None,
            always_connect: false,
            namespaces: AcceptNamespaces::Created,
            max_dynamic_namespaces: 1000,
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

    /// How long a new connection may take to connect to a namespace before it is closed.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// How long a request's headers may take to arrive.
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }

    /// How long a long-polling POST body may take to arrive.
    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    /// Most packets queued for one client before it is disconnected as too slow.
    pub fn max_queued_packets(&self) -> usize {
        self.max_queued_packets
    }

    /// Most bytes queued for one client before it is disconnected as too slow.
    pub fn max_queued_bytes(&self) -> usize {
        self.max_queued_bytes
    }

    /// Oldest a client's queued packet may get before it is disconnected as too slow.
    pub fn max_queue_age(&self) -> Duration {
        self.max_queue_age
    }

    /// Most namespaces made on a client's CONNECT that exist at once (see
    /// [`ConfigBuilder::max_dynamic_namespaces`]).
    pub fn max_dynamic_namespaces(&self) -> usize {
        self.max_dynamic_namespaces
    }

    /// The most TCP connections served at once: the configured value, or the default
    /// derived from the open-file limit (see [`ConfigBuilder::max_connections`]).
    pub fn max_connections(&self) -> usize {
        self.max_connections.unwrap_or_else(default_max_connections)
    }
}

/// The default `max_connections`: the soft open-file limit less a tenth (at least 32).
fn default_max_connections() -> usize {
    match open_file_limit() {
        Some(limit) => limit.saturating_sub((limit / 10).max(32)).max(1),
        None => 100_000,
    }
}

/// The soft `RLIMIT_NOFILE` of this process, `None` when unlimited or unknown.
#[cfg(unix)]
#[allow(unsafe_code)]
fn open_file_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through a pointer to a live, aligned value
    // of that type, and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    usize::try_from(limit.rlim_cur).ok()
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<usize> {
    None
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

    /// Most TCP connections open at once; more are closed as soon as accepted. Each
    /// takes a file descriptor, so a limit above what the process may open would let
    /// idle connections use up the descriptors first: then nothing, not even a refusal,
    /// can be accepted. Default: the process's open-file limit (`RLIMIT_NOFILE`, soft)
    /// less a tenth for the rest of the process (at least 32 kept back), read when the
    /// server starts; 100,000 where that limit cannot be read.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.0.max_connections = Some(max.max(1));
        self
    }

    /// Serve only requests whose `Host` header is in `hosts` (see [`AllowedHosts`]),
    /// against DNS rebinding. Default: every host.
    pub fn allowed_hosts(mut self, hosts: AllowedHosts) -> Self {
        self.0.allowed_hosts = Some(hosts);
        self
    }

    /// How long a client may take to send a request's headers (also the most a
    /// keep-alive connection waits for the next request's headers). Bounds what a
    /// connection that sends nothing, or one byte at a time, holds. Default: 30 s.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.0.header_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a long-polling POST may take to send its body. A body that trickles in
    /// (one byte every few seconds) would hold its connection forever; past this it is
    /// answered `408` and its session closed, and a body whose session closes
    /// meanwhile is ended within a second. Default: 20 s.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.0.body_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Most packets waiting to be written to one client. A client whose queue is full is
    /// disconnected (reason `client too slow`) so it cannot make the server buffer without
    /// bound. Default: 1024.
    pub fn max_queued_packets(mut self, max: usize) -> Self {
        self.0.max_queued_packets = max.max(1);
        self
    }

    /// Most bytes waiting to be written to one client (what its queued packets hold; a
    /// broadcast counts whole for each recipient). A client over it is disconnected
    /// (`client too slow`): one that reads slowly but does read never trips the
    /// stuck-client bound, and without this could hold `max_queued_packets` packets of
    /// up to `max_payload` each. Keep it above the largest packet the server emits: one
    /// packet larger than this disconnects its recipient. At most 4 GiB. Default: 4 MiB.
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.0.max_queued_bytes = bytes.clamp(1, u32::MAX as usize);
        self
    }

    /// Longest a packet may wait in a client's queue: a client whose oldest queued
    /// packet is older when another is queued is disconnected (`client too slow`), so a
    /// member that falls behind is dropped before its backlog grows to the other bounds.
    /// Measured on a coarse clock, to within 50 ms. Default: 20 s.
    pub fn max_queue_age(mut self, age: Duration) -> Self {
        self.0.max_queue_age = age;
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

    /// Whether a long-polling session may upgrade to WebSocket. Off, the open packet
    /// offers no upgrade and a WebSocket that asks to take over a polling session is
    /// accepted and closed at once (as for a session that already upgraded), while
    /// WebSocket connections opened directly still work. python-engineio's
    /// `allow_upgrades`, except that it still lets a client upgrade that tries although
    /// none was offered. Default: `true`.
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.0.allow_upgrades = allow;
        self
    }

    /// The cookie the long-polling handshake response sets with the session id (see
    /// [`SidCookie`]); a WebSocket handshake sets none, as in python-engineio. One that is
    /// not [valid](SidCookie::is_valid) is never sent (logged once per handshake at
    /// warning level). Default: `None`, no cookie.
    pub fn cookie(mut self, cookie: Option<SidCookie>) -> Self {
        self.0.cookie = cookie;
        self
    }

    /// When a namespace CONNECT is acknowledged (python-socketio's `always_connect`).
    /// `false`: after the connect handler accepts; until then what it emits is held and
    /// follows the acknowledgement, and a refusal is a CONNECT_ERROR. `true`: at once,
    /// before the handler runs, so what it emits goes out as it is emitted; a refusal
    /// then disconnects the socket with `41{"message":…,"data":…}` (the client sees a
    /// server disconnect) and the disconnect handler does not run, as in
    /// python-socketio. Default: `false`.
    pub fn always_connect(mut self, always: bool) -> Self {
        self.0.always_connect = always;
        self
    }

    /// Which namespaces clients may connect to besides those the application created
    /// (see [`AcceptNamespaces`]). Default: [`AcceptNamespaces::Created`].
    pub fn namespaces(mut self, namespaces: AcceptNamespaces) -> Self {
        self.0.namespaces = match namespaces {
            AcceptNamespaces::Listed(names) => AcceptNamespaces::Listed(
                // The spelling of `normalize_namespace`, which lives above this module.
                names
                    .into_iter()
                    .map(|n| {
                        if n.starts_with('/') {
                            n
                        } else {
                            format!("/{n}")
                        }
                    })
                    .collect(),
            ),
            other => other,
        };
        self
    }

    /// Most namespaces made on a client's CONNECT (see [`AcceptNamespaces`]) that exist
    /// at once. Each holds its handlers' lookup, its sockets and its rooms; one client
    /// could otherwise connect to any number of names (`namespaces=Any`), each a new
    /// namespace. A CONNECT over the limit is refused with `Too many namespaces` and a
    /// warning; namespaces are made again as others empty. python-socketio has no such
    /// bound. Default: 1000.
    pub fn max_dynamic_namespaces(mut self, max: usize) -> Self {
        self.0.max_dynamic_namespaces = max;
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
        let site = Site::http(Some("127.0.0.1:5000"));
        assert!(same.allows("http://127.0.0.1:5000", &site));
        assert!(!same.allows("http://evil.test", &site));
        assert!(!same.allows("http://127.0.0.1:5000", &Site::http(None)));
        assert!(AllowedOrigins::Any.allows("http://x", &Site::http(None)));
        let list = AllowedOrigins::List(vec!["http://a.test".into()]);
        assert!(list.allows("http://a.test", &Site::http(None)));
        assert!(!list.allows("http://b.test", &Site::http(None)));
    }

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        let same = AllowedOrigins::SameOrigin;
        let plain = Site::http(Some("Example.test"));
        assert!(same.allows("http://example.test", &plain));
        assert!(same.allows("http://example.test:80", &plain));
        assert!(
            !same.allows("https://example.test", &plain),
            "scheme differs"
        );
        assert!(
            !same.allows("http://example.test:8080", &plain),
            "port differs"
        );
        assert!(!same.allows("http://example.test.evil", &plain));
        assert!(!same.allows("example.test", &plain));
        assert!(!same.allows("http://example.test/path", &plain));
        assert!(same.allows("http://[::1]:5000", &Site::http(Some("[::1]:5000"))));
        // Behind a TLS-terminating proxy that says so.
        let proxied = Site {
            forwarded_proto: Some("https, http"),
            ..plain
        };
        assert!(same.allows("https://example.test", &proxied));
        let moved = Site {
            forwarded_host: Some("public.test"),
            forwarded_proto: Some("https"),
            ..plain
        };
        assert!(same.allows("https://public.test", &moved));
        assert!(!same.allows("http://public.test", &moved));
    }

    #[test]
    fn allowed_hosts() {
        let hosts = AllowedHosts::new(["example.test", ".corp.test", "127.0.0.1", "::1"]);
        for ok in [
            "example.test",
            "EXAMPLE.test:5000",
            "corp.test",
            "a.b.corp.test:1",
            "127.0.0.1:5000",
            "[::1]:5000",
            "example.test.",
        ] {
            assert!(hosts.allows(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.test",
            "xcorp.test",
            "example.test.evil",
            "127.0.0.2",
            "",
            "a/b",
            "example.test:99999",
        ] {
            assert!(!hosts.allows(Some(bad)), "{bad}");
        }
        assert!(!hosts.allows(None));
        assert!(AllowedHosts::new(["*"]).allows(Some("anything:1")));
    }

    #[test]
    fn max_connections_defaults_below_the_open_file_limit() {
        let derived = Config::default().max_connections();
        if let Some(limit) = open_file_limit() {
            assert!(derived < limit, "{derived} >= fd limit {limit}");
            assert!(derived >= limit.saturating_sub(limit / 10 + 32).min(limit / 2));
        }
        assert_eq!(
            Config::builder()
                .max_connections(7)
                .build()
                .max_connections(),
            7
        );
    }

    #[test]
    fn path_is_normalised() {
        assert_eq!(Config::builder().path("io").build().path(), "/io/");
        assert_eq!(Config::default().path(), "/socket.io/");
    }
}
