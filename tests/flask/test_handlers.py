"""apps/handlers_app.py and apps/wildcard_app.py served by each implementation, with
python-socketio clients on both transports: connect(auth)/connect(), refusals, disconnect
reasons, namespaces, @socketio.event, on_event, catch-alls, error handlers and class-based
namespaces."""

from __future__ import annotations

from typing import Any, List, Set

import pytest
import socketio
from ferrosocket_testing import wait_until

from conftest import Peers, Served, make_peers, serve_app

handlers = serve_app("handlers_app")
wildcard = serve_app("wildcard_app")
errors = serve_app("errors_app")


@pytest.fixture
def peers(handlers: Served, transport: str):
    yield from make_peers(handlers, transport)


@pytest.fixture
def wild_peers(wildcard: Served, transport: str):
    yield from make_peers(wildcard, transport)


def entries(served: Served, sid: str) -> List[List[Any]]:
    return [e for e in served.json("/log") if sid in e]


def client_close_reasons(transport: str, client: str, transport_close: str) -> Set[str]:
    """The reasons a server may give when a python-socketio client disconnects itself.
    On websocket, python-engineio's client closes the socket right after queueing the
    DISCONNECT and close packets, racing its own writer: any server may then see the
    transport close first (seen with Flask-SocketIO too)."""
    return {client, transport_close} if transport == "websocket" else {client}


def test_connect_with_auth_and_without(handlers: Served, peers: Peers) -> None:
    alice = peers.new(auth={"token": "t1"})
    assert alice.inbox.wait("welcome") == [[{"sid": alice.sid(), "auth": {"token": "t1"}}]]
    bob = peers.new()
    # No auth sent: the handler gets None.
    assert bob.inbox.wait("welcome") == [[{"sid": bob.sid(), "auth": None}]]
    assert entries(handlers, bob.sid()) == [["connect", "/", bob.sid(), None]]


@pytest.mark.parametrize("refuse, error", [
    ("false", {"message": "Connection rejected by server"}),
    ("raise", {"message": "go away", "data": {"code": 7}}),
    ("bare", {"message": "Connection rejected by server"}),
])
def test_connect_refused(peers: Peers, refuse: str, error: Any) -> None:
    peer = peers.new(connect=False, auth={"refuse": refuse})
    with pytest.raises(socketio.exceptions.ConnectionError):
        peer.connect()
    assert peer.errors == [("/", error)]
    assert not peer.sio.connected


