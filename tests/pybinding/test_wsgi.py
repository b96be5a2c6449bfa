"""The WSGI bridge (``_native.Server.mount_wsgi``): a WSGI app, Flask's included, served
on the Socket.IO server's own port, over real HTTP on loopback.

Raw sockets where the bytes on the wire matter (chunked bodies, repeated headers, aborted
requests, a reader that stalls); http.client otherwise. No assertion is about time: the
waits are bounded, and only fail when something never happens.
"""

from __future__ import annotations

import gc
import hashlib
import http.client
import json
import logging
import re
import socket
import sys
import threading
import time
import weakref
import wsgiref.validate
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import flask
import pytest
import socketio
from ferrosocket_testing import close_client, wait_until

import ferrosocket

Environ = Dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]

WAIT = 10.0


class Served:
    """A started server with a WSGI app mounted; `close_calls` counts the iterables the
    server closed (every app is wrapped to record it)."""

    def __init__(self, sio: ferrosocket.Server) -> None:
        self.sio = sio
        self.closed: List[str] = []
        self.calls = 0
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        port = self.sio.port
        assert port is not None
        return port

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)

    def request(
        self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None
    ) -> Tuple[int, Dict[str, str], bytes]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def raw(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)


class Recording:
    """Wraps an app's result to record that the server called close() on it."""

    def __init__(self, served: Served, name: str, result: Iterable[bytes]) -> None:
        self.served, self.name, self.result = served, name, result
        self.iterator: Optional[Iterator[bytes]] = None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        close = getattr(self.result, "close", None)
        try:
            if close is not None:
                close()
        finally:
            with self.served.lock:
                self.served.closed.append(self.name)


