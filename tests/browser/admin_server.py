"""The reference server for admin-ui.test.mjs: python-socketio's own Admin UI support.

python-socketio's ``socketio.Server(async_mode='threading')`` instrumented with
``sio.instrument(auth=..., mode=...)``, behind ``socketio.WSGIApp`` (which also serves the UI
bundle from --static, so the UI is same-origin) under Werkzeug's threaded server
(WebSocket through simple-websocket). The command line is the subset of
tests/test-server's that the test uses:

    python admin_server.py --host 127.0.0.1 --port 0 --static UI_DIR --admin USER:PASSWORD
        [--admin none] [--admin-mode development|production] [--admin-read-only]

It prints ``LISTENING 127.0.0.1:<port>`` once listening and exits 0 on SIGTERM / SIGINT.

On ``/`` it has the test-server events the test uses (tests/test-server/SPEC.md):
``welcome`` on connect, and ``sid``, ``join``, ``leave``, ``rooms``, ``emit``.
"""
import argparse
import logging
import os
import signal
import sys
import threading

import engineio.static_files
import socketio
from werkzeug.serving import make_server


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--static', required=True, help='the Admin UI bundle (ui/dist)')
    p.add_argument('--admin', required=True, help='USER:PASSWORD, or none for no auth')
    p.add_argument('--admin-mode', default='development', choices=['development', 'production'])
    p.add_argument('--admin-read-only', action='store_true')
    return p.parse_args(argv)


def make_app(args):
    # Same origin only would do (the UI is served from here); '*' echoes the Origin, which
    # the UI's withCredentials polling needs if it is ever served from elsewhere.
    sio = socketio.Server(async_mode='threading', cors_allowed_origins='*')
    if args.admin == 'none':
        auth = False
    else:
        user, sep, password = args.admin.partition(':')
        if not sep:
            raise SystemExit('--admin wants USER:PASSWORD or none')
        auth = {'username': user, 'password': password}
    instrumented = sio.instrument(auth=auth, mode=args.admin_mode, read_only=args.admin_read_only)

    def sorted_rooms(sid):
        return sorted(r for r in sio.rooms(sid, namespace='/') if r is not None)

    @sio.on('connect')
    def connect(sid, environ, auth=None):
        # After the CONNECT ack, as test-server's welcome (a background task, as
        # python-socketio's own admin code does for `config`).
        def welcome():
            sio.sleep(0.05)
            sio.emit('welcome', {'sid': sid, 'nsp': '/', 'auth': auth}, to=sid)
        sio.start_background_task(welcome)

    @sio.on('sid')
    def on_sid(sid):
        return {'sid': sid}

    @sio.on('join')
    def on_join(sid, room):
        sio.enter_room(sid, room)
        return sorted_rooms(sid)

    @sio.on('leave')
    def on_leave(sid, room):
        sio.leave_room(sid, room)
        return sorted_rooms(sid)

    @sio.on('rooms')
    def on_rooms(sid):
        return sorted_rooms(sid)

    @sio.on('emit')
    def on_emit(sid, spec):
        to = spec.get('to') or None
        skip = [] if spec.get('include_self', True) else [sid]
        skip += spec.get('except') or []
        sio.emit(spec['event'], tuple(spec.get('args') or ()), to=to, skip_sid=skip or None)
        return True

    # The UI's SVG logos: engineio's table has no svg type.
    engineio.static_files.content_types.setdefault('svg', 'image/svg+xml')
    ui = os.path.join(os.path.abspath(args.static), '')
    app = socketio.WSGIApp(sio, static_files={'/': ui})
    return sio, instrumented, app


def quiet_websocket_end(app):
    """engineio's WebSocket handler returns without calling start_response once the
    WebSocket ends (simple-websocket took the socket over). Werkzeug would then write an HTTP
    500 onto that socket ("write() before start_response"), which a browser still closing
    the WebSocket reports as "Invalid frame header". Ending such a request with a
    ConnectionError makes Werkzeug take it as a dropped connection and write nothing."""
    def wrapped(environ, start_response):
        started = False

        def tracking_start_response(*args, **kwargs):
            nonlocal started
            started = True
            return start_response(*args, **kwargs)

        result = app(environ, tracking_start_response)
        if not started and environ.get('HTTP_UPGRADE', '').lower() == 'websocket':
            raise ConnectionResetError('the WebSocket ended')
        return result
    return wrapped


def main(argv):
    args = parse_args(argv)
    logging.getLogger('werkzeug').setLevel(logging.WARNING)  # no access log lines
    sio, instrumented, app = make_app(args)
    server = make_server(args.host, args.port, quiet_websocket_end(app), threaded=True)
    host, port = server.server_address[:2]

    stopping = threading.Event()

    def on_signal(signum, frame):
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever to return: not from its own thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f'LISTENING {host}:{port}', flush=True)
    try:
        server.serve_forever()
    finally:
        instrumented.shutdown()
        server.server_close()
    # Open WebSocket handler threads are daemon threads of Werkzeug's: exit without them.
    sys.stdout.flush()
    os._exit(0)


if __name__ == '__main__':
    main(sys.argv[1:])
