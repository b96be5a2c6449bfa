"""The exceptions a Python user catches: the same types (and errnos) as Python's own servers
and python-socketio raise for the same mistake, and signatures checked at registration."""

from __future__ import annotations

import contextlib
import errno
import functools
import inspect
import socket
import socketserver
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
import socketio
import werkzeug.serving

from conftest import Clients, release, wait_for

import ferrosocket
import ferrosocket.exceptions


@pytest.fixture
def occupied() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.create_server(("127.0.0.1", 0)) as other:
        yield other.getsockname()[1]


def test_address_in_use_is_oserror_like_pythons_servers(occupied: int) -> None:
    with pytest.raises(OSError) as python:
        socket.create_server(("127.0.0.1", occupied))
    sio = ferrosocket.Server()
    try:
        with pytest.raises(OSError) as ours:
            sio.start("127.0.0.1", occupied)
        assert type(ours.value) is type(python.value) is OSError
        assert ours.value.errno == python.value.errno == errno.EADDRINUSE
        assert ours.value.strerror is not None and str(occupied) in ours.value.strerror
        # run() raises the same, and the server is left unstarted (it can try another port).
        with pytest.raises(OSError) as run:
            sio.run("127.0.0.1", occupied)
        assert run.value.errno == errno.EADDRINUSE
        assert sio.port is None
    finally:
        sio.stop()


def test_two_servers_on_one_port() -> None:
    first, second = ferrosocket.Server(), ferrosocket.Server()
    try:
        port = first.start("127.0.0.1", 0)
        with pytest.raises(OSError) as error:
            second.start("127.0.0.1", port)
        assert error.value.errno == errno.EADDRINUSE
    finally:
        first.stop()
        second.stop()


def test_address_not_local_is_oserror_like_pythons() -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine.
    with pytest.raises(OSError) as python:
        socket.create_server(("192.0.2.1", 0))
    sio = ferrosocket.Server()
    try:
        with pytest.raises(OSError) as ours:
            sio.start("192.0.2.1", 0)
        assert type(ours.value) is type(python.value)
        assert ours.value.errno == python.value.errno == errno.EADDRNOTAVAIL
    finally:
        sio.stop()


def test_unresolvable_host_is_gaierror_like_pythons() -> None:
    host = "no-such-host.invalid"
    # socket.create_server re-raises the resolver's error as a plain OSError with its errno;
    # socketserver (http.server, wsgiref) lets bind's socket.gaierror through.
    with pytest.raises(OSError) as create_server:
        socket.create_server((host, 0))
    with pytest.raises(socket.gaierror) as socketserver_:
        socketserver.TCPServer((host, 0), socketserver.BaseRequestHandler)
    sio = ferrosocket.Server()
    try:
        with pytest.raises(socket.gaierror) as ours:
            sio.start(host, 0)
        # Ours is always EAI_NONAME (Rust's resolver does not say which error it was);
        # Python's is that here, or EAI_AGAIN where no name server answers.
        assert ours.value.errno == socket.EAI_NONAME
        assert create_server.value.errno in (socket.EAI_NONAME, socket.EAI_AGAIN)
        assert socketserver_.value.errno == create_server.value.errno
        assert host in str(ours.value)
    finally:
        sio.stop()


def test_port_out_of_range_is_overflowerror_like_bind() -> None:
    with socket.socket() as python, pytest.raises(OverflowError):
        python.bind(("127.0.0.1", 70000))
    sio = ferrosocket.Server()
    try:
        with pytest.raises(OverflowError):
            sio.start("127.0.0.1", 70000)
    finally:
        sio.stop()


def test_stopped_server_does_not_start_again() -> None:
    sio = ferrosocket.Server()
    sio.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        sio.start("127.0.0.1", 0)


