"""ferrosocket's Python binding as a peer for loadgen: every event is a Python handler.

Events on `/` (tests/test-server/SPEC.md for the first three):
  ack    acks with its arguments
  join   joins the room, acks with the sorted room list
  emit   {"to": [rooms], "event": name, "args": [...]}: emits to the rooms (everyone
         when absent), sender included; acks True
  sleep  sleeps 1 ms (a stand-in for a database call), then acks with its arguments
  chat   {"room": r, "text": ...}: emits `chat` with the same object to room r

Usage: python server.py [--host 127.0.0.1] [--port 0] [--handler-threads N]
Prints `LISTENING 127.0.0.1:<port>`; SIGTERM / SIGINT: stop (clients disconnected), exit 0.
"""
import argparse
import signal
import sys
import threading
import time

import ferrosocket


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--handler-threads", type=int, default=8,
                   help="most dispatch threads running handlers (the binding's default is 64)")
    return p.parse_args()


def build(handler_threads):
    sio = ferrosocket.Server(cors_allowed_origins="*", handler_threads=handler_threads)

    @sio.on("ack")
    def on_ack(sid, *args):
        return args

    @sio.on("join")
    def on_join(sid, room):
        sio.enter_room(sid, room)
        return sorted(sio.rooms(sid))

    @sio.on("emit")
    def on_emit(sid, req):
        req = req or {}
        sio.emit(req["event"], tuple(req.get("args") or ()), to=req.get("to") or None)
        return True

    @sio.on("sleep")
    def on_sleep(sid, *args):
        time.sleep(0.001)
        return args

    @sio.on("chat")
    def on_chat(sid, msg):
        sio.emit("chat", msg, to=msg["room"])

    return sio


def main():
    a = parse()
    sio = build(a.handler_threads)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    port = sio.start(a.host, a.port)
    print(f"LISTENING {a.host}:{port}", flush=True)
    while not stop.wait(0.5):
        pass
    sio.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
