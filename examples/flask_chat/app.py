"""The ferrosocket chat with Flask: Flask renders the page (``render_template``) and
serves its files, ferrosocket runs next to it on its own port with CORS set to the Flask
origin. Same events, validation and messages as every chat example: the handlers are
those of examples/python_chat/chat.py, and the page is the one the Rust and C chats serve
(examples/chat/static/index.html), made a Jinja template when the app is created: its
title and brand name say Flask, its files are named with ``url_for`` (under /static).
This file keeps no copy of the page.

    python examples/flask_chat/app.py --host 127.0.0.1 --port 5000 --sio-port 5001

Open http://127.0.0.1:5000/ : Flask redirects to ``/?server=http://127.0.0.1:5001`` so
the shared app.js connects to ferrosocket. Prints ``SOCKETIO <host>:<ferrosocket port>``
then ``LISTENING <host>:<flask port>`` once both listen (port 0 picks a free one).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any, List, Optional

from flask import Flask, redirect, render_template, request, url_for
from jinja2 import BaseLoader, TemplateNotFound
from werkzeug.serving import make_server

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_STATIC = os.path.normpath(os.path.join(HERE, "..", "chat", "static"))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "python_chat")))

from chat import create_server  # noqa: E402  (examples/python_chat/chat.py)


# Where the Flask page differs from the shared one: each left side must stand exactly once
# in the shared index.html (else the app refuses to start, rather than serve a page that
# lost its Flask bits); the right sides are Jinja.
PAGE_CHANGES = (
    ("<title>ferrosocket chat</title>", "<title>{{ title }}</title>"),
    ('<span class="brand-sub">chat</span>', '<span class="brand-sub">chat · Flask</span>'),
    ('href="style.css"', "href=\"{{ url_for('static', filename='style.css') }}\""),
    ('src="/vendor/socket.io.min.js"',
     "src=\"{{ url_for('static', filename='vendor/socket.io.min.js') }}\""),
    ('src="app.js"', "src=\"{{ url_for('static', filename='app.js') }}\""),
)


def page_template(page: str) -> str:
    """The shared chat page as Jinja source: ``PAGE_CHANGES`` applied, everything else kept
    to the letter (in raw blocks, so nothing in the page is read as Jinja)."""
    places = []
    for old, new in PAGE_CHANGES:
        if page.count(old) != 1:
            raise ValueError(f"the shared chat page has {page.count(old)} of {old!r}, not one")
        places.append((page.index(old), old, new))
    parts, at = [], 0
    for start, old, new in sorted(places):
        parts += [_raw(page[at:start]), new]
        at = start + len(old)
    parts.append(_raw(page[at:]))
    return "".join(parts)


def _raw(text: str) -> str:
    if "endraw" in text:
        raise ValueError("the shared chat page contains 'endraw'")
    return "{% raw %}" + text + "{% endraw %}" if text else ""


class SharedPageLoader(BaseLoader):
    """Loads ``index.html`` from the static folder's page, through ``page_template``;
    reloaded when that file changes."""

    def __init__(self, static_dir: str) -> None:
        self.path = os.path.join(static_dir, "index.html")

    def get_source(self, environment: Any, template: str) -> Any:
        if template != "index.html":
            raise TemplateNotFound(template)
        mtime = os.path.getmtime(self.path)
        with open(self.path, encoding="utf-8") as file:
            source = page_template(file.read())
        return source, self.path, lambda: os.path.getmtime(self.path) == mtime


def create_app(static_dir: str = SHARED_STATIC) -> Flask:
    """The page; ``app.config["SOCKET_PORT"]`` is ferrosocket's port, set once it listens.
    Raises OSError or ValueError when ``static_dir`` has no page ``page_template`` takes."""
    app = Flask(__name__, static_folder=static_dir, static_url_path="/static",
                template_folder=None)
    app.jinja_loader = SharedPageLoader(static_dir)  # type: ignore[assignment]
    app.jinja_env.get_template("index.html")  # a page that lost its Flask bits fails here
    app.config["SOCKET_PORT"] = None

    @app.route("/")
    def index() -> Any:
        if "server" not in request.args:
            # The socket goes to ferrosocket: same host name as the page, its own port.
            host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
            port = app.config["SOCKET_PORT"]
            return redirect(url_for("index", server=f"http://{host}:{port}"))
        return render_template("index.html", title="ferrosocket chat (Flask)")

    return app


def origins(host: str, port: int, extra: List[str]) -> Any:
    if "*" in extra:
        return "*"
    names = [host]
    if host in ("127.0.0.1", "localhost"):
        names = ["127.0.0.1", "localhost"]
    return [f"http://{name}:{port}" for name in names] + list(extra)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="ferrosocket chat with Flask")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="Flask's port")
    parser.add_argument("--sio-port", type=int, default=5001, help="ferrosocket's port")
    parser.add_argument("--static", default=SHARED_STATIC,
                        help="the page and its files (index.html, app.js, style.css, vendor/); "
                        "the files are served under /static")
    parser.add_argument("--cors", action="append", default=[], help="another allowed origin")
    options = parser.parse_args(argv)

    # Flask's port first: ferrosocket's CORS names the Flask origin.
    if not os.path.isdir(options.static):
        print(f"flask_chat: --static {options.static}: not a directory", file=sys.stderr)
        return 2
    try:
        app = create_app(options.static)
    except (OSError, ValueError) as error:
        print(f"flask_chat: --static {options.static}: {error}", file=sys.stderr)
        return 2
    web = make_server(options.host, options.port, app, threaded=True)
    sio = create_server(origins(options.host, web.server_port, options.cors))
    try:
        socket_port = sio.start(options.host, options.sio_port)
    except Exception as error:  # noqa: BLE001
        web.server_close()
        print(f"flask_chat: cannot listen on {options.host}:{options.sio_port}: {error}",
              file=sys.stderr)
        return 1
    app.config["SOCKET_PORT"] = socket_port

    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=web.serve_forever, daemon=True)
    thread.start()
    print(f"SOCKETIO {options.host}:{socket_port}", flush=True)
    print(f"LISTENING {options.host}:{web.server_port}", flush=True)
    print(f"flask_chat: open http://{options.host}:{web.server_port}/ (Ctrl-C to stop)",
          file=sys.stderr, flush=True)
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        web.shutdown()
        thread.join(5)
        web.server_close()
        sio.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
