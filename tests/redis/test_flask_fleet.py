"""Two Flask apps (tests/redis/apps/fleet_app.py) on one redis-server, each served by
Flask-SocketIO or by ferrosocket.flask (every pair, both orders), with python-socketio
clients on both transports on each: what one server emits reaches the other's clients,
rooms, skip_sid and acks hold across the fleet, app-less emitters of both implementations
reach everyone, and pickle or garbage on the channel changes nothing. Then the faults, per
implementation: Redis down at start, and killed and restarted under a stream of
broadcasts.

Ordering used by `fence`: the messages one server publishes reach each client in the order
it published them (one subscriber per server, handled in order), so once a later broadcast
from that server arrived, an earlier one that did not will not arrive either."""

from __future__ import annotations

import pickle
import threading
import uuid
from typing import Any, List, Tuple

import pytest
from ferrosocket_testing import wait_until

import flask_impl
from conftest import (WAIT, Fleet, Peer, Peers, RedisServer, fence, read_fixture, run_emitter,
                      start_fleet, token)


def news_from(name: str, tag: str) -> List[Any]:
    return [{"from": name, "data": tag}]


def test_broadcast_from_a_handler_reaches_both_servers_once(fleet: Fleet, peers: Peers) -> None:
    a1, a2, b1, b2 = peers.on(fleet.a), peers.on(fleet.a), peers.on(fleet.b), peers.on(fleet.b)
    everyone = [a1, a2, b1, b2]
    from_a, from_b = token(), token()
    assert a1.call("broadcast", from_a) is True
    assert b2.call("broadcast", from_b) is True
    for peer in everyone:
        assert peer.news(from_a) == news_from("a", from_a)
        assert peer.news(from_b) == news_from("b", from_b)
    fence(fleet.a, everyone)
    fence(fleet.b, everyone)
    for peer in everyone:  # a server never delivers its own message a second time
        tags = [args[0]["data"] for args in peer.inbox.of("news")]
        assert tags.count(from_a) == 1 and tags.count(from_b) == 1, tags


def test_room_broadcast_reaches_only_members_on_both_servers(fleet: Fleet, peers: Peers) -> None:
    room = "room-" + token()
    a_in, a_out, b_in, b_out = (peers.on(fleet.a), peers.on(fleet.a), peers.on(fleet.b),
                                peers.on(fleet.b))
    everyone = [a_in, a_out, b_in, b_out]
    assert a_in.call("join", room) is True
    assert b_in.call("join", room) is True
    for sender, member in ((a_in, fleet.a), (b_in, fleet.b)):
        tag = token()
        assert sender.call("to_room", {"room": room, "data": tag}) is True
        assert a_in.news(tag) == news_from(member.name, tag)
        assert b_in.news(tag) == news_from(member.name, tag)
        fence(member, everyone)
        assert not a_out.got_news(tag) and not b_out.got_news(tag)
    # A member that left is no longer reached from the other server.
    assert b_in.call("leave", room) is True
    tag = token()
    assert a_in.call("to_room", {"room": room, "data": tag}) is True
    a_in.news(tag)
    fence(fleet.a, everyone)
    assert not b_in.got_news(tag)


def test_include_self_false_skips_only_the_sender(fleet: Fleet, peers: Peers) -> None:
    a1, a2, b1 = peers.on(fleet.a), peers.on(fleet.a), peers.on(fleet.b)
    tag = token()
    assert a1.call("broadcast_others", tag) is True
    assert a2.news(tag) == news_from("a", tag)
    assert b1.news(tag) == news_from("a", tag)
    fence(fleet.a, [a1, a2, b1])
    assert not a1.got_news(tag)
    # The same to a room with members on both servers.
    room = "room-" + token()
    for peer in (a1, a2, b1):
        assert peer.call("join", room) is True
    tag = token()
    assert b1.call("to_room_others", {"room": room, "data": tag}) is True
    a1.news(tag)
    a2.news(tag)
    fence(fleet.b, [a1, a2, b1])
    assert not b1.got_news(tag)


