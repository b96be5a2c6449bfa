"""Raw Engine.IO v4 conformance with requests / websocket-client (no socket.io client library)."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
import requests
import websocket

from helpers import SEP, WAIT, RawPolling, RawWs, decode_payload, wait_until, ws_upgrade_status

def assert_close_payload(body: str) -> None:
    """A GET answered while the session is being closed: only noop/close packets, ending in close."""
    pkts = decode_payload(body)
    assert pkts and set(pkts) <= {"1", "6"} and pkts[-1] == "1", repr(body)


OPEN_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}


# ----------------------------------------------------------------------------- handshake


def test_polling_open_packet(server_factory):
    srv = server_factory("--ping-interval", "1234", "--ping-timeout", "567", "--max-payload", "4321")
    p = RawPolling(srv)
    assert set(p.handshake) == OPEN_KEYS, p.handshake
    assert p.handshake["upgrades"] == ["websocket"]
    assert p.handshake["pingInterval"] == 1234
    assert p.handshake["pingTimeout"] == 567
    assert p.handshake["maxPayload"] == 4321
    assert isinstance(p.handshake["sid"], str) and p.handshake["sid"]
    # the open packet is the whole body
    assert p.open_response.text == "0" + json.dumps(p.handshake, separators=(",", ":")) or json.loads(
        p.open_response.text[1:]
    ) == p.handshake


def test_websocket_open_packet(server_factory):
    srv = server_factory("--ping-interval", "1234", "--ping-timeout", "567")
    ws = RawWs(srv)
    try:
        assert set(ws.handshake) == OPEN_KEYS, ws.handshake
        assert ws.handshake["upgrades"] == []
        assert ws.handshake["pingInterval"] == 1234
        assert ws.handshake["pingTimeout"] == 567
        assert ws.handshake["maxPayload"] == 1_000_000
    finally:
        ws.close()


def test_default_options_in_open_packet(server):
    p = RawPolling(server)
    assert p.handshake["pingInterval"] == 25000
    assert p.handshake["pingTimeout"] == 20000
    assert p.handshake["maxPayload"] == 1_000_000


def test_sids_are_unique(server):
    sids = {RawPolling(server).sid for _ in range(20)}
    assert len(sids) == 20


@pytest.mark.parametrize(
    "query",
    [
        "transport=polling",  # missing EIO
        "EIO=3&transport=polling",
        "EIO=5&transport=polling",
        "EIO=&transport=polling",
        "EIO=four&transport=polling",
        "EIO=4",  # missing transport
        "EIO=4&transport=foo",
        "EIO=4&transport=",
    ],
)
def test_bad_handshake_query_is_400(server, query):
    r = requests.get(server.eio_url(query), timeout=WAIT)
    assert r.status_code == 400, (query, r.status_code, r.text)


@pytest.mark.spec_only("node engine.io answers 101 Switching Protocols and then writes a 400 into the socket")
def test_bad_eio_on_websocket_is_refused(server):
    for query in ["EIO=3&transport=websocket", "transport=websocket", "EIO=5&transport=websocket"]:
        status, _ = ws_upgrade_status(server, query)
        assert status == 400, query
    assert ws_upgrade_status(server, "EIO=4&transport=websocket")[0] == 101


def test_post_without_sid_is_400(server):
    r = requests.post(server.eio_url("EIO=4&transport=polling"), data="40", timeout=WAIT)
    assert r.status_code == 400


def test_unknown_sid_is_400(server):
    url = server.eio_url("EIO=4&transport=polling&sid=doesnotexist")
    assert requests.get(url, timeout=WAIT).status_code == 400
    assert requests.post(url, data="40", timeout=WAIT).status_code == 400


def test_unknown_sid_on_websocket_is_refused(server):
    status, _ = ws_upgrade_status(server, "EIO=4&transport=websocket&sid=doesnotexist")
    assert status == 400


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_unknown_method_without_sid_is_400(server, method):
    r = requests.request(method, server.eio_url("EIO=4&transport=polling"), timeout=WAIT)
    assert r.status_code == 400, (method, r.status_code)


@pytest.mark.spec_only("node engine.io answers 500 for an unknown method on an existing session")
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_unknown_method_with_sid_is_400(server, method):
    p = RawPolling(server)
    r = requests.request(method, p.url, timeout=WAIT)
    assert r.status_code == 400, (method, r.status_code)


# ----------------------------------------------------------------------------- polling payloads


def test_get_returns_every_queued_packet_in_one_payload(server):
    p = RawPolling(server)
    p.post_ok("40")
    time.sleep(0.3)
    # CONNECT ack and welcome were queued together: one GET returns both.
    pkts = decode_payload(p.get().text)
    assert len(pkts) == 2, f"one GET must return every queued packet: {pkts!r}"
    assert pkts[0].startswith('40{"sid":')
    sid = json.loads(pkts[0][2:])["sid"]
    assert json.loads(pkts[1][2:]) == ["welcome", {"sid": sid, "nsp": "/", "auth": None}]
    # One POST carrying several packets joined by \x1e.
    p.post_ok(SEP.join(['420["ack",1]', '421["ack","two"]', '422["count_args",1,2,3]', '42["echo","e"]']))
    time.sleep(0.3)  # let the server queue everything
    r = p.get()
    assert r.status_code == 200
    pkts = decode_payload(r.text)
    assert pkts == ["430[1]", '431["two"]', "432[3]", '42["echo","e"]'], (
        f"one GET must return every queued packet, in order: {pkts!r}"
    )


def test_events_queued_while_no_get_is_pending_are_all_delivered(server):
    p = RawPolling(server)
    p.connect_nsp("/")
    p.next_packets(1)  # welcome
    for i in range(30):
        p.post_ok(f'42{i}["ack",{i}]')
    got = p.next_packets(30)
    assert got == [f"43{i}[{i}]" for i in range(30)]


def test_binary_over_polling_is_b_plus_base64(server):
    p = RawPolling(server)
    p.connect_nsp("/")
    p.next_packets(1)  # welcome
    payload = bytes(range(256))
    p.post_ok(SEP.join(['451-0["ack",{"_placeholder":true,"num":0}]', "b" + base64.b64encode(payload).decode()]))
    got = p.next_packets(2)
    assert got[0] == '461-0[{"_placeholder":true,"num":0}]', got
    assert got[1].startswith("b"), got
    assert base64.b64decode(got[1][1:]) == payload


def test_binary_echo_over_polling_with_several_attachments(server):
    p = RawPolling(server)
    p.connect_nsp("/admin")
    p.next_packets(1)
    a, b = b"\x00\x01\x02", b"\xff" * 10
    p.post_ok(SEP.join([
        '452-/admin,["echo",{"_placeholder":true,"num":0},{"x":[{"_placeholder":true,"num":1}]}]',
        "b" + base64.b64encode(a).decode(),
        "b" + base64.b64encode(b).decode(),
    ]))
    got = p.next_packets(3)
    assert got[0] == '452-/admin,["echo",{"_placeholder":true,"num":0},{"x":[{"_placeholder":true,"num":1}]}]', got
    assert [base64.b64decode(x[1:]) for x in got[1:]] == [a, b]


def test_two_concurrent_gets(server):
    p = RawPolling(server)
    p.connect_nsp("/")
    p.next_packets(1)  # welcome; nothing queued now
    first: dict = {}

    def long_poll():
        try:
            r = p.get(timeout=10)
            first["status"], first["body"] = r.status_code, r.text
        except Exception as e:  # noqa: BLE001
            first["error"] = repr(e)

    t = threading.Thread(target=long_poll)
    t.start()
    time.sleep(0.3)
    second = p.get()
    t.join(10)
    assert not t.is_alive()
    assert second.status_code == 400, second.status_code
    assert first.get("status") == 200, first
    assert first["body"] == "1", first
    # The session is dropped.
    r = p.get()
    assert r.status_code == 400


def test_client_close_packet_releases_pending_get_with_noop(server):
    p = RawPolling(server)
    p.connect_nsp("/")
    p.next_packets(1)
    first: dict = {}

    def long_poll():
        r = p.get(timeout=10)
        first["status"], first["body"] = r.status_code, r.text

    t = threading.Thread(target=long_poll)
    t.start()
    time.sleep(0.3)
    r = p.post("1")
    assert r.status_code == 200
    t.join(10)
    assert first == {"status": 200, "body": "6"}
    wait_until(lambda: p.get().status_code == 400, 3, "the session to be closed")


@pytest.mark.spec_only("node engine.io ignores a close packet on the websocket transport")
def test_client_close_packet_over_websocket_closes_at_once(server):
    ws = RawWs(server, auto_pong=True)
    try:
        ws.connect_nsp("/")
        t0 = time.monotonic()
        ws.send("1")
        closed = ws.wait_closed(2)
        assert closed - t0 < 1.0
    finally:
        ws.close()


def test_noop_and_message_packets_over_polling(server):
    p = RawPolling(server)
    p.post_ok("6")  # noop from the client is harmless
    p.connect_nsp("/")
    assert p.next_packets(1)[0].startswith('42["welcome"')


# ----------------------------------------------------------------------------- upgrade


def test_raw_upgrade_sequence(server):
    p = RawPolling(server)
    sid = p.connect_nsp("/")
    assert json.loads(p.next_packets(1)[0][2:])[0] == "welcome"
    pending: dict = {}

    def long_poll():
        r = p.get(timeout=10)
        pending["status"], pending["body"] = r.status_code, r.text

    t = threading.Thread(target=long_poll)
    t.start()
    time.sleep(0.2)
    ws = websocket.create_connection(
        f"{server.ws_url}/socket.io/?EIO=4&transport=websocket&sid={p.sid}", timeout=WAIT, suppress_origin=True
    )
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        t.join(5)
        assert not t.is_alive(), "pending GET must be released after the probe"
        assert pending == {"status": 200, "body": "6"}
        ws.send("5")
        # From now on, everything goes over the websocket.
        ws.send('427["sid"]')
        ws.settimeout(WAIT)
        msg = ws.recv()
        while msg == "2":
            ws.send("3")
            msg = ws.recv()
        assert msg == '437[{"sid":"%s"}]' % sid
        ws.send('42["echo","\u00e9\U0001f389"]')
        msg = ws.recv()
        assert json.loads(msg[2:]) == ["echo", "\u00e9\U0001f389"]
        # Polling on the upgraded sid is refused.
        assert p.get().status_code == 400
        assert p.post('42["echo",1]').status_code == 400
        # A second websocket on the same sid is refused or closed.
        status, hdrs = ws_upgrade_status(server, f"EIO=4&transport=websocket&sid={p.sid}", wait_close=2.0)
        if status == 101:
            assert hdrs["x-closed"] is True, "a second websocket on an upgraded sid must be closed"
        else:
            assert status == 400
        # And the upgraded connection still works.
        ws.send('428["ack","still"]')
        msg = ws.recv()
        while msg == "2":
            msg = ws.recv()
        assert msg == '438["still"]'
    finally:
        ws.close()


def test_upgrade_delivers_packets_queued_before_the_upgrade(server):
    p = RawPolling(server)
    p.connect_nsp("/")
    p.next_packets(1)
    pending: dict = {}

    def long_poll():
        r = p.get(timeout=10)
        pending["status"], pending["body"] = r.status_code, r.text

    t = threading.Thread(target=long_poll)
    t.start()
    time.sleep(0.2)
    ws = websocket.create_connection(
        f"{server.ws_url}/socket.io/?EIO=4&transport=websocket&sid={p.sid}", timeout=WAIT, suppress_origin=True
    )
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        # Still on polling until "5": a POST is accepted and its reply queued.
        p.post_ok('421["ack","during"]')
        time.sleep(0.1)
        ws.send("5")
        t.join(5)
        assert not t.is_alive()
        assert pending["status"] == 200
        got = decode_payload(pending["body"])
        deadline = time.monotonic() + WAIT
        while '431["during"]' not in got and time.monotonic() < deadline:
            ws.settimeout(max(0.01, deadline - time.monotonic()))
            got.append(ws.recv())
        assert '431["during"]' in got, got
        assert got.count('431["during"]') == 1, got
    finally:
        ws.close()


# ----------------------------------------------------------------------------- heartbeat over polling


def test_polling_heartbeat(server_factory):
    srv = server_factory("--ping-interval", "300", "--ping-timeout", "200")
    p = RawPolling(srv)
    t0 = time.monotonic()
    r = p.get(timeout=3)
    waited = time.monotonic() - t0
    assert r.text == "2", r.text
    assert 0.2 <= waited <= 0.8, f"first ping after {waited:.3f}s"
    p.post_ok("3")
    r = p.get(timeout=3)
    assert r.text == "2"
    # No pong now: the session must be dropped within pingTimeout (+ slack).
    time.sleep(0.6)
    r = p.get(timeout=3)
    if r.status_code == 200:
        # A close packet may be delivered on the pending/next GET; after it the sid is gone.
        assert_close_payload(r.text)
        r = p.get(timeout=3)
    assert r.status_code == 400


def test_polling_connect_timeout(server_factory):
    srv = server_factory("--connect-timeout", "300")
    p = RawPolling(srv)
    ok = RawPolling(srv)
    ok.connect_nsp("/")
    time.sleep(0.9)
    r = p.get(timeout=3)
    if r.status_code == 200:
        assert_close_payload(r.text)
        r = p.get(timeout=3)
    assert r.status_code == 400
    # The session that did CONNECT in time is still alive.
    ok.post_ok('421["ack",1]')
    assert "431[1]" in ok.next_packets(2)


# ----------------------------------------------------------------------------- max payload


def test_polling_post_over_max_payload_is_413(server_factory):
    srv = server_factory("--max-payload", "1000")
    p = RawPolling(srv)
    assert p.handshake["maxPayload"] == 1000
    p.connect_nsp("/")
    r = p.post('42["echo","' + "x" * 2000 + '"]')
    assert r.status_code == 413, r.status_code
    # Under the limit still works on a fresh session.
    q = RawPolling(srv)
    q.connect_nsp("/")
    q.post_ok('421["ack","' + "y" * 900 + '"]')
    assert '431["' + "y" * 900 + '"]' in q.next_packets(2)


def test_websocket_message_over_max_payload_closes(server_factory):
    srv = server_factory("--max-payload", "1000")
    ws = RawWs(srv, auto_pong=True)
    try:
        ws.connect_nsp("/")
        ws.send('42["echo","' + "x" * 5000 + '"]')
        ws.wait_closed(3)
    finally:
        ws.close()


def test_websocket_binary_frame_over_max_payload_closes(server_factory):
    srv = server_factory("--max-payload", "1000")
    ws = RawWs(srv, auto_pong=True)
    try:
        ws.connect_nsp("/")
        ws.send('451-["echo",{"_placeholder":true,"num":0}]')
        ws.send(b"\x00" * 5000)
        ws.wait_closed(3)
    finally:
        ws.close()


# ----------------------------------------------------------------------------- socket.io CONNECT


def test_connect_ack_and_welcome_over_websocket(server):
    ws = RawWs(server, auto_pong=True)
    try:
        ws.send("40")
        ack = ws.recv_non_ping()
        assert ack.startswith("40{")
        body = json.loads(ack[2:])
        assert list(body) == ["sid"] and body["sid"] != ws.sid
        assert json.loads(ws.recv_non_ping()[2:]) == ["welcome", {"sid": body["sid"], "nsp": "/", "auth": None}]
        ws.send('40/admin,{"token":"x","n":1}')
        ack = ws.recv_non_ping()
        sid = json.loads(ack[len("40/admin,"):])["sid"]
        w = ws.recv_non_ping()
        assert w.startswith("42/admin,")
        assert json.loads(w[len("42/admin,"):]) == ["welcome", {"sid": sid, "nsp": "/admin", "auth": {"token": "x", "n": 1}}]
        ws.send("40/random")
        assert ws.recv_non_ping() == '44/random,{"message":"Invalid namespace"}'
        ws.send('40/auth,{"token":"nope"}')
        r = ws.recv_non_ping()
        assert r.startswith("44/auth,")
        assert json.loads(r[len("44/auth,"):]) == {"message": "unauthorized", "data": {"code": 401}}
        ws.send('40/auth,{"token":"secret"}')
        assert ws.recv_non_ping().startswith('40/auth,{"sid":')
    finally:
        ws.close()


@pytest.mark.spec_only("node socket.io cannot tell an empty auth object from no auth payload")
def test_welcome_echoes_an_empty_auth_object(server):
    ws = RawWs(server, auto_pong=True)
    try:
        sid = ws.connect_nsp("/", auth={})
        assert json.loads(ws.recv_non_ping()[2:]) == ["welcome", {"sid": sid, "nsp": "/", "auth": {}}]
    finally:
        ws.close()
