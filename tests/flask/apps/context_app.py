"""What a handler sees of Flask, for test_context.py: request.sid/namespace/event, the
handshake's query string, headers, cookies and address, current_app, g (fresh per event),
the session (manage_session=True, the default: a per-connection fork of the Flask session),
Flask-Login's current_user, and the teardown hooks run around every event."""

import threading

from flask import Flask, current_app, g, jsonify, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user
from ferrosocket.flask import SocketIO, emit

app = Flask(__name__)
app.config["SECRET_KEY"] = "context-app"
app.config["GREETING"] = "hello from the config"
socketio = SocketIO(app)
login_manager = LoginManager(app)

lock = threading.Lock()
teardowns = []


class User(UserMixin):
    def __init__(self, user_id):
        self.id = user_id


@login_manager.user_loader
def load_user(user_id):
    return User(user_id)


@app.teardown_request
def after_request_teardown(error):
    event = getattr(request, "event", None)
    if event is not None:
        with lock:
            teardowns.append(["request", request.sid, event["message"]])


@app.teardown_appcontext
def after_appcontext_teardown(error):
    if "event" in g:
        with lock:
            teardowns.append(["appcontext", g.sid, g.event])


@app.route("/teardowns")
def teardowns_route():
    with lock:
        return jsonify(teardowns)


@app.route("/login/<name>")
def login(name):
    login_user(User(name))
    return "logged in"


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


@socketio.on("whoami")
def whoami(*args):
    return {
        "sid": request.sid,
        "namespace": request.namespace,
        "message": request.event["message"],
        "args": list(request.event["args"]),
    }


@socketio.on("whoami", namespace="/ctx")
def whoami_ctx(data):
    return {"sid": request.sid, "namespace": request.namespace,
            "message": request.event["message"]}


@socketio.on("handshake")
def handshake():
    return {
        "args": request.args.to_dict(),
        "header": request.headers.get("X-Custom"),
        "cookie": request.cookies.get("flavor"),
        "remote_addr": request.remote_addr,
        "path": request.path,
        "app": current_app.name == app.name,
        "config": current_app.config["GREETING"],
    }


@socketio.on("g")
def g_event(value):
    before = g.get("value")
    g.value = value
    g.sid = request.sid
    g.event = "g"
    return before


@socketio.on("session_set")
def session_set(value):
    session["value"] = value
    return True


@socketio.on("session_get")
def session_get():
    return session.get("value")


@socketio.on("me")
def me():
    if current_user.is_authenticated:
        return current_user.id
    return None