def test_exceptions_mirror_socketio_exceptions() -> None:
    for name in ferrosocket.exceptions.__all__:
        ours = getattr(ferrosocket.exceptions, name)
        theirs = getattr(socketio.exceptions, name)
        # Same place in the same hierarchy: every python-socketio base has ours.
        assert [c.__name__ for c in theirs.__mro__ if c.__module__ == "socketio.exceptions"] == [
            c.__name__ for c in ours.__mro__ if c.__module__ == "ferrosocket.exceptions"
        ]
    # And the builtin of the same name, for code that catches that.
    assert issubclass(ferrosocket.exceptions.TimeoutError, TimeoutError)
    assert issubclass(ferrosocket.exceptions.ConnectionError, ConnectionError)
    assert ferrosocket.ConnectionRefusedError is ferrosocket.exceptions.ConnectionRefusedError
    refused = ferrosocket.exceptions.ConnectionRefusedError("bad", {"retry": False})
    assert refused.error_args == socketio.exceptions.ConnectionRefusedError(
        "bad", {"retry": False}
    ).error_args


def test_call_timeout_is_socketio_timeout_error(
    server: ferrosocket.Server, clients: Clients
) -> None:
    client = clients.connect()
    client.on("slow", lambda: time.sleep(1))
    with pytest.raises(ferrosocket.exceptions.TimeoutError) as error:
        server.call("slow", to=client.get_sid(), timeout=0.2)
    assert isinstance(error.value, ferrosocket.exceptions.SocketIOError)
    assert isinstance(error.value, TimeoutError)


def test_call_bad_arguments(server: ferrosocket.Server, clients: Clients) -> None:
    clients.connect()
    theirs = socketio.Server()
    with pytest.raises(ValueError):
        theirs.call("x")
    with pytest.raises(ValueError):
        server.call("x")
    with pytest.raises(ferrosocket.exceptions.ConnectionError) as error:
        server.call("x", to="no-such-sid", timeout=5)
    assert isinstance(error.value, ConnectionError)
    with pytest.raises(ValueError):
        server.call("x", to="no-such-sid", timeout=-1)


def test_default_address_is_flask_socketios() -> None:
    # Flask-SocketIO's socketio.run(app, host='127.0.0.1', port=5000) serves the app and
    # the socket there, and python-socketio's examples serve on 5000 too.
    for method in (ferrosocket.Server.start, ferrosocket.Server.run):
        parameters = inspect.signature(method).parameters
        assert parameters["host"].default == "127.0.0.1"
        assert parameters["port"].default == 5000
        assert "5000" in (method.__doc__ or "") + (ferrosocket.Server.start.__doc__ or "")


# -- handler signatures (issue 12 point 6) ----------------------------------------------
#
# Each handler records what it was called with, sid and environ replaced by markers, so
# the same handler run on python-socketio's Server and on ferrosocket.Server can be
# compared call for call.


