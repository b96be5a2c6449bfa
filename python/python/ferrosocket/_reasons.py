"""``Server.reason``: the disconnect reasons a ``disconnect(sid, reason)`` handler receives.

Owns the Python names of the reasons: python-socketio's (``socketio.Server.reason``)
where it has one, the core's own for the rest. It never renames what the Rust and C
APIs report; the native module does the mapping (``python/src/handlers.rs``), and this
class only names the strings it passes.
"""

from __future__ import annotations

__all__ = ["reason"]


class reason:  # noqa: N801 (python-socketio's spelling: ``Server.reason.CLIENT_DISCONNECT``)
    """Disconnect reasons, as ``disconnect(sid, reason)`` receives them.

    The first five are python-socketio's names and values; the last three are
    ferrosocket's own (python-socketio has no such case) and keep the core's names.
    """

    #: The server disconnected the client (``Server.disconnect``).
    SERVER_DISCONNECT = "server disconnect"
    #: The client left the namespace or disconnected on purpose.
    CLIENT_DISCONNECT = "client disconnect"
    #: The client did not answer a ping in time.
    PING_TIMEOUT = "ping timeout"
    #: The connection was closed (e.g. the client's process or network went away).
    TRANSPORT_CLOSE = "transport close"
    #: The connection failed (an I/O error, a bad request on the transport).
    TRANSPORT_ERROR = "transport error"
    #: The client sent a packet that is not valid Socket.IO (ferrosocket only).
    PARSE_ERROR = "parse error"
    #: The client's outgoing queue exceeded ``max_queued_packets``, ``max_queued_bytes``
    #: or ``max_queue_age`` (ferrosocket only).
    CLIENT_TOO_SLOW = "client too slow"
    #: The server is stopping (``Server.stop``, interpreter exit; ferrosocket only).
    SERVER_SHUTTING_DOWN = "server shutting down"
