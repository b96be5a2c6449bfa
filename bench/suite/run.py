#!/usr/bin/env python3
"""Peer-server suite: the loadgen scenarios S1..S7 of the benchmark issue against
ferrosocket (Rust test-server and the Python binding) and the Socket.IO servers users could
pick instead, on this machine, in one run.

For every scenario, every server and every repetition: start the server (taskset -c 0
when available), wait for its `LISTENING 127.0.0.1:<port>` line, run `loadgen --pin
--external ... --external-pid` (loadgen pins itself to CPU 1), keep its `RESULT` JSON
line, stop the server (SIGTERM, then SIGKILL of its process group). Each table cell is the
median of the repetitions. Every step is bounded in time and every process this script
started is stopped on the way out, whatever happens.

Writes bench/RESULTS.md (a table per scenario, grouped S1..S7 with their targets),
bench/results/suite-<scenario>.png (charts) and bench/results/suite.jsonl (every RESULT
line, tagged with peer, scenario and repetition). With --soak: only the 10-minute idle
hold (S4's flatness), written to bench/RESULTS-soak.md, bench/results/soak.csv and
bench/results/soak-rss.png.

Usage (from anywhere; run bench/suite/setup.sh first):
    bench/.venv/bin/python bench/suite/run.py [--quick] [--repeat N] [--peers a,b]
        [--scenarios x,y] [--soak]
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH = os.path.join(ROOT, "bench")
VENV_PY = os.path.join(BENCH, ".venv", "bin", "python")
LOADGEN = os.path.join(ROOT, "target", "release", "loadgen")
HOST = "127.0.0.1"

FERRO = "ferrosocket"
FERRO_PY = "ferrosocket-python"
FERRO_C = "ferrosocket-c"
FERRO_FLASK = "ferrosocket-flask"
OURS = (FERRO, FERRO_PY, FERRO_C, FERRO_FLASK)
# Most dispatch threads of the ferrosocket-python and ferrosocket-c peers. Pinned (the
# bindings' default cap is 64 since the pool grows on demand) so the `sleep` scenario
# keeps measuring a pool of this size, comparable with earlier runs.
HANDLER_THREADS = 8

# name -> (description, argv without --host/--port)
PEERS = {
    FERRO: ("ferrosocket test-server (this repo; Rust handlers)",
            [os.path.join(ROOT, "target", "release", "test-server")]),
    FERRO_PY: (f"ferrosocket's Python binding, every event a Python handler "
               f"(handler_threads {HANDLER_THREADS})",
               [VENV_PY, os.path.join(BENCH, "peers", "ferrosocket_python", "server.py"),
                "--handler-threads", str(HANDLER_THREADS)]),
    FERRO_C: (f"ferrosocket's C ABI (bench/peers/c/echo.c), every event a C callback "
              f"(dispatch threads {HANDLER_THREADS}); `ack` and `sleep` only",
              [os.path.join(ROOT, "target", "c-bench", "echo"),
               "--dispatch-threads", str(HANDLER_THREADS)]),
    FERRO_FLASK: (f"ferrosocket.flask: the Flask-SocketIO peer with only the import changed "
                  f"(`request.sid`, context-bound `emit`), served by `socketio.run`'s server "
                  f"(handler_threads {HANDLER_THREADS})",
                  [VENV_PY, os.path.join(BENCH, "peers", "ferrosocket_python", "flask_server.py"),
                   "--handler-threads", str(HANDLER_THREADS)]),
    "node-socket.io": ("node socket.io 4.x (ws)",
                       ["node", os.path.join(BENCH, "peers", "node", "server.js")]),
    "socketioxide": ("socketioxide on axum (Rust)",
                     [os.path.join(BENCH, "peers", "socketioxide", "target", "release",
                                   "socketioxide-peer")]),
    "python-socketio-uvicorn": ("python-socketio AsyncServer, ASGI on uvicorn (uvloop, httptools)",
                                [VENV_PY, os.path.join(BENCH, "peers", "python", "asgi_server.py")]),
    "flask-socketio-eventlet": ("Flask-SocketIO, async_mode eventlet",
                                [VENV_PY, os.path.join(BENCH, "peers", "python", "flask_server.py"),
                                 "--mode", "eventlet"]),
    "flask-socketio-gevent": ("Flask-SocketIO, async_mode gevent (gevent-websocket)",
                              [VENV_PY, os.path.join(BENCH, "peers", "python", "flask_server.py"),
                               "--mode", "gevent"]),
    "flask-socketio-threading": ("Flask-SocketIO, async_mode threading (Werkzeug, simple-websocket)",
                                 [VENV_PY, os.path.join(BENCH, "peers", "python", "flask_server.py"),
                                  "--mode", "threading"]),
}
# Servers whose figures decide the ratios: they get every repetition. The Python-server
# peers (an order of magnitude slower everywhere) run once per scenario: their noise
# does not move a ratio, and their steps are the slow ones.
REPEATED = (FERRO, FERRO_PY, FERRO_C, "node-socket.io", "socketioxide")
PY_SERVERS = ("python-socketio-uvicorn", "flask-socketio-eventlet", "flask-socketio-gevent",
              "flask-socketio-threading")
PY_HANDLERS = (FERRO_PY,) + PY_SERVERS

SECTIONS = {
    "S1": ("S1 echo: emit an event, await its ack",
           "Target (ferrosocket): ≥ 150,000 events/s per server core; p99 ≤ 1 ms at "
           "20,000 events/s with 1,000 clients. The suite's echo is closed loop (as fast as "
           "the acks come back), so its p99 is taken at the server's saturation rate, not "
           "at 20,000/s."),
    "S2": ("S2 Python handler: the same through `@sio.on` handlers in Python",
           f"Target (ferrosocket-python): ≥ 50,000 handled events/s; with the 1 ms sleep, "
           f"throughput ≈ pool size × 1,000/s = {HANDLER_THREADS * 1000:,}/s "
           f"(`handler_threads` {HANDLER_THREADS}, pinned by the suite). Compared with the "
           "Python servers only."),
    "S3": ("S3 fan-out: a room, one or 16 publishers",
           "Target (ferrosocket): ≥ 1.2M deliveries/s at a room of 1,000; p99 ≤ 25 ms to "
           "reach all of a 10,000 room."),
    "S4": ("S4 idle memory: server RSS growth per connection",
           "Target (ferrosocket): ≤ 4 KiB per connection, flat over a 10-minute hold (the "
           "hold is `make bench-soak`, see RESULTS-soak.md)."),
    "S5": ("S5 connect storm: 10,000 clients, full handshake each",
           "Target (ferrosocket): ≥ 20,000 connections/s, zero failures."),
    "S6": ("S6 slow consumers: 16 publishers, members that stop reading their socket",
           "Target (ferrosocket): memory bounded by config (`max_queued_packets` 1024), "
           "healthy members' p99 within 1.2× of the run without slow members, slow members "
           "dropped with a reason."),
    "S7": ("S7 chat day: rooms of 50, one message per client per second, a handler "
           "broadcasts each to its room",
           "Target (ferrosocket-python): sustained, p99 end to end ≤ 10 ms, RSS ≤ 150 MB."),
}


def scen(**kw):
    # The C peer implements `ack` and `sleep` only: it takes part where it is listed.
    # ferrosocket-flask takes part in the echo runs only (and in bench/flask/run.py).
    kw.setdefault("peers", [n for n in PEERS if n not in (FERRO_C, FERRO_FLASK)])
    kw.setdefault("skip", {})
    kw.setdefault("subject", FERRO)
    kw.setdefault("once", False)
    kw.setdefault("note", "")
    kw.setdefault("view_of", None)
    kw.setdefault("bound", 120)
    kw.setdefault("full_only", False)
    # Peers the "best other peer" is chosen from.
    kw.setdefault("compare", [n for n in kw["peers"] if n not in OURS])
    return kw


def nofile_hard():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def scenarios(quick):
    """Every scenario (and view of another scenario's results) of the run, in order."""
    out = []
    fast = (FERRO, FERRO_PY, "socketioxide")
    # ---- S1 / S2 echo
    if quick:
        echo_d, warm, sizes = "1", "0.5", (1, 100)
    else:
        echo_d, warm, sizes = "2", "0.5", (1, 100, 1000)
    for n in sizes:
        skip = {}
        if n >= 1000:
            skip["flask-socketio-threading"] = (
                "skipped: a thread per connection; 1,000 clients failed (connection resets) "
                "in earlier runs")
        out.append(scen(
            key=f"echo-{n}", section="S1",
            title=f"echo, {n} client{'s' if n > 1 else ''}, {echo_d} s closed loop",
            args=["echo", "--clients", str(n), "--duration", echo_d, "--warmup", warm],
            peers=[FERRO, FERRO_C, FERRO_PY, FERRO_FLASK] + [p for p in PEERS if p not in OURS],
            metric="events_per_sec", unit="acks/s", higher=True, kind="echo", skip=skip,
            bound=60,
            note="ferrosocket answers in a Rust handler on the I/O thread; ferrosocket-c and "
                 "ferrosocket-python in a C / Python callback on a dispatch thread (two "
                 "thread hops per event)."))
    out.append(scen(
        key="echo-1000-at-20k", section="S1", full_only=True,
        title="echo, 1,000 clients, 20,000 events/s in all on a fixed schedule, 2 s",
        args=["echo", "--clients", "1000", "--rate", "20000", "--duration", echo_d,
              "--warmup", warm],
        peers=[FERRO, FERRO_PY, "node-socket.io", "socketioxide"] + list(PY_SERVERS),
        skip={n: "skipped: at most ~2–8k acks/s (echo-1000), below the 20,000/s asked"
              for n in PY_SERVERS},
        metric="latency_p99_us", unit="µs", higher=False, kind="echo", bound=60,
        note="Each client sends one event every 50 ms (the 1,000 schedules spread evenly) "
             "and waits for its ack; the figure is the p99 round trip at that rate, which is "
             "the target's condition."))
    for n in sizes:
        out.append(scen(
            key=f"s2-echo-{n}", section="S2", view_of=f"echo-{n}", peers=list(PY_HANDLERS),
            compare=list(PY_SERVERS),
            subject=FERRO_PY, title=f"no-op Python handler (`ack`), {n} client{'s' if n > 1 else ''}",
            metric="events_per_sec", unit="acks/s", higher=True, kind="echo"))
    sleep_n = 100
    out.append(scen(
        key=f"sleep-{sleep_n}", section="S2",
        title=f"handler that sleeps 1 ms then acks (`sleep`), {sleep_n} clients, {echo_d} s closed loop",
        args=["echo", "--clients", str(sleep_n), "--duration", echo_d, "--warmup", warm,
              "--event", "sleep"],
        peers=list(PY_HANDLERS) + [FERRO_C, "node-socket.io", "socketioxide"], subject=FERRO_PY,
        compare=list(PY_SERVERS),
        metric="events_per_sec", unit="acks/s", higher=True, kind="echo", bound=60,
        note=f"ferrosocket-python runs handlers on {HANDLER_THREADS} dispatch threads: the "
             f"expected ceiling is {HANDLER_THREADS} × ~1,000/s, as for ferrosocket-c's "
             f"{HANDLER_THREADS} dispatch threads. The Rust test-server has no "
             "`sleep` event (it is the fixed SPEC.md server), so only the binding takes part. "
             "node and socketioxide sleep on a timer without blocking anything (no pool), so "
             "they are bounded by the 100 clients × ~1,000/s instead."))
    # ---- S3 fan-out
    room = 200 if quick else 1000
    for pubs in (1, 16):
        def fan_args(peer, room=room, pubs=pubs):
            if peer in fast:
                m, lat = (400, 20) if quick else (2000, 100)
            elif peer == "node-socket.io":
                m, lat = (200, 20) if quick else (300, 50)
            elif peer == "flask-socketio-threading":
                # ~2–6k deliveries/s at a room of 1,000: 100 messages took 30–50 s.
                m, lat = (100, 10) if quick else (20, 5)
            else:
                m, lat = (100, 10) if quick else (100, 20)
            return ["fanout", "--clients", str(room), "--messages", str(m), "--publishers",
                    str(pubs), "--latency-messages", str(lat), "--timeout", "60"]
        out.append(scen(
            key=f"fanout-{room}x{pubs}", section="S3",
            title=f"fanout to a room of {room}, {pubs} publisher{'s' if pubs > 1 else ''}",
            args=fan_args, metric="deliveries_per_sec", unit="deliveries/s", higher=True,
            kind="fanout", bound=150,
            note="Messages per run differ by server so that each run lasts a few seconds: "
                 f"{'400' if quick else '2,000'} for ferrosocket, ferrosocket-python and "
                 f"socketioxide, {'200' if quick else '300'} for node, 100 for the Python servers "
                 "(20 for Flask-SocketIO threading in the full run; the figure is a rate). "
                 "Publishers hold back while members are > 256 messages behind on average."))
    out.append(scen(
        key=f"s2-fanout-{room}x16", section="S2", view_of=f"fanout-{room}x16",
        peers=list(PY_HANDLERS), subject=FERRO_PY, compare=list(PY_SERVERS),
        title=f"broadcast from a Python handler (`emit` to a room of {room}, 16 publishers)",
        metric="deliveries_per_sec", unit="deliveries/s", higher=True, kind="fanout"))
    big = 10000
    py_skip = {n: f"skipped: fan-out of ~10–80k deliveries/s (fanout-{room}x1) would need minutes "
                  f"for a room of {big:,}" for n in PY_SERVERS}
    out.append(scen(
        key=f"fanout-{big}x1", section="S3", full_only=True,
        title=f"fanout to a room of {big:,}, 1 publisher: time until the last member has it",
        args=["fanout", "--clients", str(big), "--messages", "20", "--publishers", "1",
              "--latency-messages", "20" if quick else "50", "--timeout", "60"],
        peers=[FERRO, FERRO_PY, "node-socket.io", "socketioxide"] + list(PY_SERVERS),
        skip=py_skip, metric="latency_last.p99", unit="µs", higher=False, kind="fanlat",
        once=True, bound=200,
        note="20 messages for the throughput phase, then one message at a time, timed until "
             "the last member of the room has it."))
    # ---- S4 idle
    hard = nofile_hard()
    idle_sizes = [2000] if quick else [10000, 50000]
    hold = "1" if quick else "5"
    for n in idle_sizes:
        peers = [FERRO, FERRO_PY, "node-socket.io", "socketioxide", "python-socketio-uvicorn",
                 "flask-socketio-gevent", "flask-socketio-eventlet", "flask-socketio-threading"]
        skip = {"flask-socketio-threading": "skipped: a thread per connection; 5,000 failed "
                "(connection resets) in earlier runs"}
        if n > 10000:
            for p in peers[4:]:
                skip[p] = "skipped: 50,000 greenlets/coroutines of a Python server, minutes to connect"
        if hard < n + 300:
            for p in peers:
                skip.setdefault(p, f"skipped: RLIMIT_NOFILE hard limit here is {hard:,} (cannot "
                                   f"be raised without CAP_SYS_RESOURCE); {n:,} connections "
                                   f"need ≥ {n + 300:,}")
        out.append(scen(
            key=f"idle-{n}", section="S4", title=f"idle, {n:,} connections held {hold} s",
            args=["idle", "--clients", str(n), "--hold", hold], peers=peers, skip=skip,
            metric="rss_per_conn", unit="bytes/conn", higher=False, kind="idle", once=True,
            bound=240))
    if not quick and hard < 50300 and hard >= 12000:
        cap = (hard - 300) // 1000 * 1000
        out.append(scen(
            key=f"idle-{cap}", section="S4",
            title=f"idle, {cap:,} connections held 5 s (the most this machine's fd limit allows)",
            args=["idle", "--clients", str(cap), "--hold", "5"],
            peers=[FERRO, "socketioxide", "node-socket.io"], metric="rss_per_conn",
            unit="bytes/conn", higher=False, kind="idle", once=True, bound=240))
    # ---- S5 storm
    storm_n = 2000 if quick else 10000
    storm_skip = {n: "skipped: accepts ~1,200–1,500 connections/s (idle runs), a 10,000 storm "
                     "would not tell more; left out to fit the budget"
                  for n in ("flask-socketio-eventlet", "flask-socketio-gevent",
                            "flask-socketio-threading")}
    for c in (64, 256):
        out.append(scen(
            key=f"storm-{storm_n}-c{c}", section="S5",
            title=f"connect storm, {storm_n:,} clients, {c} concurrent connectors",
            args=["--concurrency", str(c), "storm", "--clients", str(storm_n)],
            peers=[FERRO, FERRO_PY, "node-socket.io", "socketioxide", "python-socketio-uvicorn"]
            + list(storm_skip), skip=storm_skip, metric="connections_per_sec",
            unit="connections/s", higher=True, kind="storm", bound=120))
    # ---- S6 slow consumers
    slow_n = 200 if quick else 1000
    slow_d = "4" if quick else "12"
    slow_rate = 300
    offered = slow_rate * slow_n
    slow_skip = {"node-socket.io": f"skipped: its fan-out (~65–80k deliveries/s, S3) is below the "
                                   f"{offered:,} deliveries/s offered here"}
    for n in PY_SERVERS:
        slow_skip[n] = (f"skipped: fan-out of ~10–80k deliveries/s (S3), below the {offered:,} "
                        "deliveries/s offered here")
    if quick:
        slow_skip = {n: "skipped: left out of the quick run" for n in slow_skip}
    for k in (0, 10):
        def slow_args(peer, k=k):
            a = ["slow", "--clients", str(slow_n), "--publishers", "16", "--slow", str(k),
                 "--rate", str(slow_rate), "--size", "2048", "--duration", slow_d,
                 "--warmup", "1"]
            return a + (["--disconnect-log"] if peer == FERRO else [])
        out.append(scen(
            key=f"slow-k{k}", section="S6",
            title=f"{slow_n:,} members, 16 publishers, {slow_rate} msgs/s of 2 KiB (open loop), "
                  f"{k} member{'s' if k != 1 else ''} not reading, {slow_d} s",
            args=slow_args, peers=[FERRO, FERRO_PY, "socketioxide", "node-socket.io"]
            + list(PY_SERVERS), skip=slow_skip, metric="latency_p99_us", unit="µs",
            higher=False, kind="slow", once=True, bound=120,
            note="Latency of the healthy members (send → receipt of each message). A slow "
                 "member's stream is read again after the run: `dropped` counts those the "
                 "server ended (close frame / EOF), `by` is the send time of the newest message "
                 "such a member had received (the server stopped queueing for it soon after). "
                 "2 KiB messages so that a slow member's kernel buffers (up to ~4 MiB of "
                 "server send buffer) and the server's queue fill within the run (at 150 "
                 "msgs/s for 16 s they did not). This is a heavy load: 600 MB/s to the "
                 "members keeps both the server's core and loadgen's one core near 100 %, so "
                 "the healthy latencies include queueing in loadgen itself (see "
                 "`loadgen_cpu_util` in results/suite.jsonl). `server RSS` is sampled every "
                 "100 ms."))
    # ---- S7 chat
    chat_n = 1000 if quick else 10000
    chat_d = "5" if quick else "30"
    chat_skip = {"node-socket.io": "skipped: its fan-out (~65–80k deliveries/s, S3) is far below "
                                   "the 500,000 deliveries/s a chat day of 10,000 needs"}
    for n in PY_SERVERS:
        chat_skip[n] = ("skipped: fan-out of ~10–80k deliveries/s (S3), far below the 500,000 "
                        "deliveries/s needed; the open-loop backlog would grow without bound")
    if quick:
        chat_skip = {n: "skipped: left out of the quick run" for n in chat_skip}
    out.append(scen(
        key=f"chat-{chat_n}", section="S7",
        title=f"chat day, {chat_n:,} clients in rooms of 50, 1 message/s each, {chat_d} s",
        args=lambda peer: ["chat", "--clients", str(chat_n), "--room-size", "50",
                           "--duration", chat_d, "--warmup", "2"]
        + (["--via-emit"] if peer == FERRO else []),
        peers=[FERRO_PY, FERRO, "socketioxide", "node-socket.io"] + list(PY_SERVERS),
        skip=chat_skip, subject=FERRO_PY, metric="latency_p99_us", unit="µs", higher=False,
        kind="chat", once=True, bound=180,
        note="ferrosocket-python handles `chat` in Python (`sio.emit('chat', msg, "
             "to=msg['room'])`); ferrosocket (Rust test-server, no `chat` event) gets the same "
             "traffic as `emit` requests, for reference; socketioxide handles `chat` in Rust. "
             "Latency: send → the last member of the room has it (the sender is a member)."))
    return [s for s in out if not (quick and s["full_only"])]


# ---------------------------------------------------------------- process handling

LIVE = {}  # pid -> Popen, every process started here and not yet reaped
LIVE_LOCK = threading.Lock()


def spawn(argv, **kw):
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    with LIVE_LOCK:
        LIVE[p.pid] = p
    return p


def stop(p, grace=5.0):
    """SIGTERM to the process group, SIGKILL after `grace`. Returns 'clean', 'exit N' or 'killed'."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    how = None
    if p.poll() is None:
        how = "killed"
    try:  # whatever is left in the group (threads/children), also after a clean exit
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    with LIVE_LOCK:
        LIVE.pop(p.pid, None)
    if how:
        return how
    return "clean" if p.returncode in (0, -signal.SIGTERM) else f"exit {p.returncode}"


def stop_all():
    with LIVE_LOCK:
        procs = list(LIVE.values())
    for p in procs:
        stop(p, grace=2.0)


def on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


def start_server(name, logdir, timeout=20.0):
    """Returns (Popen, port, log path) or raises RuntimeError."""
    argv = list(PEERS[name][1]) + ["--host", HOST, "--port", "0"]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", "0"] + argv  # taskset execs: the pid is the server's
    log = os.path.join(logdir, f"{name}.log")
    p, port = spawn_announced(argv, log, timeout)
    return p, port, log


def spawn_announced(argv, log, timeout=20.0):
    """Starts `argv` (stderr appended to `log`) and returns (Popen, port) once it printed
    its `LISTENING host:port` line; stops it and raises RuntimeError if it prints none
    within `timeout` seconds. Its later output is read and dropped."""
    logf = open(log, "ab")
    p = spawn(argv, stdout=subprocess.PIPE, stderr=logf, stdin=subprocess.DEVNULL, cwd=ROOT)
    logf.close()
    port = []
    done = threading.Event()

    def read():
        for line in p.stdout:
            s = line.decode(errors="replace").strip()
            if not port and s.startswith("LISTENING "):
                port.append(int(s.rsplit(":", 1)[1]))
                done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()
    done.wait(timeout)
    if not port:
        how = stop(p)
        raise RuntimeError(f"no LISTENING line within {timeout:.0f} s ({how}); see {log}")
    return p, port[0]


def run_loadgen(args, port, pid, bound):
    """Runs loadgen; returns (result dict or None, error string or None, tail of output)."""
    # 10 s per handshake (loadgen's default is 20): a server that loses a join does not
    # cost the run more than that.
    argv = [LOADGEN, "--pin", "--external", f"{HOST}:{port}", "--external-pid", str(pid),
            "--max-time", str(bound), "--connect-timeout", "10"] + args
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
              cwd=ROOT)
    try:
        out, _ = p.communicate(timeout=bound + 30)
        err = None
    except subprocess.TimeoutExpired:
        stop(p, grace=2.0)
        out, _ = p.communicate()
        err = f"timeout: loadgen still running after {bound + 30} s"
    with LIVE_LOCK:
        LIVE.pop(p.pid, None)
    text = out.decode(errors="replace")
    result = None
    for line in text.splitlines():
        if line.startswith("RESULT "):
            try:
                result = json.loads(line[7:])
            except ValueError:
                pass
    tail = "\n".join(text.strip().splitlines()[-6:])
    if result is None and err is None:
        err = f"no RESULT line (loadgen exit {p.returncode}): {tail.splitlines()[-1] if tail else ''}"
    return result, err, tail


def failure_reason(r):
    """Why a RESULT is not ok, in a few words."""
    bits = []
    if not r.get("server_alive", True):
        bits.append("server died")
    cf = r.get("connect_failures") or {}
    nf = sum(cf.values()) if isinstance(cf, dict) else 0
    if nf:
        kind = max(cf, key=cf.get)
        bits.append(f"{nf} connect failures ({kind})")
    if r.get("lost_connections"):
        bits.append(f"{r['lost_connections']} connections lost during hold")
    if r.get("receivers_lost"):
        bits.append(f"{r['receivers_lost']} receivers lost")
    if r.get("all_delivered") is False:
        bits.append(f"delivered {r.get('delivered')}/{r.get('expected_deliveries')}")
    if r.get("publisher_errors"):
        bits.append(f"publisher errors {str(r['publisher_errors'])[:80]}")
    if r.get("failed_clients"):
        bits.append(f"{r['failed_clients']} failed clients")
    if r.get("error"):
        bits.append(str(r["error"])[:100])
    errs = r.get("errors")
    if isinstance(errs, list):
        bits.extend(dict.fromkeys(str(e)[:100] for e in errs))
    elif errs:
        bits.append(f"{errs} client errors")
    return "; ".join(bits) or "loadgen reported not ok"


def get(r, path):
    """A value of a RESULT by dotted path (`latency_last.p99`), or None."""
    v = r
    for part in path.split("."):
        if not isinstance(v, dict):
            return None
        v = v.get(part)
    return v


# ---------------------------------------------------------------- report

def fmt_num(v, unit):
    if v is None:
        return "—"
    if unit == "bytes/conn":
        return f"{v:,.0f} B ({v / 1024:.1f} KiB)"
    if unit == "µs":
        return fmt_us(v)
    return f"{v:,.0f}"


def fmt_short(v, unit):
    if v is None:
        return "—"
    if unit == "bytes/conn":
        return f"{v / 1024:.1f} KiB"
    if unit == "µs":
        return fmt_us(v)
    return f"{v:,.0f}"


def fmt_us(v):
    if v is None:
        return "—"
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs"


def mib(v):
    return "—" if v is None else f"{v / 2**20:.1f} MiB"


def f2(v):
    return "—" if v is None else f"{v:.2f}"


def f1(v):
    return "—" if v is None else f"{v:.1f}"


EXTRA_HEAD = {
    "echo": ["p50", "p99", "server CPU util", "other CPU s"],
    "fanout": ["messages", "latency to last member p50", "p99", "server CPU util", "other CPU s"],
    "fanlat": ["p50 to last member", "p50 to first member", "deliveries/s (20 msgs)",
               "server CPU util", "other CPU s"],
    "idle": ["connected", "connect rate", "server RSS connected", "server threads"],
    "storm": ["failures", "handshake p50", "handshake p99", "server CPU util", "server RSS",
              "other CPU s"],
    "slow": ["p50", "healthy deliveries/s", "sent msgs/s", "server RSS base → peak",
             "slow dropped", "by", "how", "p99 ÷ p99 with K=0"],
    "chat": ["p50 to last member", "p99 of single deliveries", "sent msgs/s", "deliveries/s",
             "sustained", "server RSS peak", "server CPU util", "other CPU s"],
}


def extra_cols(kind, r, ctx):
    if kind == "echo":
        return [fmt_us(r.get("latency_p50_us")), fmt_us(r.get("latency_p99_us")),
                f2(r.get("server_cpu_util")), f1(r.get("other_cpu_secs"))]
    if kind == "fanout":
        lat = r.get("latency_last") or {}
        return [f"{r.get('messages', 0):,}", fmt_us(lat.get("p50")), fmt_us(lat.get("p99")),
                f2(r.get("server_cpu_util")), f1(r.get("other_cpu_secs"))]
    if kind == "fanlat":
        return [fmt_us(get(r, "latency_last.p50")), fmt_us(get(r, "latency_first.p50")),
                fmt_num(r.get("deliveries_per_sec"), ""), f2(r.get("server_cpu_util")),
                f1(r.get("other_cpu_secs"))]
    if kind == "idle":
        return [f"{r.get('connected', 0):,}/{r.get('clients', 0):,}",
                f"{r.get('connect_rate', 0):,.0f}/s", mib(r.get("server_rss_connected")),
                f"{r.get('server_threads', '—')}"]
    if kind == "storm":
        return [f"{r.get('failures', 0)}", fmt_us(r.get("handshake_p50_us")),
                fmt_us(r.get("handshake_p99_us")), f2(r.get("server_cpu_util")),
                mib(r.get("server_rss")), f1(r.get("other_cpu_secs"))]
    if kind == "slow":
        k = r.get("slow", 0)
        by = r.get("slow_dropped_by_secs")
        ends = r.get("slow_stream_end") or {}
        dropped = sum(n for e, n in ends.items() if e != "still open")
        # How the slow members' streams ended, and (ferrosocket) the server's reasons.
        how = ", ".join(f"{n}× {e}" for e, n in (r.get("slow_stream_end") or {}).items())
        reasons = r.get("server_disconnect_reasons")
        if isinstance(reasons, dict) and reasons and not reasons.get("error"):
            how += "; server: " + ", ".join(f"{n}× {e}" for e, n in reasons.items())
        how = how or "—"
        base = ctx.get("slow-k0", {}).get(r.get("peer"))
        ratio = "—"
        if k and base and base.get("latency_p99_us"):
            ratio = f"{r['latency_p99_us'] / base['latency_p99_us']:.2f}"
        return [fmt_us(r.get("latency_p50_us")), fmt_num(r.get("deliveries_per_sec"), ""),
                fmt_num(r.get("messages_per_sec"), ""),
                f"{mib(r.get('server_rss_base'))} → {mib(r.get('server_rss_peak'))}",
                f"{dropped}/{k}" if k else "—",
                f"{by:.1f} s" if by is not None and k else "—",
                how if k else "—", ratio]
    if kind == "chat":
        return [fmt_us(r.get("latency_p50_us")), fmt_us(get(r, "latency_each.p99")),
                fmt_num(r.get("messages_per_sec"), ""), fmt_num(r.get("deliveries_per_sec"), ""),
                "yes" if r.get("sustained") else "**no**", mib(r.get("server_rss_peak")),
                f2(r.get("server_cpu_util")), f1(r.get("other_cpu_secs"))]
    return []


def median_pick(samples, metric, higher):
    """(result, error, runs, ok runs): the sample whose metric is the median of the ok ones."""
    ok = [r for r, err in samples if err is None and r is not None and get(r, metric) is not None]
    if not ok:
        errs = [err for _r, err in samples if err]
        # A run that was not ok but has its figure: shown with the reason.
        partial = [(r, err) for r, err in samples if r is not None and get(r, metric)]
        if partial:
            return partial[-1][0], partial[-1][1], len(samples), 0
        return None, (errs[-1] if errs else "no result"), len(samples), 0
    ok.sort(key=lambda r: get(r, metric))
    return ok[(len(ok) - 1) // 2], None, len(samples), len(ok)


def best_peer(cells, metric, higher, peers):
    vals = [(get(c[0], metric), n) for n, c in cells.items()
            if n in peers and c[0] is not None and c[1] is None
            and get(c[0], metric) is not None]
    if not vals:
        return None
    return max(vals) if higher else min(vals)


def chart(path, title, unit, cells, metric, higher, peers):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names, vals, colors, notes = [], [], [], []
    for n in peers:
        r, err = cells.get(n, (None, "not run"))[:2]
        names.append(n)
        ok = r is not None and err is None and get(r, metric) is not None
        vals.append(get(r, metric) if ok else 0)
        colors.append("#d9534f" if n in OURS else "#5b8fd1")
        notes.append("" if ok else ("skipped" if err and err.startswith("skipped") else "failed"))
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(names) + 1.4))
    y = list(range(len(names)))
    ax.barh(y, vals, color=colors)
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    top = max(vals) if vals and max(vals) > 0 else 1
    for i, (v, note) in enumerate(zip(vals, notes)):
        ax.text(v + top * 0.01, i, note or fmt_short(v, unit), va="center", fontsize=8)
    ax.set_xlim(0, top * 1.3)
    ax.set_xlabel(f"{unit} ({'higher' if higher else 'lower'} is better)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def sh(argv, timeout=10):
    """A command's stdout, stripped; "" when it cannot run (for the reports' headers)."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                              timeout=timeout).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def load1():
    """The 1-minute load average."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def machine_model():
    """CPU count, model and kernel, for the reports' headers."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}"


