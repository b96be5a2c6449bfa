"""``python -m ferrosocket module:app``: serve a Flask-SocketIO-style app in production.

Owns: the command line (``--host``, ``--port``, ``--threads``, ``--log-level``,
``--access-log``, each also an environment variable), finding what to serve in the
module (a ``ferrosocket.flask.SocketIO``, a Flask app, or a ``ferrosocket.Server``), and
logging set-up. Never: serves anything itself; ``ferrosocket.flask``'s ``_serve`` does,
until SIGTERM or SIGINT stops it gracefully.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Any, List, Optional, Tuple

_ENV = {
    "host": "FERROSOCKET_HOST",
    "port": "FERROSOCKET_PORT",
    "threads": "FERROSOCKET_THREADS",
    "log_level": "FERROSOCKET_LOG_LEVEL",
    "access_log": "FERROSOCKET_ACCESS_LOG",
    "app": "FERROSOCKET_APP",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ferrosocket",
        description="Serve a Flask app with ferrosocket.flask (HTTP and Socket.IO on one "
        "port), or a ferrosocket.Server. Every option can also be set with the "
        "environment variable named in its help; the command line wins.",
    )
    parser.add_argument(
        "app",
        nargs="?",
        default=os.environ.get(_ENV["app"]),
        help="module:name (name may be a call without arguments, e.g. "
        "'app:create_app()'); with only module, the module's SocketIO object, Flask app "
        "or ferrosocket.Server is found ($FERROSOCKET_APP)",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get(_ENV["host"], "127.0.0.1"),
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface; "
        "$FERROSOCKET_HOST)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get(_ENV["port"], "5000")),
        help="port (default 5000; $FERROSOCKET_PORT)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ[_ENV["threads"]]) if os.environ.get(_ENV["threads"]) else None,
        help="most Python handler threads (for Socket.IO handlers and HTTP requests; "
        "default: the server's handler_threads, 64; $FERROSOCKET_THREADS)",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get(_ENV["log_level"], "info"),
        choices=["debug", "info", "warning", "error", "critical"],
        help="level of the root logger (default info; $FERROSOCKET_LOG_LEVEL)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        default=os.environ.get(_ENV["access_log"], "") not in ("", "0", "false"),
        help="one line per HTTP request on the ferrosocket.access logger "
        "($FERROSOCKET_ACCESS_LOG=1)",
    )
    return parser


def _load(spec: str) -> Tuple[Any, str]:
    """Imports ``module[:name]``; returns the object and a description of it."""
    module_name, _, name = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    if name:
        call = name.endswith("()")
        target: Any = module
        for part in name[:-2].split(".") if call else name.split("."):
            target = getattr(target, part)
        if call:
            target = target()
        return target, spec
    from ferrosocket.flask import SocketIO
    from ferrosocket.server import Server

    for kind in (SocketIO, "flask", Server):
        for attribute, value in vars(module).items():
            if attribute.startswith("_"):
                continue
            if kind == "flask":
                if type(value).__name__ == "Flask" and hasattr(value, "wsgi_app"):
                    return value, f"{module_name}:{attribute}"
            elif isinstance(value, kind):  # type: ignore[arg-type]
                return value, f"{module_name}:{attribute}"
    raise SystemExit(
        f"python -m ferrosocket: no SocketIO object, Flask app or ferrosocket.Server in "
        f"module {module_name!r}; name it: {module_name}:app"
    )


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if not args.app:
        _parser().error("the app to serve is missing (module:app, or $FERROSOCKET_APP)")
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.threads is not None:
        # Read by SocketIO.init_app when the module creates its server.
        os.environ[_ENV["threads"]] = str(args.threads)
    target, described = _load(args.app)

    from ferrosocket.flask import SocketIO, _serve
    from ferrosocket.server import Server

    if isinstance(target, Server):
        logging.getLogger("ferrosocket").info("serving %s on %s:%s", described, args.host, args.port)
        target.run(args.host, args.port)
        return 0
    if isinstance(target, SocketIO):
        socketio, app = target, target.app
        if app is None:
            raise SystemExit(f"python -m ferrosocket: {described} has no app (init_app(app))")
    else:
        app = target
        found = app.extensions.get("socketio") if hasattr(app, "extensions") else None
        if found is None:
            socketio = SocketIO(app)
        elif isinstance(found, SocketIO):
            socketio = found
        else:
            raise SystemExit(
                f"python -m ferrosocket: {described} uses {type(found).__module__}'s "
                "SocketIO; import it from ferrosocket.flask instead"
            )
    logging.getLogger("ferrosocket").info("serving %s on %s:%s", described, args.host, args.port)
    _serve.serve(socketio, app, args.host, args.port, log_output=args.access_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
