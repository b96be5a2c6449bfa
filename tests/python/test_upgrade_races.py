"""The polling -> WebSocket upgrade path under races, driven with raw Engine.IO requests.

Every test runs against ferrosocket's test-server and, side by side, against the node
reference server (socket.io 4.8 / engine.io 6.6, tests/python/reference/, installed by
run.sh with `npm ci`), with the same raw clients and the same assertions. The loops count
leaks (a GET never answered, a WebSocket the server keeps open after its session ended)
and lost races (a request answered differently depending on which of two connections the
server happened to read first); each count must be zero for both servers.

Run with `-s` to see the counts (`UPGRADE-RACES peer=... name=value ...` lines).
Only the reference: UPGRADE_RACES_PEERS=node; only ferrosocket: UPGRADE_RACES_PEERS=ferrosocket.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

import pytest
import requests
import websocket

from conftest import TestServer, start_command
from helpers import WAIT, RawPolling, decode_payload, ws_upgrade_status

REFERENCE_DIR = pathlib.Path(__file__).resolve().parent / "reference"
# How long a request or socket may stay open before it counts as left open: far above any
# real answer time (milliseconds), far below the 10 s upgrade timeout and the 25 s ping
# interval that would end it anyway.
HANG = 3.0


def reference_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (REFERENCE_DIR / "node_modules" / "socket.io").is_dir():
        return "tests/python/reference/node_modules missing (run.sh installs it with npm ci)"
    return None


def selected_peers() -> list:
    wanted = os.environ.get("UPGRADE_RACES_PEERS", "ferrosocket,node").split(",")
    peers = []
    for name in ("ferrosocket", "node"):
        if name not in wanted:
            continue
        missing = reference_missing() if name == "node" else None
        marks = [pytest.mark.skip(reason=f"node reference: {missing}")] if missing else []
        peers.append(pytest.param(name, marks=marks, id=name))
    return peers


@pytest.fixture(params=selected_peers())
def peer(request, server_factory):
    """Starts the server under test: `peer(*flags)`, flags as in tests/test-server/SPEC.md
    (the reference server takes --ping-interval / --ping-timeout)."""
    started: list[TestServer] = []

    def start(*args: str) -> TestServer:
        if request.param == "ferrosocket":
            srv = server_factory(*args)
        else:
            srv = start_command(
                ["node", str(REFERENCE_DIR / "server.js"), "--host", "127.0.0.1", "--port", "0", *args]
            )
            started.append(srv)
        srv.peer = request.param  # type: ignore[attr-defined]
        return srv

    start.name = request.param  # type: ignore[attr-defined]
    yield start
    for srv in started:
        srv.stop()


def report(srv, test: str, **counts) -> None:
    fields = " ".join(f"{k}={v}" for k, v in counts.items())
    print(f"UPGRADE-RACES peer={srv.peer} test={test} {fields}")


# ----------------------------------------------------------------------------- raw pieces


class BackgroundGet:
    """One long-polling GET whose request is written before the constructor returns (so it is
    on the wire ahead of whatever the caller sends next) and whose answer is read by a thread;
    `result` is (status, body), or ("error", name) if it failed or was still unanswered after
    `timeout`."""

    def __init__(self, srv, sid: str, timeout: float = HANG + 2, conn: http.client.HTTPConnection | None = None):
        self.result: tuple | None = None
        self._done = threading.Event()
        self._conn = conn or http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
        self._conn.request("GET", f"/socket.io/?EIO=4&transport=polling&sid={sid}")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            r = self._conn.getresponse()
            self.result = (r.status, r.read().decode("utf-8", "replace"))
        except (OSError, http.client.HTTPException) as e:
            self.result = ("error", type(e).__name__)
        finally:
            self._conn.close()
            self._done.set()

    def answered_by(self, deadline: float) -> tuple | None:
        """The answer, or None if the GET was still open at `deadline`."""
        if not self._done.wait(max(0.0, deadline - time.monotonic())):
            return None
        self._thread.join()
        return None if self.result and self.result[0] == "error" else self.result

    def finish(self) -> None:
        self._done.wait(HANG + 5)
        self._thread.join(1)


def open_session(srv) -> RawPolling:
    """A polling session connected to `/`, with nothing left queued (welcome collected)."""
    p = RawPolling(srv)
    p.connect_nsp("/")
    p.next_packets(1)  # welcome
    return p


def open_ws(srv, sid: str) -> websocket.WebSocket:
    return websocket.create_connection(
        f"{srv.ws_url}/socket.io/?EIO=4&transport=websocket&sid={sid}", timeout=WAIT, suppress_origin=True
    )


def probe(ws: websocket.WebSocket) -> None:
    ws.send("2probe")
    assert ws.recv() == "3probe"


def closed_by_server(ws: websocket.WebSocket, deadline: float) -> bool:
    """Reads (and drops) frames until the server closes the socket (close frame or EOF):
    True, or False if it is still open at `deadline`."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ws.settimeout(remaining)
        try:
            op, _ = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return False
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return True
        if op == websocket.ABNF.OPCODE_CLOSE or not ws.connected:
            return True


