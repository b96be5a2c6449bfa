"""CORS / origin checks on polling requests and WebSocket upgrades (--cors)."""

from __future__ import annotations

import pytest
import requests

from helpers import WAIT, RawPolling, ws_upgrade_status

ALLOWED = "http://allowed.test"
EVIL = "http://evil.test"
HANDSHAKE = "EIO=4&transport=polling"
WS = "EIO=4&transport=websocket"


def get(srv, origin=None, query=HANDSHAKE):
    headers = {"Origin": origin} if origin else {}
    return requests.get(srv.eio_url(query), headers=headers, timeout=WAIT)


def test_preflight_for_allowed_origin(server_factory):
    srv = server_factory("--cors", ALLOWED)
    r = requests.options(
        srv.eio_url(HANDSHAKE),
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=WAIT,
    )
    assert r.status_code in (200, 204), r.status_code
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED
    assert r.headers.get("Access-Control-Allow-Credentials") == "true"
    methods = r.headers.get("Access-Control-Allow-Methods")
    if methods is not None:
        allowed = {m.strip().upper() for m in methods.split(",")}
        assert {"GET", "POST"} <= allowed, methods
    hdrs = r.headers.get("Access-Control-Allow-Headers")
    if hdrs is not None:
        assert "content-type" in hdrs.lower(), hdrs


def test_preflight_for_disallowed_origin_does_not_allow_it(server_factory):
    srv = server_factory("--cors", ALLOWED)
    r = requests.options(
        srv.eio_url(HANDSHAKE),
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
        timeout=WAIT,
    )
    assert r.headers.get("Access-Control-Allow-Origin") not in (EVIL, "*")


def test_polling_with_allowed_origin_gets_allow_origin_header(server_factory):
    srv = server_factory("--cors", ALLOWED)
    p = RawPolling(srv, headers={"Origin": ALLOWED})
    assert p.open_response.headers.get("Access-Control-Allow-Origin") == ALLOWED
    assert p.open_response.headers.get("Access-Control-Allow-Credentials") == "true"
    r = p.post("40")
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED
    r = p.get()
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED
    assert r.text.startswith("40{")


def test_polling_with_disallowed_origin_is_403(server_factory):
    srv = server_factory("--cors", ALLOWED)
    r = get(srv, EVIL)
    assert r.status_code == 403, r.status_code
    assert r.headers.get("Access-Control-Allow-Origin") not in (EVIL, "*")


@pytest.mark.spec_only("node engine.io checks the origin (allowRequest) only on the handshake")
def test_polling_with_disallowed_origin_on_existing_session_is_403(server_factory):
    srv = server_factory("--cors", ALLOWED)
    p = RawPolling(srv, headers={"Origin": ALLOWED})
    r = requests.get(p.url, headers={"Origin": EVIL}, timeout=WAIT)
    assert r.status_code == 403
    r = requests.post(p.url, data="40", headers={"Origin": EVIL}, timeout=WAIT)
    assert r.status_code == 403


def test_websocket_upgrade_with_allowed_origin(server_factory):
    srv = server_factory("--cors", ALLOWED)
    status, _ = ws_upgrade_status(srv, WS, {"Origin": ALLOWED})
    assert status == 101


@pytest.mark.spec_only("node engine.io refuses a disallowed upgrade with 400, not 403")
def test_websocket_upgrade_with_disallowed_origin_is_403(server_factory):
    srv = server_factory("--cors", ALLOWED)
    status, _ = ws_upgrade_status(srv, WS, {"Origin": EVIL})
    assert status == 403


def test_several_cors_origins(server_factory):
    other = "http://b.test"
    srv = server_factory("--cors", ALLOWED, "--cors", other)
    for origin in (ALLOWED, other):
        r = get(srv, origin)
        assert r.status_code == 200, origin
        assert r.headers.get("Access-Control-Allow-Origin") == origin
        assert ws_upgrade_status(srv, WS, {"Origin": origin})[0] == 101
    assert get(srv, EVIL).status_code == 403
    assert get(srv, "http://allowed.test.evil.test").status_code == 403
    assert get(srv, "https://allowed.test").status_code == 403


def test_default_same_origin_policy(server):
    # No Origin header (non-browser client): works.
    assert get(server).status_code == 200
    assert ws_upgrade_status(server, WS)[0] == 101
    # The server's own origin: works.
    r = get(server, server.origin)
    assert r.status_code == 200
    assert ws_upgrade_status(server, WS, {"Origin": server.origin})[0] == 101
    # Any other origin: refused.
    assert get(server, EVIL).status_code == 403
    assert get(server, "http://127.0.0.1:1").status_code == 403


@pytest.mark.spec_only("node engine.io refuses a disallowed upgrade with 400, not 403")
def test_default_policy_refuses_foreign_websocket_origin(server):
    assert ws_upgrade_status(server, WS, {"Origin": EVIL})[0] == 403


def test_cors_star_allows_any_origin(server_factory):
    srv = server_factory("--cors", "*")
    for origin in (EVIL, "http://anything.example:8080", "null"):
        r = get(srv, origin)
        assert r.status_code == 200, origin
        assert r.headers.get("Access-Control-Allow-Origin") in (origin, "*"), r.headers
        assert ws_upgrade_status(srv, WS, {"Origin": origin})[0] == 101, origin
    r = requests.options(
        srv.eio_url(HANDSHAKE), headers={"Origin": EVIL, "Access-Control-Request-Method": "GET"}, timeout=WAIT
    )
    assert r.status_code in (200, 204)
    assert r.headers.get("Access-Control-Allow-Origin") in (EVIL, "*")


def test_default_policy_preflight_does_not_allow_foreign_origin(server):
    r = requests.options(
        server.eio_url(HANDSHAKE), headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}, timeout=WAIT
    )
    assert r.headers.get("Access-Control-Allow-Origin") not in (EVIL, "*")
