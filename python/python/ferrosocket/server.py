"""``ferrosocket.Server``: python-socketio's ``Server`` API over the native server.

Owns the Python face of one server: the decorator sugar, handler signatures
(``connect`` with or without ``auth``, ``disconnect`` with or without ``reason``),
sessions and the run loop. Everything else (sockets, rooms, fan-out, conversion) is the
native module's; no option's default is written here, they come from the core
(``ferrosocket._native.DEFAULTS``).
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
import weakref
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar, Union

from ferrosocket import _lifecycle, _logging, _reasons
from ferrosocket._native import DEFAULTS as _DEFAULTS
from ferrosocket._native import Instrumentation as _NativeInstrumentation
from ferrosocket._native import Server as _NativeServer
from ferrosocket.managers import RedisManager
from ferrosocket._native import namespace_name as _namespace_name

__all__ = ["Server", "Handler", "Rooms", "InstrumentedServer"]

Handler = TypeVar("Handler", bound=Callable[..., Any])
Rooms = Union[str, List[str], Tuple[str, ...], None]


def _accepts(handler: Callable[..., Any], count: int) -> bool:
    """Whether ``handler`` can be called with ``count`` positional arguments."""
    try:
        inspect.signature(handler).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): assume it does
        return True
    return True


# What the plain Server passes each kind of handler, as python-socketio's Server does:
# connect (sid, environ) or (sid, environ, auth) (which one: `Server._connect_adapter`);
# disconnect (sid, reason) or (sid); an event (sid, *args); the catch-all
# (event, sid, *args). The counts each kind can be called with, and how the
# registration error spells them.
_PASSES: Dict[str, Tuple[Tuple[int, ...], str]] = {
    "connect": ((2, 3), "(sid, environ) or (sid, environ, auth)"),
    "disconnect": ((1, 2), "(sid) or (sid, reason)"),
    "*": ((2,), "(event, sid, *args)"),
}
_EVENT_PASSES: Tuple[Tuple[int, ...], str] = ((1,), "(sid, *args)")


def _check_signature(event: str, handler: Callable[..., Any], catch_all: bool = False) -> None:
    """Raises ``TypeError`` when ``handler`` cannot be called with what the plain Server
    passes for ``event`` (an event handler: at least ``sid``; it may take fewer of the
    client's arguments than it sends, as in python-socketio, where that fails per call).
    A handler of the catch-all namespace ``'*'`` (``catch_all``) takes the namespace
    first (after the event name for the ``'*'`` event). A handler without a signature
    (some builtins) is taken as it is."""
    counts, passes = _PASSES.get(event, _EVENT_PASSES)
    if catch_all:
        counts = tuple(count + 1 for count in counts)
        if event == "*":
            passes = "(event, namespace, sid, *args)"
        else:
            passes = " or ".join(p.replace("(", "(namespace, ", 1) for p in passes.split(" or "))
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return
    if event in _PASSES:
        fits = any(_binds(signature, count) for count in counts)
    else:
        fits = _takes_at_least(signature, counts[0])
    if fits:
        return
    name = getattr(handler, "__qualname__", None) or type(handler).__name__
    raise TypeError(
        f"the {event!r} handler {name}{signature} cannot take what ferrosocket.Server "
        f"passes it: {passes}. Flask-SocketIO-style handlers (no sid: connect(auth), "
        f"disconnect(reason), event(data)) are for ferrosocket.flask's SocketIO."
    )


def _binds(signature: inspect.Signature, count: int) -> bool:
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def _takes_at_least(signature: inspect.Signature, count: int) -> bool:
    """Whether some call with ``count`` or more positional arguments binds."""
    positional = 0
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            positional = count
        elif parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
        elif parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
            return False  # a required keyword argument is never passed
    return positional >= count


# The catch-all namespace ``'*'`` as the core spells it.
_CATCH_ALL = _namespace_name("*")


def _namespace(namespace: Optional[str]) -> str:
    """The core's spelling of ``namespace`` (``"chat"`` is ``"/chat"``; None is ``"/"``),
    so sessions and handlers registered under either spelling are the same."""
    return _namespace_name(namespace or "/")


class Server:
    """A Socket.IO server; handlers are registered with :meth:`on` or :meth:`event`.

    Options (python-socketio's names): ``cors_allowed_origins`` (None = same origin only,
    ``"*"``, or a list of origins), ``ping_interval`` and ``ping_timeout`` (seconds),
    ``max_http_buffer_size`` (bytes), ``connect_timeout`` (seconds), ``path``, ``logger``
    (the server's own messages go to the ``ferrosocket`` logger tree, e.g.
    ``ferrosocket.engine.websocket``: WARNING and above always; with True also INFO, or
    whatever lower level that logger was given first), ``max_connections`` (TCP
    connections beyond it are closed as they arrive; by default the process's open-file
    limit less a tenth, so descriptors never run out first), ``max_queued_packets``,
    ``max_queued_bytes`` (default 4 MiB) and ``max_queue_age`` (seconds, default 20): a
    client whose outgoing queue holds more packets or bytes, or whose oldest queued packet
    is older, is disconnected as too slow; ``header_timeout`` (default 30 s) and
    ``body_timeout`` (default 20 s: a long-polling POST whose body trickles in longer is
    answered 408); ``allowed_hosts`` (a list of ``Host`` names to serve, ``.example.com``
    for a domain and its subdomains, against DNS rebinding; default: any), ``static_dir`` (a directory whose
    files are served to every HTTP request outside ``path``; ``/`` serves
    ``index.html``).

    Transports (python-engineio's options): ``transports``, the allowed transports,
    ``'polling'`` and ``'websocket'`` (default both; a str is a list of one; other names
    are ignored, none valid is a ``ValueError``). A request for a transport left out is
    answered 400; with ``['websocket']`` clients must connect with the WebSocket
    transport directly, with ``['polling']`` the open packet offers no upgrade.
    ``allow_upgrades`` (default True): False offers no upgrade from long-polling to
    WebSocket and closes a WebSocket that tries one anyway (python-engineio lets that
    one through), while clients that connect with the WebSocket transport directly are
    served as usual.
    ``cookie`` (default None: no cookie): the cookie the long-polling handshake sets
    with the Engine.IO session id, for sticky load balancing. A str is the cookie's
    name, sent with ``path=/`` and ``SameSite=Lax``; a dict has the ``name`` (default
    ``'io'``) and the attributes in order, a str value written ``Key=value``, ``True`` a
    bare ``Key`` (``'HttpOnly': True``), ``False`` left out. python-engineio also takes
    a callable value, called on each handshake; here that is a ``TypeError`` (the
    handshake is answered on an I/O thread, where Python never runs): pass its value.

    ``always_connect`` (python-socketio's; default False): False, a client's namespace
    connect is acknowledged once the ``connect`` handler accepts it, and what the
    handler emits reaches the client after that acknowledgement (python-socketio sends
    it before); True, it is acknowledged before the handler runs, and a refusal (False,
    ``ConnectionRefusedError``) then disconnects the client from the namespace with the
    refusal's message, without running the ``disconnect`` handler, as python-socketio
    does.

    Namespaces (python-socketio's ``namespaces``): by default clients may connect to
    ``/`` and the namespaces that have handlers; a list names more, ``'*'`` accepts
    any. A namespace accepted that way exists while clients are in it (rooms,
    broadcasts, :meth:`emit` with ``namespace=`` work as for any other), at most
    ``max_dynamic_namespaces`` (default 1000) at once; a connect over that is refused
    with ``Too many namespaces`` (python-socketio has no bound). Handlers registered
    with ``namespace='*'`` serve every namespace for what it has no handler of its own,
    and take the client's namespace first, as in python-socketio:
    ``connect(namespace, sid, environ[, auth])``, ``disconnect(namespace, sid[,
    reason])``, ``event(namespace, sid, *args)``, and ``'*'`` there
    ``(event, namespace, sid, *args)``.

    Handler threads: ``handler_threads`` (default 64) is how many clients' handlers can
    run at once, the most threads the server starts for them. It keeps
    ``min_handler_threads`` (default 4, at most ``handler_threads``) and starts one more
    whenever a client's handler is ready and every thread is busy, e.g. blocked in
    ``time.sleep`` or a database call (both release the GIL, so blocked handlers do wait
    in parallel). At the cap, handlers wait their turn in order, and one WARNING per
    episode on the ``ferrosocket`` logger says so and names ``handler_threads``. A thread
    above the minimum that had nothing to do for ``handler_idle_timeout`` seconds
    (default 30) exits. The cap bounds what a flood of slow handlers costs: each thread
    holds a stack and a Python thread state.

    Disconnect reasons: ``disconnect(sid, reason)`` receives one of the strings in
    :attr:`reason` (``Server.reason.CLIENT_DISCONNECT`` …): python-socketio's
    ``'server disconnect'``, ``'client disconnect'``, ``'ping timeout'``,
    ``'transport close'`` and ``'transport error'``, and three of ferrosocket's own,
    which python-socketio has no case for: ``'parse error'`` (the client sent an invalid
    packet), ``'client too slow'`` (its outgoing queue passed a ``max_queue*`` limit) and
    ``'server shutting down'``.
    """

    #: The disconnect reasons (python-socketio's ``Server.reason``, plus ferrosocket's
    #: ``PARSE_ERROR``, ``CLIENT_TOO_SLOW`` and ``SERVER_SHUTTING_DOWN``).
    reason = _reasons.reason

    def __init__(
        self,
        cors_allowed_origins: Union[str, List[str], None] = None,
        ping_interval: float = _DEFAULTS.ping_interval,
        ping_timeout: float = _DEFAULTS.ping_timeout,
        max_http_buffer_size: int = _DEFAULTS.max_http_buffer_size,
        connect_timeout: float = _DEFAULTS.connect_timeout,
        path: str = _DEFAULTS.path,
        handler_threads: int = _DEFAULTS.handler_threads,
        max_connections: Optional[int] = None,
        max_queued_packets: int = _DEFAULTS.max_queued_packets,
        logger: bool = False,
        static_dir: Optional[str] = None,
        min_handler_threads: int = _DEFAULTS.min_handler_threads,
        handler_idle_timeout: float = _DEFAULTS.handler_idle_timeout,
        max_queued_bytes: int = _DEFAULTS.max_queued_bytes,
        max_queue_age: float = _DEFAULTS.max_queue_age,
        header_timeout: float = _DEFAULTS.header_timeout,
        body_timeout: float = _DEFAULTS.body_timeout,
        allowed_hosts: Optional[List[str]] = None,
        transports: Union[str, List[str], None] = None,
        allow_upgrades: bool = True,
        cookie: Union[str, Dict[str, Any], None] = None,
        always_connect: bool = False,
        namespaces: Union[str, List[str], None] = None,
        max_dynamic_namespaces: int = _DEFAULTS.max_dynamic_namespaces,
        client_manager: Optional[RedisManager] = None,
    ) -> None:
        if client_manager is not None and not isinstance(client_manager, RedisManager):
            raise TypeError(
                "client_manager must be a ferrosocket.RedisManager, "
                f"not {type(client_manager).__name__}"
            )
        if client_manager is not None and client_manager.write_only:
            raise ValueError("a write_only RedisManager is an emitter: a server needs one that reads")
        self.client_manager = client_manager
        self._native = _NativeServer(
            cors_allowed_origins=cors_allowed_origins,
            ping_interval=float(ping_interval),
            ping_timeout=float(ping_timeout),
            max_http_buffer_size=max_http_buffer_size,
            connect_timeout=float(connect_timeout),
            path=path,
            handler_threads=handler_threads,
            max_connections=max_connections,
            max_queued_packets=max_queued_packets,
            min_handler_threads=min_handler_threads,
            handler_idle_timeout=float(handler_idle_timeout),
            max_queued_bytes=max_queued_bytes,
            max_queue_age=float(max_queue_age),
            header_timeout=float(header_timeout),
            body_timeout=float(body_timeout),
            allowed_hosts=None if allowed_hosts is None else list(allowed_hosts),
            transports=transports,
            allow_upgrades=bool(allow_upgrades),
            cookie=cookie,
            always_connect=bool(always_connect),
            namespaces=namespaces,
            max_dynamic_namespaces=max_dynamic_namespaces,
            redis=None if client_manager is None else client_manager._spec(),
        )
        if static_dir is not None:
            self._native.serve_dir(static_dir)
        # The core's own messages (a client evicted as too slow, a malformed packet, the
        # server shutting down) go to the "ferrosocket" logger tree.
        _logging.forward_server_logs(verbose=logger)
        # (namespace, sid) -> session dict. Guarded by a lock: handlers of different
        # clients run on different threads.
        self._sessions: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self._sessions_lock = threading.Lock()
        # namespace -> the user's disconnect handler (or None); the server's own
        # disconnect hook drops the session, then calls it.
        self._disconnect_handlers: Dict[str, Optional[Callable[..., Any]]] = {}
        # namespace -> whether its user disconnect handler takes the reason, decided once
        # at registration rather than on every disconnect.
        self._disconnect_takes_reason: Dict[str, bool] = {}
        _lifecycle.track(self)

    # -- handlers ---------------------------------------------------------------------

    def on(
        self,
        event: str,
        handler: Optional[Handler] = None,
        namespace: Optional[str] = None,
    ) -> Any:
        """Registers ``handler`` for ``event``; a decorator when ``handler`` is omitted.

        ``connect``: ``handler(sid, environ, auth)`` (or ``(sid, environ)``); returning
        False or raising :class:`ConnectionRefusedError` refuses the client.
        ``disconnect``: ``handler(sid, reason)`` (or ``(sid)``).
        Any other event: ``handler(sid, *args)``; the return value is the client's
        acknowledgement (a tuple for several values). ``"*"`` catches every event that
        has no handler: ``handler(event, sid, *args)``. With ``namespace="*"`` the
        handler serves every namespace for what it has no handler of its own, and gets
        the client's namespace first: ``(namespace, sid, ...)``, and
        ``(event, namespace, sid, *args)`` for ``"*"`` there.

        A handler that cannot be called that way (a Flask-SocketIO-style ``connect()``
        or ``message(data)`` without ``sid`` and ``environ``) raises ``TypeError`` here,
        where python-socketio would fail each client; defaults, ``*args``/``**kwargs``,
        bound methods, ``functools.partial`` and callable objects are fine.
        """
        namespace = _namespace(namespace)

        def register(handler: Handler) -> Handler:
            self._register(event, handler, namespace)
            return handler

        if handler is None:
            return register
        register(handler)
        return None

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Registers a handler named after the function: ``@sio.event`` or
        ``@sio.event(namespace="/chat")``."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            handler = args[0]
            return self.on(handler.__name__, handler)

        def register(handler: Handler) -> Handler:
            self.on(handler.__name__, handler, *args, **kwargs)
            return handler

        return register

    def _register(self, event: str, handler: Callable[..., Any], namespace: str) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be callable, not {type(handler).__name__}")
        catch_all = namespace == _CATCH_ALL
        _check_signature(event, handler, catch_all)
        if event == "connect":
            self._native.on_connect(namespace, self._connect_adapter(handler, catch_all))
            self._ensure_disconnect_hook(namespace)
        elif event == "disconnect":
            self._disconnect_handlers[namespace] = handler
            head = 2 if namespace == _CATCH_ALL else 1
            self._disconnect_takes_reason[namespace] = _accepts(handler, head + 1)
            self._ensure_disconnect_hook(namespace, force=True)
        elif event == "*":
            self._native.on_any(namespace, handler)
            self._ensure_disconnect_hook(namespace)
        else:
            self._native.on_event(namespace, event, handler)
            self._ensure_disconnect_hook(namespace)

    @staticmethod
    def _connect_adapter(handler: Callable[..., Any], catch_all: bool = False) -> Callable[..., Any]:
        """The native server passes ``(sid, environ, auth)``. A handler that takes only
        that gets it as is: the client's auth, ``{}`` for an empty one (python-socketio
        passes None there, since it first tries ``(sid, environ)``; the test server's
        SPEC echoes ``{}``), None for none. A handler that takes both shapes (a default,
        ``*args``) gets ``auth`` only when it is non-empty, else ``(sid, environ)``, as
        in python-socketio. A handler of only ``(sid, environ)`` is called without it
        (python-socketio refuses a client that sends auth to it, with a TypeError). A
        handler of the catch-all namespace (``catch_all``) gets the namespace first."""
        first = 1 if catch_all else 0
        with_auth, without = _accepts(handler, first + 3), _accepts(handler, first + 2)
        if with_auth and not without:
            return handler

        def connect(*args: Any) -> Any:
            # (sid, environ, auth), after the namespace for the catch-all namespace.
            if args[-1] and with_auth:
                return handler(*args)
            return handler(*args[:-1])

        return connect

    def _ensure_disconnect_hook(self, namespace: str, force: bool = False) -> None:
        if namespace in self._disconnect_handlers and not force:
            return
        self._disconnect_handlers.setdefault(namespace, None)
        # A weak reference: the native server holds this hook, and the hook must not
        # keep the server alive.
        this = weakref.ref(self)

        def disconnect(*args: str) -> None:
            # (sid, reason); the catch-all namespace's hook gets the namespace first.
            server = this()
            if server is None:
                return
            real = args[0] if namespace == _CATCH_ALL else namespace
            sid, reason = args[-2], args[-1]
            try:
                server._call_disconnect(namespace, real, sid, reason)
            finally:
                with server._sessions_lock:
                    server._sessions.pop((real, sid), None)

        self._native.on_disconnect(namespace, disconnect)

    def _call_disconnect(self, namespace: str, real: str, sid: str, reason: str) -> None:
        """Calls the user's disconnect handler of ``namespace`` (the client's namespace
        being ``real``): ``(sid[, reason])``, or the catch-all namespace's
        ``(namespace, sid[, reason])`` when ``namespace`` has none of its own, as
        python-socketio falls back."""
        handler = self._disconnect_handlers.get(namespace)
        head: Tuple[str, ...] = (sid,)
        if handler is None or namespace == _CATCH_ALL:
            namespace = _CATCH_ALL
            handler = self._disconnect_handlers.get(_CATCH_ALL)
            head = (real, sid)
        if handler is None:
            return
        if self._disconnect_takes_reason.get(namespace, True):
            handler(*head, reason)
        else:
            handler(*head)

    # -- emitting ---------------------------------------------------------------------

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Rooms = None,
        room: Rooms = None,
        skip_sid: Rooms = None,
        namespace: Optional[str] = None,
        callback: Optional[Callable[..., Any]] = None,
    ) -> None:
        """Emits ``event`` to ``to`` (a sid, a room, or a list), everyone in the
        namespace when omitted, minus ``skip_sid``. A tuple ``data`` is several
        arguments. With ``callback`` (``to`` must be one sid), ``callback(*args)``
        runs on a handler thread with the client's acknowledgement."""
        self._native.emit(
            event,
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace,
            callback=callback,
        )

    def send(
        self,
        data: Any,
        to: Rooms = None,
        room: Rooms = None,
        skip_sid: Rooms = None,
        namespace: Optional[str] = None,
        callback: Optional[Callable[..., Any]] = None,
    ) -> None:
        """Emits a ``message`` event."""
        self.emit("message", data, to, room, skip_sid, namespace, callback)

    def call(
        self,
        event: str,
        data: Any = None,
        to: Optional[str] = None,
        sid: Optional[str] = None,
        namespace: Optional[str] = None,
        timeout: float = 60,
    ) -> Any:
        """Emits ``event`` to one client and waits for its acknowledgement (the GIL is
        released while waiting). Returns None, the value, or a tuple of values. Raises
        :class:`ferrosocket.exceptions.TimeoutError` (python-socketio's
        ``socketio.exceptions.TimeoutError``, also a builtin ``TimeoutError``) when it
        does not answer in ``timeout`` seconds, and
        :class:`ferrosocket.exceptions.ConnectionError` (also a builtin
        ``ConnectionError``) at once when it is not connected or disconnects while
        waited for, where python-socketio would wait out the timeout. ``ValueError``
        without ``to``/``sid`` (python-socketio: "Cannot use call() to broadcast")."""
        return self._native.call(
            event, data, to=to or sid, namespace=namespace, timeout=float(timeout)
        )

    # -- rooms and clients ------------------------------------------------------------

    def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Puts client ``sid`` in ``room`` (no-op for an unknown sid)."""
        self._native.enter_room(sid, room, namespace)

    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Takes client ``sid`` out of ``room``."""
        self._native.leave_room(sid, room, namespace)

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Takes every client out of ``room``."""
        self._native.close_room(room, namespace)

    def redis_stats(self) -> Optional[Dict[str, int]]:
        """The Redis fleet's counters (``published``, ``publish_lost``, ``received``,
        ``receive_dropped``, ``applied``, ``filtered``, ``invalid``, ``pickle``,
        ``reconnects``, each since the server started), or None without a
        ``client_manager``."""
        return self._native.redis_stats()

    def server_count(self) -> int:
        """How many servers share this one's rooms (1 without a ``client_manager``)."""
        return self._native.server_count()

    def metrics(self) -> Dict[str, Any]:
        """The server's counters now, counted in Rust on the hot paths (no lock, no
        Python), each since the server was made unless it is a gauge (*):

        - ``connections`` (*): open connections by transport (``polling``,
          ``websocket``, ``local``); ``connections_accepted``: opened, by the transport
          they opened on; ``upgrades``: polling connections moved to WebSocket;
        - ``connections_refused``: by reason (``max_connections``, ``origin``, ``host``,
          ``bad_handshake``, ``shutting_down``);
        - ``disconnects``: connections closed, by reason (``"ping timeout"``, ...);
          ``slow_client_evictions``: those closed as ``client too slow``;
        - ``packets_received`` / ``received_bytes``, ``packets_sent`` / ``sent_bytes``:
          Engine.IO packets and their bytes (message text and binary, without the
          transport's framing);
        - ``events_received``: events from clients; ``events_sent``: events queued for
          clients, once per recipient;
        - ``acks_pending`` (*): acknowledgements the server waits for;
          ``ack_timeouts``: those that timed out;
        - ``namespace_sockets`` (*): ``{namespace: sockets connected here}``;
        - ``dispatch``: the handler threads: ``threads`` (*), ``busy_threads`` (*),
          ``waiting_lanes`` (*: clients whose handlers wait for a thread, the queue's
          depth), ``saturations``, ``busy_seconds`` (time running handlers, summed over
          threads) and ``gil_wait_seconds`` (time those threads waited for the GIL).

        ``prometheus()`` has the same and the dispatch pool's, in the Prometheus text
        format; ``serve_metrics()`` serves it at ``/metrics``."""
        return self._native.metrics()

    def prometheus(self) -> str:
        """Every counter in the Prometheus text format (version 0.0.4): what
        :meth:`serve_metrics` answers at ``/metrics``. Names follow the Prometheus
        conventions (``ferrosocket_events_received_total``, ``ferrosocket_connections``,
        ``..._bytes_total``); the Redis fleet's counters are ``ferrosocket_redis_*``."""
        return self._native.prometheus()

    def serve_metrics(self, host: str = "127.0.0.1", port: int = 9100) -> int:
        """Serves ``GET /metrics`` (:meth:`prometheus`) on ``host:port``, a listener of
        its own that Prometheus scrapes; port 0 picks a free port. Returns the bound port.
        Off until called; it stops with :meth:`stop`. Keep it on a private interface (the
        default is loopback). Errors as :meth:`start`."""
        return self._native.start_metrics(host, port)

    def rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        """The rooms client ``sid`` is in, its own sid room included ([] if unknown)."""
        return self._native.rooms(sid, namespace)

    def participants(
        self, room: Optional[str] = None, namespace: Optional[str] = None
    ) -> List[str]:
        """The sids of the clients in ``room`` of ``namespace`` (every client of the
        namespace when ``room`` is None), sorted."""
        return self._native.participants(room, namespace)

    def disconnect(
        self, sid: str, namespace: Optional[str] = None, close_connection: bool = False
    ) -> None:
        """Disconnects client ``sid`` from ``namespace``; its client sees
        ``io server disconnect``. With ``close_connection=True`` the client's whole
        connection is closed instead (every namespace it joined)."""
        self._native.disconnect(sid, namespace, close_connection)

    # -- sessions ---------------------------------------------------------------------

    def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """The client's session dict (created empty on first use)."""
        key = (_namespace(namespace), sid)
        with self._sessions_lock:
            return self._sessions.setdefault(key, {})

    def save_session(
        self, sid: str, session: Dict[str, Any], namespace: Optional[str] = None
    ) -> None:
        """Replaces the client's session dict with ``session``."""
        with self._sessions_lock:
            self._sessions[(_namespace(namespace), sid)] = session

    @contextlib.contextmanager
    def session(self, sid: str, namespace: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """``with sio.session(sid) as session: session["user"] = ...``"""
        session = self.get_session(sid, namespace)
        yield session
        self.save_session(sid, session, namespace)

    # -- background work ----------------------------------------------------------------

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> threading.Thread:
        """Runs ``target(*args, **kwargs)`` in a daemon thread (python-socketio's name for
        it, for a loop that emits every few seconds, say); returns the started thread."""
        thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        return thread

    def sleep(self, seconds: float = 0) -> None:
        """``time.sleep``: handlers and background tasks are plain threads here."""
        time.sleep(seconds)

    # -- the Admin UI -------------------------------------------------------------------

    def instrument(
        self,
        auth: Any = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: Optional[str] = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> "InstrumentedServer":
        """Serves the `Socket.IO Admin UI <https://socket.io/docs/v4/admin-ui/>`_ (the
        ``@socket.io/admin-ui`` 0.5 protocol) on the admin ``namespace``: python-socketio's
        ``Server.instrument``, same arguments and defaults. Call it before or after
        :meth:`start`; it lasts until :meth:`InstrumentedServer.shutdown` or :meth:`stop`.

        ``auth`` is required (None raises ``ValueError``): False (or any falsy value)
        lets anyone in, not recommended outside development; a dict (usually
        ``{'username': ..., 'password': ...}``, what the UI's login form sends) must be
        equal to the client's auth; a list of dicts, one of them; a callable is called
        with the client's auth (a dict, or None when it sent none) on a handler thread,
        and a truthy result accepts. A refused login gets ``invalid credentials``
        (python-socketio: ``authentication failed``), the message the UI shows as
        "Invalid credentials".

        ``mode``: ``'development'`` sends every socket (``all_sockets``) and live
        events (connections, disconnections, rooms joined and left, events received and
        sent); anything else is production mode, the aggregated ``server_stats`` only.
        ``read_only=True`` ignores the UI's commands (join, leave, disconnect, emit).
        ``server_id`` (default: the host name) names this server in the UI's server
        list. ``server_stats_interval``: seconds between ``server_stats`` (at least 0.1).

        Where it differs from python-socketio: events sent to the admin namespace (the
        UI's own commands) are not reported as ``event_received``; ``socket_connected``
        is sent once per connect, not again on every ping; header names in a socket's
        handshake are HTTP's (``user-agent``), not WSGI's (``user_agent``); a
        disconnect command with ``close=True`` closes the client's whole connection (as
        node's does); the commands are handled in production mode too (as node's).
        ``RuntimeError`` when the server is already instrumented.
        """
        if auth is None:
            raise ValueError("auth must be specified")
        allowed: Union[None, List[Any], Callable[[Any], Any]]
        if not auth:
            allowed = None
        elif isinstance(auth, dict):
            allowed = [auth]
        elif isinstance(auth, list):
            allowed = list(auth)
        elif callable(auth):
            allowed = auth
        else:
            raise TypeError(
                "auth must be False, a dict, a list of dicts or a callable, "
                f"not {type(auth).__name__}"
            )
        native = self._native.instrument(
            allowed,
            mode == "development",
            bool(read_only),
            None if server_id is None else str(server_id),
            _namespace(namespace),
            float(server_stats_interval),
        )
        return InstrumentedServer(
            self, native, auth=auth, mode=mode, read_only=bool(read_only),
            server_id=server_id, namespace=native.namespace,
            server_stats_interval=server_stats_interval,
        )

    # -- running ----------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 5000) -> int:
        """Starts serving in the background (port 0 picks one); returns the port.

        The defaults, ``127.0.0.1:5000``, are Flask-SocketIO's ``socketio.run(app)``
        and the port python-socketio's examples serve on, so a ported app's clients find
        it where they did. python-socketio's ``Server`` has no port of its own: it is
        mounted in the app (``socketio.WSGIApp(sio, app)``), one port for both; serve a
        Flask app that way with ``ferrosocket.flask`` rather than Flask's ``app.run()``
        (also 5000) beside this server. Two servers on one port: the second raises
        ``OSError`` (``errno.EADDRINUSE``); pass another port, or 0.

        Raises ``OSError`` with the system's errno when it cannot listen (in use, not a
        local address, no permission: ``PermissionError``), ``socket.gaierror`` when
        ``host`` does not resolve, ``RuntimeError`` after :meth:`stop`.
        """
        return self._native.start(host, port)

    def run(self, host: str = "127.0.0.1", port: int = 5000) -> None:
        """Serves until Ctrl-C (or :meth:`stop` from another thread); the defaults and
        errors are :meth:`start`'s."""
        self.start(host, port)
        try:
            while not self._native.stopped:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Disconnects every client and stops for good. Not from inside a handler."""
        self._native.stop()

    @property
    def port(self) -> Optional[int]:
        """The port the server listens on, once started."""
        return self._native.port


class InstrumentedServer:
    """What :meth:`Server.instrument` returns (python-socketio's name): the options it
    was given, and :meth:`shutdown`."""

    def __init__(
        self,
        sio: Server,
        native: _NativeInstrumentation,
        auth: Any,
        mode: str,
        read_only: bool,
        server_id: Optional[str],
        namespace: str,
        server_stats_interval: float,
    ) -> None:
        self.sio = sio
        self._native = native
        self.auth = auth
        self.mode = mode
        self.read_only = read_only
        self.server_id = server_id
        self.admin_namespace = namespace
        self.server_stats_interval = server_stats_interval

    def shutdown(self) -> None:
        """Stops the ``server_stats`` and the live events, disconnects the admin clients
        and refuses new ones; the server may then be instrumented again. Idempotent."""
        self._native.shutdown()

    def uninstrument(self) -> None:
        """:meth:`shutdown` (python-socketio's undoes its monkey-patches; here
        nothing was patched)."""
        self._native.shutdown()