def test_disconnect_reasons(handlers: Served, peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    alice_sid, bob_sid = alice.sid(), bob.sid()
    alice.sio.emit("bye")
    wait_until(lambda: not alice.sio.connected, what="the server's disconnect")
    bob.close()
    wait_until(lambda: len(entries(handlers, bob_sid)) == 2, what="bob's disconnect handler")
    wait_until(lambda: len(entries(handlers, alice_sid)) == 2, what="alice's disconnect handler")
    assert entries(handlers, alice_sid)[1] == ["disconnect", "/", alice_sid, "SERVER_DISCONNECT"]
    assert entries(handlers, bob_sid)[1][:3] == ["disconnect", "/", bob_sid]
    assert entries(handlers, bob_sid)[1][3] in client_close_reasons(
        peers.transport, "CLIENT_DISCONNECT", "TRANSPORT_CLOSE")


def test_namespace_connect_without_auth_and_disconnect_without_reason(
        handlers: Served, peers: Peers) -> None:
    peer = peers.new(namespaces=("/chat",))
    sid = peer.sid("/chat")
    assert entries(handlers, sid) == [["connect", "/chat", sid]]
    peer.sio.emit("bye", namespace="/chat")
    wait_until(lambda: len(entries(handlers, sid)) == 2, what="the /chat disconnect handler")
    assert entries(handlers, sid)[1] == ["disconnect", "/chat", sid]


def test_unknown_namespace_is_refused(peers: Peers) -> None:
    peer = peers.new(connect=False, namespaces=("/nowhere",))
    with pytest.raises(socketio.exceptions.ConnectionError):
        peer.connect()


def test_event_decorator_and_on_event(peers: Peers) -> None:
    peer = peers.new(namespaces=("/", "/chat"))
    peer.sio.emit("shout", "hey")
    assert peer.inbox.wait("shouted") == [["HEY"]]
    peer.sio.emit("shout_chat", "hey", namespace="/chat")
    assert peer.inbox.wait("shouted", namespace="/chat") == [["chat:hey"]]
    assert peer.call("plain", 1) == ["plain", 1, "/"]
    assert peer.call("plain", 2, namespace="/chat") == ["plain", 2, "/chat"]


@pytest.fixture
def error_peers(errors: Served, transport: str):
    yield from make_peers(errors, transport)


def test_error_handlers(errors: Served, error_peers: Peers) -> None:
    peer = error_peers.new(namespaces=("/", "/chat"))
    # The error handler's return value is the event's ack.
    assert peer.call("fail", "chat boom", namespace="/chat") == ["chat error", "chat chat boom"]
    assert peer.call("fail", "root boom") == ["default error", "KeyError"]
    assert ["error", "/chat", "fail", "chat chat boom"] in errors.json("/log")
    assert ["error_default", "/", "fail", "KeyError"] in errors.json("/log")
    # The connection survives a failing handler.
    peer.sync()
    peer.sync("/chat")


def test_catch_all_events(peers: Peers) -> None:
    peer = peers.new(namespaces=("/wild",))
    assert peer.call("anything", 1, namespace="/wild") == ["caught", "anything", [1], "/wild"]
    assert peer.call("other", "a", "b", namespace="/wild") == ["caught", "other", ["a", "b"], "/wild"]
    # A handler for the event itself wins over the catch-all.
    assert peer.call("named", 2, namespace="/wild") == ["named", 2]


def test_catch_all_namespace(wild_peers: Peers) -> None:
    peer = wild_peers.new(namespaces=("/", "/anything", "/own"), auth={"k": "v"})
    for ns in ("/", "/anything", "/own"):
        assert peer.inbox.wait("welcome", namespace=ns) == [[{"namespace": ns, "auth": {"k": "v"}}]]
    assert peer.call("where", 1, namespace="/anything") == ["where", "/anything", 1]
    assert peer.call("where", 2) == ["where", "/", 2]
    assert peer.call("where", 3, namespace="/own") == ["own", "/own", 3]


def test_class_based_namespace(handlers: Served, peers: Peers) -> None:
    alice = peers.new(namespaces=("/lobby",), auth={"who": "alice"})
    bob = peers.new(namespaces=("/lobby",))
    sid = alice.sid("/lobby")
    assert entries(handlers, sid) == [["connect", "/lobby", sid, {"who": "alice"}]]
    alice.sio.emit("hello", 5, namespace="/lobby")
    assert alice.inbox.wait("hi", namespace="/lobby") == [[{"data": 5, "namespace": "/lobby"}]]
    # Namespace.emit and Namespace.send address the whole namespace.
    assert alice.call("announce", "all", namespace="/lobby") is True
    assert bob.inbox.wait("announced", namespace="/lobby") == [["all"]]
    assert alice.inbox.wait("announced", namespace="/lobby") == [["all"]]
    assert alice.call("say", "said", namespace="/lobby") is True
    assert bob.inbox.wait("message", namespace="/lobby") == [["said"]]
    # Several arguments reach on_<event> as several parameters.
    assert alice.call("add", 2, 3, namespace="/lobby") == 5
    alice.close()
    wait_until(lambda: len(entries(handlers, sid)) == 2, what="Lobby.on_disconnect")
    assert entries(handlers, sid)[1][:3] == ["disconnect", "/lobby", sid]
    assert entries(handlers, sid)[1][3] in client_close_reasons(
        peers.transport, "client disconnect", "transport close")
