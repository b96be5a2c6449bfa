"""`socketio.test_client(app, ...)` in-process, on apps/testclient_app.py loaded fresh for
each test and each implementation: connecting (namespace, query string, headers, auth,
flask_test_client), is_connected, emit/send with and without callback, get_received's exact
shapes, eio_sid, exceptions raising in the test."""

from __future__ import annotations

from types import ModuleType

import pytest

from conftest import load_app


@pytest.fixture
def mod(impl: str) -> ModuleType:
    return load_app("testclient_app", impl)


def test_connect_and_welcome(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app, query_string="a=1&b=two",
                                      headers={"X-Custom": "h"}, auth={"token": "t"})
    assert client.is_connected()
    assert client.is_connected("/") is True
    assert client.get_received() == [{
        "name": "welcome",
        "args": [{"auth": {"token": "t"}, "args": {"a": "1", "b": "two"}, "header": "h"}],
        "namespace": "/",
    }]
    # Received packets are handed out once.
    assert client.get_received() == []


def test_query_string_with_a_question_mark(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app, query_string="?x=y")
    assert client.get_received()[0]["args"][0]["args"] == {"x": "y"}


def test_connect_without_auth(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app)
    assert client.get_received()[0]["args"][0]["auth"] is None


def test_refused_connection(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app, auth={"refuse": True})
    assert client.is_connected() is False


def test_eio_sid(mod: ModuleType) -> None:
    one = mod.socketio.test_client(mod.app)
    two = mod.socketio.test_client(mod.app)
    assert isinstance(one.eio_sid, str) and one.eio_sid
    assert one.eio_sid != two.eio_sid


def test_namespaces(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app, namespace="/ns", auth={"k": 1})
    assert client.is_connected("/ns")
    assert not client.is_connected()
    assert client.get_received("/ns") == [
        {"name": "welcome", "args": [{"namespace": "/ns", "auth": {"k": 1}}], "namespace": "/ns"}]
    client.emit("echo", "in ns", namespace="/ns")
    assert client.get_received("/ns") == [{"name": "echo", "args": ["in ns"], "namespace": "/ns"}]
    client.connect()
    assert client.is_connected()
    assert [p["name"] for p in client.get_received()] == ["welcome"]
    client.disconnect(namespace="/ns")
    assert not client.is_connected("/ns")
    assert client.is_connected()


def test_emit_send_and_received_shapes(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app)
    client.get_received()
    assert client.emit("echo", {"a": [1, 2]}) is None
    client.emit("pair", 1, "b")
    client.send("text")
    client.send({"j": True}, json=True)
    assert client.get_received() == [
        {"name": "echo", "args": [{"a": [1, 2]}], "namespace": "/"},
        {"name": "pair", "args": [1, "b"], "namespace": "/"},
        # 'message' and 'json' carry their one argument itself, not a list of arguments.
        {"name": "message", "args": "text", "namespace": "/"},
        {"name": "json", "args": {"j": True}, "namespace": "/"},
    ]


def test_callbacks_return_the_ack(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app)
    assert client.emit("ack", {"v": 1}, callback=True) == {"v": 1}
    assert client.emit("ack", "s", callback=True) == "s"
    assert client.emit("ack_tuple", "one", callback=True) == ["one", 2]
    # A handler returning None acks with no arguments: an empty list.
    assert client.emit("ack_none", callback=True) == []
    assert client.send("m", callback=True) == []  # the "message" handler returns nothing
    assert [p["name"] for p in client.get_received()] == ["welcome", "message"]


def test_broadcast_and_rooms_between_test_clients(mod: ModuleType) -> None:
    alice = mod.socketio.test_client(mod.app)
    bob = mod.socketio.test_client(mod.app)
    alice.get_received()
    bob.get_received()
    alice.emit("broadcast", "all")
    assert alice.get_received() == [{"name": "news", "args": ["all"], "namespace": "/"}]
    assert bob.get_received() == [{"name": "news", "args": ["all"], "namespace": "/"}]
    bob.emit("join", "room1")
    alice.emit("to_room", {"room": "room1", "text": "r"})
    assert bob.get_received() == [{"name": "room_news", "args": ["r"], "namespace": "/"}]
    assert alice.get_received() == []


def test_disconnect(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app)
    client.disconnect()
    assert not client.is_connected()
    assert mod.disconnects[-1][1:] == ["/", "client disconnect"]
    with pytest.raises(RuntimeError):
        client.disconnect()
    with pytest.raises(RuntimeError):
        client.emit("echo", 1)
    with pytest.raises(RuntimeError):
        client.get_received()
    client.connect()
    assert client.is_connected()


def test_server_side_disconnect(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app)
    client.emit("kick_me")
    assert not client.is_connected()
    assert mod.disconnects[-1][1:] == ["/", "server disconnect"]


def test_handler_exception_raises_in_the_test(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app)
    with pytest.raises(RuntimeError, match="handler failed"):
        client.emit("boom")


def test_unserializable_value_raises_in_the_test(mod: ModuleType) -> None:
    client = mod.socketio.test_client(mod.app)
    with pytest.raises(TypeError):
        client.emit("unserializable")


def test_flask_test_client_shares_the_login_session(mod: ModuleType) -> None:
    flask_client = mod.app.test_client()
    assert flask_client.get("/login/alice").data == b"logged in"
    client = mod.socketio.test_client(mod.app, flask_test_client=flask_client)
    assert client.emit("session", callback=True) == {"note": "set over HTTP", "user": "alice"}
    anonymous = mod.socketio.test_client(mod.app)
    assert anonymous.emit("session", callback=True) == {"note": None, "user": None}