def still_works(ws: websocket.WebSocket) -> bool:
    """The upgraded connection answers an ack request (pings answered on the way)."""
    ws.send('4277["ack","alive"]')
    ws.settimeout(WAIT)
    while True:
        msg = ws.recv()
        if msg == "2":
            ws.send("3")
            continue
        return msg == '4377["alive"]'


def drop(ws: websocket.WebSocket) -> None:
    with contextlib.suppress(Exception):
        ws.close(timeout=0.2)
    with contextlib.suppress(Exception):
        ws.shutdown()


@contextlib.contextmanager
def cpu_load(processes: int):
    """Busy-loop processes for the duration of the block (bounded: each exits by itself
    after 30 s), so the server's threads are preempted the way they are on a loaded machine;
    stopped by pid when the block ends."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"])
        for _ in range(processes)
    ]
    try:
        yield
    finally:
        for b in burners:
            b.kill()
        for b in burners:
            b.wait(5)


def noop_answers(srv) -> set:
    # The reference closes the discarded polling transport with a close packet when the
    # upgrade completes before its 100 ms "fast upgrade" noop went out; ferrosocket always
    # releases the GET with a noop (the protocol notes' rule).
    return {"6"} if srv.peer == "ferrosocket" else {"6", "1"}


# ----------------------------------------------------------------------------- point 14


UPGRADES = 100


def test_get_pending_during_upgrade_is_released_and_nothing_is_left_open(peer):
    """100 upgrade sequences, each with a long-polling GET pending when the probe starts and
    `5` sent right after `3probe`, or together with `2probe` (racing the GET's release).
    Once every upgrade has completed (each connection answered an ack over its WebSocket),
    counts GETs still unanswered and GETs answered with anything but a noop. Then one side
    ends each session: the server (`disconnect_me` with all, every odd sequence) or the
    client (it closes its WebSocket); counts upgraded WebSockets the server still keeps open
    after it ended their session, and sessions still known after the client closed theirs."""
    srv = peer()
    runs = []
    for i in range(UPGRADES):
        p = open_session(srv)
        get = BackgroundGet(srv, p.sid)
        time.sleep(0.05)  # the GET is pending now
        ws = open_ws(srv, p.sid)
        if i % 4 < 2:
            # Pipelined, as a client may: the server reads `5` right after answering the
            # probe, while the GET it just released may not have run yet.
            ws.send("2probe")
            ws.send("5")
            assert ws.recv() == "3probe"
        else:
            probe(ws)
            ws.send("5")
        assert still_works(ws)
        runs.append((p, get, ws, i % 2 == 1))

    # Checked after the loop, against one deadline, so that a leak costs HANG seconds once.
    deadline = time.monotonic() + HANG
    unanswered = wrong_answer = 0
    answers: dict = {}
    for _, get, _, _ in runs:
        answer = get.answered_by(deadline)
        key = "unanswered" if answer is None else f"{answer[0]}:{answer[1][:12]}"
        answers[key] = answers.get(key, 0) + 1
        if answer is None:
            unanswered += 1
        elif answer[0] != 200 or answer[1] not in noop_answers(srv):
            wrong_answer += 1

    for _, _, ws, server_ends in runs:
        if server_ends:
            ws.send('42["disconnect_me",{"all":true}]')
        else:
            drop(ws)
    deadline = time.monotonic() + HANG
    ws_left_open = session_outlived = 0
    for p, _, ws, server_ends in runs:
        if server_ends:
            if not closed_by_server(ws, max(deadline, time.monotonic() + 0.05)):
                ws_left_open += 1
            drop(ws)
        elif requests.get(p.url, timeout=WAIT).status_code != 400:
            session_outlived += 1
    for _, get, _, _ in runs:
        get.finish()
    report(srv, "get_pending_during_upgrade", sequences=UPGRADES, get_unanswered=unanswered,
           get_wrong_answer=wrong_answer, ws_left_open=ws_left_open,
           session_outlived=session_outlived, answers=answers)
    assert (unanswered, wrong_answer, ws_left_open, session_outlived) == (0, 0, 0, 0), answers


# ----------------------------------------------------------------------------- point 15


CLOSE_RACES = 240
RACERS = 4
UPGRADE_PACKET_RACES = 180


def test_get_racing_the_clients_close_post_gets_a_noop(peer):
    """A GET and, right behind it, the client's close POST (`1`), each on a new connection:
    whichever the server handles first, the GET is answered with a noop, never
    `400 Session ID unknown`.
    RACERS clients race at once, so the server has more than one request to schedule."""
    srv = peer()
    lost = [0]
    answers: dict = {}
    lock = threading.Lock()

    def race(n: int) -> None:
        for _ in range(n):
            p = open_session(srv)
            post_conn = http.client.HTTPConnection(srv.host, srv.port, timeout=HANG + 2)
            try:
                get = BackgroundGet(srv, p.sid)
                post_conn.request("POST", f"/socket.io/?EIO=4&transport=polling&sid={p.sid}", body=b"1",
                                  headers={"Content-Type": "text/plain;charset=UTF-8"})
                posted = post_conn.getresponse()
                posted.read()
                answer = get.answered_by(time.monotonic() + HANG)
                get.finish()
            finally:
                post_conn.close()
            key = "unanswered" if answer is None else f"{answer[0]}:{answer[1][:30]}"
            with lock:
                answers[key] = answers.get(key, 0) + 1
                if answer != (200, "6") or posted.status != 200:
                    lost[0] += 1

    threads = [threading.Thread(target=race, args=(CLOSE_RACES // RACERS,)) for _ in range(RACERS)]
    with cpu_load(os.cpu_count() or 2):
        for t in threads:
            t.start()
        for t in threads:
            t.join(50)
    report(srv, "get_vs_close_post", races=CLOSE_RACES, lost=lost[0], answers=answers)
    assert lost[0] == 0, answers


def test_get_sent_with_the_upgrade_packet_is_refused(peer):
    """After the probe, the client sends `5` and then at once a GET (odd runs), or a GET and
    then at once `5` (even runs). A GET that comes with the upgrade packet belongs to the
    transport the upgrade ends: it is answered 400 whichever of the two connections the
    server reads first, never released with a noop as if it had been pending at the probe.
    (GET first, the reference server may read it before `5`; it then holds it and answers it
    with a close packet when `5` arrives, which counts as refused too.)"""
    srv = peer()
    lost = {"upgrade_first": 0, "get_first": 0}
    answers: dict = {}
    for i in range(UPGRADE_PACKET_RACES):
        p = open_session(srv)
        ws = open_ws(srv, p.sid)
        probe(ws)
        order = "get_first" if i % 2 == 0 else "upgrade_first"
        if order == "get_first":
            get = BackgroundGet(srv, p.sid)
            ws.send("5")
        else:
            ws.send("5")
            get = BackgroundGet(srv, p.sid)
        answer = get.answered_by(time.monotonic() + HANG)
        get.finish()
        key = f"{order}:" + ("unanswered" if answer is None else f"{answer[0]}:{answer[1][:12]}")
        answers[key] = answers.get(key, 0) + 1
        refused = answer is not None and (
            answer[0] == 400 or (srv.peer == "node" and order == "get_first" and answer == (200, "1"))
        )
        if not refused:
            lost[order] += 1
        drop(ws)
    report(srv, "get_vs_upgrade_packet", races=UPGRADE_PACKET_RACES, lost_upgrade_first=lost["upgrade_first"],
           lost_get_first=lost["get_first"], answers=answers)
    assert lost == {"upgrade_first": 0, "get_first": 0}, answers


# ----------------------------------------------------------------------------- points 13 and 16


def test_second_websocket_on_an_upgraded_sid_is_accepted_then_closed(peer):
    """A WebSocket for a sid that already upgraded: 101 Switching Protocols, then closed by the
    server (an HTTP 400 would throw in clients that attach no error handler). The upgraded
    connection is unaffected."""
    srv = peer()
    refused = left_open = broken = 0
    for _ in range(5):
        p = open_session(srv)
        ws = open_ws(srv, p.sid)
        probe(ws)
        ws.send("5")
        assert still_works(ws)
        status, headers = ws_upgrade_status(srv, f"EIO=4&transport=websocket&sid={p.sid}", wait_close=HANG)
        if status != 101:
            refused += 1
        elif headers.get("x-closed") is not True:
            left_open += 1
        if not still_works(ws):
            broken += 1
        drop(ws)
    report(srv, "second_ws_after_upgrade", runs=5, http_400=refused, left_open=left_open, broken=broken)
    assert (refused, left_open, broken) == (0, 0, 0)


@pytest.mark.parametrize("second_opens", ["before_probe", "after_probe"])
def test_websocket_opened_during_an_upgrade_is_closed_by_the_time_it_completes(peer, second_opens):
    """Two WebSockets for one polling sid: the second, opened while the first has not yet
    completed its upgrade (before its probe, or between `3probe` and `5`), is closed by the
    time the first upgrade completes (not held until the 10 s upgrade timeout), and the
    first upgrade works."""
    srv = peer()
    held = broken = refused = 0
    for _ in range(5):
        p = open_session(srv)
        first = open_ws(srv, p.sid)
        second = None
        try:
            if second_opens == "before_probe":
                second = open_ws(srv, p.sid)
                probe(first)
            else:
                probe(first)
                second = open_ws(srv, p.sid)
        except websocket.WebSocketBadStatusException:
            refused += 1
        first.send("5")
        if not still_works(first):
            broken += 1
        # The first upgrade has completed (it answered over the WebSocket).
        if second is not None and not closed_by_server(second, time.monotonic() + HANG):
            held += 1
        if second is not None:
            drop(second)
        drop(first)
    report(srv, f"ws_during_upgrade_{second_opens}", runs=5, held_open=held, http_400=refused, broken=broken)
    assert (held, refused, broken) == (0, 0, 0)


def test_probing_websocket_is_closed_when_the_session_ends(peer):
    """The session ends (the client's close POST) while its WebSocket is between `3probe`
    and `5`: the server closes that WebSocket then, not at the upgrade timeout."""
    srv = peer()
    held = 0
    for _ in range(5):
        p = open_session(srv)
        ws = open_ws(srv, p.sid)
        probe(ws)
        p.post_ok("1")
        if not closed_by_server(ws, time.monotonic() + HANG):
            held += 1
        drop(ws)
    report(srv, "probing_ws_after_session_end", runs=5, held_open=held)
    assert held == 0


def test_payload_of_a_released_get_is_a_noop(peer):
    """The GET pending when the probe is answered is released with a noop at once, and the
    packets queued meanwhile arrive over the WebSocket, exactly once."""
    srv = peer()
    p = open_session(srv)
    get = BackgroundGet(srv, p.sid)
    time.sleep(0.1)
    ws = open_ws(srv, p.sid)
    try:
        probe(ws)
        answer = get.answered_by(time.monotonic() + HANG)
        get.finish()
        assert answer is not None and answer[0] == 200, answer
        assert set(decode_payload(answer[1])) <= {"6"}, answer
        p.post_ok('4278["ack","queued"]')
        ws.send("5")
        ws.settimeout(WAIT)
        msg = ws.recv()
        while msg == "2":
            ws.send("3")
            msg = ws.recv()
        assert msg == '4378["queued"]'
        assert still_works(ws)
    finally:
        drop(ws)


def test_get_arriving_after_the_probe_is_released_before_the_upgrade_packet(peer):
    """A client whose poll crossed `3probe` waits for that poll to end before it sends `5`
    (socket.io-client does): a GET arriving after the probe must be released with a noop
    while no `5` comes, not held until the upgrade completes (that would deadlock)."""
    srv = peer()
    held = 0
    for _ in range(5):
        p = open_session(srv)
        ws = open_ws(srv, p.sid)
        probe(ws)
        get = BackgroundGet(srv, p.sid)
        answer = get.answered_by(time.monotonic() + HANG)
        get.finish()
        if answer != (200, "6"):
            held += 1
        ws.send("5")
        assert still_works(ws)
        drop(ws)
    report(srv, "get_after_probe_without_upgrade_packet", runs=5, held_or_wrong=held)
    assert held == 0