def test_skip_sid_of_a_socket_on_the_other_server(fleet: Fleet, peers: Peers) -> None:
    a1, b1, b2 = peers.on(fleet.a), peers.on(fleet.b), peers.on(fleet.b)
    tag = token()
    fleet.a.post("/emit", {"event": "news", "data": {"from": "route", "data": tag},
                           "skip_sid": b1.sid})
    a1.news(tag)
    b2.news(tag)
    fence(fleet.a, [a1, b1, b2])
    assert not b1.got_news(tag)


def test_socketio_emit_from_a_route_reaches_both_servers(fleet: Fleet, peers: Peers) -> None:
    a1, b1, b2 = peers.on(fleet.a), peers.on(fleet.b), peers.on(fleet.b)
    tag = token()
    fleet.b.post("/emit", {"event": "news", "data": {"from": "route", "data": tag}})
    for peer in (a1, b1, b2):
        assert peer.news(tag) == [{"from": "route", "data": tag}]
    # To a room, and to one sid on the other server.
    room = "room-" + token()
    assert a1.call("join", room) is True
    assert b1.call("join", room) is True
    tag = token()
    fleet.b.post("/emit", {"event": "news", "data": {"from": "route", "data": tag}, "to": room})
    a1.news(tag)
    b1.news(tag)
    tag_sid = token()
    fleet.b.post("/emit", {"event": "news", "data": {"from": "route", "data": tag_sid},
                           "to": a1.sid})
    a1.news(tag_sid)
    fence(fleet.b, [a1, b1, b2])
    assert not b2.got_news(tag)
    assert not b1.got_news(tag_sid) and not b2.got_news(tag_sid)


@pytest.mark.parametrize("emitter", flask_impl.selected_impls(),
                         ids=lambda impl: f"emitter={impl}")
def test_an_app_less_emitter_reaches_both_servers(fleet: Fleet, peers: Peers, emitter: str) -> None:
    a1, a_room, b1, b_room = (peers.on(fleet.a), peers.on(fleet.a), peers.on(fleet.b),
                              peers.on(fleet.b))
    room = "room-" + token()
    assert a_room.call("join", room) is True
    assert b_room.call("join", room) is True
    to_all, to_room = token(), token()
    run_emitter(emitter, fleet.redis.url, [
        {"event": "news", "data": {"from": "emitter", "data": to_all}},
        {"event": "news", "data": {"from": "emitter", "data": to_room}, "to": room},
    ])
    for peer in (a1, a_room, b1, b_room):
        assert peer.news(to_all) == [{"from": "emitter", "data": to_all}]
    a_room.news(to_room)
    b_room.news(to_room)
    # The emitter finished publishing before these fences were published.
    fence(fleet.a, [a1, b1])
    fence(fleet.b, [a1, b1])
    assert not a1.got_news(to_room) and not b1.got_news(to_room)


def test_ack_from_a_client_on_the_other_server_reaches_the_callback(fleet: Fleet,
                                                                    peers: Peers) -> None:
    a1, b1 = peers.on(fleet.a), peers.on(fleet.b)
    # From a handler on a (the callback runs with a1's context there) ...
    q1 = token()
    assert a1.call("ask", {"sid": b1.sid, "q": q1, "tag": "handler-" + q1}) is True
    b1.inbox.wait_for("question", lambda args: args == [q1])
    wait_until(lambda: ["handler-" + q1, ["answer:" + q1]] in fleet.a.get("/answers"),
               timeout=WAIT, what="the ack of b's client on a")
    # ... and from a route on b to a client on a.
    q2 = token()
    fleet.b.post("/ask", {"sid": a1.sid, "q": q2, "tag": "route-" + q2})
    a1.inbox.wait_for("question", lambda args: args == [q2])
    wait_until(lambda: ["route-" + q2, ["answer:" + q2]] in fleet.b.get("/answers"),
               timeout=WAIT, what="the ack of a's client on b")
    # Each ack reached its own server's callback only.
    assert not any(entry[0] in ("handler-" + q1, "route-" + q2) and entry not in (
        ["handler-" + q1, ["answer:" + q1]], ["route-" + q2, ["answer:" + q2]])
        for entry in fleet.a.get("/answers") + fleet.b.get("/answers"))
    assert ["route-" + q2, ["answer:" + q2]] not in fleet.a.get("/answers")
    assert ["handler-" + q1, ["answer:" + q1]] not in fleet.b.get("/answers")


