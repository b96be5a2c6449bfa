"""What happens to running servers when the interpreter exits.

Servers still running at exit are stopped before Python finalizes, so no handler thread
waits for an interpreter that is going away; then the log forwarding ends. Owns the set
of live servers (weakly: it never keeps one alive) and the two ``atexit`` hooks, nothing
else.
"""

from __future__ import annotations

import atexit
import contextlib
import weakref
from typing import Protocol

from ferrosocket import _logging

__all__ = ["track"]


class _Stoppable(Protocol):
    def stop(self) -> None: ...


_live: "weakref.WeakSet[_Stoppable]" = weakref.WeakSet()


def track(server: _Stoppable) -> None:
    """Stops ``server`` at interpreter exit if it is still alive then."""
    _live.add(server)


def _stop_all() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.stop()


# atexit runs hooks last-registered first: servers stop (and log it), then the log
# forwarding ends before the interpreter finalizes.
atexit.register(_logging.close)
atexit.register(_stop_all)
