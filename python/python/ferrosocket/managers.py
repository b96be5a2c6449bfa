"""Scale-out over Redis: :class:`RedisManager`, python-socketio's name for a server's
connection to a fleet that shares rooms and broadcasts through Redis pub/sub.

    mgr = ferrosocket.RedisManager("redis://localhost:6379/0")
    sio = ferrosocket.Server(client_manager=mgr)

With ``write_only=True`` it is an emitter: a process that serves no client (a worker,
a script) emits to the fleet's clients with :meth:`RedisManager.emit`.

The Redis connection is made and kept by the server's own threads (in Rust): a Redis
that is down at start is retried with backoff while the server delivers to its own
clients, and a restarted Redis is reconnected to. Delivery across servers is at most
once: what is published while Redis is unreachable is lost, and counted
(:meth:`ferrosocket.Server.redis_stats`).
"""

from __future__ import annotations

import threading
from typing import Any, List, Optional, Tuple, Union

from ferrosocket import _native

#: The wire formats: ``"python-socketio"`` (python-socketio >= 5.15.1 and
#: Flask-SocketIO servers and emitters, JSON on one channel) and ``"socket.io"`` (node
#: socket.io's ``@socket.io/redis-adapter`` and ``@socket.io/redis-emitter``).
FORMATS = ("python-socketio", "socket.io")

Rooms = Union[str, List[str], Tuple[str, ...], None]


def _list(value: Rooms) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class RedisManager:
    """A server's membership of a Redis fleet (give it to
    ``Server(client_manager=...)``), or with ``write_only=True`` an emitter.

    ``url``: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS),
    ``unix:///path/to/socket``, ``valkey://``, ``valkeys://``. ``channel``: the pub/sub
    channel (python-socketio's format; Flask-SocketIO's default is
    ``"flask-socketio"``), or the key prefix (node's format, default ``"socket.io"``).
    ``format``: ``"python-socketio"`` (the default here: python-socketio's own servers
    and emitters speak it) or ``"socket.io"``. ``cluster=True``: a Redis Cluster with
    sharded pub/sub (``SPUBLISH``/``SSUBSCRIBE``), ``url`` naming one node.
    ``logger`` and ``redis_options`` (python-socketio's) are accepted and ignored: the
    connection is made in Rust, its messages go to the ``ferrosocket`` logger.

    Pickled messages (what python-socketio < 5.14 published) are never unpickled:
    they are dropped, counted and warned about.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: Optional[str] = None,
        write_only: bool = False,
        logger: Any = None,
        redis_options: Any = None,
        *,
        format: str = "python-socketio",
        cluster: bool = False,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {format!r}")
        if channel is None:
            channel = "socketio" if format == "python-socketio" else "socket.io"
        self.url = url
        self.channel = channel
        self.write_only = bool(write_only)
        self.format = format
        self.cluster = bool(cluster)
        self._emitter: Optional[_native.RedisEmitter] = None
        self._lock = threading.Lock()
        del logger, redis_options

    def _spec(self) -> Tuple[str, Optional[str], str, bool]:
        """What the native server takes as ``redis=``."""
        return (self.url, self.channel, self.format, self.cluster)

    def _native_emitter(self) -> _native.RedisEmitter:
        with self._lock:
            if self._emitter is None:
                self._emitter = _native.RedisEmitter(
                    self.url, self.channel, self.format, self.cluster
                )
            return self._emitter

    def emit(
        self,
        event: str,
        data: Any = None,
        namespace: Optional[str] = None,
        room: Rooms = None,
        skip_sid: Rooms = None,
        callback: Any = None,
        to: Rooms = None,
        **kwargs: Any,
    ) -> None:
        """Emits ``event`` to the fleet's clients in ``namespace`` (default ``'/'``):
        to ``to``/``room`` (a sid or a room, or a list), minus ``skip_sid``. A tuple
        ``data`` is several arguments. The first emit waits (up to 5 s) for the
        connection; :class:`ConnectionError` when Redis cannot be reached. Only for a
        ``write_only`` manager: a server's emits go through ``Server.emit``."""
        if callback is not None:
            raise RuntimeError("Callbacks can only be issued from the context of a server.")
        self._native_emitter().emit(
            event, data, namespace or "/", _list(to or room), _list(skip_sid)
        )

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Takes every client of the fleet out of ``room``."""
        self._native_emitter().close_room(room, namespace or "/")

    def enter_room(self, sid: str, namespace: Optional[str], room: str) -> None:
        """Makes the client ``sid`` (on whichever server holds it) join ``room``."""
        self._native_emitter().enter_room(sid, room, namespace or "/")

    def leave_room(self, sid: str, namespace: Optional[str], room: str) -> None:
        """Makes the client ``sid`` leave ``room``."""
        self._native_emitter().leave_room(sid, room, namespace or "/")

    def disconnect(self, sid: str, namespace: Optional[str] = None, **kwargs: Any) -> None:
        """Disconnects the client ``sid`` (on whichever server holds it)."""
        self._native_emitter().disconnect(sid, namespace or "/")

    def close(self) -> None:
        """Closes the emitter's connection (a server's closes with the server)."""
        with self._lock:
            if self._emitter is not None:
                self._emitter.close()
                self._emitter = None

    def __repr__(self) -> str:
        mode = ", write_only=True" if self.write_only else ""
        return f"RedisManager({self.url!r}, channel={self.channel!r}, format={self.format!r}{mode})"
