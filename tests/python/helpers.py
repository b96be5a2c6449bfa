"""Helpers of tests/python: python-socketio client wrappers with a recorder, raw Engine.IO
polling / WebSocket clients. The bounded wait and the client clean-up are
tests/support/ferrosocket_testing.py's (shared with tests/pybinding), re-exported here."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from typing import Any, Iterator

import requests
import socketio
import websocket
from ferrosocket_testing import WAIT, close_client, drain_client_writes, release_engineio_client, wait_until

__all__ = [  # the shared ones too: test files import them from here
    "SEP", "WAIT", "RawPolling", "RawWs", "Recorder", "call", "close_client", "decode_payload",
    "disconnect_log", "drain_client_writes", "encode_binary_polling", "make_client",
    "release_engineio_client", "sio_client", "wait_disconnect_entry", "wait_until",
    "ws_upgrade_status",
]

SEP = "\x1e"


# --------------------------------------------------------------------------- python-socketio


class Recorder:
    """Collects events received by a socketio.Client, per namespace."""

    def __init__(self, sio: socketio.Client, namespaces: list[str]):
        self.events: list[tuple[str, str, tuple]] = []
        self.order: dict[str, list[str]] = {ns: [] for ns in namespaces}
        self.welcomes: dict[str, list[dict]] = {ns: [] for ns in namespaces}
        self.disconnects: dict[str, list] = {ns: [] for ns in namespaces}
        self.connect_errors: dict[str, list] = {ns: [] for ns in namespaces}
        self.lock = threading.Lock()
        for ns in namespaces:
            self._hook(sio, ns)

    def _hook(self, sio, ns):
        def on_connect():
            self.order[ns].append("connect")

        def on_welcome(data):
            self.order[ns].append("welcome")
            self.welcomes[ns].append(data)

        def on_disconnect(*reason):
            self.disconnects[ns].append(reason[0] if reason else None)

        def on_connect_error(*data):
            self.connect_errors[ns].append(data[0] if data else None)

        def on_any(event, *args):
            with self.lock:
                self.events.append((ns, event, args))

        sio.on("connect", on_connect, namespace=ns)
        sio.on("welcome", on_welcome, namespace=ns)
        sio.on("disconnect", on_disconnect, namespace=ns)
        sio.on("connect_error", on_connect_error, namespace=ns)
        sio.on("*", on_any, namespace=ns)

    def got(self, event: str, ns: str = "/") -> list[tuple]:
        with self.lock:
            return [a for (n, e, a) in self.events if n == ns and e == event]


def make_client(**kw) -> socketio.Client:
    return socketio.Client(reconnection=False, request_timeout=WAIT, **kw)


@contextlib.contextmanager
def sio_client(
    srv,
    transports: list[str] | None = None,
    namespaces: list[str] | None = None,
    auth: Any = None,
    connect: bool = True,
) -> Iterator[socketio.Client]:
    """A connected socketio.Client (no reconnection) with a `.rec` Recorder; always disconnected."""
    namespaces = namespaces or ["/"]
    sio = make_client()
    sio.rec = Recorder(sio, namespaces)  # type: ignore[attr-defined]
    try:
        if connect:
            sio.connect(
                srv.url,
                transports=transports,
                namespaces=namespaces,
                auth=auth,
                wait_timeout=WAIT,
            )
        yield sio
    finally:
        close_client(sio)


def call(sio: socketio.Client, event: str, *args, namespace: str = "/", timeout: float = WAIT):
    """emit with ack; returns the ack arguments as a list."""
    done = threading.Event()
    box: list = []

    def cb(*ack_args):
        box.extend(ack_args)
        done.set()

    _emit(sio, event, args, namespace, cb)
    if not done.wait(timeout):
        raise AssertionError(f"no ack for {event!r} on {namespace} within {timeout}s")
    return box


def _emit(sio, event, args, namespace, cb):
    # python-socketio: a tuple `data` is expanded into several arguments; a single
    # argument must be wrapped so that a tuple/list argument is not expanded.
    if len(args) == 0:
        data = None
    else:
        data = tuple(args)
    sio.emit(event, data, namespace=namespace, callback=cb)


def disconnect_log(sio: socketio.Client, namespace: str = "/") -> list[dict]:
    return call(sio, "disconnect_log", namespace=namespace)[0]


def wait_disconnect_entry(observer, sid: str, timeout: float = WAIT, namespace: str = "/") -> dict:
    def find():
        for e in disconnect_log(observer, namespace):
            if e["sid"] == sid:
                return e
        return None

    return wait_until(find, timeout, f"disconnect_log entry for {sid}", every=0.05)


# --------------------------------------------------------------------------- raw Engine.IO


def decode_payload(body: str) -> list[str]:
    return body.split(SEP) if body else []


def encode_binary_polling(b: bytes) -> str:
    return "b" + base64.b64encode(b).decode()


class RawPolling:
    """A raw Engine.IO v4 long-polling client (requests, one connection per request)."""

    def __init__(self, srv, path: str = "/socket.io/", headers: dict | None = None):
        self.srv = srv
        self.path = path
        self.headers = headers or {}
        r = requests.get(srv.eio_url("EIO=4&transport=polling", path), headers=self.headers, timeout=WAIT)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.text.startswith("0"), r.text
        self.open_response = r
        self.handshake = json.loads(r.text[1:])
        self.sid = self.handshake["sid"]
        self.pings = 0
        self.buffered: list[str] = []

    @property
    def url(self) -> str:
        return self.srv.eio_url(f"EIO=4&transport=polling&sid={self.sid}", self.path)

    def get(self, timeout: float = WAIT) -> requests.Response:
        return requests.get(self.url, headers=self.headers, timeout=timeout)

    def post(self, body: str | bytes, timeout: float = WAIT, content_type="text/plain;charset=UTF-8") -> requests.Response:
        if isinstance(body, str):
            body = body.encode("utf-8")
        return requests.post(self.url, data=body, headers={**self.headers, "Content-Type": content_type}, timeout=timeout)

    def post_ok(self, body: str) -> None:
        r = self.post(body)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.text == "ok", r.text

    def packets(self, timeout: float = WAIT, answer_pings: bool = True) -> list[str]:
        """One GET; returns its packets (answering pings when asked)."""
        r = self.get(timeout)
        assert r.status_code == 200, (r.status_code, r.text)
        pkts = decode_payload(r.text)
        if answer_pings and "2" in pkts:
            self.pings += pkts.count("2")
            self.post_ok("3")
        return pkts

    def next_packets(self, n: int, timeout: float = WAIT) -> list[str]:
        """Exactly the next n non-ping, non-noop packets (GETting as needed; extra packets
        are kept for the next call)."""
        deadline = time.monotonic() + timeout
        while len(self.buffered) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"got only {self.buffered} of {n} packets")
            self.buffered += [p for p in self.packets(timeout=remaining + 1) if p not in ("2", "6")]
        out, self.buffered = self.buffered[:n], self.buffered[n:]
        return out

    def connect_nsp(self, nsp: str = "/", auth: Any = None) -> str:
        prefix = "" if nsp == "/" else f"{nsp},"
        self.post_ok("40" + prefix + ("" if auth is None else json.dumps(auth)))
        pkts = self.next_packets(1)
        assert pkts[0].startswith("40" + prefix + "{"), pkts
        return json.loads(pkts[0][2 + len(prefix):])["sid"]


class RawWs:
    """A raw Engine.IO v4 WebSocket client (websocket-client)."""

    def __init__(self, srv, query: str = "EIO=4&transport=websocket", path: str = "/socket.io/",
                 auto_pong: bool = False, header: list[str] | None = None, timeout: float = WAIT):
        self.auto_pong = auto_pong
        self.pings: list[float] = []
        self.ws = websocket.create_connection(
            f"{srv.ws_url}{path}?{query}", timeout=timeout, header=header or [], suppress_origin=True,
        )
        first = self.ws.recv()
        self.opened_at = time.monotonic()
        assert isinstance(first, str) and first.startswith("0"), first
        self.handshake = json.loads(first[1:])
        self.sid = self.handshake["sid"]

    def send(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    def recv(self, timeout: float = WAIT):
        """Next frame (pings answered and skipped when auto_pong)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no frame within {timeout}s")
            self.ws.settimeout(remaining)
            try:
                msg = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                raise AssertionError(f"no frame within {timeout}s") from None
            if msg == "2":
                self.pings.append(time.monotonic())
                if self.auto_pong:
                    self.ws.send("3")
                    continue
            return msg

    def recv_non_ping(self, timeout: float = WAIT):
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.01, deadline - time.monotonic()))
            if m != "2":
                return m

    def connect_nsp(self, nsp: str = "/", auth: Any = None) -> str:
        prefix = "" if nsp == "/" else f"{nsp},"
        self.send("40" + prefix + ("" if auth is None else json.dumps(auth)))
        m = self.recv_non_ping()
        assert m.startswith("40" + prefix + "{"), m
        return json.loads(m[2 + len(prefix):])["sid"]

    def wait_closed(self, timeout: float = WAIT) -> float:
        """Wait for the server to close the socket, reading (and dropping) frames; returns the
        monotonic time it was seen closed. Raises if still open after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"server kept the websocket open for more than {timeout}s")
            self.ws.settimeout(remaining)
            try:
                op, _ = self.ws.recv_data(control_frame=False)
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
                return time.monotonic()
            if op == websocket.ABNF.OPCODE_CLOSE:
                return time.monotonic()
            if not self.ws.connected:
                return time.monotonic()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close(timeout=0.2)
        with contextlib.suppress(Exception):
            self.ws.shutdown()


def ws_upgrade_status(srv, query: str, headers: dict | None = None, path: str = "/socket.io/",
                      wait_close: float = 0.0) -> tuple[int, dict]:
    """Send a WebSocket upgrade request on a plain socket and return (status, headers) of the
    response (the socket is always closed; websocket-client leaks it on refusals).
    With wait_close > 0 and a 101 answer, also wait that long for the server to close the
    connection (EOF or a close frame); headers then gets "x-closed": True/False."""
    import base64 as _b64
    import os as _os
    import socket as _socket

    key = _b64.b64encode(_os.urandom(16)).decode()
    lines = [
        f"GET {path}?{query} HTTP/1.1",
        f"Host: 127.0.0.1:{srv.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    with _socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        closed = None
        if wait_close > 0 and buf.startswith(b"HTTP/1.1 101"):
            rest = buf.split(b"\r\n\r\n", 1)[1]
            deadline = time.monotonic() + wait_close
            closed = False
            while time.monotonic() < deadline:
                # A close frame (opcode 0x8) or EOF means closed.
                if rest and (rest[0] & 0x0F) == 0x8:
                    closed = True
                    break
                s.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    chunk = s.recv(4096)
                except _socket.timeout:
                    break
                except OSError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                rest += chunk
    head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status_line, *header_lines = head.split("\r\n")
    parts = status_line.split(" ")
    assert len(parts) >= 2 and parts[0].startswith("HTTP/"), f"bad response {buf[:200]!r}"
    hdrs = {}
    for h in header_lines:
        if ":" in h:
            k, v = h.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    if closed is not None:
        hdrs["x-closed"] = closed
    return int(parts[1]), hdrs
