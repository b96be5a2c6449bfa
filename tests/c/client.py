"""The real Socket.IO client side of the C tests: python-socketio, WebSocket transport.

Usage: client.py SCENARIO PORT. Exits 0 when every expectation of the scenario held.
"""

import sys
import threading
import time

import socketio

SCENARIO, PORT = sys.argv[1], int(sys.argv[2])
URL = f"http://127.0.0.1:{PORT}"


def fail(message):
    print(f"client.py {SCENARIO}: {message}", file=sys.stderr)
    sys.exit(1)


def expect(cond, message):
    if not cond:
        fail(message)


def connect(client, query="", auth=None, headers=None):
    client.connect(URL + query, auth=auth, headers=headers or {}, transports=["websocket"], wait_timeout=5)


def events():
    # Refused: the C connect callback refuses token "bad" with a message and JSON data.
    refused = socketio.Client()
    seen = {}
    refused.on("connect_error", lambda data: seen.setdefault("data", data))
    try:
        connect(refused, auth={"token": "bad"})
        fail("connect with a bad token was accepted")
    except socketio.exceptions.ConnectionError:
        pass  # python-socketio's text is generic; the message and data come to connect_error
    expect(seen.get("data") == {"message": "unauthorized", "data": {"code": 401}},
           f"refusal data: {seen.get('data')}")

    sio = socketio.Client()
    news, answered, gone = threading.Event(), threading.Event(), threading.Event()
    got = {}
    sio.on("news", lambda *args: (got.setdefault("news", args), news.set()))
    sio.on("welcome", lambda *args: got.setdefault("welcome", args))
    sio.on("question", lambda text: f"answer to {text}")
    sio.on("answered", lambda *args: (got.setdefault("answered", args), answered.set()))
    sio.on("disconnect", lambda *args: gone.set())
    connect(sio, query="?user=ann", auth={"token": "secret"}, headers={"X-Test": "yes"})

    expect(sio.call("echo", (1, "two", {"three": 3}), timeout=5) == (1, "two", {"three": 3}), "echo")
    expect(sio.call("echo", "é ü 😀", timeout=5) == "é ü 😀", "echo unicode")
    reply = sio.call("bin", b"\x00\x01\x02", timeout=5)
    expect(reply == (b"\x02\x01\x00", 3), f"binary ack: {reply!r}")
    expect(sio.call("later", 5, timeout=5) == ("later", 5), "deferred ack from another thread")
    rooms = sio.call("rooms", timeout=5)
    expect(rooms == [sio.get_sid("/"), "lobby"], f"rooms: {rooms}")
    expect(sio.call("handshake", timeout=5) == "ann yes secret", "handshake seen by the connect callback")
    expect(got.get("welcome") == ("hello ann",), f"welcome emitted from the connect callback: {got}")
    sio.emit("shout", {"text": "hi"})
    expect(news.wait(5), "news to the room")
    expect(got["news"] == ({"text": "hi"}, b"\xff"), f"news: {got['news']!r}")
    sio.emit("ask")
    expect(answered.wait(5), "server-to-client ack came back")
    expect(got["answered"] == ('["answer to q?"]',), f"answered: {got['answered']!r}")
    sio.emit("bye")
    expect(gone.wait(5), "server disconnect")
    sio.disconnect()


def concurrency():
    slow, fast, ordered = socketio.Client(), socketio.Client(), socketio.Client()
    for client in (slow, fast, ordered):
        connect(client)
    result = {}

    def call_slow():
        result["slow"] = slow.call("slow", timeout=10)

    thread = threading.Thread(target=call_slow)
    thread.start()
    time.sleep(0.2)  # the slow callback is now blocking a dispatch thread
    started = time.monotonic()
    for n in range(5):
        expect(fast.call("fast", n, timeout=5) == n, "fast ack")
    elapsed = time.monotonic() - started
    expect(elapsed < 0.6, f"another client's slow callback delayed this one: {elapsed:.2f}s")
    thread.join()
    expect(result.get("slow") == "done", "slow ack")

    for n in range(300):
        ordered.emit("seq", n)
    expect(ordered.call("seq_done", timeout=10) == [300, True], "events of one client in order")
    for client in (slow, fast, ordered):
        client.disconnect()


def linger():
    sio = socketio.Client()
    gone = threading.Event()
    sio.on("disconnect", lambda *args: gone.set())
    connect(sio)
    sio.emit("ready")
    expect(gone.wait(15), "disconnected by the server's stop/free")
    sio.disconnect()


{"events": events, "concurrency": concurrency, "linger": linger}[SCENARIO]()
