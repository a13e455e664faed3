"""A Redis client for a URL: one server (redis://, rediss://, unix://) or a Redis Cluster
(redis+cluster://host:port, any node; halls spread over its slots by their {hall} tag)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster

CLUSTER = "redis+cluster://"
SCHEMES = ("redis://", "rediss://", "unix://", CLUSTER)


def connect(url: str, max_connections: int = 64) -> Any:
    """A client that decodes replies to str. Returns Redis or RedisCluster (same commands)."""
    if url.startswith(CLUSTER):
        return RedisCluster.from_url(
            "redis://" + url.removeprefix(CLUSTER),
            decode_responses=True,
            max_connections=max_connections,
            socket_connect_timeout=3,
        )
    # A blocking pool: a burst of requests waits for a connection instead of failing.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        decode_responses=True,
        socket_connect_timeout=3,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # owns the pool: aclose() closes it
