"""Fixtures of the Flask compatibility suite: every test that takes `impl` runs once per
implementation (flask_impl.selected_impls: Flask-SocketIO, the reference, and
ferrosocket.flask), on the same app modules (apps/, loaded by flask_impl.load with only the
import line differing), and must give the same results. Tests that take `transport` run on
polling and on websocket.

Server processes are serve.py under tests/support's ServerProcess, started by the tests'
fixtures and stopped by them; clients are python-socketio's, closed at teardown. This file
holds no test and never imports either implementation directly.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import types
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import requests
import socketio
from ferrosocket_testing import close_client, drain_client_writes, start_command, wait_until

import flask_impl

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")
SERVE = os.path.join(HERE, "serve.py")
TRANSPORTS = ("polling", "websocket")
_names = itertools.count()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "impl" in metafunc.fixturenames:
        metafunc.parametrize("impl", flask_impl.selected_impls(), scope="module")
    if "transport" in metafunc.fixturenames:
        metafunc.parametrize("transport", TRANSPORTS)


def app_path(name: str) -> str:
    return os.path.join(APPS, f"{name}.py")


def load_app(name: str, impl: str) -> types.ModuleType:
    """A fresh in-process copy of apps/<name>.py for `impl` (its own Flask app and
    SocketIO), for the test client."""
    return flask_impl.load(app_path(name), impl, f"{name}_{impl}_{next(_names)}")


class Served:
    """An app module served by serve.py: `url` is its one port (pages and socket)."""

    def __init__(self, path: str, impl: str) -> None:
        self.impl = impl
        self.process = start_command([sys.executable, SERVE, impl, path], startup_timeout=30)
        self.url = self.process.url
        self.http = requests.Session()

    def get(self, route: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.http.get(self.url + route, **kwargs)

    def json(self, route: str, **kwargs: Any) -> Any:
        r = self.get(route, **kwargs)
        assert r.status_code == 200, (route, r.status_code, r.text[:500])
        return r.json()

    def stop(self) -> None:
        self.http.close()
        code, killed = self.process.stop(timeout=10)
        assert not killed and code == 0, (code, self.process.log_tail())

    def log(self) -> str:
        return self.process.log_tail()


def serve_app(name: str) -> Callable[..., Any]:
    """A module-scoped fixture serving apps/<name>.py once per implementation."""

    @pytest.fixture(scope="module")
    def fixture(impl: str) -> Iterator[Served]:
        served = Served(app_path(name), impl)
        yield served
        served.stop()

    return fixture


class Inbox:
    """What a client received, in order, as (namespace, event, args) triples."""

    def __init__(self) -> None:
        self.items: List[Tuple[str, str, List[Any]]] = []
        self.cond = threading.Condition()

    def put(self, item: Tuple[str, str, List[Any]]) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def of(self, event: str, namespace: str = "/") -> List[List[Any]]:
        with self.cond:
            return [args for ns, name, args in self.items if name == event and ns == namespace]

    def wait(self, event: str, count: int = 1, namespace: str = "/",
             timeout: float = 10.0) -> List[List[Any]]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.of(event, namespace)) >= count, timeout):
                raise AssertionError(
                    f"expected {count} {event!r} on {namespace}, got {self.items!r}")
            return self.of(event, namespace)


class Peer:
    """A python-socketio client that records everything it receives (a catch-all per
    namespace) and answers the server's `question` events with `answer:<data>`."""

    def __init__(self, url: str, transport: str, namespaces: Tuple[str, ...] = ("/",),
                 **connect: Any) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.inbox = Inbox()
        self.namespaces = namespaces
        self.errors: List[Tuple[str, Any]] = []
        self.disconnects: List[Tuple[str, Any]] = []
        for ns in namespaces:
            self.sio.on("*", self._recorder(ns), namespace=ns)
            self.sio.on("question", self._answerer(ns), namespace=ns)
            self.sio.on("connect_error", self._error(ns), namespace=ns)
            self.sio.on("disconnect", self._disconnected(ns), namespace=ns)
        self.url = url
        self.transport = transport
        self.connect_kwargs = connect

    def _recorder(self, ns: str) -> Callable[..., None]:
        return lambda event, *args: self.inbox.put((ns, event, list(args)))

    def _answerer(self, ns: str) -> Callable[..., Any]:
        def answer(*args: Any) -> Any:
            self.inbox.put((ns, "question", list(args)))
            return "answer:" + "|".join(str(a) for a in args)
        return answer

    def _error(self, ns: str) -> Callable[..., None]:
        return lambda data=None: self.errors.append((ns, data))

    def _disconnected(self, ns: str) -> Callable[..., None]:
        return lambda reason=None: self.disconnects.append((ns, reason))

    def connect(self, url: Optional[str] = None) -> "Peer":
        self.sio.connect(url or self.url, transports=[self.transport],
                         namespaces=list(self.namespaces), wait_timeout=10,
                         **self.connect_kwargs)
        return self

    def sid(self, namespace: str = "/") -> str:
        sid = self.sio.get_sid(namespace)
        assert sid is not None
        return sid

    def call(self, event: str, *args: Any, namespace: str = "/") -> Any:
        # python-socketio sends a tuple as several arguments.
        data = args[0] if len(args) == 1 else (tuple(args) if args else None)
        return self.sio.call(event, data, namespace=namespace, timeout=10)

    def sync(self, namespace: str = "/") -> None:
        """Returns once everything the server sent this client before handling a `sync`
        event has arrived: the app's `sync` handler emits `synced` with the token back, and
        one connection keeps its order."""
        token = uuid.uuid4().hex
        self.sio.emit("sync", token, namespace=namespace)
        wait_until(lambda: [token] in self.inbox.of("synced", namespace),
                   what=f"synced {token}", timeout=10)

    def close(self) -> None:
        drain_client_writes(self.sio)
        close_client(self.sio)


class Peers:
    def __init__(self, url: str, transport: str) -> None:
        self.url = url
        self.transport = transport
        self.made: List[Peer] = []

    def new(self, query: str = "", namespaces: Tuple[str, ...] = ("/",), connect: bool = True,
            **kwargs: Any) -> Peer:
        peer = Peer(self.url + query, self.transport, namespaces, **kwargs)
        self.made.append(peer)
        return peer.connect() if connect else peer

    def close(self) -> None:
        # In parallel: a websocket client's disconnect can wait seconds for the closing
        # handshake (websocket-client's close timeout), and each test has several.
        closers = [threading.Thread(target=peer.close) for peer in self.made]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join(timeout=30)


def make_peers(served: Served, transport: str) -> Iterator[Peers]:
    peers = Peers(served.url, transport)
    try:
        yield peers
    finally:
        peers.close()


def peers_for(served_fixture: str) -> Callable[..., Any]:
    """A `peers` fixture on the served app fixture named `served_fixture`."""

    @pytest.fixture
    def fixture(request: pytest.FixtureRequest, transport: str) -> Iterator[Peers]:
        served = request.getfixturevalue(served_fixture)
        yield from make_peers(served, transport)

    return fixture


Json = Dict[str, Any]
