"""`/metrics` (SPEC.md, --metrics-port): the Prometheus text format, read by the reference
Prometheus client's parser, and counters that follow real python-socketio traffic."""

import threading
import time

import pytest
import requests
import socketio
from prometheus_client.parser import text_string_to_metric_families

from conftest import REPO_ROOT
from helpers import WAIT
from ferrosocket_testing import close_client, wait_until

pytestmark = pytest.mark.spec_only("no /metrics listener")


@pytest.fixture
def metered(server_factory):
    srv = server_factory("--metrics-port", "0")
    assert "METRICS" in srv.announced, "no METRICS line before LISTENING"
    srv.metrics_url = f"http://127.0.0.1:{srv.announced['METRICS']}/metrics"
    return srv


def scrape(srv):
    """{(name, labels): value} of every sample, and {family name: type}."""
    response = requests.get(srv.metrics_url, timeout=WAIT)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples, types = {}, {}
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, types


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def test_every_family_parses_with_its_type_and_conventional_name(metered):
    samples, types = scrape(metered)
    # The parser drops a counter's `_total` from the family name; it keeps it on samples.
    expected = {
        "ferrosocket_connections": "gauge",
        "ferrosocket_connections_accepted": "counter",
        "ferrosocket_upgrades": "counter",
        "ferrosocket_connections_refused": "counter",
        "ferrosocket_disconnects": "counter",
        "ferrosocket_slow_client_evictions": "counter",
        "ferrosocket_packets_received": "counter",
        "ferrosocket_received_bytes": "counter",
        "ferrosocket_packets_sent": "counter",
        "ferrosocket_sent_bytes": "counter",
        "ferrosocket_events_received": "counter",
        "ferrosocket_events_sent": "counter",
        "ferrosocket_acks_pending": "gauge",
        "ferrosocket_ack_timeouts": "counter",
        "ferrosocket_namespace_sockets": "gauge",
    }
    for name, kind in expected.items():
        assert types.get(name) == kind, (name, types.get(name))
    for (name, _labels), _value in samples.items():
        family = name[: -len("_total")] if name.endswith("_total") else name
        if types.get(family) == "counter":
            assert name.endswith("_total"), name
    assert value(samples, "ferrosocket_connections", transport="websocket") == 0
    assert value(samples, "ferrosocket_namespace_sockets", namespace="/") == 0
    assert value(samples, "ferrosocket_namespace_sockets", namespace="/admin") == 0


def test_counters_follow_a_client(metered):
    before, _ = scrape(metered)
    client = socketio.Client(reconnection=False)
    echoed = []
    client.on("echo", echoed.append)
    client.connect(metered.url, transports=["polling", "websocket"], wait_timeout=WAIT)
    try:
        wait_until(lambda: client.transport() == "websocket", what="the upgrade")
        for n in range(5):
            assert client.call("ack", {"n": n}, timeout=WAIT) == {"n": n}
        client.emit("echo", "x")
        wait_until(lambda: echoed, what="the echo")
        during, _ = scrape(metered)
        assert value(during, "ferrosocket_connections", transport="websocket") == 1
        assert value(during, "ferrosocket_connections", transport="polling") == 0
        assert value(during, "ferrosocket_namespace_sockets", namespace="/") == 1
        grew = lambda name, **labels: value(during, name, **labels) - value(before, name, **labels)  # noqa: E731
        assert grew("ferrosocket_connections_accepted_total", transport="polling") == 1
        assert grew("ferrosocket_upgrades_total") == 1
        assert grew("ferrosocket_events_received_total") == 6
        assert grew("ferrosocket_events_sent_total") >= 1
        assert grew("ferrosocket_packets_received_total") >= 6
        assert grew("ferrosocket_received_bytes_total") >= 5 * len('21["ack",{"n":0}]')
        assert grew("ferrosocket_packets_sent_total") >= 7
        assert grew("ferrosocket_sent_bytes_total") > 0
        assert value(during, "ferrosocket_acks_pending") == 0
    finally:
        close_client(client)

    def closed():
        samples, _ = scrape(metered)
        return samples if value(samples, "ferrosocket_connections", transport="websocket") == 0 else None

    after = wait_until(closed, what="the connection counted closed")
    assert value(after, "ferrosocket_namespace_sockets", namespace="/") == 0
    total = lambda samples: sum(  # noqa: E731
        v for (name, _), v in samples.items() if name == "ferrosocket_disconnects_total")
    assert total(after) - total(before) == 1


