"""``ferrosocket.flask.Namespace``: Flask-SocketIO's class-based namespace.

Owns: routing an event to the subclass's ``on_<event>`` method and the helpers a
namespace offers its methods (``emit``, ``send``, ``close_room`` through the
``SocketIO`` object; ``enter_room``, ``leave_room``, ``rooms``, ``disconnect``,
``call`` and the session helpers through the server). Never: runs a handler outside
the ``SocketIO`` object's ``_handle_event`` (which pushes the client's contexts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

if TYPE_CHECKING:
    import contextlib

    from ferrosocket.flask._socketio import SocketIO
    from ferrosocket.server import Server

__all__ = ["Namespace"]


class Namespace:
    """Subclass it, name methods ``on_<event>`` (``on_connect(self)`` or
    ``on_connect(self, auth)``, ``on_disconnect(self, reason)``, ``on_my_event(self,
    data)``) and register an instance with ``socketio.on_namespace(MyNamespace('/chat'))``.
    Methods take no ``sid``: ``flask.request.sid`` is the client's. An ``error(self,
    exc)`` method, if defined, handles the exceptions of this namespace's methods."""

    def __init__(self, namespace: Optional[str] = None) -> None:
        self.namespace = namespace or "/"
        self.socketio: Optional["SocketIO"] = None
        self.server: Optional["Server"] = None

    def _set_socketio(self, socketio: "SocketIO") -> None:
        self.socketio = socketio

    def _sio(self) -> "SocketIO":
        if self.socketio is None:
            raise RuntimeError("the namespace is not registered: socketio.on_namespace(ns)")
        return self.socketio

    def _server(self) -> "Server":
        return self._sio()._require_server()

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Calls ``on_<event>`` with the client's contexts pushed; ``args`` starts with
        the client's sid. Override it for dispatching rules of your own (it receives
        every event of the namespace that has no handler registered with
        ``socketio.on``)."""
        handler_name = "on_" + (event or "")
        if not hasattr(self, handler_name):
            return None
        handler: Callable[..., Any] = getattr(self, handler_name)
        try:
            return self._sio()._handle_event(handler, event, self.namespace, *args)
        except Exception as exc:
            error = getattr(self, "error", None)
            if error is not None:
                return error(exc)
            raise

    # -- through the SocketIO object, as Flask-SocketIO's Namespace --------------------

    def emit(
        self,
        event: str,
        data: Any = None,
        room: Any = None,
        include_self: bool = True,
        namespace: Optional[str] = None,
        callback: Optional[Callable[..., Any]] = None,
    ) -> None:
        """Emits to ``room`` (everyone when omitted) of this namespace."""
        args = () if data is None else (data,)
        self._sio().emit(
            event,
            *args,
            room=room,
            include_self=include_self,
            namespace=namespace or self.namespace,
            callback=callback,
        )

    def send(
        self,
        data: Any,
        room: Any = None,
        include_self: bool = True,
        namespace: Optional[str] = None,
        callback: Optional[Callable[..., Any]] = None,
    ) -> None:
        """Sends a ``message`` event to ``room`` (everyone when omitted)."""
        self._sio().send(
            data,
            to=room,
            include_self=include_self,
            namespace=namespace or self.namespace,
            callback=callback,
        )

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Takes every client out of ``room``."""
        self._sio().close_room(room, namespace=namespace or self.namespace)

    # -- through the server, as python-socketio's Namespace ---------------------------

    def call(
        self,
        event: str,
        data: Any = None,
        to: Optional[str] = None,
        sid: Optional[str] = None,
        namespace: Optional[str] = None,
        timeout: float = 60,
    ) -> Any:
        """Emits to one client and waits for its acknowledgement."""
        return self._server().call(
            event, data, to=to or sid, namespace=namespace or self.namespace, timeout=timeout
        )

    def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Puts client ``sid`` in ``room``."""
        self._server().enter_room(sid, room, namespace=namespace or self.namespace)

    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Takes client ``sid`` out of ``room``."""
        self._server().leave_room(sid, room, namespace=namespace or self.namespace)

    def rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        """The rooms client ``sid`` is in."""
        return self._server().rooms(sid, namespace=namespace or self.namespace)

    def disconnect(self, sid: str, namespace: Optional[str] = None) -> None:
        """Disconnects client ``sid`` from this namespace."""
        self._server().disconnect(sid, namespace=namespace or self.namespace)

    def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """The server-side session dict of ``sid`` (not Flask's ``session``)."""
        return self._server().get_session(sid, namespace=namespace or self.namespace)

    def save_session(
        self, sid: str, session: Dict[str, Any], namespace: Optional[str] = None
    ) -> None:
        """Replaces the server-side session dict of ``sid``."""
        self._server().save_session(sid, session, namespace=namespace or self.namespace)

    def session(
        self, sid: str, namespace: Optional[str] = None
    ) -> "contextlib._GeneratorContextManager[Dict[str, Any]]":
        """``with self.session(sid) as session:`` the server-side session of ``sid``."""
        return self._server().session(sid, namespace=namespace or self.namespace)

