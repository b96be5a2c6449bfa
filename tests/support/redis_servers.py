"""Real redis-server processes for the Python suites: one server on a free loopback port (or
a unix socket, or behind a password), and a three-node Redis Cluster on loopback.

Every server runs without persistence (`--save '' --appendonly no`) in its own temporary
folder, is started and stopped by pid, and is ready when it answers PING (an answer of
`-NOAUTH` counts: the server is up, it only wants the password). The Debian package
`redis-server` provides the binaries; when they are missing, `ensure_redis()` installs them
the way the shell scripts do (tests/lib/env.sh's `ensure_redis`).

    with RedisServer() as redis:         # redis.url == "redis://127.0.0.1:<port>/0"
        ...
        redis.kill()                     # SIGKILL, as a crash would
        redis.restart()                  # the same port (or socket) again, empty
    with RedisServer(unix_socket=True) as redis:   # redis.url == "unix:///tmp/.../redis.sock"
    with RedisServer(password="pw") as redis:      # redis.url == "redis://:pw@127.0.0.1:<port>/0"
    with RedisCluster() as cluster:      # cluster.url: one node; cluster.nodes: all three

Like ferrosocket_testing.py, this never imports ferrosocket nor redis-py (the suites that
use it may have neither) and holds no fixture: each suite's conftest.py makes those.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import List, Optional, Sequence

from ferrosocket_testing import STARTUP_TIMEOUT, STOP_TIMEOUT, free_port, wait_until

HOST = "127.0.0.1"
_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ENV_SH = os.path.join(_ROOT, "tests", "lib", "env.sh")


def ensure_redis() -> str:
    """The path of redis-server, after installing the Debian packages redis-server and
    redis-tools with tests/lib/env.sh's `ensure_redis` when redis-server or redis-cli is
    missing. Raises RuntimeError when they are still missing after that."""
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        subprocess.run(["bash", ENV_SH, "ensure_redis"], check=False, stdin=subprocess.DEVNULL)
    server = shutil.which("redis-server")
    if server is None or shutil.which("redis-cli") is None:
        raise RuntimeError("redis-server/redis-cli missing and not installable "
                           f"(bash {ENV_SH} ensure_redis)")
    return server


def ping(host: Optional[str] = HOST, port: int = 0, unix_path: Optional[str] = None,
         timeout: float = 0.5) -> bool:
    """Whether a Redis server answers an inline PING there (+PONG, or -NOAUTH when it wants
    a password) right now."""
    try:
        if unix_path is not None:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                conn.settimeout(timeout)
                conn.connect(unix_path)
            except OSError:
                conn.close()
                raise
        else:
            conn = socket.create_connection((host, port), timeout=timeout)
        with conn:
            conn.sendall(b"PING\r\n")
            reply = conn.recv(64)
    except OSError:
        return False
    return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")


class RedisServer:
    """One redis-server process. `url` is what a client is given; `port` (0 with a unix
    socket), `socket_path` and `pid` say where and what it is. `kill()` and `restart()`
    are for fault tests; `stop()` (also the end of a `with`) ends it for good and removes
    its folder. `extra_args` are passed on to redis-server (e.g. cluster options)."""

    def __init__(self, port: int = 0, unix_socket: bool = False, password: Optional[str] = None,
                 db: int = 0, extra_args: Sequence[str] = (), start: bool = True) -> None:
        self.binary = ensure_redis()
        self.password = password
        self.db = db
        self.extra_args = list(extra_args)
        self.dir = tempfile.mkdtemp(prefix="ferrosocket-redis-")
        self.socket_path: Optional[str] = (os.path.join(self.dir, "redis.sock")
                                           if unix_socket else None)
        self.port = 0 if unix_socket else (port or free_port(HOST))
        self.logfile = os.path.join(self.dir, "redis.log")
        self.proc: Optional[subprocess.Popen] = None
        if start:
            self.start()

    # ------------------------------------------------------------------ where it is

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.socket_path is not None:
            params = [f"db={self.db}"] if self.db else []
            if self.password:
                params.append(f"password={self.password}")
            return f"unix://{self.socket_path}" + ("?" + "&".join(params) if params else "")
        return f"redis://{auth}{HOST}:{self.port}/{self.db}"

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def address(self) -> str:
        return self.socket_path or f"{HOST}:{self.port}"

    def cli(self, *args: str, timeout: float = 10.0) -> str:
        """Runs redis-cli against this server and returns its stdout (raises on failure)."""
        where = (["-s", self.socket_path] if self.socket_path is not None
                 else ["-h", HOST, "-p", str(self.port)])
        env = dict(os.environ)
        if self.password:
            env["REDISCLI_AUTH"] = self.password  # not on the command line, no warning
        done = subprocess.run(["redis-cli", *where, *args], capture_output=True, text=True,
                              timeout=timeout, check=True, env=env, stdin=subprocess.DEVNULL)
        return done.stdout

    def log(self) -> str:
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as file:
                return file.read()[-4000:]
        except OSError:
            return ""

    # ------------------------------------------------------------------ life

    def command(self) -> List[str]:
        cmd = [self.binary, "--bind", HOST, "--port", str(self.port), "--save", "",
               "--appendonly", "no", "--dir", self.dir, "--logfile", self.logfile,
               "--daemonize", "no", "--protected-mode", "no"]
        if self.socket_path is not None:
            cmd += ["--unixsocket", self.socket_path, "--unixsocketperm", "700"]
        if self.password:
            cmd += ["--requirepass", self.password]
        return cmd + self.extra_args

    def ready(self) -> bool:
        if self.socket_path is not None:
            return ping(unix_path=self.socket_path)
        return ping(HOST, self.port)

    def start(self, timeout: float = STARTUP_TIMEOUT) -> "RedisServer":
        """Starts the server (again) where it was, and returns once it answers PING.
        Raises RuntimeError with its log when it exits first or does not answer in time."""
        if self.pid is not None:
            raise RuntimeError(f"redis-server {self.address()} is already running")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server {self.address()} exited with "
                                   f"{self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                self._end(signal.SIGKILL)
                raise RuntimeError(f"redis-server {self.address()} did not answer PING in "
                                   f"{timeout}s: {self.log()}")
            time.sleep(0.02)
        return self

    def _end(self, sig: int, timeout: float = STOP_TIMEOUT) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would: clients see their connections reset. The port (or
        socket) is then free until `restart()`."""
        self._end(signal.SIGKILL)
        if self.socket_path is not None:
            # A killed server leaves its socket file; a new one replaces it anyway.
            wait_until(lambda: not self.ready(), what=f"{self.address()} down")

    def restart(self, timeout: float = STARTUP_TIMEOUT) -> "RedisServer":
        """Kills the server if it runs, then starts a new, empty one on the same port."""
        self.kill()
        # The port may be refused for a moment (the old listener's socket in teardown):
        # retry the start until the deadline rather than failing on the first attempt.
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.start(timeout=max(0.5, deadline - time.monotonic()))
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM (SIGKILL after a bound), then removes its folder."""
        self._end(signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _cluster_ports(count: int) -> List[int]:
    """`count` free ports whose cluster bus ports (port + 10000) are free too."""
    ports: List[int] = []
    while len(ports) < count:
        port = free_port(HOST)
        if port + 10000 > 65535 or port in ports:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((HOST, port + 10000))
        except OSError:
            continue
        ports.append(port)
    return ports


class RedisCluster:
    """A Redis Cluster of `size` (three) masters on loopback, no replicas, all 16384 slots
    assigned by `redis-cli --cluster create`; ready once every node reports
    `cluster_state:ok`. `url` is the first node's (a cluster client discovers the rest);
    `nodes` are the RedisServer processes, stopped together by `stop()`."""

    def __init__(self, size: int = 3, timeout: float = 30.0) -> None:
        self.nodes: List[RedisServer] = []
        try:
            for port in _cluster_ports(size):
                node = RedisServer(port=port, start=False)
                node.extra_args = ["--cluster-enabled", "yes",
                                   "--cluster-config-file", os.path.join(node.dir, "nodes.conf"),
                                   "--cluster-node-timeout", "5000"]
                self.nodes.append(node.start())
            subprocess.run(["redis-cli", "--cluster", "create",
                            *[node.address() for node in self.nodes],
                            "--cluster-replicas", "0", "--cluster-yes"],
                           capture_output=True, text=True, timeout=timeout, check=True,
                           stdin=subprocess.DEVNULL)
            wait_until(self.ok, timeout=timeout, what="cluster_state:ok on every node",
                       every=0.1)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def urls(self) -> List[str]:
        return [node.url for node in self.nodes]

    def ok(self) -> bool:
        try:
            return all("cluster_state:ok" in node.cli("cluster", "info") for node in self.nodes)
        except (subprocess.SubprocessError, OSError):
            return False

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> "RedisCluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
