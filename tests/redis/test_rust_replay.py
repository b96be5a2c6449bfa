"""The captured messages of fixtures/python-socketio replayed into the Rust test-server
(`--redis-format python-socketio --redis-channel flask-socketio`): each is PUBLISHed on
the channel by redis-py, exactly as Flask-SocketIO published it (or, where it names a sid,
with the captured sid swapped for a test-server client's), and the test-server's
python-socketio clients must get what Flask-SocketIO's clients got. The ack of a replayed
emit-with-callback must come back as a `callback` message shaped like callback.json.

"Not delivered" is checked by PUBLISHing a marker broadcast after the message under test
on the same connection: Redis hands them to the test-server in that order."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any, Dict, Iterator, List

import pytest
import redis
from ferrosocket_testing import wait_until

from conftest import CHANNEL, WAIT, Peer, Peers, RedisServer, RustMember, read_fixture, token


class Replay:
    """A test-server on its own redis-server, and a redis-py connection that publishes on
    its channel and records what the channel carries."""

    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.rust = RustMember(server.url)
        self.conn = redis.Redis.from_url(server.url)
        self.pubsub = self.conn.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(CHANNEL)
        self.seen: List[bytes] = []
        self.lock = threading.Lock()
        self.running = True
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while self.running:
            message = self.pubsub.get_message(timeout=0.1)
            if message and message["type"] == "message":
                with self.lock:
                    self.seen.append(message["data"])

    def publish(self, raw: bytes) -> None:
        assert self.conn.publish(CHANNEL, raw) >= 2  # the test-server and our reader

    def marker(self, everyone: List[Peer]) -> None:
        """A broadcast in the captured shape, published after what the test published; once
        every peer has it, what they did not get they will not get."""
        tag = "marker-" + token()
        message = json.loads(read_fixture("emit-all.json"))
        message["data"] = [{"from": "marker", "data": tag}]
        message["host_id"] = uuid.uuid4().hex
        self.publish(json.dumps(message).encode())
        for peer in everyone:
            peer.news(tag)

    def published(self, method: str) -> List[Dict[str, Any]]:
        with self.lock:
            decoded = [json.loads(raw) for raw in self.seen]
        return [message for message in decoded if message.get("method") == method]

    def stop(self) -> None:
        self.running = False
        self.reader.join(timeout=2)
        self.pubsub.close()
        self.conn.close()
        self.rust.stop()


@pytest.fixture(scope="module")
def replay() -> Iterator[Replay]:
    with RedisServer() as server:
        started = Replay(server)
        try:
            yield started
        finally:
            started.stop()


def with_sid(name: str, sid: str) -> bytes:
    """The fixture with every captured sid in it replaced by `sid` (same JSON encoder and
    key order as python-socketio's)."""
    message = json.loads(read_fixture(name))
    captured = message.get("sid") or message.get("skip_sid") or message.get("room")
    raw = read_fixture(name).decode()
    assert captured and raw.count(captured) >= 1
    return raw.replace(captured, sid).encode()


def got(peer: Peer, event: str, args: List[Any], timeout: float = WAIT) -> None:
    peer.inbox.wait_for(event, lambda received: received == args, timeout)


def test_broadcasts_as_flask_socketio_published_them(replay: Replay, peers: Peers) -> None:
    r1, r2 = peers.on(replay.rust), peers.on(replay.rust)
    for name, event, args in (
        ("emit-all.json", "news", [{"from": "a", "data": "hello fleet"}]),
        ("emit-route.json", "news", [{"route": True}]),
        ("emit-unicode.json", "news", ["h\u00e9llo \u2603 \U0001f600"]),
        ("emit-tuple.json", "pair", ["a", [1, 2.5, None, True]]),
        ("emit-binary.json", "blob", [{"from": "a", "data": b"\x00\x01\xfe\xff"}]),
        ("emitter-emit-all.json", "news", [{"from": "emitter"}]),
    ):
        replay.publish(read_fixture(name))
        got(r1, event, args)
        got(r2, event, args)


def test_room_and_skip_sid_as_captured(replay: Replay, peers: Peers) -> None:
    r_lobby, r_other = peers.on(replay.rust), peers.on(replay.rust)
    assert "lobby" in r_lobby.call("join", "lobby")
    replay.publish(read_fixture("emit-room.json"))
    replay.publish(read_fixture("emitter-emit-room.json"))
    got(r_lobby, "news", [{"from": "a", "data": "hello lobby"}])
    got(r_lobby, "news", ["to the lobby"])
    replay.marker([r_lobby, r_other])
    assert [{"from": "a", "data": "hello lobby"}] not in r_other.inbox.of("news")
    assert ["to the lobby"] not in r_other.inbox.of("news")
    # skip_sid naming one of the test-server's sockets.
    replay.publish(with_sid("emit-skip-sid.json", r_lobby.sid))
    got(r_other, "news", [{"from": "a", "data": "not to me"}])
    replay.marker([r_lobby, r_other])
    assert [{"from": "a", "data": "not to me"}] not in r_lobby.inbox.of("news")


def test_room_membership_and_disconnect_as_captured(replay: Replay, peers: Peers) -> None:
    r1, r2 = peers.on(replay.rust), peers.on(replay.rust)
    replay.publish(with_sid("enter-room.json", r1.sid))
    wait_until(lambda: "annex" in r1.call("rooms"), timeout=WAIT, what="enter_room applied")
    replay.publish(with_sid("leave-room.json", r1.sid))
    wait_until(lambda: "annex" not in r1.call("rooms"), timeout=WAIT, what="leave_room applied")
    assert "lobby" in r2.call("join", "lobby")
    replay.publish(read_fixture("close-room.json"))
    wait_until(lambda: "lobby" not in r2.call("rooms"), timeout=WAIT, what="close_room applied")
    replay.publish(with_sid("disconnect.json", r1.sid))
    assert r1.disconnected.wait(WAIT), "disconnect.json did not disconnect its sid"
    replay.marker([r2])
    assert not r2.disconnected.is_set()


def test_an_ack_goes_back_as_python_socketio_expects(replay: Replay, peers: Peers) -> None:
    r1 = peers.on(replay.rust)
    asked = json.loads(read_fixture("emit-callback.json"))
    replay.publish(with_sid("emit-callback.json", r1.sid))
    got(r1, "question", ["ready?"])
    wait_until(lambda: [m for m in replay.published("callback") if m.get("sid") == r1.sid],
               timeout=WAIT, what="the test-server's callback message")
    answer = [m for m in replay.published("callback") if m.get("sid") == r1.sid][0]
    expected = json.loads(read_fixture("callback.json"))
    expected["sid"] = r1.sid
    expected["host_id"] = asked["host_id"]  # the emitting server's, as captured
    assert answer == expected
