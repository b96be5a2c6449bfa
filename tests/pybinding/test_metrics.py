"""Server.metrics(), prometheus() and serve_metrics() on the binding, with real
python-socketio clients; the text parsed by the Prometheus client's parser. The counters
themselves are the core's (core/tests/metrics.rs, tests/python/test_metrics.py)."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict

import pytest
import requests
from conftest import Clients, wait_for
from prometheus_client.parser import text_string_to_metric_families

import ferrosocket


def samples(text: str) -> Dict[Any, float]:
    out: Dict[Any, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_dict_follows_handlers_and_clients(server: ferrosocket.Server, clients: Clients) -> None:
    @server.on("work")
    def work(sid: str, ms: int) -> str:
        time.sleep(ms / 1000)
        return "done"

    before = server.metrics()
    assert before["connections"] == {"polling": 0, "websocket": 0, "local": 0}
    assert set(before["dispatch"]) == {
        "threads", "busy_threads", "waiting_lanes", "saturations", "busy_seconds", "gil_wait_seconds"}
    client = clients.connect()
    for _ in range(3):
        assert client.call("work", 40, timeout=5) == "done"
    now = server.metrics()
    assert now["connections"]["websocket"] == 1
    assert now["connections_accepted"]["websocket"] == before["connections_accepted"]["websocket"] + 1
    assert now["events_received"] - before["events_received"] == 3
    assert now["namespace_sockets"]["/"] == 1
    assert now["dispatch"]["busy_seconds"] - before["dispatch"]["busy_seconds"] >= 0.12
    assert now["dispatch"]["gil_wait_seconds"] >= 0
    assert set(now["disconnects"]) >= {"ping timeout", "client too slow", "transport close"}
    assert set(now["connections_refused"]) == {
        "max_connections", "origin", "host", "bad_handshake", "shutting_down"}
    client.disconnect()
    wait_for(lambda: server.metrics()["connections"]["websocket"] == 0, what="the connection counted closed")


def test_serve_metrics_answers_the_text_format(server: ferrosocket.Server, clients: Clients) -> None:
    port = server.serve_metrics("127.0.0.1", 0)
    assert server.serve_metrics("127.0.0.1", 0) == port, "started once"
    client = clients.connect()
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    got = samples(response.text)
    assert got[("ferrosocket_connections", (("transport", "websocket"),))] == 1
    assert got[("ferrosocket_namespace_sockets", (("namespace", "/"),))] == 1
    assert ("ferrosocket_dispatch_busy_seconds_total", ()) in got
    assert ("ferrosocket_dispatch_scope_wait_seconds_total", ()) in got
    assert samples(server.prometheus()).keys() == got.keys()
    client.disconnect()


def test_serve_metrics_errors_are_python_exceptions(server: ferrosocket.Server) -> None:
    taken = server.serve_metrics("127.0.0.1", 0)
    other = ferrosocket.Server()
    try:
        with pytest.raises(OSError):
            other.serve_metrics("127.0.0.1", taken)
        with pytest.raises(OSError):
            other.serve_metrics("no-such-host.invalid", 0)
    finally:
        other.stop()
    with pytest.raises(RuntimeError):
        other.serve_metrics("127.0.0.1", 0)


def test_metrics_are_readable_while_handlers_run(server: ferrosocket.Server, clients: Clients) -> None:
    release = threading.Event()

    @server.on("hold")
    def hold(sid: str) -> str:
        release.wait(5)
        return "released"

    client = clients.connect()
    answers: list = []
    asking = threading.Thread(target=lambda: answers.append(client.call("hold", timeout=5)))
    asking.start()
    wait_for(lambda: server.metrics()["dispatch"]["busy_threads"] == 1, what="one handler running")
    release.set()
    asking.join(5)
    assert answers == ["released"]
    client.disconnect()


def test_flask_socketio_serves_the_same_metrics() -> None:
    flask = pytest.importorskip("flask")
    from ferrosocket.flask import SocketIO

    app = flask.Flask(__name__)
    socketio = SocketIO(app)
    assert socketio.server is not None
    try:
        port = socketio.server.serve_metrics("127.0.0.1", 0)
        got = samples(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
        assert got[("ferrosocket_namespace_sockets", (("namespace", "/"),))] == 0
        assert socketio.server.metrics()["events_received"] == 0
    finally:
        socketio.server.stop()
