"""The context-bound functions of Flask-SocketIO: ``emit``, ``send``, ``call``,
``join_room``, ``leave_room``, ``close_room``, ``rooms`` and ``disconnect``.

Owns: their defaults, taken from the event being handled (``flask.request.sid`` and
``flask.request.namespace``) and the app's extension (``current_app.extensions
['socketio']``). Never: emits or moves clients itself; every call goes to the
``SocketIO`` object, which goes to the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

import flask

if TYPE_CHECKING:
    from ferrosocket.flask._socketio import SocketIO

__all__ = [
    "emit",
    "send",
    "call",
    "join_room",
    "leave_room",
    "close_room",
    "rooms",
    "disconnect",
]


def _socketio() -> "SocketIO":
    socketio: "SocketIO" = flask.current_app.extensions["socketio"]
    return socketio


def _sid() -> str:
    sid: str = flask.request.sid  # type: ignore[attr-defined]
    return sid


def _namespace() -> str:
    namespace: str = flask.request.namespace  # type: ignore[attr-defined]
    return namespace


def emit(event: str, *args: Any, **kwargs: Any) -> None:
    """Emits ``event`` from a handler: to the client whose event is being handled, or
    ``to``/``room`` (a sid, a room, a list), or everyone with ``broadcast=True``;
    ``include_self=False`` and ``skip_sid`` leave clients out; ``namespace`` defaults
    to the event's; ``callback`` runs with the client's acknowledgement. One data
    argument (a tuple for several), as in Flask-SocketIO."""
    namespace = kwargs["namespace"] if "namespace" in kwargs else _namespace()
    to = kwargs.pop("to", None) or kwargs.pop("room", None)
    if to is None and not kwargs.get("broadcast"):
        to = _sid()
    _socketio().emit(
        event,
        *args,
        namespace=namespace,
        to=to,
        include_self=kwargs.get("include_self", True),
        skip_sid=kwargs.get("skip_sid"),
        callback=kwargs.get("callback"),
    )


def send(message: Any, **kwargs: Any) -> None:
    """Sends a ``message`` event (``json=True``: ``json``) from a handler; addressing as
    :func:`emit`."""
    namespace = kwargs["namespace"] if "namespace" in kwargs else _namespace()
    to = kwargs.pop("to", None) or kwargs.pop("room", None)
    if to is None and not kwargs.get("broadcast"):
        to = _sid()
    _socketio().send(
        message,
        json=kwargs.get("json", False),
        namespace=namespace,
        to=to,
        include_self=kwargs.get("include_self", True),
        skip_sid=kwargs.get("skip_sid"),
        callback=kwargs.get("callback"),
    )


def call(event: str, *args: Any, **kwargs: Any) -> Any:
    """Emits ``event`` to the client whose event is being handled (or ``to``) and waits
    for its acknowledgement (``timeout``, default 60 s)."""
    namespace = kwargs["namespace"] if "namespace" in kwargs else _namespace()
    to = kwargs.pop("to", None) or kwargs.pop("room", None)
    if to is None:
        to = _sid()
    return _socketio().call(
        event, *args, namespace=namespace, to=to, timeout=kwargs.get("timeout", 60)
    )


def join_room(room: str, sid: Optional[str] = None, namespace: Optional[str] = None) -> None:
    """Puts the client (or ``sid``) in ``room`` of the event's namespace."""
    server = _socketio()._require_server()
    server.enter_room(sid or _sid(), room, namespace=namespace or _namespace())


def leave_room(room: str, sid: Optional[str] = None, namespace: Optional[str] = None) -> None:
    """Takes the client (or ``sid``) out of ``room``."""
    server = _socketio()._require_server()
    server.leave_room(sid or _sid(), room, namespace=namespace or _namespace())


def close_room(room: str, namespace: Optional[str] = None) -> None:
    """Takes every client out of ``room`` of the event's namespace."""
    server = _socketio()._require_server()
    server.close_room(room, namespace=namespace or _namespace())


def rooms(sid: Optional[str] = None, namespace: Optional[str] = None) -> List[str]:
    """The rooms the client (or ``sid``) is in, its own sid room included."""
    server = _socketio()._require_server()
    return server.rooms(sid or _sid(), namespace=namespace or _namespace())


def disconnect(
    sid: Optional[str] = None, namespace: Optional[str] = None, silent: bool = False
) -> None:
    """Disconnects the client (or ``sid``) from the namespace; it sees ``io server
    disconnect``. ``silent`` is accepted and ignored, as in Flask-SocketIO 5."""
    server = _socketio()._require_server()
    server.disconnect(sid or _sid(), namespace=namespace or _namespace())
