"""Fixtures of the Redis fleet suite: two Flask apps on one real redis-server, each served
by serve.py (tests/flask) under either implementation, and python-socketio clients on
both.

A test taking `fleet` runs once per pair of implementations (server a, server b): both
Flask-SocketIO (the harness's own proof), both ferrosocket.flask, and the mixed pair in
both orders; FLASK_IMPL=flask_socketio keeps the Flask-SocketIO pair only,
FLASK_IMPL=ferrosocket the pairs with a ferrosocket server. A test taking `transport`
runs with polling and with websocket clients. Servers and Redis are started by the
fixtures and stopped by them, by pid; the apps are tests/redis/apps/*.py, written once
with `from ferrosocket.flask import ...` (tests/flask/flask_impl.py rewrites that line for
Flask-SocketIO). This file holds no test and imports neither implementation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import redis
import requests
import socketio
from ferrosocket_testing import close_client, drain_client_writes, start_command, wait_until
from redis_servers import RedisServer

import flask_impl

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
SERVE = os.path.join(TESTS, "flask", "serve.py")
FLEET_APP = os.path.join(HERE, "apps", "fleet_app.py")
EMITTER_APP = os.path.join(HERE, "apps", "emitter_app.py")
SERVER_APP = os.path.join(HERE, "apps", "server_app.py")
MANAGER_EMITTER = os.path.join(HERE, "apps", "manager_emitter.py")
SERVER_CHANNEL = "socketio"
FIXTURES = os.path.join(HERE, "fixtures", "python-socketio")
CHANNEL = "flask-socketio"
TRANSPORTS = ("polling", "websocket")
WAIT = 10.0
SHORT = {"flask_socketio": "fsio", "ferrosocket": "ferro", "python_socketio": "pysio"}
REFERENCE_SERVER = {"flask_socketio": "python_socketio", "ferrosocket": "ferrosocket"}


def selected_pairs() -> List[Tuple[str, str]]:
    """(server a, server b) implementation pairs, reference pair first."""
    pairs = [("flask_socketio", "flask_socketio"), ("ferrosocket", "ferrosocket"),
             ("ferrosocket", "flask_socketio"), ("flask_socketio", "ferrosocket")]
    chosen = flask_impl.selected_impls()
    if chosen == ["flask_socketio"]:
        return pairs[:1]
    if chosen == ["ferrosocket"]:
        return pairs[1:]
    return pairs


def selected_server_pairs() -> List[Tuple[str, str]]:
    """The same pairs for the Flask-less servers: python-socketio instead of Flask-SocketIO."""
    return [(REFERENCE_SERVER[a], REFERENCE_SERVER[b]) for a, b in selected_pairs()]


def pair_id(pair: Tuple[str, str]) -> str:
    return "+".join(SHORT[impl] for impl in pair)


def pair_transports(pairs: List[Tuple[str, str]]) -> List[Tuple[Tuple[str, str], str]]:
    """(pair, transport) cases: every pair over websocket, and the first mixed pair also
    over polling. The client's transport is the server's business, not the fleet's (the
    Flask suite covers both on each server); FERROSOCKET_REDIS_ALL_TRANSPORTS=1 runs
    every pair on both."""
    if os.environ.get("FERROSOCKET_REDIS_ALL_TRANSPORTS"):
        return [(pair, t) for pair in pairs for t in TRANSPORTS]
    cases = [(pair, "websocket") for pair in pairs]
    mixed = [pair for pair in pairs if pair[0] != pair[1]]
    cases.append((mixed[0] if mixed else pairs[0], "polling"))
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pair" in metafunc.fixturenames and "transport" in metafunc.fixturenames:
        cases = pair_transports(selected_pairs())
        metafunc.parametrize(["pair", "transport"], cases,
                             ids=[f"{pair_id(p)}-{t}" for p, t in cases], scope="module")
        return
    if "server_pair" in metafunc.fixturenames and "transport" in metafunc.fixturenames:
        cases = pair_transports(selected_server_pairs())
        metafunc.parametrize(["server_pair", "transport"], cases,
                             ids=[f"{pair_id(p)}-{t}" for p, t in cases], scope="module")
        return
    if "pair" in metafunc.fixturenames:
        pairs = selected_pairs()
        metafunc.parametrize("pair", pairs, ids=[pair_id(p) for p in pairs], scope="module")
    if "server_pair" in metafunc.fixturenames:
        pairs = selected_server_pairs()
        metafunc.parametrize("server_pair", pairs, ids=[pair_id(p) for p in pairs],
                             scope="module")
    if "transport" in metafunc.fixturenames:
        metafunc.parametrize("transport", TRANSPORTS)
    if "impl" in metafunc.fixturenames:
        metafunc.parametrize("impl", flask_impl.selected_impls(), scope="module")


def token() -> str:
    return uuid.uuid4().hex[:12]


# --------------------------------------------------------------------------- servers


class Member:
    """tests/redis/apps/fleet_app.py served by serve.py for `impl`, in the fleet on `url`,
    under the name `name` (what its broadcasts carry in `from`)."""

    def __init__(self, impl: str, name: str, url: str, channel: str = CHANNEL) -> None:
        self.impl = impl
        self.name = name
        env = dict(os.environ, FLEET_REDIS_URL=url, FLEET_NAME=name, FLEET_CHANNEL=channel)
        self.process = start_command(self.command(url, channel), env=env, startup_timeout=30)
        self.url = self.process.url
        self.http = requests.Session()

    def command(self, url: str, channel: str) -> List[str]:
        return [sys.executable, SERVE, self.impl, FLEET_APP]

    def broadcast(self, data: Any) -> None:
        """A context-free `socketio.emit("news", data)` on this server (a route's)."""
        self.post("/emit", {"event": "news", "data": data})

    def post(self, route: str, body: Dict[str, Any]) -> Any:
        r = self.http.post(self.url + route, json=body, timeout=WAIT)
        assert r.status_code == 200, (route, r.status_code, r.text[:500])
        return r.json()

    def get(self, route: str) -> Any:
        r = self.http.get(self.url + route, timeout=WAIT)
        assert r.status_code == 200, (route, r.status_code, r.text[:500])
        return r.json()

    def alive(self) -> bool:
        return self.process.proc.poll() is None

    def log(self) -> str:
        return self.process.log_tail()

    def stop(self) -> None:
        self.http.close()
        code, killed = self.process.stop(timeout=10)
        assert not killed and code == 0, (self.impl, code, self.log())


class ServerMember(Member):
    """tests/redis/apps/server_app.py (python-socketio's `Server` API, no Flask) for `impl`
    (`python_socketio` or `ferrosocket`). What fleet_app does in routes it does in events,
    asked by a control client of its own (`control`)."""

    def __init__(self, impl: str, name: str, url: str, channel: str = SERVER_CHANNEL,
                 cluster: bool = False) -> None:
        self.cluster = cluster
        super().__init__(impl, name, url, channel)
        self._control: Optional[socketio.Client] = None
        self._control_gone: Optional[Tuple[Any, ...]] = None

    def command(self, url: str, channel: str) -> List[str]:
        cmd = [sys.executable, SERVER_APP, self.impl, url, "--channel", channel,
               "--name", self.name]
        return cmd + (["--cluster"] if self.cluster else [])

    def control(self, event: str, data: Any) -> Any:
        if self._control is None:
            self._control = socketio.Client(reconnection=False)
            self._control.on("disconnect", self._control_lost)
            self._control.connect(self.url, transports=["polling"], wait_timeout=WAIT)
        assert self._control_gone is None, (self.name, self._control_gone, self.log())
        return self._control.call(event, data, timeout=WAIT)

    def _control_lost(self, *reason: Any) -> None:
        self._control_gone = reason

    def broadcast(self, data: Any) -> None:
        assert self.control("server_emit", {"event": "news", "data": data}) is True

    def stop(self) -> None:
        if self._control is not None:
            close_client(self._control)
        super().stop()


ROOT = os.path.dirname(TESTS)


def server_binary() -> str:
    """The Rust test-server, found as tests/python finds it: FERROSOCKET_TEST_SERVER, or
    debug/test-server under CARGO_TARGET_DIR (relative to the repository) or target/."""
    path = os.environ.get("FERROSOCKET_TEST_SERVER") or os.path.join(
        ROOT, os.environ.get("CARGO_TARGET_DIR") or "target", "debug", "test-server")
    assert os.access(path, os.X_OK), (
        f"{path}: no test-server (cargo build --workspace --bins, or set "
        "FERROSOCKET_TEST_SERVER)")
    return path


class RustMember:
    """The test-server in the fleet, named `rust`. Context-free emits are asked of it by a
    control client of its own (SPEC.md's `emit` event)."""

    impl = "test-server"

    def __init__(self, url: str, channel: str = CHANNEL, name: str = "rust",
                 cluster: bool = False) -> None:
        self.name = name
        self.process = start_command([server_binary(), "--host", "127.0.0.1", "--port", "0",
                                      "--redis", url, "--redis-format", "python-socketio",
                                      "--redis-channel", channel]
                                     + (["--redis-cluster"] if cluster else []))
        self.url = self.process.url
        self._control: Optional[socketio.Client] = None

    def control(self, event: str, data: Any) -> Any:
        if self._control is None:
            self._control = socketio.Client(reconnection=False)
            self._control.connect(self.url, transports=["polling"], wait_timeout=WAIT)
        return self._control.call(event, data, timeout=WAIT)

    def emit(self, event: str, args: List[Any], **options: Any) -> None:
        assert self.control("emit", {"event": event, "args": args, **options}) is True

    def broadcast(self, data: Any) -> None:
        self.emit("news", [data])

    def alive(self) -> bool:
        return self.process.proc.poll() is None

    def log(self) -> str:
        return self.process.log_tail()

    def stop(self) -> None:
        if self._control is not None:
            close_client(self._control)
        code, killed = self.process.stop(timeout=10)
        assert not killed and code == 0, (code, self.log())


class Fleet:
    """Server a and server b (`members`) on one redis-server."""

    def __init__(self, redis_server: RedisServer, a: Member, b: Member) -> None:
        self.redis = redis_server
        self.a = a
        self.b = b

    def publish(self, payload: bytes, channel: str = CHANNEL) -> int:
        """PUBLISHes raw bytes on the fleet's channel (redis-py), returning the receiver
        count Redis reports."""
        with redis.Redis.from_url(self.redis.url) as conn:
            return int(conn.publish(channel, payload))


def start_fleet(pair: Tuple[str, str], server: RedisServer, url: Optional[str] = None) -> Fleet:
    """Server a and server b on `server`, both given `url` (the server's own by default)."""
    url = url or server.url
    a = Member(pair[0], "a", url)
    try:
        b = Member(pair[1], "b", url)
    except BaseException:
        a.process.stop()
        raise
    return Fleet(server, a, b)


def wait_subscribed(server: RedisServer, channel: str, urls: List[str]) -> None:
    """Returns once the servers at `urls` all listen on `channel`. python-socketio (so
    Flask-SocketIO too) starts its Redis listener at its server's first connection, not at
    start, and a PUBLISH reaches only those subscribed by then: a fresh member would miss
    whatever the fleet broadcasts first. Each server gets one client, then `PUBSUB NUMSUB`
    must count them all."""
    for url in urls:
        client = socketio.Client(reconnection=False)
        client.connect(url, transports=["polling"], wait_timeout=WAIT)
        close_client(client)
    with redis.Redis.from_url(server.url) as conn:
        wait_until(lambda: int(conn.pubsub_numsub(channel)[0][1]) >= len(urls), timeout=WAIT,
                   what=f"{len(urls)} subscribers on {channel!r}")


@pytest.fixture(scope="module")
def fleet(pair: Tuple[str, str]) -> Iterator[Fleet]:
    with RedisServer() as server:
        started = start_fleet(pair, server)
        try:
            wait_subscribed(server, CHANNEL, [started.a.url, started.b.url])
            yield started
        finally:
            started.a.stop()
            started.b.stop()


@pytest.fixture(scope="module")
def server_fleet(server_pair: Tuple[str, str]) -> Iterator[Fleet]:
    with RedisServer() as server:
        a = ServerMember(server_pair[0], "a", server.url)
        try:
            b = ServerMember(server_pair[1], "b", server.url)
        except BaseException:
            a.stop()
            raise
        try:
            wait_subscribed(server, SERVER_CHANNEL, [a.url, b.url])
            yield Fleet(server, a, b)
        finally:
            a.stop()
            b.stop()


def run_manager_emitter(impl: str, url: str, emits: List[Dict[str, Any]],
                        channel: str = SERVER_CHANNEL, cluster: bool = False) -> None:
    """tests/redis/apps/manager_emitter.py: a write-only RedisManager of `impl` in its own
    process, making `emits`, then exiting."""
    done = subprocess.run(
        [sys.executable, MANAGER_EMITTER, impl, url, channel, json.dumps(emits)]
        + (["--cluster"] if cluster else []),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and f"EMITTED {len(emits)}" in done.stdout, (
        impl, done.returncode, done.stdout[-2000:], done.stderr[-4000:])


def run_emitter(impl: str, url: str, emits: List[Dict[str, Any]],
                channel: str = CHANNEL) -> None:
    """tests/redis/apps/emitter_app.py for `impl` in its own process: an app-less
    `SocketIO(message_queue=url)` making `emits`, then exiting."""
    done = subprocess.run(
        [sys.executable, SERVE, impl, EMITTER_APP, "--main", "--", url, channel,
         json.dumps(emits)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and f"EMITTED {len(emits)}" in done.stdout, (
        impl, done.returncode, done.stdout[-2000:], done.stderr[-4000:])


# --------------------------------------------------------------------------- clients


class Inbox:
    """What a client received, in order, as (event, args) pairs."""

    def __init__(self) -> None:
        self.items: List[Tuple[str, List[Any]]] = []
        self.cond = threading.Condition()

    def put(self, event: str, args: List[Any]) -> None:
        with self.cond:
            self.items.append((event, args))
            self.cond.notify_all()

    def of(self, event: str) -> List[List[Any]]:
        with self.cond:
            return [args for name, args in self.items if name == event]

    def wait_for(self, event: str, match: Callable[[List[Any]], bool],
                 timeout: float = WAIT) -> List[Any]:
        """The args of the first `event` for which `match(args)` holds, waiting for it."""
        def found() -> Optional[List[Any]]:
            for args in self.of(event):
                if match(args):
                    return args
            return None

        with self.cond:
            if not self.cond.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(f"no matching {event!r} in {timeout}s; got {self.items!r}")
        result = found()
        assert result is not None
        return result


def carries(tag: str) -> Callable[[List[Any]], bool]:
    """Whether a `news` event's one argument ({"from", "data"}) carries `tag` as data."""
    return lambda args: (len(args) == 1 and isinstance(args[0], dict)
                         and args[0].get("data") == tag)


class Peer:
    """A python-socketio client of one server: records every event, answers `question`
    with `answer:<question>`."""

    def __init__(self, member: Member, transport: str) -> None:
        self.member = member
        self.sio = socketio.Client(reconnection=False)
        self.inbox = Inbox()
        self.disconnected = threading.Event()
        self.sio.on("*", lambda event, *args: self.inbox.put(event, list(args)))
        self.sio.on("question", self._answer)
        self.sio.on("disconnect", lambda *reason: self.disconnected.set())
        self.sio.connect(member.url, transports=[transport], wait_timeout=WAIT)
        self.sid = self.sio.get_sid()

    def _answer(self, question: Any) -> str:
        self.inbox.put("question", [question])
        return f"answer:{question}"

    def call(self, event: str, data: Any = None) -> Any:
        return self.sio.call(event, data, timeout=WAIT)

    def news(self, tag: str, timeout: float = WAIT) -> List[Any]:
        return self.inbox.wait_for("news", carries(tag), timeout)

    def got_news(self, tag: str) -> bool:
        return any(carries(tag)(args) for args in self.inbox.of("news"))

    def close(self) -> None:
        drain_client_writes(self.sio)
        close_client(self.sio)


class Peers:
    """Makes clients with one transport, closed together at teardown."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.made: List[Peer] = []

    def on(self, member: Member) -> Peer:
        peer = Peer(member, self.transport)
        self.made.append(peer)
        return peer

    def close(self) -> None:
        closers = [threading.Thread(target=peer.close) for peer in self.made]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join(timeout=30)


@pytest.fixture
def peers(transport: str) -> Iterator[Peers]:
    made = Peers(transport)
    try:
        yield made
    finally:
        made.close()


def fence(member: Member, everyone: List[Peer]) -> None:
    """Returns once every peer received a broadcast `member` made after whatever the test
    made it publish before: one server's messages reach each client in the order it
    published them, so what a peer did not get by then it will not get."""
    tag = "fence-" + token()
    member.broadcast({"from": member.name, "data": tag})
    for peer in everyone:
        peer.news(tag)


def read_fixture(name: str) -> bytes:
    with open(os.path.join(FIXTURES, name), "rb") as file:
        return file.read()


__all__ = ["Fleet", "Member", "Peer", "Peers", "RedisServer", "RustMember", "ServerMember", "fence",
           "read_fixture", "run_emitter", "run_manager_emitter", "start_fleet", "token",
           "wait_subscribed", "wait_until"]
