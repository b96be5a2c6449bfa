#!/usr/bin/env python3
"""The Redis scale-out benchmark of issue 13 (part 7): one room spread over two server
processes that share one redis-server.

For every round and every peer: a fresh redis-server on a free loopback port, servers A
and B of that peer on it, then `loadgen fleet`: N clients split evenly over A and B, all in
room `r`, P publishers on A sending `emit` requests to the room (tests/test-server/SPEC.md);
A's members are served locally, B's through Redis. Measured: deliveries/s at saturation
(both servers), then the latency of every delivery at fixed rates, per server: at half of
ferrosocket's saturation (in messages/s, from the same round) and at half of the peer's
own. "Added by Redis" is B's p50 (p99) minus A's: cross-server minus local.

Owns: bench/results/redis-runs.jsonl (one line per run: command, date, commit, machine,
versions, every step) and bench/RESULTS-redis.md (from its latest line). Never asserts a
timing (nothing here is a test) and leaves no process running: every redis-server, server
and loadgen is stopped, by pid (its process group), on every way out.

    bench/redis/run.sh [--rounds 3] [--clients 1000] [--publishers 4] [--duration 5]
                       [--peers ferrosocket,node-socket.io,...] [--quick]
    bench/redis/run.sh report     # rewrite RESULTS-redis.md only

CPU: the whole fleet (redis-server, A and B) runs under `taskset -c 0`, loadgen pins itself
to CPU 1 (`loadgen --pin`): every peer gets one core for its fleet, loadgen the other.
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BENCH = os.path.join(ROOT, "bench")
RESULTS_DIR = os.path.join(BENCH, "results")
RUNS = os.path.join(RESULTS_DIR, "redis-runs.jsonl")
OUT = os.path.join(BENCH, "RESULTS-redis.md")
VENV_PY = os.path.join(BENCH, ".venv", "bin", "python")
TEST_SERVER = os.path.join(ROOT, "target", "release", "test-server")
HOST = "127.0.0.1"
BUSY_LOAD = 1.5  # 1-minute load average before a step above which the run is provisional
BUSY_OTHER = 0.1  # cores used by other processes (median over the windows): provisional
LOADGEN_NEAR = 0.85  # loadgen CPU (of its one core) from which the report flags it

_spec = importlib.util.spec_from_file_location("suite_run", os.path.join(BENCH, "suite", "run.py"))
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)

FERRO = "ferrosocket"
NODE = "node-socket.io"

# name -> (description, argv(redis url) without --host/--port, saturation messages)
PEERS = {
    FERRO: ("ferrosocket test-server, `--redis URL --redis-format socket.io` "
            "(@socket.io/redis-adapter's wire format)",
            lambda url: [TEST_SERVER, "--redis", url, "--redis-format", "socket.io"], 3000),
    "ferrosocket-psio": ("ferrosocket test-server, `--redis URL --redis-format python-socketio` "
                         "(python-socketio's pub/sub format, channel `socketio`)",
                         lambda url: [TEST_SERVER, "--redis", url, "--redis-format",
                                      "python-socketio"], 3000),
    NODE: ("node socket.io 4.8 + @socket.io/redis-adapter 8.3 (node-redis 4), "
           "bench/peers/node/server.js --redis URL",
           lambda url: ["node", os.path.join(BENCH, "peers", "node", "server.js"), "--redis", url],
           300),
    "flask-socketio-eventlet": ("Flask-SocketIO, async_mode eventlet, "
                                "`SocketIO(app, message_queue=URL)` (python-socketio's "
                                "RedisManager, channel `flask-socketio`)",
                                lambda url: [VENV_PY, os.path.join(BENCH, "peers", "python",
                                                                   "flask_server.py"),
                                             "--mode", "eventlet", "--message-queue", url], 150),
}
DEFAULT_PEERS = [FERRO, "ferrosocket-psio", NODE, "flask-socketio-eventlet"]


# ---------------------------------------------------------------- helpers


sh = suite.sh
load1 = suite.load1
machine = suite.machine_model


def versions():
    v = {k: val for k, val in suite.versions().items()
         if k in ("node", "socket.io", "python", "python-socketio", "Flask-SocketIO", "eventlet",
                  "rustc", "ferrosocket commit")}
    v["redis-server"] = sh(["redis-server", "--version"]).split(" sha=")[0]
    node_modules = os.path.join(BENCH, "peers", "node", "node_modules")
    for pkg in ("@socket.io/redis-adapter", "redis"):
        try:
            with open(os.path.join(node_modules, pkg, "package.json")) as f:
                v[f"npm {pkg}"] = json.load(f)["version"]
        except (OSError, ValueError, KeyError):
            pass
    v["redis-py"] = sh([VENV_PY, "-c", "import redis; print(redis.__version__)"], 30)
    return v


def commit():
    head = sh(["git", "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                ":!bench/results", ":!bench/RESULTS-redis.md"])
    return head + ("+dirty" if dirty else "")


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pinned(argv, cpu=0):
    return (["taskset", "-c", str(cpu)] + argv) if shutil.which("taskset") else argv


def redis_cmd(port, *words, timeout=2.0):
    """One command over RESP; returns the raw reply (bytes) or None."""
    req = f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(w.encode())}\r\n{w}\r\n".encode() for w in words)
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(req)
            data = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if data.endswith(b"\r\n") and _complete(data):
                    break
            return data
    except OSError:
        return None


def _complete(data):
    """Whether a RESP reply (simple, integer, bulk or a flat array of bulks) is whole."""
    if data[:1] in (b"+", b"-", b":"):
        return True
    if data[:1] == b"$":
        n = int(data[1:data.index(b"\r\n")])
        return n < 0 or len(data) >= data.index(b"\r\n") + 2 + n + 2
    if data[:1] == b"*":
        n = int(data[1:data.index(b"\r\n")])
        return data.count(b"\r\n") >= 1 + 2 * max(n, 0)
    return True


def start_redis(logdir, tag):
    """A fresh redis-server on a free loopback port, pinned to CPU 0; (Popen, port)."""
    binary = shutil.which("redis-server")
    if not binary:
        raise RuntimeError("redis-server not found (bench/redis/setup.sh installs it)")
    last = ""
    for _attempt in range(5):
        port = free_port()
        log = os.path.join(logdir, f"redis-{tag}.log")
        argv = pinned([binary, "--port", str(port), "--bind", HOST, "--save", "",
                       "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
                       "--logfile", log])
        p = suite.spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        stdin=subprocess.DEVNULL, cwd=logdir)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and p.poll() is None:
            if (redis_cmd(port, "PING") or b"").startswith(b"+PONG"):
                return p, port
            time.sleep(0.05)
        last = f"exit {p.poll()}" if p.poll() is not None else "no PONG within 10 s"
        suite.stop(p)
    raise RuntimeError(f"redis-server did not start: {last}")


def redis_facts(port):
    """What the fleet left on Redis: subscriptions (patterns taxed every PUBLISH)."""
    facts = {}
    r = redis_cmd(port, "PUBSUB", "NUMPAT")
    if r and r.startswith(b":"):
        facts["patterns"] = int(r[1:].strip())
    r = redis_cmd(port, "PUBSUB", "CHANNELS")
    if r and r.startswith(b"*"):
        parts = r.split(b"\r\n")
        facts["channels"] = sorted(p.decode(errors="replace") for p in parts[2::2] if p)[:20]
    r = redis_cmd(port, "INFO", "stats")
    if r and r.startswith(b"$"):
        for line in r.decode(errors="replace").splitlines():
            if line.startswith(("total_commands_processed:", "pubsub_channels:",
                                "pubsub_patterns:")):
                k, v = line.split(":", 1)
                facts[k] = int(v)
    return facts


def run_loadgen(args, bound):
    """loadgen with args; returns (result or None, error or None, tail)."""
    argv = [suite.LOADGEN, "--pin", "--max-time", str(bound), "--connect-timeout", "10"] + args
    p = suite.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, cwd=ROOT)
    try:
        out, _ = p.communicate(timeout=bound + 30)
        err = None
    except subprocess.TimeoutExpired:
        suite.stop(p, grace=2.0)
        out, _ = p.communicate()
        err = f"timeout: loadgen still running after {bound + 30} s"
    with suite.LIVE_LOCK:
        suite.LIVE.pop(p.pid, None)
    text = out.decode(errors="replace")
    result = None
    for line in text.splitlines():
        if line.startswith("RESULT "):
            try:
                result = json.loads(line[7:])
            except ValueError:
                pass
    if result is None and err is None:
        err = f"no RESULT line (loadgen exit {p.returncode})"
    if result is not None and err is None and not result.get("ok"):
        err = "; ".join(result.get("problems") or []) or result.get("error") or "not ok"
    return result, err, text


# ---------------------------------------------------------------- one step


def run_step(name, opts, logdir, tag, half_ferro, split=False):
    """One peer: redis-server, A, B, loadgen fleet. Returns the step's record.

    split: B on CPU 1 (with loadgen) instead of CPU 0 (with A and Redis), and only the
    light rate: the hop between servers that do not wait for each other's CPU."""
    desc, argv_of, messages = PEERS[name]
    messages = 0 if split else max(10, int(messages * opts.messages_scale))
    rec = {"peer": name, "messages": messages, "load1_before": load1(),
           "placement": "split" if split else "shared"}
    procs = []
    try:
        redis, rport = start_redis(logdir, tag)
        procs.append(redis)
        url = f"redis://{HOST}:{rport}/0"
        addrs, pids = [], []
        for side in ("A", "B"):
            log = os.path.join(logdir, f"{tag}-{side}.log")
            argv = pinned(argv_of(url) + ["--host", HOST, "--port", "0"],
                          1 if split and side == "B" else 0)
            try:
                p, port = suite.spawn_announced(argv, log, timeout=30)
            except RuntimeError as e:
                tail = ""
                try:
                    with open(log, errors="replace") as f:
                        tail = " | ".join(f.read().strip().splitlines()[-3:])
                except OSError:
                    pass
                raise RuntimeError(f"server {side} did not start: {e} {tail}") from None
            procs.append(p)
            addrs.append(f"{HOST}:{port}")
            pids.append(p.pid)
        args = ["fleet"]
        for a in addrs:
            args += ["--connect", a]
        for pid in pids:
            args += ["--pid", str(pid)]
        args += ["--also-pid", str(redis.pid), "--clients", str(opts.clients),
                 "--publishers", str(opts.publishers), "--messages", str(messages),
                 "--size", str(opts.size), "--duration", str(opts.duration),
                 "--warmup", str(opts.warmup), "--timeout", "60"]
        if name != FERRO and half_ferro and not split:
            args += ["--rate", f"{half_ferro:.3f}"]
            rec["half_ferro_asked"] = float(f"{half_ferro:.3f}")
        if opts.light_rate > 0:
            args += ["--rate", f"{opts.light_rate:g}"]
            rec["light_asked"] = float(f"{opts.light_rate:g}")
        if not split:
            args += ["--rate-fraction", "0.5"]
        rec["loadgen_args"] = args
        bound = 120 + 3 * (opts.duration + opts.warmup + 20)
        # What the fleet holds on Redis while the members are connected: sampled during
        # the run (the most seen), and once more after it.
        peak = {}
        stop_watch = threading.Event()

        def watch():
            while not stop_watch.wait(0.5):
                f = redis_facts(rport)
                for k in ("patterns", "pubsub_channels", "pubsub_patterns"):
                    if f.get(k) is not None and f[k] >= peak.get(k, -1):
                        peak[k] = f[k]
                        if k == "pubsub_channels":
                            peak["channels"] = f.get("channels", [])

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            r, err, text = run_loadgen(args, bound)
        finally:
            stop_watch.set()
            watcher.join(timeout=5)
        rec["redis"] = redis_facts(rport)
        rec["redis_during"] = peak
        rec["error"] = err
        rec["result"] = r
        if err:
            print("   FAILED " + err + "\n   " +
                  "\n   ".join(text.strip().splitlines()[-8:]), flush=True)
        else:
            print("   " + "\n   ".join(ln for ln in text.strip().splitlines()
                                       if not ln.startswith(("RESULT", "loadgen:"))), flush=True)
    except (RuntimeError, OSError) as e:
        rec["error"] = str(e)
        print(f"   FAILED {e}", flush=True)
    finally:
        stops = [suite.stop(p) for p in reversed(procs)]
        rec["stops"] = stops
    return rec


