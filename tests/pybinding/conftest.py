"""Fixtures: a started ferrosocket.Server on 127.0.0.1 and python-socketio clients.

Waiting, client clean-up and server processes are tests/support/ferrosocket_testing.py's
(shared with tests/python); `wait_for` and `release` stay importable from here.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator, List

import pytest
import socketio
from ferrosocket_testing import close_client, wait_until

import ferrosocket

__all__ = ["Clients", "Inbox", "release", "wait_for"]

# The names the test files import: a bounded wait that raises, and a client's clean-up
# (disconnect and release its sockets, whatever state it is in).
wait_for = wait_until
release = close_client


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
            close_client(client)


@pytest.fixture
def clients(server: ferrosocket.Server) -> Iterator[Clients]:
    c = Clients(server)
    yield c
    c.close()


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
