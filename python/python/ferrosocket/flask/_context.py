"""The Flask contexts a Socket.IO handler runs in: one per connected socket.

Owns: the per-socket :class:`Connection` (the Flask request context built once from the
connection's handshake, the managed session, the environ) and :func:`run_in_context`,
which pushes that context around one handler call and pops it after, so each event gets
a fresh application context (a fresh ``g``) and Flask's teardown hooks run per event,
as in Flask-SocketIO, without building a new request context every time.
Never: decides which handler runs or what its return value means (``_socketio``), and
never talks to the native server.

A connection's handlers never run at the same time (the server runs one client's
callbacks one after another, on whichever handler thread is free), so a context is
pushed by one thread at a time, always popped by the thread that pushed it.
"""

from __future__ import annotations

import io
import sys
from typing import Any, Callable, Dict, Optional, Tuple

import flask
from flask.ctx import RequestContext
from flask.sessions import SessionMixin

__all__ = [
    "Connection",
    "ManagedSession",
    "SocketRequestContext",
    "run_in_context",
    "complete_environ",
]


class ManagedSession(dict, SessionMixin):  # type: ignore[type-arg]
    """The session of one Socket.IO connection when ``manage_session=True``: a copy of
    the Flask session as it was when the connection's first event ran, kept for the
    connection's life and never written back to the cookie (Flask-SocketIO's
    behaviour: HTTP routes do not see what handlers store, handlers do not see later
    changes from HTTP routes)."""


def complete_environ(environ: Dict[str, Any], app: flask.Flask) -> Dict[str, Any]:
    """Fills in the Python objects a WSGI environ must hold and the native handshake
    environ cannot give (the input stream, ``wsgi.*``; ``SERVER_NAME``/``SERVER_PORT``
    come from the native side, out of ``Host``), and ``flask.app``, in place; returns
    ``environ``."""
    environ.setdefault("wsgi.version", (1, 0))
    environ.setdefault("wsgi.url_scheme", "http")
    environ.setdefault("wsgi.input", io.BytesIO(b""))
    environ.setdefault("wsgi.errors", sys.stderr)
    environ.setdefault("wsgi.multithread", True)
    environ.setdefault("wsgi.multiprocess", False)
    environ.setdefault("wsgi.run_once", False)
    environ["flask.app"] = app
    return environ


class SocketRequestContext(RequestContext):
    """A request context pushed once per event for the connection's life. The URL of a
    Socket.IO connection never changes, so it is matched against the app's routes on
    the first push only (Flask matches on every push; that was a third of what a push
    and pop cost here: bench/flask/context_cost.py); everything else is Flask's."""

    _matched = False

    def match_request(self) -> None:
        if not self._matched:
            super().match_request()
            self._matched = True


def _set_session(ctx: RequestContext, session: Optional[SessionMixin]) -> None:
    """Replaces the session of a request context (Flask >= 3.1.3 keeps it in
    ``_session``, earlier versions in ``session``)."""
    if hasattr(ctx, "_session"):
        ctx._session = session
    else:  # pragma: no cover - Flask < 3.1.3
        ctx.session = session  # type: ignore[misc,assignment]


class Connection:
    """One socket (one namespace of one client): its environ, request context and
    managed session."""

    __slots__ = ("sid", "namespace", "environ", "app", "ctx", "managed", "eio_sid")

    def __init__(self, sid: str, namespace: str, environ: Dict[str, Any], app: flask.Flask):
        self.sid = sid
        self.namespace = namespace
        self.environ = complete_environ(environ, app)
        self.app = app
        self.eio_sid: Optional[str] = environ.get("ferrosocket.eio_sid")
        self.ctx: RequestContext = SocketRequestContext(app, self.environ)
        request = self.ctx.request
        request.sid = sid  # type: ignore[attr-defined]
        request.namespace = namespace  # type: ignore[attr-defined]
        request.event = None  # type: ignore[attr-defined]
        self.managed: Optional[ManagedSession] = None


def run_in_context(
    connection: Connection,
    manage_session: bool,
    message: Optional[str],
    args: Tuple[Any, ...],
    call: Callable[[], Any],
) -> Any:
    """Runs ``call()`` with the connection's request context pushed (and so a fresh
    application context): ``request.sid``, ``request.namespace``, ``request.event``
    (``{'message': message, 'args': args}``), ``session`` and ``g`` as Flask-SocketIO
    sets them. With ``manage_session=False`` the session comes from Flask's session
    interface for every event and is saved back through it when modified (for
    server-side sessions shared with HTTP routes; a cookie session cannot be written
    from a Socket.IO event, as in Flask-SocketIO)."""
    ctx = connection.ctx
    app = connection.app
    if not manage_session:
        # Opened again by push(): a server-side session store is read for each event.
        _set_session(ctx, None)
    ctx.request.event = {"message": message, "args": args}  # type: ignore[attr-defined]
    ctx.push()
    error: Optional[BaseException] = None
    try:
        if manage_session:
            if connection.managed is None:
                connection.managed = ManagedSession(flask.session)
            _set_session(ctx, connection.managed)
        result = call()
        if not manage_session:
            session = flask.session._get_current_object()  # type: ignore[attr-defined]
            if getattr(session, "modified", True):
                app.session_interface.save_session(app, session, app.response_class())
        return result
    except BaseException as exc:
        error = exc
        raise
    finally:
        ctx.pop(error)
