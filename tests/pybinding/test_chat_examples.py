"""examples/python_chat/chat.py, run as a process and driven by python-socketio clients:
the events, validation and messages of the Rust chat (examples/chat/src/main.rs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any, Iterator, List

import pytest
import socketio

from conftest import Inbox
from ferrosocket_testing import ServerProcess, close_client, start_command

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CHAT = os.path.join(ROOT, "examples", "python_chat", "chat.py")


def start_chat(*args: str) -> ServerProcess:
    """chat.py on a free port, once it printed LISTENING."""
    return start_command([sys.executable, CHAT, "--host", "127.0.0.1", "--port", "0", *args])


def stop(process: ServerProcess, sig: int = signal.SIGTERM) -> int:
    """Stops chat.py with `sig` (SIGKILL after 10 s) and returns its exit code."""
    code, _ = process.stop(timeout=10, sig=sig)
    assert code is not None
    return code


@pytest.fixture
def chat() -> Iterator[ServerProcess]:
    process = start_chat()
    yield process
    assert stop(process) == 0, process.log_tail()


class User:
    """A python-socketio client recording the `status` and `message` events it gets."""

    def __init__(self, url: str) -> None:
        self.client = socketio.Client(reconnection=False)
        self.status = Inbox()
        self.messages = Inbox()
        self.client.on("status", self.status.put)
        self.client.on("message", self.messages.put)
        self.client.connect(url, transports=["websocket"], wait_timeout=5)

    def call(self, event: str, data: Any) -> Any:
        return self.client.call(event, data, timeout=5)

    def close(self) -> None:
        close_client(self.client)


@pytest.fixture
def users(chat: ServerProcess) -> Iterator[Any]:
    made: List[User] = []

    def user() -> User:
        u = User(chat.url)
        made.append(u)
        return u

    yield user
    for u in made:
        u.close()


def texts(inbox: Inbox, count: int) -> List[str]:
    return [item["text"] for item in inbox.wait(count)]


def test_join_members_and_status(users: Any) -> None:
    alice, bob = users(), users()
    ack = alice.call("join", {"username": "  alice ", "room": " lobby "})
    assert ack == {"ok": True, "room": "lobby", "members": ["alice"]}
    assert alice.status.wait(1) == [{"room": "lobby", "text": "alice joined"}]
    ack = bob.call("join", {"username": "bob", "room": "lobby"})
    assert ack == {"ok": True, "room": "lobby", "members": ["alice", "bob"]}
    assert texts(alice.status, 2) == ["alice joined", "bob joined"]
    assert texts(bob.status, 1) == ["bob joined"]


def test_message_reaches_the_room_and_the_sender(users: Any) -> None:
    alice, bob, carol = users(), users(), users()
    alice.call("join", {"username": "alice", "room": "a"})
    bob.call("join", {"username": "bob", "room": "a"})
    carol.call("join", {"username": "carol", "room": "b"})
    before = int(time.time() * 1000)
    assert alice.call("message", {"text": "hello"}) == {"ok": True}
    for user in (alice, bob):
        (msg,) = user.messages.wait(1)
        assert {k: msg[k] for k in ("room", "username", "text")} == {
            "room": "a", "username": "alice", "text": "hello"}
        assert isinstance(msg["ts"], int) and before - 1000 <= msg["ts"] <= before + 10_000
    time.sleep(0.2)
    assert carol.messages.items == []


def test_validation_errors(users: Any) -> None:
    u = users()
    cases: List[Any] = [
        ("not an object", "expected {username, room}"),
        ({"room": "r"}, "username is required"),
        ({"username": 5, "room": "r"}, "username must be a string"),
        ({"username": "   ", "room": "r"}, "username must be 1 to 32 characters"),
        ({"username": "x" * 33, "room": "r"}, "username must be 1 to 32 characters"),
        ({"username": "u"}, "room is required"),
        ({"username": "u", "room": None}, "room must be a string"),
        ({"username": "u", "room": "r" * 65}, "room must be 1 to 64 characters"),
    ]
    for data, error in cases:
        assert u.call("join", data) == {"ok": False, "error": error}, data
    assert u.call("join", {"username": "x" * 32, "room": "r" * 64})["ok"] is True
    for data, error in [
        ("text", "expected {text}"),
        ({}, "text is required"),
        ({"text": 1}, "text must be a string"),
        ({"text": ""}, "text must be 1 to 2000 characters"),
        ({"text": "  \n "}, "text must be 1 to 2000 characters"),
        ({"text": "y" * 2001}, "text must be 1 to 2000 characters"),
    ]:
        assert u.call("message", data) == {"ok": False, "error": error}, data
    assert u.call("message", {"text": "y" * 2000}) == {"ok": True}


def test_message_before_join(users: Any) -> None:
    u = users()
    assert u.call("message", {"text": "hi"}) == {"ok": False, "error": "join a room first"}
    assert u.call("message", "bad") == {"ok": False, "error": "join a room first"}


def test_leave_and_disconnect_status(users: Any) -> None:
    alice, bob, carol = users(), users(), users()
    for user, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        user.call("join", {"username": name, "room": "r"})
    texts(alice.status, 3)
    assert bob.call("leave", {}) == {"ok": True}
    assert texts(alice.status, 4)[-1] == "bob left"
    assert bob.call("message", {"text": "hi"}) == {"ok": False, "error": "join a room first"}
    carol.close()
    assert texts(alice.status, 5)[-1] == "carol left"
    assert bob.call("leave", {}) == {"ok": True}
    ack = users().call("join", {"username": "dave", "room": "r"})
    assert ack["members"] == ["alice", "dave"]


def test_switching_rooms(users: Any) -> None:
    alice, bob = users(), users()
    alice.call("join", {"username": "alice", "room": "one"})
    bob.call("join", {"username": "bob", "room": "one"})
    texts(alice.status, 2)
    assert bob.call("join", {"username": "bob", "room": "two"})["members"] == ["bob"]
    assert texts(alice.status, 3)[-1] == "bob left"
    alice.call("message", {"text": "only one"})
    alice.messages.wait(1)
    time.sleep(0.2)
    assert bob.messages.items == []


def test_cli_cors_and_bad_static() -> None:
    process = start_chat("--cors", "http://example.test", "--cors", "http://other.test")
    try:
        import requests
        r = requests.get(f"{process.url}/socket.io/?EIO=4&transport=polling",
                         headers={"Origin": "http://other.test"}, timeout=5)
        assert r.status_code == 200
        assert r.headers.get("Access-Control-Allow-Origin") == "http://other.test"
        r.close()
    finally:
        assert stop(process) == 0, process.log_tail()
    done = subprocess.run([sys.executable, CHAT, "--port", "0", "--static", "/nonexistent"],
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 2 and "not a directory" in done.stderr


def test_ctrl_c_stops_with_clients_connected() -> None:
    process = start_chat()
    user = User(process.url)
    try:
        user.call("join", {"username": "u", "room": "r"})
    finally:
        code = stop(process, signal.SIGINT)
        user.close()
    assert code == 0, process.log_tail()
