"""Refusal, binary, rooms, call, isolation, errors, GC and type errors."""

from __future__ import annotations

import gc
import logging
import threading
import time
import weakref
from typing import Any, List

import pytest
import requests
import socketio

from conftest import Clients, Inbox, wait_for

import ferrosocket


def test_connect_refused_by_false(server: ferrosocket.Server, clients: Clients) -> None:
    server.on("connect", lambda sid, environ: False)
    errors = Inbox()
    client = socketio.Client(reconnection=False)
    clients.clients.append(client)
    client.on("connect_error", errors.put)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(clients.url(), transports=["websocket"], wait_timeout=5)
    assert errors.wait() == [{"message": "Connection rejected by server"}]


def test_connect_refused_with_data(server: ferrosocket.Server, clients: Clients) -> None:
    @server.on("connect")
    def connect(sid: str, environ: dict, auth: Any) -> None:
        if not auth or auth.get("token") != "good":
            raise ferrosocket.ConnectionRefusedError("bad token", {"retry": False})

    errors = Inbox()
    client = socketio.Client(reconnection=False)
    clients.clients.append(client)
    client.on("connect_error", errors.put)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(clients.url(), transports=["websocket"], auth={"token": "bad"}, wait_timeout=5)
    (error,) = errors.wait()
    assert error == {"message": "bad token", "data": {"retry": False}}
    ok = clients.connect(auth={"token": "good"})
    assert ok.connected


def test_environ(server: ferrosocket.Server, clients: Clients) -> None:
    environs = Inbox()
    server.on("connect", lambda sid, environ: environs.put(environ))
    clients.connect(headers={"X-Trace": "abc"})
    (environ,) = environs.wait()
    assert environ["PATH_INFO"] == "/socket.io/"
    assert "EIO=4" in environ["QUERY_STRING"]
    assert environ["HTTP_X_TRACE"] == "abc"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"


def test_binary_both_ways(server: ferrosocket.Server, clients: Clients) -> None:
    @server.on("bin")
    def binary(sid: str, data: Any) -> Any:
        assert isinstance(data["blob"], bytes)
        server.emit("back", (data["blob"][::-1], {"n": [b"\x00\x01"]}), to=sid)
        return data["blob"] + b"!"

    inbox = Inbox()
    client = clients.connect()
    client.on("back", lambda *args: inbox.put(args))
    assert client.call("bin", {"blob": b"\x01\x02\xff"}, timeout=5) == b"\x01\x02\xff!"
    (args,) = inbox.wait()
    assert args == (b"\xff\x02\x01", {"n": [b"\x00\x01"]})


def test_ack_with_several_values_and_none(server: ferrosocket.Server, clients: Clients) -> None:
    server.on("two", lambda sid: (1, "two"))
    server.on("none", lambda sid: None)
    client = clients.connect()
    assert client.call("two", timeout=5) == (1, "two")
    assert client.call("none", timeout=5) is None


def test_rooms_and_skip_sid(server: ferrosocket.Server, clients: Clients) -> None:
    @server.on("join")
    def join(sid: str, room: str) -> List[str]:
        server.enter_room(sid, room)
        return sorted(server.rooms(sid))

    @server.on("say")
    def say(sid: str, room: str, text: str) -> None:
        server.emit("said", text, room=room, skip_sid=sid)

    inboxes = [Inbox(), Inbox(), Inbox()]
    members = []
    for inbox in inboxes:
        client = clients.connect()
        client.on("said", inbox.put)
        members.append(client)
    a, b, c = members
    assert a.call("join", "r", timeout=5) == sorted(["r", a.get_sid()])
    b.call("join", "r", timeout=5)
    a.emit("say", ("r", "hello"))
    assert inboxes[1].wait() == ["hello"]
    # The sender is skipped and c is not in the room.
    time.sleep(0.3)
    assert inboxes[0].items == [] and inboxes[2].items == []
    # Broadcast to the namespace, and to one sid.
    server.emit("said", "all")
    for inbox in inboxes:
        wait_for(lambda inbox=inbox: "all" in inbox.items)
    server.emit("said", "only c", to=c.get_sid())
    assert inboxes[2].wait(2)[-1] == "only c"
    server.leave_room(b.get_sid(), "r")
    server.close_room("r")
    assert server.rooms(a.get_sid()) == [a.get_sid()]


