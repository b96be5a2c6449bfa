"""A write-only manager emitting from outside any server, as python-socketio documents
for external processes: `RedisManager(url, channel=..., write_only=True).emit(...)`.

    python tests/redis/apps/manager_emitter.py IMPL URL CHANNEL JSON [--cluster]

IMPL is `python_socketio` or `ferrosocket` (whose RedisManager takes the same arguments,
and `cluster=True` for a Redis Cluster). JSON is a list of {"event", "data", "to",
"skip_sid", "namespace"}; prints `EMITTED <count>` once all are published and exits 0."""

from __future__ import annotations

import json
import sys


def main(argv: list) -> int:
    impl, url, channel, emits = argv[0], argv[1], argv[2], json.loads(argv[3])
    cluster = "--cluster" in argv[4:]
    if impl == "python_socketio":
        import socketio
        manager = socketio.RedisManager(url, channel=channel, write_only=True)
    else:
        import ferrosocket
        manager = ferrosocket.RedisManager(url, channel=channel, write_only=True,
                                           cluster=cluster)
    for item in emits:
        manager.emit(item["event"], item.get("data"), namespace=item.get("namespace", "/"),
                     to=item.get("to"), skip_sid=item.get("skip_sid"))
    print(f"EMITTED {len(emits)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
