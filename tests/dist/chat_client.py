"""One chat round trip against an installed-library build of examples/c_chat/chat.c.

Usage: chat_client.py PORT. Two python-socketio clients (WebSocket) join room "lobby";
one sends a message; the other receives it with room, username, text and a timestamp;
every ack comes back ok. The page is also fetched once (the --static directory is served).
Exits 0 when every expectation held, 1 with a message otherwise.
"""

import os
import sys
import threading
import time
import urllib.request

import socketio

# tests/support/ferrosocket_testing.py: the bounded waits and client clean-up of the suites.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ferrosocket_testing import close_client, wait_until  # noqa: E402

PORT = int(sys.argv[1])
URL = f"http://127.0.0.1:{PORT}"


def expect(cond, message):
    if not cond:
        print(f"chat_client.py: {message}", file=sys.stderr)
        sys.exit(1)


def main():
    with urllib.request.urlopen(URL + "/", timeout=5) as page:
        body = page.read().decode("utf-8", "replace")
        expect(page.status == 200 and "<html" in body.lower(), f"page: {page.status} {body[:80]!r}")

    ann, bob = socketio.Client(), socketio.Client()
    got = {"ann": [], "bob": [], "ann_status": []}
    lock = threading.Lock()

    def record(key):
        def handler(data):
            with lock:
                got[key].append(data)
        return handler

    ann.on("message", record("ann"))
    bob.on("message", record("bob"))
    ann.on("status", record("ann_status"))
    try:
        for client in (ann, bob):
            client.connect(URL, transports=["websocket"], wait_timeout=5)

        joined = ann.call("join", {"username": "ann", "room": "lobby"}, timeout=5)
        expect(joined == {"ok": True, "room": "lobby", "members": ["ann"]}, f"ann's join ack: {joined!r}")
        joined = bob.call("join", {"username": "bob", "room": "lobby"}, timeout=5)
        expect(joined == {"ok": True, "room": "lobby", "members": ["ann", "bob"]},
               f"bob's join ack: {joined!r}")
        wait_until(lambda: any(s.get("text") == "bob joined" for s in got["ann_status"]), 5,
                   "ann to see 'bob joined'")

        before = int(time.time() * 1000)
        sent = bob.call("message", {"text": "hello from python, via C"}, timeout=5)
        expect(sent == {"ok": True}, f"message ack: {sent!r}")
        wait_until(lambda: got["ann"], 5, "ann to receive bob's message")
        message = got["ann"][0]
        expect(isinstance(message, dict) and set(message) == {"room", "username", "text", "ts"},
               f"message fields: {message!r}")
        expect(message["room"] == "lobby" and message["username"] == "bob"
               and message["text"] == "hello from python, via C", f"message: {message!r}")
        expect(isinstance(message["ts"], int) and before - 5000 <= message["ts"] <= int(time.time() * 1000) + 5000,
               f"message ts: {message['ts']!r}")
        wait_until(lambda: got["bob"], 5, "bob to receive his own message (he is in the room)")

        refused = ann.call("message", {"text": 5}, timeout=5)
        expect(isinstance(refused, dict) and refused.get("ok") is False, f"invalid message ack: {refused!r}")
        left = ann.call("leave", {}, timeout=5)
        expect(left == {"ok": True}, f"leave ack: {left!r}")
    except AssertionError as error:  # wait_until's timeout
        expect(False, str(error))
    finally:
        for client in (ann, bob):
            close_client(client)
    print("chat_client.py: round trip ok")


main()
