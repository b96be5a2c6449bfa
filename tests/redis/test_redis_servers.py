"""tests/support/redis_servers.py does what the fleet suites rely on, checked with redis-py:
a server on a free port without persistence, kill and restart on the same port (empty),
a unix socket, a password, and a three-node cluster serving all slots with sharded
pub/sub."""

from __future__ import annotations

import os

import pytest
import redis
from redis.cluster import RedisCluster as ClusterClient
from redis_servers import RedisCluster, RedisServer, ping


def test_a_server_on_a_free_port_kill_and_restart() -> None:
    with RedisServer() as server:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        first = server.pid
        with redis.Redis.from_url(server.url) as conn:
            conn.set("k", "v")
            assert conn.config_get("save") == {"save": ""}
            assert conn.config_get("appendonly") == {"appendonly": "no"}
        server.kill()
        assert server.pid is None and not ping(port=server.port)
        server.restart()
        assert server.pid not in (None, first) and ping(port=server.port)
        with redis.Redis.from_url(server.url) as conn:
            assert conn.get("k") is None  # a new, empty server on the same port
        folder = server.dir
    assert not os.path.exists(folder)


def test_a_unix_socket_and_a_password() -> None:
    with RedisServer(unix_socket=True) as server:
        assert server.port == 0 and server.url == f"unix://{server.socket_path}"
        with redis.Redis.from_url(server.url) as conn:
            assert conn.ping()
    with RedisServer(password="pw-1", db=2) as server:
        assert server.url == f"redis://:pw-1@127.0.0.1:{server.port}/2"
        with redis.Redis.from_url(server.url) as conn:
            assert conn.ping()
        with redis.Redis(port=server.port) as conn:
            with pytest.raises(redis.AuthenticationError):
                conn.ping()


def test_a_three_node_cluster() -> None:
    with RedisCluster() as cluster:
        assert len(cluster.nodes) == 3 and cluster.ok()
        client = ClusterClient.from_url(cluster.url)
        try:
            assert len(client.get_nodes()) == 3
            for key in ("a", "b", "c", "d", "e"):
                client.set(key, key)  # every slot is served
            pubsub = client.pubsub()
            pubsub.ssubscribe("fleet")
            assert pubsub.get_sharded_message(timeout=5)["type"] == "ssubscribe"
            assert client.spublish("fleet", b"hi") == 1
            message = pubsub.get_sharded_message(timeout=5)
            assert message is not None and message["data"] == b"hi"
            pubsub.close()
        finally:
            client.close()
        pids = [node.pid for node in cluster.nodes]
        assert all(pids)
    assert all(node.pid is None for node in cluster.nodes)
