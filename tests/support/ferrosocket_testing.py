"""What the Python test suites share: a server process that announces its port with a
`LISTENING <host>:<port>` line, bounded waits, and python-socketio client clean-up.

Used by tests/python (against the Rust test server or the binding's spec_server.py),
tests/pybinding (the chat examples as processes, python-socketio clients of the binding)
and tests/c/client.py. Both pytest.ini files put this folder on the path; client.py adds it
itself. It must never import ferrosocket (tests/python runs without the binding) nor hold
fixtures or tests (each suite's conftest.py makes those from these pieces).
"""

from __future__ import annotations

import collections
import contextlib
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

WAIT = 5.0
"""The default bound, in seconds, on every wait here and in the suites' helpers."""

STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

_ANNOUNCEMENT = re.compile(r"([A-Z]+) (\S+):(\d+)\s*")


def wait_until(fn: Callable[[], Any], timeout: float = WAIT, what: str = "condition",
               every: float = 0.02) -> Any:
    """Calls `fn` every `every` seconds until it returns something true, and returns that;
    raises AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at `host` right now, for a server that must be told its
    port rather than picking one and announcing it (e.g. Flask-SocketIO's `run`). Another
    process may take it before the caller binds it: a start that fails then is retried by
    the caller, never assumed away."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_accepts(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- server processes


class ServerProcess:
    """A started server process: where it listens, its stderr, and how to stop it.

    `port` is the one of its LISTENING line; `announced` has the ports of the lines of the
    same shape it printed before that one (e.g. the Flask chat's `SOCKETIO <host>:<port>`),
    by their first word. `log_tail()` is the end of its stderr, complete once it stopped.
    """

    __test__ = False  # not a pytest test class, though the suites import it as TestServer

    def __init__(self, proc: subprocess.Popen, port: int, stderr_tail: Any,
                 announced: Optional[Dict[str, int]] = None, host: str = "127.0.0.1",
                 pumps: Sequence[threading.Thread] = ()) -> None:
        self.proc = proc
        self.port = port
        self.host = host
        self.url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}"
        self.origin = f"http://{host}:{port}"
        self.announced: Dict[str, int] = dict(announced or {})
        self._stderr_tail = stderr_tail
        self._pumps = list(pumps)

    def eio_url(self, query: str = "EIO=4&transport=polling", path: str = "/socket.io/") -> str:
        return f"{self.url}{path}?{query}"

    def log_tail(self) -> str:
        return "".join(self._stderr_tail)[-4000:]

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = STOP_TIMEOUT, sig: int = signal.SIGTERM) -> Tuple[Optional[int], bool]:
        """Sends `sig` (SIGTERM), then SIGKILL after `timeout`. Returns (returncode, killed).
        Waits (bounded) for the output readers, so `log_tail()` then has all of stderr."""
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
                killed = True
        for pump in self._pumps:
            pump.join(timeout=2.0)
        return self.proc.returncode, killed


def _pump(stream: Any, sink: Callable[[str], Any]) -> None:
    try:
        for line in iter(stream.readline, ""):
            sink(line)
    except (ValueError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def start_command(cmd: List[str], startup_timeout: float = STARTUP_TIMEOUT,
                  env: Optional[Dict[str, str]] = None) -> ServerProcess:
    """Starts `cmd` (stdin from /dev/null) and returns it once it printed its
    `LISTENING <host>:<port>` line: the test-server, the node reference server, the chat
    examples, spec_server.py. Raises RuntimeError, with its output, if it exits first or
    prints no such line within `startup_timeout` seconds (it is then killed)."""
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
    )
    stderr_tail: Deque[str] = collections.deque(maxlen=2000)
    lines: "queue.Queue[str]" = queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, lines.put), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, stderr_tail.append), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    deadline = time.monotonic() + startup_timeout
    seen: List[str] = []
    announced: Dict[str, int] = {}
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            proc.kill()
            proc.wait()
            raise RuntimeError(
                f"{cmd[0]} did not print LISTENING in {startup_timeout}s; stdout={seen!r} "
                f"stderr={''.join(stderr_tail)[-2000:]}"
            )
        try:
            line = lines.get(timeout=min(remaining, 0.1))
        except queue.Empty:
            if proc.poll() is not None:
                for pump in pumps:
                    pump.join(timeout=2.0)
                raise RuntimeError(
                    f"{cmd[0]} exited early with {proc.returncode}; stdout={seen!r} "
                    f"stderr={''.join(stderr_tail)[-2000:]}"
                ) from None
            continue
        seen.append(line)
        m = _ANNOUNCEMENT.fullmatch(line)
        if m is None:
            continue
        if m.group(1) == "LISTENING":
            return ServerProcess(proc, int(m.group(3)), stderr_tail, announced,
                                 host=m.group(2), pumps=pumps)
        announced[m.group(1)] = int(m.group(3))


# --------------------------------------------------------------------------- python-socketio clients


def drain_client_writes(sio: Any, timeout: float = 2.0) -> None:
    """Wait (bounded) until the client has sent everything it queued and its writer is
    idle, waiting for the next packet.

    python-engineio's polling write loop runs `while state == 'connected'`: when
    `disconnect()` is called while a POST is in flight, or after that POST returned but
    before the loop checked its state again, the loop ends there and the DISCONNECT and
    close packets `disconnect()` queues are never sent: the server never hears of it, and
    the client's pending GET waits for the server's next ping (25 s). This is a client
    race, seen with any server. The queue's tasks are marked done before that check, so
    an empty queue is not enough: this also waits until the writer blocks in the queue's
    `get`, after the check (python-engineio's writer is the queue's only reader).
    Call it before a `disconnect()` whose effect on the server a test waits for.
    """
    eio = getattr(sio, "eio", None)
    pending = getattr(eio, "queue", None)
    # The threads blocked in `pending.get()` (queue.Queue's condition's waiters: CPython
    # internals, stable since Python 2; without them, only the task count is checked).
    waiters = getattr(getattr(pending, "not_empty", None), "_waiters", None)
    deadline = time.monotonic() + timeout
    while (
        pending is not None
        and (pending.unfinished_tasks or (waiters is not None and not waiters))
        and getattr(eio, "state", None) == "connected"
        and time.monotonic() < deadline
    ):
        time.sleep(0.005)


def release_engineio_client(eio: Any) -> None:
    """python-engineio leaves its websocket-client socket (and HTTP session) open when the
    *server* closes the connection; close them so no ResourceWarning fires later."""
    ws = getattr(eio, "ws", None)
    if ws is not None:
        with contextlib.suppress(Exception):
            ws.shutdown()
    http = getattr(eio, "http", None)
    if http is not None and hasattr(http, "close"):
        with contextlib.suppress(Exception):
            http.close()


CLIENT_WEBSOCKET_CLOSE_WAIT = 0.25
"""How long a client's WebSocket close waits for the server's close frame, in seconds."""


def shorten_websocket_close(sio: Any, wait: float = CLIENT_WEBSOCKET_CLOSE_WAIT) -> None:
    """Makes the client's coming `disconnect()` wait `wait` seconds, not 3, for the
    server's close frame. python-engineio closes its websocket-client socket while its
    read thread is still reading it: when that thread takes the server's close frame,
    websocket-client's `close()` waits out its whole timeout (3 s) unless the server also
    closes the TCP connection. Flask-SocketIO's and python-socketio's servers do not do so
    at once, and every WebSocket test's teardown paid the 3 s (seen with --durations).
    The close frame is still sent; only the wait for an answer is shorter."""
    ws = getattr(getattr(sio, "eio", None), "ws", None)
    close = getattr(ws, "close", None)
    if close is None or getattr(close, "shortened", False):
        return

    def shortened(*args: Any, **kwargs: Any) -> Any:
        if len(args) < 3:
            kwargs.setdefault("timeout", wait)
        return close(*args, **kwargs)

    shortened.shortened = True  # type: ignore[attr-defined]
    ws.close = shortened


def close_client(sio: Any) -> None:
    """Ends a socketio.Client however its test left it (connected, refused, or disconnected
    by the server) without raising: sends what it queued, disconnects, releases its
    sockets."""
    drain_client_writes(sio)
    shorten_websocket_close(sio)
    with contextlib.suppress(Exception):
        sio.disconnect()
    if hasattr(sio, "shutdown"):
        with contextlib.suppress(Exception):
            sio.shutdown()
    release_engineio_client(getattr(sio, "eio", None))

