"""examples/flask_chat/app.py, run as a process: Flask renders the chat page, and
python-socketio clients chat through ferrosocket on its own port (CORS: the Flask origin)."""

from __future__ import annotations

import os
import sys
import urllib.parse
from typing import Iterator, List

import pytest
import requests
import socketio

from conftest import Inbox
from ferrosocket_testing import close_client, drain_client_writes, start_command

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
APP = os.path.join(ROOT, "examples", "flask_chat", "app.py")


class FlaskChat:
    """app.py on free ports: `web` is Flask's address (LISTENING), `socket` ferrosocket's
    (the SOCKETIO line before it)."""

    def __init__(self) -> None:
        self.process = start_command(
            [sys.executable, APP, "--host", "127.0.0.1", "--port", "0", "--sio-port", "0"])
        assert "SOCKETIO" in self.process.announced, self.process.log_tail()
        self.socket = f"http://127.0.0.1:{self.process.announced['SOCKETIO']}"
        self.web = self.process.url


@pytest.fixture
def flask_chat() -> Iterator[FlaskChat]:
    app = FlaskChat()
    yield app
    code, _ = app.process.stop(timeout=10)
    assert code == 0, app.process.log_tail()


def test_page_renders_and_points_at_ferrosocket(flask_chat: FlaskChat) -> None:
    with requests.Session() as http:
        r = http.get(flask_chat.web + "/", allow_redirects=False, timeout=5)
        assert r.status_code == 302
        location = urllib.parse.urlsplit(r.headers["Location"])
        assert location.path == "/"
        assert urllib.parse.parse_qs(location.query) == {"server": [flask_chat.socket]}
        r = http.get(flask_chat.web + "/", timeout=5)
        assert r.status_code == 200 and r.url.startswith(flask_chat.web + "/?server=")
        page = r.text
        assert "<title>ferrosocket chat (Flask)</title>" in page
        for asset in ("/static/style.css", "/static/app.js", "/static/vendor/socket.io.min.js"):
            assert f'"{asset}"' in page
            got = http.get(flask_chat.web + asset, timeout=5)
            assert got.status_code == 200 and len(got.content) > 100, asset
        assert 'id="join-form"' in page and 'id="send-form"' in page
        # ferrosocket allows the Flask origin, not others.
        poll = flask_chat.socket + "/socket.io/?EIO=4&transport=polling"
        ok = http.get(poll, headers={"Origin": flask_chat.web}, timeout=5)
        assert ok.headers.get("Access-Control-Allow-Origin") == flask_chat.web
        bad = http.get(poll, headers={"Origin": "http://evil.test"}, timeout=5)
        assert bad.headers.get("Access-Control-Allow-Origin") != "http://evil.test"


def test_chat_through_the_socket_port(flask_chat: FlaskChat) -> None:
    made: List[socketio.Client] = []
    try:
        messages: List[Inbox] = []
        statuses: List[Inbox] = []
        for _ in range(2):
            client = socketio.Client(reconnection=False)
            made.append(client)
            messages.append(Inbox())
            statuses.append(Inbox())
            client.on("message", messages[-1].put)
            client.on("status", statuses[-1].put)
            # Polling, like a browser's first request, with the page's Origin (the
            # websocket-client transport sends its own Origin, the socket's, not allowed).
            client.connect(flask_chat.socket, transports=["polling"], wait_timeout=5,
                           headers={"Origin": flask_chat.web})
        alice, bob = made
        assert alice.call("join", {"username": "alice", "room": "flask"}, timeout=5) == {
            "ok": True, "room": "flask", "members": ["alice"]}
        assert bob.call("join", {"username": "bob", "room": "flask"}, timeout=5)["members"] == [
            "alice", "bob"]
        assert bob.call("message", {"text": " "}, timeout=5) == {
            "ok": False, "error": "text must be 1 to 2000 characters"}
        assert bob.call("message", {"text": "hi from flask"}, timeout=5) == {"ok": True}
        for inbox in messages:
            (got,) = inbox.wait(1)
            assert (got["room"], got["username"], got["text"]) == ("flask", "bob", "hi from flask")
        # The message's POST may still be returning: a disconnect() then would end bob's
        # write loop before it sends `41` and `1` (see drain_client_writes).
        drain_client_writes(bob)
        bob.disconnect()
        texts = [item["text"] for item in statuses[0].wait(3)]
        assert texts == ["alice joined", "bob joined", "bob left"]
    finally:
        for client in made:
            close_client(client)