def test_refusals_are_counted_by_reason(metered):
    before, _ = scrape(metered)
    base = f"{metered.url}/socket.io/"
    assert requests.get(base, params={"EIO": "3", "transport": "polling"}, timeout=WAIT).status_code == 400
    assert requests.get(base, params={"EIO": "4", "transport": "carrier-pigeon"}, timeout=WAIT).status_code == 400
    refused = requests.get(base, params={"EIO": "4", "transport": "polling"},
                           headers={"Origin": "http://elsewhere.test"}, timeout=WAIT)
    assert refused.status_code == 403
    after, _ = scrape(metered)
    grew = lambda reason: (  # noqa: E731
        value(after, "ferrosocket_connections_refused_total", reason=reason)
        - value(before, "ferrosocket_connections_refused_total", reason=reason))
    assert grew("bad_handshake") == 2
    assert grew("origin") == 1
    assert grew("max_connections") == 0


def test_acks_pending_and_timed_out(metered):
    client = socketio.Client(reconnection=False)
    release = threading.Event()
    client.on("slow", lambda *args: release.wait(WAIT) and "late")
    client.on("too_late", lambda *args: time.sleep(0.6) or "too late")
    client.connect(metered.url, transports=["websocket"], wait_timeout=WAIT)
    try:
        # The server waits for the client's ack of `slow` while the client holds it.
        answers = []
        asking = threading.Thread(target=lambda: answers.append(client.call(
            "server_ack", {"event": "slow", "args": [], "timeout_ms": 5000}, timeout=WAIT)))
        asking.start()
        wait_until(lambda: value(scrape(metered)[0], "ferrosocket_acks_pending") == 1,
                   what="one ack pending on the server")
        release.set()
        asking.join(WAIT)
        assert answers == [{"ok": True, "args": ["late"]}]
        assert value(scrape(metered)[0], "ferrosocket_acks_pending") == 0
        before, _ = scrape(metered)
        # The client answers after the server stopped waiting (SPEC.md: server_ack).
        answer = client.call("server_ack", {"event": "too_late", "args": [1], "timeout_ms": 300},
                             timeout=WAIT)
        assert answer == {"ok": False, "error": "timeout"}
        after, _ = scrape(metered)
        assert (value(after, "ferrosocket_ack_timeouts_total")
                - value(before, "ferrosocket_ack_timeouts_total")) == 1
        assert value(after, "ferrosocket_acks_pending") == 0
    finally:
        close_client(client)


def test_only_metrics_is_served(metered):
    other = metered.metrics_url.replace("/metrics", "/other")
    assert requests.get(other, timeout=WAIT).status_code == 404
    assert requests.post(metered.metrics_url, timeout=WAIT).status_code == 405
    # The Socket.IO port does not answer /metrics.
    assert requests.get(f"{metered.url}/metrics", timeout=WAIT).status_code == 404


def test_every_family_is_documented(metered):
    """docs/metrics.md lists every family a scrape has (the binding's spec server adds
    the dispatch pool's)."""
    docs = (REPO_ROOT / "docs" / "metrics.md").read_text()
    _, types = scrape(metered)
    for family, kind in types.items():
        name = f"{family}_total" if kind == "counter" else family
        assert f"| `{name}` | {kind} |" in docs, f"{name} ({kind}) is not in docs/metrics.md"
