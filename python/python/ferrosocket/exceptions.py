"""The exceptions ferrosocket's API raises or lets handlers raise.

Only exception classes live here: no I/O, no state, nothing imported from the native
module, so importing it is free.
"""

from __future__ import annotations

from typing import Any, Dict

__all__ = ["ConnectionRefusedError"]


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
