"""The same fleet without Flask: tests/redis/apps/server_app.py, python-socketio's `Server`
with `client_manager=RedisManager(url)` on its default channel `socketio`, as
python-socketio itself (threading mode under Werkzeug) and as `ferrosocket.Server` with
`ferrosocket.RedisManager`, every pair in both orders, python-socketio clients on both
transports; write-only managers of both as external emitters; and ferrosocket's sharded
mode on a three-node Redis Cluster."""

from __future__ import annotations

import uuid
from typing import Any, List

import pytest
from ferrosocket_testing import wait_until
from redis_servers import RedisCluster

from conftest import (WAIT, Fleet, Peers, ServerMember, fence, run_manager_emitter,
                      selected_server_pairs, token)


def news_from(name: str, tag: str) -> List[Any]:
    return [{"from": name, "data": tag}]


def test_broadcasts_reach_both_servers_once(server_fleet: Fleet, peers: Peers) -> None:
    fleet = server_fleet
    a1, a2, b1 = peers.on(fleet.a), peers.on(fleet.a), peers.on(fleet.b)
    everyone = [a1, a2, b1]
    from_a, from_b = token(), token()
    assert a1.call("broadcast", from_a) is True
    assert b1.call("broadcast", from_b) is True
    for peer in everyone:
        assert peer.news(from_a) == news_from("a", from_a)
        assert peer.news(from_b) == news_from("b", from_b)
    fence(fleet.a, everyone)
    fence(fleet.b, everyone)
    for peer in everyone:
        tags = [args[0]["data"] for args in peer.inbox.of("news")]
        assert tags.count(from_a) == 1 and tags.count(from_b) == 1, tags


def test_rooms_and_skip_sid_across_servers(server_fleet: Fleet, peers: Peers) -> None:
    fleet = server_fleet
    a_in, a_out, b_in = peers.on(fleet.a), peers.on(fleet.a), peers.on(fleet.b)
    everyone = [a_in, a_out, b_in]
    room = "room-" + token()
    assert a_in.call("join", room) is True
    assert b_in.call("join", room) is True
    tag = token()
    assert b_in.call("to_room", {"room": room, "data": tag}) is True
    a_in.news(tag)
    b_in.news(tag)
    fence(fleet.b, everyone)
    assert not a_out.got_news(tag)
    tag = token()
    assert a_in.call("broadcast_others", tag) is True
    a_out.news(tag)
    b_in.news(tag)
    fence(fleet.a, everyone)
    assert not a_in.got_news(tag)


def test_remote_enter_room_close_room_and_disconnect(server_fleet: Fleet, peers: Peers) -> None:
    fleet = server_fleet
    a1, b1, b2 = peers.on(fleet.a), peers.on(fleet.b), peers.on(fleet.b)
    room = "room-" + token()
    a = fleet.a
    assert isinstance(a, ServerMember)
    assert a.control("join_sid", {"sid": b1.sid, "room": room}) is True
    tag = token()
    assert a.control("server_emit", {"event": "news", "data": {"from": "a", "data": tag},
                                     "to": room}) is True
    assert b1.news(tag) == news_from("a", tag)
    assert a.control("close", room) is True
    tag = token()
    assert a.control("server_emit", {"event": "news", "data": {"from": "a", "data": tag},
                                     "to": room}) is True
    fence(a, [a1, b1, b2])
    assert not b1.got_news(tag)
    assert a.control("disconnect_sid", b1.sid) is True
    assert b1.disconnected.wait(WAIT), "b's client was not disconnected by a"
    fence(fleet.b, [a1, b2])
    assert not b2.disconnected.is_set()


