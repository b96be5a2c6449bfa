"""tests/test-server/SPEC.md on the Python binding, so the JS and Python end-to-end suites
(tests/js, tests/python: the official socket.io-client, ws, python-socketio, raw
Engine.IO) drive ``ferrosocket.Server`` exactly as they drive the Rust test server.

    python tests/pybinding/spec_server.py [--host H] [--port P] [--ping-interval MS]
        [--ping-timeout MS] [--connect-timeout MS] [--max-payload BYTES] [--cors ORIGIN]...
        [--max-connections N] [--queue N] [--queue-bytes BYTES] [--queue-age MS]
        [--header-timeout MS] [--body-timeout MS] [--allowed-host HOST]...

Prints ``LISTENING 127.0.0.1:<port>``; SIGTERM / SIGINT stop it (exit 0).

One approximation: ``server_ack`` uses ``call``, which (like python-socketio's) returns
None for no argument and the value for one, so a client answering ``null`` reads here
as no argument; the suites do not depend on it.
"""

from __future__ import annotations

import argparse
import collections
import logging
import signal
import sys
import threading
from typing import Any, Deque, Dict, List, Optional

import ferrosocket

NAMESPACES = ("/", "/admin", "/auth")
# The binding's (python-socketio's) reason names -> SPEC.md's `disconnect_log` names.
SPEC_REASONS = {
    ferrosocket.Server.reason.CLIENT_DISCONNECT: "client namespace disconnect",
    ferrosocket.Server.reason.SERVER_DISCONNECT: "server namespace disconnect",
}


def ms(value: str) -> float:
    return int(value) / 1000.0


def parse(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="SPEC.md test server on the Python binding")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ping-interval", type=ms, default=25.0)
    p.add_argument("--ping-timeout", type=ms, default=20.0)
    p.add_argument("--connect-timeout", type=ms, default=45.0)
    p.add_argument("--max-payload", type=int, default=1_000_000)
    p.add_argument("--cors", action="append", default=[])
    p.add_argument("--max-connections", type=int, default=None)
    p.add_argument("--queue", type=int, default=1024)
    p.add_argument("--queue-bytes", type=int, default=4 * 1024 * 1024)
    p.add_argument("--queue-age", type=ms, default=20.0)
    p.add_argument("--header-timeout", type=ms, default=30.0)
    p.add_argument("--body-timeout", type=ms, default=20.0)
    p.add_argument("--allowed-host", action="append", default=None)
    p.add_argument("--metrics-port", type=int, default=None)
    return p.parse_args(argv)


def answer(value: Any) -> List[Any]:
    """``call``'s result back to a list of ack arguments."""
    if value is None:
        return []
    if isinstance(value, tuple):
        return list(value)
    return [value]


