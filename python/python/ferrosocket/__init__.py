"""ferrosocket: a Socket.IO v5 server in Rust with python-socketio-style handlers.

    import ferrosocket

    sio = ferrosocket.Server(cors_allowed_origins="*")

    @sio.on("message")
    def message(sid, data):
        sio.emit("message", data, skip_sid=sid)
        return "delivered"          # the sender's acknowledgement

    sio.run("127.0.0.1", 5000)

Handlers run on the server's handler threads, never on its I/O threads. One client's
handlers run one at a time, in arrival order; different clients' handlers run in
parallel, so a handler that waits on a database delays only its client. The server keeps
``min_handler_threads`` (4) and starts another thread whenever a client's handler is
ready and every thread is busy, up to ``handler_threads`` (64); past that, handlers wait
their turn and a WARNING says so once per episode. Threads above the minimum exit after
``handler_idle_timeout`` (30 s) with nothing to do.
Exceptions raised by handlers are logged with their traceback to the ``ferrosocket``
logger and the server goes on.
"""

from __future__ import annotations

# Only re-exports. The modules behind them: server.py (Server), exceptions.py,
# _logging.py (which of the core's messages reach `logging`), _lifecycle.py (servers
# stopped at interpreter exit) and _native (the PyO3 module, private). `__version__` is
# the crate's version (Cargo.toml), the one the wheel's metadata carries too.
from ferrosocket._logging import logger as logger
from ferrosocket._native import __version__ as __version__
from ferrosocket import exceptions as exceptions
from ferrosocket.exceptions import ConnectionRefusedError as ConnectionRefusedError
from ferrosocket.managers import RedisManager as RedisManager
from ferrosocket.server import Handler as Handler
from ferrosocket.server import Rooms as Rooms
from ferrosocket.server import Server as Server

__all__ = ["Server", "RedisManager", "ConnectionRefusedError", "exceptions", "__version__"]
