"""The plain Engine.IO echo server (examples/engineio_echo) over raw HTTP and WebSocket.

It runs ferrosocket's engine with a handler of its own and no Socket.IO, so these tests
show the Engine.IO protocol's behaviours through the public seam: the handshake's open
packet, polling payloads (batches joined by the record separator), binary messages,
heartbeats (ping/pong and the timeout close), close from either side, and the upgrade
from polling to WebSocket (probe, then upgrade).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time

import pytest
import websocket

from conftest import REPO_ROOT, start_command
from helpers import SEP, WAIT, RawPolling, RawWs, decode_payload, wait_until

PATH = "/engine.io/"
OPEN_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}


def echo_binary() -> str:
    target = os.environ.get("CARGO_TARGET_DIR")
    target_dir = (REPO_ROOT / target) if target else (REPO_ROOT / "target")
    return str(target_dir / "debug" / "engineio-echo")


@pytest.fixture
def echo_factory():
    """Starts engineio-echo with extra CLI options; stops every one started (SIGTERM)."""
    started = []

    def factory(*args: str):
        binary = echo_binary()
        if not os.path.exists(binary):
            raise RuntimeError(f"{binary} not built (cargo build --workspace --bins)")
        srv = start_command([binary, "--host", "127.0.0.1", "--port", "0", *args])
        started.append(srv)
        return srv

    yield factory
    killed = [srv.port for srv in started if srv.stop()[1]]
    assert not killed, f"engineio-echo ignored SIGTERM on ports {killed}"


@pytest.fixture
def echo(echo_factory):
    return echo_factory()


def polling(srv) -> RawPolling:
    return RawPolling(srv, path=PATH)


def ws(srv, query: str = "EIO=4&transport=websocket", **kw) -> RawWs:
    return RawWs(srv, query=query, path=PATH, **kw)


# ----------------------------------------------------------------------------- handshake


def test_polling_handshake_open_packet(echo_factory):
    srv = echo_factory("--ping-interval", "1500", "--ping-timeout", "700", "--max-payload", "5000")
    p = polling(srv)
    assert set(p.handshake) == OPEN_KEYS, p.handshake
    assert p.handshake["upgrades"] == ["websocket"]
    assert (p.handshake["pingInterval"], p.handshake["pingTimeout"]) == (1500, 700)
    assert p.handshake["maxPayload"] == 5000
    assert p.open_response.text == "0" + json.dumps(p.handshake, separators=(",", ":"))


def test_websocket_handshake_open_packet(echo):
    w = ws(echo)
    try:
        assert set(w.handshake) == OPEN_KEYS, w.handshake
        assert w.handshake["upgrades"] == []  # already on the best transport
        assert w.handshake["pingInterval"] == 25000 and w.handshake["pingTimeout"] == 20000
    finally:
        w.close()


def test_only_the_engine_path_answers(echo):
    import requests

    assert requests.get(echo.eio_url(path="/socket.io/"), timeout=WAIT).status_code == 404
    r = requests.get(echo.eio_url("EIO=3&transport=polling", PATH), timeout=WAIT)
    assert (r.status_code, r.json()) == (400, {"code": 5, "message": "Unsupported protocol version"})


# ----------------------------------------------------------------------------- payloads


def test_polling_echo_batches_with_record_separator(echo):
    p = polling(echo)
    p.post_ok(SEP.join(["4one", "4two", "4thr\u00e9\u00e9 \u2603"]))
    # The three echoes were queued before this GET: one response carries them all.
    r = p.get()
    assert r.status_code == 200
    assert r.text == SEP.join(["4one", "4two", "4thr\u00e9\u00e9 \u2603"]), repr(r.text)


def test_polling_get_waits_for_a_message(echo):
    p = polling(echo)
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", p.get()))
    t.start()
    time.sleep(0.2)
    assert t.is_alive(), "GET answered with nothing to send"
    p.post_ok("4late")
    t.join(WAIT)
    assert got["r"].text == "4late"


def test_websocket_echo_in_order(echo):
    w = ws(echo)
    try:
        for i in range(20):
            w.send(f"4m{i}")
        assert [w.recv_non_ping() for _ in range(20)] == [f"4m{i}" for i in range(20)]
    finally:
        w.close()


def test_per_session_state(echo):
    p = polling(echo)
    p.post_ok(SEP.join(["4a", "4b", "4count"]))
    assert p.next_packets(3) == ["4a", "4b", "43"]


# ----------------------------------------------------------------------------- binary


def test_polling_binary_is_base64_with_b_prefix(echo):
    p = polling(echo)
    blob = bytes(range(256))
    encoded = "b" + base64.b64encode(blob).decode()
    p.post_ok(SEP.join(["4text", encoded]))
    assert p.next_packets(2) == ["4text", encoded]


def test_websocket_binary_frames(echo):
    w = ws(echo)
    try:
        blob = os.urandom(3000)
        w.send(blob)
        w.send("4after")
        assert w.recv_non_ping() == blob
        assert w.recv_non_ping() == "4after"
    finally:
        w.close()


# ----------------------------------------------------------------------------- heartbeat


def test_websocket_ping_pong_keeps_the_session(echo_factory):
    srv = echo_factory("--ping-interval", "200", "--ping-timeout", "300")
    w = ws(srv, auto_pong=True)  # recv answers each ping with a pong
    try:
        # Well past interval + timeout, the session still echoes: every ping was answered.
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            w.send("4tick")
            assert w.recv() == "4tick"
            time.sleep(0.1)
        assert len(w.pings) >= 4, w.pings
    finally:
        w.close()


def test_websocket_no_pong_closes(echo_factory):
    srv = echo_factory("--ping-interval", "200", "--ping-timeout", "300")
    w = ws(srv)
    try:
        assert w.recv(timeout=2) == "2"
        closed_at = w.wait_closed(timeout=3)
        # Closed after the ping timeout, not before.
        assert closed_at - w.pings[0] >= 0.25, closed_at - w.pings[0]
    finally:
        w.close()


def test_polling_ping_pong_and_timeout_close(echo_factory):
    srv = echo_factory("--ping-interval", "200", "--ping-timeout", "300")
    p = polling(srv)
    assert p.packets(answer_pings=True) == ["2"]  # answered with a POST of "3"
    assert p.packets(answer_pings=False) == ["2"]  # the next ping; left unanswered
    # The poll pending when the ping timeout passes is answered with a close packet...
    assert p.get(timeout=3).text == "1"
    # ...and the session is gone.
    r = p.get()
    assert (r.status_code, r.json()) == (400, {"code": 1, "message": "Session ID unknown"})


# ----------------------------------------------------------------------------- close


def test_polling_client_close(echo):
    p = polling(echo)
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", p.get()))
    t.start()
    time.sleep(0.2)
    p.post_ok("1")
    t.join(WAIT)
    assert got["r"].text == "6"  # the pending poll is released with a noop
    wait_until(lambda: p.get().status_code == 400, what="session removed after client close")


def test_polling_server_close(echo):
    p = polling(echo)
    p.post_ok(SEP.join(["4bye", "4close"]))
    pkts = p.next_packets(1)
    assert pkts == ["4bye"]
    assert decode_payload(p.get().text)[-1] == "1"


def test_websocket_client_close(echo):
    w = ws(echo)
    try:
        w.send("1")
        w.wait_closed()
    finally:
        w.close()


def test_websocket_server_close(echo):
    w = ws(echo)
    try:
        w.send("4bye")
        w.send("4close")
        assert w.recv_non_ping() == "4bye"
        w.wait_closed()
    finally:
        w.close()


# ----------------------------------------------------------------------------- upgrade


def test_upgrade_probe_then_websocket(echo):
    p = polling(echo)
    # A poll pending during the upgrade is released with a noop once the probe is answered.
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", p.get()))
    t.start()
    time.sleep(0.2)
    conn = websocket.create_connection(
        f"{echo.ws_url}{PATH}?EIO=4&transport=websocket&sid={p.sid}", timeout=WAIT, suppress_origin=True
    )
    try:
        conn.send("2probe")
        assert conn.recv() == "3probe"
        t.join(WAIT)
        assert got["r"].text == "6"
        conn.send("5")
        # After the upgrade, messages go both ways over the WebSocket, same session.
        conn.send("4over websocket")
        assert conn.recv() == "4over websocket"
        conn.send_binary(b"\x00\x01")
        assert conn.recv() == b"\x00\x01"
        # Polling is refused for an upgraded session.
        r = p.get()
        assert (r.status_code, r.json()) == (400, {"code": 3, "message": "Bad request"})
    finally:
        conn.close()


def test_messages_queued_during_upgrade_go_over_the_websocket(echo):
    p = polling(echo)
    conn = websocket.create_connection(
        f"{echo.ws_url}{PATH}?EIO=4&transport=websocket&sid={p.sid}", timeout=WAIT, suppress_origin=True
    )
    try:
        conn.send("2probe")
        assert conn.recv() == "3probe"
        # Still on polling: the POST is handled, its echo queued.
        p.post_ok("4queued during the upgrade")
        conn.send("5")
        conn.send("4after")
        # The queue passes to the WebSocket whole and in order.
        assert conn.recv() == "4queued during the upgrade"
        assert conn.recv() == "4after"
    finally:
        conn.close()
