"""Private native module of ferrosocket (PyO3). Use ``ferrosocket.Server``."""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, final

__all__ = [
    "Server",
    "Instrumentation",
    "LocalClient",
    "RedisEmitter",
    "check_payload",
    "Defaults",
    "DEFAULTS",
    "__version__",
    "namespace_name",
    "forward_logs",
    "close_logs",
]

__version__: str

def forward_logs(level: int) -> None: ...
def close_logs() -> None: ...
def namespace_name(name: str) -> str: ...
def check_payload(value: Any) -> None:
    """Raise the TypeError/ValueError ``Server.emit`` would raise for ``value``."""

@final
class Defaults:
    """The core's default for each option ``ferrosocket.Server`` takes."""

    @property
    def ping_interval(self) -> float: ...
    @property
    def ping_timeout(self) -> float: ...
    @property
    def max_http_buffer_size(self) -> int: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def path(self) -> str: ...
    @property
    def handler_threads(self) -> int: ...
    @property
    def min_handler_threads(self) -> int: ...
    @property
    def handler_idle_timeout(self) -> float: ...
    @property
    def max_queued_packets(self) -> int: ...
    @property
    def max_queued_bytes(self) -> int: ...
    @property
    def max_queue_age(self) -> float: ...
    @property
    def header_timeout(self) -> float: ...
    @property
    def body_timeout(self) -> float: ...
    @property
    def max_dynamic_namespaces(self) -> int: ...

DEFAULTS: Defaults

_Rooms = Union[str, Sequence[str], None]

@final
class Server:
    def __new__(
        cls,
        cors_allowed_origins: Union[str, Sequence[str], None] = None,
        ping_interval: Optional[float] = None,
        ping_timeout: Optional[float] = None,
        max_http_buffer_size: Optional[int] = None,
        connect_timeout: Optional[float] = None,
        path: Optional[str] = None,
        handler_threads: Optional[int] = None,
        max_connections: Optional[int] = None,
        max_queued_packets: Optional[int] = None,
        min_handler_threads: Optional[int] = None,
        handler_idle_timeout: Optional[float] = None,
        max_queued_bytes: Optional[int] = None,
        max_queue_age: Optional[float] = None,
        header_timeout: Optional[float] = None,
        body_timeout: Optional[float] = None,
        allowed_hosts: Optional[Sequence[str]] = None,
        transports: Union[str, Sequence[str], None] = None,
        allow_upgrades: Optional[bool] = None,
        cookie: Union[str, Dict[str, Union[str, bool, int]], None] = None,
        always_connect: Optional[bool] = None,
        namespaces: Union[str, Sequence[str], None] = None,
        max_dynamic_namespaces: Optional[int] = None,
        redis: Optional[Tuple[str, Optional[str], str, bool]] = None,
    ) -> "Server": ...
    def on_connect(self, namespace: str, handler: Callable[..., Any]) -> None: ...
    def on_disconnect(self, namespace: str, handler: Callable[..., Any]) -> None: ...
    def on_event(self, namespace: str, event: str, handler: Callable[..., Any]) -> None: ...
    def on_any(self, namespace: str, handler: Callable[..., Any]) -> None: ...
    def emit(
        self,
        event: str,
        data: Any = None,
        to: _Rooms = None,
        room: _Rooms = None,
        skip_sid: _Rooms = None,
        namespace: Optional[str] = None,
        callback: Optional[Callable[..., Any]] = None,
    ) -> None: ...
    def call(
        self,
        event: str,
        data: Any = None,
        to: Optional[str] = None,
        namespace: Optional[str] = None,
        timeout: float = 60.0,
    ) -> Any: ...
    def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None: ...
    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None: ...
    def close_room(self, room: str, namespace: Optional[str] = None) -> None: ...
    def rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]: ...
    def participants(
        self, room: Optional[str] = None, namespace: Optional[str] = None
    ) -> List[str]: ...
    def disconnect(
        self, sid: str, namespace: Optional[str] = None, close_connection: bool = False
    ) -> None: ...
    def redis_stats(self) -> Optional[Dict[str, int]]:
        """The Redis adapter's counters, or None when the server is not in a fleet."""
    def server_count(self) -> int:
        """How many servers share this one's rooms (1 when it is not in a fleet)."""
    def metrics(self) -> Dict[str, Any]:
        """The server's counters now, as a dict (see ferrosocket.Server.metrics)."""
    def prometheus(self) -> str:
        """The Prometheus text format of every counter (what /metrics answers)."""
    def start_metrics(self, host: str, port: int) -> int:
        """Serves GET /metrics on host:port, a listener of its own (port 0 picks a free
        port); returns the bound port. Errors as `start`."""
    def serve_dir(self, path: str) -> None: ...
    def mount_wsgi(
        self,
        app: Callable[..., Any],
        *,
        access_log: bool = False,
        max_body: int = ...,
        url_scheme: str = "http",
    ) -> None:
        """Serves the WSGI app (PEP 3333; a Flask app) to every HTTP request outside the
        Socket.IO path, on this server's port; calling it again replaces the app.

        ``access_log``: one line per request on the ``ferrosocket.access`` logger at
        INFO (Common Log Format plus the duration in seconds). ``max_body``: the largest
        request body in bytes (100 MiB); a larger ``Content-Length`` gets 413 without
        calling the app, a chunked body past it makes ``wsgi.input`` raise ``OSError``
        (answer 413 if the response has not started). Flask's ``MAX_CONTENT_LENGTH`` is
        the app's own, lower limit. ``url_scheme``: ``wsgi.url_scheme``, ``"http"`` or
        ``"https"``.
        """
    def start(self, host: str, port: int) -> int: ...
    def stop(self) -> None: ...
    def instrument(
        self,
        auth: Union[None, List[Any], Callable[[Any], Any]],
        development: bool,
        read_only: bool,
        server_id: Optional[str],
        namespace: str,
        server_stats_interval: float,
    ) -> "Instrumentation":
        """Serves the Admin UI's namespace: ``auth`` None (anyone), a list of JSON values
        one of which the client's auth must equal, or a callable (run on a handler
        thread) given the client's auth. ``RuntimeError`` when already instrumented,
        ``ValueError`` for an interval under 0.1 s or the namespace ``/``."""
    def local_client(
        self,
        target: str = "/socket.io/?EIO=4&transport=polling",
        headers: Optional[Sequence[Tuple[str, str]]] = None,
        remote_addr: str = "127.0.0.1:0",
    ) -> "LocalClient": ...
    @property
    def port(self) -> Optional[int]: ...
    @property
    def stopped(self) -> bool: ...