def sat(rec):
    try:
        return rec["result"]["saturation"]["messages_per_sec"]
    except (KeyError, TypeError):
        return None


# ---------------------------------------------------------------- run


def run(opts):
    started = datetime.datetime.now(datetime.timezone.utc)
    peers = opts.peers.split(",") if opts.peers else list(DEFAULT_PEERS)
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        sys.exit(f"unknown peers {unknown}; known: {', '.join(PEERS)}")
    doc = {
        "kind": "redis",
        "command": "bench/redis/run.sh " + " ".join(sys.argv[1:]),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "machine": machine(),
        "versions": versions(),
        "rounds": opts.rounds,
        "clients": opts.clients,
        "publishers": opts.publishers,
        "size": opts.size,
        "duration": opts.duration,
        "warmup": opts.warmup,
        "light_rate": opts.light_rate,
        "peers": {p: PEERS[p][0] for p in peers},
        "peer_order": peers,
        "steps": [],
    }
    logdir = tempfile.mkdtemp(prefix="redis-bench-")
    print(f"logs in {logdir}; 1-minute load {load1():.2f}", flush=True)
    # The floor: a plain redis-py PUBLISH -> SUBSCRIBE hop on the same core, no server.
    doc["hop_floor"] = []
    for rate, count in ((opts.light_rate or 10.0, 50), (1000.0, 2000)):
        line = sh([VENV_PY, os.path.join(HERE, "hop_floor.py"), "--rate", f"{rate:g}",
                   "--count", str(count)], timeout=60)
        print("   " + (line or "hop_floor.py: no output"), flush=True)
        doc["hop_floor"].append(line)
    half_ferro = None
    for rnd in range(opts.rounds):
        # ferrosocket first (its saturation sets the shared rate), the others alternate.
        others = [p for p in peers if p != FERRO]
        if rnd % 2:
            others.reverse()
        order = ([FERRO] if FERRO in peers else []) + others
        for name in order:
            print(f"== round {rnd + 1}/{opts.rounds}: {name}", flush=True)
            rec = run_step(name, opts, logdir, f"r{rnd}-{name}", half_ferro)
            rec["round"] = rnd
            if name == FERRO and sat(rec):
                half_ferro = 0.5 * sat(rec)
            rec["half_ferrosocket_rate"] = half_ferro
            doc["steps"].append(rec)
            if opts.split_light and opts.light_rate > 0:
                print(f"== round {rnd + 1}/{opts.rounds}: {name}, B on CPU 1, light rate only",
                      flush=True)
                rec = run_step(name, opts, logdir, f"r{rnd}-{name}-split", None, split=True)
                rec["round"] = rnd
                doc["steps"].append(rec)
    doc["logdir"] = logdir
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(RUNS, "a") as f:
        f.write(json.dumps(doc, sort_keys=True) + "\n")
    print(f"appended to {RUNS}")


