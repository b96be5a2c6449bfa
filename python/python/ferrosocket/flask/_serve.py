"""Serving a Flask app and its Socket.IO endpoint on one port: ``SocketIO.run``.

Owns: ``run``'s defaults (Flask-SocketIO's: host, port from ``SERVER_NAME``, debug,
reloader, access log), mounting the app on the server's WSGI bridge, Werkzeug's
debugger and reloader, the banner, waiting for Ctrl-C / SIGTERM / ``stop()``, and what
``flask run`` says about such an app. Never: handles HTTP itself (the native WSGI
bridge runs the app on handler threads) or Socket.IO events.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

import flask

if TYPE_CHECKING:
    from ferrosocket.flask._socketio import SocketIO

__all__ = ["run", "serve", "under_flask_run", "warn_flask_run"]

_access = logging.getLogger("ferrosocket.access")


def run(
    socketio: "SocketIO",
    app: flask.Flask,
    host: Optional[str],
    port: Optional[int],
    kwargs: Dict[str, Any],
) -> None:
    """``SocketIO.run``: see its docstring."""
    if host is None:
        host = "127.0.0.1"
    if port is None:
        server_name = app.config.get("SERVER_NAME")
        if server_name and ":" in server_name:
            port = int(server_name.rsplit(":", 1)[1])
        else:
            port = 5000
    debug = bool(kwargs.pop("debug", app.debug))
    log_output = bool(kwargs.pop("log_output", debug))
    use_reloader = bool(kwargs.pop("use_reloader", debug))
    reloader_options: Dict[str, Any] = dict(kwargs.pop("reloader_options", {}) or {})
    extra_files = kwargs.pop("extra_files", None)
    if extra_files:
        reloader_options["extra_files"] = extra_files
    kwargs.pop("allow_unsafe_werkzeug", None)
    if kwargs:
        raise TypeError(f"run() got an unexpected keyword argument {next(iter(kwargs))!r}")
    app.debug = debug

    def main() -> None:
        serve(socketio, app, host or "127.0.0.1", int(port or 0), debug, log_output)

    if use_reloader:
        from werkzeug._reloader import run_with_reloader

        # The parent process only watches and restarts; the child (WERKZEUG_RUN_MAIN
        # set) serves, so only one process ever listens on the port.
        if os.environ.get("WERKZEUG_RUN_MAIN") != "true":
            _banner(app, host, port, debug, reloader=True, parent=True)
        run_with_reloader(main, **reloader_options)
    else:
        main()


def serve(
    socketio: "SocketIO",
    app: Any,
    host: str,
    port: int,
    debug: bool = False,
    log_output: bool = False,
    on_started: Optional[Callable[[int], None]] = None,
) -> None:
    """Mounts ``app`` (a Flask app or any WSGI callable) on the server, listens on
    ``host:port`` and serves until Ctrl-C, SIGTERM or ``socketio.stop()``; then stops
    the server (clients are told, queues drained)."""
    server = socketio._require_server()
    wsgi: Any = app
    if debug:
        from werkzeug.debug import DebuggedApplication

        wsgi = DebuggedApplication(app, evalex=True)
    if log_output:
        _enable_access_log()
    server._native.mount_wsgi(wsgi, access_log=log_output)
    socketio._stop_requested.clear()
    bound = server.start(host, port)
    socketio._running = True
    if os.environ.get("WERKZEUG_RUN_MAIN") != "true" or not debug:
        _banner(app, host, bound, debug, reloader=False, parent=False)
    if on_started is not None:
        on_started(bound)
    stop = socketio._stop_requested
    previous = _install_signals(stop)
    try:
        while not stop.wait(0.25):
            if server._native.stopped:
                break
    except KeyboardInterrupt:
        pass
    finally:
        _restore_signals(previous)
        socketio._running = False
        server.stop()


def _install_signals(stop: threading.Event) -> Dict[int, Any]:
    """SIGTERM (and SIGINT, when Python's default is in place) stop the server
    gracefully; only from the main thread, where Python delivers signals."""
    previous: Dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def handle(signum: int, frame: Any) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        current = signal.getsignal(signum)
        if signum == signal.SIGINT and current is not signal.default_int_handler:
            continue
        previous[signum] = current
        signal.signal(signum, handle)
    return previous


def _restore_signals(previous: Dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _enable_access_log() -> None:
    """One line per request on stderr, as a development server prints them, unless
    the application configured the ``ferrosocket.access`` logger itself."""
    if _access.handlers or logging.getLogger().handlers:
        if _access.level == logging.NOTSET:
            _access.setLevel(logging.INFO)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    _access.addHandler(handler)
    _access.setLevel(logging.INFO)
    _access.propagate = False


def _banner(app: Any, host: str, port: Any, debug: bool, reloader: bool, parent: bool) -> None:
    name = getattr(app, "name", None) or getattr(app, "import_name", "app")
    lines = []
    if parent or not reloader:
        lines.append(f" * Serving Flask app {name!r} with ferrosocket (one port: HTTP and Socket.IO)")
        lines.append(f" * Debug mode: {'on' if debug else 'off'}")
    if not parent:
        shown = f"[{host}]" if ":" in host else host
        lines.append(f" * Running on http://{shown}:{port} (Press CTRL+C to quit)")
    if reloader and parent:
        lines.append(" * Restarting with the reloader on file changes")
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def under_flask_run() -> bool:
    """Whether the app is being loaded by ``flask run`` (not by another ``flask``
    command such as ``flask shell``, which sets ``FLASK_RUN_FROM_CLI`` too)."""
    import click

    context = click.get_current_context(silent=True)
    return context is not None and context.info_name == "run"


def warn_flask_run(app: flask.Flask, socketio: "SocketIO") -> None:
    """Under ``flask run``, Flask serves the app with Werkzeug and never starts this
    server: say so, and answer the Socket.IO path with what to run instead (rather than
    a bare 404 the browser retries forever)."""
    module = os.environ.get("FLASK_APP") or app.import_name
    command = f"python -m ferrosocket {module}"
    logging.getLogger("ferrosocket.flask").warning(
        "`flask run` serves only the Flask app (Werkzeug); the Socket.IO endpoint needs "
        "ferrosocket's server. Run `%s` or `python <your app>.py` (socketio.run(app)) "
        "instead: one port for both.",
        command,
    )
    path = socketio._path
    inner = app.wsgi_app

    def explain(environ: Dict[str, Any], start_response: Any) -> Any:
        if str(environ.get("PATH_INFO", "")).rstrip("/") == path.rstrip("/"):
            body = (
                f"This app's Socket.IO endpoint is served by ferrosocket, not by "
                f"`flask run`: start it with `{command}`.\n"
            ).encode()
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return inner(environ, start_response)

    app.wsgi_app = explain  # type: ignore[method-assign]
