"""The exceptions a Python user catches: the same types (and errnos) as Python's own servers
and python-socketio raise for the same mistake, and signatures checked at registration."""

from __future__ import annotations

import errno
import inspect
import socket
import socketserver
import time
from typing import Any, Iterator

import pytest
import socketio

from conftest import Clients

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
