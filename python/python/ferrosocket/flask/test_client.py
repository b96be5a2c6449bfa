"""``ferrosocket.flask.SocketIOTestClient``: Flask-SocketIO's test client, in process.

Owns: the test client's API and what it records (Flask-SocketIO's ``get_received``
dicts, the last acknowledgement, which namespaces are connected) and re-raising, in the
test, an exception a handler raised for this client. Never: runs handlers or encodes
packets itself. It drives a native in-memory client of the real server
(``Server.local_client``): its packets go through the same Socket.IO layer, rooms and
broadcasts as a network client's, without a port, and each call returns once the
handlers for what it sent have run.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import flask
from flask.testing import EnvironBuilder
from werkzeug.datastructures import EnvironHeaders

if TYPE_CHECKING:
    from ferrosocket._native import LocalClient
    from ferrosocket.flask._socketio import SocketIO

__all__ = ["SocketIOTestClient"]

# How long one call waits for the server's handlers (a handler that blocks longer makes
# the call fail with TimeoutError rather than hang the test suite).
_TIMEOUT = 30.0


class SocketIOTestClient:
    """A Socket.IO client for tests, connected at creation to ``namespace`` (default
    ``'/'``), as Flask-SocketIO's: ``query_string`` and ``headers`` shape the
    connection's request (``request.args``, ``request.headers``), ``auth`` is the
    connect handler's argument, and ``flask_test_client`` (a ``app.test_client()``)
    lends its cookies, so the Flask session (and Flask-Login's user) of HTTP requests
    made with it is the handlers' session too.

    Calls return after the server ran the handlers for what they sent. An exception a
    handler raised for this client (not handled by an ``on_error`` handler), or an
    acknowledgement that cannot be sent, is raised by the call that caused it.
    """

    #: Every live test client by ``eio_sid`` (Flask-SocketIO's class attribute).
    clients: Dict[str, "SocketIOTestClient"] = {}

    def __init__(
        self,
        app: flask.Flask,
        socketio: "SocketIO",
        namespace: Optional[str] = None,
        query_string: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        auth: Any = None,
        flask_test_client: Any = None,
    ) -> None:
        self.app = app
        self.socketio = socketio
        self.flask_test_client = flask_test_client
        self.connected: Dict[str, bool] = {}
        self.queue: List[Dict[str, Any]] = []
        self.acks: Optional[Dict[str, Any]] = None
        self.callback_counter = 0
        self._local: Optional["LocalClient"] = None
        self._errors: List[BaseException] = []
        self._errors_lock = threading.Lock()
        self.eio_sid: Optional[str] = None
        self.connect(namespace=namespace, query_string=query_string, headers=headers, auth=auth)

    # -- what the server's side hands over ---------------------------------------------

    def _failed(self, error: BaseException) -> None:
        """Called on a handler thread with an exception raised for this client."""
        with self._errors_lock:
            self._errors.append(error)

    def _raise_failure(self) -> None:
        with self._errors_lock:
            errors, self._errors = self._errors, []
        if errors:
            raise errors[0]

    def _pump(self) -> None:
        """Moves what the server sent into :attr:`queue`, :attr:`acks` and
        :attr:`connected`."""
        if self._local is None:
            return
        for namespace, kind, data, _id in self._local.received():
            if kind == "event":
                name = data[0]
                if name in ("message", "json"):
                    args: Any = data[1] if len(data) > 1 else None
                else:
                    args = list(data[1:])
                self.queue.append({"name": name, "args": args, "namespace": namespace})
            elif kind == "ack":
                self.acks = {"args": list(data), "namespace": namespace}
            elif kind in ("disconnect", "connect_error"):
                self.connected[namespace] = False

    # -- Flask-SocketIO's API ------------------------------------------------------------

    def is_connected(self, namespace: Optional[str] = None) -> bool:
        """Whether ``namespace`` (default ``'/'``) is connected."""
        self._pump()
        return self.connected.get(namespace or "/", False)

    def connect(
        self,
        namespace: Optional[str] = None,
        query_string: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        auth: Any = None,
    ) -> None:
        """Connects to ``namespace`` (done at creation for the first one). The query
        string and headers shape the connection's request; a client already connected
        to another namespace keeps the request it connected with (one connection)."""
        namespace = namespace or "/"
        local = self._local_client(query_string, headers)
        try:
            connected = local.connect(namespace, auth, _TIMEOUT)
        finally:
            self._pump()
        self._raise_failure()
        if connected:
            self.connected[namespace] = True

    def _local_client(
        self, query_string: Optional[str], headers: Optional[Dict[str, str]]
    ) -> "LocalClient":
        if self._local is not None and any(self.connected.values()):
            return self._local
        if self._local is not None:
            self._local.close()
        url = "/socket.io/"
        if query_string:
            url += query_string if query_string.startswith("?") else "?" + query_string
        if self.flask_test_client is not None:
            request = self.flask_test_client._request_from_builder_args(
                args=(), kwargs={"path": url, "headers": headers}
            )
            environ = request.environ
            self.flask_test_client._add_cookies_to_wsgi(environ)
        else:
            environ = EnvironBuilder(self.app, path=url, headers=headers).get_environ()
        target = _engine_target(environ)
        header_list = [(name.lower(), value) for name, value in EnvironHeaders(environ)]
        remote = f"{environ.get('REMOTE_ADDR') or '127.0.0.1'}:0"
        server = self.socketio._require_server()
        local: "LocalClient" = server._native.local_client(target, header_list, remote)
        self._local = local
        if self.eio_sid is not None:
            self.clients.pop(self.eio_sid, None)
        self.eio_sid = local.eio_sid
        self.clients[local.eio_sid] = self
        self.socketio._test_clients[local.eio_sid] = self
        return local

    def disconnect(self, namespace: Optional[str] = None) -> None:
        """Disconnects from ``namespace``; ``RuntimeError`` when not connected."""
        if not self.is_connected(namespace):
            raise RuntimeError("not connected")
        namespace = namespace or "/"
        assert self._local is not None
        try:
            self._local.disconnect(namespace, _TIMEOUT)
        finally:
            self._pump()
        self.connected.pop(namespace, None)
        self._raise_failure()

    def emit(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Emits ``event`` with ``args``; with ``callback=True`` returns the server's
        acknowledgement (its one value, or the list of its values). ``namespace``
        defaults to ``'/'``; ``RuntimeError`` when not connected."""
        namespace = kwargs.pop("namespace", None)
        if not self.is_connected(namespace):
            raise RuntimeError("not connected")
        callback = bool(kwargs.pop("callback", False))
        if callback:
            self.callback_counter += 1
        assert self._local is not None
        try:
            reply = self._local.emit(namespace or "/", event, list(args), callback, _TIMEOUT)
        finally:
            self._pump()
        self._raise_failure()
        if reply is not None:
            self.acks = {"args": list(reply), "namespace": namespace or "/"}
        if self.acks is not None:
            ack, self.acks = self.acks, None
            values = ack["args"]
            return values[0] if len(values) == 1 else values
        return None

    def send(
        self,
        data: Any,
        json: bool = False,
        callback: bool = False,
        namespace: Optional[str] = None,
    ) -> Any:
        """Sends a ``message`` event (``json=True``: a ``json`` event)."""
        return self.emit("json" if json else "message", data, callback=callback, namespace=namespace)

    def get_received(self, namespace: Optional[str] = None) -> List[Dict[str, Any]]:
        """The events the server sent to ``namespace`` since the last call, as
        ``{'name': ..., 'args': [...], 'namespace': ...}`` (``args`` is the one value for
        ``message`` and ``json`` events); ``RuntimeError`` when not connected."""
        if not self.is_connected(namespace):
            raise RuntimeError("not connected")
        namespace = namespace or "/"
        received = [packet for packet in self.queue if packet["namespace"] == namespace]
        self.queue = [packet for packet in self.queue if packet["namespace"] != namespace]
        return received

    def __del__(self) -> None:
        local = getattr(self, "_local", None)
        if local is not None:
            try:
                local.close()
            except Exception:  # the server may be gone already
                pass


def _engine_target(environ: Dict[str, Any]) -> str:
    """The handshake's request target: the Socket.IO path with the test's query string
    only (no ``EIO``/``transport``, as Flask-SocketIO's test client builds it, so
    ``request.args`` holds what the test passed)."""
    query = str(environ.get("QUERY_STRING") or "")
    return "/socket.io/?" + query if query else "/socket.io/"
