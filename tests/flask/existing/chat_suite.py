"""A user's existing chat app and its unittest suite, written the way Flask-SocketIO's
documentation and its own tests write them: one module holding the app and the TestCase,
the test client created in each test, get_received() compared whole. test_existing_suite.py
runs every test of it against each implementation; nothing in it knows which one it gets."""

import unittest

from flask import Flask, session
from ferrosocket.flask import SocketIO, close_room, disconnect, emit, join_room, leave_room, rooms, send

app = Flask(__name__)
app.config["SECRET_KEY"] = "secret!"
socketio = SocketIO(app)
disconnected = None


@app.route("/")
def index():
    return "chat"


@app.route("/name/<name>")
def set_name(name):
    session["name"] = name
    return "ok"


@socketio.on("connect")
def on_connect(auth):
    if auth and auth.get("token") == "bad":
        return False
    send("connected")
    send({"connected": "foo"}, json=True)


@socketio.on("disconnect")
def on_disconnect():
    global disconnected
    disconnected = "/"


@socketio.on("connect", namespace="/test")
def on_connect_test():
    send("connected-test")


@socketio.on("disconnect", namespace="/test")
def on_disconnect_test():
    global disconnected
    disconnected = "/test"


@socketio.on("message")
def on_message(message):
    send(message)
    if message == "test session":
        session["a"] = "b"
    if message not in "test noackargs":
        return message


@socketio.on("json")
def on_json(data):
    send(data, json=True, broadcast=True)
    if not data.get("noackargs"):
        return data


@socketio.on("message", namespace="/test")
def on_message_test(message):
    send(message)


@socketio.on("my custom event")
def on_custom_event(data):
    emit("my custom response", data)
    if not data.get("noackargs"):
        return data


@socketio.on("other custom event")
def get_request_event(data):
    emit("my custom response", data, broadcast=True)


@socketio.on("join room")
def on_join_room(data):
    join_room(data["room"])


@socketio.on("leave room")
def on_leave_room(data):
    leave_room(data["room"])


@socketio.on("close room")
def on_close_room(data):
    close_room(data["room"])


@socketio.on("my room event")
def on_room_event(data):
    room = data.pop("room")
    emit("my room response", data, room=room)


@socketio.on("get rooms")
def on_get_rooms():
    return sorted(rooms())


@socketio.on("session")
def on_session(key):
    return session.get(key)


@socketio.on("leave")
def on_leave():
    disconnect()