# ---------------------------------------------------------------- report


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def lg(util):
    """loadgen's CPU, flagged where it comes near its core (then it may be the limit)."""
    return fmt(util, 2) + (" (near its core)" if util is not None and util >= LOADGEN_NEAR else "")


def ms(us):
    return "—" if us is None else f"{us / 1000:.2f} ms"


def dig(obj, *path):
    for k in path:
        if isinstance(obj, dict):
            obj = obj.get(k)
        elif isinstance(obj, list) and isinstance(k, int) and -len(obj) <= k < len(obj):
            obj = obj[k]
        else:
            return None
    return obj


def rate_entry(rec, which):
    """The fixed-rate phase of a step: 'half-ferro', 'light' or 'half-own' (loadgen runs
    them lowest rate first: told apart by their fields, not their order)."""
    rates = dig(rec, "result", "rates") or []
    asked = {"half-ferro": rec.get("half_ferro_asked"), "light": rec.get("light_asked")}
    for r in rates:
        own = r.get("fraction_of_saturation") is not None
        if which == "half-own" and own:
            return r
        if not own and asked.get(which) is not None and r.get("rate") is not None \
                and abs(r["rate"] - asked[which]) < 1e-3:
            return r
    if which == "half-ferro" and rec.get("peer") == FERRO:
        return rate_entry(rec, "half-own")
    return None


