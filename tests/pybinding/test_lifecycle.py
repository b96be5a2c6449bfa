"""Running as a program: Ctrl-C stops run(), exit without stop(), namespaces, misuse."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
import socketio

from conftest import Clients, Inbox, release

import ferrosocket

SERVE = textwrap.dedent(
    """
    import sys, threading, time
    import ferrosocket

    sio = ferrosocket.Server()
    sio.on("ping", lambda sid: "pong")

    def announce():
        while sio.port is None:
            time.sleep(0.01)
        print(sio.port, flush=True)

    threading.Thread(target=announce, daemon=True).start()
    if sys.argv[1] == "run":
        sio.run("127.0.0.1", 0)
        print("stopped", flush=True)
    else:
        sio.start("127.0.0.1", 0)
        time.sleep(0.5)
        print("exiting", flush=True)   # no stop(): the atexit hook stops it
    """
)


def serve(mode: str) -> "tuple[subprocess.Popen[str], socketio.Client]":
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, mode], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    client = socketio.Client(reconnection=False)
    client.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=5)
    assert client.call("ping", timeout=5) == "pong"
    return proc, client


def test_ctrl_c_stops_run_with_clients_connected() -> None:
    proc, client = serve("run")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert "stopped" in out
    client.wait()  # the server told the client it is shutting down
    assert not client.connected
    release(client)


def test_exit_without_stop() -> None:
    proc, client = serve("start")
    started = time.monotonic()
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "exiting" in out
    assert time.monotonic() - started < 10
    client.wait()
    release(client)


def test_namespaces(server: ferrosocket.Server, clients: Clients) -> None:
    joined = Inbox()
    server.on("connect", lambda sid, environ, auth: joined.put(sid), namespace="/chat")
    server.on("hello", lambda sid, name: f"hi {name}", namespace="/chat")
    inbox = Inbox()
    client = socketio.Client(reconnection=False)
    clients.clients.append(client)
    client.on("news", inbox.put, namespace="/chat")
    client.connect(clients.url(), namespaces=["/chat"], transports=["websocket"], wait_timeout=5)
    assert client.call("hello", "ann", namespace="/chat", timeout=5) == "hi ann"
    (sid,) = joined.wait()
    assert sid == client.get_sid("/chat")
    server.emit("news", "n1", namespace="/chat")
    server.emit("news", "ignored", namespace="/nowhere")
    assert inbox.wait() == ["n1"]
    server.enter_room(sid, "r", namespace="/chat")
    assert sorted(server.rooms(sid, namespace="/chat")) == sorted([sid, "r"])


def test_stop_from_handler_is_refused(server: ferrosocket.Server, clients: Clients) -> None:
    @server.on("stop")
    def stop(sid: str) -> Any:
        try:
            server.stop()
        except RuntimeError as error:
            return str(error)
        return "stopped?"

    client = clients.connect()
    assert "handler" in client.call("stop", timeout=5)


def test_bad_options() -> None:
    with pytest.raises(ValueError):
        ferrosocket.Server(ping_interval=-1)
    with pytest.raises(ValueError):
        ferrosocket.Server(handler_threads=0)
    with pytest.raises(ValueError):
        ferrosocket.Server(min_handler_threads=0)
    with pytest.raises(ValueError):
        ferrosocket.Server(handler_idle_timeout=-1)
    with pytest.raises(TypeError):
        ferrosocket.Server(cors_allowed_origins=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ferrosocket.Server().on("x", 5)  # type: ignore[arg-type]