def test_join_and_leave_a_room_for_a_socket_on_the_other_server(fleet: Fleet,
                                                                peers: Peers) -> None:
    a1, b1 = peers.on(fleet.a), peers.on(fleet.b)
    room = "room-" + token()
    fleet.a.post("/join", {"sid": b1.sid, "room": room})
    tag = token()
    fleet.a.post("/emit", {"event": "news", "data": {"from": "a", "data": tag}, "to": room})
    assert b1.news(tag) == news_from("a", tag)
    fleet.a.post("/leave", {"sid": b1.sid, "room": room})
    tag = token()
    fleet.a.post("/emit", {"event": "news", "data": {"from": "a", "data": tag}, "to": room})
    fence(fleet.a, [a1, b1])
    assert not b1.got_news(tag) and not a1.got_news(tag)


def test_close_room_empties_it_on_both_servers(fleet: Fleet, peers: Peers) -> None:
    a1, b1, b2 = peers.on(fleet.a), peers.on(fleet.b), peers.on(fleet.b)
    room = "room-" + token()
    assert a1.call("join", room) is True
    assert b1.call("join", room) is True
    fleet.a.post("/close_room", {"room": room})
    tag = token()
    fleet.a.post("/emit", {"event": "news", "data": {"from": "a", "data": tag}, "to": room})
    fence(fleet.a, [a1, b1, b2])
    assert not a1.got_news(tag) and not b1.got_news(tag)


def test_disconnect_a_socket_on_the_other_server(fleet: Fleet, peers: Peers) -> None:
    a1, b1, b2 = peers.on(fleet.a), peers.on(fleet.b), peers.on(fleet.b)
    fleet.a.post("/disconnect", {"sid": b1.sid})
    assert b1.disconnected.wait(WAIT), "b's client was not disconnected by a"
    # Only that one: the others still hear both servers.
    fence(fleet.a, [a1, b2])
    fence(fleet.b, [a1, b2])
    assert not a1.disconnected.is_set() and not b2.disconnected.is_set()


def test_binary_arguments_cross_servers(fleet: Fleet, peers: Peers) -> None:
    a1, b1 = peers.on(fleet.a), peers.on(fleet.b)
    payload = b"\x00\x01\xfe\xff" + uuid.uuid4().bytes
    assert a1.call("binary", payload) is True
    got = b1.inbox.wait_for("blob", lambda args: args[0]["data"] == payload)
    assert got == [{"from": "a", "data": payload}]
    assert isinstance(got[0]["data"], bytes)


def test_several_arguments_cross_servers(fleet: Fleet, peers: Peers) -> None:
    a1, b1 = peers.on(fleet.a), peers.on(fleet.b)
    tag = token()
    value = {"tag": tag, "list": [1, 2.5, None, True, "é☃"]}
    assert b1.call("pair", value) is True
    assert a1.inbox.wait_for("pair", lambda args: args[-1] == value) == ["b", value]


# --------------------------------------------------------------------------- bad messages


def pickled_emit(tag: str) -> bytes:
    """What python-socketio < 5.14 published for a broadcast of `news` carrying `tag`: a
    server that unpickles it would deliver that news."""
    return pickle.dumps({"method": "emit", "event": "news",
                         "data": [{"from": "pickle", "data": tag}], "binary": False,
                         "namespace": "/", "room": None, "skip_sid": None, "callback": None,
                         "host_id": uuid.uuid4().hex})