def versions():
    v = {}
    try:
        v["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True,
                                   timeout=10).stdout.strip()
        with open(os.path.join(BENCH, "peers", "node", "node_modules", "socket.io",
                               "package.json")) as f:
            v["socket.io"] = json.load(f)["version"]
    except Exception:
        pass
    try:
        code = ("import importlib.metadata as m, sys; print(sys.version.split()[0]);"
                "[print(p, m.version(p)) for p in ['python-socketio','python-engineio','uvicorn',"
                "'uvloop','websockets','Flask-SocketIO','Flask','Werkzeug','eventlet','gevent',"
                "'gevent-websocket','simple-websocket','ferrosocket']]")
        out = subprocess.run([VENV_PY, "-c", code], capture_output=True, text=True,
                             timeout=30).stdout.splitlines()
        v["python"] = out[0]
        for line in out[1:]:
            k, val = line.split()
            v[k] = val
    except Exception:
        pass
    try:
        lock = open(os.path.join(BENCH, "peers", "socketioxide", "Cargo.lock")).read()
        for crate in ("socketioxide", "engineioxide", "axum"):
            i = lock.index(f'name = "{crate}"\n')
            v[crate] = lock[i:].splitlines()[1].split('"')[1]
    except Exception:
        pass
    try:
        v["rustc"] = subprocess.run(["rustc", "--version"], capture_output=True, text=True,
                                    timeout=10).stdout.strip()
        v["ferrosocket commit"] = subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
            timeout=10).stdout.strip()
    except Exception:
        pass
    return v