@pytest.fixture
def mount() -> Iterator[Callable[..., Served]]:
    servers: List[ferrosocket.Server] = []

    def start(app: App, record: bool = True, **options: Any) -> Served:
        sio = ferrosocket.Server(handler_threads=8)
        servers.append(sio)
        served = Served(sio)

        def recorded(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            with served.lock:
                served.calls += 1
            return Recording(served, environ["PATH_INFO"], app(environ, start_response))

        sio._native.mount_wsgi(recorded if record else app, **options)
        sio.start("127.0.0.1", 0)
        return served

    yield start
    for sio in servers:
        sio.stop()


def hello(environ: Environ, start_response: StartResponse) -> List[bytes]:
    body = b"hello " + environ["PATH_INFO"].encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def read_response(sock: socket.socket) -> Tuple[int, Dict[str, str], bytes]:
    """One HTTP/1.1 response off a raw socket (Content-Length or chunked)."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    data = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def wsgi_errors(caplog: pytest.LogCaptureFixture) -> List[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ferrosocket.wsgi" and r.levelno >= logging.ERROR]


# --- conformance --------------------------------------------------------------------


def validated_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    method = environ["REQUEST_METHOD"]
    stream = environ["wsgi.input"]
    if method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        first = stream.readline(length)
        rest = stream.read(length - len(first))
        body = b"posted " + first + rest
    else:
        body = b"got " + environ["PATH_INFO"].encode("latin-1")
    environ["wsgi.errors"].write("")
    environ["wsgi.errors"].flush()
    write = start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    assert callable(write)

    def chunks() -> Iterator[bytes]:
        yield body[:3]
        yield body[3:]

    return chunks()


def test_an_app_under_wsgiref_validate_is_served_without_complaint(
    mount: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    served = mount(wsgiref.validate.validator(validated_app))
    status, headers, body = served.request("GET", "/a/b?x=1")
    assert (status, body) == (200, b"got /a/b")
    status, headers, body = served.request("POST", "/p", body=b"line one\nline two", headers={"Content-Type": "text/plain"})
    assert (status, body) == (200, b"posted line one\nline two")
    status, headers, body = served.request("HEAD", "/h")
    assert (status, body, headers["content-length"]) == (200, b"", "6")
    wait_until(lambda: len(served.closed) == 3, what="every iterable closed")
    assert wsgi_errors(caplog) == []


def echo_environ(environ: Environ, start_response: StartResponse) -> List[bytes]:
    shown = {k: v for k, v in environ.items() if isinstance(v, (str, bool, int))}
    shown["wsgi.version"] = list(environ["wsgi.version"])
    shown["body"] = environ["wsgi.input"].read().decode("latin-1")
    shown["has_errors"] = all(hasattr(environ["wsgi.errors"], m) for m in ("write", "writelines", "flush"))
    body = json.dumps(shown).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def test_the_environ_has_every_field(mount: Callable[..., Served]) -> None:
    served = mount(echo_environ)
    sock = served.raw()
    local_port = sock.getsockname()[1]
    sock.sendall(
        b"POST /caf%C3%A9/a%20b?x=1&y=%20 HTTP/1.1\r\n"
        b"Host: example.com:1234\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Length: 4\r\n"
        b"X-Multi: a\r\n"
        b"X-Multi: b\r\n"
        b"Cookie: a=1\r\n"
        b"Cookie: b=2\r\n"
        b"X_Smuggled: 1\r\n"
        b"X-Latin: caf\xe9\r\n"
        b"\r\n"
        b"data"
    )
    status, _, body = read_response(sock)
    sock.close()
    assert status == 200
    env = json.loads(body)
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/caf\xc3\xa9/a b", "percent-decoded, as latin-1"
    assert env["QUERY_STRING"] == "x=1&y=%20"
    assert env["CONTENT_TYPE"] == "text/plain"
    assert env["CONTENT_LENGTH"] == "4"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("example.com", "1234")
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(local_port)
    assert env["HTTP_HOST"] == "example.com:1234"
    assert env["HTTP_X_MULTI"] == "a, b"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert env["HTTP_X_LATIN"] == "caf\xe9"
    assert not any("SMUGGLED" in key for key in env), "headers with _ are dropped"
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.input_terminated"] is True
    assert env["wsgi.multithread"] is True
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["has_errors"] is True
    assert env["body"] == "data"


def test_without_a_host_the_listener_names_the_server(mount: Callable[..., Served]) -> None:
    served = mount(echo_environ, url_scheme="https")
    sock = served.raw()
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    response = http.client.HTTPResponse(sock)
    response.begin()
    env = json.loads(response.read())
    sock.close()
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", str(served.port))
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert env["wsgi.url_scheme"] == "https"
    _, _, body = served.request("GET", "/", headers={"Host": "secure.example"})
    env = json.loads(body)
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("secure.example", "443")


def test_bad_options_are_refused() -> None:
    sio = ferrosocket.Server()
    try:
        with pytest.raises(ValueError):
            sio._native.mount_wsgi(hello, url_scheme="ftp")
        with pytest.raises(TypeError):
            sio._native.mount_wsgi(42)
        with pytest.raises(TypeError):
            sio._native.mount_wsgi(hello, True)  # type: ignore[misc]
    finally:
        sio.stop()


# --- Flask ----------------------------------------------------------------------------


def flask_app() -> flask.Flask:
    app = flask.Flask(__name__)

    @app.route("/")
    def index() -> str:
        return "Hello, World!"

    @app.route("/json")
    def as_json() -> Any:
        return {"args": flask.request.args.to_dict(), "remote": flask.request.remote_addr}

    @app.route("/echo", methods=["POST"])
    def echo() -> Any:
        data = flask.request.get_data()
        return flask.Response(data, mimetype="application/octet-stream")

    @app.route("/form", methods=["POST"])
    def form() -> Any:
        return {"name": flask.request.form["name"]}

    return app


def test_flask_get_post_head(mount: Callable[..., Served]) -> None:
    served = mount(flask_app().wsgi_app)
    status, headers, body = served.request("GET", "/")
    assert (status, body, headers["content-length"]) == (200, b"Hello, World!", "13")
    status, _, body = served.request("GET", "/json?q=1")
    assert (status, json.loads(body)) == (200, {"args": {"q": "1"}, "remote": "127.0.0.1"})
    status, _, body = served.request("POST", "/echo", body=b"\x00\x01 binary")
    assert (status, body) == (200, b"\x00\x01 binary")
    status, _, body = served.request(
        "POST", "/form", body=b"name=ada", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (status, json.loads(body)) == (200, {"name": "ada"})
    status, headers, body = served.request("HEAD", "/")
    assert (status, body, headers["content-length"]) == (200, b"", "13")
    status, _, _ = served.request("GET", "/missing")
    assert status == 404
    wait_until(lambda: len(served.closed) == 6, what="every iterable closed, HEAD's too")


def test_keep_alive_reuses_the_connection(mount: Callable[..., Served]) -> None:
    served = mount(echo_environ)
    conn = served.connection()
    ports = set()
    for _ in range(3):
        conn.request("GET", "/")
        response = conn.getresponse()
        ports.add(json.loads(response.read())["REMOTE_PORT"])
        assert not response.will_close
    conn.close()
    assert len(ports) == 1, "three requests on one connection"


def test_socketio_still_works_on_the_same_port(mount: Callable[..., Served]) -> None:
    served = mount(flask_app().wsgi_app)
    served.sio.on("ping", lambda sid, data: ["pong", data])
    client = socketio.Client(reconnection=False)
    try:
        for transports in (["websocket"], ["polling"]):
            client.connect(f"http://127.0.0.1:{served.port}", transports=transports, wait_timeout=5)
            assert client.call("ping", 1, timeout=5) == ["pong", 1]
            client.disconnect()
    finally:
        close_client(client)
    assert served.request("GET", "/")[2] == b"Hello, World!"


# --- bodies -----------------------------------------------------------------------------


def digest_input(environ: Environ, start_response: StartResponse) -> List[bytes]:
    stream = environ["wsgi.input"]
    seen = hashlib.sha256()
    total = 0
    lines = 0
    for line in stream:
        lines += 1
        seen.update(line)
        total += len(line)
    body = json.dumps({"length": total, "sha256": seen.hexdigest(), "lines": lines}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def test_a_chunked_request_body_is_read_to_its_end(mount: Callable[..., Served]) -> None:
    served = mount(digest_input)
    sock = served.raw()
    parts = [b"first line\nsec", b"ond line\n", b"x" * 70000, b"\nlast"]
    sock.sendall(b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    for part in parts:
        sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    sock.sendall(b"0\r\n\r\n")
    status, _, body = read_response(sock)
    sock.close()
    whole = b"".join(parts)
    assert status == 200
    assert json.loads(body) == {"length": len(whole), "sha256": hashlib.sha256(whole).hexdigest(), "lines": 4}


def echo_stream(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    stream = environ["wsgi.input"]
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    while True:
        chunk = stream.read(65536)
        if not chunk:
            return
        yield chunk


def test_a_large_body_goes_in_and_out(mount: Callable[..., Served]) -> None:
    served = mount(echo_stream)
    payload = bytes(range(256)) * (5 * 4096)  # 5 MiB
    status, headers, body = served.request("POST", "/big", body=payload)
    assert status == 200
    assert headers.get("transfer-encoding") == "chunked"
    assert body == payload


def test_content_length_is_respected(mount: Callable[..., Served], caplog: pytest.LogCaptureFixture) -> None:
    def declared(environ: Environ, start_response: StartResponse) -> List[bytes]:
        length = "5" if environ["PATH_INFO"] == "/long" else "10"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", length)])
        return [b"hello", b" world"] if length == "5" else [b"short"]

    served = mount(declared)
    assert served.request("GET", "/long")[2] == b"hello", "no more than Content-Length"
    # A body shorter than announced is cut: the client never takes it as complete (hyper
    # may drop the head it had not flushed yet, too).
    conn = served.connection()
    conn.request("GET", "/short")
    with pytest.raises((http.client.IncompleteRead, http.client.RemoteDisconnected)):
        conn.getresponse().read()
    conn.close()
    wait_until(lambda: len(served.closed) == 2, what="both closed")
    assert served.request("GET", "/long")[0] == 200


# --- streaming, slow and aborted clients ------------------------------------------------


def test_a_slow_reader_holds_back_the_app_not_the_memory(mount: Callable[..., Served]) -> None:
    produced = [0]
    chunk = b"z" * 65536
    total = 512  # 32 MiB

    def stream(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        if environ["PATH_INFO"] != "/stream":
            yield from hello(environ, start_response)
            return
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        for _ in range(total):
            produced[0] += 1
            yield chunk

    served = mount(stream)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    slow.settimeout(WAIT)
    slow.connect(("127.0.0.1", served.port))
    slow.sendall(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
    assert slow.recv(100).startswith(b"HTTP/1.1 200")
    # The slow client stops reading; another one is served meanwhile.
    status, _, body = served.request("GET", "/other")
    assert (status, body) == (200, b"hello /other")
    wait_until(lambda: produced[0] > 2, what="the stream started")
    time.sleep(0.5)
    assert produced[0] < total, "the app waits for the reader instead of buffering it all"
    received = 100
    while True:
        data = slow.recv(1 << 20)
        if not data:
            break
        received += len(data)
        if produced[0] == total and received >= total * len(chunk):
            break
    slow.close()
    assert produced[0] == total
    wait_until(lambda: "/stream" in served.closed, what="the stream closed")


def test_a_client_leaving_mid_response_closes_the_iterable(mount: Callable[..., Served]) -> None:
    def endless(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        if environ["PATH_INFO"] != "/endless":
            yield from hello(environ, start_response)
            return
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        while True:
            yield b"y" * 16384
            time.sleep(0.01)

    served = mount(endless)
    sock = served.raw()
    sock.sendall(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
    assert sock.recv(100).startswith(b"HTTP/1.1 200")
    sock.close()
    wait_until(lambda: "/endless" in served.closed, what="close() after the client left")
    assert served.request("GET", "/next")[2] == b"hello /next"


def test_a_client_leaving_mid_body_makes_the_input_raise(mount: Callable[..., Served]) -> None:
    errors: List[BaseException] = []

    def reader(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/upload":
            return hello(environ, start_response)

        def body() -> Iterator[bytes]:
            try:
                environ["wsgi.input"].read()
            except OSError as error:
                errors.append(error)
                raise
            yield b"never"

        start_response("200 OK", [("Content-Type", "text/plain")])
        return body()

    served = mount(reader)
    sock = served.raw()
    sock.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" + b"a" * 1000)
    wait_until(lambda: served.calls == 1, what="the app runs")
    sock.close()
    wait_until(lambda: "/upload" in served.closed, what="close() after the read failed")
    assert len(errors) == 1 and isinstance(errors[0], OSError)
    assert served.request("GET", "/next")[2] == b"hello /next"


def test_server_sent_events_hold_one_thread_only(mount: Callable[..., Served]) -> None:
    app = flask.Flask(__name__)

    @app.route("/events")
    def events() -> flask.Response:
        def forever() -> Iterator[str]:
            n = 0
            while True:
                yield f"data: {n}\n\n"
                n += 1
                time.sleep(1)

        return flask.Response(forever(), mimetype="text/event-stream")

    @app.route("/")
    def index() -> str:
        return "Hello, World!"

    served = mount(app.wsgi_app)
    stream = served.connection()
    stream.request("GET", "/events")
    response = stream.getresponse()
    assert response.getheader("Content-Type", "").startswith("text/event-stream")
    assert response.readline() == b"data: 0\n"
    # While the stream holds its thread, other requests are served.
    for _ in range(5):
        assert served.request("GET", "/")[2] == b"Hello, World!"
    assert response.readline() == b"\n"
    assert response.readline() == b"data: 1\n"
    stream.close()
    wait_until(lambda: "/events" in served.closed, what="close() once the stream's reader left")


# --- limits -------------------------------------------------------------------------------


def test_a_declared_body_over_max_body_gets_413_without_the_app(mount: Callable[..., Served]) -> None:
    served = mount(digest_input, max_body=1000)
    status, headers, _ = served.request("POST", "/big", body=b"x" * 2000)
    assert status == 413
    assert headers.get("connection") == "close"
    assert served.calls == 0
    status, _, body = served.request("POST", "/small", body=b"x" * 1000)
    assert (status, json.loads(body)["length"]) == (200, 1000)


def send_chunked(sock: socket.socket, path: str, size: int) -> None:
    """A chunked POST of `size` bytes in 500-byte chunks, written at once: the server
    answers 413 and closes as soon as the body passes max_body, and a client still
    writing then would get EPIPE, or its unread bytes would make the server's close a
    reset that can take the 413 with it (a race of the test, not of the server)."""
    part = b"c" * 500
    request = b"POST %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" % path.encode()
    request += b"%x\r\n%s\r\n" % (len(part), part) * (size // len(part)) + b"0\r\n\r\n"
    sock.sendall(request)


def test_a_chunked_body_over_max_body_raises_in_the_app_and_gets_413(
    mount: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    raised: List[BaseException] = []

    def reading(environ: Environ, start_response: StartResponse) -> List[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError as error:
            raised.append(error)
            raise
        return hello(environ, start_response)

    served = mount(reading, max_body=1000)
    with served.raw() as sock:
        send_chunked(sock, "/raw", 2000)
        status, _, _ = read_response(sock)
    assert status == 413
    assert len(raised) == 1 and isinstance(raised[0], OSError)

    # Flask catches the error and answers 500 itself: the server still says 413.
    flask_served = mount(flask_app().wsgi_app, max_body=1000)
    with flask_served.raw() as sock:
        send_chunked(sock, "/echo", 2000)
        status, _, _ = read_response(sock)
    assert status == 413
    assert flask_served.request("GET", "/")[2] == b"Hello, World!"


# --- errors -------------------------------------------------------------------------------


def raises_before(environ: Environ, start_response: StartResponse) -> List[bytes]:
    raise RuntimeError("before start_response")


def raises_after(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    raise RuntimeError("after start_response")
    yield b""  # a generator: it raises on the first next()


def not_iterable(environ: Environ, start_response: StartResponse) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return 42


def yields_str(environ: Environ, start_response: StartResponse) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["not bytes"]


def starts_twice(environ: Environ, start_response: StartResponse) -> List[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    start_response("201 Created", [("Content-Type", "text/plain")])
    return [b"never"]


def never_starts(environ: Environ, start_response: StartResponse) -> List[bytes]:
    return [b"no head"]


def never_starts_empty(environ: Environ, start_response: StartResponse) -> List[bytes]:
    return []


def bad_header(environ: Environ, start_response: StartResponse) -> List[bytes]:
    start_response("200 OK", [("X-Bad", "line\r\nInjected: yes")])
    return [b"x"]


@pytest.mark.parametrize(
    "app",
    [raises_before, raises_after, not_iterable, yields_str, starts_twice, never_starts, never_starts_empty, bad_header],
)
def test_a_failing_app_gets_a_logged_500_and_the_server_goes_on(
    mount: Callable[..., Served], caplog: pytest.LogCaptureFixture, app: App
) -> None:
    def routed(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/ok":
            return hello(environ, start_response)
        return app(environ, start_response)

    served = mount(routed)
    conn = served.connection()
    conn.request("GET", "/fail")
    response = conn.getresponse()
    assert (response.status, response.read()) == (500, b"Internal Server Error")
    # The same connection serves the next request.
    conn.request("GET", "/ok")
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"hello /ok")
    conn.close()
    errors = wsgi_errors(caplog)
    wait_until(lambda: wsgi_errors(caplog), what="the error logged")
    errors = wsgi_errors(caplog)
    assert errors[0].exc_info is not None, "with its traceback"
    if app not in (raises_before, starts_twice, bad_header):  # these raise before returning an iterable
        wait_until(lambda: "/fail" in served.closed, what="close() called on the failed iterable")


def test_a_failure_after_the_head_cuts_the_connection(
    mount: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    def midway(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        if environ["PATH_INFO"] == "/ok":
            yield from hello(environ, start_response)
            return
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        try:
            raise ValueError("mid-body")
        except ValueError:
            # Too late to change the response: start_response re-raises.
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        yield b"unreachable"

    served = mount(midway)
    conn = served.connection()
    conn.request("GET", "/midway")
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()
    wait_until(lambda: wsgi_errors(caplog), what="the error logged")
    assert "mid-body" in str(wsgi_errors(caplog)[0].exc_info)
    wait_until(lambda: "/midway" in served.closed, what="closed")
    assert served.request("GET", "/ok")[2] == b"hello /ok"


def test_exc_info_before_the_head_replaces_the_response(mount: Callable[..., Served]) -> None:
    def recovering(environ: Environ, start_response: StartResponse) -> List[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise KeyError("oops")
        except KeyError:
            start_response("503 Try Later", [("Content-Type", "text/plain"), ("Retry-After", "1")], sys.exc_info())
        return [b"sorry"]

    served = mount(recovering)
    conn = served.connection()
    conn.request("GET", "/")
    response = conn.getresponse()
    assert (response.status, response.reason, response.getheader("Retry-After"), response.read()) == (
        503,
        "Try Later",
        "1",
        b"sorry",
    )
    conn.close()


# --- logs ---------------------------------------------------------------------------------


def test_wsgi_errors_and_the_access_log(mount: Callable[..., Served], caplog: pytest.LogCaptureFixture) -> None:
    def noisy(environ: Environ, start_response: StartResponse) -> List[bytes]:
        environ["wsgi.errors"].write("first line\nsecond ")
        environ["wsgi.errors"].writelines(["line\n"])
        return hello(environ, start_response)

    caplog.set_level(logging.INFO, logger="ferrosocket.access")
    served = mount(noisy, access_log=True)
    conn = served.connection()
    conn.request("GET", "/path?q=1")
    assert conn.getresponse().read() == b"hello /path"
    conn.close()
    wait_until(lambda: any(r.name == "ferrosocket.access" for r in caplog.records), what="an access line")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "ferrosocket.access"]
    pattern = r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /path\?q=1 HTTP/1\.1" 200 11 \d+\.\d{6}'
    assert re.fullmatch(pattern, line), line
    logged = [r.getMessage() for r in caplog.records if r.name == "ferrosocket.wsgi"]
    assert logged == ["first line", "second line"]


def test_mounting_again_replaces_the_app(mount: Callable[..., Served]) -> None:
    served = mount(hello)
    assert served.request("GET", "/x")[2] == b"hello /x"

    def other(environ: Environ, start_response: StartResponse) -> List[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"other"]

    served.sio._native.mount_wsgi(other)
    assert served.request("GET", "/x")[2] == b"other"


def test_stop_ends_an_open_event_stream(mount: Callable[..., Served]) -> None:
    def forever(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        while True:
            yield b"data: tick\n\n"
            time.sleep(0.2)

    served = mount(forever)
    conn = served.connection()
    conn.request("GET", "/events")
    response = conn.getresponse()
    assert response.readline() == b"data: tick\n"
    stopper = threading.Thread(target=served.sio.stop)
    stopper.start()
    stopper.join(WAIT)
    assert not stopper.is_alive(), "stop() does not wait for the endless stream"
    wait_until(lambda: "/events" in served.closed, what="the stream closed at stop")
    conn.close()


def test_empty_chunks_and_an_empty_body(mount: Callable[..., Served]) -> None:
    def late(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["PATH_INFO"] == "/nothing":
            return
        yield b""
        yield b""
        # The head waits for the first non-empty chunk, so a late error still gets a 500.
        if environ["PATH_INFO"] == "/late-error":
            raise RuntimeError("late")
        yield b"at last"

    served = mount(late)
    assert served.request("GET", "/late")[::2] == (200, b"at last")
    status, headers, body = served.request("GET", "/nothing")
    assert (status, body, headers.get("content-length")) == (200, b"", "0")
    assert served.request("GET", "/late-error")[0] == 500


def test_the_input_reads_by_size_line_and_lines(mount: Callable[..., Served]) -> None:
    def reads(environ: Environ, start_response: StartResponse) -> List[bytes]:
        stream = environ["wsgi.input"]
        parts = [stream.read(3), stream.readline(), stream.readline(2), stream.readline(), stream.readlines(), stream.read(), stream.read(5)]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps([p.decode() if isinstance(p, bytes) else [x.decode() for x in p] for p in parts]).encode()]

    served = mount(reads)
    status, _, body = served.request("POST", "/", body=b"abcdef\nghij\nk\nl\nm")
    assert status == 200
    assert json.loads(body) == ["abc", "def\n", "gh", "ij\n", ["k\n", "l\n", "m"], "", ""]


def test_write_sends_at_once_before_the_iterable(mount: Callable[..., Served]) -> None:
    gate = threading.Event()

    def imperative(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        # The client reads what write() sent while the app still runs.
        assert gate.wait(WAIT)
        yield b"then yielded"

    served = mount(imperative)
    conn = served.connection()
    conn.request("GET", "/")
    response = conn.getresponse()
    assert response.status == 200
    assert response.read1(100) == b"written "
    gate.set()
    assert response.read() == b"then yielded"
    conn.close()


def test_a_413_before_the_app_is_in_the_access_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ferrosocket.access")
    sio = ferrosocket.Server(logger=True)
    try:
        sio._native.mount_wsgi(hello, access_log=True, max_body=10)
        sio.start("127.0.0.1", 0)
        conn = http.client.HTTPConnection("127.0.0.1", sio.port or 0, timeout=WAIT)
        conn.request("POST", "/up?x=1", body=b"x" * 11)
        assert conn.getresponse().status == 413
        conn.close()
        wait_until(lambda: [r for r in caplog.records if r.name == "ferrosocket.access"], what="the line")
        (line,) = [r.getMessage() for r in caplog.records if r.name == "ferrosocket.access"]
        assert re.fullmatch(r'127\.0\.0\.1 - - \[[^]]+\] "POST /up\?x=1 HTTP/1\.1" 413 - \d+\.\d{6}', line), line
    finally:
        sio.stop()


def test_a_dropped_server_frees_its_app_even_in_a_cycle() -> None:
    app = flask_app()
    sio = ferrosocket.Server(handler_threads=2)
    # Flask-SocketIO's shape: the app's extensions hold the server, the server the app.
    app.extensions["socketio"] = sio
    sio._native.mount_wsgi(app)
    sio.start("127.0.0.1", 0)
    conn = http.client.HTTPConnection("127.0.0.1", sio.port or 0, timeout=WAIT)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"Hello, World!"
    conn.close()
    app_ref, server_ref = weakref.ref(app), weakref.ref(sio)
    del app, sio
    gc.collect()
    assert server_ref() is None
    assert app_ref() is None
