"""The same client script against python-socketio and against the binding (issue 12).

Each test runs one script of raw Engine.IO/Socket.IO frames (websocket-client, so what the
client saw is the exact text on the wire) against a python-socketio ``Server`` (threading
mode, served by werkzeug with simple-websocket, both from the test venv) and against a
``ferrosocket.Server``, with the same handlers registered through the API both share
(``on``, ``emit``, ``disconnect``), and compares what the client and the handlers saw:
dict key order (nested, both directions), integers beyond 64 bits, values JSON cannot
carry, and the disconnect reasons. Where the two differ on purpose (NaN), the test says
so and checks the binding's side only.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any, Callable, Dict, Iterator, Tuple

import pytest
import socketio
import websocket
from conftest import Inbox
from werkzeug.serving import make_server

import ferrosocket

PING = 0.4  # ping_interval and ping_timeout, seconds, on both servers


def ordered(value: Any) -> Any:
    """`value` with every dict as a list of (key, value) pairs: equal only when the keys
    come in the same order too."""
    if isinstance(value, dict):
        return [(k, ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return (type(value).__name__, value)


Install = Callable[[Any, Inbox], None]


def run_psio(install: Install) -> Iterator[Tuple[int, Any, Inbox]]:
    sio = socketio.Server(async_mode="threading", ping_interval=PING, ping_timeout=PING)
    seen = Inbox()
    install(sio, seen)
    http = make_server("127.0.0.1", 0, socketio.WSGIApp(sio), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield http.server_port, sio, seen
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)


def run_ferrosocket(install: Install) -> Iterator[Tuple[int, Any, Inbox]]:
    sio = ferrosocket.Server(ping_interval=PING, ping_timeout=PING, handler_threads=4)
    seen = Inbox()
    install(sio, seen)
    try:
        yield sio.start("127.0.0.1", 0), sio, seen
    finally:
        sio.stop()


SERVERS = {"python-socketio": run_psio, "ferrosocket": run_ferrosocket}


class Raw:
    """One client on the raw websocket transport, connected to "/"."""

    def __init__(self, port: int) -> None:
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=5
        )
        try:
            assert self.ws.recv().startswith("0{")
            self.ws.send("40")
            reply = self.recv()
            assert reply.startswith("0{"), reply
        except BaseException:
            self.ws.close()
            raise
        self.sid: str = json.loads(reply[1:])["sid"]

    def recv(self) -> str:
        """The next Socket.IO packet (pings are answered), within 5 s."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            frame = self.ws.recv()
            assert isinstance(frame, str)
            if frame == "2":
                self.ws.send("3")
                continue
            return frame[1:]
        raise AssertionError("no packet within 5 s")

    def close(self) -> None:
        self.ws.close()


def both(install: Install, script: Callable[[int, Any, Inbox], Any]) -> Dict[str, Any]:
    """What `script(port, server, seen)` returned against each server."""
    results = {}
    for name, run in SERVERS.items():
        gen = run(install)
        port, sio, seen = next(gen)
        try:
            results[name] = script(port, sio, seen)
        finally:
            gen.close()
    return results


def same(results: Dict[str, Any]) -> Any:
    ours, theirs = results["ferrosocket"], results["python-socketio"]
    assert ours == theirs, f"ferrosocket saw {ours!r}\npython-socketio saw {theirs!r}"
    return ours


# ------------------------------------------------------------------------------ values

NESTED = {"z": 1, "a": {"y": [{"q": 1, "b": 2}], "c": None}, "m": 3, "é": "ü"}
# 10**99 has 100 digits, python-socketio's limit (its sign counts too: -(10**98)).
BIG = [2**64, -(2**70), 10**99, -(10**98), 2**63, -(2**63) - 1, 1.5]


def install_echo(sio: Any, seen: Inbox) -> None:
    def echo(sid: str, *args: Any) -> Any:
        seen.put(ordered(list(args)))
        sio.emit("echoed", args[0] if len(args) == 1 else args, to=sid)
        return args[0] if len(args) == 1 else args

    def unsendable(sid: str, what: str) -> Any:
        value: Any = {"set": {1, 2}, "object": object()}[what]
        try:
            sio.emit("never", value, to=sid)
        except Exception as error:  # noqa: BLE001 (the type is what is compared)
            seen.put(("emit raised", type(error).__name__))
        return value  # the acknowledgement cannot be written either

    sio.on("echo", echo)
    sio.on("unsendable", unsendable)


