"""Private native module of ferrosocket (PyO3). Use ``ferrosocket.Server``."""

from typing import Any, Callable, List, Optional, Sequence, Union, final

__all__ = [
    "Server",
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
    @property
    def port(self) -> Optional[int]: ...
    @property
    def stopped(self) -> bool: ...
