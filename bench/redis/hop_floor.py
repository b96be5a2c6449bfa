#!/usr/bin/env python3
"""For scale next to bench/redis/'s "added" latency: one Redis PUBLISH -> SUBSCRIBE hop
between two plain redis-py processes, no Socket.IO server at all, everything (a fresh
redis-server, the publisher, the subscriber) under `taskset -c 0` as the fleets are.

    bench/.venv/bin/python bench/redis/hop_floor.py [--rate 10] [--count 100]

Prints p50/p99 of send -> receipt (CLOCK_MONOTONIC is shared by the processes); redis-py's
own parsing is in it, so it is a reference for this machine, not a strict floor. Not a
test; stops what it started, by pid.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(argv):
    return (["taskset", "-c", "0"] + argv) if shutil.which("taskset") else argv


def subscriber(port):
    import redis

    sub = redis.Redis(host="127.0.0.1", port=port).pubsub()
    sub.subscribe("hop")
    print("READY", flush=True)
    lat = []
    for m in sub.listen():
        if m["type"] != "message":
            continue
        if m["data"] == b"end":
            break
        lat.append((time.monotonic_ns() - int(m["data"])) / 1000)
    lat.sort()
    if lat:
        print(f"{len(lat)} messages: p50 {lat[len(lat) // 2]:.0f} us, "
              f"p99 {lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.0f} us", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--sub", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.sub:
        subscriber(a.sub)
        return 0
    import redis

    port = free_port()
    logdir = tempfile.mkdtemp(prefix="hop-floor-")
    procs = []
    try:
        srv = subprocess.Popen(pinned(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no",
                                       "--logfile", os.path.join(logdir, "redis.log")]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(srv)
        pub = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                pub.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or srv.poll() is not None:
                    sys.exit("redis-server did not start")
                time.sleep(0.05)
        sub = subprocess.Popen(pinned([sys.executable, __file__, "--sub", str(port)]),
                               stdout=subprocess.PIPE, text=True)
        procs.append(sub)
        if sub.stdout.readline().strip() != "READY":
            sys.exit("subscriber did not start")
        os.sched_setaffinity(0, {0})
        for _ in range(a.count):
            pub.publish("hop", str(time.monotonic_ns()))
            time.sleep(1 / a.rate)
        pub.publish("hop", "end")
        out, _ = sub.communicate(timeout=10)
        print(f"redis pub/sub hop at {a.rate:g} msgs/s, all on CPU 0: {out.strip()}")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
