"""``ferrosocket.flask.SocketIO``: Flask-SocketIO's extension object over ``ferrosocket.Server``.

Owns: Flask-SocketIO's options and how each maps onto :class:`ferrosocket.Server`, handler
registration (``on``, ``event``, ``on_event``, ``on_error``, ``on_error_default``,
``on_namespace``), running each handler as Flask-SocketIO does (no ``sid``; the
connection's Flask contexts pushed, see ``_context``), the context-free ``emit``,
``send``, ``call`` and ``close_room``, and the entry points ``run``, ``stop`` and
``test_client``. Never: touches sockets, rooms or the wire (the native server does), nor
serves HTTP itself (``run`` hands the Flask app to the server's WSGI bridge, ``_serve``).
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set, Tuple

import flask

from ferrosocket import _reasons
from ferrosocket.exceptions import ConnectionRefusedError
from ferrosocket.flask._context import Connection, run_in_context
from ferrosocket.managers import RedisManager
from ferrosocket.server import Server

if TYPE_CHECKING:
    from ferrosocket.flask.namespace import Namespace
    from ferrosocket.flask.test_client import SocketIOTestClient

__all__ = ["SocketIO"]

_log = logging.getLogger("ferrosocket.flask")

Handler = Callable[..., Any]

# Flask-SocketIO / python-socketio / python-engineio options that mean nothing here,
# each with why; passing one is fine (apps pass them), it is logged once at INFO.
_IGNORED: Dict[str, str] = {
    "async_mode": "ferrosocket has one mode: Rust I/O threads and Python handler threads",
    "async_handlers": "one client's handlers always run one at a time, in order; "
    "different clients' handlers run in parallel",
    "monitor_clients": "the core always times out silent clients (ping_timeout)",
    "http_compression": "long-polling responses are not compressed",
    "compression_threshold": "long-polling responses are not compressed",
    "cors_credentials": "credentials are allowed for every allowed origin",
    "serializer": "packets are always JSON ('default')",
    "allow_unsafe_werkzeug": "run() serves with ferrosocket's server, not Werkzeug's",
}

# ferrosocket.Server's own options, passed on as they are.
_SERVER_OPTIONS = frozenset(
    inspect.signature(Server.__init__).parameters.keys() - {"self"}
)

_logged_ignored: Set[str] = set()
_logged_lock = threading.Lock()


_REDIS_SCHEMES = ("redis", "rediss", "unix", "valkey", "valkeys", "redis+unix", "valkey+unix")


def _client_manager(
    message_queue: Optional[str], client_manager: Any, channel: str, write_only: bool
) -> Optional[RedisManager]:
    """The RedisManager for Flask-SocketIO's ``message_queue`` / ``client_manager``."""
    if client_manager is not None:
        if not isinstance(client_manager, RedisManager):
            raise TypeError(
                "client_manager must be a ferrosocket.RedisManager (python-socketio's "
                f"managers run in Python, not here), not {type(client_manager).__name__}"
            )
        return client_manager
    if message_queue is None:
        return None
    scheme = str(message_queue).split("://", 1)[0].lower()
    if scheme not in _REDIS_SCHEMES:
        raise NotImplementedError(
            f"message_queue={message_queue!r}: ferrosocket's message queue is Redis "
            "(redis://, rediss://, unix://, valkey://); kombu, Kafka and ZeroMQ queues "
            "are not supported"
        )
    return RedisManager(
        str(message_queue), channel=channel, write_only=write_only, format="python-socketio"
    )


def _log_ignored(name: str, why: str) -> None:
    with _logged_lock:
        if name in _logged_ignored:
            return
        _logged_ignored.add(name)
    _log.info("SocketIO option %s is accepted and ignored: %s", name, why)


def _takes_one(handler: Handler) -> bool:
    """Whether ``handler`` can be called with one positional argument (Flask-SocketIO's
    ``connect(auth)`` / ``disconnect(reason)``) rather than none."""
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(None)
    except TypeError:
        return False
    return True


