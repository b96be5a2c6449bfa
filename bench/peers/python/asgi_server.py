"""python-socketio (AsyncServer, ASGI) on uvicorn: peer for ferrosocket's loadgen.

Events `ack`, `join`, `emit` on `/` (see tests/test-server/SPEC.md), `sleep` (sleeps
1 ms, then acks with its arguments) and `chat` (`{"room": r, ...}`: emits `chat` with the
same object to room r).
Usage: python asgi_server.py [--host 127.0.0.1] [--port 0]
Prints `LISTENING 127.0.0.1:<port>` once the socket listens; SIGTERM: uvicorn's
graceful stop.
"""
import argparse
import asyncio
import socket
import sys

import socketio
import uvicorn

sio = socketio.AsyncServer(
    async_mode="asgi",
    cors_allowed_origins="*",
    http_compression=False,
    compression_threshold=1 << 30,
    transports=["websocket", "polling"],
)
app = socketio.ASGIApp(sio)


@sio.on("ack")
async def on_ack(sid, *args):
    return args


@sio.on("join")
async def on_join(sid, room):
    await sio.enter_room(sid, room)
    return sorted(sio.rooms(sid))


@sio.on("emit")
async def on_emit(sid, req):
    req = req or {}
    args = tuple(req.get("args") or ())
    to = req.get("to") or None
    await sio.emit(req["event"], args, to=to)
    return True


@sio.on("sleep")
async def on_sleep(sid, *args):
    await asyncio.sleep(0.001)
    return args


@sio.on("chat")
async def on_chat(sid, msg):
    await sio.emit("chat", msg, to=msg["room"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((a.host, a.port))
    sock.listen(4096)
    host, port = sock.getsockname()
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
        access_log=False,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    print(f"LISTENING {host}:{port}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