@final
class Instrumentation:
    """A running Admin UI instrumentation (``Server.instrument``)."""

    def shutdown(self) -> None:
        """Stops the stats and live events and disconnects the admin clients."""
    @property
    def namespace(self) -> str: ...

@final
class RedisEmitter:
    """A write-only member of a Redis fleet (``RedisManager(write_only=True)``)."""

    def __new__(
        cls,
        url: str,
        channel: Optional[str] = None,
        format: str = ...,
        cluster: bool = False,
    ) -> "RedisEmitter": ...
    def wait_connected(self, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds for the connection; True once it is up."""
    def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        to: List[str],
        skip_sid: List[str],
    ) -> None:
        """Publishes an emit (waits up to 5 s for the connection; ConnectionError)."""
    def close_room(self, room: str, namespace: str) -> None: ...
    def enter_room(self, sid: str, room: str, namespace: str) -> None: ...
    def leave_room(self, sid: str, room: str, namespace: str) -> None: ...
    def disconnect(self, sid: str, namespace: str) -> None: ...
    def close(self) -> None: ...

#: One item of ``LocalClient.received()``: (namespace, kind, data, ack id or None).
_Received = Tuple[str, str, Any, Optional[int]]

@final
class LocalClient:
    """An in-process client of a ``Server``, no network (ferrosocket.flask's test client)."""

    @property
    def eio_sid(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def sid(self, namespace: str = "/") -> Optional[str]: ...
    def connect(
        self, namespace: str = "/", auth: Optional[Any] = None, timeout: float = 5.0
    ) -> bool: ...
    def emit(
        self,
        namespace: str,
        event: str,
        args: Optional[Sequence[Any]] = None,
        ack: bool = False,
        timeout: float = 5.0,
    ) -> Optional[List[Any]]: ...
    def ack(
        self,
        namespace: str,
        id: int,
        args: Optional[Sequence[Any]] = None,
        timeout: float = 5.0,
    ) -> None: ...
    def disconnect(self, namespace: str = "/", timeout: float = 5.0) -> None: ...
    def received(self) -> List[_Received]: ...
    def settle(self, timeout: float = 5.0) -> None: ...
    def close(self, timeout: float = 5.0) -> None: ...
