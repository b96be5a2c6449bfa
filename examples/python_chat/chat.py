"""The ferrosocket chat example in Python: the same events, validation and messages as
the Rust chat (examples/chat/src/main.rs), on the Python binding.

    python examples/python_chat/chat.py --host 127.0.0.1 --port 5000 [--cors ORIGIN ...]

Events (shared by every chat example, whatever its language):
- ``join {username, room}`` -> ack ``{ok, room, members}``; the room gets ``status``.
- ``message {text}`` -> the room gets ``message {room, username, text, ts}``; ack ``{ok}``.
- ``leave {}`` and disconnect -> the room gets ``status``.

It serves the chat page shared by every chat example (``--static``, by default
examples/chat/static, whose ``vendor/`` is filled by ``make chat-assets``) on the same
port as the socket, so http://<host>:<port>/ is the chat.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import ferrosocket

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_STATIC = os.path.normpath(os.path.join(HERE, "..", "chat", "static"))


class Chat:
    """Who is where. One lock: joins, leaves and member lists must agree."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: Dict[str, Tuple[str, str]] = {}  # sid -> (username, room)
        self.rooms: Dict[str, Dict[str, str]] = {}  # room -> sid -> username

    def join(self, sid: str, username: str, room: str) -> Tuple[Optional[Tuple[str, str]], List[str]]:
        with self.lock:
            previous = self._leave(sid)
            members = self.rooms.setdefault(room, {})
            members[sid] = username
            self.users[sid] = (username, room)
            return previous, sorted(members.values())

    def leave(self, sid: str) -> Optional[Tuple[str, str]]:
        with self.lock:
            return self._leave(sid)

    def member(self, sid: str) -> Optional[Tuple[str, str]]:
        with self.lock:
            return self.users.get(sid)

    def _leave(self, sid: str) -> Optional[Tuple[str, str]]:
        member = self.users.pop(sid, None)
        if member is None:
            return None
        members = self.rooms.get(member[1])
        if members is not None:
            members.pop(sid, None)
            if not members:
                del self.rooms[member[1]]
        return member


def field(args: Dict[str, Any], name: str, max_len: int, trim: bool) -> Tuple[Optional[str], Optional[str]]:
    """A string field of 1..=max_len characters (after trimming): (value, None) or (None, error)."""
    if name not in args:
        return None, f"{name} is required"
    value = args[name]
    if not isinstance(value, str):
        return None, f"{name} must be a string"
    text = value.strip() if trim else value
    if len(text) == 0 or len(text) > max_len or not text.strip():
        return None, f"{name} must be 1 to {max_len} characters"
    return text, None


def failure(error: str) -> Dict[str, Any]:
    return {"ok": False, "error": error}


def create_server(cors_allowed_origins: Any = None, static_dir: Optional[str] = None) -> ferrosocket.Server:
    sio = ferrosocket.Server(cors_allowed_origins=cors_allowed_origins, static_dir=static_dir)
    chat = Chat()

    def announce_left(member: Tuple[str, str]) -> None:
        username, room = member
        sio.emit("status", {"room": room, "text": f"{username} left"}, room=room)

    @sio.on("join")
    def join(sid: str, args: Any = None) -> Dict[str, Any]:
        if not isinstance(args, dict):
            return failure("expected {username, room}")
        username, error = field(args, "username", 32, True)
        if error is None:
            room, error = field(args, "room", 64, True)
        if error is not None:
            return failure(error)
        assert username is not None and room is not None
        previous, members = chat.join(sid, username, room)
        if previous is not None:
            sio.leave_room(sid, previous[1])
            announce_left(previous)
        sio.enter_room(sid, room)
        # The binding sends the ack when this returns, so the joiner gets its own
        # "joined" just before the ack (the Rust chat acks first). The page copes with
        # both orders; a delayed echo would instead reorder it against later statuses.
        sio.emit("status", {"room": room, "text": f"{username} joined"}, room=room)
        return {"ok": True, "room": room, "members": members}

    @sio.on("message")
    def message(sid: str, args: Any = None) -> Dict[str, Any]:
        member = chat.member(sid)
        if member is None:
            return failure("join a room first")
        if not isinstance(args, dict):
            return failure("expected {text}")
        text, error = field(args, "text", 2000, False)
        if error is not None:
            return failure(error)
        username, room = member
        sio.emit(
            "message",
            {"room": room, "username": username, "text": text, "ts": int(time.time() * 1000)},
            room=room,
        )
        return {"ok": True}

    @sio.on("leave")
    def leave(sid: str, *args: Any) -> Dict[str, Any]:
        member = chat.leave(sid)
        if member is not None:
            sio.leave_room(sid, member[1])
            announce_left(member)
        return {"ok": True}

    @sio.on("disconnect")
    def disconnect(sid: str, reason: Any = None) -> None:
        member = chat.leave(sid)
        if member is not None:
            announce_left(member)

    return sio


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="ferrosocket chat (Python binding)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--static", default=DEFAULT_STATIC,
                        help="the chat page's directory, served at /")
    parser.add_argument("--cors", action="append", default=[], help="allowed origin (repeatable, * for any)")
    options = parser.parse_args(argv)
    if not os.path.isdir(options.static):
        print(f"chat: --static {options.static}: not a directory", file=sys.stderr)
        return 2
    cors: Any = None
    if "*" in options.cors:
        cors = "*"
    elif options.cors:
        cors = list(options.cors)
    sio = create_server(cors, options.static)

    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        port = sio.start(options.host, options.port)
    except Exception as error:  # noqa: BLE001 - report and exit like the Rust chat
        print(f"chat: cannot listen on {options.host}:{options.port}: {error}", file=sys.stderr)
        return 1
    print(f"LISTENING {options.host}:{port}", flush=True)
    print(f"chat: open http://{options.host}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        sio.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
