"""The Rust test-server (tests/test-server/SPEC.md, `--redis URL --redis-format
python-socketio --redis-channel flask-socketio`) and a Flask-SocketIO server
(apps/fleet_app.py) on one redis-server: the core's Redis adapter in python-socketio's
format against the real python-socketio, with python-socketio clients on both transports
on each. Both directions for broadcasts, rooms, skip_sid, binary; Flask-SocketIO's
app-less emitter reaching test-server clients; an ack from a test-server client coming
back to Flask-SocketIO's callback; Flask-SocketIO's join_room / leave_room / close_room /
disconnect of a test-server socket and the test-server's fleet_join / fleet_disconnect of
a Flask-SocketIO socket; pickle and garbage on the channel.

The test-server binary is target/debug/test-server (`cargo build --workspace --bins`) or
FERROSOCKET_TEST_SERVER."""

from __future__ import annotations

import pickle
import threading
import uuid
from typing import Iterator, List

import pytest
from ferrosocket_testing import wait_until
from redis_servers import RedisCluster

from conftest import (CHANNEL, WAIT, Member, Peer, Peers, RedisServer, RustMember, fence,
                      read_fixture, run_emitter, token, wait_subscribed)

class RustFleet:
    def __init__(self, server: RedisServer) -> None:
        self.redis = server
        self.rust = RustMember(server.url)
        try:
            self.flask = Member("flask_socketio", "f", server.url)
        except BaseException:
            self.rust.stop()
            raise

    def publish(self, payload: bytes) -> int:
        import redis

        with redis.Redis.from_url(self.redis.url) as conn:
            return int(conn.publish(CHANNEL, payload))

    def stop(self) -> None:
        self.flask.stop()
        self.rust.stop()


@pytest.fixture(scope="module")
def fleet() -> Iterator[RustFleet]:
    with RedisServer() as server:
        started = RustFleet(server)
        try:
            wait_subscribed(server, CHANNEL, [started.rust.url, started.flask.url])
            yield started
        finally:
            started.stop()


def news(name: str, tag: str) -> List[Any]:
    return [{"from": name, "data": tag}]


def test_broadcasts_both_ways_exactly_once(fleet: RustFleet, peers: Peers) -> None:
    r1, r2, f1 = peers.on(fleet.rust), peers.on(fleet.rust), peers.on(fleet.flask)
    everyone = [r1, r2, f1]
    from_rust, from_flask = token(), token()
    assert r1.call("emit", {"event": "news", "args": news("rust", from_rust)}) is True
    assert f1.call("broadcast", from_flask) is True
    for peer in everyone:
        assert peer.news(from_rust) == news("rust", from_rust)
        assert peer.news(from_flask) == news("f", from_flask)
    fence(fleet.rust, everyone)
    fence(fleet.flask, everyone)
    for peer in everyone:
        tags = [args[0]["data"] for args in peer.inbox.of("news")]
        assert tags.count(from_rust) == 1 and tags.count(from_flask) == 1, tags


def test_rooms_both_ways(fleet: RustFleet, peers: Peers) -> None:
    r_in, r_out, f_in, f_out = (peers.on(fleet.rust), peers.on(fleet.rust),
                                peers.on(fleet.flask), peers.on(fleet.flask))
    everyone = [r_in, r_out, f_in, f_out]
    room = "room-" + token()
    assert room in r_in.call("join", room)
    assert f_in.call("join", room) is True
    tag = token()
    assert r_in.call("emit", {"event": "news", "args": news("rust", tag), "to": [room]}) is True
    assert f_in.news(tag) == news("rust", tag)
    r_in.news(tag)
    fence(fleet.rust, everyone)
    assert not r_out.got_news(tag) and not f_out.got_news(tag)
    tag = token()
    assert f_in.call("to_room", {"room": room, "data": tag}) is True
    assert r_in.news(tag) == news("f", tag)
    fence(fleet.flask, everyone)
    assert not r_out.got_news(tag) and not f_out.got_news(tag)


