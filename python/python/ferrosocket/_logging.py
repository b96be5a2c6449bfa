"""The core's own log messages in Python's ``logging``: which level a server forwards.

Owns the choice of level only; the forwarding itself (a bounded queue and one thread
that takes the GIL) is native (``ferrosocket._native.forward_logs``). Never configures
handlers or formats: that is the application's ``logging`` setup.
"""

from __future__ import annotations

import logging

from ferrosocket._native import close_logs as _close_logs
from ferrosocket._native import forward_logs as _forward_logs

__all__ = ["logger", "forward_server_logs", "close"]

#: The root of the ``ferrosocket`` logger tree (``ferrosocket.engine.websocket``, ...).
logger = logging.getLogger("ferrosocket")


def forward_server_logs(verbose: bool) -> None:
    """Forwards the core's messages for one more server: WARNING and above always; with
    ``verbose`` (``Server(logger=True)``) from INFO, or from the ``ferrosocket`` logger's
    own level when that is lower. Process-wide, and only ever more verbose."""
    if verbose:
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        _forward_logs(min(logger.getEffectiveLevel(), logging.INFO))
    else:
        _forward_logs(logging.WARNING)


def close() -> None:
    """Stops forwarding for good (the interpreter is exiting)."""
    _close_logs()
