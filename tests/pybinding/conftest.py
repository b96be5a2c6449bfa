"""Fixtures: a started ferrosocket.Server on 127.0.0.1 and python-socketio clients."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable, Iterator, List

import pytest
import socketio

import ferrosocket


@pytest.fixture
def server() -> Iterator[ferrosocket.Server]:
    sio = ferrosocket.Server(handler_threads=4)
    yield sio
    sio.stop()


class Clients:
    """python-socketio clients connected to the server, disconnected at teardown."""

    def __init__(self, sio: ferrosocket.Server) -> None:
        self.sio = sio
        self.clients: List[socketio.Client] = []

    def url(self) -> str:
        if self.sio.port is None:
            self.sio.start("127.0.0.1", 0)
        return f"http://127.0.0.1:{self.sio.port}"

    def connect(self, transports: Any = ("websocket",), **kwargs: Any) -> socketio.Client:
        client = socketio.Client(reconnection=False)
        self.clients.append(client)
        client.connect(self.url(), transports=list(transports), wait_timeout=5, **kwargs)
        return client

    def close(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):
                client.disconnect()
            release(client)


def release(client: socketio.Client) -> None:
    """python-engineio leaves its websocket-client socket (and HTTP session) open when
    the *server* closes the connection; close them so no ResourceWarning fires later."""
    ws = getattr(client.eio, "ws", None)
    if ws is not None:
        with contextlib.suppress(Exception):
            ws.shutdown()
    http = getattr(client.eio, "http", None)
    if http is not None and hasattr(http, "close"):
        with contextlib.suppress(Exception):
            http.close()


@pytest.fixture
def clients(server: ferrosocket.Server) -> Iterator[Clients]:
    c = Clients(server)
    yield c
    c.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class Inbox:
    """Collects what a client receives, thread-safely."""

    def __init__(self) -> None:
        self.items: List[Any] = []
        self.cond = threading.Condition()

    def put(self, item: Any) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait(self, count: int = 1, timeout: float = 5.0) -> List[Any]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.items) >= count, timeout):
                raise AssertionError(f"expected {count} items, got {self.items!r}")
            return list(self.items)