def create(options: argparse.Namespace) -> ferrosocket.Server:
    cors: Any = None
    if "*" in options.cors:
        cors = "*"
    elif options.cors:
        cors = list(options.cors)
    sio = ferrosocket.Server(
        cors_allowed_origins=cors,
        ping_interval=options.ping_interval,
        ping_timeout=options.ping_timeout,
        connect_timeout=options.connect_timeout,
        max_http_buffer_size=options.max_payload,
        max_connections=options.max_connections,
        max_queued_packets=options.queue,
        max_queued_bytes=options.queue_bytes,
        max_queue_age=options.queue_age,
        header_timeout=options.header_timeout,
        body_timeout=options.body_timeout,
        allowed_hosts=options.allowed_host,
        # The suites read the server's reasons (a client closed, a request refused) from
        # its log, as they read the Rust test server's.
        logger=True,
        handler_threads=16,
    )
    log: Deque[Dict[str, str]] = collections.deque(maxlen=100)
    log_lock = threading.Lock()

    def sorted_rooms(sid: str, nsp: str) -> List[str]:
        return sorted(sio.rooms(sid, nsp))

    def register(nsp: str) -> None:
        def on(event: str) -> Any:
            return sio.on(event, namespace=nsp)

        @on("connect")
        def connect(sid: str, environ: Dict[str, Any], auth: Any) -> Any:
            if nsp == "/auth" and not (isinstance(auth, dict) and auth.get("token") == "secret"):
                raise ferrosocket.ConnectionRefusedError("unauthorized", {"code": 401})
            sio.emit("welcome", {"sid": sid, "nsp": nsp, "auth": auth}, to=sid, namespace=nsp)
            return None

        @on("disconnect")
        def disconnect(sid: str, reason: str) -> None:
            # SPEC.md's names are the Socket.IO (JS) ones; the Python API speaks
            # python-socketio's for these two.
            reason = SPEC_REASONS.get(reason, reason)
            with log_lock:
                log.append({"sid": sid, "nsp": nsp, "reason": reason})

        @on("echo")
        def echo(sid: str, *args: Any) -> None:
            sio.emit("echo", tuple(args), to=sid, namespace=nsp)

        @on("ack")
        def ack(sid: str, *args: Any) -> Any:
            return tuple(args)

        @on("count_args")
        def count_args(sid: str, *args: Any) -> Any:
            return len(args)

        @on("sid")
        def get_sid(sid: str, *args: Any) -> Any:
            return {"sid": sid}

        @on("join")
        def join(sid: str, room: Any = None, *rest: Any) -> Any:
            try:
                sio.enter_room(sid, str(room), nsp)
            except ValueError as e:
                return {"error": str(e)}
            return sorted_rooms(sid, nsp)

        @on("leave")
        def leave(sid: str, room: Any = None, *rest: Any) -> Any:
            sio.leave_room(sid, str(room), nsp)
            return sorted_rooms(sid, nsp)

        @on("leave_all")
        def leave_all(sid: str, *args: Any) -> Any:
            for room in sio.rooms(sid, nsp):
                if room != sid:
                    sio.leave_room(sid, room, nsp)
            return sorted_rooms(sid, nsp)

        @on("rooms")
        def rooms(sid: str, *args: Any) -> Any:
            return sorted_rooms(sid, nsp)

        @on("room_sids")
        def room_sids(sid: str, room: Any = None, *rest: Any) -> Any:
            return sio.participants(str(room), nsp)

        @on("close_room")
        def close_room(sid: str, room: Any = None, *rest: Any) -> Any:
            try:
                sio.close_room(str(room), nsp)
            except ValueError as e:
                return {"error": str(e)}
            return True

        @on("emit")
        def emit(sid: str, spec: Any = None, *rest: Any) -> Any:
            spec = spec if isinstance(spec, dict) else {}
            skip = list(spec.get("except") or [])
            if spec.get("include_self") is False:
                skip.append(sid)
            sio.emit(
                str(spec.get("event")),
                tuple(spec.get("args") or []),
                to=spec.get("to"),
                skip_sid=skip or None,
                namespace=nsp,
            )
            return True

        @on("server_ack")
        def server_ack(sid: str, spec: Any = None, *rest: Any) -> Any:
            spec = spec if isinstance(spec, dict) else {}
            timeout = spec.get("timeout_ms", 2000) / 1000.0
            try:
                value = sio.call(str(spec.get("event")), tuple(spec.get("args") or []),
                                 to=sid, namespace=nsp, timeout=timeout)
            except TimeoutError:
                return {"ok": False, "error": "timeout"}
            return {"ok": True, "args": answer(value)}

        @on("broadcast_ack")
        def broadcast_ack(sid: str, spec: Any = None, *rest: Any) -> Any:
            spec = spec if isinstance(spec, dict) else {}
            timeout = spec.get("timeout_ms", 2000) / 1000.0
            targets = spec.get("to")
            if targets is None:
                sids = set(sio.participants(None, nsp))
            else:
                sids = set()
                for room in targets:
                    sids.update(sio.participants(room, nsp))
            responses: List[List[Any]] = []
            timeouts = [0]
            lock = threading.Lock()

            def ask(target: str) -> None:
                try:
                    value = sio.call(str(spec.get("event")), tuple(spec.get("args") or []),
                                     to=target, namespace=nsp, timeout=timeout)
                except (TimeoutError, ConnectionError):
                    with lock:
                        timeouts[0] += 1
                    return
                with lock:
                    responses.append(answer(value))

            threads = [threading.Thread(target=ask, args=(t,)) for t in sorted(sids)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return {"responses": responses, "timeouts": timeouts[0]}

        @on("disconnect_me")
        def disconnect_me(sid: str, spec: Any = None, *rest: Any) -> None:
            close = isinstance(spec, dict) and spec.get("all") is True
            sio.disconnect(sid, nsp, close_connection=close)

        @on("disconnect_log")
        def disconnect_log(sid: str, *args: Any) -> Any:
            with log_lock:
                return list(log)

    for nsp in NAMESPACES:
        register(nsp)
    return sio


def main(argv: Optional[List[str]] = None) -> int:
    options = parse(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sio = create(options)
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if options.metrics_port is not None:
        metrics_port = sio.serve_metrics(options.host, options.metrics_port)
        print(f"METRICS {options.host}:{metrics_port}", flush=True)
    port = sio.start(options.host, options.port)
    print(f"LISTENING {options.host}:{port}", flush=True)
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        sio.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