def test_sender_and_skip_sid_excluded_both_ways(fleet: RustFleet, peers: Peers) -> None:
    r1, r2, f1 = peers.on(fleet.rust), peers.on(fleet.rust), peers.on(fleet.flask)
    everyone = [r1, r2, f1]
    tag = token()
    assert r1.call("emit", {"event": "news", "args": news("rust", tag),
                            "include_self": False}) is True
    f1.news(tag)
    r2.news(tag)
    fence(fleet.rust, everyone)
    assert not r1.got_news(tag)
    tag = token()
    fleet.flask.post("/emit", {"event": "news", "data": {"from": "f", "data": tag},
                               "skip_sid": r1.sid})
    r2.news(tag)
    f1.news(tag)
    fence(fleet.flask, everyone)
    assert not r1.got_news(tag)


def test_flask_socketio_emitter_reaches_the_test_server(fleet: RustFleet, peers: Peers) -> None:
    r1, r_room = peers.on(fleet.rust), peers.on(fleet.rust)
    room = "room-" + token()
    assert room in r_room.call("join", room)
    to_all, to_room = token(), token()
    run_emitter("flask_socketio", fleet.redis.url, [
        {"event": "news", "data": {"from": "emitter", "data": to_all}},
        {"event": "news", "data": {"from": "emitter", "data": to_room}, "to": room},
    ])
    r1.news(to_all)
    r_room.news(to_all)
    r_room.news(to_room)
    fence(fleet.flask, [r1, r_room])
    assert not r1.got_news(to_room)


def test_ack_of_a_test_server_client_reaches_flask_socketio(fleet: RustFleet,
                                                           peers: Peers) -> None:
    r1 = peers.on(fleet.rust)
    q = token()
    fleet.flask.post("/ask", {"sid": r1.sid, "q": q, "tag": q})
    r1.inbox.wait_for("question", lambda args: args == [q])
    wait_until(lambda: [q, ["answer:" + q]] in fleet.flask.get("/answers"), timeout=WAIT,
               what="the test-server client's ack on Flask-SocketIO")


def test_flask_socketio_manages_a_test_server_socket(fleet: RustFleet, peers: Peers) -> None:
    r1, r2 = peers.on(fleet.rust), peers.on(fleet.rust)
    room = "room-" + token()
    fleet.flask.post("/join", {"sid": r1.sid, "room": room})
    wait_until(lambda: room in r1.call("rooms"), timeout=WAIT, what="the remote join")
    tag = token()
    fleet.flask.post("/emit", {"event": "news", "data": {"from": "f", "data": tag}, "to": room})
    r1.news(tag)
    fleet.flask.post("/leave", {"sid": r1.sid, "room": room})
    wait_until(lambda: room not in r1.call("rooms"), timeout=WAIT, what="the remote leave")
    assert room in r2.call("join", room)
    fleet.flask.post("/close_room", {"room": room})
    wait_until(lambda: room not in r2.call("rooms"), timeout=WAIT, what="the remote close_room")
    fleet.flask.post("/disconnect", {"sid": r1.sid})
    assert r1.disconnected.wait(WAIT), "the test-server client was not disconnected"
    fence(fleet.flask, [r2])
    assert not r2.disconnected.is_set()


def test_the_test_server_manages_a_flask_socketio_socket(fleet: RustFleet, peers: Peers) -> None:
    r1, f1, f2 = peers.on(fleet.rust), peers.on(fleet.flask), peers.on(fleet.flask)
    room = "room-" + token()
    assert r1.call("fleet_join", {"to": [f1.sid], "rooms": [room]}) is True
    tag = token()
    # The join and this emit go out in this order from one server.
    assert r1.call("emit", {"event": "news", "args": news("rust", tag), "to": [room]}) is True
    assert f1.news(tag) == news("rust", tag)
    fence(fleet.rust, [f1, f2])
    assert not f2.got_news(tag)
    assert r1.call("fleet_disconnect", {"to": [f1.sid]}) is True
    assert f1.disconnected.wait(WAIT), "the Flask-SocketIO client was not disconnected"
    fence(fleet.rust, [f2])
    assert not f2.disconnected.is_set()