def test_ack_across_servers(server_fleet: Fleet, peers: Peers) -> None:
    fleet = server_fleet
    a1, b1 = peers.on(fleet.a), peers.on(fleet.b)
    q = token()
    assert a1.call("ask", {"sid": b1.sid, "q": q, "tag": q}) is True
    b1.inbox.wait_for("question", lambda args: args == [q])
    wait_until(lambda: [q, ["answer:" + q]] in a1.call("get_answers"), timeout=WAIT,
               what="the ack of b's client on a")
    assert [q, ["answer:" + q]] not in b1.call("get_answers")


def test_binary_across_servers(server_fleet: Fleet, peers: Peers) -> None:
    fleet = server_fleet
    a1, b1 = peers.on(fleet.a), peers.on(fleet.b)
    payload = uuid.uuid4().bytes + b"\x00\xff"
    assert b1.call("binary", {"to": a1.sid, "data": {"nested": [payload, payload[:3]]}}) is True
    got = a1.inbox.wait_for("blob", lambda args: args[0]["data"]["nested"][0] == payload)
    assert got == [{"from": "b", "data": {"nested": [payload, payload[:3]]}}]


@pytest.mark.parametrize("emitter", sorted({pair[0] for pair in selected_server_pairs()}),
                         ids=lambda impl: f"emitter={impl}")
def test_a_write_only_manager_reaches_both_servers(server_fleet: Fleet, peers: Peers,
                                                   emitter: str) -> None:
    fleet = server_fleet
    a1, b1, b_room = peers.on(fleet.a), peers.on(fleet.b), peers.on(fleet.b)
    room = "room-" + token()
    assert b_room.call("join", room) is True
    to_all, to_room, to_sid = token(), token(), token()
    run_manager_emitter(emitter, fleet.redis.url, [
        {"event": "news", "data": {"from": "emitter", "data": to_all}},
        {"event": "news", "data": {"from": "emitter", "data": to_room}, "to": room},
        {"event": "news", "data": {"from": "emitter", "data": to_sid}, "to": a1.sid},
    ])
    for peer in (a1, b1, b_room):
        peer.news(to_all)
    b_room.news(to_room)
    a1.news(to_sid)
    fence(fleet.a, [a1, b1, b_room])
    fence(fleet.b, [a1, b1, b_room])
    assert not a1.got_news(to_room) and not b1.got_news(to_room)
    assert not b1.got_news(to_sid) and not b_room.got_news(to_sid)


# --------------------------------------------------------------------------- Redis Cluster


def test_sharded_fleet_on_a_redis_cluster(transport: str) -> None:
    """ferrosocket's sharded mode (SPUBLISH/SSUBSCRIBE) on three masters: two servers
    given different nodes' URLs, and a write-only manager given the third."""
    if ("ferrosocket", "ferrosocket") not in selected_server_pairs():
        pytest.skip("the sharded mode is ferrosocket's only")
    with RedisCluster() as cluster:
        members: List[ServerMember] = []
        peers = Peers(transport)
        try:
            members.append(ServerMember("ferrosocket", "a", cluster.urls[0], cluster=True))
            members.append(ServerMember("ferrosocket", "b", cluster.urls[1], cluster=True))
            a, b = members
            a1, b1, b2 = peers.on(a), peers.on(b), peers.on(b)
            for sender, name in ((a1, "a"), (b2, "b")):
                tag = token()
                assert sender.call("broadcast", tag) is True
                for peer in (a1, b1, b2):
                    assert peer.news(tag) == news_from(name, tag)
            room = "room-" + token()
            assert a1.call("join", room) is True
            assert b1.call("join", room) is True
            tag = token()
            assert a1.call("to_room", {"room": room, "data": tag}) is True
            a1.news(tag)
            b1.news(tag)
            fence(a, [a1, b1, b2])
            assert not b2.got_news(tag)
            tag = token()
            run_manager_emitter("ferrosocket", cluster.urls[2],
                                [{"event": "news", "data": {"from": "emitter", "data": tag}}],
                                cluster=True)
            for peer in (a1, b1, b2):
                peer.news(tag)
        finally:
            peers.close()
            for member in members:
                member.stop()
