"""apps/events_app.py served by each implementation, with python-socketio clients on both
transports: context-bound emit/send/call, acks, broadcasts, rooms, server-side disconnect,
and the context-free socketio.emit/send/call/close_room from HTTP routes and background
tasks."""

from __future__ import annotations

import pytest
from ferrosocket_testing import wait_until

from conftest import Peers, Served, make_peers, serve_app

events = serve_app("events_app")


@pytest.fixture
def peers(events: Served, transport: str):
    yield from make_peers(events, transport)


def test_emit_replies_to_the_sender_only(peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    alice.sio.emit("echo", {"n": 1, "list": [1, "a", None]})
    assert alice.inbox.wait("echo") == [[{"n": 1, "list": [1, "a", None]}]]
    bob.sync()
    assert bob.inbox.of("echo") == []


def test_send_and_send_json(peers: Peers) -> None:
    alice = peers.new()
    alice.sio.send("hello")
    assert alice.inbox.wait("message") == [["hello"]]
    alice.sio.emit("json", {"a": [1, 2]})
    assert alice.inbox.wait("json") == [[{"a": [1, 2]}]]


def test_acks_return_values_and_tuples(peers: Peers) -> None:
    alice = peers.new()
    assert alice.call("ack", {"x": "y"}) == {"x": "y"}
    assert alice.call("ack", "text") == "text"
    # A tuple is the ack's arguments: python-socketio's call returns them as a tuple.
    assert alice.call("ack_tuple", "one") == ("one", "two", 3)
    assert alice.call("ack_none", 1) is None


def test_emit_with_callback_runs_in_the_clients_context(events: Served, peers: Peers) -> None:
    alice = peers.new()
    assert alice.call("ask", "why") is True
    assert alice.inbox.wait("question") == [["why"]]
    got = wait_until(lambda: [a for a in events.json("/answers") if a[0] == alice.sid()],
                     what="the answer recorded")
    assert got == [[alice.sid(), ["answer:why"]]]


def test_context_bound_call_waits_for_the_clients_answer(peers: Peers) -> None:
    alice = peers.new()
    assert alice.call("call_me", "ping") == "answer:ping"


def test_context_free_call_from_a_route(events: Served, peers: Peers) -> None:
    alice = peers.new()
    assert events.json(f"/call/{alice.sid()}", params={"text": "route"}) == "answer:route"


def test_broadcast_reaches_everyone(peers: Peers) -> None:
    alice, bob, carol = peers.new(), peers.new(), peers.new()
    assert alice.call("broadcast", "all") is True
    for peer in (alice, bob, carol):
        assert peer.inbox.wait("news") == [["all"]]


def test_broadcast_include_self_false(peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    assert alice.call("broadcast_others", "not me") is True
    assert bob.inbox.wait("news") == [["not me"]]
    alice.sync()
    assert alice.inbox.of("news") == []


def test_broadcast_skip_sid(peers: Peers) -> None:
    alice, bob, carol = peers.new(), peers.new(), peers.new()
    assert alice.call("broadcast_skip", {"text": "skip bob", "skip": bob.sid()}) is True
    assert alice.inbox.wait("news") == [["skip bob"]]
    assert carol.inbox.wait("news") == [["skip bob"]]
    bob.sync()
    assert bob.inbox.of("news") == []


def test_send_broadcast(peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    assert alice.call("send_broadcast", "to all") is True
    assert bob.inbox.wait("message") == [["to all"]]
    assert alice.inbox.wait("message") == [["to all"]]


def test_join_leave_rooms(peers: Peers) -> None:
    alice = peers.new()
    sid = alice.sid()
    assert alice.call("rooms") == [sid]
    assert alice.call("join", "red") == sorted([sid, "red"])
    assert alice.call("join", "blue") == sorted([sid, "red", "blue"])
    assert alice.call("leave", "red") == sorted([sid, "blue"])


@pytest.mark.parametrize("event", ["to_room", "room_kw"])
def test_emit_to_a_room(peers: Peers, event: str) -> None:
    alice, bob, carol = peers.new(), peers.new(), peers.new()
    alice.call("join", "green")
    bob.call("join", "green")
    assert carol.call(event, {"room": "green", "text": event}) is True
    assert alice.inbox.wait("room_news") == [[event]]
    assert bob.inbox.wait("room_news") == [[event]]
    carol.sync()
    assert carol.inbox.of("room_news") == []


def test_emit_to_a_room_without_the_sender(peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    alice.call("join", "violet")
    bob.call("join", "violet")
    assert alice.call("room_others", {"room": "violet", "text": "hi"}) is True
    assert bob.inbox.wait("room_news") == [["hi"]]
    alice.sync()
    assert alice.inbox.of("room_news") == []


def test_emit_to_a_sid(peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    assert alice.call("to_room", {"room": bob.sid(), "text": "direct"}) is True
    assert bob.inbox.wait("room_news") == [["direct"]]
    alice.sync()
    assert alice.inbox.of("room_news") == []


def test_send_to_a_room(peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    bob.call("join", "amber")
    assert alice.call("send_room", {"room": "amber", "text": "psst"}) is True
    assert bob.inbox.wait("message") == [["psst"]]


def test_close_room_from_a_handler_and_from_a_route(events: Served, peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    alice.call("join", "gray")
    bob.call("join", "white")
    assert alice.call("close", "gray") is True
    assert alice.call("rooms") == [alice.sid()]
    assert events.get("/close/white").text == "ok"
    assert bob.call("rooms") == [bob.sid()]


def test_disconnect_from_a_handler(peers: Peers) -> None:
    alice = peers.new()
    alice.sio.emit("kick_me")
    wait_until(lambda: not alice.sio.connected, what="the server's disconnect")
    assert alice.disconnects == [("/", "server disconnect")]


def test_context_free_emit_and_send_from_routes(events: Served, peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    assert events.get("/notify", params={"text": "to everyone"}).text == "ok"
    for peer in (alice, bob):
        assert peer.inbox.wait("notice") == [["to everyone"]]
    bob.call("join", "route-room")
    assert events.get("/notify_room", params={"text": "room only", "room": "route-room"}).text == "ok"
    assert bob.inbox.wait("notice", 2)[1] == ["room only"]
    assert events.get("/send", params={"text": "sent"}).text == "ok"
    assert alice.inbox.wait("message") == [["sent"]]
    alice.sync()
    assert alice.inbox.of("notice") == [["to everyone"]]


def test_context_free_emit_to_another_namespace(events: Served, peers: Peers) -> None:
    alice = peers.new(namespaces=("/", "/other"))
    assert events.get("/notify_namespace", params={"text": "other ns"}).text == "ok"
    assert alice.inbox.wait("notice", namespace="/other") == [["other ns"]]
    alice.sync()
    assert alice.inbox.of("notice") == []


def test_background_task_emits(peers: Peers) -> None:
    alice = peers.new()
    assert alice.call("ticks", 3) is True
    assert alice.inbox.wait("tick", 3) == [[0], [1], [2]]


def test_seed_article_broadcast_keyword(events: Served, peers: Peers) -> None:
    """The first seed article's `socketio.emit('message', msg, broadcast=True)`."""
    alice, bob = peers.new(), peers.new()
    if events.impl == "flask_socketio":
        # Pinned difference: Flask-SocketIO 5.7 passes `broadcast` on to python-socketio's
        # Server.emit, which raises TypeError (unexpected keyword): the handler fails and no
        # ack comes back. ferrosocket accepts it, since a context-free emit broadcasts.
        alice.sio.emit("seed_broadcast", "lost")
        wait_until(lambda: "TypeError" in events.log(), what="the TypeError logged")
        assert "broadcast" in events.log()
        alice.sync()
        assert alice.inbox.of("message") == []
    else:
        assert alice.call("seed_broadcast", "kept") is True
        assert alice.inbox.wait("message") == [["kept"]]
        assert bob.inbox.wait("message") == [["kept"]]