def _seen(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[Any, ...]:
    def mark(value: Any) -> Any:
        if isinstance(value, dict) and "REQUEST_METHOD" in value:
            return "<environ>"
        if isinstance(value, str) and len(value) >= 16 and value.isascii() and " " not in value:
            return "<sid>"
        return value

    return tuple(mark(a) for a in args) + tuple(sorted(kwargs.items()))


class Recorder:
    """One kind of each handler shape: plain, defaults, *args/**kwargs, a bound method,
    functools.partial, a callable object."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, Tuple[Any, ...]]] = []

    def record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, _seen(args, kwargs)))

    def method_connect(self, sid: str, environ: Dict[str, Any]) -> None:
        self.record("method_connect", sid, environ)

    def __call__(self, sid: str, environ: Dict[str, Any], auth: Any) -> None:
        self.record("object_connect", sid, environ, auth)


# (event, handler maker): registered one namespace each, so every connect handler runs.
def _good_handlers(rec: Recorder) -> List[Tuple[str, str, Callable[..., Any]]]:
    def plain2(sid: str, environ: Dict[str, Any]) -> None:
        rec.record("plain2", sid, environ)

    def plain3(sid: str, environ: Dict[str, Any], auth: Any) -> None:
        rec.record("plain3", sid, environ, auth)

    def default_auth(sid: str, environ: Dict[str, Any], auth: Any = "default") -> None:
        rec.record("default_auth", sid, environ, auth)

    def star(*args: Any, **kwargs: Any) -> None:
        rec.record("star", *args, **kwargs)

    def tagged(tag: str, sid: str, environ: Dict[str, Any]) -> None:
        rec.record(tag, sid, environ)

    def bye(sid: str) -> None:
        rec.record("bye", sid)

    def bye_reason(sid: str, reason: str) -> None:
        rec.record("bye_reason", sid, reason is not None)

    def bye_star(*args: Any) -> None:
        rec.record("bye_star", *(args[:1]), len(args))

    def event_data(sid: str, data: Any = "none") -> Any:
        rec.record("event_data", sid, data)
        return "ok"

    def event_star(sid: str, *args: Any) -> Any:
        rec.record("event_star", sid, *args)
        return "ok"

    def catch_all(event: str, sid: str, *args: Any) -> Any:
        rec.record("catch_all", event, sid, *args)
        return "ok"

    return [
        ("/a", "connect", plain2),
        ("/b", "connect", plain3),
        ("/c", "connect", default_auth),
        ("/d", "connect", star),
        ("/e", "connect", rec.method_connect),
        ("/f", "connect", functools.partial(tagged, "partial")),
        ("/g", "connect", rec),
        ("/a", "disconnect", bye),
        ("/b", "disconnect", bye_reason),
        ("/c", "disconnect", bye_star),
        ("/a", "ev", event_data),
        ("/b", "ev", event_star),
        ("/c", "*", catch_all),
    ]


NAMESPACES = ["/a", "/b", "/c", "/d", "/e", "/f", "/g"]
# The namespaces whose connect handler takes `auth`: python-socketio refuses a client that
# sends auth to a handler of (sid, environ) (/a, /e, /f), ferrosocket calls it without.
TAKE_AUTH = ["/b", "/c", "/d", "/g"]


@contextlib.contextmanager
def _socketio_server(sio: socketio.Server) -> Iterator[str]:
    """python-socketio's Server on werkzeug's threaded WSGI server (long-polling)."""
    http = werkzeug.serving.make_server("127.0.0.1", 0, socketio.WSGIApp(sio), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(5)


def _session(url: str, namespaces: List[str], auth: Any) -> int:
    """The client script both servers see: connect to `namespaces`, send events to those
    of /a, /b, /c, leave. Returns how many handler calls that makes."""
    client = socketio.Client(reconnection=False)
    calls = len(namespaces)
    try:
        client.connect(url, namespaces=namespaces, auth=auth, transports=["polling"],
                       wait_timeout=5)
        for namespace in ("/a", "/b", "/c"):
            if namespace in namespaces:
                assert client.call("ev", "x", namespace=namespace, timeout=5) == "ok"
                calls += 2  # the event, and the disconnect
        if "/a" in namespaces:
            assert client.call("ev", namespace="/a", timeout=5) == "ok"
            calls += 1
    finally:
        release(client)
    return calls


@pytest.mark.parametrize(
    "namespaces, auth", [(NAMESPACES, None), (TAKE_AUTH, {"token": "t"})], ids=["no-auth", "auth"]
)
def test_handler_shapes_called_like_socketio(namespaces: List[str], auth: Any) -> None:
    theirs_rec, ours_rec = Recorder(), Recorder()
    theirs = socketio.Server(async_mode="threading")
    for namespace, event, handler in _good_handlers(theirs_rec):
        theirs.on(event, handler, namespace=namespace)
    with _socketio_server(theirs) as url:
        calls = _session(url, namespaces, auth)
        wait_for(lambda: len(theirs_rec.calls) >= calls, what="python-socketio's handlers")
    ours = ferrosocket.Server()
    try:
        for namespace, event, handler in _good_handlers(ours_rec):
            ours.on(event, handler, namespace=namespace)
        _session(f"http://127.0.0.1:{ours.start('127.0.0.1', 0)}", namespaces, auth)
        wait_for(lambda: len(ours_rec.calls) >= calls, what="ferrosocket's handlers")
    finally:
        ours.stop()
    # The one difference, on purpose: a connect handler that must take auth gets an empty
    # auth object as {} (python-socketio first tries (sid, environ), then passes None);
    # the test server's SPEC echoes {} (tests/python: test_welcome_echoes_an_empty_auth_object).
    expected = [
        (name, args[:2] + ({},))
        if name in ("plain3", "object_connect") and args[2:] == (None,)
        else (name, args)
        for name, args in theirs_rec.calls
    ]
    assert sorted(ours_rec.calls, key=repr) == sorted(expected, key=repr)
    assert len(ours_rec.calls) == calls


def _bad_handlers() -> List[Tuple[str, Callable[..., Any]]]:
    """Handlers the plain Server can never call right: Flask-SocketIO's shapes (no sid),
    too many required arguments, a required keyword-only one."""

    def connect() -> None: ...

    def connect_auth(auth: Any) -> None: ...

    def connect_sid(sid: str) -> None: ...

    def connect_four(sid: str, environ: Any, auth: Any, extra: Any) -> None: ...

    def connect_keyword(sid: str, environ: Any, *, key: Any) -> None: ...

    def disconnect() -> None: ...

    def disconnect_three(sid: str, reason: str, extra: Any) -> None: ...

    def event() -> None: ...

    def event_keyword(*, data: Any) -> None: ...

    def catch_all(event: str) -> None: ...

    return [
        ("connect", connect),
        ("connect", connect_auth),
        ("connect", connect_sid),
        ("connect", connect_four),
        ("connect", connect_keyword),
        ("connect", functools.partial(connect_sid, "bound")),
        ("disconnect", disconnect),
        ("disconnect", disconnect_three),
        ("message", event),
        ("message", event_keyword),
        ("*", catch_all),
    ]


@pytest.mark.parametrize("event, handler", _bad_handlers(), ids=lambda v: getattr(v, "__name__", v))
def test_wrong_signature_raises_at_registration(event: str, handler: Callable[..., Any]) -> None:
    # python-socketio takes it here and fails each client later (next test).
    socketio.Server().on(event, handler)
    sio = ferrosocket.Server()
    try:
        with pytest.raises(TypeError) as error:
            sio.on(event, handler)
        message = str(error.value)
        expected = {"connect": "(sid, environ) or (sid, environ, auth)",
                    "disconnect": "(sid) or (sid, reason)", "*": "(event, sid, *args)"}
        assert expected.get(event, "(sid, *args)") in message
        assert "ferrosocket.flask" in message
        # Nothing was registered: a client connects (no connect handler refuses it).
        if event == "connect":
            client = socketio.Client(reconnection=False)
            try:
                client.connect(f"http://127.0.0.1:{sio.start('127.0.0.1', 0)}",
                               transports=["polling"], wait_timeout=5)
                assert client.connected
            finally:
                release(client)
    finally:
        sio.stop()


def test_wrong_signature_in_the_decorators() -> None:
    sio = ferrosocket.Server()
    try:
        with pytest.raises(TypeError, match="ferrosocket.flask"):
            @sio.event
            def connect() -> None: ...

        with pytest.raises(TypeError, match=r"\(sid\) or \(sid, reason\)"):
            @sio.on("disconnect", namespace="/chat")
            def bye() -> None: ...

        with pytest.raises(TypeError, match=r"\(sid, \*args\)"):
            @sio.event(namespace="/chat")
            def message() -> None: ...
    finally:
        sio.stop()


def test_socketio_fails_each_client_where_we_fail_registration() -> None:
    """What the check saves a user from: on python-socketio, a Flask-SocketIO-style
    connect() registers fine and every client's connect fails (a TypeError in the log)."""
    theirs = socketio.Server(async_mode="threading", logger=False)

    @theirs.event
    def connect() -> None: ...

    with _socketio_server(theirs) as url:
        client = socketio.Client(reconnection=False)
        try:
            with pytest.raises(socketio.exceptions.ConnectionError):
                client.connect(url, transports=["polling"], wait_timeout=1)
        finally:
            release(client)
    ours = ferrosocket.Server()
    try:
        with pytest.raises(TypeError):
            ours.on("connect", connect)
    finally:
        ours.stop()
