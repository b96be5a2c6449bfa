"""Connect and disconnect handlers, refusals, namespaces and the ways to register handlers
(decorators, on_event, @socketio.event, catch-alls, class-based namespaces; the
error handlers are errors_app.py's), for test_handlers.py. What the handlers saw is kept
in `log` (GET /log)."""

import threading

from flask import Flask, jsonify, request
from ferrosocket.flask import ConnectionRefusedError, Namespace, SocketIO, disconnect, emit

app = Flask(__name__)
app.config["SECRET_KEY"] = "handlers-app"
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


# ---------------------------------------------------------------- "/": connect(auth)

@socketio.on("connect")
def on_connect(auth):
    if auth and auth.get("refuse") == "false":
        return False
    if auth and auth.get("refuse") == "raise":
        raise ConnectionRefusedError("go away", {"code": 7})
    if auth and auth.get("refuse") == "bare":
        raise ConnectionRefusedError()
    note("connect", "/", request.sid, auth)
    emit("welcome", {"sid": request.sid, "auth": auth})


@socketio.on("disconnect")
def on_disconnect(reason):
    known = {
        socketio.reason.CLIENT_DISCONNECT: "CLIENT_DISCONNECT",
        socketio.reason.SERVER_DISCONNECT: "SERVER_DISCONNECT",
        SocketIO.reason.PING_TIMEOUT: "PING_TIMEOUT",
        SocketIO.reason.TRANSPORT_CLOSE: "TRANSPORT_CLOSE",
        SocketIO.reason.TRANSPORT_ERROR: "TRANSPORT_ERROR",
    }
    note("disconnect", "/", request.sid, known.get(reason, reason))


@socketio.on("sync")
def on_sync(token):
    emit("synced", token)


@socketio.on("bye")
def on_bye():
    disconnect()


@socketio.event
def shout(data):
    emit("shouted", data.upper())


def on_plain(data):
    return ["plain", data, request.namespace]


socketio.on_event("plain", on_plain)
socketio.on_event("plain", on_plain, namespace="/chat")


# ---------------------------------------------------------------- "/chat": connect()

@socketio.on("connect", namespace="/chat")
def on_chat_connect():
    note("connect", "/chat", request.sid)


@socketio.on("disconnect", namespace="/chat")
def on_chat_disconnect():
    note("disconnect", "/chat", request.sid)


@socketio.on("sync", namespace="/chat")
def on_chat_sync(token):
    emit("synced", token)


@socketio.event(namespace="/chat")
def shout_chat(data):
    emit("shouted", "chat:" + data)


@socketio.on("bye", namespace="/chat")
def chat_bye():
    disconnect()


# ---------------------------------------------------------------- "/wild": catch-all events

@socketio.on("connect", namespace="/wild")
def on_wild_connect():
    pass


@socketio.on("*", namespace="/wild")
def wild_catch_all(event, *args):
    return ["caught", event, list(args), request.namespace]


@socketio.on("named", namespace="/wild")
def wild_named(data):
    return ["named", data]


# ---------------------------------------------------------------- class-based

class Lobby(Namespace):
    def on_connect(self, auth):
        note("connect", self.namespace, request.sid, auth)

    def on_disconnect(self, reason):
        note("disconnect", self.namespace, request.sid, reason)

    def on_hello(self, data):
        emit("hi", {"data": data, "namespace": request.namespace})

    def on_announce(self, data):
        self.emit("announced", data)
        return True

    def on_say(self, data):
        self.send(data)
        return True

    def on_add(self, a, b):
        return a + b

    def on_sync(self, token):
        emit("synced", token)


socketio.on_namespace(Lobby("/lobby"))