GARBAGE = [
    b"",
    b"\x00\xff\xfe garbage \x80",
    b"{not json",
    b"null",
    b"5",
    b"[1, 2, 3]",
    b'"emit"',
    b'{"host_id": "x"}',
    b'{"method": "emit"}',
    b'{"method": "emit", "event": 5, "data": "not a list", "namespace": 7, "host_id": "x"}',
    b'{"method": "emit", "event": "news", "data": [1], "binary": true, "host_id": "x"}',
    b'{"method": "callback", "host_id": "x", "sid": 1, "id": "one", "args": {}}',
    b'{"method": "enter_room", "sid": null, "room": [], "host_id": "x"}',
    b'{"method": "no such method", "host_id": "x"}',
    "{\"method\": \"emit\", \"event\": \"news\", \"data\": [\"\\ud800\"], \"host_id\": \"x\"}"
    .encode(),
]


def keeps_delivering(sender: Peer, receiver: Peer, timeout: float = 30.0) -> str:
    """Broadcasts from `sender` until one of them reaches `receiver` (a server that
    resubscribes after bad input may miss what was published meanwhile: at most once);
    returns the tag that arrived."""
    sent: List[str] = []

    def attempt() -> str:
        tag = token()
        sent.append(tag)
        sender.call("broadcast", tag)
        try:
            receiver.news(tag, timeout=0.5)
        except AssertionError:
            return ""
        return tag

    return wait_until(attempt, timeout=timeout,
                      what=f"a broadcast from {sender.member.name} on {receiver.member.name}",
                      every=0)


def test_pickle_and_garbage_on_the_channel_are_dropped(pair: Tuple[str, str]) -> None:
    # Its own fleet: the warnings it looks for are rate-limited per process.
    with RedisServer() as server:
        fleet = start_fleet(pair, server)
        peers = Peers("polling")
        try:
            a1, b1 = peers.on(fleet.a), peers.on(fleet.b)
            keeps_delivering(a1, b1)
            legacy = read_fixture("legacy-pickle-emit.pickle")
            assert pickle.loads(legacy)["method"] == "emit"  # the fixture is what it says
            fresh = token()
            assert fleet.publish(legacy) >= 2  # both servers subscribe to the channel
            fleet.publish(pickled_emit(fresh))
            for junk in GARBAGE:
                fleet.publish(junk)
            # Both still serve, both ways, and nothing pickled was delivered.
            keeps_delivering(a1, b1)
            keeps_delivering(b1, a1)
            for peer in (a1, b1):
                assert not peer.got_news(fresh)
                assert not peer.got_news("hello fleet")
                assert not [args for args in peer.inbox.of("news")
                            if args and isinstance(args[0], dict)
                            and args[0].get("from") == "pickle"]
            for member in (fleet.a, fleet.b):
                assert member.alive(), member.log()
                if member.impl == "ferrosocket":
                    wait_until(lambda: "pickle" in member.log().lower(), timeout=WAIT,
                               what=f"a warning about pickle in {member.name}'s log")
        finally:
            peers.close()
            fleet.a.stop()
            fleet.b.stop()


# --------------------------------------------------------------------------- URLs


def only_ferrosocket(pair: Tuple[str, str]) -> None:
    if pair != ("ferrosocket", "ferrosocket"):
        pytest.skip("Flask-SocketIO hands every URL but redis:// and rediss:// to kombu")


@pytest.mark.parametrize("kind", ["password-and-db", "unix-socket", "valkey-scheme"])
def test_redis_url_forms(pair: Tuple[str, str], kind: str) -> None:
    """A password and a db in the URL (both implementations), a unix socket and the
    valkey:// scheme (ferrosocket only: Flask-SocketIO sends those URLs to kombu)."""
    if kind == "password-and-db":
        server = RedisServer(password="fleet-secret", db=3)
        url = server.url
    elif kind == "unix-socket":
        only_ferrosocket(pair)
        server = RedisServer(unix_socket=True)
        url = server.url
    else:
        only_ferrosocket(pair)
        server = RedisServer()
        url = f"valkey://127.0.0.1:{server.port}/0"
    peers = Peers("polling")
    fleet = None
    try:
        fleet = start_fleet(pair, server, url)
        a1, b1 = peers.on(fleet.a), peers.on(fleet.b)
        keeps_delivering(a1, b1)
        keeps_delivering(b1, a1)
    finally:
        peers.close()
        if fleet is not None:
            fleet.a.stop()
            fleet.b.stop()
        server.stop()


