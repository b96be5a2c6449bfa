"""The ferrosocket chat as a plain Flask-SocketIO app: Flask renders the page
(``render_template``) and serves its files, and the socket is on the same port, so the
page's ``io()`` connects to its own origin (no CORS). The only ferrosocket-specific line is
the import; with ``from flask_socketio import ...`` instead it runs on Flask-SocketIO.
Same events, validation and messages as every chat example (the ``Chat`` rooms and the
field checks are examples/python_chat/chat.py's), and the page is the one the Rust and C
chats serve (examples/chat/static/index.html), made a Jinja template when the app is
created: its title and brand name say Flask, its files are named with ``url_for`` (under
/static). This file keeps no copy of the page.

    python examples/flask_chat/app.py --host 127.0.0.1 --port 5000

Open http://127.0.0.1:5000/ . Prints ``LISTENING <host>:<port>`` once it accepts
connections (port 0 picks a free one); SIGTERM or Ctrl-C stops it.

Alone it needs nothing else. With ``--message-queue redis://HOST:PORT/0`` (or the
environment's ``MESSAGE_QUEUE``) it is one server of a fleet: ``SocketIO(app,
message_queue=...)``, so rooms and broadcasts are shared through that Redis with every
other server (and emitter) on the same queue; fleet.sh runs two of them on two ports.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from flask import Flask, render_template, request
from jinja2 import BaseLoader, TemplateNotFound
from ferrosocket.flask import SocketIO, emit, join_room, leave_room

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_STATIC = os.path.normpath(os.path.join(HERE, "..", "chat", "static"))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "python_chat")))

from chat import Chat, failure, field  # noqa: E402  (examples/python_chat/chat.py)

socketio = SocketIO()
chat = Chat()


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


def create_app(static_dir: str = SHARED_STATIC, message_queue: Optional[str] = None) -> Flask:
    """The Flask app, with ``socketio`` attached; with ``message_queue`` (a Redis URL)
    the server joins that fleet. Raises OSError or ValueError when ``static_dir`` has no
    page ``page_template`` takes."""
    app = page_app(static_dir)
    attach_socketio(app, message_queue)
    return app


def page_app(static_dir: str) -> Flask:
    """The Flask app without the socket: the page and its files. Raises OSError or
    ValueError when ``static_dir`` has no page ``page_template`` takes."""
    app = Flask(__name__, static_folder=static_dir, static_url_path="/static",
                template_folder=None)
    app.jinja_loader = SharedPageLoader(static_dir)  # type: ignore[assignment]
    app.jinja_env.get_template("index.html")  # a page that lost its Flask bits fails here

    @app.route("/")
    def index() -> Any:
        return render_template("index.html", title="ferrosocket chat (Flask)")

    return app


def attach_socketio(app: Flask, message_queue: Optional[str]) -> None:
    """``socketio.init_app(app)``; with a ``message_queue``, as a server of that fleet
    (NotImplementedError for a queue that is not Redis)."""
    if message_queue:
        socketio.init_app(app, message_queue=message_queue)
    else:
        socketio.init_app(app)


def announce_left(member: Tuple[str, str]) -> None:
    username, room = member
    socketio.emit("status", {"room": room, "text": f"{username} left"}, to=room)


@socketio.on("join")
def on_join(args: Any = None) -> Dict[str, Any]:
    if not isinstance(args, dict):
        return failure("expected {username, room}")
    username, error = field(args, "username", 32, True)
    if error is None:
        room, error = field(args, "room", 64, True)
    if error is not None:
        return failure(error)
    assert username is not None and room is not None
    previous, members = chat.join(request.sid, username, room)
    if previous is not None:
        leave_room(previous[1])
        announce_left(previous)
    join_room(room)
    # The ack goes when this returns, so the joiner gets its own "joined" just before it
    # (as in examples/python_chat); the page copes with both orders.
    emit("status", {"room": room, "text": f"{username} joined"}, to=room)
    return {"ok": True, "room": room, "members": members}


@socketio.on("message")
def on_message(args: Any = None) -> Dict[str, Any]:
    member = chat.member(request.sid)
    if member is None:
        return failure("join a room first")
    if not isinstance(args, dict):
        return failure("expected {text}")
    text, error = field(args, "text", 2000, False)
    if error is not None:
        return failure(error)
    username, room = member
    emit("message",
         {"room": room, "username": username, "text": text, "ts": int(time.time() * 1000)},
         to=room)
    return {"ok": True}


@socketio.on("leave")
def on_leave(*args: Any) -> Dict[str, Any]:
    member = chat.leave(request.sid)
    if member is not None:
        leave_room(member[1])
        announce_left(member)
    return {"ok": True}


@socketio.on("disconnect")
def on_disconnect(reason: Any = None) -> None:
    member = chat.leave(request.sid)
    if member is not None:
        announce_left(member)


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def announce_when_listening(host: str, port: int) -> None:
    """Prints the LISTENING line the tests and scripts wait for, once the port accepts
    connections (``socketio.run`` blocks and says nothing machine-readable)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        print(f"flask_chat: nothing listens on {host}:{port} after 30 s", file=sys.stderr)
        os._exit(1)
    print(f"LISTENING {host}:{port}", flush=True)
    print(f"flask_chat: open http://{host}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="ferrosocket chat with Flask, on one port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    parser.add_argument("--static", default=SHARED_STATIC,
                        help="the page and its files (index.html, app.js, style.css, vendor/); "
                        "the files are served under /static")
    parser.add_argument("--message-queue", metavar="URL",
                        default=os.environ.get("MESSAGE_QUEUE") or None,
                        help="join the fleet on this Redis (redis://HOST:PORT/0); "
                        "default: $MESSAGE_QUEUE, else none (one server alone)")
    options = parser.parse_args(argv)
    if not os.path.isdir(options.static):
        print(f"flask_chat: --static {options.static}: not a directory", file=sys.stderr)
        return 2
    try:
        app = page_app(options.static)
    except (OSError, ValueError) as error:
        print(f"flask_chat: --static {options.static}: {error}", file=sys.stderr)
        return 2
    try:
        attach_socketio(app, options.message_queue)
    except (NotImplementedError, ValueError) as error:
        print(f"flask_chat: --message-queue {options.message_queue}: {error}", file=sys.stderr)
        return 2

    def on_signal(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    port = options.port or free_port(options.host)
    threading.Thread(target=announce_when_listening, args=(options.host, port),
                     daemon=True).start()
    try:
        # allow_unsafe_werkzeug: Flask-SocketIO wants it to serve with Werkzeug outside a
        # terminal; ferrosocket serves with its own server and takes it like the rest.
        socketio.run(app, host=options.host, port=port, allow_unsafe_werkzeug=True)
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"flask_chat: cannot listen on {options.host}:{port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
