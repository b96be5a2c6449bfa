#!/usr/bin/env python3
"""The Flask benchmarks of issue 11 (part 7): ferrosocket.flask against Flask-SocketIO,
ferrosocket's WSGI bridge against gunicorn and granian, and HTTP next to a chat.

Owns: the three runs and bench/RESULTS-flask.md (rebuilt from bench/results/flask-*.json,
one file per run, each with its command, date, commit, machine and load). Never: asserts
a timing (nothing here is a test), or leaves a process running (every server and loadgen
is stopped on every way out, through bench/suite/run.py's process handling).

    bench/flask/run.sh echo    # (a) echo, 100 clients: ferrosocket-flask vs Flask-SocketIO x3
    bench/flask/run.sh http    # (b) GET / and /json (Flask) and / (bare WSGI) on one core
    bench/flask/run.sh mixed   # (c) HTTP while 1,000 clients chat, alone vs together
    bench/flask/run.sh report  # rewrite RESULTS-flask.md from the JSON files only

Every server runs under `taskset -c 0`; loadgen pins itself to CPU 1 (`--pin`). Each run
has ROUNDS rounds (3) that visit every server in turn, so that a ratio can be taken within
one round (the machine is shared: absolute figures move between minutes); tables give the
median over the rounds of each figure and of each ratio.
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BENCH = os.path.join(ROOT, "bench")
RESULTS_DIR = os.path.join(BENCH, "results")
OUT = os.path.join(BENCH, "RESULTS-flask.md")
VENV_BIN = os.path.join(BENCH, ".venv", "bin")
PY_DIR = os.path.join(BENCH, "peers", "python")
FLASK_PEER = os.path.join(BENCH, "peers", "ferrosocket_python", "flask_server.py")
HOST = "127.0.0.1"
BUSY_LOAD = 1.5  # 1-minute load average before a run above which it is labelled provisional
BUSY_OTHER = 0.1  # cores used by other processes (median over the windows), same

_spec = importlib.util.spec_from_file_location("suite_run", os.path.join(BENCH, "suite", "run.py"))
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)

THREADS = 8  # ferrosocket's dispatch threads (handlers and WSGI requests), gthread's threads

# (a) the Socket.IO peers of the echo comparison (names of bench/suite/run.py's PEERS)
ECHO_PEERS = ["ferrosocket-flask", "flask-socketio-eventlet", "flask-socketio-gevent",
              "flask-socketio-threading", "ferrosocket-python"]
FLASK_SIO = ["flask-socketio-eventlet", "flask-socketio-gevent", "flask-socketio-threading"]


def http_servers():
    """name -> (description, argv(app, port) or None when it prints LISTENING itself)."""
    gunicorn = os.path.join(VENV_BIN, "gunicorn")
    granian = os.path.join(VENV_BIN, "granian")

    def ferro(app, port):
        return [os.path.join(VENV_BIN, "python"), FLASK_PEER, "--wsgi",
                "flask" if app == "app" else "bare", "--handler-threads", str(THREADS),
                "--host", HOST, "--port", str(port)]

    def g_sync(app, port):
        return [gunicorn, "-k", "sync", "-w", "3", "-b", f"{HOST}:{port}",
                "--log-level", "warning", f"http_app:{app}"]

    def g_thread(app, port):
        return [gunicorn, "-k", "gthread", "-w", "1", "--threads", str(THREADS),
                "-b", f"{HOST}:{port}", "--log-level", "warning", f"http_app:{app}"]

    def gran(app, port):
        return [granian, "--interface", "wsgi", "--host", HOST, "--port", str(port),
                "--workers", "1", "--blocking-threads", str(THREADS), "--http", "1", "--no-ws",
                "--log-level", "warning", f"http_app:{app}"]

    return {
        "ferrosocket": (f"ferrosocket's WSGI bridge (`socketio.run`'s server: "
                        f"bench/peers/ferrosocket_python/flask_server.py, {THREADS} dispatch "
                        f"threads), Socket.IO on the same port", ferro),
        "gunicorn-sync": ("gunicorn, sync workers, `-w 3` (its (2 × cores) + 1 for one core; "
                          "≥ `-w 1` in a sweep); closes the connection after every response",
                          g_sync),
        "gunicorn-gthread": (f"gunicorn, gthread worker, `-w 1 --threads {THREADS}`, "
                             "keep-alive (better than `-w 1 --threads 2` and `-w 2 --threads 4` "
                             "in a sweep)", g_thread),
        "granian": (f"granian, `--interface wsgi --workers 1 --blocking-threads {THREADS} "
                    f"--http 1` (one Rust runtime thread; {THREADS} blocking threads did better "
                    f"than its default and than 1 in a sweep)", gran),
    }


# ---------------------------------------------------------------- helpers


sh = suite.sh
load1 = suite.load1


def machine():
    return f"{suite.machine_model()}, Python {platform.python_version()}"


def versions():
    code = ("import importlib.metadata as m\n"
            "out = []\n"
            "for p in ['ferrosocket', 'Flask', 'Werkzeug', 'Flask-SocketIO', 'python-socketio',"
            " 'eventlet', 'gevent', 'gunicorn', 'granian']:\n"
            "    try: out.append(f'{p} {m.version(p)}')\n"
            "    except Exception: out.append(f'{p} ?')\n"
            "print(', '.join(out))")
    return sh([os.path.join(VENV_BIN, "python"), "-c", code])


def commit():
    head = sh(["git", "rev-parse", "--short", "HEAD"])
    # The report and the results this script writes itself do not make the build dirty.
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                ":!bench/results", ":!bench/RESULTS-flask.md"])
    return head + ("+dirty" if dirty else "")


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_http(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def start_http(name, app, logdir):
    """Starts an HTTP server pinned to CPU 0; returns (Popen, port)."""
    _desc, argv_of = http_servers()[name]
    log = os.path.join(logdir, f"http-{name}-{app}.log")
    if name == "ferrosocket":
        argv = ["taskset", "-c", "0"] + argv_of(app, 0)
        try:
            p, port = suite.spawn_announced(argv, log)
        except RuntimeError as error:
            raise RuntimeError(f"{name}: {error}") from None
    else:
        port = free_port()
        argv = ["taskset", "-c", "0"] + argv_of(app, port)
        logf = open(log, "ab")
        p = suite.spawn(argv, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, cwd=PY_DIR)
        logf.close()
    if not wait_http(port):
        how = suite.stop(p)
        raise RuntimeError(f"{name}: GET / did not answer 200 within 20 s ({how}); see {log}")
    return p, port


def loadgen(args, port, pid, bound):
    """One loadgen run; returns (result or None, error or None)."""
    t = load1()
    r, err, tail = suite.run_loadgen(args, port, pid, bound)
    if r is not None:
        r["load1_before"] = t
        if err is None and not r.get("ok", False):
            err = suite.failure_reason(r) or "not ok"
    if err:
        print(f"   FAILED {err}\n   " + tail.replace("\n", "\n   "), flush=True)
    return r, err


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def save(kind, doc):
    """The run's figures (the report's tables come from the latest run of each kind) and
    one line in flask-runs.jsonl (every run, for the report's list of earlier runs)."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(os.path.join(RESULTS_DIR, f"flask-{kind}.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    with open(os.path.join(RESULTS_DIR, "flask-runs.jsonl"), "a") as f:
        f.write(json.dumps(doc, sort_keys=True) + "\n")


def header(kind, opts, started):
    return {
        "kind": kind,
        "command": "bench/flask/run.sh " + " ".join(sys.argv[1:]),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "machine": machine(),
        "versions": versions(),
        "rounds": opts.rounds,
        "steps": [],
    }


def step(doc, **kw):
    doc["steps"].append(kw)


# ---------------------------------------------------------------- (a) echo


def run_echo(opts, logdir):
    started = datetime.datetime.now(datetime.timezone.utc)
    doc = header("echo", opts, started)
    doc["clients"] = opts.clients
    doc["duration"] = opts.duration
    args = ["echo", "--clients", str(opts.clients), "--duration", str(opts.duration),
            "--warmup", "1"]
    doc["loadgen_args"] = args
    peers = opts.peers.split(",") if opts.peers else ECHO_PEERS
    for rnd in range(opts.rounds):
        order = peers if rnd % 2 == 0 else list(reversed(peers))
        for name in order:
            print(f"== echo round {rnd + 1}/{opts.rounds}: {name}", flush=True)
            try:
                p, port, _log = suite.start_server(name, logdir)
            except (RuntimeError, OSError) as e:
                step(doc, round=rnd, peer=name, error=f"server did not start: {e}")
                continue
            try:
                r, err = loadgen(args, port, p.pid, 60)
            finally:
                how = suite.stop(p)
            rec = {"round": rnd, "peer": name, "error": err, "server_stop": how}
            if r:
                rec.update({k: r.get(k) for k in (
                    "events_per_sec", "latency_p50_us", "latency_p99_us", "server_cpu_util",
                    "loadgen_cpu_util", "other_cpu_secs", "load1_before", "ok")})
                print(f"   {r.get('events_per_sec', 0):,.0f} acks/s, p50 "
                      f"{r.get('latency_p50_us', 0):,.0f} µs, p99 {r.get('latency_p99_us', 0):,.0f} µs",
                      flush=True)
            step(doc, **rec)
    save("echo", doc)


# ---------------------------------------------------------------- (b) http

HTTP_CASES = [("app", "/"), ("app", "/json"), ("bare", "/")]


def run_http(opts, logdir):
    started = datetime.datetime.now(datetime.timezone.utc)
    doc = header("http", opts, started)
    servers = opts.servers.split(",") if opts.servers else list(http_servers())
    doc["servers"] = {n: http_servers()[n][0] for n in servers}
    doc["connections"] = opts.connections
    doc["duration"] = opts.duration
    for rnd in range(opts.rounds):
        order = servers if rnd % 2 == 0 else list(reversed(servers))
        for app in ("app", "bare"):
            for name in order:
                print(f"== http round {rnd + 1}/{opts.rounds}: {name} ({app})", flush=True)
                try:
                    p, port = start_http(name, app, logdir)
                except (RuntimeError, OSError) as e:
                    print(f"   FAILED {e}", flush=True)
                    for a, path in HTTP_CASES:
                        if a == app:
                            step(doc, round=rnd, server=name, app=app, path=path,
                                 error=f"server did not start: {e}")
                    continue
                try:
                    for a, path in HTTP_CASES:
                        if a != app:
                            continue
                        args = ["http", "--connections", str(opts.connections), "--duration",
                                str(opts.duration), "--warmup", "1", "--path", path]
                        r, err = loadgen(args, port, p.pid, 60)
                        rec = {"round": rnd, "server": name, "app": app, "path": path,
                               "error": err, "loadgen_args": args}
                        if r:
                            rec.update({k: r.get(k) for k in (
                                "requests_per_sec", "latency_p50_us", "latency_p99_us",
                                "server_cpu_util", "server_cpu_us_per_request", "connects",
                                "loadgen_cpu_util", "other_cpu_secs", "server_processes",
                                "load1_before", "ok")})
                            print(f"   {path}: {r.get('requests_per_sec', 0):,.0f} req/s, p50 "
                                  f"{r.get('latency_p50_us', 0):,.0f} µs, p99 "
                                  f"{r.get('latency_p99_us', 0):,.0f} µs, server "
                                  f"{r.get('server_cpu_us_per_request', 0):,.1f} µs CPU/req",
                                  flush=True)
                        step(doc, **rec)
                finally:
                    suite.stop(p)
    save("http", doc)


# ---------------------------------------------------------------- (c) mixed


def run_mixed(opts, logdir):
    started = datetime.datetime.now(datetime.timezone.utc)
    doc = header("mixed", opts, started)
    chat_args = ["chat", "--clients", str(opts.chat_clients), "--room-size", "50",
                 "--duration", str(opts.duration + 4), "--warmup", "2"]
    http_args = ["http", "--connections", str(opts.connections), "--duration",
                 str(opts.duration), "--warmup", "3", "--path", opts.path]
    rate_args = http_args + ["--rate", str(opts.http_rate)]
    doc["chat_args"] = chat_args
    doc["http_args"] = http_args
    doc["http_rate"] = opts.http_rate
    doc["peer"] = "ferrosocket-flask"
    for rnd in range(opts.rounds):
        modes = ["chat", "http", "both", "http-rate", "both-rate"]
        if rnd % 2:
            modes.reverse()
        for mode in modes:
            print(f"== mixed round {rnd + 1}/{opts.rounds}: {mode}", flush=True)
            try:
                p, port, _log = suite.start_server("ferrosocket-flask", logdir)
            except (RuntimeError, OSError) as e:
                step(doc, round=rnd, mode=mode, error=f"server did not start: {e}")
                continue
            hargs = rate_args if mode.endswith("-rate") else http_args
            rec = {"round": rnd, "mode": mode, "load1_before": load1()}
            try:
                if mode == "chat":
                    rec["chat"] = pick_chat(*suite.run_loadgen(chat_args, port, p.pid, 90))
                elif mode.startswith("http"):
                    rec["http"] = pick_http(*suite.run_loadgen(hargs, port, p.pid, 60))
                else:
                    rec.update(both(chat_args, hargs, port, p.pid, opts.duration))
            finally:
                rec["server_stop"] = suite.stop(p)
            for side in ("chat", "http"):
                if side in rec:
                    print(f"   {side}: {rec[side]}", flush=True)
            step(doc, **rec)
    save("mixed", doc)


def pick_chat(r, err, tail=""):
    if r is None:
        return {"error": err or "no result", "tail": tail}
    out = {k: r.get(k) for k in ("messages_per_sec", "deliveries_per_sec", "latency_p50_us",
                                  "latency_p99_us", "sustained", "ok", "server_cpu_util",
                                  "other_cpu_secs", "duration_secs")}
    if not r.get("ok"):
        out["error"] = err or suite.failure_reason(r) or "not ok"
    return out


def pick_http(r, err, tail=""):
    if r is None:
        return {"error": err or "no result", "tail": tail}
    out = {k: r.get(k) for k in ("requests_per_sec", "latency_p50_us", "latency_p99_us",
                                  "latency_p999_us", "ok", "server_cpu_util", "other_cpu_secs",
                                  "duration_secs")}
    if not r.get("ok"):
        out["error"] = err or suite.failure_reason(r) or "not ok"
    return out


def both(chat_args, http_args, port, pid, duration):
    """The chat loadgen, and once its clients are connected the HTTP loadgen, whose
    measured window (3 s warm-up, `duration` s) lies inside the chat's (2 s warm-up,
    duration + 4 s, from 0.5 s after the connected line)."""
    res = {}
    connected = threading.Event()
    chat_argv = [suite.LOADGEN, "--pin", "--external", f"{HOST}:{port}", "--external-pid",
                 str(pid), "--max-time", "90", "--connect-timeout", "10"] + chat_args
    cp = suite.spawn(chat_argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                     stdin=subprocess.DEVNULL, cwd=ROOT)
    lines = []

    def read():
        for line in cp.stdout:
            s = line.decode(errors="replace").rstrip()
            lines.append(s)
            if s.startswith("chat: ") and " clients in " in s:
                connected.set()
        connected.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not connected.wait(60) or cp.poll() is not None:
            res["http"] = {"error": "chat clients did not connect"}
        else:
            time.sleep(0.3)
            res["http"] = pick_http(*suite.run_loadgen(http_args, port, pid, 60))
        try:
            cp.wait(timeout=duration + 60)
        except subprocess.TimeoutExpired:
            pass
    finally:
        suite.stop(cp, grace=2.0)
        reader.join(5)
    result = None
    for s in lines:
        if s.startswith("RESULT "):
            try:
                result = json.loads(s[7:])
            except ValueError:
                pass
    res["chat"] = pick_chat(result, None if result else "no RESULT line",
                            "\n".join(lines[-5:]))
    return res


# ---------------------------------------------------------------- report


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def other_share(doc):
    """CPU used by other processes during each measured window, in cores (loadgen's
    `other_cpu_secs` over the window): the machine's quietness, which the load average
    cannot tell (it counts this benchmark's own threads too)."""
    out = []
    for s in doc["steps"]:
        for rec in [s] + [s[k] for k in ("chat", "http") if isinstance(s.get(k), dict)]:
            o, d = rec.get("other_cpu_secs"), rec.get("duration_secs") or doc.get("duration")
            if o is not None and d:
                out.append(o / d)
    return out


def provisional(doc):
    loads = [s.get("load1_before") for s in doc["steps"] if s.get("load1_before") is not None]
    shares = other_share(doc)
    # The CPU used outside the server and loadgen in the measured windows is the direct
    # measure; the load average (which lags, and counts this benchmark's own threads, e.g.
    # those of the run just before) decides only when there is none.
    if shares:
        busy = med(shares) > BUSY_OTHER
    else:
        busy = bool(loads) and loads[0] >= BUSY_LOAD
    return (max(loads) if loads else None), busy


def head_md(doc, title):
    peak, busy = provisional(doc)
    out = [f"## {title}", ""]
    out.append(f"Command: `{doc['command']}` · date {doc['date']} · commit `{doc['commit']}` · "
               f"{doc['rounds']} round(s), medians")
    out.append("")
    shares = other_share(doc)
    first = next((s.get("load1_before") for s in doc["steps"] if s.get("load1_before") is not None), None)
    out.append(f"Machine: {doc['machine']}; shared with other engineers' builds. "
               f"1-minute load before the first step {fmt(first, 2)}, at most {fmt(peak, 2)} "
               f"before a step (this benchmark's own threads count in it: Flask-SocketIO's "
               f"threading mode alone has 100 runnable). CPU taken outside the server and loadgen "
               f"(other processes, the kernel) in the measured windows: median {fmt(med(shares), 2)}, at most "
               f"{fmt(max(shares) if shares else None, 2)} of a core.")
    out.append("")
    out.append(f"Versions: {doc['versions']}.")
    out.append("")
    if busy:
        out.append(f"**Provisional**: the machine was busy (other processes took more than "
                   f"{BUSY_OTHER} of a core in the median measured window), so the absolute "
                   f"figures are low and noisy; the ratios, taken within a round, less so.")
        out.append("")
    return out


def md_echo(doc):
    out = head_md(doc, f"(a) echo, {doc['clients']} clients, Flask-mode handler")
    out.append(f"`loadgen --pin {' '.join(doc['loadgen_args'])}` against each peer "
               "(servers under `taskset -c 0`, loadgen on CPU 1). ferrosocket-flask is "
               "bench/peers/ferrosocket_python/flask_server.py: `from ferrosocket.flask import "
               "SocketIO, emit, join_room, rooms`, the `ack` handler reads `request.sid` and "
               "returns its arguments, `socketio.run`'s server (`_serve.serve`). "
               "ferrosocket-python (`@sio.on` with `sid`, no Flask) is shown for the cost of "
               "the Flask layer. Target: ferrosocket-flask ≥ 10× the best Flask-SocketIO mode.")
    out.append("")
    peers = []
    for s in doc["steps"]:
        if s["peer"] not in peers:
            peers.append(s["peer"])
    rounds = sorted({s["round"] for s in doc["steps"]})
    by = {(s["round"], s["peer"]): s for s in doc["steps"]}
    ratios = []
    for r in rounds:
        ours = by.get((r, "ferrosocket-flask"), {}).get("events_per_sec")
        best = [by.get((r, p), {}).get("events_per_sec") for p in FLASK_SIO]
        best = [b for b in best if b]
        if ours and best:
            ratios.append(ours / max(best))
    out.append("| peer | acks/s | p50 µs | p99 µs | server CPU | runs | failures |")
    out.append("|---|---:|---:|---:|---:|---:|---|")
    for p in peers:
        ok = [s for s in doc["steps"] if s["peer"] == p and not s.get("error")]
        bad = [s["error"] for s in doc["steps"] if s["peer"] == p and s.get("error")]
        out.append(f"| {p} | {fmt(med([s['events_per_sec'] for s in ok]))} | "
                   f"{fmt(med([s['latency_p50_us'] for s in ok]))} | "
                   f"{fmt(med([s['latency_p99_us'] for s in ok]))} | "
                   f"{fmt(med([s['server_cpu_util'] for s in ok]), 2)} | {len(ok)} | "
                   f"{'; '.join(bad[:2]) or '—'} |")
    out.append("")
    if ratios:
        out.append(f"**ferrosocket-flask / best Flask-SocketIO mode, per round: "
                   f"{', '.join(f'{x:.1f}×' for x in ratios)}; median {med(ratios):.1f}×** "
                   f"(target ≥ 10×).")
    out.append("")
    return out


def md_http(doc):
    out = head_md(doc, "(b) Flask HTTP routes on one core: the WSGI bridge vs gunicorn and granian")
    out.append(f"Each server under `taskset -c 0`; `loadgen --pin http --connections "
               f"{doc['connections']} --duration {doc['duration']} --warmup 1 --path PATH` on "
               f"CPU 1 (hyper client, keep-alive, closed loop; a server that answers "
               f"`Connection: close` costs a reconnect, counted in the latency). App: "
               f"bench/peers/python/http_app.py — `app` (Flask: `/` returns a string, `/json` "
               f"`jsonify`s a 3-key dict) and `bare` (a WSGI callable returning fixed bytes: "
               f"the server alone). Server CPU per request sums every process of the server "
               f"(gunicorn's and granian's workers). Target: the bridge ≥ the best of the others.")
    out.append("")
    for name, desc in doc["servers"].items():
        out.append(f"- **{name}**: {desc}")
    out.append("")
    servers = list(doc["servers"])
    rounds = sorted({s["round"] for s in doc["steps"]})
    by = {(s["round"], s["server"], s["app"], s["path"]): s for s in doc["steps"]}
    out.append("| server | Flask `/` req/s | Flask `/json` req/s | bare `/` req/s | "
               "p50 / p99 µs (`/json`) | server CPU µs/req: Flask `/json` · bare | "
               "Flask's own µs/req | failures |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for n in servers:
        cells = {}
        for app, path in HTTP_CASES:
            ok = [by[k] for k in by if k[1:] == (n, app, path) and not by[k].get("error")]
            cells[(app, path)] = ok
        bad = [s["error"] for s in doc["steps"] if s["server"] == n and s.get("error")]
        j = cells[("app", "/json")]
        cpu_j = med([s["server_cpu_us_per_request"] for s in j])
        cpu_b = med([s["server_cpu_us_per_request"] for s in cells[("bare", "/")]])
        own = (cpu_j - cpu_b) if cpu_j is not None and cpu_b is not None else None
        out.append(
            f"| {n} | {fmt(med([s['requests_per_sec'] for s in cells[('app', '/')]]))} | "
            f"{fmt(med([s['requests_per_sec'] for s in j]))} | "
            f"{fmt(med([s['requests_per_sec'] for s in cells[('bare', '/')]]))} | "
            f"{fmt(med([s['latency_p50_us'] for s in j]))} / "
            f"{fmt(med([s['latency_p99_us'] for s in j]))} | "
            f"{fmt(cpu_j, 1)} · {fmt(cpu_b, 1)} | {fmt(own, 1)} | {'; '.join(bad[:2]) or '—'} |")
    out.append("")
    if "ferrosocket" in servers:
        for app, path in HTTP_CASES:
            ratios = []
            for r in rounds:
                ours = by.get((r, "ferrosocket", app, path), {}).get("requests_per_sec")
                others = [by.get((r, n, app, path), {}).get("requests_per_sec")
                          for n in servers if n != "ferrosocket"]
                others = [o for o in others if o]
                if ours and others:
                    ratios.append(ours / max(others))
            if ratios:
                label = "Flask" if app == "app" else "bare WSGI"
                out.append(f"- {label} `{path}`: bridge / best other, per round "
                           f"{', '.join(f'{x:.2f}×' for x in ratios)}; **median "
                           f"{med(ratios):.2f}×** (target ≥ 1×).")
        out.append("")
    return out


def md_mixed(doc):
    out = head_md(doc, "(c) mixed: HTTP requests while 1,000 clients chat")
    out.append(f"One ferrosocket-flask server (`taskset -c 0`: Socket.IO, the chat handler "
               f"`emit('chat', msg, to=room)` and the Flask routes on one port). "
               f"Chat: `loadgen --pin {' '.join(doc['chat_args'])}` (rooms of 50, one message "
               f"per client per second: 1,000 msgs/s in, 50,000 deliveries/s out). HTTP: "
               f"`loadgen --pin {' '.join(doc['http_args'])}`. Alone: each by itself on a fresh "
               f"server; together: the HTTP loadgen starts once the chat clients are "
               f"connected, its measured window inside the chat's. Both loadgens share CPU 1. "
               f"The closed-loop HTTP runs take all the server's CPU the chat leaves; the "
               f"fixed-rate pair (`--rate`) is the same at a load the server can carry.")
    out.append("")
    rate = doc.get("http_rate")
    rows = []
    for mode in ("chat", "http", "both", "http-rate", "both-rate"):
        ss = [s for s in doc["steps"] if s.get("mode") == mode]
        if ss:
            rows.append((mode, ss))
    out.append("| run | chat msgs/s | chat deliveries/s | chat p50 / p99 µs (send → last member) "
               "| sustained | HTTP req/s | HTTP p50 / p99 µs | server CPU (of one core) | runs "
               "| failures |")
    out.append("|---|---:|---:|---:|---|---:|---:|---:|---:|---|")
    label = {"chat": "chat alone", "http": "HTTP alone, closed loop",
             "both": "together, HTTP closed loop",
             "http-rate": f"HTTP alone, {fmt(rate)} req/s (`--rate`)",
             "both-rate": f"together, HTTP {fmt(rate)} req/s"}
    for mode, ss in rows:
        c = [s["chat"] for s in ss if "chat" in s and not s["chat"].get("error")]
        h = [s["http"] for s in ss if "http" in s and not s["http"].get("error")]
        bad = [s[k]["error"] for s in ss for k in ("chat", "http") if k in s and s[k].get("error")]
        bad += [s["error"] for s in ss if s.get("error")]
        sus = ", ".join(str(x.get("sustained")) for x in c) if c else "—"
        out.append(
            f"| {label[mode]} | {fmt(med([x['messages_per_sec'] for x in c]))} | "
            f"{fmt(med([x['deliveries_per_sec'] for x in c]))} | "
            f"{fmt(med([x['latency_p50_us'] for x in c]))} / {fmt(med([x['latency_p99_us'] for x in c]))} | "
            f"{sus} | {fmt(med([x['requests_per_sec'] for x in h]))} | "
            f"{fmt(med([x['latency_p50_us'] for x in h]))} / {fmt(med([x['latency_p99_us'] for x in h]))} | "
            f"{fmt(med([x.get('server_cpu_util') for x in (h or c)]), 2)} | {len(ss)} | {'; '.join(str(b) for b in bad[:2]) or '—'} |")
    out.append("")
    for suffix, what in (("", "HTTP closed loop"), ("-rate", f"HTTP at {fmt(rate)} req/s")):
        hr, hl, cr = [], [], []
        for r in sorted({s["round"] for s in doc["steps"]}):
            get = {s["mode"]: s for s in doc["steps"] if s["round"] == r}
            both_, alone = get.get("both" + suffix, {}), get.get("http" + suffix, {})
            chat = get.get("chat", {})
            try:
                hr.append(both_["http"]["requests_per_sec"] / alone["http"]["requests_per_sec"])
                hl.append(both_["http"]["latency_p99_us"] / alone["http"]["latency_p99_us"])
            except (KeyError, TypeError, ZeroDivisionError):
                pass
            try:
                cr.append(both_["chat"]["latency_p99_us"] / chat["chat"]["latency_p99_us"])
            except (KeyError, TypeError, ZeroDivisionError):
                pass
        if hr or cr:
            out.append(f"- {what}, together / alone, per round: HTTP req/s "
                       f"{', '.join(f'{x:.2f}' for x in hr) or '—'} (median **{fmt(med(hr), 2)}**); "
                       f"HTTP p99 {', '.join(f'{x:.2f}' for x in hl) or '—'} (median "
                       f"**{fmt(med(hl), 2)}**); chat p99 {', '.join(f'{x:.2f}' for x in cr) or '—'} "
                       f"(median **{fmt(med(cr), 2)}**).")
    out.append("")
    return out


def summary(doc):
    """The run's ratios in one line, for the list of runs."""
    by_round = {}
    for st in doc["steps"]:
        by_round.setdefault(st["round"], []).append(st)
    if doc["kind"] == "echo":
        ratios = []
        for steps in by_round.values():
            get = {st["peer"]: st.get("events_per_sec") for st in steps}
            best = [get.get(p) for p in FLASK_SIO if get.get(p)]
            if get.get("ferrosocket-flask") and best:
                ratios.append(get["ferrosocket-flask"] / max(best))
        return f"ferrosocket-flask / best Flask-SocketIO median {fmt(med(ratios), 1)}×"
    if doc["kind"] == "http":
        bits = []
        for app, path in HTTP_CASES:
            ratios = []
            for steps in by_round.values():
                get = {st["server"]: st.get("requests_per_sec") for st in steps
                       if st["app"] == app and st["path"] == path}
                others = [v for k, v in get.items() if k != "ferrosocket" and v]
                if get.get("ferrosocket") and others:
                    ratios.append(get["ferrosocket"] / max(others))
            label = "Flask" if app == "app" else "bare"
            bits.append(f"{label} `{path}` {fmt(med(ratios), 2)}×")
        return "bridge / best other: " + ", ".join(bits)
    if doc["kind"] == "mixed":
        bits = []
        for suffix, what in (("", "closed loop"), ("-rate", "fixed rate")):
            hr, cr = [], []
            for steps in by_round.values():
                get = {st.get("mode"): st for st in steps}
                try:
                    hr.append(get["both" + suffix]["http"]["requests_per_sec"]
                              / get["http" + suffix]["http"]["requests_per_sec"])
                    cr.append(get["both" + suffix]["chat"]["latency_p99_us"]
                              / get["chat"]["chat"]["latency_p99_us"])
                except (KeyError, TypeError, ZeroDivisionError):
                    pass
            bits.append(f"{what}: HTTP req/s ×{fmt(med(hr), 2)}, chat p99 ×{fmt(med(cr), 2)}")
        return "together / alone, " + "; ".join(bits)
    return ""


def runs_md():
    path = os.path.join(RESULTS_DIR, "flask-runs.jsonl")
    if not os.path.exists(path):
        return []
    out = ["## Every run", "",
           "Each run of `run.sh` appends its figures to `results/flask-runs.jsonl`; the tables "
           "above are the latest run of each kind. The ratios of every run (commit, date, "
           "whether the machine was busy):", ""]
    with open(path) as f:
        for line in f:
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            _peak, busy = provisional(doc)
            out.append(f"- {doc['kind']}, {doc['date']}, `{doc['commit']}`, {doc['rounds']} "
                       f"round(s){', provisional' if busy else ''}: {summary(doc)}")
    out.append("")
    return out


def report():
    parts = ["# Flask benchmarks (issue 11, part 7)", "",
             "Written by `bench/flask/run.sh` (see [README.md](README.md), \"Flask "
             "benchmarks\"); raw figures in `results/flask-*.json`. This is a 2-CPU machine "
             "shared with other engineers: absolute figures move between runs, so each run "
             "alternates its servers over several rounds and the ratios are taken within a "
             "round. Nothing here is a test.", ""]
    for kind, fn in (("echo", md_echo), ("http", md_http), ("mixed", md_mixed)):
        path = os.path.join(RESULTS_DIR, f"flask-{kind}.json")
        if not os.path.exists(path):
            parts += [f"## ({kind})", "", "Not run yet.", ""]
            continue
        with open(path) as f:
            parts += fn(json.load(f))
    parts += runs_md()
    notes = os.path.join(HERE, "NOTES.md")
    if os.path.exists(notes):
        with open(notes) as f:
            parts += [f.read().rstrip(), ""]
    with open(OUT, "w") as f:
        f.write("\n".join(parts))
    print(f"wrote {OUT}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["echo", "http", "mixed", "report"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=None,
                    help="seconds measured per step (echo 5, http 5, mixed 10)")
    ap.add_argument("--clients", type=int, default=100, help="echo clients")
    ap.add_argument("--peers", help="echo: comma-separated peers (default: " + ",".join(ECHO_PEERS) + ")")
    ap.add_argument("--servers", help="http: comma-separated subset of " + ",".join(http_servers()))
    ap.add_argument("--connections", type=int, default=32, help="http connections")
    ap.add_argument("--chat-clients", type=int, default=1000)
    ap.add_argument("--path", default="/json", help="mixed: the HTTP path")
    ap.add_argument("--http-rate", type=float, default=1000.0,
                    help="mixed: the fixed HTTP rate of the second pair of runs (req/s)")
    opts = ap.parse_args()
    opts.rounds = max(1, min(opts.rounds, 10))
    if opts.what == "report":
        report()
        return 0
    if opts.duration is None:
        opts.duration = 10.0 if opts.what == "mixed" else 5.0
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, suite.on_signal)
    if not os.path.exists(suite.LOADGEN):
        sys.exit(f"{suite.LOADGEN} missing: run bench/flask/setup.sh")
    logdir = tempfile.mkdtemp(prefix="flask-bench-")
    print(f"server logs in {logdir}; 1-minute load {load1():.2f}", flush=True)
    try:
        {"echo": run_echo, "http": run_http, "mixed": run_mixed}[opts.what](opts, logdir)
    finally:
        suite.stop_all()
    report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
