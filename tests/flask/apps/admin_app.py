"""The Admin UI on a Flask app, for test_admin.py: `socketio.server.instrument(...)` right
after `SocketIO(app)`, as a Flask-SocketIO user calls it (python-socketio's
`Server.instrument`; with ferrosocket.flask, `ferrosocket.Server.instrument`)."""

from flask import Flask, jsonify
from ferrosocket.flask import SocketIO, emit, join_room, rooms

app = Flask(__name__)
app.config["SECRET_KEY"] = "admin-app"
socketio = SocketIO(app)
admin = socketio.server.instrument(auth=False, server_stats_interval=1)


@socketio.on("join")
def on_join(room):
    join_room(room)
    return sorted(rooms())


@socketio.on("rooms")
def on_rooms():
    return sorted(rooms())


@socketio.on("sync")
def on_sync(token):
    emit("synced", token)


@app.route("/ping")
def ping():
    return jsonify("pong")