def echo_script(payload: str) -> Callable[[int, Any, Inbox], Any]:
    """Sends `42 1 ["echo", <payload>]`; returns what the handler saw, the emit and the ack
    the client received (parsed in order)."""

    def script(port: int, sio: Any, seen: Inbox) -> Any:
        client = Raw(port)
        try:
            client.ws.send(f'421["echo",{payload}]')
            got = sorted([client.recv(), client.recv()])  # the emit ("2…") and the ack ("3…")
            assert got[0].startswith('2["echoed",'), got
            assert got[1].startswith("31["), got
            return (
                seen.wait(1),
                ordered(json.loads(got[1][2:])),
                ordered(json.loads(got[0][1:])),
            )
        finally:
            client.close()

    return script


def test_key_order_both_ways() -> None:
    payload = json.dumps(NESTED, separators=(",", ":"))
    handler, ack, emit = same(both(install_echo, echo_script(payload)))
    assert handler == [[ordered(NESTED)]]  # the order the client wrote
    assert ack == [ordered(NESTED)]
    assert emit == [("str", "echoed"), ordered(NESTED)]


def test_key_order_of_several_arguments() -> None:
    payload = '{"b":1,"a":2},{"d":{"f":1,"e":2}}'
    handler, ack, emit = same(both(install_echo, echo_script(payload)))
    assert handler == [ordered([{"b": 1, "a": 2}, {"d": {"f": 1, "e": 2}}])]
    assert ack == emit[1:]


def test_strings_numbers_and_empty_containers() -> None:
    # Escapes, a surrogate pair, non-ASCII keys, a duplicated key (the last value wins,
    # at the first one's place), exponents and empty containers, as the client wrote them.
    payload = (
        r'{"q\"k":"a\"b\\c\/\u00e9\ud83d\ude00\n\t","ключ":[],"e":{},'
        r'"d":1,"x":[1e3,-0.5,2E-2,0,-0],"d":2}'
    )
    handler, ack, emit = same(both(install_echo, echo_script(payload)))
    assert handler == [[ordered(json.loads(payload))]]
    assert ack == [ordered(json.loads(payload))]


def test_big_integers_round_trip() -> None:
    payload = json.dumps(BIG)
    handler, ack, emit = same(both(install_echo, echo_script(payload)))
    assert handler == [ordered([BIG])]
    assert ack == [ordered(BIG)]


def test_integer_literal_of_more_than_100_characters_is_refused() -> None:
    """python-socketio's JSON refuses it (the event is dropped, logged); the connection
    goes on and the next event is answered."""

    def script(port: int, sio: Any, seen: Inbox) -> Any:
        client = Raw(port)
        try:
            client.ws.send(f'421["echo",{10**100}]')  # 101 digits
            client.ws.send(f'422["echo",{10**99}]')  # 100 digits: fine
            got = sorted([client.recv(), client.recv()])
            return seen.wait(1), got[1][:2]
        finally:
            client.close()

    handler, ack_id = same(both(install_echo, script))
    assert handler == [[("int", 10**99)]]
    assert ack_id == "32"


# python-socketio writes the acknowledgement on a background thread, where the TypeError
# ends the thread (threading's excepthook prints it).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("what", ["set", "object"])
def test_unsendable_value(what: str) -> None:
    """emit raises TypeError; the unwritable acknowledgement is not sent (the error is
    logged) and the client's next event is answered."""

    def script(port: int, sio: Any, seen: Inbox) -> Any:
        client = Raw(port)
        try:
            client.ws.send(f'425["unsendable","{what}"]')
            raised = seen.wait(1)
            client.ws.send('426["echo",1]')
            got = sorted([client.recv(), client.recv()])
            return raised, got
        finally:
            client.close()

    raised, got = same(both(install_echo, script))
    assert raised == [("emit raised", "TypeError")]
    assert got == ['2["echoed",1]', "36[1]"]  # no "35…"


