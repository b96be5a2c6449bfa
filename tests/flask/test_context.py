"""apps/context_app.py and apps/shared_session_app.py served by each implementation, with
python-socketio clients on both transports: the Flask request, app context, g, session and
Flask-Login's current_user inside handlers, and the teardown hooks around each event."""

from __future__ import annotations

from typing import Dict

import pytest
import requests
from ferrosocket_testing import wait_until

from conftest import Peers, Served, make_peers, serve_app

context = serve_app("context_app")
shared_session = serve_app("shared_session_app")


@pytest.fixture
def peers(context: Served, transport: str):
    yield from make_peers(context, transport)


@pytest.fixture
def shared_peers(shared_session: Served, transport: str):
    yield from make_peers(shared_session, transport)


def cookie_header(http: requests.Session) -> Dict[str, str]:
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in http.cookies)}


def test_request_sid_namespace_event(peers: Peers) -> None:
    peer = peers.new(namespaces=("/", "/ctx"))
    assert peer.call("whoami", {"a": 1}) == {
        "sid": peer.sid(), "namespace": "/", "message": "whoami", "args": [{"a": 1}]}
    assert peer.call("whoami", "x", "y") == {
        "sid": peer.sid(), "namespace": "/", "message": "whoami", "args": ["x", "y"]}
    assert peer.call("whoami", 0, namespace="/ctx") == {
        "sid": peer.sid("/ctx"), "namespace": "/ctx", "message": "whoami"}
    assert peer.sid("/ctx") != peer.sid("/")


def test_request_from_the_handshake(peers: Peers) -> None:
    peer = peers.new(query="?token=abc&lang=fr",
                     headers={"X-Custom": "custom-value", "Cookie": "flavor=mint"})
    got = peer.call("handshake")
    assert got["args"]["token"] == "abc" and got["args"]["lang"] == "fr"
    assert got["header"] == "custom-value"
    assert got["cookie"] == "mint"
    assert got["remote_addr"] == "127.0.0.1"
    assert got["path"] == "/socket.io/"
    assert got["app"] is True
    assert got["config"] == "hello from the config"


def test_g_is_fresh_for_every_event(peers: Peers) -> None:
    peer = peers.new()
    assert peer.call("g", "first") is None
    assert peer.call("g", "second") is None


def test_managed_session_is_a_per_connection_fork(context: Served, peers: Peers) -> None:
    http = requests.Session()
    try:
        assert http.get(context.url + "/session/set/from-http", timeout=10).text == "ok"
        alice = peers.new(headers=cookie_header(http))
        bob = peers.new(headers=cookie_header(http))
        # The fork starts as the HTTP session the handshake's cookie carried ...
        assert alice.call("session_get") == "from-http"
        # ... and keeps a handler's changes for the next events of the same client only:
        assert alice.call("session_set", "from-socket") is True
        assert alice.call("session_get") == "from-socket"
        assert bob.call("session_get") == "from-http"
        # HTTP routes never see them.
        assert http.get(context.url + "/session/get", timeout=10).json() == "from-http"
    finally:
        http.close()


def test_managed_session_without_a_cookie(peers: Peers) -> None:
    peer = peers.new()
    assert peer.call("session_get") is None
    assert peer.call("session_set", 42) is True
    assert peer.call("session_get") == 42


def test_unmanaged_session_is_flasks(shared_session: Served, shared_peers: Peers) -> None:
    http = requests.Session()
    try:
        assert http.get(shared_session.url + "/session/set/http-value", timeout=10).text == "ok"
        peer = shared_peers.new(headers=cookie_header(http))
        assert peer.call("session_get") == "http-value"
        # With Flask's cookie session interface, every event loads the session from the
        # handshake's cookie again: a handler's change is saved into a response no client
        # ever gets, so the next event sees the handshake's session again (Flask-SocketIO's
        # documented "frozen at connection time" for cookie sessions).
        assert peer.call("session_set", "socket-value") is True
        assert peer.call("session_get") == "http-value"
        assert http.get(shared_session.url + "/session/get", timeout=10).json() == "http-value"
    finally:
        http.close()


def test_flask_login_current_user(context: Served, peers: Peers) -> None:
    anonymous = peers.new()
    assert anonymous.call("me") is None
    http = requests.Session()
    try:
        assert http.get(context.url + "/login/alice", timeout=10).text == "logged in"
        alice = peers.new(headers=cookie_header(http))
        assert alice.call("me") == "alice"
    finally:
        http.close()


def test_teardown_hooks_run_for_every_event(context: Served, peers: Peers) -> None:
    peer = peers.new()
    sid = peer.sid()
    peer.call("g", 1)
    peer.call("g", 2)

    def mine():
        return [t for t in context.json("/teardowns") if t[1] == sid]

    got = wait_until(lambda: len(mine()) == 4 and mine(), what="four teardowns")
    assert sorted(map(tuple, got)) == sorted([
        ("request", sid, "g"), ("appcontext", sid, "g"),
        ("request", sid, "g"), ("appcontext", sid, "g")])
