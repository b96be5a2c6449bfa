"""Events, acks, rooms and server-initiated emits, for test_events.py: a Flask-SocketIO app
as a user writes it. Every handler names what it exercises; the HTTP routes let the tests
trigger context-free emits and read what the server recorded."""

import threading

from flask import Flask, jsonify, request
from ferrosocket.flask import SocketIO, call, close_room, disconnect, emit, join_room, leave_room, rooms, send

app = Flask(__name__)
app.config["SECRET_KEY"] = "events-app"
socketio = SocketIO(app)

lock = threading.Lock()
answers = []  # (sid, args) of the clients' acks to emit(callback=...)


def remember_answer(*args):
    # Runs with the emitting client's context: request.sid is the client that answered.
    with lock:
        answers.append([request.sid, list(args)])


@socketio.on("sync")
def on_sync(token):
    emit("synced", token)


@socketio.on("echo")
def on_echo(data):
    emit("echo", data)


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
    return data, "two", 3


@socketio.on("ack_none")
def on_ack_none(data):
    pass


@socketio.on("ask")
def on_ask(data):
    emit("question", data, callback=remember_answer)
    return True


@socketio.on("call_me")
def on_call_me(data):
    return call("question", data, timeout=10)


@socketio.on("broadcast")
def on_broadcast(data):
    emit("news", data, broadcast=True)
    return True


@socketio.on("broadcast_others")
def on_broadcast_others(data):
    emit("news", data, broadcast=True, include_self=False)
    return True


@socketio.on("broadcast_skip")
def on_broadcast_skip(data):
    emit("news", data["text"], broadcast=True, skip_sid=data["skip"])
    return True


@socketio.on("send_broadcast")
def on_send_broadcast(data):
    send(data, broadcast=True)
    return True


@socketio.on("join")
def on_join(room):
    join_room(room)
    return sorted(rooms())


@socketio.on("leave")
def on_leave(room):
    leave_room(room)
    return sorted(rooms())


@socketio.on("rooms")
def on_rooms():
    return sorted(rooms())


@socketio.on("to_room")
def on_to_room(data):
    emit("room_news", data["text"], to=data["room"])
    return True


@socketio.on("room_kw")
def on_room_kw(data):
    emit("room_news", data["text"], room=data["room"])
    return True


@socketio.on("room_others")
def on_room_others(data):
    emit("room_news", data["text"], to=data["room"], include_self=False)
    return True


@socketio.on("send_room")
def on_send_room(data):
    send(data["text"], to=data["room"])
    return True


@socketio.on("close")
def on_close(room):
    close_room(room)
    return True


@socketio.on("kick_me")
def on_kick_me():
    disconnect()


@socketio.on("seed_broadcast")
def on_seed_broadcast(msg):
    # The first seed article's line: Flask-SocketIO 5.7 raises TypeError here.
    socketio.emit("message", msg, broadcast=True)
    return True


@socketio.on("ticks")
def on_ticks(count):
    socketio.start_background_task(ticker, request.sid, count)
    return True


def ticker(sid, count):
    for i in range(count):
        socketio.sleep(0.01)
        socketio.emit("tick", i, to=sid)


@app.route("/notify")
def notify():
    socketio.emit("notice", request.args["text"])
    return "ok"


@app.route("/notify_room")
def notify_room():
    socketio.emit("notice", request.args["text"], to=request.args["room"])
    return "ok"


@app.route("/notify_namespace")
def notify_namespace():
    socketio.emit("notice", request.args["text"], namespace="/other")
    return "ok"


@app.route("/send")
def send_route():
    socketio.send(request.args["text"])
    return "ok"


@app.route("/close/<room>")
def close_route(room):
    socketio.close_room(room)
    return "ok"


@app.route("/call/<sid>")
def call_route(sid):
    return jsonify(socketio.call("question", request.args["text"], to=sid, timeout=10))


@app.route("/answers")
def answers_route():
    with lock:
        return jsonify(answers)


@socketio.on("sync", namespace="/other")
def on_other_sync(token):
    emit("synced", token)
