"""Heartbeat (--ping-interval 300 --ping-timeout 200), graceful shutdown on SIGTERM, and a
100-client concurrency test with python-socketio's AsyncClient."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import socketio

from helpers import WAIT, RawPolling, RawWs, call, sio_client, wait_disconnect_entry, wait_until

HB = ("--ping-interval", "300", "--ping-timeout", "200")


def test_first_ping_after_one_interval_then_regular(server_factory):
    srv = server_factory(*HB)
    ws = RawWs(srv, auto_pong=True)
    try:
        assert ws.handshake["pingInterval"] == 300 and ws.handshake["pingTimeout"] == 200
        ws.connect_nsp("/")
        assert ws.recv_non_ping().startswith('42["welcome"')
        deadline = time.monotonic() + 1.65
        while time.monotonic() < deadline:
            try:
                m = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            except AssertionError:
                break
            assert m in ("2",), m
        first = ws.pings[0] - ws.opened_at
        assert 0.24 <= first <= 0.55, f"first ping {first:.3f}s after the open packet"
        assert len(ws.pings) >= 4, ws.pings
        gaps = [b - a for a, b in zip(ws.pings, ws.pings[1:])]
        assert all(0.24 <= g <= 0.55 for g in gaps), gaps
        ws.send('421["ack","alive"]')
        assert ws.recv_non_ping() == '431["alive"]'
    finally:
        ws.close()


def test_silent_websocket_client_is_closed_with_ping_timeout(server_factory):
    srv = server_factory(*HB)
    with sio_client(srv, transports=["websocket"]) as observer:
        ws = RawWs(srv, auto_pong=False)
        try:
            sid = ws.connect_nsp("/")
            closed_at = ws.wait_closed(2.0)
            after = closed_at - ws.opened_at
            assert 0.4 <= after <= 1.2, f"closed {after:.3f}s after the handshake"
        finally:
            ws.close()
        e = wait_disconnect_entry(observer, sid)
        assert e == {"sid": sid, "nsp": "/", "reason": "ping timeout"}
        assert call(observer, "ack", "fine") == ["fine"]


def test_silent_polling_client_is_dropped_with_ping_timeout(server_factory):
    srv = server_factory(*HB)
    with sio_client(srv, transports=["websocket"]) as observer:
        p = RawPolling(srv)
        sid = p.connect_nsp("/")
        # Never GET again (so never see / answer the ping).
        e = wait_disconnect_entry(observer, sid, timeout=3)
        assert e == {"sid": sid, "nsp": "/", "reason": "ping timeout"}
        r = p.get(timeout=3)
        assert r.status_code == 400


def test_well_behaved_clients_stay_connected(server_factory):
    srv = server_factory(*HB)
    with sio_client(srv, transports=["polling"]) as a, sio_client(srv, transports=["websocket"]) as b, \
            sio_client(srv) as c:
        ids = [s.eio.sid for s in (a, b)]
        time.sleep(1.6)
        for s in (a, b, c):
            assert s.connected
            assert s.rec.disconnects["/"] == []
            assert call(s, "ack", 1) == [1]
        assert [s.eio.sid for s in (a, b)] == ids
        assert c.transport() == "websocket"


def test_sigterm_disconnects_clients_and_exits_zero(server_factory):
    srv = server_factory()
    with sio_client(srv, transports=["polling"]) as a, sio_client(srv, transports=["websocket"]) as b, \
            sio_client(srv, namespaces=["/", "/admin"]) as c:
        ws = RawWs(srv, auto_pong=True)
        try:
            ws.connect_nsp("/")
            t0 = time.monotonic()
            srv.proc.send_signal(signal.SIGTERM)
            try:
                code = srv.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise AssertionError("server did not exit within 5s of SIGTERM") from None
            took = time.monotonic() - t0
            assert code == 0, f"exit code {code}; stderr:\n{srv.log_tail()}"
            assert took < 3.0, took
            ws.wait_closed(3)
            for s in (a, b, c):
                wait_until(lambda s=s: not s.connected or s.rec.disconnects["/"], 5, "client disconnect")
        finally:
            ws.close()


def test_100_concurrent_async_clients(server):
    n = 100

    async def scenario():
        clients = [socketio.AsyncClient(reconnection=False, request_timeout=WAIT) for _ in range(n)]
        got = [asyncio.Event() for _ in range(n)]
        for i, c in enumerate(clients):
            def make(i):
                async def on_hello(*args):
                    if args == ("hi", b"\x00\x01"):
                        got[i].set()
                return on_hello
            c.on("hello", make(i))
        try:
            await asyncio.wait_for(asyncio.gather(*[
                c.connect(server.url, transports=["websocket"] if i % 2 else ["polling"], wait_timeout=10)
                for i, c in enumerate(clients)
            ]), 30)
            rooms = await asyncio.wait_for(asyncio.gather(*[c.call("join", "crowd", timeout=10) for c in clients]), 30)
            assert all("crowd" in r for r in rooms)
            members = await clients[0].call("room_sids", "crowd", timeout=10)
            assert sorted(members) == sorted(c.get_sid("/") for c in clients)
            ok = await clients[-1].call("emit", {"to": ["crowd"], "event": "hello", "args": ["hi", b"\x00\x01"]},
                                        timeout=10)
            assert ok is True
            await asyncio.wait_for(asyncio.gather(*[e.wait() for e in got]), 15)
            # concurrent acks from everyone at once
            res = await asyncio.wait_for(asyncio.gather(*[c.call("ack", i, timeout=10) for i, c in enumerate(clients)]), 30)
            assert list(res) == list(range(n))
        finally:
            await asyncio.gather(*[c.disconnect() for c in clients], return_exceptions=True)

    asyncio.run(scenario())
    with sio_client(server, transports=["websocket"]) as observer:
        wait_until(lambda: call(observer, "room_sids", "crowd") == [[]], 10, "crowd to drain", every=0.1)