# --------------------------------------------------------------------------- faults


def test_redis_down_at_start(impl: str) -> None:
    server = RedisServer(start=False)  # its port is picked; nothing listens there yet
    fleet = None
    peers = Peers("polling")
    try:
        fleet = start_fleet((impl, impl), server)
        a1, a2, b1 = peers.on(fleet.a), peers.on(fleet.a), peers.on(fleet.b)
        # Local delivery works while Redis is down.
        tag = token()
        assert a1.call("broadcast", tag) is True
        assert a2.news(tag) == news_from("a", tag)
        tag = token()
        assert b1.call("broadcast", tag) is True
        assert b1.news(tag) == news_from("b", tag)
        for member in (fleet.a, fleet.b):
            wait_until(lambda: "redis" in member.log().lower(), timeout=WAIT,
                       what=f"a log line about Redis from {member.name}")
        server.start()
        # Once Redis is there, the servers connect and deliver across.
        keeps_delivering(a1, b1, timeout=90)
        keeps_delivering(b1, a2, timeout=90)
        assert fleet.a.alive() and fleet.b.alive()
    finally:
        peers.close()
        if fleet is not None:
            fleet.a.stop()
            fleet.b.stop()
        server.stop()


class Stream:
    """Broadcasts from `sender`, one after the other (each waits for its ack, so a handler
    that blocks on Redis shows as an ack timeout), until stopped."""

    def __init__(self, sender: Peer) -> None:
        self.sender = sender
        self.sent: List[str] = []
        self.errors: List[BaseException] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            tag = "stream-" + token()
            with self.lock:
                self.sent.append(tag)
            try:
                self.sender.call("broadcast", tag)
            except BaseException as error:  # noqa: BLE001 - reported by the test
                self.errors.append(error)
                return

    def count(self) -> int:
        with self.lock:
            return len(self.sent)

    def since(self, start: int) -> List[str]:
        with self.lock:
            return list(self.sent[start:])

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=WAIT + 5)


def stream_tags(peer: Peer) -> List[str]:
    return [args[0]["data"] for args in peer.inbox.of("news")
            if args and isinstance(args[0], dict)
            and str(args[0].get("data", "")).startswith("stream-")]


def test_redis_restarted_mid_broadcast(impl: str) -> None:
    with RedisServer() as server:
        fleet = start_fleet((impl, impl), server)
        peers = Peers("polling")
        stream = None
        try:
            sender, a_watch, b_watch = peers.on(fleet.a), peers.on(fleet.a), peers.on(fleet.b)
            keeps_delivering(sender, b_watch)
            stream = Stream(sender)
            wait_until(lambda: len(stream_tags(b_watch)) >= 5, timeout=WAIT,
                       what="the stream flowing to b")
            server.kill()
            # While Redis is down, a still delivers to its own clients.
            down = stream.count()
            wait_until(lambda: set(stream.since(down + 1)) & set(stream_tags(a_watch)),
                       timeout=WAIT, what="local delivery on a while Redis is down")
            server.restart()
            # After the restart, what a broadcasts reaches b again.
            restarted = stream.count()
            wait_until(lambda: set(stream.since(restarted + 1)) & set(stream_tags(b_watch)),
                       timeout=90, what="delivery to b after the Redis restart")
            stream.stop()
            assert not stream.errors, stream.errors
            # At most once: nothing arrived twice, nothing that was never sent.
            for watcher in (a_watch, b_watch):
                got = stream_tags(watcher)
                assert len(got) == len(set(got))
                assert set(got) <= set(stream.sent)
            assert fleet.a.alive() and fleet.b.alive()
        finally:
            if stream is not None:
                stream.stop()
            peers.close()
            fleet.a.stop()
            fleet.b.stop()
