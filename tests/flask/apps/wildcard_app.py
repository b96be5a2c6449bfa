"""Handlers for every namespace (`namespace='*'`) on a server that accepts any namespace
(`namespaces='*'`), beside one namespace with its own handlers, for test_handlers.py."""

from flask import Flask, request
from ferrosocket.flask import SocketIO, emit

app = Flask(__name__)
socketio = SocketIO(app, namespaces="*")


@socketio.on("connect", namespace="*")
def on_any_connect(auth):
    emit("welcome", {"namespace": request.namespace, "auth": auth})


@socketio.on("where", namespace="*")
def where(data):
    return ["where", request.namespace, data]


@socketio.on("where", namespace="/own")
def own_where(data):
    return ["own", request.namespace, data]
