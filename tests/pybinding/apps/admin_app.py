"""A small app instrumented for the Socket.IO Admin UI, written once against
python-socketio's ``Server`` API and served by either implementation
(tests/pybinding/test_admin.py):

    python admin_app.py IMPL OPTIONS_JSON

IMPL is ``python_socketio`` (``socketio.Server(async_mode='threading')`` under Werkzeug
with simple-websocket, the reference) or ``ferrosocket`` (``ferrosocket.Server()``).
OPTIONS_JSON holds the keyword arguments of ``sio.instrument(...)``; an ``auth`` of
``{"callable": X}`` is a callable instead, which records the auth it is called with and
accepts when it equals X. Prints ``LISTENING 127.0.0.1:<port>`` once it serves; stops on
SIGTERM.

The app's own events on ``/``: ``join``/``leave`` (the sender enters or leaves a room),
``to_room`` (emits ``room_msg`` to a room), ``echo`` (emits ``echoed`` back to the
sender), ``rooms`` (the sender's rooms), ``auth_calls`` (what the callable auth was
called with) and ``instrument_none`` (what ``instrument(auth=None)`` raises).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any, List


def main() -> int:
    impl, options = sys.argv[1], json.loads(sys.argv[2])
    if impl == "python_socketio":
        import socketio

        sio: Any = socketio.Server(async_mode="threading")
    elif impl == "ferrosocket":
        import ferrosocket

        sio = ferrosocket.Server()
    else:
        raise SystemExit(f"unknown implementation {impl!r}")

    auth_calls: List[Any] = []
    auth = options.get("auth")
    if isinstance(auth, dict) and set(auth) == {"callable"}:
        expected = auth["callable"]

        def check(client_auth: Any) -> bool:
            auth_calls.append(client_auth)
            return bool(client_auth == expected)

        options["auth"] = check

    @sio.on("join")
    def join(sid: str, room: str) -> bool:
        sio.enter_room(sid, room)
        return True

    @sio.on("leave")
    def leave(sid: str, room: str) -> bool:
        sio.leave_room(sid, room)
        return True

    @sio.on("to_room")
    def to_room(sid: str, room: str, data: Any) -> bool:
        sio.emit("room_msg", data, to=room)
        return True

    @sio.on("echo")
    def echo(sid: str, data: Any) -> None:
        sio.emit("echoed", data, to=sid)

    @sio.on("rooms")
    def rooms(sid: str) -> List[str]:
        return sorted(sio.rooms(sid))

    @sio.on("auth_calls")
    def get_auth_calls(sid: str) -> List[Any]:
        return list(auth_calls)

    @sio.on("instrument_none")
    def instrument_none(sid: str) -> List[str]:
        try:
            sio.instrument(auth=None)
        except Exception as error:  # noqa: BLE001 (the type is what is compared)
            return [type(error).__name__, str(error)]
        return ["no error", ""]

    instrumented = sio.instrument(**options)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    if impl == "python_socketio":
        from werkzeug.serving import make_server

        http = make_server("127.0.0.1", 0, socketio.WSGIApp(sio), threaded=True)
        thread = threading.Thread(target=http.serve_forever, daemon=True)
        thread.start()
        port = http.server_port
    else:
        port = sio.start("127.0.0.1", 0)
    print(f"LISTENING 127.0.0.1:{port}", flush=True)
    stop.wait()
    instrumented.shutdown()
    if impl == "python_socketio":
        http.shutdown()
        http.server_close()
    else:
        sio.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
