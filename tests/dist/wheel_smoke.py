"""What a user of the built wheel does first, run by tests/dist/run.sh with the interpreter
of a fresh virtualenv into which only the wheel and tests/dist/requirements.txt were
installed, with no cargo or rustc on PATH and a scratch directory as the working directory.

Usage: wheel_smoke.py VERSION     exits 0 when every check held; prints what it checked
       wheel_smoke.py flask PORT  (internal) the Flask app, served on 127.0.0.1:PORT
"""

import importlib.metadata
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import requests
import socketio

WAIT = 10.0


def check(cond, message):
    if not cond:
        print(f"wheel_smoke: FAILED: {message}", file=sys.stderr)
        sys.exit(1)
    print(f"wheel_smoke: ok: {message}")


def wait_for(fn, what):
    deadline = time.monotonic() + WAIT
    while not fn():
        if time.monotonic() > deadline:
            check(False, f"timed out waiting for {what}")
        time.sleep(0.02)


def flask_app(port):
    # The seed articles' shape: a route and a socket handler on one port, one import line.
    from flask import Flask

    from ferrosocket.flask import SocketIO, emit, join_room

    app = Flask(__name__)
    sio = SocketIO(app)

    @app.route("/")
    def index():
        return "hello from flask"

    @sio.on("join")
    def join(room):
        join_room(room)
        emit("joined", room, to=room)
        return "ok"

    sio.run(app, host="127.0.0.1", port=port)


def installed_from_venv(module):
    path = os.path.realpath(module.__file__)
    return path.startswith(os.path.realpath(sys.prefix) + os.sep)


def main(version):
    for tool in ("cargo", "rustc"):
        check(shutil.which(tool) is None, f"no {tool} on PATH")

    import ferrosocket
    import ferrosocket.flask

    check(installed_from_venv(ferrosocket), f"ferrosocket imported from the venv ({ferrosocket.__file__})")
    check(installed_from_venv(ferrosocket._native), "the native module is the wheel's")
    check(ferrosocket.__version__ == version, f"ferrosocket.__version__ == {version!r}")
    check(importlib.metadata.version("ferrosocket") == version, "the installed distribution's version")

    # ferrosocket.Server with python-socketio clients, on both transports.
    sio = ferrosocket.Server()

    @sio.event
    def connect(sid, environ, auth):
        sio.enter_room(sid, "lobby")

    @sio.on("echo")
    def echo(sid, data):
        sio.emit("news", {"to": "lobby", "from": sid}, to="lobby")
        return data

    @sio.on("rooms")
    def list_rooms(sid):
        return sorted(sio.rooms(sid))

    sio.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sio.port}"
    try:
        for transport in ("polling", "websocket"):
            client = socketio.Client()
            news = []
            client.on("news", news.append)
            client.connect(url, transports=[transport], wait_timeout=WAIT)
            try:
                answer = client.call("echo", {"n": 1, "text": "héllo"}, timeout=WAIT)
                check(answer == {"n": 1, "text": "héllo"}, f"{transport}: the ack echoes the event")
                wait_for(lambda: news, f"{transport}: the room broadcast")
                check(news[0]["to"] == "lobby", f"{transport}: the room broadcast arrives")
                check(client.call("rooms", timeout=WAIT) == sorted([client.get_sid(), "lobby"]),
                      f"{transport}: the client's rooms")
            finally:
                client.disconnect()
    finally:
        sio.stop()

    # ferrosocket.flask: the route and the socket on one port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = subprocess.Popen([sys.executable, os.path.abspath(__file__), "flask", str(port)])
    try:
        def serving():
            try:
                return requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
            except requests.ConnectionError:
                if app.poll() is not None:
                    check(False, f"the Flask app exited with {app.returncode}")
                return False

        wait_for(serving, "the Flask app")
        check(requests.get(f"http://127.0.0.1:{port}/", timeout=WAIT).text == "hello from flask",
              "ferrosocket.flask: the Flask route answers")
        client = socketio.Client()
        joined = threading.Event()
        client.on("joined", lambda room: joined.set())
        client.connect(f"http://127.0.0.1:{port}", wait_timeout=WAIT)
        try:
            check(client.call("join", "r1", timeout=WAIT) == "ok", "ferrosocket.flask: the handler acks")
            check(joined.wait(WAIT), "ferrosocket.flask: emit to the room arrives, on the same port")
        finally:
            client.disconnect()
    finally:
        app.terminate()
        app.wait(WAIT)


if __name__ == "__main__":
    if sys.argv[1:2] == ["flask"]:
        flask_app(int(sys.argv[2]))
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit(__doc__)
