"""Server options python-socketio apps pass (``transports``, ``allow_upgrades``,
``cookie``, ``namespaces``, ``always_connect``, handlers of ``namespace='*'``), each
checked against a python-socketio ``Server`` given the same option (threading mode under
werkzeug + simple-websocket, as in test_fidelity.py): what a client sees on the wire and
what the handlers are called with must be the same."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import requests
import socketio
import websocket
from werkzeug.serving import make_server

import ferrosocket

Install = Callable[[Any], None]


def _noop(sio: Any) -> None:
    pass


def run_psio(options: Dict[str, Any], install: Install) -> Iterator[Tuple[int, Any]]:
    sio = socketio.Server(async_mode="threading", **options)
    install(sio)
    http = make_server("127.0.0.1", 0, socketio.WSGIApp(sio), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield http.server_port, sio
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)


def run_ferrosocket(options: Dict[str, Any], install: Install) -> Iterator[Tuple[int, Any]]:
    sio = ferrosocket.Server(handler_threads=4, **options)
    install(sio)
    try:
        yield sio.start("127.0.0.1", 0), sio
    finally:
        sio.stop()


SERVERS = {"python-socketio": run_psio, "ferrosocket": run_ferrosocket}


def each(
    options: Dict[str, Any],
    script: Callable[[int, Any], Any],
    install: Install = _noop,
) -> Dict[str, Any]:
    """What ``script(port, server)`` returned against each server, by server."""
    results = {}
    for name, run in SERVERS.items():
        gen = run(options, install)
        port, sio = next(gen)
        try:
            results[name] = script(port, sio)
        finally:
            gen.close()
    return results


def both(
    options: Dict[str, Any],
    script: Callable[[int, Any], Any],
    install: Install = _noop,
) -> Any:
    """What ``script(port, server)`` returned against each server; asserts they agree."""
    results = each(options, script, install)
    ours, theirs = results["ferrosocket"], results["python-socketio"]
    assert ours == theirs, f"ferrosocket saw {ours!r}\npython-socketio saw {theirs!r}"
    return ours


def polling_open(port: int) -> Tuple[int, Optional[Dict[str, Any]], requests.Response]:
    """The polling handshake: status, the open packet (None when refused), the response."""
    response = requests.get(
        f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=5
    )
    if response.status_code != 200:
        return response.status_code, None, response
    assert response.text.startswith("0{"), response.text
    return 200, json.loads(response.text[1:]), response


def websocket_open(port: int, sid: Optional[str] = None) -> Optional[websocket.WebSocket]:
    """A WebSocket to the Engine.IO endpoint (on ``sid``'s session when given), None when
    the handshake is refused."""
    query = "" if sid is None else f"&sid={sid}"
    try:
        return websocket.create_connection(
            f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket{query}", timeout=5
        )
    except websocket.WebSocketBadStatusException:
        return None


def handshakes(port: int, sio: Any) -> Any:
    """What the polling and the direct WebSocket handshakes give."""
    status, open_packet, _ = polling_open(port)
    ws = websocket_open(port)
    ws_open = None
    if ws is not None:
        frame = ws.recv()
        ws.close()
        ws_open = json.loads(frame[1:])["upgrades"]
    return status, open_packet and open_packet["upgrades"], ws_open


@pytest.mark.parametrize(
    "transports, expected",
    [
        (None, (200, ["websocket"], [])),
        (["polling", "websocket"], (200, ["websocket"], [])),
        (["websocket"], (400, None, [])),
        ("websocket", (400, None, [])),
    ],
)
def test_transports(transports: Any, expected: Any) -> None:
    options = {} if transports is None else {"transports": transports}
    assert both(options, handshakes) == expected


@pytest.mark.parametrize("transports", [["polling"], ["polling", "carrier-pigeon"]])
def test_polling_only_offers_no_upgrade(transports: Any) -> None:
    # python-engineio 4.13 still offers ["websocket"] with polling only, then answers the
    # client's upgrade 400 (the client stays on polling). Offering nothing is what the
    # option means and spares the client a doomed request; the rest is the same.
    results = each({"transports": transports}, handshakes)
    assert results["python-socketio"] == (200, ["websocket"], None)
    assert results["ferrosocket"] == (200, [], None)


def test_no_valid_transport_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="No valid transports provided"):
        socketio.Server(async_mode="threading", transports=["carrier-pigeon"])
    with pytest.raises(ValueError, match="No valid transports provided"):
        ferrosocket.Server(transports=["carrier-pigeon"])


def test_allow_upgrades_off() -> None:
    # The open packet of each transport, and that a direct WebSocket still connects.
    assert both({"allow_upgrades": False}, handshakes) == (200, [], [])


def test_allow_upgrades_off_closes_an_upgrade_attempt() -> None:
    # ferrosocket only: python-engineio offers no upgrade but still performs one a client
    # asks for; here the WebSocket is closed and the polling session goes on.
    sio = ferrosocket.Server(allow_upgrades=False, handler_threads=2)
    sio.on("echo", lambda sid, data: data)
    port = sio.start("127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
        status, open_packet, _ = polling_open(port)
        assert status == 200 and open_packet is not None
        sid = open_packet["sid"]
        ws = websocket_open(port, sid)
        assert ws is not None
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            ws.send("2probe")
            ws.recv()  # the server's close
            ws.recv()
        ws.close()
        requests.post(f"{base}&sid={sid}", data="40", timeout=5)
        assert requests.get(f"{base}&sid={sid}", timeout=5).text.startswith("40{")
        requests.post(f"{base}&sid={sid}", data='421["echo","polling"]', timeout=5)
        assert requests.get(f"{base}&sid={sid}", timeout=5).text == '431["polling"]'
    finally:
        sio.stop()


def set_cookie(port: int, sio: Any) -> Any:
    """The polling handshake's Set-Cookie headers, the sid written ``<sid>``."""
    status, open_packet, response = polling_open(port)
    assert status == 200 and open_packet is not None
    headers = response.raw.headers.getlist("Set-Cookie")
    return [h.replace(open_packet["sid"], "<sid>") for h in headers]


@pytest.mark.parametrize(
    "cookie",
    [
        None,
        "io",
        "sticky",
        {"name": "sticky", "path": "/app", "SameSite": "None", "Secure": True},
        {"HttpOnly": True, "path": "/", "Max-Age": "3600"},
        {"name": "io"},
    ],
)
def test_cookie(cookie: Any) -> None:
    options = {} if cookie is None else {"cookie": cookie}
    headers = both(options, set_cookie)
    if cookie is None:
        assert headers == []
    else:
        assert len(headers) == 1 and "=<sid>" in headers[0]


def test_cookie_refused_values() -> None:
    with pytest.raises(TypeError, match="I/O thread"):
        ferrosocket.Server(cookie={"name": "io", "Expires": lambda: "never"})
    with pytest.raises(ValueError, match="not a valid Set-Cookie header"):
        ferrosocket.Server(cookie={"name": "io", "path": "/\r\nX-Injected: 1"})
    with pytest.raises(TypeError, match="cookie must be None, a str or a dict"):
        ferrosocket.Server(cookie=["io"])


def frames_until(ws: websocket.WebSocket, last: Callable[[str], bool]) -> List[str]:
    """Engine.IO message frames (pings answered) up to the first for which ``last`` holds."""
    frames: List[str] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        frame = ws.recv()
        assert isinstance(frame, str)
        if frame == "2":
            ws.send("3")
            continue
        frames.append(frame[1:])
        if last(frame[1:]):
            return frames
    raise AssertionError(f"no last frame within 5 s, got {frames!r}")


def install_gatekeeper(sio: Any) -> None:
    """``/``'s connect handler emits ``hello``, then accepts only ``{"token": "ok"}``
    (False otherwise, or ConnectionRefusedError with data for ``"raise"``)."""

    def connect(sid: str, environ: Dict[str, Any], auth: Any) -> Any:
        sio.emit("hello", "before the verdict", to=sid)
        token = (auth or {}).get("token")
        if token == "raise":
            raise socketio.exceptions.ConnectionRefusedError("go away", {"retry": False})
        return token == "ok"

    sio.on("connect", connect)
    sio.on("disconnect", lambda sid, reason: sio.emit("left", sid))


def connect_script(auth: str) -> Callable[[int, Any], Any]:
    def script(port: int, sio: Any) -> Any:
        ws = websocket_open(port)
        assert ws is not None
        try:
            assert ws.recv().startswith("0{")
            ws.send("40" + auth)
            frames = frames_until(ws, lambda f: f[0] in "14")
            # Then a good connect on the same session, to see nothing else was sent.
            ws.send('40{"token":"ok"}')
            # Its CONNECT and the hello, in whichever order the server sends them.
            frames += frames_until(ws, lambda f: True) + frames_until(ws, lambda f: True)
            return ["0<sid>" if f.startswith('0{"sid"') else f for f in frames]
        finally:
            ws.close()

    return script


@pytest.mark.parametrize(
    "auth, refusal",
    [
        ('{"token":"bad"}', '1{"message":"Connection rejected by server"}'),
        ('{"token":"raise"}', '1{"message":"go away","data":{"retry":false}}'),
    ],
)
def test_always_connect_acknowledges_then_takes_back(auth: str, refusal: str) -> None:
    frames = both({"always_connect": True}, connect_script(auth), install_gatekeeper)
    hello = '2["hello","before the verdict"]'
    assert frames == ["0<sid>", hello, refusal, "0<sid>", hello]


def test_always_connect_off_refuses_with_connect_error() -> None:
    # The refusal is the same; the emit of a refused handler is not sent here, where
    # python-socketio sends it before the CONNECT_ERROR; and an accepted client gets its
    # CONNECT before what the handler emitted (python-socketio: after).
    results = each({}, connect_script('{"token":"raise"}'), install_gatekeeper)
    hello = '2["hello","before the verdict"]'
    refusal = '4{"message":"go away","data":{"retry":false}}'
    assert results["python-socketio"] == [hello, refusal, hello, "0<sid>"]
    assert results["ferrosocket"] == [refusal, "0<sid>", hello]


def install_catch_all(sio: Any) -> None:
    """Handlers under ``namespace='*'`` (each takes the namespace first), and ``/own``
    with an event of its own; what connect and disconnect saw goes to ``sio.seen``."""
    sio.seen = []

    def connect(namespace: str, sid: str, environ: Dict[str, Any], auth: Any = None) -> Any:
        sio.seen.append(("connect", namespace))
        return namespace != "/closed"

    def disconnect(namespace: str, sid: str, reason: str) -> None:
        sio.seen.append(("disconnect", namespace, reason))

    def whoami(namespace: str, sid: str) -> str:
        sio.enter_room(sid, "members", namespace=namespace)
        return namespace

    sio.on("connect", connect, namespace="*")
    sio.on("disconnect", disconnect, namespace="*")
    sio.on("whoami", whoami, namespace="*")
    sio.on("*", lambda event, namespace, sid, *args: [event, namespace, *args], namespace="*")
    sio.on("own", lambda sid: "own handler", namespace="/own")


def catch_all_script(port: int, sio: Any) -> Any:
    ws = websocket_open(port)
    assert ws is not None

    def exchange(text: str) -> str:
        ws.send(text)
        frame = frames_until(ws, lambda f: True)[0]
        return "0<sid>" if frame.startswith("0") and '{"sid":' in frame else frame

    try:
        assert ws.recv().startswith("0{")
        got = [
            exchange("40/room-a,"),
            exchange('42/room-a,1["whoami"]'),
            exchange('42/room-a,2["other",5]'),
        ]
        sio.emit("news", 1, room="members", namespace="/room-a")
        got.append(frames_until(ws, lambda f: True)[0])
        got += [
            exchange("40/own,"),
            exchange('42/own,3["own"]'),
            exchange('42/own,4["whoami"]'),
            exchange("40/closed,"),
        ]
        ws.send("41/room-a,")
        # /own has handlers (and so its own disconnect hook) but no disconnect handler:
        # the catch-all's runs, as in python-socketio.
        ws.send("41/own,")
        deadline = time.monotonic() + 5
        while ("disconnect", "/own", "client disconnect") not in sio.seen:
            assert time.monotonic() < deadline, sio.seen
            time.sleep(0.01)
        return got, list(sio.seen)
    finally:
        ws.close()


def test_catch_all_namespace_handlers() -> None:
    got, seen = both({"namespaces": "*"}, catch_all_script, install_catch_all)
    assert got == [
        "0<sid>",
        '3/room-a,1["/room-a"]',
        '3/room-a,2[["other","/room-a",5]]',
        '2/room-a,["news",1]',
        "0<sid>",
        '3/own,3["own handler"]',
        '3/own,4["/own"]',
        '4/closed,{"message":"Connection rejected by server"}',
    ]
    assert seen == [
        ("connect", "/room-a"),
        ("connect", "/own"),
        ("connect", "/closed"),
        ("disconnect", "/room-a", "client disconnect"),
        ("disconnect", "/own", "client disconnect"),
    ]


@pytest.mark.parametrize("namespaces", [["/room-a"], "/room-a", ["room-a"]])
def test_namespaces_listed(namespaces: Any) -> None:
    def script(port: int, sio: Any) -> Any:
        ws = websocket_open(port)
        assert ws is not None
        try:
            assert ws.recv().startswith("0{")
            ws.send("40/room-a,")
            accepted = frames_until(ws, lambda f: True)[0].startswith("0/room-a,{")
            ws.send("40/room-b,")
            refused = frames_until(ws, lambda f: True)[0].startswith("4/room-b,")
            return accepted, refused
        finally:
            ws.close()

    results = each({"namespaces": namespaces}, script, install_catch_all)
    assert results["ferrosocket"] == (True, True)
    # python-socketio compares the name as given: "room-a" without its "/" names nothing.
    expected = (namespaces != ["room-a"], True)
    assert results["python-socketio"] == expected


def test_unknown_namespace_refusal_by_default() -> None:
    # The same refusal, in different words: python-socketio sends the string
    # "Unable to connect", ferrosocket node socket.io's {"message":"Invalid namespace"}.
    def script(port: int, sio: Any) -> Any:
        ws = websocket_open(port)
        assert ws is not None
        try:
            assert ws.recv().startswith("0{")
            ws.send("40/room-a,")
            return frames_until(ws, lambda f: True)[0]
        finally:
            ws.close()

    results = each({}, script, install_catch_all)
    assert results["python-socketio"] == '4/room-a,"Unable to connect"'
    assert results["ferrosocket"] == '4/room-a,{"message":"Invalid namespace"}'


def test_catch_all_signature_checks() -> None:
    sio = ferrosocket.Server()
    with pytest.raises(TypeError, match=r"\(namespace, sid, environ\)"):
        sio.on("connect", lambda sid, environ: None, namespace="*")
    with pytest.raises(TypeError, match=r"\(event, namespace, sid, \*args\)"):
        sio.on("*", lambda event, sid: None, namespace="*")
    sio.on("connect", lambda namespace, sid, environ: None, namespace="*")
    sio.on("message", lambda namespace, sid, data: None, namespace="*")
    sio.stop()
