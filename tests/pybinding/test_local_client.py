"""The in-process client (``_native.Server.local_client``) that ferrosocket.flask's test
client stands on: it goes through the server's real Socket.IO layer, namespaces, rooms,
broadcasts and acks, with no network port, and each call returns once the handlers it
caused have run. Nothing here sleeps or polls to wait for a handler.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List

import pytest

import ferrosocket
from conftest import Clients, Inbox
from ferrosocket._native import LocalClient, check_payload


def local(server: ferrosocket.Server, **kwargs: Any) -> LocalClient:
    return server._native.local_client(**kwargs)


def events(client: LocalClient, namespace: str = "/") -> List[Any]:
    return [data for nsp, kind, data, _ in client.received() if kind == "event" and nsp == namespace]


def test_connect_refuse_and_environ(server: ferrosocket.Server) -> None:
    environs: Dict[str, Dict[str, Any]] = {}

    @server.on("connect")
    def connect(sid: str, environ: Dict[str, Any], auth: Any) -> Any:
        if auth is None:
            return False
        if auth.get("token") != "ok":
            raise ferrosocket.exceptions.ConnectionRefusedError("bad token", {"code": 7})
        environs[sid] = environ
        return None

    client = local(
        server,
        target="/socket.io/?EIO=4&transport=polling&user=ann",
        headers=[("Cookie", "session=abc"), ("X-Multi", "a"), ("X-Multi", "b")],
        remote_addr="10.1.2.3:4567",
    )
    assert client.sid() is None
    assert client.connect() is False
    assert client.connect(auth={"token": "no"}) is False
    assert client.connect(auth={"token": "ok"}) is True
    sid = client.sid()
    assert sid is not None
    # Connected already: the same socket, nothing sent.
    assert client.connect(auth={"token": "ok"}) is True
    assert client.sid() == sid

    assert client.received() == [
        ("/", "connect_error", {"message": "Connection rejected by server"}, None),
        ("/", "connect_error", {"message": "bad token", "data": {"code": 7}}, None),
        ("/", "connect", {"sid": sid}, None),
    ]
    environ = environs[sid]
    assert environ["ferrosocket.eio_sid"] == client.eio_sid
    assert environ["QUERY_STRING"] == "EIO=4&transport=polling&user=ann"
    assert environ["HTTP_COOKIE"] == "session=abc"
    assert environ["HTTP_X_MULTI"] == "a,b"
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("10.1.2.3", "4567")

    with pytest.raises(TypeError):
        client.connect("/x", auth=["not", "a", "dict"])
    with pytest.raises(ValueError):
        local(server, remote_addr="nowhere")
    client.close()


def test_emit_ack_binary_and_handlers_ran_before_emit_returned(
    server: ferrosocket.Server,
) -> None:
    ran: List[Any] = []

    @server.on("work")
    def work(sid: str, *args: Any) -> Any:
        ran.append(args)
        server.emit("echo", args, to=sid)
        return ("done", len(args))

    @server.on("quiet")
    def quiet(sid: str, data: Any) -> None:
        ran.append(data)

    @server.on("boom")
    def boom(sid: str) -> Any:
        raise ValueError("handler failed")

    client = local(server)
    with pytest.raises(RuntimeError, match="not connected"):
        client.emit("/", "work", [1])
    assert client.connect()
    client.received()

    assert client.emit("/", "work", [1, {"a": [True, None]}], ack=True) == ["done", 2]
    assert ran == [(1, {"a": [True, None]})]
    assert client.emit("/", "quiet", ["x"]) is None
    assert ran[-1] == "x"
    # An ack asked of a handler that returns None: an empty acknowledgement.
    assert client.emit("/", "quiet", ["y"], ack=True) == []
    # A handler that raises sends no acknowledgement (it is logged).
    assert client.emit("/", "boom", [], ack=True) is None

    blob = bytes(range(256))
    assert client.emit("/", "work", [blob, {"nested": b"\x00"}], ack=True) == ["done", 2]
    assert ran[-1] == (blob, {"nested": b"\x00"})
    assert events(client) == [
        ["echo", 1, {"a": [True, None]}],
        ["echo", blob, {"nested": b"\x00"}],
    ]
    client.close()


def test_rooms_and_broadcasts_reach_local_and_network_clients(
    server: ferrosocket.Server, clients: Clients
) -> None:
    @server.on("join")
    def join(sid: str, room: str) -> None:
        server.enter_room(sid, room)

    @server.on("to_room")
    def to_room(sid: str, room: str, text: str) -> str:
        server.emit("room_news", text, room=room)
        return "sent"

    @server.on("shout")
    def shout(sid: str, text: str) -> str:
        server.emit("news", text)
        return "shouted"

    network = clients.connect()
    heard = Inbox()
    network.on("news", heard.put)
    network.on("room_news", heard.put)
    client = local(server)
    assert client.connect()
    client.received()

    # The local client's broadcast reaches itself and the network client.
    assert client.emit("/", "shout", ["from local"], ack=True) == ["shouted"]
    assert events(client) == [["news", "from local"]]
    assert heard.wait(1) == ["from local"]

    # The network client's broadcast reaches the local client: its ack comes after the
    # broadcast was queued for everyone.
    assert network.call("shout", "from network", timeout=5) == "shouted"
    assert events(client) == [["news", "from network"]]
    assert heard.wait(2)[-1] == "from network"

    # A room only the local client joined, then one both joined.
    client.emit("/", "join", ["locals"])
    network.call("to_room", ("locals", "only local"), timeout=5)
    assert events(client) == [["room_news", "only local"]]
    assert network.call("join", "both", timeout=5) is None
    client.emit("/", "join", ["both"])
    assert client.emit("/", "to_room", ["both", "to both"], ack=True) == ["sent"]
    assert events(client) == [["room_news", "to both"]]
    assert heard.wait(3)[-1] == "to both"
    assert sorted(server.rooms(client.sid() or "")) == sorted(
        [client.sid(), "locals", "both"]
    )
    client.close()


def test_namespaces_disconnect_and_close(server: ferrosocket.Server) -> None:
    reasons: List[Any] = []

    @server.on("connect", namespace="/chat")
    def chat_connect(sid: str, environ: Dict[str, Any]) -> None:
        server.emit("hello", "chat", to=sid, namespace="/chat")

    @server.on("ping", namespace="/chat")
    def chat_ping(sid: str) -> str:
        return "pong"

    @server.on("disconnect", namespace="/chat")
    def chat_disconnect(sid: str, reason: str) -> None:
        reasons.append(("/chat", reason))

    @server.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        reasons.append(("/", reason))

    client = local(server)
    assert client.connect()
    assert client.connect("chat")
    chat_sid = client.sid("/chat")
    assert chat_sid is not None and chat_sid != client.sid("/")
    # What the connect handler emitted comes after the connect answer.
    assert [(nsp, kind) for nsp, kind, _, _ in client.received()] == [
        ("/", "connect"),
        ("/chat", "connect"),
        ("/chat", "event"),
    ]
    assert client.emit("/chat", "ping", [], ack=True) == ["pong"]
    with pytest.raises(RuntimeError, match="not connected"):
        client.emit("/nowhere", "ping", [])
    # A namespace nobody registered is refused like for any client.
    assert client.connect("/nowhere") is False
    assert client.received() == [
        ("/nowhere", "connect_error", {"message": "Invalid namespace"}, None)
    ]

    # Leaving a namespace: its handler has run when disconnect returns.
    client.disconnect("/chat")
    assert reasons == [("/chat", "client disconnect")]
    assert client.sid("/chat") is None
    with pytest.raises(RuntimeError, match="not connected"):
        client.disconnect("/chat")

    # The server disconnecting it shows in received().
    assert client.connect("/chat")
    server.disconnect(client.sid("/chat") or "", namespace="/chat")
    # Its handler was queued on this client's lane: settle waits for it.
    client.settle()
    assert ("/chat", "disconnect", None, None) in client.received()
    assert client.sid("/chat") is None
    assert reasons[-1] == ("/chat", "server disconnect")

    # Closing the connection: every namespace's disconnect handler, then closed.
    client.close()
    assert reasons[-1] == ("/", "transport close")
    assert client.closed
    with pytest.raises(RuntimeError):
        client.emit("/", "ping", [])
    client.close()


def test_server_asks_the_local_client_for_an_ack(server: ferrosocket.Server) -> None:
    answered = Inbox()
    client = local(server)
    assert client.connect()
    sid = client.sid()
    assert sid is not None
    client.received()
    server.emit("question", "why", to=sid, callback=lambda *args: answered.put(args))
    ((nsp, kind, data, ack_id),) = client.received()
    assert (nsp, kind, data) == ("/", "event", ["question", "why"])
    assert isinstance(ack_id, int)
    # The server's callback runs on this client's lane after a hop through the runtime,
    # so ack does not wait for it.
    client.ack("/", ack_id, ["because", b"\x01"])
    assert answered.wait(1) == [("because", b"\x01")]
    client.close()


def test_handlers_run_on_dispatch_threads_not_the_caller(server: ferrosocket.Server) -> None:
    threads: List[str] = []

    @server.on("where")
    def where(sid: str) -> None:
        threads.append(threading.current_thread().name)

    client = local(server)
    assert client.connect()
    client.emit("/", "where", [])
    assert threads and threads[0] != threading.current_thread().name
    client.close()


def test_a_local_client_of_a_stopped_server_raises() -> None:
    sio = ferrosocket.Server()
    client = sio._native.local_client()
    assert client.connect()
    sio.stop()
    # Closed by the shutdown, or refused its callbacks: either way an error, not a hang.
    with pytest.raises(RuntimeError):
        client.emit("/", "anything", [])
    with pytest.raises(RuntimeError, match="stopped"):
        sio._native.local_client()


def test_check_payload_raises_what_emit_raises(server: ferrosocket.Server) -> None:
    check_payload({"a": [1, 2.5, None, True, "x", b"\x00"]})
    check_payload(None)
    check_payload(("several", "values"))
    for bad in (object(), float("nan"), {1, 2}, [float("inf")]):
        with pytest.raises((TypeError, ValueError)) as checked:
            check_payload(bad)
        with pytest.raises(type(checked.value)) as emitted:
            server.emit("e", bad)
        assert str(emitted.value) == str(checked.value)


def test_arguments_are_a_list_or_tuple(server: ferrosocket.Server) -> None:
    seen: List[Any] = []
    server.on("args", lambda sid, *args: seen.append(args))
    client = local(server)
    assert client.connect()
    client.emit("/", "args", ("a", "b"))
    client.emit("/", "args")
    assert seen == [("a", "b"), ()]
    for bad in ("ab", {"a": 1}, b"ab"):
        with pytest.raises(TypeError, match="list or tuple"):
            client.emit("/", "args", bad)
    with pytest.raises(TypeError):
        client.emit("/", "args", [object()])
    assert len(seen) == 2
    client.close()


def test_a_cycle_through_a_local_client_is_collected() -> None:
    import gc
    import weakref

    sio = ferrosocket.Server(handler_threads=1)

    class Handler:
        client: Any = None

        def __call__(self, sid: str) -> None:
            pass

    handler = Handler()
    # server -> handler -> local client -> server: the collector must see the last edge.
    handler.client = sio._native.local_client()
    assert handler.client.connect()
    sio.on("x", handler)
    handler_ref = weakref.ref(handler)
    server_ref = weakref.ref(sio)
    del sio, handler
    gc.collect()
    assert server_ref() is None
    assert handler_ref() is None
