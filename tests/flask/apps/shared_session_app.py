"""The Flask session with manage_session=False, for test_context.py: handlers use Flask's
session interface on the cookie the connection's handshake carried, so what HTTP routes
stored before the connection is seen by the socket."""

from flask import Flask, jsonify, session
from ferrosocket.flask import SocketIO, emit

app = Flask(__name__)
app.config["SECRET_KEY"] = "shared-session-app"
socketio = SocketIO(app, manage_session=False)


@app.route("/session/set/<value>")
def http_session_set(value):
    session["value"] = value
    return "ok"


@app.route("/session/get")
def http_session_get():
    return jsonify(session.get("value"))


@socketio.on("sync")
def on_sync(token):
    emit("synced", token)


@socketio.on("session_set")
def session_set(value):
    session["value"] = value
    return True


@socketio.on("session_get")
def session_get():
    return session.get("value")
