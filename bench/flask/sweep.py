#!/usr/bin/env python3
"""How the HTTP servers of `run.sh http` were configured: a sweep of worker and thread
counts, Flask `GET /json`, 32 connections, every server under `taskset -c 0`.

Owns: the candidate configurations and printing their throughput (ROUNDS rounds, the order
reversed every other round, median). Never: writes RESULTS-flask.md (the configurations
picked are in run.py's http_servers(), with the reason) or asserts anything.

Usage: bench/.venv/bin/python bench/flask/sweep.py [--rounds 2] [--duration 3] [--only granian,ferrosocket]
"""
import argparse
import importlib.util
import os
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("flask_run", os.path.join(HERE, "run.py"))
fr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fr)


def candidates(port):
    g, gr = os.path.join(fr.VENV_BIN, "gunicorn"), os.path.join(fr.VENV_BIN, "granian")
    py = os.path.join(fr.VENV_BIN, "python")
    gbase = ["-b", f"{fr.HOST}:{port}", "--log-level", "warning", "http_app:app"]
    grbase = [gr, "--interface", "wsgi", "--host", fr.HOST, "--port", str(port), "--workers",
              "1", "--http", "1", "--no-ws", "--log-level", "warning"]
    out = {
        "gunicorn sync -w 1": [g, "-k", "sync", "-w", "1"] + gbase,
        "gunicorn sync -w 3": [g, "-k", "sync", "-w", "3"] + gbase,
        "gunicorn gthread -w 1 --threads 2": [g, "-k", "gthread", "-w", "1", "--threads", "2"] + gbase,
        "gunicorn gthread -w 1 --threads 8": [g, "-k", "gthread", "-w", "1", "--threads", "8"] + gbase,
        "gunicorn gthread -w 2 --threads 4": [g, "-k", "gthread", "-w", "2", "--threads", "4"] + gbase,
        "granian (default blocking threads)": grbase + ["http_app:app"],
        "granian --blocking-threads 1": grbase + ["--blocking-threads", "1", "http_app:app"],
        "granian --blocking-threads 8": grbase + ["--blocking-threads", "8", "http_app:app"],
    }
    for t in (1, 8):
        out[f"ferrosocket --handler-threads {t}"] = [
            py, fr.FLASK_PEER, "--handler-threads", str(t), "--host", fr.HOST, "--port", str(port)]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--only", help="comma-separated words: run the candidates naming any")
    opts = ap.parse_args()
    names = list(candidates(0))
    if opts.only:
        words = opts.only.split(",")
        names = [n for n in names if any(w in n for w in words)]
    got = {n: [] for n in names}
    try:
        for rnd in range(max(1, opts.rounds)):
            for n in (names if rnd % 2 == 0 else names[::-1]):
                port = fr.free_port()
                argv = ["taskset", "-c", "0"] + candidates(port)[n]
                p = fr.suite.spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL, cwd=fr.PY_DIR)
                try:
                    if not fr.wait_http(port):
                        print(f"{n}: did not start", flush=True)
                        continue
                    r, err, _ = fr.suite.run_loadgen(
                        ["http", "--connections", "32", "--duration", str(opts.duration),
                         "--warmup", "1", "--path", "/json"], port, p.pid, 30)
                    if r and r.get("ok"):
                        got[n].append(r["requests_per_sec"])
                        print(f"{n}: {r['requests_per_sec']:,.0f} req/s, "
                              f"{r['server_cpu_us_per_request']:.1f} µs CPU/req "
                              f"(load {fr.load1():.2f})", flush=True)
                    else:
                        print(f"{n}: failed: {err}", flush=True)
                finally:
                    fr.suite.stop(p)
    finally:
        fr.suite.stop_all()
    print("\nmedian req/s, Flask GET /json:")
    for n in names:
        print(f"  {n:40s} {statistics.median(got[n]):>9,.0f}" if got[n] else f"  {n:40s} —")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
