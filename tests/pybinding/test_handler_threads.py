"""Handler threads: blocking handlers do not stall other clients; the pool's cap, its
saturation warning, and idle threads exiting."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Iterator, List

import pytest

from conftest import Clients, Inbox, wait_for

import ferrosocket


class Blocking:
    """An event handler that blocks until released, counting the handlers inside it."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.inside = 0

    def __call__(self, sid: str) -> str:
        with self.lock:
            self.inside += 1
        # Waiting releases the GIL, like time.sleep or a database call.
        self.gate.wait(30)
        with self.lock:
            self.inside -= 1
        return "released"

    def count(self) -> int:
        with self.lock:
            return self.inside


@pytest.fixture
def blocking() -> Iterator[Blocking]:
    handler = Blocking()
    yield handler
    handler.gate.set()  # never leave a handler thread blocked past the test


def dispatch_threads() -> int:
    """The process's threads named ferrosocket-dispatch-N (Linux, where a thread's name
    is cut to 15 bytes: "ferrosocket-dis")."""
    names: List[str] = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                names.append(comm.read())
        except OSError:
            pass  # the thread ended meanwhile
    return sum(name.startswith("ferrosocket-dis") for name in names)


def test_blocked_handlers_do_not_stall_other_clients(blocking: Blocking) -> None:
    # The default options: python-socketio's threading mode runs every event on a thread
    # of its own, so ten handlers blocking at once must not stall an eleventh client.
    sio = ferrosocket.Server()
    sio.on("block", blocking)
    sio.on("quick", lambda sid: "quick")
    clients = Clients(sio)
    try:
        other = clients.connect()
        replies = Inbox()
        for _ in range(10):
            clients.connect().emit("block", callback=lambda *args: replies.put(args))
        wait_for(lambda: blocking.count() >= 8)
        started = time.monotonic()
        assert other.call("quick", timeout=3) == "quick"
        assert time.monotonic() - started < 2.5
        # The ten all got a thread, and still block.
        wait_for(lambda: blocking.count() == 10)
        assert replies.items == []
        blocking.gate.set()
        assert len(replies.wait(10, timeout=10)) == 10
    finally:
        blocking.gate.set()  # before stopping, which waits for running handlers
        clients.close()
        sio.stop()


def test_at_the_cap_handlers_wait_and_one_warning_says_so(
    blocking: Blocking, caplog: pytest.LogCaptureFixture
) -> None:
    sio = ferrosocket.Server(handler_threads=2, min_handler_threads=1)
    sio.on("block", blocking)
    clients = Clients(sio)
    try:
        replies = Inbox()
        with caplog.at_level(logging.WARNING, logger="ferrosocket"):
            for _ in range(5):
                clients.connect().emit("block", callback=lambda *args: replies.put(args))
            wait_for(lambda: "dispatch threads are busy" in caplog.text)
            time.sleep(0.3)  # time for a wrong pool to start a third thread
            assert blocking.count() == 2
            warnings = [r.getMessage() for r in caplog.records if "are busy" in r.getMessage()]
            assert len(warnings) == 1, warnings
            assert "all 2 dispatch threads are busy" in warnings[0]
            assert "handler_threads" in warnings[0]
            blocking.gate.set()
            assert len(replies.wait(5, timeout=10)) == 5
    finally:
        blocking.gate.set()  # before stopping, which waits for running handlers
        clients.close()
        sio.stop()


def test_threads_beyond_the_minimum_exit_when_idle(blocking: Blocking) -> None:
    before = dispatch_threads()
    sio = ferrosocket.Server(min_handler_threads=1, handler_idle_timeout=0.2)
    sio.on("block", blocking)
    clients = Clients(sio)
    try:
        wait_for(lambda: dispatch_threads() == before + 1)
        for _ in range(6):
            clients.connect().emit("block")
        wait_for(lambda: blocking.count() == 6)
        assert dispatch_threads() >= before + 6
        blocking.gate.set()
        wait_for(lambda: dispatch_threads() == before + 1)
        # The threads left the interpreter cleanly: handlers still run.
        assert clients.connect().call("block", timeout=5) == "released"
    finally:
        blocking.gate.set()  # before stopping, which waits for running handlers
        clients.close()
        sio.stop()
    wait_for(lambda: dispatch_threads() == before)
