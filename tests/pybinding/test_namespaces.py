"""Namespace names without their leading "/" mean the same namespace everywhere.

``Server.on(..., namespace="chat")`` always reached "/chat", but emitting, rooms and
lookups with ``namespace="chat"`` found no namespace and silently did nothing.
"""

from __future__ import annotations

import socketio

import ferrosocket
from conftest import Clients, Inbox, wait_for


def test_namespace_without_slash_reaches_the_clients(
    server: ferrosocket.Server, clients: Clients
) -> None:
    joined = Inbox()
    server.on("connect", lambda sid, environ, auth: joined.put(sid), namespace="chat")
    client = socketio.Client(reconnection=False)
    clients.clients.append(client)
    inbox = Inbox()
    client.on("news", inbox.put, namespace="/chat")
    client.connect(clients.url(), namespaces=["/chat"], transports=["websocket"], wait_timeout=5)
    (sid,) = joined.wait()

    server.emit("news", "to everyone", namespace="chat")
    server.emit("news", "to the sid", to=sid, namespace="chat")
    server.enter_room(sid, "room", namespace="chat")
    server.emit("news", "to the room", room="room", namespace="chat")
    assert inbox.wait(3) == ["to everyone", "to the sid", "to the room"]
    assert sorted(server.rooms(sid, namespace="chat")) == sorted([sid, "room"])
    assert server.participants(namespace="chat") == [sid]
    assert server.call("news", "asked", to=sid, namespace="chat", timeout=5) is None

    # One session whatever the spelling.
    server.get_session(sid, namespace="chat")["user"] = "ann"
    assert server.get_session(sid, namespace="/chat") == {"user": "ann"}

    server.disconnect(sid, namespace="chat")
    wait_for(lambda: server.participants(namespace="/chat") == [])


def test_version_and_core_defaults() -> None:
    from importlib.metadata import version

    assert ferrosocket.__version__ == version("ferrosocket")
    sio = ferrosocket.Server()
    try:
        # The core's defaults, not numbers retyped in Python.
        from ferrosocket._native import DEFAULTS

        assert DEFAULTS.ping_interval == 25.0
        assert DEFAULTS.handler_threads == 64
        assert DEFAULTS.path == "/socket.io/"
    finally:
        sio.stop()
