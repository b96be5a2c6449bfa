"""Serving ferrosocket.flask apps: socketio.run(app) on one port, python -m ferrosocket,
the debug reloader, `flask run`, the access log and the options SocketIO refuses.

Each test writes a small Flask app into its tmp_path and runs it as a process on a free
loopback port; HTTP requests go through urllib, Socket.IO through python-socketio.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest
import socketio
from ferrosocket_testing import close_client, wait_until

APP = '''
from flask import Flask, request
from ferrosocket.flask import SocketIO, emit

app = Flask(__name__)
socketio = SocketIO(app)

@app.route("/")
def index():
    return "VERSION-1"

@app.route("/push")
def push():
    socketio.emit("pushed", request.args.get("v", ""))
    return "pushed"

@socketio.on("echo")
def echo(data):
    emit("echoed", {"data": data, "sid": request.sid})
    return data

if __name__ == "__main__":
    import sys
    socketio.run(app, host="127.0.0.1", port=int(sys.argv[1]), **eval(sys.argv[2] if len(sys.argv) > 2 else "{}"))
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 5.0) -> tuple:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class App:
    """One app process, its stderr collected into a file."""

    def __init__(self, tmp_path: Path, argv: List[str], env: Optional[Dict[str, str]] = None):
        self.log = tmp_path / "stderr.log"
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env["PYTHONUNBUFFERED"] = "1"
        self._sink = open(self.log, "w")
        self.proc = subprocess.Popen(
            argv,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._sink,
            env=full_env,
            start_new_session=True,
        )

    def stderr(self) -> str:
        return self.log.read_text()

    def stop(self) -> Optional[int]:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._sink.close()
        return self.proc.returncode


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "chatapp.py").write_text(APP)
    return tmp_path


@pytest.fixture
def started() -> Iterator[List[App]]:
    apps: List[App] = []
    yield apps
    for app in apps:
        app.stop()


def socket_round_trip(port: int, transport: str) -> None:
    client = socketio.Client(reconnection=False)
    got: List[dict] = []
    client.on("echoed", got.append)
    try:
        client.connect(f"http://127.0.0.1:{port}", transports=[transport], wait_timeout=5)
        assert client.call("echo", "hi", timeout=5) == "hi"
        wait_until(lambda: got, what="the echoed event")
        assert got[0] == {"data": "hi", "sid": client.get_sid()}
    finally:
        close_client(client)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_run_serves_routes_and_socket_on_one_port(app_dir: Path, started: List[App], transport: str) -> None:
    port = free_port()
    app = App(app_dir, [sys.executable, "chatapp.py", str(port)])
    started.append(app)
    wait_until(lambda: listening(port), timeout=10, what="the app to listen")
    assert get(f"http://127.0.0.1:{port}/") == (200, "VERSION-1")
    socket_round_trip(port, transport)
    assert f"Running on http://127.0.0.1:{port}" in app.stderr()


def test_http_route_emits_to_socket_clients(app_dir: Path, started: List[App]) -> None:
    port = free_port()
    started.append(App(app_dir, [sys.executable, "chatapp.py", str(port)]))
    wait_until(lambda: listening(port), timeout=10, what="the app to listen")
    client = socketio.Client(reconnection=False)
    pushed: List[str] = []
    client.on("pushed", pushed.append)
    try:
        client.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=5)
        assert get(f"http://127.0.0.1:{port}/push?v=42") == (200, "pushed")
        wait_until(lambda: pushed == ["42"], what="the event emitted by the route")
    finally:
        close_client(client)


def test_sigterm_stops_gracefully(app_dir: Path, started: List[App]) -> None:
    port = free_port()
    app = App(app_dir, [sys.executable, "chatapp.py", str(port)])
    started.append(app)
    wait_until(lambda: listening(port), timeout=10, what="the app to listen")
    client = socketio.Client(reconnection=False)
    reasons: List[str] = []
    client.on("disconnect", lambda *reason: reasons.append(str(reason)))
    client.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=5)
    try:
        os.killpg(app.proc.pid, signal.SIGTERM)
        assert app.proc.wait(timeout=10) == 0
        wait_until(lambda: reasons, what="the client to see the disconnect")
        assert not listening(port)
    finally:
        close_client(client)


def test_log_output_prints_one_access_line_per_request(app_dir: Path, started: List[App]) -> None:
    port = free_port()
    app = App(app_dir, [sys.executable, "chatapp.py", str(port), "{'log_output': True}"])
    started.append(app)
    wait_until(lambda: listening(port), timeout=10, what="the app to listen")
    get(f"http://127.0.0.1:{port}/?x=1")
    get(f"http://127.0.0.1:{port}/missing")
    lines = wait_until(
        lambda: [l for l in app.stderr().splitlines() if '"GET /' in l and "HTTP/1.1" in l],
        what="access lines",
    )
    wait_until(lambda: len([l for l in app.stderr().splitlines() if '"GET /' in l]) >= 2,
               what="two access lines")
    text = app.stderr()
    assert '"GET /?x=1 HTTP/1.1" 200' in text, text
    assert '"GET /missing HTTP/1.1" 404' in text, text
    assert lines


def _listening_pids(port: int) -> List[int]:
    """The pids holding a listening socket on 127.0.0.1:port (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pids.append(int(proc.name))
                    break
        except OSError:
            continue
    return pids


def test_debug_reloader_child_owns_the_port_and_reloads(app_dir: Path, started: List[App]) -> None:
    port = free_port()
    app = App(app_dir, [sys.executable, "chatapp.py", str(port), "{'debug': True}"])
    started.append(app)
    wait_until(lambda: listening(port), timeout=15, what="the app to listen")
    owners = _listening_pids(port)
    assert owners and app.proc.pid not in owners, (owners, app.proc.pid)
    assert get(f"http://127.0.0.1:{port}/") == (200, "VERSION-1")
    source = app_dir / "chatapp.py"
    time.sleep(1.1)  # the reloader compares modification times in whole seconds on some filesystems
    source.write_text(APP.replace("VERSION-1", "VERSION-2"))
    wait_until(lambda: listening(port) and get(f"http://127.0.0.1:{port}/")[1] == "VERSION-2",
               timeout=20, every=0.2, what="the reloaded app")
    new_owners = _listening_pids(port)
    assert new_owners and set(new_owners).isdisjoint(owners), (new_owners, owners)
    socket_round_trip(port, "websocket")


def test_debug_shows_werkzeug_debugger_on_error(app_dir: Path, started: List[App]) -> None:
    (app_dir / "chatapp.py").write_text(APP.replace(
        '    return "VERSION-1"', '    raise RuntimeError("kaboom")'))
    port = free_port()
    app = App(app_dir, [sys.executable, "chatapp.py", str(port), "{'debug': True, 'use_reloader': False}"])
    started.append(app)
    wait_until(lambda: listening(port), timeout=10, what="the app to listen")
    status, body = get(f"http://127.0.0.1:{port}/")
    assert status == 500
    assert "Werkzeug Debugger" in body and "kaboom" in body


@pytest.mark.parametrize("spec", ["chatapp:app", "chatapp:socketio", "chatapp"])
def test_python_m_ferrosocket(app_dir: Path, started: List[App], spec: str) -> None:
    port = free_port()
    started.append(App(app_dir, [sys.executable, "-m", "ferrosocket", spec, "--port", str(port)]))
    wait_until(lambda: listening(port), timeout=10, what="python -m ferrosocket to listen")
    assert get(f"http://127.0.0.1:{port}/") == (200, "VERSION-1")
    socket_round_trip(port, "polling")


def test_python_m_ferrosocket_reads_the_environment(app_dir: Path, started: List[App]) -> None:
    port = free_port()
    app = App(
        app_dir,
        [sys.executable, "-m", "ferrosocket"],
        env={"FERROSOCKET_APP": "chatapp:app", "FERROSOCKET_PORT": str(port),
             "FERROSOCKET_ACCESS_LOG": "1"},
    )
    started.append(app)
    wait_until(lambda: listening(port), timeout=10, what="python -m ferrosocket to listen")
    assert get(f"http://127.0.0.1:{port}/") == (200, "VERSION-1")
    wait_until(lambda: '"GET / HTTP/1.1" 200' in app.stderr(), what="the access line")
    assert app.stop() == 0


def test_python_m_ferrosocket_without_app_says_so(app_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ferrosocket", "os"], cwd=app_dir,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "no SocketIO object, Flask app or ferrosocket.Server" in done.stderr


def test_flask_run_says_what_to_run_instead(app_dir: Path, started: List[App]) -> None:
    port = free_port()
    flask = Path(sys.executable).with_name("flask")
    app = App(app_dir, [str(flask), "--app", "chatapp", "run", "--port", str(port)])
    started.append(app)
    wait_until(lambda: listening(port), timeout=10, what="flask run to listen")
    assert get(f"http://127.0.0.1:{port}/") == (200, "VERSION-1")
    status, body = get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling")
    assert status == 503
    assert "python -m ferrosocket chatapp" in body
    assert "python -m ferrosocket chatapp" in app.stderr()


def test_message_queue_takes_redis_urls_and_refuses_other_queues() -> None:
    from flask import Flask

    import ferrosocket
    from ferrosocket.flask import SocketIO

    # Flask-SocketIO apps write 'redis://': localhost, as redis-py reads it. The server
    # connects in the background (nothing listens here: it retries and serves locally).
    socketio = SocketIO(Flask(__name__), message_queue="redis://127.0.0.1:1/0")
    assert socketio.server is not None and socketio.server.redis_stats() is not None
    socketio.server.stop()
    with pytest.raises(NotImplementedError, match="kombu"):
        SocketIO(Flask(__name__), message_queue="amqp://guest@localhost//")
    with pytest.raises(NotImplementedError, match="message_queue"):
        SocketIO(message_queue="kafka://localhost:9092")
    with pytest.raises(TypeError, match="RedisManager"):
        SocketIO(Flask(__name__), client_manager=object())
    # A URL redis-rs cannot read is a ValueError at once: the failed construction must
    # not wait for handler threads that need the GIL this thread holds.
    with pytest.raises(ValueError, match="Redis URL"):
        ferrosocket.Server(client_manager=ferrosocket.RedisManager("redis://[::1"))


def test_async_mode_is_accepted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from flask import Flask

    from ferrosocket.flask import SocketIO, _socketio

    _socketio._logged_ignored.discard("async_mode")
    with caplog.at_level(logging.INFO, logger="ferrosocket.flask"):
        first = SocketIO(Flask(__name__), async_mode="eventlet")
        second = SocketIO(Flask(__name__), async_mode="gevent")
    lines = [r.getMessage() for r in caplog.records if "async_mode" in r.getMessage()]
    assert len(lines) == 1, lines
    assert first.server is not None and second.server is not None
    first.server.stop()
    second.server.stop()


def test_channel_without_a_queue_is_ignored() -> None:
    from flask import Flask

    from ferrosocket.flask import SocketIO

    socketio = SocketIO(Flask(__name__), channel="chat-cluster")
    assert socketio.server is not None
    socketio.server.stop()
