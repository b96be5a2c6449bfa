"""One member of a Redis-backed fleet, for test_flask_fleet.py and the wire capture: a
Flask-SocketIO app as a user writes it, with `message_queue=` from the environment.

FLEET_REDIS_URL is the queue, FLEET_CHANNEL its channel (Flask-SocketIO's default,
`flask-socketio`, when unset) and FLEET_NAME the name this server puts in what it emits,
so a client can tell which server a broadcast came from. Socket events broadcast from a
handler; the HTTP routes do what a route or a background task would (context-free
`socketio.emit`, rooms and disconnects of sockets that may live on another server, an
emit whose ack comes back here) and report what came back."""

import os
import threading

from flask import Flask, jsonify, request
from ferrosocket.flask import SocketIO, close_room, disconnect, emit, join_room, leave_room

NAME = os.environ.get("FLEET_NAME", "server")

app = Flask(__name__)
app.config["SECRET_KEY"] = "fleet-app"
socketio = SocketIO(app, message_queue=os.environ["FLEET_REDIS_URL"],
                    channel=os.environ.get("FLEET_CHANNEL", "flask-socketio"))

lock = threading.Lock()
answers = []  # [tag, args] of the acks to the `question` events emitted with a callback


def answer_recorder(tag):
    def record(*args):
        with lock:
            answers.append([tag, list(args)])
    return record


def stamped(data):
    return {"from": NAME, "data": data}


@socketio.on("sync")
def on_sync(token):
    emit("synced", token)


@socketio.on("whoami")
def on_whoami():
    return {"server": NAME, "sid": request.sid}


@socketio.on("broadcast")
def on_broadcast(data):
    emit("news", stamped(data), broadcast=True)
    return True


@socketio.on("broadcast_others")
def on_broadcast_others(data):
    emit("news", stamped(data), broadcast=True, include_self=False)
    return True


@socketio.on("to_room")
def on_to_room(message):
    emit("news", stamped(message["data"]), to=message["room"])
    return True


@socketio.on("to_room_others")
def on_to_room_others(message):
    emit("news", stamped(message["data"]), to=message["room"], include_self=False)
    return True


@socketio.on("pair")
def on_pair(message):
    # A tuple is sent as several arguments.
    emit("pair", (NAME, message), broadcast=True)
    return True


@socketio.on("binary")
def on_binary(data):
    emit("blob", {"from": NAME, "data": data}, broadcast=True)
    return True


@socketio.on("join")
def on_join(room):
    join_room(room)
    return True


@socketio.on("leave")
def on_leave(room):
    leave_room(room)
    return True


@socketio.on("ask")
def on_ask(message):
    # From a handler: the ack runs with this client's context.
    socketio.emit("question", message["q"], to=message["sid"],
                  callback=answer_recorder(message.get("tag", "handler")))
    return True


@app.route("/emit", methods=["POST"])
def route_emit():
    body = request.get_json()
    socketio.emit(body["event"], body.get("data"), to=body.get("to"),
                  skip_sid=body.get("skip_sid"), namespace=body.get("namespace", "/"))
    return jsonify(ok=True)


@app.route("/ask", methods=["POST"])
def route_ask():
    body = request.get_json()
    socketio.emit("question", body["q"], to=body["sid"],
                  callback=answer_recorder(body.get("tag", "route")))
    return jsonify(ok=True)


@app.route("/answers")
def route_answers():
    with lock:
        return jsonify(list(answers))


@app.route("/join", methods=["POST"])
def route_join():
    body = request.get_json()
    join_room(body["room"], sid=body["sid"], namespace="/")
    return jsonify(ok=True)


@app.route("/leave", methods=["POST"])
def route_leave():
    body = request.get_json()
    leave_room(body["room"], sid=body["sid"], namespace="/")
    return jsonify(ok=True)


@app.route("/close_room", methods=["POST"])
def route_close_room():
    close_room(request.get_json()["room"], namespace="/")
    return jsonify(ok=True)


@app.route("/disconnect", methods=["POST"])
def route_disconnect():
    disconnect(sid=request.get_json()["sid"], namespace="/")
    return jsonify(ok=True)


@app.route("/name")
def route_name():
    return jsonify(name=NAME)
