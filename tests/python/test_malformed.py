"""Malformed packets (polling POST bodies and WebSocket frames) close THAT client only; another
connected client keeps working (it still gets acks)."""

from __future__ import annotations

import base64

import pytest
import requests

from helpers import SEP, WAIT, RawPolling, RawWs, call, sio_client, wait_until

# (id, body) — each is sent after a valid CONNECT unless noted.
BAD_PAYLOADS = [
    ("event-object", "42{}"),
    ("unknown-sio-type", "4x"),
    ("unknown-eio-type", "9"),
    ("bad-json", '42["a"'),
    ("non-numeric-ack-id", '42abc["ack",1]'),
    ("event-empty-array", "42[]"),
    ("sio-type-7", '47["x"]'),
    ("client-connect-error", '44{"message":"x"}'),
    ("ack-not-array", '431{"a":1}'),
    ("binary-count-mismatch", '451-["ack",{"_placeholder":true,"num":4}]' + SEP + "b" + base64.b64encode(b"abc").decode()),
    ("binary-count-not-a-number", '45x-["ack",{"_placeholder":true,"num":0}]'),
    ("nsp-without-comma-then-json", '42/admin["ack"]'),
]


def session_is_dead(p: RawPolling) -> bool:
    r = p.get(timeout=3)
    if r.status_code == 400:
        return True
    assert r.status_code == 200
    pkts = r.text.split(SEP)
    # Closing: the server may first deliver a close (possibly after noops / queued packets).
    if "1" in pkts:
        return p.get(timeout=3).status_code == 400
    return False


def check_bystanders(bystanders):
    for sio in bystanders:
        assert call(sio, "ack", "alive", b"\x01\x02") == ["alive", b"\x01\x02"]
        assert sio.connected


@pytest.mark.parametrize("name,body", BAD_PAYLOADS, ids=[b[0] for b in BAD_PAYLOADS])
def test_malformed_polling_post_closes_that_session(server, name, body):
    with sio_client(server, transports=["polling"]) as by_poll, sio_client(server, transports=["websocket"]) as by_ws:
        p = RawPolling(server)
        p.connect_nsp("/")
        p.next_packets(1)  # welcome
        r = p.post(body)
        assert r.status_code in (200, 400), r.status_code
        wait_until(lambda: session_is_dead(p), 5, f"session to close after {body!r}")
        check_bystanders([by_poll, by_ws])


@pytest.mark.parametrize("name,body", BAD_PAYLOADS, ids=[b[0] for b in BAD_PAYLOADS])
def test_malformed_websocket_frame_closes_that_connection(server, name, body):
    with sio_client(server, transports=["websocket"]) as by_ws, sio_client(server, transports=["polling"]) as by_poll:
        ws = RawWs(server, auto_pong=True)
        try:
            ws.connect_nsp("/")
            # Over WebSocket each packet is its own frame; binary attachments are binary frames.
            for part in body.split(SEP):
                if part.startswith("b") and len(part) > 1:
                    ws.send(base64.b64decode(part[1:]))
                else:
                    ws.send(part)
            ws.wait_closed(3)
        finally:
            ws.close()
        check_bystanders([by_ws, by_poll])


@pytest.mark.spec_only("node decodes base64 leniently (invalid characters are skipped)")
def test_invalid_base64_attachment_over_polling_closes(server):
    with sio_client(server, transports=["websocket"]) as by:
        p = RawPolling(server)
        p.connect_nsp("/")
        p.next_packets(1)
        r = p.post('451-["ack",{"_placeholder":true,"num":0}]' + SEP + "b!!!not base64!!!")
        assert r.status_code in (200, 400)
        wait_until(lambda: session_is_dead(p), 5, "session to close")
        check_bystanders([by])


def test_event_before_connect_over_polling_closes(server):
    with sio_client(server, transports=["websocket"]) as by:
        p = RawPolling(server)
        p.post('421["ack","too early"]')
        wait_until(lambda: session_is_dead(p), 5, "session to close")
        check_bystanders([by])


def test_event_before_connect_over_websocket_closes(server):
    with sio_client(server, transports=["websocket"]) as by:
        ws = RawWs(server, auto_pong=True)
        try:
            ws.send('42["echo",1]')
            ws.wait_closed(3)
        finally:
            ws.close()
        check_bystanders([by])


def test_binary_frame_over_polling_content_type_is_rejected_or_ignored(server):
    """A POST with a binary content type is not a valid Engine.IO v4 payload."""
    with sio_client(server, transports=["websocket"]) as by:
        p = RawPolling(server)
        p.connect_nsp("/")
        r = p.post(b"\x00\x01\x02", content_type="application/octet-stream")
        assert r.status_code in (200, 400)
        check_bystanders([by])


def test_garbage_http_requests_do_not_hurt_the_server(server):
    with sio_client(server, transports=["websocket"]) as by:
        for query in ["", "EIO=4&transport=polling&sid=", "EIO=4&transport=polling&sid=%00%ff", "EIO=4&transport=polling&j=1",
                      "EIO=4&transport=polling&EIO=4", "EIO=4&transport=websocket"]:
            r = requests.get(server.url + "/socket.io/?" + query, timeout=WAIT)
            assert r.status_code in (200, 400), (query, r.status_code)
        check_bystanders([by])
