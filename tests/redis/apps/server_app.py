"""One member of a python-socketio fleet, without Flask: `Server(client_manager=
RedisManager(url, channel=...))` written against python-socketio's API, which
`ferrosocket.Server` and `ferrosocket.RedisManager` share.

    python tests/redis/apps/server_app.py IMPL URL [--channel socketio] [--name NAME] [--cluster]

IMPL is `python_socketio` (socketio.Server in threading mode under Werkzeug, with
simple-websocket) or `ferrosocket`. `--cluster` (ferrosocket only) is the sharded mode on
a Redis Cluster. Prints `LISTENING 127.0.0.1:<port>`; SIGTERM stops it (exit 0). The
handlers below are the same code for both; only the two constructors differ."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, Dict, List


def build(impl: str, url: str, channel: str, cluster: bool) -> Any:
    if impl == "python_socketio":
        if cluster:
            raise SystemExit("python-socketio has no Redis Cluster mode")
        import socketio
        return socketio.Server(client_manager=socketio.RedisManager(url, channel=channel),
                               async_mode="threading")
    import ferrosocket
    manager = ferrosocket.RedisManager(url, channel=channel, cluster=cluster)
    return ferrosocket.Server(client_manager=manager)


def handlers(sio: Any, name: str) -> None:
    lock = threading.Lock()
    answers: List[List[Any]] = []

    def stamped(data: Any) -> Dict[str, Any]:
        return {"from": name, "data": data}

    @sio.event
    def broadcast(sid: str, data: Any) -> bool:
        sio.emit("news", stamped(data))
        return True

    @sio.event
    def broadcast_others(sid: str, data: Any) -> bool:
        sio.emit("news", stamped(data), skip_sid=sid)
        return True

    @sio.event
    def to_room(sid: str, message: Dict[str, Any]) -> bool:
        sio.emit("news", stamped(message["data"]), to=message["room"])
        return True

    # To one sid or room, not to everyone: python-engineio 4.13.1 caches a broadcast
    # packet's first encoding, so a binary broadcast reaching websocket and polling
    # clients of one python-socketio server sends one of them the other's encoding (a
    # 500 on the polling GET); the suite's control clients poll beside websocket peers.
    @sio.event
    def binary(sid: str, message: Dict[str, Any]) -> bool:
        sio.emit("blob", {"from": name, "data": message["data"]}, to=message["to"])
        return True

    @sio.event
    def join(sid: str, room: str) -> bool:
        sio.enter_room(sid, room)
        return True

    @sio.event
    def leave(sid: str, room: str) -> bool:
        sio.leave_room(sid, room)
        return True

    # What a task does for sockets that may be on another server.
    @sio.event
    def server_emit(sid: str, body: Dict[str, Any]) -> bool:
        sio.emit(body["event"], body.get("data"), to=body.get("to"),
                 skip_sid=body.get("skip_sid"))
        return True

    @sio.event
    def join_sid(sid: str, body: Dict[str, Any]) -> bool:
        sio.enter_room(body["sid"], body["room"])
        return True

    @sio.event
    def close(sid: str, room: str) -> bool:
        sio.close_room(room)
        return True

    @sio.event
    def disconnect_sid(sid: str, target: str) -> bool:
        sio.disconnect(target)
        return True

    @sio.event
    def ask(sid: str, message: Dict[str, Any]) -> bool:
        tag = message["tag"]

        def record(*args: Any) -> None:
            with lock:
                answers.append([tag, list(args)])

        sio.emit("question", message["q"], to=message["sid"], callback=record)
        return True

    @sio.event
    def get_answers(sid: str, data: Any = None) -> List[List[Any]]:
        with lock:
            return list(answers)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("impl", choices=("python_socketio", "ferrosocket"))
    parser.add_argument("url")
    parser.add_argument("--channel", default="socketio")
    parser.add_argument("--name", default="server")
    parser.add_argument("--cluster", action="store_true")
    options = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sio = build(options.impl, options.url, options.channel, options.cluster)
    handlers(sio, options.name)
    if options.impl == "python_socketio":
        import socketio
        from werkzeug.serving import make_server
        http = make_server("127.0.0.1", 0, socketio.WSGIApp(sio), threaded=True)
        port = http.server_port
        serving = threading.Thread(target=http.serve_forever, daemon=True)
        serving.start()
        print(f"LISTENING 127.0.0.1:{port}", flush=True)
        stop.wait()
        http.shutdown()
        serving.join(timeout=5)
    else:
        port = sio.start("127.0.0.1", 0)
        print(f"LISTENING 127.0.0.1:{port}", flush=True)
        stop.wait()
        sio.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
