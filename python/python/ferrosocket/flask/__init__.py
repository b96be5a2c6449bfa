"""``ferrosocket.flask``: Flask-SocketIO's API on ferrosocket. Moving an app is one line::

    from ferrosocket.flask import SocketIO, emit, send, join_room   # was: flask_socketio

    app = Flask(__name__)
    socketio = SocketIO(app)

    @socketio.on("message")
    def message(data):
        emit("response", data)                 # to the sender (flask.request.sid)
        emit("chat", data, broadcast=True)     # to everyone

    if __name__ == "__main__":
        socketio.run(app)                      # the app and the socket on one port

Handlers run on the server's handler threads with the client's Flask contexts pushed:
``request.sid``, ``request.namespace``, ``request.event``, ``request.args`` and headers
of the connection, ``session``, ``g`` (fresh per event), ``current_app``. One client's
handlers run one at a time, in order; different clients' run in parallel.
``socketio.run(app)`` serves HTTP requests with the Flask app through the server's WSGI
bridge and the Socket.IO path with the Rust core; ``python -m ferrosocket module:app``
does the same for deployment. ``socketio.test_client(app)`` gives Flask-SocketIO's test
client, in process. What differs from Flask-SocketIO, and why: python/MIGRATING.md.
"""

from __future__ import annotations

# Only re-exports. The modules behind them: _socketio.py (SocketIO), _functions.py
# (the context-bound emit, send, ...), _context.py (one Flask request context per
# connection, pushed per event), namespace.py, test_client.py, _serve.py (run()).
from ferrosocket.exceptions import ConnectionRefusedError as ConnectionRefusedError
from ferrosocket.flask._functions import call as call
from ferrosocket.flask._functions import close_room as close_room
from ferrosocket.flask._functions import disconnect as disconnect
from ferrosocket.flask._functions import emit as emit
from ferrosocket.flask._functions import join_room as join_room
from ferrosocket.flask._functions import leave_room as leave_room
from ferrosocket.flask._functions import rooms as rooms
from ferrosocket.flask._functions import send as send
from ferrosocket.flask._socketio import SocketIO as SocketIO
from ferrosocket.flask.namespace import Namespace as Namespace
from ferrosocket.flask.test_client import SocketIOTestClient as SocketIOTestClient

__all__ = [
    "SocketIO",
    "SocketIOTestClient",
    "Namespace",
    "ConnectionRefusedError",
    "emit",
    "send",
    "call",
    "join_room",
    "leave_room",
    "close_room",
    "rooms",
    "disconnect",
]
