#!/usr/bin/env python3
"""What the HTTP benchmarks' app costs by itself, in process (no server, no network).

Owns: calling bench/peers/python/http_app.py's `app` (Flask) and `bare` (plain WSGI) on a
Werkzeug-built environ for `/` and `/json`, N times each, ROUNDS rounds, and printing the
median µs per request: the part of `run.sh http`'s per-request CPU that no server can
remove. Never: starts a server or asserts a timing.

Usage: bench/.venv/bin/python bench/flask/app_cost.py [--iterations 20000] [--rounds 3]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers", "python"))

from werkzeug.test import EnvironBuilder  # noqa: E402

import http_app  # noqa: E402


def start_response(status, headers, exc_info=None):
    return None


def once(app, environ, n):
    t = time.perf_counter()
    for _ in range(n):
        result = app(dict(environ), start_response)
        for _chunk in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return (time.perf_counter() - t) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    opts = ap.parse_args()
    for path in ("/", "/json"):
        environ = EnvironBuilder(path=path, headers={"Host": "127.0.0.1:5000",
                                                     "User-Agent": "bench"}).get_environ()
        for name, app in (("Flask", http_app.app), ("bare", http_app.bare)):
            samples = [once(app, environ, opts.iterations) for _ in range(max(1, opts.rounds))]
            print(f"{name:5s} {path:5s} {statistics.median(samples) * 1e6:7.1f} µs/request "
                  f"(rounds: {', '.join(f'{s * 1e6:.1f}' for s in samples)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
