"""Connect, events, acks and disconnect through a real python-socketio client."""

from __future__ import annotations

from typing import Any, List

from conftest import Clients, Inbox, wait_for

import ferrosocket


def test_connect_event_ack_disconnect(server: ferrosocket.Server, clients: Clients) -> None:
    seen: List[Any] = []
    gone = Inbox()

    @server.event
    def connect(sid: str, environ: dict, auth: Any) -> None:
        seen.append(("connect", sid, environ["REQUEST_METHOD"], auth))

    @server.on("echo")
    def echo(sid: str, data: Any) -> Any:
        seen.append(("echo", sid, data))
        return data

    @server.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        gone.put((sid, reason))

    client = clients.connect(auth={"token": "t"})
    assert client.call("echo", {"a": [1, 2.5, None, True, "x"]}, timeout=5) == {
        "a": [1, 2.5, None, True, "x"]
    }
    sid = client.get_sid()
    assert seen[0] == ("connect", sid, "GET", {"token": "t"})
    assert seen[1] == ("echo", sid, {"a": [1, 2.5, None, True, "x"]})
    client.disconnect()
    (left,) = gone.wait()
    assert left[0] == sid
    # python-engineio may close the transport before its "41" is written.
    assert left[1] in ("client disconnect", "transport close")
