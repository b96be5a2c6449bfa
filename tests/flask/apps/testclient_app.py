"""An app for the test client (test_test_client.py): handlers that answer in every shape
the test client reports, refuse, fail, disconnect, and read the session and Flask-Login's
current_user that a Flask test client's cookies carry."""

from flask import Flask, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user
from ferrosocket.flask import SocketIO, disconnect, emit, join_room, send

app = Flask(__name__)
app.config["SECRET_KEY"] = "testclient-app"
socketio = SocketIO(app)
login_manager = LoginManager(app)
disconnects = []


class User(UserMixin):
    def __init__(self, user_id):
        self.id = user_id


@login_manager.user_loader
def load_user(user_id):
    return User(user_id)


@app.route("/login/<name>")
def login(name):
    login_user(User(name))
    session["note"] = "set over HTTP"
    return "logged in"


@socketio.on("connect")
def on_connect(auth):
    if auth and auth.get("refuse"):
        return False
    emit("welcome", {
        "auth": auth,
        "args": request.args.to_dict(),
        "header": request.headers.get("X-Custom"),
    })


@socketio.on("disconnect")
def on_disconnect(reason):
    disconnects.append([request.sid, request.namespace, reason])


@socketio.on("connect", namespace="/ns")
def on_ns_connect(auth):
    emit("welcome", {"namespace": request.namespace, "auth": auth})


@socketio.on("echo", namespace="/ns")
def on_ns_echo(data):
    emit("echo", data)


@socketio.on("echo")
def on_echo(data):
    emit("echo", data)


@socketio.on("pair")
def on_pair(a, b):
    emit("pair", (a, b))


@socketio.on("message")
def on_message(data):
    send(data)


@socketio.on("json")
def on_json(data):
    send(data, json=True)


@socketio.on("ack")
def on_ack(data):
    return data


@socketio.on("ack_tuple")
def on_ack_tuple(data):
    return data, 2


@socketio.on("ack_none")
def on_ack_none():
    pass


@socketio.on("broadcast")
def on_broadcast(data):
    emit("news", data, broadcast=True)


@socketio.on("join")
def on_join(room):
    join_room(room)


@socketio.on("to_room")
def on_to_room(data):
    emit("room_news", data["text"], to=data["room"])


@socketio.on("boom")
def on_boom():
    raise RuntimeError("handler failed")


@socketio.on("unserializable")
def on_unserializable():
    emit("bad", object())


@socketio.on("kick_me")
def on_kick_me():
    disconnect()


@socketio.on("session")
def on_session():
    return {"note": session.get("note"),
            "user": current_user.id if current_user.is_authenticated else None}
