"""Error handlers, for test_handlers.py: `on_error(namespace)` for "/chat" and
`on_error_default` for the rest. Kept apart from handlers_app.py because an error handler
also receives the TypeError of a legacy `disconnect()` handler called with a reason, in
Flask-SocketIO, instead of letting the call be retried without it."""

import threading

from flask import Flask, jsonify, request
from ferrosocket.flask import SocketIO, emit

app = Flask(__name__)
socketio = SocketIO(app)

lock = threading.Lock()
log = []


def note(*entry):
    with lock:
        log.append(list(entry))


@app.route("/log")
def log_route():
    with lock:
        return jsonify(log)


@socketio.on("sync")
def on_sync(token):
    emit("synced", token)


@socketio.on("sync", namespace="/chat")
def on_chat_sync(token):
    emit("synced", token)


@socketio.on("fail")
def fail_root(data):
    raise KeyError(data)


@socketio.on("fail", namespace="/chat")
def fail_chat(data):
    raise ValueError("chat " + data)


@socketio.on_error("/chat")
def chat_error(e):
    note("error", request.namespace, request.event["message"], str(e))
    return ["chat error", str(e)]


@socketio.on_error_default
def default_error(e):
    note("error_default", request.namespace, request.event["message"], type(e).__name__)
    return ["default error", type(e).__name__]