def write_report(path, cells, scen, opts, started, finished, charts, peers_in_run, wall):
    lines = []
    w = lines.append
    w("# Peer-server suite: ferrosocket against the alternatives")
    w("")
    cmd = "bench/suite/run.py" + (" --quick" if opts.quick else "") + f" --repeat {opts.repeat}"
    w(f"Generated by `{cmd}` (set-up: `bench/suite/setup.sh`; `make bench` runs both). "
      "Every server ran on CPU 0 (`taskset -c 0`), `loadgen --pin --external` on CPU 1, both "
      "on 127.0.0.1; a fresh server process for every run. Compression off everywhere, "
      "WebSocket transport directly (no polling upgrade). See "
      "[suite/README.md](suite/README.md) for what each peer is and how a figure is taken.")
    w("")
    if opts.busy_note:
        w(f"> **{opts.busy_note}**")
        w("")
    w(f"- **Run:** {started:%Y-%m-%d %H:%M} → {finished:%H:%M} UTC, {wall / 60:.1f} min"
      f"{' (quick mode: smaller sizes)' if opts.quick else ''}.")
    w(f"- **Machine:** {platform.machine()}, nproc {os.cpu_count()}, kernel {platform.release()}, "
      f"RLIMIT_NOFILE hard limit {nofile_hard():,}; the `other CPU s` column is CPU time used "
      "by anything else during the measurement (large values mean a disturbed figure).")
    vs = versions()
    w("- **Versions:** " + ", ".join(f"{k} {v}" for k, v in vs.items()) + ".")
    w(f"- **Cells** are the median of {opts.repeat} run{'s' if opts.repeat > 1 else ''} for "
      f"{', '.join(REPEATED)}; the Python-server peers and the long scenarios (marked "
      "*1 run*) run once. Every sample: [results/suite.jsonl](results/suite.jsonl).")
    w("- **Ratio** columns: the ferrosocket figure (ferrosocket, or ferrosocket-python in the "
      "Python-handler tables) divided by the best other peer's; for throughput > 1 means "
      "ferrosocket is faster, for latency and memory < 1 means ferrosocket is lower.")
    w("")
    w("## Summary")
    w("")
    w("| scenario | " + " | ".join(peers_in_run) + " | best other peer | ratio |")
    w("|---|" + "---:|" * len(peers_in_run) + "---|---:|")
    for s in scen:
        if s["view_of"]:
            continue
        row = cells.get(s["key"], {})
        out = []
        for n in peers_in_run:
            if n not in s["peers"]:
                out.append("")
                continue
            r, err = row.get(n, (None, "not run"))[:2]
            if err and r is not None:
                out.append(f"({fmt_short(get(r, s['metric']), s['unit'])}, not ok)")
            elif err:
                out.append("skipped" if err.startswith("skipped") else "failed")
            else:
                out.append(fmt_short(get(r, s["metric"]), s["unit"]))
        bp = best_peer(row, s["metric"], s["higher"], s["compare"])
        sr, serr = row.get(s["subject"], (None, "not run"))[:2]
        ratio = (f"{get(sr, s['metric']) / bp[0]:.2f}" if bp and not serr and bp[0]
                 and get(sr, s["metric"]) is not None else "—")
        w(f"| {s['key']} ({s['unit']}) | " + " | ".join(out)
          + f" | {bp[1] if bp else '—'} | {ratio} |")
    w("")
    section = None
    for s in scen:
        if s["section"] != section:
            section = s["section"]
            head, target = SECTIONS[section]
            w(f"## {head}")
            w("")
            w(f"*{target}*")
            w("")
        src = s["view_of"] or s["key"]
        row = cells.get(src, {})
        kind = s["kind"]
        w(f"### {s['key']}: {s['title']}")
        w("")
        if s["view_of"]:
            w(f"The {', '.join(s['peers'])} rows of [{src}](#{src}) (same runs).")
        else:
            a = s["args"](FERRO) if callable(s["args"]) else s["args"]
            w(f"`loadgen --pin --external … {' '.join(a)}`"
              + (" (per-server options: see the note)" if callable(s["args"]) else "")
              + f". Figure: `{s['metric']}` ({s['unit']}, {'higher' if s['higher'] else 'lower'} "
              f"is better){'; *1 run*' if s['once'] else ''}.")
        if s["note"]:
            w("")
            w(s["note"])
        w("")
        if s["key"] in charts:
            w(f"![{s['key']}](results/{charts[s['key']]})")
            w("")
        bp = best_peer(row, s["metric"], s["higher"], s["compare"])
        head = EXTRA_HEAD[kind]
        w(f"| server | {s['unit']} | ÷ best other | runs | " + " | ".join(head) + " |")
        w("|---|---:|---:|---:|" + "---:|" * len(head))
        for n in s["peers"]:
            if n not in peers_in_run:
                continue
            r, err, runs, ok = row.get(n, (None, "not run", 0, 0))
            label = f"**{n}**" if n == s["subject"] else n
            if err and r is not None:
                w(f"| {label} | {fmt_num(get(r, s['metric']), s['unit'])} (not ok: {err}) | — | "
                  f"0/{runs} | " + " | ".join(extra_cols(kind, r, cells_by_peer(cells))) + " |")
                continue
            if err:
                w(f"| {label} | {err if err.startswith('skipped') else 'failed: ' + err} | | "
                  f"{runs or ''} | " + " | ".join([""] * len(head)) + " |")
                continue
            v = get(r, s["metric"])
            rel = f"{v / bp[0]:.2f}×" if bp and bp[0] and v is not None else "—"
            runs_s = f"{ok}/{runs}" if ok != runs else f"{runs}"
            w(f"| {label} | {fmt_num(v, s['unit'])} | {rel} | {runs_s} | "
              + " | ".join(extra_cols(kind, r, cells_by_peer(cells))) + " |")
        w("")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def cells_by_peer(cells):
    """scenario -> peer -> median result (for cross-references such as slow-k0)."""
    return {k: {n: c[0] for n, c in row.items() if c[0] is not None} for k, row in cells.items()}