def test_binary_both_ways(fleet: RustFleet, peers: Peers) -> None:
    r1, f1 = peers.on(fleet.rust), peers.on(fleet.flask)
    payload = b"\x00\x01\xfe\xff" + uuid.uuid4().bytes
    assert r1.call("emit", {"event": "blob",
                            "args": [{"from": "rust", "data": payload}, [payload[:2]]]}) is True
    assert f1.inbox.wait_for("blob", lambda args: args[0]["data"] == payload) == [
        {"from": "rust", "data": payload}, [payload[:2]]]
    payload = uuid.uuid4().bytes
    assert f1.call("binary", payload) is True
    assert r1.inbox.wait_for("blob", lambda args: args[0]["data"] == payload) == [
        {"from": "f", "data": payload}]


def test_pickle_and_garbage_leave_the_test_server_serving(fleet: RustFleet) -> None:
    # Once, not per transport: the warning it looks for is rate-limited per process.
    peers = Peers("polling")
    try:
        check_bad_messages(fleet, peers)
    finally:
        peers.close()


def check_bad_messages(fleet: RustFleet, peers: Peers) -> None:
    r1, f1 = peers.on(fleet.rust), peers.on(fleet.flask)
    tag = token()
    fleet.publish(read_fixture("legacy-pickle-emit.pickle"))
    fleet.publish(pickle.dumps({"method": "emit", "event": "news",
                                "data": [{"from": "pickle", "data": tag}],
                                "host_id": uuid.uuid4().hex}))
    for junk in (b"", b"\xff\x00", b"{", b"5", b"[]", b'{"method": "emit"}',
                 b'{"method": "emit", "event": 1, "data": {}, "host_id": "x"}',
                 b'{"method": "callback", "host_id": "x", "sid": [], "id": "a"}'):
        fleet.publish(junk)
    fence(fleet.flask, [r1, f1])
    assert not r1.got_news(tag) and not r1.got_news("hello fleet")
    assert fleet.rust.alive(), fleet.rust.log()
    wait_until(lambda: "pickle" in fleet.rust.log().lower(), timeout=WAIT,
               what="a warning about pickle in the test-server's log")


# --------------------------------------------------------------------------- faults


def rust_broadcast(sender: Peer, tag: str) -> None:
    assert sender.call("emit", {"event": "news", "args": news(sender.member.name, tag)}) is True


def rust_keeps_delivering(sender: Peer, receiver: Peer, timeout: float = 60.0) -> None:
    """Broadcasts from `sender` until one reaches `receiver` (at most once: what is
    published while a server resubscribes is lost)."""
    def attempt() -> bool:
        tag = token()
        rust_broadcast(sender, tag)
        try:
            receiver.news(tag, timeout=0.5)
        except AssertionError:
            return False
        return True

    wait_until(attempt, timeout=timeout, what="cross-server delivery", every=0)


def two_test_servers(server: RedisServer) -> List[RustMember]:
    first = RustMember(server.url, name="a")
    try:
        return [first, RustMember(server.url, name="b")]
    except BaseException:
        first.stop()
        raise


def test_test_servers_with_redis_down_at_start() -> None:
    server = RedisServer(start=False)
    members: List[RustMember] = []
    peers = Peers("polling")
    try:
        members = two_test_servers(server)
        a, b = members
        a1, a2, b1 = peers.on(a), peers.on(a), peers.on(b)
        tag = token()
        rust_broadcast(a1, tag)
        a2.news(tag)  # local delivery while Redis is down
        wait_until(lambda: "redis" in a.log().lower(), timeout=WAIT,
                   what="a log line about Redis")
        server.start()
        rust_keeps_delivering(a1, b1)
        rust_keeps_delivering(b1, a2)
        assert a.alive() and b.alive()
    finally:
        peers.close()
        for member in members:
            member.stop()
        server.stop()