def pick(steps, key):
    """The step whose `key` is the median of the steps that have one (so that a row's
    columns come from one run); (step or None, runs, failures)."""
    ok = [s for s in steps if not s.get("error") and key(s) is not None]
    bad = [s.get("error") for s in steps if s.get("error")]
    if not ok:
        partial = [s for s in steps if key(s) is not None]
        return (partial[-1] if partial else None), len(steps), bad
    ok.sort(key=key)
    return ok[(len(ok) - 1) // 2], len(steps), bad


def md(doc):
    peers = doc.get("peer_order") or list(doc["peers"])
    by_peer = {p: [s for s in doc["steps"] if s["peer"] == p
                   and s.get("placement", "shared") == "shared"] for p in peers}
    split_by_peer = {p: [s for s in doc["steps"] if s["peer"] == p
                         and s.get("placement") == "split"] for p in peers}
    # Cores used by anything but the fleet and loadgen during the measured windows.
    others = []
    for st in doc["steps"]:
        satj = dig(st, "result", "saturation") or {}
        if satj.get("other_cpu_secs") is not None and satj.get("secs"):
            others.append(satj["other_cpu_secs"] / satj["secs"])
        for r in dig(st, "result", "rates") or []:
            if r.get("other_cpu_secs") is not None and r.get("duration"):
                others.append(r["other_cpu_secs"] / r["duration"])
    other = med(others)
    busy = [s["load1_before"] for s in doc["steps"] if s.get("load1_before", 0) >= BUSY_LOAD]
    out = [f"Command: `{doc['command']}` — {doc['date']}, commit `{doc['commit']}`, "
           f"{doc['machine']}; {doc['rounds']} round(s), {doc['clients']:,} clients "
           f"({doc['clients'] // 2:,} on A, {doc['clients'] - doc['clients'] // 2:,} on B), "
           f"{doc['publishers']} publishers on A, payload {doc['size']} B.", ""]
    v = doc.get("versions", {})
    out += ["Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val), ""]
    if other is not None and other >= BUSY_OTHER:
        out += [f"**Provisional**: other processes used {other:.2f} cores (median over the "
                f"{len(others)} measured windows; max {max(others):.2f}) of this machine's "
                f"{os.cpu_count()} while it ran; the fleets run under `nice` and wait for them, "
                "which shows most in the latencies. (1-minute load before the steps: "
                f"{min(s['load1_before'] for s in doc['steps']):.1f}–"
                f"{max(s['load1_before'] for s in doc['steps']):.1f}, of which up to ~4 is the "
                "bench's own processes: three share CPU 0 at saturation, plus loadgen.)", ""]
    elif busy:
        out += [f"{len(busy)} step(s) started with the 1-minute load at {BUSY_LOAD} or more "
                f"(max {max(busy):.1f}; the bench's own processes account for up to ~4); other "
                f"processes used {fmt(other, 2)} cores during the measured windows.", ""]
    if doc.get("hop_floor"):
        out += ["For scale, one Redis pub/sub hop without any Socket.IO server, measured at "
                "the start of the run (`bench/redis/hop_floor.py`: two redis-py processes and "
                "redis-server on CPU 0; redis-py's own parsing included): "
                + "; ".join(x for x in doc["hop_floor"] if x) + ".", ""]
    out += ["The peers:", ""]
    out += [f"- `{p}`: {doc['peers'][p]}" for p in peers] + [""]

    # Saturation.
    out += ["## Deliveries per second at saturation", "",
            "All members of the room, both servers, from the first emit to the last delivery. "
            "CPU in cores over the same window: the fleet (A + B + redis-server) shares CPU 0, "
            "loadgen has CPU 1 (near 1.0 would mean loadgen is the bottleneck).", "",
            "| peer | deliveries/s | on A | on B | ÷ node (per round) | messages/s | CPU A / B / redis | loadgen CPU | runs | failed |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    node_by_round = {s["round"]: dig(s, "result", "saturation", "deliveries_per_sec")
                     for s in by_peer.get(NODE, []) if not s.get("error")}
    for p in peers:
        step, runs, bad = pick(by_peer[p], lambda s: dig(s, "result", "saturation",
                                                          "deliveries_per_sec"))
        ratios = []
        for s in by_peer[p]:
            a = dig(s, "result", "saturation", "deliveries_per_sec")
            b = node_by_round.get(s["round"])
            if a and b and not s.get("error"):
                ratios.append(a / b)
        satj = dig(step, "result", "saturation") or {}
        cpu = satj.get("process_cpu_util") or {}
        out.append(
            f"| {'**' + p + '**' if p.startswith(FERRO) else p} | {fmt(satj.get('deliveries_per_sec'))} | "
            f"{fmt(dig(satj, 'per_server', 'A', 'deliveries_per_sec'))} | "
            f"{fmt(dig(satj, 'per_server', 'B', 'deliveries_per_sec'))} | "
            f"{fmt(med(ratios), 2) + '×' if ratios and p != NODE else ('1.00×' if p == NODE and ratios else '—')} | "
            f"{fmt(satj.get('messages_per_sec'))} | "
            f"{fmt(cpu.get('A'), 2)} / {fmt(cpu.get('B'), 2)} / {fmt(cpu.get('bus'), 2)} | "
            f"{lg(satj.get('loadgen_cpu_util'))} | {runs} | {'; '.join(str(b)[:80] for b in bad[:2]) or '—'} |")
    out.append("")

    # Latency tables.
    for which, title, what, steps_of in (
            ("half-ferro", "Latency at half of ferrosocket's saturation",
             "Every peer at the same fixed rate: half of ferrosocket's saturation messages/s "
             "of the same round (ferrosocket's own row is its half-saturation run). A peer "
             "that cannot keep up skips ticks (while its members are > 256 messages behind) "
             "and is marked not sustained: its latency is then queueing, not Redis.", by_peer),
            ("half-own", "Latency at half of each peer's own saturation",
             "Each peer at half of its own saturation messages/s (same run).", by_peer),
            ("light", "Latency at a light load",
             f"Every peer at {doc.get('light_rate', 10):g} messages/s "
             f"({doc.get('light_rate', 10) * doc['clients']:,.0f} deliveries/s): what the hop "
             "through Redis costs when no server is busy. A, B and Redis still share CPU 0, so "
             "B's first delivery also waits for the CPU while A writes to its members.",
             by_peer),
            ("light", "Latency at a light load, B on its own core",
             f"The same {doc.get('light_rate', 10):g} messages/s in a second step per peer and "
             "round, B under `taskset -c 1` (with loadgen, which is nearly idle at this rate), "
             "A and Redis on CPU 0: servers that do not wait for each other's CPU, as on two "
             "machines (over loopback).", split_by_peer)):
        out += [f"## {title}", "", what + " Latency: send → each member's receipt, over the "
                f"messages sent after the {doc['warmup']:g} s warm-up ({doc['duration']:g} s "
                "measured); added by Redis = B (cross-server) − A (local).", "",
                "\"First member\": each message's first delivery on each server (the hop between "
                "servers without the walk over the room's members).", "",
                "| peer | msgs/s | deliveries/s | sustained | local (A) p50 / p99 | cross-server (B) p50 / p99 | added p50 | added p99 | first member: added p50 / p99 | fleet CPU | loadgen CPU | runs |",
                "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for p in peers:
            step, runs, _bad = pick(steps_of[p], lambda s: dig(rate_entry(s, which) or {},
                                                               "added_latency", "B", "p50"))
            e = rate_entry(step, which) if step else None
            if not e:
                out.append(f"| {p} | — | — | — | — | — | — | — | — | — | — | {runs} |")
                continue
            a, b = dig(e, "latency", "A") or {}, dig(e, "latency", "B") or {}
            sus = "yes" if e.get("sustained") else (
                f"no ({e.get('skipped_ticks', 0):,} ticks skipped, "
                f"{e.get('delivered', 0):,}/{e.get('expected_deliveries', 0):,} delivered)")
            out.append(
                f"| {'**' + p + '**' if p.startswith(FERRO) else p} | {fmt(e.get('rate'), 1)} | "
                f"{fmt(e.get('deliveries_per_sec'))} | {sus} | "
                f"{ms(a.get('p50'))} / {ms(a.get('p99'))} | {ms(b.get('p50'))} / {ms(b.get('p99'))} | "
                f"**{ms(dig(e, 'added_latency', 'B', 'p50'))}** | {ms(dig(e, 'added_latency', 'B', 'p99'))} | "
                f"{ms(dig(e, 'added_latency_first', 'B', 'p50'))} / {ms(dig(e, 'added_latency_first', 'B', 'p99'))} | "
                f"{fmt(e.get('server_cpu_util'), 2)} | {lg(e.get('loadgen_cpu_util'))} | {runs} |")
        out.append("")

    # Targets.
    fr = [s for s in by_peer.get(FERRO, []) if not s.get("error")]
    ratios = []
    for s in fr:
        b = node_by_round.get(s["round"])
        a = dig(s, "result", "saturation", "deliveries_per_sec")
        if a and b:
            ratios.append(a / b)
    added = [dig(rate_entry(s, "half-own") or {}, "added_latency", "B", "p50") for s in fr]
    added = [x for x in added if x is not None]
    out += ["## Targets (issue 13)", ""]
    r = med(ratios)
    out.append(f"- ferrosocket ≥ 5× node's deliveries/s: "
               + (f"**{r:.2f}×** (per round: {', '.join(f'{x:.2f}' for x in ratios)}) — "
                  f"{'met' if r >= 5 else 'not met'}" if r else "not measured (no ferrosocket or node figure)"))
    a = med(added)
    out.append(f"- p50 added latency ≤ 1 ms at half of ferrosocket's saturation: "
               + (f"**{a / 1000:.2f} ms** (per round: {', '.join(f'{x / 1000:.2f}' for x in added)}) — "
                  f"{'met' if a <= 1000 else 'not met'}" if a is not None else "not measured"))
    first = [dig(rate_entry(s, "half-own") or {}, "added_latency_first", "B", "p50") for s in fr]
    first = [x for x in first if x is not None]
    light = [dig(rate_entry(s, "light") or {}, "added_latency_first", "B", "p50")
             for s in split_by_peer.get(FERRO, []) if not s.get("error")]
    light = [x for x in light if x is not None]
    if first or light:
        out.append(f"  (each message's first member instead of every member: "
                   f"{ms(med(first))}; at the light load with B on its own core: "
                   f"{ms(med(light))})")
    out.append("")

    # Redis.
    out += ["## What the fleets held on Redis", "",
            "Sampled every 0.5 s during each loadgen run with `PUBSUB NUMPAT`, `PUBSUB "
            "CHANNELS` and `INFO stats` (the most seen; a pattern subscription taxes every "
            "PUBLISH); commands processed: the whole step.", "",
            "| peer | patterns | channels | of which | commands processed |",
            "|---|---:|---:|---|---:|"]
    for p in peers:
        s = next((s for s in by_peer[p] if s.get("redis")), None) or {}
        rf = dict(s.get("redis") or {})
        rf.update(s.get("redis_during") or {})
        chans = rf.get("channels", [])
        ch = ", ".join(f"`{c}`" for c in chans[:3]) + (", …" if len(chans) > 3 else "") or "—"
        out.append(f"| {p} | {fmt(rf.get('patterns'))} | {fmt(rf.get('pubsub_channels'))} | {ch} | "
                   f"{fmt(rf.get('total_commands_processed'))} |")
    out.append("")
    return out


def summary_line(doc):
    by = {}
    for s in doc["steps"]:
        if s.get("placement", "shared") == "shared":
            by.setdefault(s["round"], {})[s["peer"]] = s
    ratios, added = [], []
    for steps in by.values():
        f, n = steps.get(FERRO), steps.get(NODE)
        a = dig(f, "result", "saturation", "deliveries_per_sec") if f else None
        b = dig(n, "result", "saturation", "deliveries_per_sec") if n else None
        if a and b:
            ratios.append(a / b)
        if f:
            x = dig(rate_entry(f, "half-own") or {}, "added_latency", "B", "p50")
            if x is not None:
                added.append(x)
    fails = sum(1 for s in doc["steps"] if s.get("error"))
    return (f"ferrosocket / node deliveries/s {fmt(med(ratios), 2)}×, ferrosocket added p50 "
            f"{ms(med(added))}, {fails} failed step(s)")


def report():
    docs = []
    if os.path.exists(RUNS):
        with open(RUNS) as f:
            for line in f:
                try:
                    docs.append(json.loads(line))
                except ValueError:
                    pass
    parts = ["# Redis scale-out benchmark (issue 13, part 7)", "",
             "Written by `bench/redis/run.sh` (see [README.md](README.md), \"Redis "
             "benchmark\"); every run is a line of `results/redis-runs.jsonl`, the tables are "
             "its latest run. One room spread over two server processes, A and B, on one "
             "redis-server: half of the members on each, the publishers on A, so A's members "
             "are served locally and B's through Redis. This is a 2-CPU machine shared with "
             "other engineers: absolute figures move between runs. Nothing here is a test.", ""]
    if not docs:
        parts += ["Not run yet.", ""]
    else:
        parts += md(docs[-1])
        parts += ["## Every run", ""]
        for d in docs:
            parts.append(f"- {d['date']}, `{d['commit']}`, {d['rounds']} round(s), peers "
                         f"{', '.join(d.get('peer_order') or d['peers'])}: {summary_line(d)}")
        parts.append("")
    notes = os.path.join(HERE, "NOTES.md")
    if os.path.exists(notes):
        with open(notes) as f:
            parts += [f.read().rstrip(), ""]
    with open(OUT, "w") as f:
        f.write("\n".join(parts))
    print(f"wrote {OUT}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", nargs="?", choices=["run", "report"], default="run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=1000, help="members, split over A and B")
    ap.add_argument("--publishers", type=int, default=4, help="publishers, all on A")
    ap.add_argument("--size", type=int, default=64, help="payload bytes")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds measured per rate")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--light-rate", type=float, default=10.0,
                    help="messages/s of the light-load phase, every peer (0: none)")
    ap.add_argument("--no-split-light", dest="split_light", action="store_false",
                    help="skip the second light-load step with B on CPU 1")
    ap.add_argument("--messages-scale", type=float, default=1.0,
                    help="scales each peer's saturation messages")
    ap.add_argument("--peers", help="comma-separated, default " + ",".join(DEFAULT_PEERS))
    ap.add_argument("--quick", action="store_true",
                    help="1 round, 200 clients, 2 s per rate, a quarter of the messages "
                         "(written like a full run; for trying the set-up)")
    opts = ap.parse_args()
    if opts.what == "report":
        report()
        return 0
    if opts.quick:
        opts.rounds, opts.clients, opts.duration, opts.warmup = 1, 200, 2.0, 0.5
        opts.messages_scale *= 0.25
    opts.rounds = max(1, min(opts.rounds, 10))
    opts.clients = max(2, opts.clients)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, suite.on_signal)
    if not os.path.exists(suite.LOADGEN):
        sys.exit(f"{suite.LOADGEN} missing: run bench/redis/setup.sh")
    try:
        run(opts)
    finally:
        suite.stop_all()
    report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
