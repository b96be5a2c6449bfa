"""Flask-SocketIO peer for ferrosocket's loadgen, async_mode eventlet, gevent or threading.

Events `ack`, `join`, `emit` on `/` (see tests/test-server/SPEC.md), `sleep` (sleeps
1 ms, cooperatively under eventlet/gevent, then acks with its arguments) and `chat`
(`{"room": r, ...}`: emits `chat` with the same object to room r).
Usage: python flask_server.py --mode eventlet|gevent|threading [--host 127.0.0.1] [--port 0]
                              [--message-queue redis://127.0.0.1:PORT/0 [--channel NAME]]
With --message-queue the server joins a fleet on that Redis (Flask-SocketIO's
`SocketIO(app, message_queue=url, channel=...)`, python-socketio's RedisManager; the channel
defaults to Flask-SocketIO's `flask-socketio`): bench/redis/.
Prints `LISTENING 127.0.0.1:<port>` once the socket listens. Each mode uses the server
Flask-SocketIO's own `socketio.run()` would use (eventlet.wsgi, gevent pywsgi with
gevent-websocket's handler, Werkzeug's threaded server with simple-websocket), started
here directly so that port 0 can be reported.
"""
import argparse
import os
import signal
import socket
import sys
import time


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", required=True, choices=["eventlet", "gevent", "threading"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--message-queue", default=None)
    p.add_argument("--channel", default="flask-socketio")
    return p.parse_args()


args = parse()
if args.mode == "eventlet":
    import eventlet

    eventlet.monkey_patch()
elif args.mode == "gevent":
    from gevent import monkey

    monkey.patch_all()

from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, join_room, rooms  # noqa: E402

app = Flask(__name__)
queue = {"message_queue": args.message_queue, "channel": args.channel} if args.message_queue else {}
socketio = SocketIO(
    app,
    **queue,
    async_mode=args.mode,
    cors_allowed_origins="*",
    http_compression=False,
    compression_threshold=1 << 30,
    transports=["websocket", "polling"],
    logger=False,
    engineio_logger=False,
)


@socketio.on("ack")
def on_ack(*a):
    return a


@socketio.on("join")
def on_join(room):
    join_room(room)
    return sorted(rooms())


@socketio.on("emit")
def on_emit(req):
    req = req or {}
    a = tuple(req.get("args") or ())
    to = req.get("to") or None
    socketio.emit(req["event"], a, to=to)
    return True


@socketio.on("sleep")
def on_sleep(*a):
    time.sleep(0.001)  # monkey-patched (cooperative) under eventlet and gevent
    return a


@socketio.on("chat")
def on_chat(msg):
    socketio.emit("chat", msg, to=msg["room"])


def listen_socket(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted sockets on Linux.
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((host, port))
    s.listen(4096)
    return s


def main():
    # The servers' own worker threads/greenlets would keep sys.exit() waiting.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.mode == "eventlet":
        import eventlet.wsgi

        sock = eventlet.listen((args.host, args.port), backlog=4096)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        host, port = sock.getsockname()
        print(f"LISTENING {host}:{port}", flush=True)
        eventlet.wsgi.server(sock, app, log_output=False, max_size=100000)
    elif args.mode == "gevent":
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler

        sock = listen_socket(args.host, args.port)
        host, port = sock.getsockname()
        server = pywsgi.WSGIServer(sock, app, handler_class=WebSocketHandler, log=None)
        print(f"LISTENING {host}:{port}", flush=True)
        server.serve_forever()
    else:
        from werkzeug.serving import make_server

        server = make_server(args.host, args.port, app, threaded=True)
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        print(f"LISTENING {args.host}:{server.server_port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
