"""The exceptions ferrosocket's API raises or lets handlers raise.

Only exception classes live here: no I/O, no state, nothing imported from the native
module, so importing it is free (the native module imports this one to raise them).
The names and the hierarchy are ``socketio.exceptions``' (``SocketIOError`` at the root),
so ``except socketio.exceptions.TimeoutError`` ported to ``ferrosocket.exceptions`` keeps
its meaning. Each class also derives from the builtin exception of the same name, so code
that catches the builtin ``TimeoutError`` or ``ConnectionError`` catches them too.
"""

from __future__ import annotations

import builtins
from typing import Any, Dict

__all__ = ["SocketIOError", "ConnectionError", "ConnectionRefusedError", "TimeoutError"]


class SocketIOError(Exception):
    """The root of the exceptions below (python-socketio's name)."""


class ConnectionError(SocketIOError, builtins.ConnectionError):
    """A client is not, or no longer, connected: :meth:`Server.call` to a sid that is
    not connected or that disconnects before it answers."""


class ConnectionRefusedError(ConnectionError):
    """Raise it in a ``connect`` handler to refuse the client.

    ``ConnectionRefusedError("bad token", {"retry": False})`` gives the client a
    connect error with that message and data.
    """

    def __init__(self, *args: Any) -> None:
        if len(args) == 0:
            self.error_args: Dict[str, Any] = {"message": "Connection rejected by server"}
        else:
            self.error_args = {"message": str(args[0])}
            if len(args) == 2:
                self.error_args["data"] = args[1]
            elif len(args) > 2:
                self.error_args["data"] = list(args[1:])
        super().__init__(self.error_args["message"])


class TimeoutError(SocketIOError, builtins.TimeoutError):
    """:meth:`Server.call`'s client did not answer within ``timeout`` seconds."""
