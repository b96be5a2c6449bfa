"""Serves one Flask app module (see flask_impl.py) with its own `socketio.run`, as a server
process for the tests:

    python serve.py IMPL PATH [--port N] [--attr socketio] [--app-attr app]
    python serve.py IMPL PATH --main -- ARGS...


It loads PATH for IMPL (`flask_socketio` or `ferrosocket`), then calls
`socketio.run(app, host='127.0.0.1', port=N, debug=False, use_reloader=False,
allow_unsafe_werkzeug=True)` exactly as a user's `__main__` block would (the seed articles
hard-code port 5000; this picks a free one when N is 0). `allow_unsafe_werkzeug` is what
Flask-SocketIO wants to run Werkzeug outside a terminal; ferrosocket.flask takes the same
keywords. Prints `LISTENING 127.0.0.1:<port>` on stdout once the port accepts connections
(neither `run` announces it); the app's own prints go to stderr. Stops on SIGTERM.
With `--main`, it calls the module's `main(ARGS)` instead and exits with what it returns
(examples/flask_chat/app.py, which announces its port itself). It never serves anything itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "support")))
sys.path.insert(0, HERE)

from ferrosocket_testing import free_port, port_accepts, wait_until  # noqa: E402
from flask_impl import IMPLS, load  # noqa: E402

HOST = "127.0.0.1"
# The LISTENING line goes to the real stdout; what the app prints goes to stderr, which
# the tests read (ServerProcess.log_tail), like the seed articles' print() calls.
STDOUT = sys.stdout


def announce_when_listening(port: int) -> None:
    try:
        wait_until(lambda: port_accepts(HOST, port), timeout=20, what=f"port {port}")
    except AssertionError as error:
        print(f"serve.py: {error}", file=sys.stderr, flush=True)
        os._exit(3)
    print(f"LISTENING {HOST}:{port}", file=STDOUT, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("impl", choices=IMPLS)
    parser.add_argument("path")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--attr", default="socketio", help="the module's SocketIO instance")
    parser.add_argument("--app-attr", default="app", help="the module's Flask app")
    parser.add_argument("--name", default="app", help="the module name to load it under")
    parser.add_argument("--main", action="store_true", help="call main(ARGS) instead of run")
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    options = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if options.main:
        sys.path.insert(0, os.path.dirname(os.path.abspath(options.path)))
        module = load(options.path, options.impl, options.name)
        return int(module.main(rest) or 0)

    # SIGTERM ends the process like Ctrl-C would: Werkzeug's serve_forever and
    # ferrosocket's run both stop on KeyboardInterrupt.
    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    sys.stdout = sys.stderr
    folder = os.path.dirname(os.path.abspath(options.path))
    sys.path.insert(0, folder)  # an app importing a sibling module, as `python app.py` allows
    os.chdir(folder)
    module = load(options.path, options.impl, options.name)
    socketio = getattr(module, options.attr)
    app = getattr(module, options.app_attr)
    port = options.port or free_port(HOST)
    threading.Thread(target=announce_when_listening, args=(port,), daemon=True).start()
    try:
        socketio.run(app, host=HOST, port=port, debug=False, use_reloader=False,
                     allow_unsafe_werkzeug=True)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
