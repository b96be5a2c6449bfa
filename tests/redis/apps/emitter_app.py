"""An external emitter, as a Celery worker or a script has one: `SocketIO(message_queue=url)`
with no app, which only publishes. Run by tests/flask/serve.py's --main mode:

    python tests/flask/serve.py IMPL tests/redis/apps/emitter_app.py --main -- URL CHANNEL JSON

JSON is a list of emits, each {"event", "data", "to", "skip_sid", "namespace"}; it makes
them all, in order, then exits 0 (printing `EMITTED <count>` on stdout)."""

import json
import sys

from ferrosocket.flask import SocketIO


def main(argv):
    url, channel, emits = argv[0], argv[1], json.loads(argv[2])
    external = SocketIO(message_queue=url, channel=channel)
    for item in emits:
        external.emit(item["event"], item.get("data"), to=item.get("to"),
                      skip_sid=item.get("skip_sid"), namespace=item.get("namespace", "/"))
    print(f"EMITTED {len(emits)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