def test_integers_beyond_float_range_are_the_binding_own() -> None:
    """On purpose unlike python-socketio: the core's JSON check refuses a number that a
    float cannot hold (more than 309 digits, like `1e400`). From the binding, emit raises
    ValueError (python-socketio sends it; its own clients refuse more than 100
    characters); from a client, the packet is invalid and the client is disconnected
    (python-socketio drops that event and logs it)."""
    sio = ferrosocket.Server()
    seen = Inbox()
    install_reasons(sio, seen)
    try:
        sio.emit("x", 10**308)  # 309 digits: fine
        with pytest.raises(ValueError, match="number out of range"):
            sio.emit("x", 10**309)
        client = Raw(sio.start("127.0.0.1", 0))
        try:
            client.ws.send(f'42["kick",{10**400}]')
            assert seen.wait(1) == [ferrosocket.Server.reason.PARSE_ERROR]
        finally:
            client.close()
    finally:
        sio.stop()


def test_nan_is_refused_by_the_binding() -> None:
    """On purpose unlike python-socketio, which writes `NaN` (not JSON: a JS client's
    parser refuses the packet): the binding raises ValueError from emit."""
    sio = ferrosocket.Server()
    try:
        with pytest.raises(ValueError, match="NaN"):
            sio.emit("x", math.nan)
        with pytest.raises(ValueError):
            sio.emit("x", {"a": [math.inf]})
    finally:
        sio.stop()


# ----------------------------------------------------------------------------- reasons


def install_reasons(sio: Any, seen: Inbox) -> None:
    sio.on("disconnect", lambda sid, reason: seen.put(reason))
    sio.on("kick", lambda sid: sio.disconnect(sid))


def reason_script(act: Callable[[Raw, Any], None]) -> Callable[[int, Any, Inbox], Any]:
    def script(port: int, sio: Any, seen: Inbox) -> Any:
        client = Raw(port)
        try:
            act(client, sio)
            return seen.wait(1, timeout=10)
        finally:
            client.close()

    return script


def test_reason_client_disconnect() -> None:
    def act(client: Raw, sio: Any) -> None:
        client.ws.send("41")

    assert same(both(install_reasons, reason_script(act))) == [
        ferrosocket.Server.reason.CLIENT_DISCONNECT
    ]
    assert ferrosocket.Server.reason.CLIENT_DISCONNECT == socketio.Server.reason.CLIENT_DISCONNECT


def test_reason_server_disconnect() -> None:
    def act(client: Raw, sio: Any) -> None:
        client.ws.send('42["kick"]')

    assert same(both(install_reasons, reason_script(act))) == ["server disconnect"]


def test_reason_transport_close() -> None:
    def act(client: Raw, sio: Any) -> None:
        client.ws.close()

    assert same(both(install_reasons, reason_script(act))) == ["transport close"]


def test_reason_ping_timeout() -> None:
    def act(client: Raw, sio: Any) -> None:
        pass  # the client never reads, so never answers a ping

    assert same(both(install_reasons, reason_script(act))) == ["ping timeout"]


def test_reason_names_match_python_socketio() -> None:
    theirs = {k: v for k, v in vars(socketio.Server.reason).items() if k.isupper()}
    ours = {k: v for k, v in vars(ferrosocket.Server.reason).items() if k.isupper()}
    assert theirs == {k: ours[k] for k in theirs}
    # The binding's own, for what python-socketio has no case for.
    assert {k: v for k, v in ours.items() if k not in theirs} == {
        "PARSE_ERROR": "parse error",
        "CLIENT_TOO_SLOW": "client too slow",
        "SERVER_SHUTTING_DOWN": "server shutting down",
    }


def test_reason_parse_error_is_the_binding_own() -> None:
    """python-socketio logs a bad packet and keeps the client; the binding closes it,
    with its own reason."""
    sio = ferrosocket.Server()
    seen = Inbox()
    install_reasons(sio, seen)
    try:
        client = Raw(sio.start("127.0.0.1", 0))
        try:
            client.ws.send("42[unterminated")
            assert seen.wait(1) == [ferrosocket.Server.reason.PARSE_ERROR]
        finally:
            client.close()
    finally:
        sio.stop()
