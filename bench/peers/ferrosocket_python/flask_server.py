"""The Flask-SocketIO peer written against ferrosocket.flask: the same app as
bench/peers/python/flask_server.py with only the import changed, served on one port by
ferrosocket (Socket.IO and the Flask routes of bench/peers/python/http_app.py).

Owns: the peer's handlers, Flask-SocketIO style (no `sid` argument; `request.sid`,
context-bound `emit`, `join_room`, `rooms`):
  ack    acks with its arguments (after reading request.sid, as a real handler would)
  join   joins the room, acks with the sorted room list
  emit   {"to": [rooms], "event": name, "args": [...]}: socketio.emit to the rooms
         (everyone when absent), sender included; acks True
  sleep  sleeps 1 ms (a stand-in for a database call), then acks with its arguments
  chat   {"room": r, ...}: emit("chat", msg, to=r) from the handler's context
and HTTP `GET /` and `GET /json` (http_app.app), or, with `--wsgi bare`, the bare WSGI
callable http_app.bare in the Flask app's place. Never: measures anything.

Usage: python flask_server.py [--host 127.0.0.1] [--port 0] [--handler-threads N]
       [--wsgi flask|bare]
Prints `LISTENING 127.0.0.1:<port>` once the port listens; SIGTERM / SIGINT stop it.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from flask import request  # noqa: E402

from ferrosocket.flask import SocketIO, emit, join_room, rooms  # noqa: E402
from ferrosocket.flask import _serve  # noqa: E402

import http_app  # noqa: E402


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--handler-threads", type=int, default=8,
                   help="most dispatch threads running handlers and WSGI requests")
    p.add_argument("--wsgi", choices=["flask", "bare"], default="flask",
                   help="what answers HTTP: the Flask app, or the bare WSGI callable")
    return p.parse_args()


args = parse()
app = http_app.app
socketio = SocketIO(
    app,
    cors_allowed_origins="*",
    logger=False,
    engineio_logger=False,
    handler_threads=args.handler_threads,
)


@socketio.on("ack")
def on_ack(*a):
    if not request.sid:
        raise RuntimeError("no request.sid in a handler")
    return a


@socketio.on("join")
def on_join(room):
    join_room(room)
    return sorted(rooms())


@socketio.on("emit")
def on_emit(req):
    req = req or {}
    socketio.emit(req["event"], tuple(req.get("args") or ()), to=req.get("to") or None)
    return True


@socketio.on("sleep")
def on_sleep(*a):
    time.sleep(0.001)
    return a


@socketio.on("chat")
def on_chat(msg):
    emit("chat", msg, to=msg["room"])


def main():
    wsgi = http_app.bare if args.wsgi == "bare" else app
    _serve.serve(
        socketio, wsgi, args.host, args.port,
        on_started=lambda port: print(f"LISTENING {args.host}:{port}", flush=True),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
