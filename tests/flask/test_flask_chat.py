"""examples/flask_chat/app.py, run as a process on each implementation (tests/flask/serve.py
--main: the same file, only its import line rewritten for Flask-SocketIO): the page and
the socket on ONE port, and python-socketio clients chatting through it on both
transports with the events every chat example has."""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest
import requests
from ferrosocket_testing import ServerProcess, drain_client_writes, start_command

from conftest import SERVE, Peers

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
APP = os.path.join(ROOT, "examples", "flask_chat", "app.py")
VENDOR = os.path.join(ROOT, "examples", "chat", "static", "vendor", "socket.io.min.js")


@pytest.fixture(scope="module")
def flask_chat(impl: str) -> Iterator[ServerProcess]:
    process = start_command([sys.executable, SERVE, impl, APP, "--main", "--",
                             "--host", "127.0.0.1", "--port", "0"], startup_timeout=30)
    yield process
    code, killed = process.stop(timeout=10)
    assert not killed and code == 0, process.log_tail()


@pytest.fixture
def peers(flask_chat: ServerProcess, transport: str) -> Iterator[Peers]:
    made = Peers(flask_chat.url, transport)
    yield made
    made.close()


def test_page_and_socket_on_one_port(flask_chat: ServerProcess) -> None:
    assert "SOCKETIO" not in flask_chat.announced
    with requests.Session() as http:
        r = http.get(flask_chat.url + "/", allow_redirects=False, timeout=10)
        assert r.status_code == 200
        page = r.text
        assert "<title>ferrosocket chat (Flask)</title>" in page
        assert 'id="join-form"' in page and 'id="send-form"' in page
        for asset in ("/static/style.css", "/static/app.js", "/static/vendor/socket.io.min.js"):
            assert f'"{asset}"' in page
        for asset in ("/static/style.css", "/static/app.js"):
            got = http.get(flask_chat.url + asset, timeout=10)
            assert got.status_code == 200 and len(got.content) > 100, asset
        if os.path.exists(VENDOR):
            got = http.get(flask_chat.url + "/static/vendor/socket.io.min.js", timeout=10)
            with open(VENDOR, "rb") as file:
                assert got.status_code == 200 and got.content == file.read()
        # The Socket.IO endpoint answers on the same port, with no CORS header for a
        # same-origin page (none is configured).
        poll = http.get(flask_chat.url + "/socket.io/?EIO=4&transport=polling", timeout=10)
        assert poll.status_code == 200 and poll.text.startswith("0{")
        assert "Access-Control-Allow-Origin" not in poll.headers


def test_chat(peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    assert alice.call("join", {"username": "alice", "room": "flask"}) == {
        "ok": True, "room": "flask", "members": ["alice"]}
    assert bob.call("join", {"username": "bob", "room": "flask"})["members"] == ["alice", "bob"]
    assert bob.call("message", {"text": " "}) == {
        "ok": False, "error": "text must be 1 to 2000 characters"}
    assert alice.call("message", {"no": "text"}) == {"ok": False, "error": "text is required"}
    assert bob.call("message", {"text": "hi from flask"}) == {"ok": True}
    for peer in (alice, bob):
        (got,) = peer.inbox.wait("message")
        assert (got[0]["room"], got[0]["username"], got[0]["text"]) == ("flask", "bob", "hi from flask")
        assert isinstance(got[0]["ts"], int)
    drain_client_writes(bob.sio)
    bob.sio.disconnect()
    texts = [args[0]["text"] for args in alice.inbox.wait("status", 3)]
    assert texts == ["alice joined", "bob joined", "bob left"]


def test_switching_rooms_and_leave(peers: Peers) -> None:
    alice, bob = peers.new(), peers.new()
    assert alice.call("message", {"text": "too early"}) == {"ok": False, "error": "join a room first"}
    assert alice.call("join", {"username": "alice", "room": "one"})["ok"] is True
    assert bob.call("join", {"username": "bob", "room": "one"})["ok"] is True
    assert alice.call("join", {"username": "alice", "room": "two"})["members"] == ["alice"]
    # Alice's move is announced in the room she left, not in the one she joined.
    assert [a[0]["text"] for a in bob.inbox.wait("status", 2)] == ["bob joined", "alice left"]
    assert bob.call("leave") == {"ok": True}
    assert bob.call("message", {"text": "gone"}) == {"ok": False, "error": "join a room first"}
    # Bob left the room before it was told, and alice is in another one.
    assert [a[0]["text"] for a in bob.inbox.of("status")] == ["bob joined", "alice left"]
    assert [a[0]["text"] for a in alice.inbox.of("status")] == [
        "alice joined", "bob joined", "alice joined"]
