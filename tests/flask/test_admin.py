"""apps/admin_app.py served by each implementation: a Flask app that calls
`socketio.server.instrument(auth=False)` right after `SocketIO(app)` serves the Admin UI's
namespace `/admin` on its own port (config, all_sockets, server_stats, live events and the
`join` command), beside its own pages and events. The protocol's details, both
implementations side by side, are tests/pybinding/test_admin.py's."""

from __future__ import annotations

from typing import Any

from ferrosocket_testing import wait_until

from conftest import Peers, Served, make_peers, serve_app

admin_app = serve_app("admin_app")

FEATURES = {"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT",
            "AGGREGATED_EVENTS", "ALL_EVENTS"}



def test_flask_app_serves_the_admin_namespace(admin_app: Served, transport: str) -> None:
    for peers in make_peers(admin_app, transport):
        run(admin_app, peers)


def run(served: Served, peers: Peers) -> None:
    assert served.json("/ping") == "pong"  # the app's own routes still answer
    user = peers.new()
    assert user.call("join", "lobby") == sorted([user.sid(), "lobby"])
    admin = peers.new(namespaces=("/admin",))
    (config,) = admin.inbox.wait("config", namespace="/admin")[0]
    assert set(config["supportedFeatures"]) == FEATURES
    (sockets,) = admin.inbox.wait("all_sockets", namespace="/admin")[0]
    by_id = {s["id"]: s for s in sockets}
    assert by_id[user.sid()]["nsp"] == "/"
    assert sorted(by_id[user.sid()]["rooms"]) == sorted([user.sid(), "lobby"])
    assert by_id[admin.sid("/admin")]["nsp"] == "/admin"

    # (The counts of an emission after the previous test's clients left.)
    def counted() -> bool:
        return any(
            args[0]["clientsCount"] == 2
            and sorted((n["name"], n["socketsCount"]) for n in args[0]["namespaces"])
            == [("/", 1), ("/admin", 1)]
            for args in admin.inbox.of("server_stats", "/admin"))

    wait_until(counted, what="server_stats counting the user and the admin", timeout=10)

    # A command: the user joins a room of the admin's choosing, in the app's own rooms.
    admin.sio.emit("join", ("/", "vip", user.sid()), namespace="/admin")
    wait_until(lambda: "vip" in user.call("rooms"), what="the user in vip", timeout=10)
    admin.inbox.wait("room_joined", namespace="/admin")

    # A live event for a new user.
    other = peers.new()
    wait_until(lambda: any(args[0]["id"] == other.sid()
                           for args in admin.inbox.of("socket_connected", "/admin")),
               what="socket_connected", timeout=10)