def test_test_servers_with_redis_restarted_mid_broadcast() -> None:
    with RedisServer() as server:
        members = two_test_servers(server)
        peers = Peers("polling")
        done = threading.Event()
        sent: List[str] = []
        errors: List[BaseException] = []
        lock = threading.Lock()
        try:
            a, b = members
            sender, a_watch, b_watch = peers.on(a), peers.on(a), peers.on(b)
            rust_keeps_delivering(sender, b_watch)

            def stream() -> None:
                while not done.is_set():
                    tag = "stream-" + token()
                    with lock:
                        sent.append(tag)
                    try:
                        rust_broadcast(sender, tag)
                    except BaseException as error:  # noqa: BLE001 - reported below
                        errors.append(error)
                        return

            def got(peer: Peer) -> List[str]:
                return [args[0]["data"] for args in peer.inbox.of("news")
                        if str(args[0].get("data", "")).startswith("stream-")]

            def sent_since(start: int) -> set:
                with lock:
                    return set(sent[start:])

            thread = threading.Thread(target=stream, daemon=True)
            thread.start()
            wait_until(lambda: len(got(b_watch)) >= 5, timeout=WAIT, what="the stream on b")
            server.kill()
            down = len(sent)
            wait_until(lambda: sent_since(down + 1) & set(got(a_watch)), timeout=WAIT,
                       what="local delivery on a while Redis is down")
            server.restart()
            restarted = len(sent)
            wait_until(lambda: sent_since(restarted + 1) & set(got(b_watch)), timeout=60,
                       what="delivery to b after the restart")
            done.set()
            thread.join(timeout=WAIT + 5)
            assert not errors, errors
            for watcher in (a_watch, b_watch):
                tags = got(watcher)
                assert len(tags) == len(set(tags))
                assert set(tags) <= set(sent)
            assert a.alive() and b.alive()
        finally:
            done.set()
            peers.close()
            for member in members:
                member.stop()


# --------------------------------------------------------------------------- URLs, cluster


@pytest.mark.parametrize("kind", ["password-and-db", "unix-socket", "valkey-scheme"])
def test_test_servers_on_each_url_form(kind: str) -> None:
    if kind == "password-and-db":
        server = RedisServer(password="fleet-secret", db=5)
        url = server.url
    elif kind == "unix-socket":
        server = RedisServer(unix_socket=True)
        url = server.url
    else:
        server = RedisServer()
        url = f"valkey://127.0.0.1:{server.port}/0"
    members: List[RustMember] = []
    peers = Peers("polling")
    try:
        members = [RustMember(url, name="a")]
        members.append(RustMember(url, name="b"))
        a1, b1 = peers.on(members[0]), peers.on(members[1])
        rust_keeps_delivering(a1, b1, timeout=WAIT)
        rust_keeps_delivering(b1, a1, timeout=WAIT)
    finally:
        peers.close()
        for member in members:
            member.stop()
        server.stop()


def test_test_servers_sharded_on_a_redis_cluster() -> None:
    """python-socketio's format in the sharded mode (SSUBSCRIBE/SPUBLISH), each server
    given a different node of a three-node cluster."""
    with RedisCluster() as cluster:
        members: List[RustMember] = []
        peers = Peers("polling")
        try:
            members = [RustMember(cluster.urls[0], name="a", cluster=True)]
            members.append(RustMember(cluster.urls[1], name="b", cluster=True))
            a, b = members
            a1, b1, b2 = peers.on(a), peers.on(b), peers.on(b)
            rust_keeps_delivering(a1, b1, timeout=WAIT)
            rust_keeps_delivering(b1, a1, timeout=WAIT)
            room = "room-" + token()
            assert room in a1.call("join", room)
            assert room in b1.call("join", room)
            tag = token()
            assert b2.call("emit", {"event": "news", "args": news("b", tag), "to": [room]}) is True
            a1.news(tag)
            b1.news(tag)
            fence(b, [a1, b1, b2])
            assert not b2.got_news(tag)
        finally:
            peers.close()
            for member in members:
                member.stop()