class TestChat(unittest.TestCase):
    def test_connect(self):
        client = socketio.test_client(app)
        client2 = socketio.test_client(app)
        self.assertTrue(client.is_connected())
        self.assertTrue(client2.is_connected())
        self.assertNotEqual(client.eio_sid, client2.eio_sid)
        received = client.get_received()
        self.assertEqual(len(received), 2)
        self.assertEqual(received[0]["args"], "connected")
        self.assertEqual(received[1]["args"], {"connected": "foo"})
        client.disconnect()
        self.assertFalse(client.is_connected())
        self.assertTrue(client2.is_connected())
        client2.disconnect()
        self.assertFalse(client2.is_connected())

    def test_connect_refused(self):
        client = socketio.test_client(app, auth={"token": "bad"})
        self.assertFalse(client.is_connected())

    def test_connect_namespace(self):
        client = socketio.test_client(app, namespace="/test")
        self.assertTrue(client.is_connected("/test"))
        received = client.get_received("/test")
        self.assertEqual(len(received), 1)
        self.assertEqual(received[0]["args"], "connected-test")
        client.disconnect(namespace="/test")
        self.assertFalse(client.is_connected("/test"))

    def test_disconnect(self):
        global disconnected
        disconnected = None
        client = socketio.test_client(app)
        client.disconnect()
        self.assertEqual(disconnected, "/")

    def test_disconnect_namespace(self):
        global disconnected
        disconnected = None
        client = socketio.test_client(app, namespace="/test")
        client.disconnect("/test")
        self.assertEqual(disconnected, "/test")

    def test_send(self):
        client = socketio.test_client(app)
        client.get_received()
        client.send("echo this message back")
        received = client.get_received()
        self.assertEqual(len(received), 1)
        self.assertEqual(received[0]["args"], "echo this message back")

    def test_send_json(self):
        client1 = socketio.test_client(app)
        client2 = socketio.test_client(app)
        client1.get_received()
        client2.get_received()
        client1.send({"a": "b"}, json=True)
        received = client2.get_received()
        self.assertEqual(len(received), 1)
        self.assertEqual(received[0]["args"]["a"], "b")

    def test_send_namespace(self):
        client = socketio.test_client(app, namespace="/test")
        client.get_received("/test")
        client.send("echo this message back", namespace="/test")
        received = client.get_received("/test")
        self.assertEqual(len(received), 1)
        self.assertEqual(received[0]["args"], "echo this message back")

    def test_emit(self):
        client = socketio.test_client(app)
        client.get_received()
        client.emit("my custom event", {"a": "b"})
        received = client.get_received()
        self.assertEqual(len(received), 1)
        self.assertEqual(len(received[0]["args"]), 1)
        self.assertEqual(received[0]["name"], "my custom response")
        self.assertEqual(received[0]["args"][0]["a"], "b")

    def test_broadcast(self):
        client1 = socketio.test_client(app)
        client2 = socketio.test_client(app)
        client3 = socketio.test_client(app, namespace="/test")
        client2.get_received()
        client3.get_received("/test")
        client1.emit("other custom event", "foo")
        received = client2.get_received()
        self.assertEqual(len(received), 1)
        self.assertEqual(received[0]["args"][0], "foo")
        self.assertEqual(len(client3.get_received("/test")), 0)

    def test_ack(self):
        client = socketio.test_client(app)
        ack = client.send("echo this message back", callback=True)
        self.assertEqual(ack, "echo this message back")
        ack = client.send("test noackargs", callback=True)
        self.assertEqual(ack, [])
        ack = client.send({"a": "b"}, json=True, callback=True)
        self.assertEqual(ack, {"a": "b"})
        ack = client.emit("my custom event", {"a": "b"}, callback=True)
        self.assertEqual(ack, {"a": "b"})
        ack = client.emit("my custom event", {"noackargs": True}, callback=True)
        self.assertEqual(ack, [])

    def test_rooms(self):
        client1 = socketio.test_client(app)
        client2 = socketio.test_client(app)
        client1.get_received()
        client2.get_received()
        client1.emit("join room", {"room": "one"})
        client2.emit("join room", {"room": "one"})
        self.assertIn("one", client1.emit("get rooms", callback=True))
        client1.emit("my room event", {"a": "b", "room": "one"})
        received = client2.get_received()
        self.assertEqual(received, [
            {"name": "my room response", "args": [{"a": "b"}], "namespace": "/"}])
        self.assertEqual(len(client1.get_received()), 1)
        client1.emit("leave room", {"room": "one"})
        client1.emit("my room event", {"a": "b", "room": "one"})
        self.assertEqual(len(client1.get_received()), 0)
        self.assertEqual(len(client2.get_received()), 1)
        client2.emit("close room", {"room": "one"})
        client1.emit("my room event", {"a": "b", "room": "one"})
        self.assertEqual(client2.get_received(), [])
        self.assertNotIn("one", client2.emit("get rooms", callback=True))

    def test_session(self):
        flask_client = app.test_client()
        flask_client.get("/name/alice")
        client = socketio.test_client(app, flask_test_client=flask_client)
        self.assertEqual(client.emit("session", "name", callback=True), "alice")
        client.send("test session")
        self.assertEqual(client.emit("session", "a", callback=True), "b")
        # The managed session is the Socket.IO client's own: HTTP never sees "a".
        with flask_client.session_transaction() as http_session:
            self.assertNotIn("a", http_session)
            self.assertEqual(http_session["name"], "alice")

    def test_server_disconnect(self):
        client = socketio.test_client(app)
        client.emit("leave")
        self.assertFalse(client.is_connected())

    def test_http_route(self):
        self.assertEqual(app.test_client().get("/").data, b"chat")


if __name__ == "__main__":
    unittest.main()
