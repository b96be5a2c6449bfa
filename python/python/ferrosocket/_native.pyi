"""Private native module of ferrosocket (PyO3). Use ``ferrosocket.Server``."""

from typing import Any, Callable, List, Optional, Sequence, Union, final

__all__ = ["Server", "forward_logs", "close_logs"]

def forward_logs(level: int) -> None: ...
def close_logs() -> None: ...

_Rooms = Union[str, Sequence[str], None]

@final
class Server:
    def __new__(
        cls,
        cors_allowed_origins: Union[str, Sequence[str], None] = None,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        max_http_buffer_size: int = 1000000,
        connect_timeout: float = 45.0,
        path: str = "socket.io",
        handler_threads: int = 64,
        max_connections: Optional[int] = None,
        max_queued_packets: int = 1024,
        min_handler_threads: int = 4,
        handler_idle_timeout: float = 30.0,
        max_queued_bytes: int = 4194304,
        max_queue_age: float = 20.0,
        header_timeout: float = 30.0,
        body_timeout: float = 20.0,
        allowed_hosts: Optional[Sequence[str]] = None,
    ) -> "Server": ...
    def register(
        self, kind: str, namespace: str, event: str, handler: Callable[..., Any]
    ) -> None: ...
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
    def start(self, host: str, port: int) -> int: ...
    def stop(self) -> None: ...
    @property
    def port(self) -> Optional[int]: ...
    @property
    def stopped(self) -> bool: ...