# ---------------------------------------------------------------- soak

def soak(opts, logdir):
    """S4's flatness: the most idle connections this machine allows (50,000 at most), held
    10 minutes against ferrosocket, server RSS sampled every 10 s."""
    hard = nofile_hard()
    n = min(50000, (hard - 300) // 1000 * 1000)
    hold = opts.soak_secs
    print(f"== soak: ferrosocket, {n:,} idle connections held {hold:.0f} s "
          f"(RLIMIT_NOFILE hard {hard:,})", flush=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    p, port, _log = start_server(FERRO, logdir)
    try:
        r, err, tail = run_loadgen(["idle", "--clients", str(n), "--hold", str(hold),
                                    "--sample-every", "10"], port, p.pid, hold + 300)
    finally:
        how = stop(p)
    if r is not None and err is None and not r.get("ok"):
        err = failure_reason(r)
    os.makedirs(opts.results_dir, exist_ok=True)
    samples = (r or {}).get("rss_samples") or []
    with open(os.path.join(opts.results_dir, "soak.csv"), "w") as f:
        f.write("seconds_into_hold,server_rss_bytes\n")
        for t, rss in samples:
            f.write(f"{t:.1f},{rss}\n")
    png = None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        if samples:
            fig, ax = plt.subplots(figsize=(8, 3.2))
            ax.plot([t / 60 for t, _ in samples], [x / 2**20 for _, x in samples], color="#d9534f")
            ax.set_xlabel("minutes into the hold")
            ax.set_ylabel("server RSS, MiB")
            ax.set_ylim(bottom=0)
            ax.set_title(f"ferrosocket, {n:,} idle connections", fontsize=9)
            fig.tight_layout()
            png = "soak-rss.png"
            fig.savefig(os.path.join(opts.results_dir, png), dpi=100)
            plt.close(fig)
    except ImportError:
        pass
    lines = [f"# Idle soak: ferrosocket holding idle connections for {hold / 60:.0f} minutes", "",
             "Generated by `bench/suite/run.py --soak` (`make bench-soak`). The server on CPU 0, "
             "`loadgen --pin --external … idle --sample-every 10` on CPU 1; server RSS "
             "(`VmRSS`) read every 10 s during the hold. Samples: "
             "[results/soak.csv](results/soak.csv).", ""]
    if opts.busy_note:
        lines += [f"> **{opts.busy_note}**", ""]
    lines.append(f"- **Run:** {started:%Y-%m-%d %H:%M} UTC; RLIMIT_NOFILE hard limit {hard:,}"
                 + (" (50,000 connections do not fit; the most that do were held)"
                    if n < 50000 else "") + ".")
    if err or r is None:
        lines.append(f"- **Failed:** {err}")
        lines.append("")
        lines.append("```\n" + tail + "\n```")
    else:
        rss = [x for _, x in samples]
        lines.append(f"- {r['connected']:,}/{n:,} connected at {r['connect_rate']:,.0f}/s; "
                     f"{r['rss_per_conn']:,.0f} B per connection after connect, "
                     f"{r['rss_per_conn_after_hold']:,.0f} B after the hold.")
        if rss:
            lines.append(f"- RSS during the hold: first {rss[0] / 2**20:.1f} MiB, last "
                         f"{rss[-1] / 2**20:.1f} MiB, min {min(rss) / 2**20:.1f}, max "
                         f"{max(rss) / 2**20:.1f} MiB ({len(rss)} samples); change first → last "
                         f"{(rss[-1] - rss[0]) / 2**20:+.2f} MiB.")
        lines.append(f"- Pings answered {r.get('pings_answered', 0):,}, connections lost "
                     f"{r.get('lost_connections', 0)}, server stop: {how}.")
        if png:
            lines += ["", f"![soak](results/{png})"]
    lines.append("")
    with open(os.path.join(BENCH, "RESULTS-soak.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines), flush=True)
    return 0 if not err else 1


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, one run (< 5 min)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs per cell for the repeated servers (default 3, --quick 1)")
    ap.add_argument("--peers", help="comma-separated subset of: " + ",".join(PEERS))
    ap.add_argument("--scenarios", help="comma-separated scenario keys or prefixes (or S1..S7)")
    ap.add_argument("--out", default=os.path.join(BENCH, "RESULTS.md"))
    ap.add_argument("--results-dir", default=os.path.join(BENCH, "results"))
    ap.add_argument("--max-total", type=float, default=3600,
                    help="record the remaining steps as skipped after this many seconds")
    ap.add_argument("--busy-note", default="",
                    help="a line for the report's header (e.g. that the machine was busy)")
    ap.add_argument("--soak", action="store_true",
                    help="only the idle soak (S4's 10-minute hold): RESULTS-soak.md")
    ap.add_argument("--soak-secs", type=float, default=600, help=argparse.SUPPRESS)
    ap.add_argument("--wall", type=float, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--from-jsonl", metavar="FILE",
                    help="run nothing: write the report from the samples of an earlier run "
                         "(its results/suite.jsonl), with the same --quick/--repeat")
    opts = ap.parse_args()
    if opts.repeat is None:
        opts.repeat = 1 if opts.quick else 3
    opts.repeat = max(1, min(opts.repeat, 20))

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # inherited by the servers (loadgen raises its own)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not os.path.exists(LOADGEN):
        sys.exit(f"{LOADGEN} missing: run bench/suite/setup.sh")
    logdir = tempfile.mkdtemp(prefix="peer-suite-")
    print(f"server logs in {logdir}", flush=True)
    if opts.soak:
        try:
            return soak(opts, logdir)
        finally:
            stop_all()

    names = opts.peers.split(",") if opts.peers else list(PEERS)
    for n in names:
        if n not in PEERS:
            ap.error(f"unknown peer {n}")
    names = [n for n in PEERS if n in names]  # canonical order, ferrosocket first
    scen = scenarios(opts.quick)
    if opts.scenarios:
        want = opts.scenarios.split(",")
        scen = [s for s in scen if any(s["key"] == x or s["key"].startswith(x)
                                       or s["section"] == x for x in want)]
        keys = {s["key"] for s in scen}
        # A view needs the scenario it shows.
        scen = [s for s in scenarios(opts.quick)
                if s["key"] in keys or (s["view_of"] is None
                                        and any(v["view_of"] == s["key"] for v in scen))]
    os.makedirs(opts.results_dir, exist_ok=True)

    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    samples = {}  # key -> peer -> [(result, err)]
    raw = []
    if opts.from_jsonl:
        return rerender(opts, scen, names)
    try:
        for rep in range(opts.repeat):
            for s in scen:
                if s["view_of"] or (rep > 0 and s["once"]):
                    continue
                for n in names:
                    if n not in s["peers"] or (rep > 0 and n not in REPEATED):
                        continue
                    cell = samples.setdefault(s["key"], {}).setdefault(n, [])
                    if n in s["skip"]:
                        cell.append((None, s["skip"][n]))
                        continue
                    if time.monotonic() - t0 > opts.max_total:
                        cell.append((None, "skipped: --max-total reached"))
                        continue
                    t1 = time.monotonic()
                    print(f"== [{rep + 1}/{opts.repeat}] {s['key']} / {n}", flush=True)
                    try:
                        p, port, _log = start_server(n, logdir)
                    except (RuntimeError, OSError) as e:
                        cell.append((None, f"server did not start: {e}"))
                        print(f"   FAILED {e}", flush=True)
                        continue
                    args = s["args"](n) if callable(s["args"]) else s["args"]
                    try:
                        r, err, tail = run_loadgen(args, port, p.pid, s["bound"])
                    finally:
                        how = stop(p)
                    if r is not None:
                        r.update(peer=n, suite_scenario=s["key"], repeat=rep + 1, server_stop=how)
                        raw.append(r)
                        if err is None and not r.get("ok", False):
                            err = failure_reason(r)
                        if err is None and get(r, s["metric"]) is None:
                            err = f"no {s['metric']} in result"
                    if err:
                        print(f"   FAILED {err}\n   " + tail.replace("\n", "\n   "), flush=True)
                    else:
                        print(f"   {s['metric']} {get(r, s['metric']):,.1f}  (server stop: {how}, "
                              f"{time.monotonic() - t1:.0f} s)", flush=True)
                    cell.append((r, err))
    finally:
        stop_all()
        finished = datetime.datetime.now(datetime.timezone.utc)
        wall = time.monotonic() - t0
        with open(os.path.join(opts.results_dir, "suite.jsonl"), "w") as f:
            for r in raw:
                f.write(json.dumps(r, sort_keys=True) + "\n")
        report(opts, scen, names, samples, started, finished, wall)
    return 0


def report(opts, scen, names, samples, started, finished, wall):
    """Medians, charts and RESULTS.md from the samples (key -> peer -> [(result, err)])."""
    cells = {}
    for s in scen:
        if s["view_of"]:
            continue
        for n, smp in samples.get(s["key"], {}).items():
            cells.setdefault(s["key"], {})[n] = median_pick(smp, s["metric"], s["higher"])
    charts = {}
    for s in scen:
        src = s["view_of"] or s["key"]
        if src in cells:
            fname = f"suite-{s['key']}.png"
            peers = [n for n in s["peers"] if n in names]
            if chart(os.path.join(opts.results_dir, fname), f"{s['key']}: {s['title']}",
                     s["unit"], cells[src], s["metric"], s["higher"], peers):
                charts[s["key"]] = fname
    write_report(opts.out, cells, scen, opts, started, finished, charts, names, wall)
    print(f"wrote {opts.out} ({wall:.0f} s)", flush=True)


def rerender(opts, scen, names):
    """--from-jsonl: the report of an earlier run, from its RESULT lines."""
    samples = {}
    times = []
    with open(opts.from_jsonl) as f:
        for line in f:
            r = json.loads(line)
            key, n = r.get("suite_scenario"), r.get("peer")
            s = next((x for x in scen if x["key"] == key), None)
            if s is None or n not in names:
                continue
            err = None if r.get("ok") else failure_reason(r)
            if err is None and get(r, s["metric"]) is None:
                err = f"no {s['metric']} in result"
            samples.setdefault(key, {}).setdefault(n, []).append((r, err))
            times.append(r.get("unix_time", 0))
    for s in scen:
        for n in s["peers"]:
            if n in s["skip"] and n in names:
                samples.setdefault(s["key"], {}).setdefault(n, []).append((None, s["skip"][n]))
    utc = datetime.timezone.utc
    started = datetime.datetime.fromtimestamp(min(times or [0]), utc)
    finished = datetime.datetime.fromtimestamp(max(times or [0]), utc)
    wall = opts.wall if opts.wall else (finished - started).total_seconds()
    report(opts, scen, names, samples, started, finished, wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
