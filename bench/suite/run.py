#!/usr/bin/env python3
"""Peer-server suite: the same loadgen scenarios against ferrosocket's test-server and the
Socket.IO servers users could pick instead, on this machine, in one run.

For every scenario and every server: start the server (taskset -c 0 when available), wait
for its `LISTENING 127.0.0.1:<port>` line, run `loadgen --pin --external ... --external-pid`
(loadgen pins itself to CPU 1), keep its `RESULT` JSON line, stop the server (SIGTERM, then
SIGKILL of its process group). Every step is bounded in time and every process this script
started is stopped on the way out, whatever happens.

Writes bench/RESULTS.md (a table per scenario), bench/results/suite-<scenario>.png (charts,
when matplotlib is importable) and bench/results/suite.jsonl (raw RESULT lines, tagged).

Usage (from anywhere; run bench/suite/setup.sh first):
    bench/.venv/bin/python bench/suite/run.py [--quick] [--peers a,b] [--scenarios x,y]
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

# name -> (description, argv without --host/--port, cwd)
PEERS = {
    FERRO: ("ferrosocket test-server (this repo)",
            [os.path.join(ROOT, "target", "release", "test-server")]),
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


def scenarios(quick):
    """(key, title, loadgen args, metric, unit, higher_is_better, loadgen time bound)."""
    if quick:
        echo_d, warm, big_echo = "2", "0.5", 200
        fan_n, fan_m, lat_m = 200, 200, 20
        idle_n, hold = 1000, "1"
    else:
        echo_d, warm, big_echo = "5", "1", 1000
        fan_n, fan_m, lat_m = 1000, 500, 100
        idle_n, hold = 5000, "10"
    out = []
    for n in (1, 100, big_echo):
        out.append((f"echo-{n}", f"echo, {n} client{'s' if n > 1 else ''}, {echo_d} s closed loop",
                    ["echo", "--clients", str(n), "--duration", echo_d, "--warmup", warm],
                    "events_per_sec", "acks/s", True, 90))
    for p in (1, 16):
        out.append((f"fanout-{fan_n}x{p}",
                    f"fanout to a room of {fan_n}, {p} publisher{'s' if p > 1 else ''}, {fan_m} messages",
                    ["fanout", "--clients", str(fan_n), "--messages", str(fan_m),
                     "--publishers", str(p), "--latency-messages", str(lat_m), "--timeout", "60"],
                    "deliveries_per_sec", "deliveries/s", True, 200))
    out.append((f"idle-{idle_n}", f"idle, {idle_n} connections held {hold} s",
                ["idle", "--clients", str(idle_n), "--hold", hold],
                "rss_per_conn", "bytes/conn", False, 150))
    return out


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
    return p, port[0], log


def run_loadgen(args, port, pid, bound):
    """Runs loadgen; returns (result dict or None, error string or None, tail of output)."""
    argv = [LOADGEN, "--pin", "--external", f"{HOST}:{port}", "--external-pid", str(pid),
            "--max-time", str(bound)] + args
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
    for e in dict.fromkeys(str(e)[:100] for e in r.get("errors") or []):
        bits.append(e)
    return "; ".join(bits) or "loadgen reported not ok"


# ---------------------------------------------------------------- report

def fmt_num(v, unit):
    if v is None:
        return "—"
    if unit == "bytes/conn":
        return f"{v:,.0f} B ({v / 1024:.1f} KiB)"
    return f"{v:,.0f}"


def fmt_us(v):
    if v is None:
        return "—"
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs"


def extra_cols(kind, r):
    if kind == "echo":
        return [fmt_us(r.get("latency_p50_us")), fmt_us(r.get("latency_p99_us")),
                f"{r.get('server_cpu_util', 0):.2f}", f"{r.get('other_cpu_secs', 0):.1f}"]
    if kind == "fanout":
        lat = r.get("latency_last") or {}
        return [fmt_us(lat.get("p50")), fmt_us(lat.get("p99")),
                f"{r.get('server_cpu_util', 0):.2f}", f"{r.get('other_cpu_secs', 0):.1f}"]
    return [f"{r.get('connected', 0)}/{r.get('clients', 0)}", f"{r.get('connect_rate', 0):,.0f}/s",
            f"{(r.get('server_rss_connected') or 0) / 2**20:.1f} MiB",
            f"{r.get('server_threads', '—')}"]


EXTRA_HEAD = {
    "echo": ["p50", "p99", "server CPU util", "other CPU s"],
    "fanout": ["latency to last member p50", "p99", "server CPU util", "other CPU s"],
    "idle": ["connected", "connect rate", "server RSS connected", "server threads"],
}


def best_peer(rows, metric, higher):
    vals = [(r[metric], n) for n, (r, err) in rows.items()
            if n != FERRO and r is not None and err is None and r.get(metric) is not None]
    if not vals:
        return None
    return max(vals) if higher else min(vals)


def chart(path, title, unit, rows, metric, higher):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names, vals, colors, notes = [], [], [], []
    for n, (r, err) in rows.items():
        names.append(n)
        ok = r is not None and err is None and r.get(metric) is not None
        vals.append(r[metric] if ok else 0)
        colors.append("#d9534f" if n == FERRO else "#5b8fd1")
        notes.append("" if ok else "failed")
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(names) + 1.4))
    y = range(len(names))
    ax.barh(list(y), vals, color=colors)
    ax.set_yticks(list(y))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    top = max(vals) if vals and max(vals) > 0 else 1
    for i, (v, note) in enumerate(zip(vals, notes)):
        label = note or (f"{v / 1024:.1f} KiB" if unit == "bytes/conn" else f"{v:,.0f}")
        ax.text(v + top * 0.01, i, label, va="center", fontsize=8)
    ax.set_xlim(0, top * 1.25)
    ax.set_xlabel(f"{unit} ({'higher' if higher else 'lower'} is better)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


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
                "'gevent-websocket','simple-websocket']]")
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


def write_report(path, results, scen, opts, started, finished, charts):
    lines = []
    w = lines.append
    w("# Peer-server suite: ferrosocket against the alternatives")
    w("")
    w("Generated by `bench/suite/run.py" + (" --quick" if opts.quick else "") + "` "
      "(set-up: `bench/suite/setup.sh`). Every server ran on CPU 0 (`taskset -c 0`), "
      "`loadgen --pin --external` on CPU 1, both on 127.0.0.1; a fresh server process for "
      "every scenario. Compression off everywhere, WebSocket transport directly "
      "(no polling upgrade). See [suite/README.md](suite/README.md) for what each peer is.")
    w("")
    w(f"- **Run:** {started:%Y-%m-%d %H:%M} → {finished:%H:%M} UTC"
      f"{' (quick mode: smaller sizes)' if opts.quick else ''}.")
    w(f"- **Machine:** {platform.machine()}, nproc {os.cpu_count()}, kernel {platform.release()}; "
      "shared with other work: the `other CPU s` column is CPU time used by anything else "
      "during the measurement (large values mean a disturbed figure).")
    vs = versions()
    w("- **Versions:** " + ", ".join(f"{k} {v}" for k, v in vs.items()) + ".")
    w("- **Ratio** columns: ferrosocket's figure divided by the best peer's (throughput: "
      "> 1 means ferrosocket is faster; memory per connection: < 1 means ferrosocket uses "
      "less). Raw `RESULT` lines: [results/suite.jsonl](results/suite.jsonl).")
    w("")
    # Summary table
    w("## Summary")
    w("")
    w("| scenario | " + " | ".join(PEERS_IN_RUN) + " | best peer | ferrosocket ÷ best peer |")
    w("|---|" + "---:|" * len(PEERS_IN_RUN) + "---|---:|")
    for key, title, _a, metric, unit, higher, _b in scen:
        rows = results.get(key, {})
        cells = []
        for n in PEERS_IN_RUN:
            r, err = rows.get(n, (None, "not run"))
            if err:
                cells.append("failed")
            else:
                v = r.get(metric)
                cells.append(f"{v / 1024:.1f} KiB" if unit == "bytes/conn" else f"{v:,.0f}")
        bp = best_peer(rows, metric, higher)
        fr, ferr = rows.get(FERRO, (None, "not run"))
        ratio = f"{fr[metric] / bp[0]:.2f}" if bp and not ferr and bp[0] else "—"
        w(f"| {key} ({unit}) | " + " | ".join(cells) + f" | {bp[1] if bp else '—'} | {ratio} |")
    w("")
    for key, title, largs, metric, unit, higher, _b in scen:
        rows = results.get(key, {})
        kind = largs[0]
        w(f"## {key}: {title}")
        w("")
        w(f"`loadgen --pin --external … {' '.join(largs)}`. Figure: `{metric}` ({unit}, "
          f"{'higher' if higher else 'lower'} is better).")
        w("")
        if key in charts:
            w(f"![{key}](results/{charts[key]})")
            w("")
        bp = best_peer(rows, metric, higher)
        w(f"| server | {unit} | vs best peer | " + " | ".join(EXTRA_HEAD[kind]) + " |")
        w("|---|---:|---:|" + "---:|" * len(EXTRA_HEAD[kind]))
        for n in PEERS_IN_RUN:
            r, err = rows.get(n, (None, "not run"))
            label = f"**{n}**" if n == FERRO else n
            if err:
                w(f"| {label} | failed: {err} | | " + " | ".join([""] * len(EXTRA_HEAD[kind])) + " |")
                continue
            v = r.get(metric)
            rel = f"{v / bp[0]:.2f}×" if bp and bp[0] and v is not None else "—"
            w(f"| {label} | {fmt_num(v, unit)} | {rel} | " + " | ".join(extra_cols(kind, r)) + " |")
        w("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


PEERS_IN_RUN = []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (whole run < 5 min)")
    ap.add_argument("--peers", help="comma-separated subset of: " + ",".join(PEERS))
    ap.add_argument("--scenarios", help="comma-separated subset of scenario keys (or prefixes)")
    ap.add_argument("--out", default=os.path.join(BENCH, "RESULTS.md"))
    ap.add_argument("--results-dir", default=os.path.join(BENCH, "results"))
    ap.add_argument("--max-total", type=float, default=3600,
                    help="give up on remaining steps after this many seconds")
    opts = ap.parse_args()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # inherited by the servers (loadgen raises its own)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    names = opts.peers.split(",") if opts.peers else list(PEERS)
    for n in names:
        if n not in PEERS:
            ap.error(f"unknown peer {n}")
    if FERRO in names:  # ferrosocket first
        names.remove(FERRO)
        names.insert(0, FERRO)
    PEERS_IN_RUN[:] = names
    scen = scenarios(opts.quick)
    if opts.scenarios:
        want = opts.scenarios.split(",")
        scen = [s for s in scen if any(s[0] == w or s[0].startswith(w) for w in want)]
    if not os.path.exists(LOADGEN):
        sys.exit(f"{LOADGEN} missing: run bench/suite/setup.sh")
    os.makedirs(opts.results_dir, exist_ok=True)
    logdir = tempfile.mkdtemp(prefix="peer-suite-")
    print(f"server logs in {logdir}", flush=True)

    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    results = {}
    raw = []
    try:
        for key, title, largs, metric, unit, higher, bound in scen:
            for n in names:
                if time.monotonic() - t0 > opts.max_total:
                    results.setdefault(key, {})[n] = (None, "skipped: --max-total reached")
                    continue
                t1 = time.monotonic()
                print(f"== {key} / {n}", flush=True)
                r, err = None, None
                try:
                    p, port, log = start_server(n, logdir)
                except (RuntimeError, OSError) as e:
                    results.setdefault(key, {})[n] = (None, f"server did not start: {e}")
                    print(f"   FAILED {e}", flush=True)
                    continue
                try:
                    r, err, tail = run_loadgen(largs, port, p.pid, bound)
                finally:
                    how = stop(p)
                if r is not None:
                    r["peer"] = n
                    r["suite_scenario"] = key
                    r["server_stop"] = how
                    raw.append(r)
                    if err is None and not r.get("ok", False):
                        err = failure_reason(r)
                    if err is None and r.get(metric) is None:
                        err = f"no {metric} in result"
                if err:
                    print(f"   FAILED {err}\n   " + tail.replace("\n", "\n   "), flush=True)
                else:
                    print(f"   {metric} {r[metric]:,.1f}  (server stop: {how}, "
                          f"{time.monotonic() - t1:.0f} s)", flush=True)
                results.setdefault(key, {})[n] = (r, err)
    finally:
        stop_all()
        finished = datetime.datetime.now(datetime.timezone.utc)
        with open(os.path.join(opts.results_dir, "suite.jsonl"), "w") as f:
            for r in raw:
                f.write(json.dumps(r, sort_keys=True) + "\n")
        charts = {}
        for key, title, _a, metric, unit, higher, _b in scen:
            if key in results:
                fname = f"suite-{key}.png"
                if chart(os.path.join(opts.results_dir, fname), f"{key}: {title}", unit,
                         results[key], metric, higher):
                    charts[key] = fname
        write_report(opts.out, results, scen, opts, started, finished, charts)
        print(f"wrote {opts.out} ({time.monotonic() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
