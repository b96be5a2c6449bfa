"""What a Flask-mode handler's contexts cost per event, in process (no network).

Compares, on one Flask app and one connection environ:
  per-event   a new request context built for every event and pushed (what
              Flask-SocketIO 5.x does in SocketIO._handle_event), with its managed session;
  per-socket  ferrosocket.flask: one request context per connection, pushed and popped
              around each event (ferrosocket/flask/_context.py run_in_context);
  bare        the handler alone.
The handler reads request.sid and sets g (what a real handler touches). Each variant
runs ROUNDS times ITERATIONS events, alternating, and the median per-event time is
printed. Usage: python bench/flask/context_cost.py [--iterations 20000] [--rounds 5]
"""
import argparse
import statistics
import time

import flask
from flask import Flask, g, request
from werkzeug.test import EnvironBuilder

from ferrosocket.flask._context import Connection, ManagedSession, run_in_context


def build():
    app = Flask(__name__)
    app.secret_key = "bench"

    @app.route("/")
    def index():
        return "ok"

    environ = EnvironBuilder(
        path="/socket.io/", query_string="EIO=4&transport=websocket",
        headers={"Host": "127.0.0.1:5000", "Cookie": "a=b", "User-Agent": "bench"},
    ).get_environ()
    return app, environ


def handler():
    g.seen = request.sid
    return request.sid


def per_event(app, environ, n):
    saved = {}
    start = time.perf_counter()
    for _ in range(n):
        with app.request_context(environ):
            if "saved_session" not in saved:
                saved["saved_session"] = ManagedSession(flask.session)
            ctx = flask.globals.request_ctx._get_current_object()
            ctx._session = saved["saved_session"]
            request.sid = "sid"
            request.namespace = "/"
            request.event = {"message": "ack", "args": ()}
            handler()
    return (time.perf_counter() - start) / n


def per_socket(app, environ, n):
    connection = Connection("sid", "/", dict(environ), app)
    start = time.perf_counter()
    for _ in range(n):
        run_in_context(connection, True, "ack", (), handler)
    return (time.perf_counter() - start) / n


def bare(app, environ, n):
    with app.request_context(environ):
        request.sid = "sid"
        start = time.perf_counter()
        for _ in range(n):
            handler()
        return (time.perf_counter() - start) / n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    app, environ = build()
    results = {"per-event": [], "per-socket": [], "bare": []}
    for _ in range(args.rounds):
        results["per-event"].append(per_event(app, environ, args.iterations))
        results["per-socket"].append(per_socket(app, environ, args.iterations))
        results["bare"].append(bare(app, environ, args.iterations))
    for name, samples in results.items():
        print(f"{name:11s} {statistics.median(samples) * 1e6:7.2f} µs/event "
              f"(rounds: {', '.join(f'{s * 1e6:.2f}' for s in samples)})")


if __name__ == "__main__":
    main()