def test_call_from_handler_thread(server: ferrosocket.Server, clients: Clients) -> None:
    @server.on("ask")
    def ask(sid: str) -> Any:
        return server.call("question", "x", to=sid, timeout=5)

    client = clients.connect()
    client.on("question", lambda x: x + "!")
    assert client.call("ask", timeout=10) == "x!"


def test_call_from_main_thread(server: ferrosocket.Server, clients: Clients) -> None:
    client = clients.connect()
    client.on("question", lambda a, b: (a + b, "ok"))
    assert server.call("question", (1, 2), to=client.get_sid(), timeout=5) == (3, "ok")
    client.on("slow", lambda: time.sleep(1))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        server.call("slow", to=client.get_sid(), timeout=0.3)
    assert time.monotonic() - started < 0.9


def test_emit_callback(server: ferrosocket.Server, clients: Clients) -> None:
    answers = Inbox()
    client = clients.connect()
    client.on("q", lambda n: n * 2)
    server.emit("q", 21, to=client.get_sid(), callback=lambda *args: answers.put(args))
    assert answers.wait() == [(42,)]


def test_handler_exception_is_logged(
    server: ferrosocket.Server, clients: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    @server.on("boom")
    def boom(sid: str) -> None:
        raise ValueError("kaboom")

    server.on("ping", lambda sid: "pong")
    client = clients.connect()
    with caplog.at_level(logging.ERROR, logger="ferrosocket"):
        client.emit("boom")
        assert client.call("ping", timeout=5) == "pong"
        wait_for(lambda: any(r.exc_info for r in caplog.records))
    record = next(r for r in caplog.records if r.exc_info)
    assert record.name == "ferrosocket"
    assert "kaboom" in caplog.text and "Traceback" in caplog.text


def test_slow_handler_does_not_stall_others(server: ferrosocket.Server, clients: Clients) -> None:
    server.on("slow", lambda sid: time.sleep(1) or "slow")
    server.on("fast", lambda sid: "fast")
    slow = clients.connect()
    fast = clients.connect()
    done = Inbox()
    threading.Thread(target=lambda: done.put(slow.call("slow", timeout=5)), daemon=True).start()
    time.sleep(0.1)
    started = time.monotonic()
    assert fast.call("fast", timeout=5) == "fast"
    assert time.monotonic() - started < 0.5
    assert done.wait() == ["slow"]


def test_per_client_order(server: ferrosocket.Server, clients: Clients) -> None:
    got: List[int] = []
    server.on("n", lambda sid, n: got.append(n))
    client = clients.connect()
    for i in range(100):
        client.emit("n", i)
    client.call("n", 100, timeout=5)
    assert got == list(range(101))


def test_catch_all_and_sessions(server: ferrosocket.Server, clients: Clients) -> None:
    @server.on("*")
    def any_event(event: str, sid: str, *args: Any) -> Any:
        return [event, *args]

    @server.event
    def login(sid: str, name: str) -> None:
        with server.session(sid) as session:
            session["name"] = name

    @server.event
    def whoami(sid: str) -> Any:
        return server.get_session(sid).get("name")

    client = clients.connect()
    assert client.call("other", (1, 2), timeout=5) == ["other", 1, 2]
    client.call("login", "ann", timeout=5)
    assert client.call("whoami", timeout=5) == "ann"


def test_connect_emit_arrives_after_connect(server: ferrosocket.Server, clients: Clients) -> None:
    @server.on("connect")
    def connect(sid: str, environ: dict) -> None:
        server.emit("welcome", sid, to=sid)

    inbox = Inbox()
    client = socketio.Client(reconnection=False)
    clients.clients.append(client)
    client.on("welcome", inbox.put)
    client.connect(clients.url(), transports=["websocket"], wait_timeout=5)
    assert inbox.wait() == [client.get_sid()]


def test_server_disconnect(server: ferrosocket.Server, clients: Clients) -> None:
    reasons = Inbox()
    server.on("disconnect", lambda sid, reason: reasons.put(reason))
    client = clients.connect()
    server.disconnect(client.get_sid())
    assert reasons.wait() == [ferrosocket.Server.reason.SERVER_DISCONNECT]
    wait_for(lambda: not client.connected)


def test_unsupported_type_is_type_error(server: ferrosocket.Server, clients: Clients) -> None:
    client = clients.connect()
    with pytest.raises(TypeError, match="object"):
        server.emit("x", object(), to=client.get_sid())
    with pytest.raises(TypeError, match="set"):
        server.emit("x", {"a": {1, 2}})
    with pytest.raises(TypeError, match="dict keys"):
        server.emit("x", {1: "a"})


def test_unsupported_return_is_logged(
    server: ferrosocket.Server, clients: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    server.on("bad", lambda sid: object())
    client = clients.connect()
    with caplog.at_level(logging.ERROR, logger="ferrosocket"):
        with pytest.raises(socketio.exceptions.TimeoutError):
            client.call("bad", timeout=0.5)
        wait_for(lambda: "not JSON serializable" in caplog.text)


def test_dropped_server_frees_handlers() -> None:
    sio = ferrosocket.Server(handler_threads=1)

    class Handler:
        def __call__(self, sid: str) -> None:
            pass

    handler = Handler()
    # A cycle through the native object: the handler refers to the server.
    handler.server = sio  # type: ignore[attr-defined]
    sio.on("x", handler)
    sio.start("127.0.0.1", 0)
    handler_ref = weakref.ref(handler)
    server_ref = weakref.ref(sio)
    del sio, handler
    gc.collect()
    assert server_ref() is None
    assert handler_ref() is None


def test_port_and_stop() -> None:
    sio = ferrosocket.Server()
    assert sio.port is None
    port = sio.start("127.0.0.1", 0)
    assert port and sio.port == port
    sio.stop()
    sio.stop()


def test_static_dir(tmp_path: Any) -> None:
    (tmp_path / "index.html").write_text("<title>hello</title>")
    (tmp_path / "app.js").write_text("console.log(1)")
    (tmp_path / ".secret").write_text("no")
    with pytest.raises(ValueError, match="not a directory"):
        ferrosocket.Server(static_dir=str(tmp_path / "missing"))
    sio = ferrosocket.Server(static_dir=str(tmp_path))
    try:
        base = f"http://127.0.0.1:{sio.start('127.0.0.1', 0)}"
        index = requests.get(f"{base}/", timeout=5)
        assert index.status_code == 200 and index.text == "<title>hello</title>"
        assert index.headers["content-type"].startswith("text/html")
        script = requests.get(f"{base}/app.js", timeout=5)
        assert script.status_code == 200 and script.text == "console.log(1)"
        assert requests.get(f"{base}/.secret", timeout=5).status_code == 404
        assert requests.get(f"{base}/missing.css", timeout=5).status_code == 404
        # The Socket.IO path still belongs to the server.
        handshake = requests.get(f"{base}/socket.io/?EIO=4&transport=polling", timeout=5)
        assert handshake.status_code == 200 and handshake.text.startswith("0{")
    finally:
        sio.stop()


def test_background_task_emits(server: ferrosocket.Server, clients: Clients) -> None:
    ticks = Inbox()
    client = clients.connect()
    client.on("tick", ticks.put)
    stop = threading.Event()

    def ticker(prefix: str) -> None:
        n = 0
        while not stop.is_set():
            server.emit("tick", f"{prefix}{n}")
            n += 1
            server.sleep(0.01)

    thread = server.start_background_task(ticker, "t")
    try:
        got = ticks.wait(3)
        assert got[:3] == ["t0", "t1", "t2"]
        assert thread.daemon
    finally:
        stop.set()
        thread.join(2)