def _server_path(resource: str) -> str:
    """Flask-SocketIO's ``path`` (``'socket.io'``, ``'/socket.io'``, ``'x/y/'``) as the
    core's path (``'/socket.io/'``)."""
    return "/" + resource.strip("/") + "/"


class SocketIO:
    """Flask-SocketIO's ``SocketIO``: create it with the app (``SocketIO(app, **options)``)
    or without and call :meth:`init_app` later (app factories). Handlers are registered
    with :meth:`on` and take no ``sid``: ``flask.request.sid`` is the client's, and
    ``request``, ``session``, ``g`` and ``current_app`` are those of the client's
    connection.

    Options (Flask-SocketIO's names): ``cors_allowed_origins``, ``ping_interval``,
    ``ping_timeout``, ``max_http_buffer_size``, ``path`` (or ``resource``), ``logger``,
    ``manage_session`` (default True: handlers see a copy of the Flask session taken at
    connect; False: Flask's session interface, shared with HTTP routes when it keeps
    sessions server-side), ``transports``, ``allow_upgrades``, ``cookie``,
    ``always_connect``, ``namespaces``, ``json`` (a module with ``dumps``/``loads``
    used for what is emitted, e.g. ``flask.json``), and every option of
    :class:`ferrosocket.Server` (``handler_threads``, ``max_queued_bytes``, ...).
    ``async_mode``, ``async_handlers``, ``engineio_logger`` and a few others mean
    nothing here: they are accepted and logged once.

    ``message_queue="redis://..."`` (``rediss://``, ``unix://``, ``valkey://``) joins a
    fleet of servers sharing rooms and broadcasts through Redis, on ``channel``
    (default ``"flask-socketio"``), in python-socketio's format: Flask-SocketIO servers
    and emitters can be in the same fleet. Without an app, ``SocketIO(message_queue=url)``
    is an emitter: :meth:`emit` publishes to the fleet's clients (from a Celery worker,
    say). ``client_manager`` takes a :class:`ferrosocket.RedisManager`. Other queues
    (kombu, Kafka, ZeroMQ) raise ``NotImplementedError``.
    """

    #: The disconnect reasons a ``disconnect(reason)`` handler receives.
    reason = _reasons.reason

    def __init__(self, app: Optional[flask.Flask] = None, **kwargs: Any) -> None:
        self.server: Optional[Server] = None
        self.server_options: Dict[str, Any] = {}
        self.handlers: List[Tuple[str, Handler, str]] = []
        self.namespace_handlers: List["Namespace"] = []
        self.exception_handlers: Dict[str, Handler] = {}
        self.default_exception_handler: Optional[Handler] = None
        self.manage_session = True
        self.app: Optional[flask.Flask] = None
        self._json: Any = None
        # (namespace, event) -> the user's handler; "*" for either is the catch-all.
        self._functions: Dict[Tuple[str, str], Handler] = {}
        # namespace -> class-based handler (on_namespace).
        self._namespaces: Dict[str, "Namespace"] = {}
        # Namespaces whose native connect/disconnect hooks are registered.
        self._hooked: Set[str] = set()
        # socket sid -> its connection (its Flask contexts); sids are unique across
        # namespaces. Plain dict operations, atomic under the GIL.
        self._connections: Dict[str, Connection] = {}
        # eio_sid -> test client, so handler exceptions reach the test that caused them.
        self._test_clients: "weakref.WeakValueDictionary[str, SocketIOTestClient]" = (
            weakref.WeakValueDictionary()
        )
        self._stop_requested = threading.Event()
        self._running = False
        # SocketIO(message_queue=url) without an app: the write-only RedisManager.
        self._emitter: Optional[RedisManager] = None
        self._path = "/socket.io/"
        if app is not None or "message_queue" in kwargs:
            self.init_app(app, **kwargs)
        else:
            self.server_options.update(kwargs)

    # -- set-up -------------------------------------------------------------------------

    def init_app(self, app: Optional[flask.Flask], **kwargs: Any) -> None:
        """Binds the extension to ``app`` (``app.extensions['socketio']``) with the
        options given here and to the constructor, and creates the server."""
        if app is not None:
            if not hasattr(app, "extensions"):  # pragma: no cover
                app.extensions = {}
            app.extensions["socketio"] = self
            self.app = app
        options = dict(self.server_options)
        options.update(kwargs)
        self.server_options = options
        self.manage_session = bool(options.pop("manage_session", self.manage_session))
        channel = options.pop("channel", None) or "flask-socketio"
        manager = _client_manager(
            options.pop("message_queue", None),
            options.pop("client_manager", None),
            channel,
            write_only=app is None,
        )
        if manager is not None and manager.write_only:
            # SocketIO(message_queue=url) without an app: an emitter, no server.
            self._emitter = manager
            return
        resource = options.pop("path", None) or options.pop("resource", None) or "socket.io"
        self._json = options.pop("json", None)
        self._path = _server_path(str(resource))
        server_kwargs: Dict[str, Any] = {"path": self._path}
        for name, value in options.items():
            if name == "ping_interval" and isinstance(value, (tuple, list)):
                value = value[0]  # (interval, grace): the grace is python-engineio's own
            if name in ("logger", "engineio_logger"):
                # The core's messages (Engine.IO's included) go to the "ferrosocket"
                # logger tree; a logger object given here only turns them on.
                if value:
                    server_kwargs["logger"] = True
                continue
            if name in _SERVER_OPTIONS:
                server_kwargs[name] = value
            elif name in _IGNORED:
                _log_ignored(name, _IGNORED[name])
            else:
                _log.warning("SocketIO option %s is not known to ferrosocket; ignored", name)
        if os.environ.get("FERROSOCKET_THREADS") and "handler_threads" not in server_kwargs:
            server_kwargs["handler_threads"] = int(os.environ["FERROSOCKET_THREADS"])
        if manager is not None:
            server_kwargs["client_manager"] = manager
        self.server = Server(**server_kwargs)
        for message, handler, namespace in self.handlers:
            self._bind(message, handler, namespace)
        for namespace_handler in self.namespace_handlers:
            self._bind_namespace(namespace_handler)
        if app is not None and os.environ.get("FLASK_RUN_FROM_CLI"):
            from ferrosocket.flask import _serve

            if _serve.under_flask_run():
                _serve.warn_flask_run(app, self)

    def _require_server(self) -> Server:
        if self.server is None:
            raise RuntimeError(
                "SocketIO is not initialized: pass the app to SocketIO(app) or call "
                "socketio.init_app(app) first"
            )
        return self.server

    # -- handler registration -----------------------------------------------------------

    def on(self, message: str, namespace: Optional[str] = None) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for event ``message`` of ``namespace``
        (default ``'/'``): ``@socketio.on('my event')``. ``'connect'`` handlers take
        ``auth`` or nothing, and refuse with ``False`` or
        :class:`ConnectionRefusedError`; ``'disconnect'`` handlers take ``reason`` or
        nothing; ``'*'`` catches every event without a handler (``handler(event,
        *args)``); ``namespace='*'`` serves every namespace without handlers of its own
        (``request.namespace`` says which). A handler's return value is the client's
        acknowledgement."""
        namespace = namespace or "/"

        def decorator(handler: Handler) -> Handler:
            if not callable(handler):
                raise TypeError(f"handler must be callable, not {type(handler).__name__}")
            if self.server is not None:
                self._bind(message, handler, namespace)
            else:
                self.handlers.append((message, handler, namespace))
            return handler

        return decorator

    def on_event(self, message: str, handler: Handler, namespace: Optional[str] = None) -> None:
        """The non-decorator form of :meth:`on`."""
        self.on(message, namespace=namespace)(handler)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Registers a handler named after the function: ``@socketio.event`` or
        ``@socketio.event(namespace='/chat')``."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def set_handler(handler: Handler) -> Handler:
            return self.on(handler.__name__, *args, **kwargs)(handler)

        return set_handler

    def on_error(self, namespace: Optional[str] = None) -> Callable[[Handler], Handler]:
        """Decorator registering the error handler of ``namespace``: called with the
        exception when one of its handlers raises; its return value is the
        acknowledgement."""
        namespace = namespace or "/"

        def decorator(exception_handler: Handler) -> Handler:
            if not callable(exception_handler):
                raise ValueError("exception_handler must be callable")
            self.exception_handlers[namespace] = exception_handler
            return exception_handler

        return decorator

    def on_error_default(self, exception_handler: Handler) -> Handler:
        """Decorator registering the error handler of every namespace without one."""
        if not callable(exception_handler):
            raise ValueError("exception_handler must be callable")
        self.default_exception_handler = exception_handler
        return exception_handler

    def on_namespace(self, namespace_handler: "Namespace") -> None:
        """Registers a class-based :class:`~ferrosocket.flask.Namespace`."""
        from ferrosocket.flask.namespace import Namespace

        if not isinstance(namespace_handler, Namespace):
            raise ValueError("Not a namespace instance.")
        namespace_handler._set_socketio(self)
        if self.server is not None:
            self._bind_namespace(namespace_handler)
        else:
            self.namespace_handlers.append(namespace_handler)

    def _bind(self, message: str, handler: Handler, namespace: str) -> None:
        server = self._require_server()
        self._functions[(namespace, message)] = handler
        self._hook(namespace)
        if message not in ("connect", "disconnect"):
            server.on(message, self._event_hook(namespace, message), namespace=namespace)

    def _bind_namespace(self, namespace_handler: "Namespace") -> None:
        server = self._require_server()
        namespace = namespace_handler.namespace
        namespace_handler.server = server
        self._namespaces[namespace] = namespace_handler
        self._hook(namespace)
        # Every event of the namespace that has no function handler goes to the class's
        # trigger_event (which may be overridden to catch them all).
        server.on("*", self._event_hook(namespace, "*"), namespace=namespace)

    def _hook(self, namespace: str) -> None:
        """Registers the native connect and disconnect hooks of ``namespace`` once:
        they create and drop the connection's contexts and run the user's handlers."""
        if namespace in self._hooked:
            return
        self._hooked.add(namespace)
        server = self._require_server()
        this = weakref.ref(self)
        wildcard = namespace == "*"

        def connect(*raw: Any) -> Any:
            socketio = this()
            if socketio is None:
                return True
            real, (sid, environ, auth) = _split(wildcard, namespace, raw, 3)
            return socketio._connect(real, namespace, sid, environ, auth)

        def disconnect(*raw: Any) -> None:
            socketio = this()
            if socketio is None:
                return
            real, (sid, reason) = _split(wildcard, namespace, raw, 2)
            socketio._disconnect(real, namespace, sid, reason)

        server.on("connect", connect, namespace=namespace)
        server.on("disconnect", disconnect, namespace=namespace)

    def _event_hook(self, namespace: str, message: str) -> Handler:
        this = weakref.ref(self)
        wildcard = namespace == "*"

        if not wildcard and message != "*":
            # The common case, one event of one namespace, without the general path's
            # layers: a handler's cost is mostly Flask's contexts already.
            def plain(sid: str, *args: Any) -> Any:
                socketio = this()
                if socketio is None:
                    return None
                connection = socketio._connections.get(sid)
                handler = socketio._functions.get((namespace, message))
                if connection is None or handler is None:
                    return None
                if socketio._test_clients or socketio._json is not None:
                    return socketio._event(namespace, namespace, message, message, sid, args)
                connection.ctx.request.namespace = namespace  # type: ignore[attr-defined]
                return run_in_context(
                    connection,
                    socketio.manage_session,
                    message,
                    args,
                    lambda: socketio._invoke(handler, message, namespace, args),
                )

            return plain

        def event(*raw: Any) -> Any:
            socketio = this()
            if socketio is None:
                return None
            if message == "*":
                name, raw = raw[0], raw[1:]
            else:
                name = message
            real, rest = _split(wildcard, namespace, raw, 0)
            sid, args = rest[0], tuple(rest[1:])
            return socketio._event(real, namespace, name, message, sid, args)

        return event

    # -- running handlers -----------------------------------------------------------------

    def _connect(
        self, real: str, registered: str, sid: str, environ: Dict[str, Any], auth: Any
    ) -> Any:
        app = self.app if self.app is not None else environ.get("flask.app")
        if app is None:
            _log.error("no Flask app for a Socket.IO connection: call init_app(app)")
            return False
        self._connections[sid] = Connection(sid, real, environ, app)
        # python-socketio passes no auth when the client sent none or an empty one.
        auth = auth or None
        try:
            handler = self._own_or_catch_all(registered, "connect")
            if handler is not None:
                result = self._guarded(sid, lambda: self._handle_event(
                    handler, "connect", real, sid, environ, auth
                ))
            elif registered in self._namespaces:
                result = self._guarded(sid, lambda: self._namespaces[registered].trigger_event(
                    "connect", sid, environ, auth
                ))
            else:
                result = True
        except BaseException:
            self._connections.pop(sid, None)
            raise
        if result is False:
            self._connections.pop(sid, None)
        return result

    def _own_or_catch_all(self, registered: str, message: str) -> Optional[Handler]:
        """The ``connect``/``disconnect`` handler of a namespace: its own, else the one
        registered for ``namespace='*'`` (python-socketio's order; events fall back the
        same way in the native server)."""
        return self._functions.get((registered, message)) or self._functions.get(("*", message))

    def _disconnect(self, real: str, registered: str, sid: str, reason: str) -> None:
        try:
            handler = self._own_or_catch_all(registered, "disconnect")
            if handler is not None:
                self._guarded(sid, lambda: self._handle_event(
                    handler, "disconnect", real, sid, reason
                ))
            elif registered in self._namespaces:
                self._guarded(sid, lambda: self._namespaces[registered].trigger_event(
                    "disconnect", sid, reason
                ))
        finally:
            self._connections.pop(sid, None)

    def _event(
        self, real: str, registered: str, name: str, message: str, sid: str, args: Tuple[Any, ...]
    ) -> Any:
        handler = self._functions.get((registered, message))
        if message == "*":
            handler = self._functions.get((registered, "*"))
            if handler is None and registered in self._namespaces:
                namespace_handler = self._namespaces[registered]
                return self._guarded(
                    sid, lambda: namespace_handler.trigger_event(name, sid, *args), ack=True
                )
            if handler is None:
                return None
            args = (name,) + args
        found = handler
        if found is None:
            return None
        return self._guarded(
            sid, lambda: self._handle_event(found, message, real, sid, *args), ack=True
        )

    def _guarded(self, sid: str, call: Callable[[], Any], ack: bool = False) -> Any:
        """Runs ``call``; for a test client's connection, an exception or an
        acknowledgement that cannot be sent is also handed to the test client, which
        raises it in the test (the server logs it and goes on, as for any client)."""
        connection = self._connections.get(sid)
        client = None
        if connection is not None and connection.eio_sid is not None and self._test_clients:
            client = self._test_clients.get(connection.eio_sid)
        if client is None:
            result = call()
            return self._outgoing(result) if ack and self._json is not None else result
        try:
            result = call()
            if ack:
                result = self._outgoing(result)
                from ferrosocket._native import check_payload

                check_payload(result)
            return result
        except ConnectionRefusedError:
            raise
        except BaseException as exc:
            client._failed(exc)
            raise

    def _handle_event(
        self, handler: Handler, message: Optional[str], namespace: str, sid: str, *args: Any
    ) -> Any:
        """Runs one handler as Flask-SocketIO does: in the connection's contexts, with
        ``request.sid``, ``request.namespace`` and ``request.event`` set; ``connect``
        handlers get ``auth`` (or nothing), ``disconnect`` handlers ``reason`` (or
        nothing), the others the event's arguments. An exception goes to the
        namespace's error handler (or the default one), whose return value is the
        acknowledgement; without one it propagates (the server logs it)."""
        connection = self._connections.get(sid)
        if connection is None:
            return None  # a client this server has no record of (already gone)
        connection.ctx.request.namespace = namespace  # type: ignore[attr-defined]
        return run_in_context(
            connection,
            self.manage_session,
            message,
            args,
            lambda: self._invoke(handler, message, namespace, args),
        )

    def _invoke(
        self, handler: Handler, message: Optional[str], namespace: str, args: Tuple[Any, ...]
    ) -> Any:
        """Calls ``handler`` (the contexts are pushed) with what its kind takes; an
        exception goes to the namespace's error handler, or the default one."""
        try:
            if message == "connect":
                auth = args[1] if len(args) > 1 else None
                return handler(auth) if _takes_one(handler) else handler()
            if message == "disconnect":
                if args and _takes_one(handler):
                    return handler(args[0])
                return handler()
            return handler(*args)
        except ConnectionRefusedError:
            raise
        except Exception:
            error_handler = self.exception_handlers.get(namespace, self.default_exception_handler)
            if error_handler is None:
                raise
            return error_handler(sys.exc_info()[1])

    def _outgoing(self, data: Any) -> Any:
        """What is emitted, through the ``json`` option's module when one was given
        (``flask.json`` turns dates, UUIDs and dataclasses into JSON values)."""
        if self._json is None or data is None:
            return data
        json_module = self._json
        if json_module is flask.json and self.app is not None:
            with self.app.app_context():
                return flask.json.loads(flask.json.dumps(data))
        return json_module.loads(json_module.dumps(data))

    # -- emitting -------------------------------------------------------------------------

    def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Emits ``event`` from anywhere (an HTTP route, a background task, another
        thread): to everyone in ``namespace`` (default ``'/'``), or ``to``/``room`` (a
        sid or a room, or a list), minus ``skip_sid``; ``include_self=False`` skips
        the client whose event is being handled. ``callback`` (addressing one client)
        runs with its acknowledgement, in that client's context when emitted from one
        of its handlers. ``broadcast=True`` is accepted (it is what this emit does);
        Flask-SocketIO 5.7 rejects it. Without an app, with a ``message_queue``, the
        emit is published for the fleet's servers to deliver."""
        namespace = kwargs.pop("namespace", "/")
        to = kwargs.pop("to", None) or kwargs.pop("room", None)
        kwargs.pop("room", None)
        include_self = kwargs.pop("include_self", True)
        skip_sid = kwargs.pop("skip_sid", None)
        if not include_self and not skip_sid:
            skip_sid = flask.request.sid  # type: ignore[attr-defined]
        callback = kwargs.pop("callback", None)
        kwargs.pop("broadcast", None)
        kwargs.pop("ignore_queue", None)
        if kwargs:
            raise TypeError(f"emit() got an unexpected keyword argument {next(iter(kwargs))!r}")
        if self._emitter is not None:
            self._emitter.emit(
                event,
                self._outgoing(_one_data(args, "emit")),
                namespace=namespace,
                to=to,
                skip_sid=skip_sid,
                callback=callback,
            )
            return
        server = self._require_server()
        if callback is not None:
            callback = self._callback_in_context(callback, namespace)
        server.emit(
            event,
            self._outgoing(_one_data(args, "emit")),
            namespace=namespace,
            to=to,
            skip_sid=skip_sid,
            callback=callback,
        )

    def _callback_in_context(self, callback: Handler, namespace: Optional[str]) -> Handler:
        """An emit callback that, when emitted from a handler, runs in that client's
        contexts (as Flask-SocketIO does)."""
        if not flask.has_request_context():
            return callback
        sid = getattr(flask.request, "sid", None)
        if sid is None:
            return callback
        origin = getattr(flask.request, "namespace", None) or namespace or "/"
        this = weakref.ref(self)

        def in_context(*args: Any) -> Any:
            socketio = this()
            if socketio is None:
                return None
            return socketio._handle_event(callback, None, origin, sid, *args)

        return in_context

    def send(
        self,
        data: Any,
        json: bool = False,
        namespace: Optional[str] = None,
        to: Any = None,
        callback: Optional[Handler] = None,
        include_self: bool = True,
        skip_sid: Any = None,
        **kwargs: Any,
    ) -> None:
        """Sends a ``message`` event (``json=True``: a ``json`` event); the addressing
        options are :meth:`emit`'s."""
        skip_sid = flask.request.sid if not include_self else skip_sid  # type: ignore[attr-defined]
        self.emit(
            "json" if json else "message",
            data,
            namespace=namespace,
            to=to,
            skip_sid=skip_sid,
            callback=callback,
            **kwargs,
        )

    def call(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Emits ``event`` to one client (``to``) and waits for its acknowledgement
        (``timeout``, default 60 s; :class:`ferrosocket.exceptions.TimeoutError`), as
        :meth:`ferrosocket.Server.call`."""
        server = self._require_server()
        namespace = kwargs.pop("namespace", "/")
        to = kwargs.pop("to", None) or kwargs.pop("room", None)
        kwargs.pop("room", None)
        kwargs.pop("ignore_queue", None)
        return server.call(
            event, self._outgoing(_one_data(args, "call")), namespace=namespace, to=to, **kwargs
        )

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Takes every client out of ``room`` (of every server, with a message queue)."""
        if self._emitter is not None:
            self._emitter.close_room(room, namespace)
            return
        self._require_server().close_room(room, namespace)

    # -- background work and running ------------------------------------------------------

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> threading.Thread:
        """Runs ``target(*args, **kwargs)`` in a daemon thread; returns it (``join()``)."""
        return self._require_server().start_background_task(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        """Sleeps (a plain ``time.sleep``: handlers and tasks are threads here)."""
        self._require_server().sleep(seconds)

    def run(
        self,
        app: flask.Flask,
        host: Optional[str] = None,
        port: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        """Serves ``app`` and the Socket.IO endpoint on one port until Ctrl-C, SIGTERM
        or :meth:`stop`: HTTP requests go to the Flask app (on handler threads, through
        the server's WSGI bridge), the Socket.IO path to the server.

        ``host`` defaults to ``'127.0.0.1'``, ``port`` to the port of the app's
        ``SERVER_NAME`` or 5000. ``debug`` (default ``app.debug``) wraps the app in
        Werkzeug's debugger; ``use_reloader`` (default ``debug``) restarts the server
        in a fresh process when a source file changes (Werkzeug's reloader; only the
        child process listens); ``reloader_options``/``extra_files`` are passed to it;
        ``log_output`` (default ``debug``) logs one access line per request.
        ``allow_unsafe_werkzeug`` is accepted and means nothing (this is not
        Werkzeug's development server)."""
        from ferrosocket.flask import _serve

        _serve.run(self, app, host, port, kwargs)

    def stop(self) -> None:
        """Stops the server started by :meth:`run` (from a handler, a route or another
        thread): clients are disconnected, then ``run`` returns."""
        self._stop_requested.set()
        server = self.server
        if server is not None and not self._running:
            threading.Thread(target=server.stop, daemon=True).start()

    def test_client(
        self,
        app: flask.Flask,
        namespace: Optional[str] = None,
        query_string: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        auth: Any = None,
        flask_test_client: Any = None,
    ) -> "SocketIOTestClient":
        """A :class:`~ferrosocket.flask.SocketIOTestClient` connected to ``namespace``:
        in-process, no network port; its events run the handlers before its calls
        return."""
        from ferrosocket.flask.test_client import SocketIOTestClient

        return SocketIOTestClient(
            app,
            self,
            namespace=namespace,
            query_string=query_string,
            headers=headers,
            auth=auth,
            flask_test_client=flask_test_client,
        )


def _one_data(args: Tuple[Any, ...], name: str) -> Any:
    """The one data argument of an emit (a tuple for several values, as in
    Flask-SocketIO, where a second positional argument fails too)."""
    if len(args) > 1:
        raise TypeError(
            f"{name}() takes one data argument after the event, {len(args)} were given: "
            "pass several values as one tuple"
        )
    return args[0] if args else None


def _split(
    wildcard: bool, namespace: str, raw: Tuple[Any, ...], count: int
) -> Tuple[str, Tuple[Any, ...]]:
    """What a native hook received, as (real namespace, the rest): a handler of the
    ``'*'`` namespace gets the real namespace first. ``count`` pads the rest with None
    to that many items (a connect without auth)."""
    if wildcard:
        real, rest = str(raw[0]), tuple(raw[1:])
    else:
        real, rest = namespace, tuple(raw)
    if count and len(rest) < count:
        rest = rest + (None,) * (count - len(rest))
    return real, rest

